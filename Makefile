# Two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= $(or $(STREAMLIT_SERVER_PORT),8501)

.PHONY: run test test-postgres test-fast demo bench clean

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
	$(BIN)/python -m pip install --quiet -e ".[test,lightgbm,mlflow,api,postgres]" $(XGBOOST_PKG)
	$(BIN)/python -m compileall -q core app
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/modelgov demo --if-missing
	$(BIN)/python -m app.serve --server.port $(PORT) --server.headless true

demo: $(STAMP)
	$(BIN)/modelgov demo

# PostgreSQL's share: the core tests of the store, audit, approvals, four eyes, permissions, registry, tokens, users and
# lineage again with the metadata on PostgreSQL (a throwaway local cluster, tests/pgserver.py; skipped, saying why,
# when no server can be had). Tests that need the demo store stay on DuckDB there (MODELGOV_TEST_SHARE).
PG_SHARE := tests/core/test_store.py tests/core/test_audit_trail.py tests/core/test_audit_anchor.py \
	tests/core/test_approvals.py tests/core/test_four_eyes_attacks.py tests/core/test_permissions.py \
	tests/core/test_registry.py tests/core/test_tokens.py tests/core/test_auth.py tests/core/test_lineage_graph.py \
	tests/core/test_column_lineage.py

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q --durations=15 tests
	MODELGOV_TEST_BACKEND=postgresql MODELGOV_TEST_SHARE=1 $(BIN)/python -m pytest -n 2 -q $(PG_SHARE)

test-postgres: $(STAMP)
	MODELGOV_TEST_BACKEND=postgresql $(BIN)/python -m pytest -n 2 -q tests/core

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests -m "not e2e"

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
