# visionflow: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ROOT := $(abspath .)

.PHONY: venv test test-fast demo stop bench constraints clean

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

test: venv
	$(BIN)/python -m pytest -q tests

# Everything but the tests marked slow (dag runs through the scheduler, Celery).
test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow" tests

demo: venv
	$(BIN)/python -m include.demo start

stop:
	@test -x $(BIN)/python && $(BIN)/python -m include.demo stop || true

bench: venv
	$(BIN)/python -m bench.run

# Refresh the pinned constraints from a venv that passed `make test`.
constraints:
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' | grep -v '^opencv-python==' > constraints.txt
