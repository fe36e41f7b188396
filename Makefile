# Two commands on a fresh machine with Python 3.11:  `make demo`  and  `make test`.
# Each creates .venv on first use. torch is pinned to the CPU build first so that nothing pulls a CUDA build.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
export DVC_NO_ANALYTICS := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: demo test test-slow test-all venv clean

$(BIN)/hrmkit: pyproject.toml setup.py hrmkit/puzzles/_sudoku_fast.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/hrmkit

venv: $(BIN)/hrmkit

demo: venv
	test -d .dvc || $(BIN)/dvc init -q --no-scm 2>/dev/null || true
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc metrics show reports/demo/eval/metrics.json
	@echo "model: runs/demo (card: reports/demo/model/README.md); plots: $(BIN)/dvc plots show"
	@echo "try it: $(BIN)/hrmkit solve examples/sudoku-lines.txt --model runs/demo"

test: venv
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-slow: venv
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "slow and not gpu"

test-all: venv
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not gpu"

clean:
	rm -rf $(VENV) data runs reports .pytest_cache
