"""The store stays whole: the demo never replaces a store, outputs are checked before anything is logged,
a full disk is named as such, and two people deciding at once get the Conflict sentence."""

from __future__ import annotations

import errno
import hashlib
import threading
from pathlib import Path

import duckdb
import pytest

from core import audit, demo, users
from core.errors import Conflict, Forbidden
from core.governance import approvals, policy
from core.identity import Identity, identity_for
from core.monitoring import checks, ingest, report
from core.store import DiskFull, Store
from tests.conftest import make_version, release_kept, synthetic_classification

DS, RO, VIEWER = "ada@example.com", "rita@example.com", "vera@example.com"


def table_names(con) -> list[str]:
    """The store's tables, on either backend (information_schema: DuckDB's `main`, PostgreSQL's `public`)."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()]


def table_hashes(con) -> dict[str, str]:
    out = {}
    tables = table_names(con)
    for t in tables:
        rows = sorted(repr(r) for r in con.execute(f'SELECT * FROM "{t}"').fetchall())
        out[t] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def fingerprint(store: Store) -> dict[str, str]:
    """Every table's content, hashed: what 'nothing changed' means."""
    with store.read() as con:
        return table_hashes(con)


def chain_ok(store: Store) -> bool:
    with store.read() as con:
        return audit.verify_chain(con).ok


# -- 1. the demo builds only where no store exists ------------------------------------------------------------

def test_demo_refuses_an_initialised_store_and_touches_nothing(store, people, cli):
    users.grant_role(store, people["admin"], "newcomer@example.com", "viewer")
    make_version(store, people["ds"], "kept-model")
    before, files_before = fingerprint(store), sorted(p.relative_to(store.home) for p in store.home.rglob("*"))
    r = cli(store, "demo", "--quick")
    assert r.code == 4, r.err
    assert r.err.count("\n") == 1 and "already exists" in r.err and "--home" in r.err
    assert fingerprint(store) == before
    assert sorted(p.relative_to(store.home) for p in store.home.rglob("*")) == files_before
    assert "newcomer@example.com" in {u.email for u in users.list_users(store)}
    assert chain_ok(store)


def test_demo_refuses_a_store_without_models(tmp_path, cli):
    """The original bug: an initialised store with no model yet (users, policies, audit trail) was replaced."""
    s = Store(tmp_path / "home")
    users.init_store(s, "boss@example.com")
    before = fingerprint(s)
    assert cli(s, "demo", "--quick").code == 4
    assert fingerprint(s) == before


def test_demo_if_missing_leaves_an_existing_store_alone(store, people, cli):
    make_version(store, people["ds"], "kept-model")
    before = fingerprint(store)
    r = cli(store, "demo", "--if-missing", "--quick")
    assert r.code == 0 and "leaving it as it is" in r.err
    assert fingerprint(store) == before


def test_demo_refuses_a_home_whose_folders_hold_files(tmp_path, cli):
    home = tmp_path / "home"
    (home / "artifacts").mkdir(parents=True)
    (home / "artifacts" / "precious.skops").write_bytes(b"x")
    r = cli(Store(home), "demo", "--quick")
    assert r.code == 4 and "artifacts" in r.err
    assert (home / "artifacts" / "precious.skops").read_bytes() == b"x"
    assert not (home / "modelgov.duckdb").exists()


def test_a_store_created_while_the_demo_trained_is_not_replaced(tmp_path):
    """The last step claims the file name atomically: a store made meanwhile wins, the demo gives up."""
    staged = tmp_path / "staged"
    staging = Store(staged)
    users.init_store(staging, "demo@example.com")
    (staged / "inputs").mkdir()
    target = Store(tmp_path / "home")
    users.init_store(target, "boss@example.com")
    before = fingerprint(target)
    with pytest.raises(Conflict, match="already exists"):
        demo._move_into_place(staged, target)
    assert fingerprint(target) == before and not (target.home / "inputs").exists()


def test_demo_builds_into_a_new_home(demo_store):
    """The session's demo fixture is `demo.build` on a fresh folder (what `make run` does on a new machine)."""
    with demo_store.read() as con:
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] >= 4


# -- 3. score --output is checked before anything is logged -----------------------------------------------------

@pytest.fixture
def scoring(store, people, tmp_path):
    make_version(store, people["ds"], "toy-model")
    df = synthetic_classification(n=50, seed=3).drop(columns="y")
    df["rid"] = [f"r{i}" for i in range(len(df))]
    path = tmp_path / "today.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("where", ["missing-folder/out.csv", "a-folder"])
