"""Rules that have one home after the reshape: migrations' order, the health formula, the drift-test
registry, typed audit events and refusals named like the actions they refuse."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats

from core import events, store as store_module
from core.audit import canonical_json, utcnow
from core.drift import stattests
from core.drift.report import DriftConfig
from core.errors import CoreError, Forbidden, InvalidInput
from core.monitoring import health as monitoring_health
from core.registry import catalog
from tests.conftest import make_version


# --- migrations ----------------------------------------------------------------------------------------------

def _history(store):
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]


def test_migrations_refuse_a_history_that_is_not_a_prefix_of_the_files(store):
    numbers = [m.number for m in store_module.migrations()]
    assert _history(store) == numbers
    with store.transaction() as con:   # as if 0003 had never run but 0004 … had: a store from another build
        con.execute("DELETE FROM schema_migrations WHERE version = ?", [numbers[1]])
    with store.read() as con, pytest.raises(CoreError, match=rf"skipped migration\(s\) {numbers[1]:04d}.*nothing"):
        store_module.migrate(con)
    assert _history(store) == [numbers[0]] + numbers[2:]   # nothing applied


def test_migrations_refuse_a_store_from_a_newer_modelgov(store):
    with store.transaction() as con:
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')")
    with store.read() as con, pytest.raises(CoreError, match="records migration\\(s\\) 9999 that this ModelGov does not"):
        store_module.migrate(con)


# --- the health formula, with numbers -------------------------------------------------------------------------

def _snapshot(store, people, name, **summary):
    """A live production champion of `name` with a monitoring snapshot holding `summary`'s numbers."""
    make_version(store, people["ds"], name)
    base = {"model": name, "version": 1, "environment": "production", "rows": 1000, "first": None,
            "drifted_share": 0.0, "dataset_drift": False, "drifted_columns": [], "n_columns": 4, "recent_days": 7,
            "shift_start": None, "metric": "auc", "baseline": 0.80, "current": 0.80, "max_missing_rate": 0.0,
            "rejected_share": 0.0, "last": (utcnow() - timedelta(days=1)).isoformat()}
    base.update(summary)
    with store.transaction() as con:
        mid, vid = con.execute("SELECT m.id, v.id FROM models m JOIN model_versions v ON v.model_id = m.id "
                               "WHERE m.name = ?", [name]).fetchone()
        con.execute("INSERT INTO monitor_snapshots VALUES (?, 1, 'production', ?, ?)",
                    [mid, utcnow(), canonical_json(base)])
        con.execute("INSERT INTO deployments (version_id, environment, role, since, deployed_by) VALUES "
                    "(?, 'production', 'champion', ?, 'x@example.com')", [vid, utcnow()])
        return mid


def test_health_formula_weighs_its_parts_as_documented(store, people):
    # drift 100·(1−0.25)=75; AUC 6 points down → 100−(6−2)·12.5=50; data quality 100·(1−5·0.02−10·0.001)=89;
    # freshness 100 (1 day); re-certification 100. 0.30·75 + 0.30·50 + 0.15·89 + 0.10·100 + 0.15·100 = 75.85
    _snapshot(store, people, "amber-model", drifted_share=0.25, drifted_columns=["a"], current=0.74,
              max_missing_rate=0.02, rejected_share=0.001)
    _snapshot(store, people, "green-model")
    mid = _snapshot(store, people, "capped-model")
    with store.transaction() as con:
        con.execute("INSERT INTO alerts (model_id, version, environment, kind, severity, message, metric, value,"
                    " threshold, status, created_at) VALUES (?, 1, 'production', 'performance', 'high', 'x', 'auc',"
                    " 0.7, 0.75, 'open', ?)", [mid, utcnow()])
    h = monitoring_health.health(store)
    assert h["amber-model"]["components"] == {"drift": 75, "performance": 50, "data_quality": 89, "freshness": 100,
                                              "recertification": 100}
    assert h["amber-model"]["score"] == round(0.30 * 75 + 0.30 * 50 + 0.15 * 89 + 0.10 * 100 + 0.15 * 100) == 76
    assert h["amber-model"]["status"] == "amber"
    assert h["green-model"]["score"] == 100 and h["green-model"]["status"] == "green"
    assert h["capped-model"]["score"] == 79 and h["capped-model"]["status"] == "amber"   # high alert caps at 79


# --- the drift-test registry ----------------------------------------------------------------------------------

def test_every_registered_drift_test_is_complete_and_the_defaults_read_the_registry():
    assert set(stattests.METHODS) == set(stattests.REGISTRY)
    for t in stattests.REGISTRY.values():
        assert t.kinds and 0 < t.default_threshold < 1 and callable(t.score)
    assert stattests.default_method("numeric", 500, 100) == "ks"
    assert stattests.default_method("numeric", 500, 4) == "chisquare"
    assert stattests.default_method("numeric", 5000, 3) == "jensenshannon"
    assert stattests.default_method("categorical", 5000, 30) == "jensenshannon"
    assert stattests.default_method("categorical", 500, 2) == "z"
    with pytest.raises(ValueError, match="already registered"):
        stattests.register(stattests.REGISTRY["ks"])


