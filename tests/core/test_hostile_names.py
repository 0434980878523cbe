"""Hostile column, file and entity names through every CLI command that takes one.

Each string is passed where a name goes (as a CSV column the file really has, as a file name, as a model or
lineage id). Each command must either do the right thing with it or refuse in one sentence (exit 2, 3 or 5);
no table the command does not own may change, no admin may appear, no request may be approved, and the audit
chain must still verify. The last string is the attack of issue 13: a quote that closes the SQL literal and
appends statements that approve a pending request and grant admin.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core import audit, sql
from core.errors import InvalidInput
from core.governance import approvals
from tests.conftest import make_version, synthetic_classification
from tests.core.test_store_whole import chain_ok, table_hashes

DS, ADMIN = "ada@example.com", "alan@example.com"
# The issue-13 payload: on main the id column closed the reject reason's SQL literal, ran two statements of its
# own and opened a dollar-quoted string that the label column closes into a valid last SELECT (whose lateral
# alias __id satisfies the query's tail), so the whole batch succeeded: request approved, admin granted.
ATTACK = ("x' END; UPDATE approval_requests SET status = 'approved'; "
          "INSERT INTO role_grants (email, role, granted_by, granted_at) "
          "VALUES ('mallory@evil.test', 'admin', 'x', now()); SELECT 'x' AS __id, $$")
ATTACK_LABEL = "$$ AS a, CASE WHEN true THEN '"
# Each string covers what a shorter one would: double quotes and semicolons are in the drop and attack strings.
HOSTILE = [
    "it's",
    "line\nbreak",
    "naïve 列 🚀 \u202e",
    "'; DROP TABLE audit_log; --",
    ATTACK,
    ATTACK_LABEL,
    ATTACK.replace("'", '"'),
]
IDS = ["quote", "newline", "unicode", "drop-sq", "attack", "attack-label", "attack-dq"]
# Tables an ingest or a computed result may write; every other table must stay exactly as it was.
RESULT_TABLES = {"audit_log", "ingest_runs", "ingest_rejections", "data_files", "lineage_nodes",
                 "lineage_edges", "monitoring_config", "comparisons", "datasets", "models", "model_versions",
                 "explanations", "monitor_snapshots", "monitoring_results", "alerts"}


def _safe_name(h: str) -> str:
    return h.replace("/", "_")


@pytest.fixture
def world(store, people, tmp_path):
    """A model with logged predictions and a pending request the attack would like to approve."""
    v = make_version(store, people["ds"], "toy-model", risk_tier="high")
    make_version(store, people["ds"], "toy-model", seed=1)
    req = approvals.request_deployment(store, people["ds"], "toy-model", 1, "production", "champion", "please")
    df = synthetic_classification(n=60, seed=5)
    df["rid"] = [f"r{i}" for i in range(len(df))]
    served = tmp_path / "served.csv"
    df.drop(columns="y").to_csv(served, index=False)
    from core.monitoring import ingest

    ingest.log_predictions(store, people["ds"], "toy-model", 1, served, id_column="rid")
    return {"store": store, "version": v, "request": req.id, "frame": df, "dir": tmp_path}


def _observe(store) -> dict:
    """Who is admin, the requests, every table's content (hashed) and whether the audit chain holds: one open."""
    with store.read() as con:
        return {
            "admins": sorted(r[0] for r in con.execute("SELECT email FROM role_grants WHERE role = 'admin'").fetchall()),
            "grants": con.execute("SELECT count(*) FROM role_grants").fetchone()[0],
            "requests": con.execute("SELECT id, status FROM approval_requests ORDER BY id").fetchall(),
            "tables": table_hashes(con),
            "chain_ok": audit.verify_chain(con).ok,
        }


