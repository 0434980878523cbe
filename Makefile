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

# pyspark (the `spark` extra: --engine spark) is a 456 MB sdist: the first install builds its wheel (about 75 s here,
# measured on a loaded 2-core machine), later ones take pip's cached wheel. Its tests also need Java (.ci/run).
# An editable install leaves core and app uncompiled: each `modelgov` process would compile what it imports
# (50-70 ms) wherever PYTHONDONTWRITEBYTECODE keeps Python from caching it. Compile once, as pip does for a wheel.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,lightgbm,mlflow,api,postgres,spark]" $(XGBOOST_PKG)
	$(BIN)/python -m compileall -q core app
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/modelgov demo --if-missing
	$(BIN)/python -m app.serve --server.port $(PORT) --server.headless true

demo: $(STAMP)
	$(BIN)/modelgov demo

# PostgreSQL's share: the core tests of the store, tokens and lineage, and a few of audit, approvals, four eyes,
# permissions, users and the registry, again with the metadata on PostgreSQL (a throwaway local cluster,
# tests/pgserver.py; skipped, saying why, when no server can be had). About 40 s of worker time: the whole core suite
# runs there with `make test-postgres`. tests/core/test_postgres.py (concurrent writers, store copy, pages) runs in
# the first pass. MODELGOV_TEST_SHARE keeps tests that need the demo store on DuckDB.
T := tests/core
PG_SHARE := $(T)/test_store.py $(T)/test_tokens.py $(T)/test_lineage_graph.py \
	$(T)/test_audit_trail.py::test_an_edited_row_is_named $(T)/test_audit_trail.py::test_a_deleted_row_is_named \
	$(T)/test_audit_trail.py::test_listing_filters_and_csv_export_for_auditors_only \
	$(T)/test_approvals.py::test_deploy_exactly_once_and_only_by_permitted_people \
	$(T)/test_approvals.py::test_a_high_risk_model_needs_two_distinct_risk_officers \
	$(T)/test_approvals.py::test_two_risk_officers_deciding_at_once_from_two_processes \
	$(T)/test_four_eyes_attacks.py::test_the_lower_request_approve_deploy_raise_attack_is_refused_end_to_end \
	$(T)/test_four_eyes_attacks.py::test_an_admin_cannot_grant_or_revoke_his_own_roles \
	$(T)/test_permissions.py::test_admin_grants_and_revokes_with_audit \
	$(T)/test_permissions.py::test_revoking_the_last_admin_or_a_missing_grant_is_refused \
	$(T)/test_registry.py::test_register_records_version_datasets_lineage_and_audit \
	$(T)/test_registry.py::test_search_filters_sorts_and_paginates \
	$(T)/test_registry.py::test_update_model_card_is_audited_with_old_and_new_values

# --dist loadgroup: the Spark tests (one module, xdist_group "spark") run on one worker, which alone starts a JVM.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --durations=15 tests
	MODELGOV_TEST_BACKEND=postgresql MODELGOV_TEST_SHARE=1 $(BIN)/python -m pytest -n 2 -q $(PG_SHARE)

test-postgres: $(STAMP)
	MODELGOV_TEST_BACKEND=postgresql $(BIN)/python -m pytest -n 2 -q tests/core

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q tests -m "not e2e"

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
