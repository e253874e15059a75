# Two commands do everything on a fresh machine:
#   make book   build the whole book (executes every chapter) into _build/html
#   make test   run the tests (they build the book too)
#   make lab    open the chapters as notebooks in JupyterLab
# Both create .venv and install requirements.txt on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# One interpreter path for everything: httpstan's compile cache keys on sys.executable, so
# `python` and `python3` would each compile the same Stan program.
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
# The execution cache keys on notebook text only: a change to the helper package must re-execute chapters.
PACKAGE_STAMP := _build/.package-stamp
PACKAGE_FILES := $(shell find src -name '*.py' -o -name '*.stan' -o -name '*.stanfunctions')

.PHONY: book test clean lab

# uv installs the same pinned requirements as pip, downloading in parallel (28 s against 1 min 25 s;
# README, Timings); pip only fetches uv itself. Bytecode is compiled at install: where
# PYTHONDONTWRITEBYTECODE is set (it is on the development machine), every kernel would otherwise
# compile every module it imports, every time.
UV := uv==0.13.9
$(INSTALLED): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(UV)
	$(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt
	touch $@

$(PACKAGE_STAMP): $(PACKAGE_FILES) requirements.txt
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

# Compile every Stan program first, two at a time, longest first (silent when all are cached), then
# execute the chapters three at a time into myst-nb's execution cache (chapters/_ext/execute_chapters.py),
# then let Jupyter Book render them; the last line says how many programs this build compiled (0 when all
# were cached). Each compile needs 2-3 GB of memory; `make book STAN_JOBS=1` on a small machine.
STAN_JOBS ?= 2
CHAPTER_JOBS ?= 3
book: $(INSTALLED) $(PACKAGE_STAMP)
	$(PY) -m mixedrain.build --jobs $(STAN_JOBS) --then sh -c \
	  '$(PY) chapters/_ext/execute_chapters.py --processes $(CHAPTER_JOBS) && $(PY) $(BIN)/jupyter-book build . -W -n --keep-going'

test: $(INSTALLED)
	$(PY) -m pytest

clean:
	rm -rf _build

# The chapters as notebooks in JupyterLab: jupytext's contents manager (enabled by its server extension)
# opens each .md chapter as a notebook and saves edits back to the .md; lab/overrides.json makes that the
# default viewer of Markdown files. `$(PY) -m jupyterlab` runs kernels on this same interpreter path,
# which reuses the Stan programs `make book` compiled (httpstan keys its cache on it), and JUPYTER_PATH
# puts the venv's kernel first, before any user-wide "python3". Another folder (an assignment, say):
# make lab LAB_ROOT=~/coursework; extra options: make lab LAB_ARGS="--port=9999".
LAB_ROOT ?= chapters
LAB_ARGS ?=
lab: $(INSTALLED)
	JUPYTER_PATH="$(abspath $(VENV))/share/jupyter" $(PY) -m jupyterlab \
	  --ServerApp.root_dir="$(LAB_ROOT)" --LabApp.app_settings_dir="$(abspath lab)" $(LAB_ARGS)

# ---- The classroom (chapters/instructors.md explains these) ----
#   make book-no-solutions   the book without exercise solutions, into _build_no_solutions/_build/html
#   make assignments         student and autograder versions of every assignment, into assignments/_build
NO_SOLUTIONS := _build_no_solutions

.PHONY: book-no-solutions assignments clean-classroom

# The variant's config is generated from _config.yml (the one source of truth) and
# executes notebooks through the main build's cache: after `make book`, nothing reruns.
book-no-solutions: $(INSTALLED) $(PACKAGE_STAMP)
	$(PY) no_solutions/make_config.py --output $(NO_SOLUTIONS) --execution-cache _build/.jupyter_cache
	$(PY) $(BIN)/jupyter-book build . --config $(NO_SOLUTIONS)/_config.yml --path-output $(NO_SOLUTIONS) -W -n --keep-going

# Otter Assign, offline; it also grades each solution notebook (one short Stan fit each).
assignments: $(INSTALLED)
	$(PY) assignments/generate.py

clean-classroom:
	rm -rf $(NO_SOLUTIONS) assignments/_build
