# visionflow: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ROOT := $(abspath .)

.PHONY: venv test test-fast test-torch test-consumers consumers demo stop shell browser bench constraints clean

# The venv is rebuilt when requirements or constraints change.
# requirements-nodeps.txt goes in with --no-deps: those packages declare opencv-python, which would
# replace the headless cv2 (their real dependencies are in requirements.txt).
$(BIN)/.installed: requirements.txt requirements-nodeps.txt constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -c constraints.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt -c constraints.txt
	touch $@

venv: $(BIN)/.installed

test: venv browser consumers
	VISIONFLOW_CONSUMERS_PYTHON=$(CONSUMERS_PY) $(BIN)/python -m pytest -q tests

# The consumers' own loaders (mmaction2, LLaMA-Factory) in a venv of their own (about 7 GB, 2 minutes from the
# registry), kept outside the checkout under a name that hashes its requirements, so a fresh clone on the same
# machine reuses it and a change of requirements builds a new one. tests/consumers runs their code in it.
CONSUMERS_HASH := $(shell cat requirements-consumers.txt constraints-consumers.txt | sha256sum | cut -c1-12)
CONSUMERS_VENV ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/visionflow/consumers-$(CONSUMERS_HASH)
CONSUMERS_PY := $(CONSUMERS_VENV)/bin/python
$(CONSUMERS_VENV)/.installed:
	mkdir -p $(dir $(CONSUMERS_VENV)) && find $(dir $(CONSUMERS_VENV)) -maxdepth 1 -name 'consumers-*' -exec rm -rf {} +
	$(PY) -m venv $(CONSUMERS_VENV)
	$(CONSUMERS_VENV)/bin/pip install -q --upgrade pip
	$(CONSUMERS_VENV)/bin/pip install -q -r requirements-consumers.txt -c constraints-consumers.txt
	touch $@

consumers: $(CONSUMERS_VENV)/.installed

test-consumers: venv consumers
	VISIONFLOW_CONSUMERS_PYTHON=$(CONSUMERS_PY) $(BIN)/python -m pytest -q -m consumers tests

# The browser test (tests/ui) drives Debian's chromium through chromium-driver; install them when missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; }

# Everything but the tests marked slow (dag runs through the scheduler, Celery).
test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow and not consumers" tests

# The torch-based TrackVerse models (torchvision detector, ResNet-18 and LAION scorers) are not visionflow
# dependencies, so `make test` skips their test file. This builds a second venv with them (about 6 GB) and runs it.
TORCH_VENV := .venv-torch
test-torch: venv
	test -x $(TORCH_VENV)/bin/python || $(PY) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	$(TORCH_VENV)/bin/pip install -q --no-deps -r requirements-nodeps.txt -c constraints.txt
	$(TORCH_VENV)/bin/pip install -q torch==2.14.1 torchvision==0.29.1 open_clip_torch
	$(TORCH_VENV)/bin/python -m pytest -q tests/engine/test_trackverse_torch_models.py

demo: venv
	$(BIN)/python -m include.demo start

# A shell where `airflow ...` talks to the running demo (`make demo` writes .demo/env.sh).
shell:
	@test -f .demo/env.sh || { echo "no .demo/env.sh: run make demo first"; exit 1; }
	@bash --rcfile .demo/env.sh -i

stop:
	@test -x $(BIN)/python && $(BIN)/python -m include.demo stop || true

bench: venv
	$(BIN)/python -m bench.run

# Refresh the pinned constraints from a venv that passed `make test`.
constraints:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' | grep -v '^opencv-python==' > constraints.txt