def test_a_registered_test_scores_like_scipy_and_decides_on_its_side_of_the_threshold():
    rng = np.random.default_rng(0)
    ref, cur = rng.integers(0, 3, 400), rng.integers(0, 3, 300)
    counts = lambda a: {int(k): int(v) for k, v in zip(*np.unique(a, return_counts=True))}  # noqa: E731
    sample = stattests.Sample("categorical", len(ref), len(cur), ref_counts=counts(ref), cur_counts=counts(cur))
    chi = stattests.REGISTRY["chisquare"]
    expected = stats.chisquare([counts(cur)[k] for k in range(3)],
                               [counts(ref)[k] * len(cur) / len(ref) for k in range(3)])[1]
    assert chi.score(sample) == pytest.approx(expected, rel=1e-12)
    assert chi.drifted(0.01, 0.05) and not chi.drifted(0.05, 0.05)             # p-value: drift below
    assert stattests.REGISTRY["ks"].drifted(0.05, 0.05)                         # KS: at or below
    assert stattests.REGISTRY["psi"].drifted(0.1, 0.1) and not stattests.REGISTRY["psi"].drifted(0.09, 0.1)


def test_drift_settings_are_checked_against_the_registry():
    with pytest.raises(InvalidInput, match="method must be one of ks, wasserstein"):
        DriftConfig.from_dict({"columns": {"AGE": {"method": "hellinger"}}})
    with pytest.raises(InvalidInput, match="does not apply to categorical"):
        DriftConfig.from_dict({"columns": {"SEX": {"kind": "categorical", "method": "ks"}}})


# --- typed audit events; refusals share the action's name ------------------------------------------------------

def test_every_event_type_has_a_unique_action_and_an_entity():
    assert len(events.EVENTS) == len({e.action for e in events.EVENTS.values()})
    for e in events.EVENTS.values():
        assert e.action and e.entity_type and e.entity_field


def test_a_refusal_and_a_success_share_the_action_name(store, people):
    catalog.create_model(store, people["ds"], "kept")
    with pytest.raises(Forbidden):
        catalog.create_model(store, people["viewer"], "refused")
    with store.read() as con:
        rows = con.execute("SELECT actor, action, entity_type, entity_id, outcome, CAST(payload AS VARCHAR) FROM "
                           "audit_log WHERE action = 'model.create' ORDER BY seq").fetchall()
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [("ada@example.com", "model", "kept", "ok"),
                                                          ("vera@example.com", "model", "refused", "refused")]
    assert json.loads(rows[0][5]) == {"owner": "ada@example.com", "risk_tier": "medium", "tags": []}


# --- one answer to "what is live", and health of the live champion ------------------------------------------

def test_health_follows_the_live_champion_after_a_new_deployment(demo_store, demo_people, cli):
    from core.governance import approvals, deployments, live

    before = monitoring_health.health(demo_store)["credit-default"]
    assert before["version"] == 1 and before["status"] in ("green", "amber", "red")
    r = approvals.request_deployment(demo_store, demo_people["ada"], "credit-default", 2, "production", "champion",
                                     "Promote the challenger.")
    for who in ("rita", "raj"):
        approvals.approve(demo_store, demo_people[who], r.id, "Reviewed.", override_reason="Accepted for the test.")
    deployments.deploy(demo_store, demo_people["rita"], r.id)
    assert [(d.environment, d.role, d.version) for d in live.live(demo_store, "credit-default")
            if d.role == "champion"] == [("production", "champion", 2)]
    after = monitoring_health.health(demo_store)["credit-default"]
    assert after["version"] == 2 and after["status"] == "unknown"       # v1's amber is history, not v2's health
    assert "not monitored in production" in after["reasons"][0]
    shown = json.loads(cli(demo_store, "models", "show", "credit-default", "--json").out)
    assert {"environment": "production", "role": "champion", "version": 2} in [
        {k: d[k] for k in ("environment", "role", "version")} for d in shown["live"]]
    assert all(set(d) == {"environment", "role", "version", "since"} for d in shown["live"])
    assert [(h["environment"], h["version"], h["status"]) for h in shown["health"]] == [("production", 2, "unknown")]
    listed = {m["name"]: m["health"] for m in json.loads(cli(demo_store, "models", "list", "--json").out)}
    assert listed["credit-default"] == "unknown" and listed["churn-early-warning"] is None


def test_impact_of_a_deployed_version_names_its_live_deployment(demo_store):
    from core.lineage import graph, nodes

    g = graph.impact(demo_store, nodes.model_node_id("credit-default", 1))
    assert any(n["kind"] == "deployment" and n.get("active") for n in g.nodes)
    sentence = graph.impact_summary(g)
    assert "Nothing" not in sentence and "credit-default" in sentence and "in production" in sentence
