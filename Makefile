# Two commands on a fresh machine with Python 3.11:  `make demo`  and  `make test`.
# Each creates .venv on first use. torch is pinned to the CPU build first so that nothing pulls a CUDA build.
# Every package is installed at the version in constraints.txt (what the tests passed with); `make lock`
# refreshes that file from the working .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
export DVC_NO_ANALYTICS := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: demo test test-slow test-all venv lock clean

$(BIN)/hrmkit: pyproject.toml setup.py hrmkit/puzzles/_sudoku_fast.c constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt "$(TORCH)"
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(BIN)/hrmkit

# constraints.txt = `pip freeze` of the working .venv (hrmkit itself left out; torch without its +cpu/+cuXXX
# label, so that a CUDA build of the same version satisfies it). Run after upgrading a package and `make test`.
lock:  # needs a working .venv (make venv)
	{ echo "# pip constraints: the versions hrmkit's tests passed with (refresh: make lock)"; \
	  $(BIN)/pip freeze --exclude-editable | grep -v -i '^hrmkit' | sed -E 's/^(torch==[^+]+)[+].*/\1/'; \
	} > constraints.txt.new
	mv constraints.txt.new constraints.txt

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
