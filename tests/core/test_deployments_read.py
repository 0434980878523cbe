"""The shared read side of deployments: live champion and challengers per environment."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.errors import InvalidInput, NotFound
from core.governance import live as governance_live
from core.lineage import nodes as lineage
from tests.conftest import make_version


def _insert(store, version_id, env, role, since, until=None):
    with store.transaction() as con:
        con.execute("INSERT INTO deployments (version_id, environment, role, since, until, deployed_by)"
                    " VALUES (?, ?, ?, ?, ?, 'test@example.com')", [version_id, env, role, since, until])


def test_active_lists_champion_first_and_ignores_ended(store, people):
    v1 = make_version(store, people["ds"], "risk-model")
    v2 = make_version(store, people["ds"], "risk-model", seed=1)
    t0 = datetime(2026, 1, 1)
    _insert(store, v1.id, "production", "champion", t0 - timedelta(days=9), t0)  # retired
    _insert(store, v2.id, "production", "challenger", t0)
    _insert(store, v1.id, "production", "champion", t0 + timedelta(days=1))
    _insert(store, v2.id, "staging", "champion", t0)
    live = governance_live.active(store, "risk-model", "production")
    assert [(d.version, d.role) for d in live] == [(v1.version, "champion"), (v2.version, "challenger")]
    assert governance_live.champion(store, "risk-model", "production").version == v1.version
    assert governance_live.champion(store, "risk-model", "staging").version == v2.version
    assert len(governance_live.history(store, "risk-model")) == 4
    assert governance_live.history(store, "risk-model")[0].since == t0 + timedelta(days=1)


def test_unknown_environment_and_model_are_clear(store, people):
    make_version(store, people["ds"], "risk-model")
    with pytest.raises(InvalidInput, match="Unknown environment 'prod'"):
        governance_live.active(store, "risk-model", "prod")
    with pytest.raises(NotFound):
        governance_live.active(store, "no-such-model", "production")
    assert governance_live.champion(store, "risk-model", "production") is None


def test_deployment_and_result_lineage_hang_from_the_version(store, people):

    v = make_version(store, people["ds"], "risk-model")
    with store.transaction() as con:
        dep = lineage.record_deployment_tx(con, people["ds"], "risk-model", v.version, "production", 7, "champion")
        res = lineage.record_result_tx(con, people["ds"], "explanation", "risk-model", v.version, "abc123",
                                       "SHAP on 500 rows")
        edges = con.execute("SELECT src, dst, relation FROM lineage_edges WHERE src = ? ORDER BY relation",
                            [lineage.model_node_id("risk-model", v.version)]).fetchall()
    assert dep == "deployment:risk-model:production:7"
    assert res == f"explanation:risk-model:{v.version}:abc123"
    assert edges == [(f"model:risk-model:{v.version}", dep, "deployed_as"),
                     (f"model:risk-model:{v.version}", res, "describes")]