def _check(before, r, allowed_codes, label, store) -> dict:
    assert r.code in allowed_codes, f"{label}: exit {r.code}: {r.err}"
    if r.code:
        assert r.err.startswith("modelgov: ") and "unexpected error" not in r.err, f"{label}: {r.err}"
    after = _observe(store)
    assert after["admins"] == before["admins"], f"{label}: an admin appeared"
    assert after["requests"] == before["requests"], f"{label}: a request changed"
    assert after["grants"] == before["grants"], f"{label}: a role was granted"
    assert set(before["tables"]) <= set(after["tables"]), f"{label}: a table was dropped"
    changed = {t for t in before["tables"] if after["tables"].get(t) != before["tables"][t]}
    assert not {t for t in changed if t not in RESULT_TABLES}, (label, changed)
    assert after["chain_ok"], f"{label}: audit chain broken"
    return after


def _write(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    path = folder / f"{_safe_name(name)}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("h", HOSTILE, ids=IDS)
def test_hostile_names_through_every_command(world, cli, h):
    store, folder, df = world["store"], world["dir"], world["frame"]
    seen = _observe(store)

    def run(label, codes, *args, as_=DS):
        nonlocal seen
        r = cli(store, *args, as_=as_)
        seen = _check(seen, r, codes, label, store)
        return r

    # log-outcomes: the file really has the hostile columns; the labels must land, nothing else may happen.
    outcomes = pd.DataFrame({h: df["rid"], h + " y": df["y"]})
    r = run("log-outcomes", {0, 2}, "log-outcomes", "toy-model", "--input", str(_write(outcomes, folder, "o" + h)),
            "--id-column", h, "--label-column", h + " y", "--json")
    if r.code == 0:
        assert json.loads(r.out)["logged"] == len(df)
    # ...and as a column the file lacks (the reject reasons used to be pasted in as SQL literals)
    plain = pd.DataFrame({"rid": df["rid"], "y": df["y"]})
    run("log-outcomes missing column", {2}, "log-outcomes", "toy-model", "--input",
        str(_write(plain, folder, "plain")), "--id-column", h, "--label-column", "y")
    run("log-outcomes label column", {0, 2}, "log-outcomes", "toy-model", "--input",
        str(_write(plain.rename(columns={"y": h}), folder, "l" + h)), "--id-column", "rid", "--label-column", h)

    # log-predictions --time-column / --id-column, from a file whose name is hostile too
    served = df.drop(columns="y").rename(columns={"rid": h})
    served[h + " t"] = "2026-01-02 03:04:05"
    r = run("log-predictions", {0, 2}, "log-predictions", "toy-model:2", "--input",
            str(_write(served, folder, "p" + h)), "--id-column", h, "--time-column", h + " t", "--json")
    if r.code == 0:
        assert json.loads(r.out)["logged"] == len(df)
    run("log-predictions --score-column", {0, 2}, "log-predictions", "toy-model:2", "--input",
        str(_write(served, folder, "p" + h)), "--score-column", h)

    # score --id-column / --time-column / --output with a hostile file name
    r = run("score", {0, 2}, "score", "toy-model:1", "--input", str(_write(served, folder, "s" + h)),
            "--id-column", h, "--time-column", h + " t", "--output", str(folder / f"{_safe_name(h)}.scored.csv"),
            "--json")
    if r.code == 0:
        assert json.loads(r.out)["logged"] == len(df)

    # drift --time-column, both files named hostile
    ref = _write(df.drop(columns=["rid"]), folder, "ref" + h)
    cur_frame = df.drop(columns=["rid"]).assign(**{h: "2026-01-02"})
    run("drift", {0, 1, 2}, "drift", str(ref), str(_write(cur_frame, folder, "cur" + h)), "--time-column", h)

    # monitor-config: a column named hostile in the JSON config (admin)
    cfg = folder / f"{_safe_name(h)}.json"
    cfg.write_text(json.dumps({"columns": {h: {"kind": "numeric"}}, "drift_share": 0.5}))
    run("monitor-config", {0, 2}, "monitor-config", "toy-model", "--config", str(cfg), as_=ADMIN)

    # compare --target / --segment on a hold-out whose columns are hostile
    hold = df.drop(columns=["rid"]).rename(columns={"y": h}).assign(**{h + " seg": ["a", "b"] * 30})
    run("compare", {0, 2}, "compare", "toy-model:1", "toy-model:2", "--data", str(_write(hold, folder, "h" + h)),
        "--target", h, "--segment", h + " seg", "--bootstrap", "20", "--no-save")

    # register --target (and a hostile model name, which must be refused)
    model = folder / "model.joblib"
    joblib.dump(LogisticRegression().fit(df[["x1", "x2"]], df["y"]), model)
    train = _write(df[["x1", "x2", "y"]].rename(columns={"y": h}), folder, "t" + h)
    run("register --target", {0, 2}, "register", "toy-model", "--model", str(model), "--train-data", str(train),
        "--target", h)
    run("register name", {2}, "register", h, "--model", str(model), "--train-data", str(train), "--target", h)

    # lineage add-node / add-edge / show with hostile ids
    node = f"dataset:ns:{h}"
    run("lineage add-node", {0, 2}, "lineage", "add-node", node, "--kind", "dataset", "--name", h,
        "--attributes", json.dumps({h: h}))
    run("lineage add-edge", {0, 2, 5}, "lineage", "add-edge", node, "model:toy-model:1", "--relation", "trained_on")
    run("lineage show", {0, 2, 5}, "lineage", "show", node)
    run("lineage upstream", {0, 2, 5}, "lineage", "upstream", node)
    run("lineage nodes --search", {0}, "lineage", "nodes", "--search", h)

    # models: names, searches and edits
    run("models show", {2, 5}, "models", "show", h)
    run("models list --search", {0}, "models", "list", "--search", h, "--owner", h, "--tag", h)
    run("models update", {0, 2}, "models", "update", "toy-model", "--description", h, "--tags", h)
    run("monitor", {2, 5}, "monitor", h, "--no-store")
    run("explain", {2, 5}, "explain", f"{h}:1", "--data", str(ref))
    run("approvals request", {2, 5}, "approvals", "request", f"{h}:1", "--env", "production", "--role",
        "champion", "--reason", h)


def test_the_attack_column_lands_as_data_not_as_sql(world, cli):
    """The reproduction of issue 13: outcomes with a crafted id column approve nothing and grant nothing."""
    store, df = world["store"], world["frame"]
    path = world["dir"] / "labels.csv"
    pd.DataFrame({ATTACK: df["rid"].where(df.index > 0), ATTACK_LABEL: df["y"]}).to_csv(path, index=False)
    r = cli(store, "log-outcomes", "toy-model", "--input", str(path), "--id-column", ATTACK,
            "--label-column", ATTACK_LABEL, "--json", as_=DS)
    with store.read() as con:
        assert not con.execute("SELECT 1 FROM role_grants WHERE email = 'mallory@evil.test'").fetchall()
        assert con.execute("SELECT status FROM approval_requests WHERE id = ?", [world["request"]]).fetchone() \
            == ("pending",)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["logged"] == len(df) - 1
    assert out["reasons"] == {f"{ATTACK}: missing request id": 1}  # the reason is the name, as text
    assert chain_ok(store)


@pytest.mark.parametrize("h", HOSTILE, ids=IDS)
def test_quote_round_trips_every_name(h):
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({sql.quote(h)} INTEGER)")
    con.execute(f"INSERT INTO t ({sql.quote(h)}) VALUES (?)", [7])
    assert [r[0] for r in con.execute("DESCRIBE t").fetchall()] == [h]
    assert con.execute(f"SELECT {sql.quote(h)} FROM t").fetchall() == [(7,)]


@pytest.mark.parametrize("bad", ["", "a\x00b"])
def test_quote_refuses_names_sql_cannot_spell(bad):
    with pytest.raises(InvalidInput, match="cannot be a column or table name"):
        sql.quote(bad)