def test_score_into_an_unwritable_output_logs_nothing(store, cli, scoring, tmp_path, where):
    (tmp_path / "a-folder").mkdir()
    before = fingerprint(store)
    r = cli(store, "score", "toy-model:1", "--input", str(scoring), "--id-column", "rid",
            "--output", str(tmp_path / where), as_=DS)
    assert r.code == 2, r.err
    # refused while the arguments are read, before the model is even opened: one sentence naming the output
    assert r.err.count("\n") == 1 and "--output" in r.err and "folder" in r.err
    assert fingerprint(store) == before


def test_score_output_that_fails_while_writing_rolls_the_rows_back(store, people, scoring, tmp_path, monkeypatch):
    """The output passes the early check but the write fails (disk full): the logged rows roll back too."""
    import pandas as pd

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    before = fingerprint(store)
    with pytest.raises(DiskFull, match="disk holding .* is full"):
        ingest.score_file(store, people["ds"], "toy-model", 1, scoring, id_column="rid",
                          output=tmp_path / "out.csv")
    assert fingerprint(store) == before
    assert not list(tmp_path.glob("*.partial")) and not (tmp_path / "out.csv").exists()


def test_score_writes_its_output_after_logging(store, cli, scoring, tmp_path):
    r = cli(store, "score", "toy-model:1", "--input", str(scoring), "--id-column", "rid",
            "--output", str(tmp_path / "out.csv"), as_=DS)
    assert r.code == 0, r.err
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 51
    assert not list(tmp_path.glob("*.partial"))


# -- 4. a full disk is named as such, and the store stays usable ----------------------------------------------

ENOSPC_MESSAGES = [
    # DuckDB 2.0's words when the WAL cannot be written at COMMIT (seen with the WAL on /dev/full, below) …
    (duckdb.TransactionException, 'TransactionContext Error: Failed to commit: Could not write file '
                                  '"{db}.wal": No space left on device'),
    # … and when a write inside the transaction (a large insert spilling to the file) fails the same way
    (duckdb.IOException, 'IO Error: Could not write file "{db}": No space left on device'),
]


class _FullDisk:
    """A connection whose COMMIT fails the way DuckDB's does on a full disk (everything else is the real one)."""

    def __init__(self, con, exc, message):
        self._con, self._exc, self._message = con, exc, message

    def execute(self, sql, *args, **kwargs):
        if sql.strip().upper() == "COMMIT":
            raise self._exc(self._message)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.mark.parametrize("exc, message", ENOSPC_MESSAGES)
def test_a_full_disk_is_reported_as_such_and_the_store_stays_usable(store, people, monkeypatch, cli, exc, message):
    real_open = Store._open
    monkeypatch.setattr(Store, "_open", lambda self: _FullDisk(real_open(self), exc,
                                                              message.format(db=self.db_path)))
    before = fingerprint(store)
    with pytest.raises(DiskFull) as caught:
        users.grant_role(store, people["admin"], "newcomer@example.com", "viewer")
    assert "disk holding the store" in str(caught.value) and "full" in str(caught.value)
    assert "someone else" not in str(caught.value).lower()
    r = cli(store, "users", "grant", "newcomer@example.com", "viewer", as_="alan@example.com")
    assert r.code == 1 and "is full" in r.err and r.err.count("\n") == 1
    monkeypatch.undo()
    assert fingerprint(store) == before
    users.grant_role(store, people["admin"], "newcomer@example.com", "viewer")  # space again: it works
    assert "viewer" in identity_for(store, "newcomer@example.com").roles and chain_ok(store)


def test_a_real_enospc_from_the_wal_is_a_disk_full_error(store, people, monkeypatch):
    """A real write failure with errno ENOSPC: the WAL is /dev/full, where every write fails with ENOSPC."""
    release_kept()  # the file must be opened afresh, as a command's first unit of work opens it
    wal = store.db_path.with_name(store.db_path.name + ".wal")
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    with store.read() as con:
        assert con.execute("SELECT 1").fetchone() == (1,)  # migrated and closed: no WAL left behind
    assert not wal.exists()
    real_open = Store._open

    def open_then_fill(self):
        con = real_open(self)
        if not wal.is_symlink():
            wal.symlink_to("/dev/full")
        return con

    before = fingerprint(store)
    monkeypatch.setattr(Store, "_open", open_then_fill)
    try:
        users.grant_role(store, people["admin"], "newcomer@example.com", "viewer")
    except DiskFull as e:
        assert "is full" in str(e)
    else:
        pytest.skip("DuckDB did not write through the WAL symlink here")
    finally:
        monkeypatch.undo()
        wal.unlink(missing_ok=True)
    assert fingerprint(store) == before
    users.grant_role(store, people["admin"], "newcomer@example.com", "viewer")
    assert "viewer" in identity_for(store, "newcomer@example.com").roles and chain_ok(store)


