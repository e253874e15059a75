# Two commands do everything on a fresh machine:
#   make book   build the whole book (executes every chapter) into _build/html
#   make test   run the tests (they build the book too)
# Both create .venv and install requirements.txt on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The execution cache keys on notebook text only: a change to the helper package must re-execute chapters.
PACKAGE_STAMP := _build/.package-stamp
PACKAGE_FILES := $(shell find src -name '*.py' -o -name '*.stan')

.PHONY: book test clean

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(PACKAGE_STAMP): $(PACKAGE_FILES) requirements.txt
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: $(INSTALLED) $(PACKAGE_STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

test: $(INSTALLED)
	$(BIN)/python -m pytest

clean:
	rm -rf _build
