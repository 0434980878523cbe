# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= $(or $(STREAMLIT_SERVER_PORT),8501)

.PHONY: run test test-fast demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The tests cover XGBoost and LightGBM models. On Linux, xgboost-cpu is the same `xgboost` module as the
# xgboost wheel without the CUDA build and the NVIDIA NCCL wheel it pulls (hundreds of MB we never use).
XGBOOST_PKG := "xgboost>=2,<4"
ifeq ($(shell uname -s),Linux)
XGBOOST_PKG := "xgboost-cpu>=2,<4"
endif

# An editable install leaves core and app uncompiled: each `modelgov` process would compile what it imports
# (50-70 ms) wherever PYTHONDONTWRITEBYTECODE keeps Python from caching it. Compile once, as pip does for a wheel.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,lightgbm,mlflow,api]" $(XGBOOST_PKG)
	$(BIN)/python -m compileall -q core app
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/modelgov demo --if-missing
	$(BIN)/python -m app.serve --server.port $(PORT) --server.headless true

demo: $(STAMP)
	$(BIN)/modelgov demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q --durations=15 tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests -m "not e2e"

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