# -- 5. two people deciding at once, in one process ------------------------------------------------------------

def _race(store, deciders, request_id):
    barrier = threading.Barrier(len(deciders))
    results = [None] * len(deciders)

    def run(i, who):
        barrier.wait()
        try:
            results[i] = approvals.approve(store, who, request_id, f"approved by {who.email}",
                                           override_reason="policy checks are not what this test is about")
        except Exception as e:  # noqa: BLE001 - the test inspects exactly what each thread got
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, who)) for i, who in enumerate(deciders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _officers(store, people):
    admin = people["admin"]
    for i in range(3):
        users.grant_role(store, admin, f"officer{i}@example.com", "risk_officer")
    return [identity_for(store, f"officer{i}@example.com") for i in range(3)]


@pytest.mark.parametrize("tier, needed", [("high", 2), ("low", 1)])
def test_concurrent_approvals_give_the_loser_the_conflict_sentence(store, people, tier, needed):
    make_version(store, people["ds"], "toy-model", risk_tier=tier)
    officers = _officers(store, people)
    with store.read() as con:
        assert policy.policy_tx(con, tier).approvals_needed == needed
    trials, conflicts = 12, 0
    for trial in range(trials):
        req = approvals.request_deployment(store, people["ds"], "toy-model", 1, "staging", "champion",
                                           f"trial {trial}")
        deciders = officers[:needed + 1]  # one more than needed: at least one must lose
        results = _race(store, deciders, req.id)
        errors = [r for r in results if isinstance(r, Exception)]
        for e in errors:
            assert isinstance(e, Conflict), f"trial {trial}: {type(e).__name__}: {e}"
            assert str(e).count(".") >= 1 and "\n" not in str(e)
        conflicts += len(errors)
        final = approvals.get_request(store, people["ro"], req.id)
        with store.read() as con:
            status, = con.execute("SELECT status FROM approval_requests WHERE id = ?", [req.id]).fetchone()
            decided = con.execute("SELECT count(*) FROM approval_decisions WHERE request_id = ?",
                                  [req.id]).fetchone()[0]
        # Whatever the interleaving: never more decisions than needed, and approved exactly when enough came in.
        assert decided <= needed and (status == "approved") == (decided == needed), (trial, status, decided, final)
        with store.transaction() as con:  # leave the next trial a clean slate (the deployment is not the point)
            con.execute("UPDATE approval_requests SET status = 'expired' WHERE id = ?",
                        [req.id])
    assert conflicts >= trials  # at least one loser per trial: the race was real
    assert chain_ok(store)


# -- 6. storing a monitoring snapshot needs a data scientist and is audited ------------------------------------

def test_a_viewer_may_look_at_monitoring_but_not_store_it(demo_store, demo_people):
    vera, ada = demo_people["vera"], demo_people["ada"]
    before = fingerprint(demo_store)
    with pytest.raises(Forbidden, match="may not store monitoring snapshots.*--no-store"):
        checks.check(demo_store, vera, "credit-default")
    after = fingerprint(demo_store)
    assert {t for t in before if before[t] != after[t]} == {"audit_log"}  # only the refusal, recorded
    with demo_store.read() as con:
        last = con.execute("SELECT actor, action, outcome FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert last == ("vera@modelgov.demo", "monitoring.snapshot", "refused")
    assert report.monitor(demo_store, "credit-default")["rows"] > 0  # looking is still allowed

    checks.check(demo_store, ada, "credit-default")
    with demo_store.read() as con:
        stored = con.execute("SELECT actor, entity_id, CAST(payload AS VARCHAR) FROM audit_log "
                             "WHERE action = 'monitoring.snapshot' AND outcome = 'ok' ORDER BY seq DESC").fetchall()
    assert stored and stored[0][0] == "ada@modelgov.demo" and stored[0][1] == "credit-default"
    assert '"environment":"production"' in stored[0][2]


def test_cli_monitor_as_a_viewer_is_refused_and_no_store_still_works(demo_store, cli):
    r = cli(demo_store, "monitor", "credit-default", as_="vera@modelgov.demo")
    assert r.code == 3 and "--no-store" in r.err
    r = cli(demo_store, "monitor", "credit-default", "--no-store", "--json", as_="vera@modelgov.demo")
    assert r.code == 0, r.err


def test_nobody_stores_a_snapshot_anonymously(demo_store):
    with pytest.raises(Forbidden):
        checks.check(demo_store, Identity("nobody@example.com", frozenset()), "credit-default")
