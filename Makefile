# Two commands do everything on a fresh machine:
#   make book   build the whole book (executes every chapter) into _build/html
#   make test   run the tests (they build the book too)
# Both create .venv and install requirements.txt on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: book test clean

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

book: $(INSTALLED)
	$(BIN)/jupyter-book build . -W -n --keep-going

test: $(INSTALLED)
	$(BIN)/python -m pytest

clean:
	rm -rf _build
