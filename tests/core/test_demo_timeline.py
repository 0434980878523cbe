"""The demo's story is dated consistently: deployments start no later than the traffic they served."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core import audit
from core.audit import utcnow, verify_chain
from core.demo import TRAFFIC_DAYS
from tests.conftest import logs_relation


def test_every_logged_row_falls_within_a_deployment_of_its_version_in_its_environment(demo_store):
    with demo_store.read() as con:
        logged = con.execute("SELECT DISTINCT v.id, m.name, v.version FROM data_files f JOIN model_versions v ON "
                             "v.model_id = f.model_id AND v.version = f.version JOIN models m ON m.id = v.model_id "
                             "WHERE f.kind = 'predictions'").fetchall()
        deployments = con.execute("SELECT version_id, environment, since, until FROM deployments").df()
    assert logged, "the demo logs traffic"
    with demo_store.data() as dcon:
        dcon.register("deployments", deployments)
        for version_id, model, version in logged:
            rows, outside, first = dcon.execute(f"""
                SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
                           SELECT 1 FROM deployments d WHERE d.version_id = ? AND d.environment = l.environment
                           AND d.since <= l.ts AND (d.until IS NULL OR l.ts < d.until))),
                       min(ts)
                FROM {logs_relation(demo_store, model, version)} l""", [version_id]).fetchall()[0]
            assert rows > 0
            assert outside == 0, f"{outside} of {rows} rows of version {version} fall outside its deployments"
            since = deployments[deployments["version_id"] == version_id]["since"].min()
            assert since <= first


def test_the_story_precedes_the_traffic_and_the_trail_stays_in_order(demo_store):
    with demo_store.read() as con:
        assert verify_chain(con).ok
        stamps = [r[0] for r in con.execute("SELECT ts FROM audit_log ORDER BY seq").fetchall()]
        created = con.execute("SELECT max(created_at) FROM model_versions").fetchone()[0]
        deployed = con.execute("SELECT min(since) FROM deployments").fetchone()[0]
    assert stamps == sorted(stamps), "audit events are dated in the order they were recorded"
    assert created <= deployed <= utcnow() - timedelta(days=TRAFFIC_DAYS)


def test_the_demo_gives_core_its_clock_back(demo_store):
    """The story is dated back through a context variable in core.audit; afterwards the clock is now again."""
    assert abs((audit.utcnow() - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds()) < 60
    with audit.dated_back(timedelta(days=3)):
        assert abs((audit.utcnow() - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds()
                   + 3 * 86400) < 60
    assert abs((audit.utcnow() - datetime.now(timezone.utc).replace(tzinfo=None)).total_seconds()) < 60
