"""Shared fixtures: a migrated template store copied per test, the demo store, people, makers."""

from __future__ import annotations

import io
import itertools
import multiprocessing.process
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

# As core.explain does in the processes it runs in (core/explain/compute.py, _shap): shap's numba code runs as plain
# Python. Set here because test modules import shap themselves, before core could.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from core import demo, users
from core.identity import Identity, identity_for
from core.registry import records, versions
from core import store as store_module
from core.store import Store

# `--dist loadgroup` under pytest 9: the xdist_group node-id suffix (tests/xdist_groups.py).
pytest_plugins = ["tests.xdist_groups"]

PEOPLE = {
    "admin": ("alan@example.com", ["admin"]),
    "ds": ("ada@example.com", ["data_scientist"]),
    "ds2": ("grace@example.com", ["data_scientist"]),
    "ro": ("rita@example.com", ["risk_officer"]),
    "ro2": ("raj@example.com", ["risk_officer"]),
    "viewer": ("vera@example.com", ["viewer"]),
}
NOBODY = Identity("nobody@example.com", frozenset())

# The metadata backend the store fixtures give: DuckDB (the default), or PostgreSQL with
# MODELGOV_TEST_BACKEND=postgresql (a throwaway server from tests/pgserver.py, a fresh database per store).
BACKEND = os.environ.get("MODELGOV_TEST_BACKEND", "duckdb").strip().lower()
if BACKEND not in ("duckdb", "postgresql"):
    raise RuntimeError(f"MODELGOV_TEST_BACKEND={BACKEND!r}: use duckdb or postgresql")
_PG_TEMPLATES: dict[Path, str] = {}  # a template home -> its template database's URL
_PG_NAMES = itertools.count(1)


def postgres_server():
    """The test PostgreSQL server, or a skip saying why there is none (a failure under MODELGOV_REQUIRE_POSTGRES=1)."""
    from tests import pgserver

    srv = pgserver.server()
    if srv is None:
        why = f"PostgreSQL tests skipped: {pgserver.why_not}"
        if os.environ.get("MODELGOV_REQUIRE_POSTGRES") == "1":
            pytest.fail(why + " (MODELGOV_REQUIRE_POSTGRES=1 requires a server)", pytrace=False)
        pytest.skip(why)
    return srv


def new_postgres_database(template: str | None = None) -> str:
    """A new empty (or copied from `template`, a database URL) database on the test server; its URL."""
    from core import pg
    from tests import pgserver

    srv = postgres_server()
    name = f"mg_{os.getpid()}_{next(_PG_NAMES)}"
    if template:
        pg.pool(template).close_all()  # CREATE DATABASE … TEMPLATE needs the template without connections
        tname = template.rsplit("/", 1)[1]
        pgserver.admin_execute(srv, f'CREATE DATABASE "{name}" TEMPLATE "{tname}"')
    else:
        pgserver.admin_execute(srv, f'CREATE DATABASE "{name}"')
    return srv.database_url(name)


def drop_postgres_database(url: str) -> None:
    from core import pg
    from tests import pgserver

    pg.pool(url).close_all()
    store_module._migrated.discard(url)
    srv = pgserver.server()
    if srv is not None:
        pgserver.admin_execute(srv, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def template_store(home: Path) -> Store:
    """The store a template home is (on PostgreSQL, with its template database)."""
    return Store(home, database_url=_PG_TEMPLATES.get(home, "")) if BACKEND == "postgresql" else Store(home)


def _copy_home(src: Path, dst: Path) -> Store:
    """A copy of a migrated store; the copy is known to be migrated, so its first connection skips the check."""
    shutil.copytree(src, dst)
    if BACKEND == "postgresql":
        url = new_postgres_database(_PG_TEMPLATES[src])
        copy = Store(dst, database_url=url)
        store_module._migrated.add(url)
        return copy
    copy = Store(dst)
    store_module._migrated.add(str(copy.db_path))
    return copy


@pytest.fixture
def copy_store():
    """copy_store(store, dst): a whole copy of `store` (its home, and on PostgreSQL its database) at folder `dst`,
    dropped after the test."""
    made: list[str] = []

    def copy(s: Store, dst: Path) -> Store:
        shutil.copytree(s.home, dst)
        if not s.database_url:
            return Store(dst)
        url = new_postgres_database(s.database_url)
        made.append(url)
        store_module._migrated.add(url)
        return Store(dst, database_url=url)

    yield copy
    for url in made:
        drop_postgres_database(url)


@pytest.fixture
def fresh_store():
    """fresh_store(home): a new, empty store at folder `home` on the test's backend (on PostgreSQL a database of its
    own, dropped after the test), for a test that needs a second store beside `store`."""
    made: list[str] = []

    def fresh(home: Path) -> Store:
        if BACKEND != "postgresql":
            return Store(home)
        url = new_postgres_database()
        made.append(url)
        return Store(home, database_url=url)

    yield fresh
    for url in made:
        drop_postgres_database(url)


def _use_backend(s: Store, monkeypatch) -> None:
    """Point the process's MODELGOV_DATABASE_URL at `s` for one test (the CLI and app build their own Store)."""
    if s.database_url:
        monkeypatch.setenv("MODELGOV_DATABASE_URL", s.database_url)
    else:
        monkeypatch.delenv("MODELGOV_DATABASE_URL", raising=False)


# A test's store stays open in the test's process while the test runs. Core opens and closes the file for each
# unit of work, and each open builds a DuckDB database instance (tens of milliseconds) unless another connection
# in the process holds the file, when the open reuses that instance (about a millisecond): with a test doing
# dozens of units of work, the opens were a third of the suite's time. The code under test runs unchanged; only
# DuckDB's instance is shared. DuckDB lets one process hold the file, so the hold ends the moment the test starts
# any other process (the CLI, the dashboard, a model-loading child): from then on the test runs as without it.
_KEPT: list[duckdb.DuckDBPyConnection] = []


def _release_kept() -> None:
    while _KEPT:
        _KEPT.pop().close()


def release_kept() -> None:
    """End the hold now: for a test about what happens when the file is opened afresh (a full disk)."""
    _release_kept()


_popen_init = subprocess.Popen.__init__
_process_start = multiprocessing.process.BaseProcess.start


def _popen_releasing(self, *args, **kwargs):
    _release_kept()
    _popen_init(self, *args, **kwargs)


def _start_releasing(self):
    _release_kept()
    _process_start(self)


subprocess.Popen.__init__ = _popen_releasing
multiprocessing.process.BaseProcess.start = _start_releasing  # a Pool's workers too


def _kept_open(s: Store):
    if s.database_url:  # PostgreSQL: nothing to keep open; the test's database is dropped after it
        try:
            yield s
        finally:
            drop_postgres_database(s.database_url)
        return
    _KEPT.append(duckdb.connect(str(s.db_path)))
    try:
        yield s
    finally:
        _release_kept()


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    url = new_postgres_database() if BACKEND == "postgresql" else None
    s = Store(home, database_url=url) if url else Store(home)
    users.init_store(s, PEOPLE["admin"][0])
    admin = identity_for(s, PEOPLE["admin"][0])
    for email, roles in PEOPLE.values():
        for role in roles:
            users.grant_role(s, admin, email, role)
    if url:
        _PG_TEMPLATES[home] = url
        from core import pg

        pg.pool(url).close_all()
    return home


@pytest.fixture
def store(_template_home, tmp_path, monkeypatch):
    """An empty migrated store with the PEOPLE granted their roles (kept open while the test runs)."""
    s = _copy_home(_template_home, tmp_path / "home")
    _use_backend(s, monkeypatch)
    yield from _kept_open(s)


_DEMO_FIXTURES = {"demo_store", "_demo_home", "demo_people"}
_BUILD_DEMO = ("import sys; from pathlib import Path; from core import demo; from core.store import Store; "
               "demo.build(Store(Path(sys.argv[1]) / 'home'), quick=True); (Path(sys.argv[1]) / 'ready').touch()")
_demo_builder: list[subprocess.Popen] = []


def _demo_place(config) -> Path:
    """Where this run's demo store is built: pytest-N/ (shared by this run's xdist workers only)."""
    root = config._tmp_path_factory.getbasetemp()
    return root.parent if hasattr(config, "workerinput") else root


def start_demo_build(config, items) -> None:
    """When the selected tests need the demo store, start building it in a process of its own at once, so that
    the workers run other tests meanwhile instead of one training the demo (half a minute) while the other waits.
    The builder holds the lock `_demo_home` waits on; the first worker to get the lock starts it."""
    import fcntl

    if not any(_DEMO_FIXTURES & set(getattr(item, "fixturenames", ())) for item in items):
        return
    shared = _demo_place(config)
    fd = os.open(shared / "demo-template.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # the other worker has started it
        os.close(fd)
        return
    built = shared / "demo-template"
    if not (built / "ready").exists():
        shutil.rmtree(built, ignore_errors=True)
        built.mkdir()
        log = open(shared / "demo-template.log", "wb")
        # The builder inherits the locked descriptor (one open file, one lock): the lock is held until it exits.
        _demo_builder.append(subprocess.Popen([sys.executable, "-c", _BUILD_DEMO, str(built)], pass_fds=(fd,),
                                              stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1]))
        log.close()
    os.close(fd)


@pytest.fixture(scope="session")
def _demo_home(tmp_path_factory, pytestconfig) -> Path:
    """The quick demo store, built once per test run (start_demo_build starts it while the tests are collected):
    this waits on the builder's lock, and builds it here if the builder could not. Each worker then reads its own
    copy, so no two processes ever open one database file."""
    import fcntl

    shared = _demo_place(pytestconfig)
    built = shared / "demo-template"
    with open(shared / "demo-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / "ready").exists():  # no builder (or it failed: its log is demo-template.log)
            shutil.rmtree(built, ignore_errors=True)
            demo.build(Store(built / "home"), quick=True)
            (built / "ready").touch()
    mine = tmp_path_factory.mktemp("demo") / "home"
    shutil.copytree(built / "home", mine)
    if BACKEND == "postgresql":  # the demo moves over as `modelgov store copy` moves a store
        from core import store_copy

        url = new_postgres_database()
        store_copy.copy_store(Store(mine), url)
        from core import pg

        pg.pool(url).close_all()
        _PG_TEMPLATES[mine] = url
    return mine


@pytest.fixture
def demo_store(_demo_home, tmp_path, monkeypatch):
    """A copy of the quick demo store (real models on real data; kept open while the test runs)."""
    s = _copy_home(_demo_home, tmp_path / "demo")
    _use_backend(s, monkeypatch)
    yield from _kept_open(s)


@pytest.fixture(scope="session")
def _template_people(_template_home) -> dict[str, Identity]:
    """The PEOPLE as the template store knows them (read once: every `store` is a copy of the template)."""
    template = template_store(_template_home)
    found = {k: identity_for(template, email) for k, (email, _r) in PEOPLE.items()} | {"nobody": NOBODY}
    if template.database_url:
        from core import pg

        pg.pool(template.database_url).close_all()
    return found


@pytest.fixture
def people(store, _template_people) -> dict[str, Identity]:
    return dict(_template_people)


@pytest.fixture(scope="session")
def _demo_people(_demo_home) -> dict[str, Identity]:
    demo_home = template_store(_demo_home)
    found = {email.split("@")[0]: identity_for(demo_home, email) for email in demo.DEMO_USERS}
    if demo_home.database_url:
        from core import pg

        pg.pool(demo_home.database_url).close_all()
    return found


@pytest.fixture
def demo_people(demo_store, _demo_people) -> dict[str, Identity]:
    """The demo's people by first name: ada, grace, rita, raj, vera, alan (as the demo granted them; every
    `demo_store` is a copy of the same demo)."""
    return dict(_demo_people)


def synthetic_classification(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (x1 + 0.5 * x2 + rng.normal(scale=0.8, size=n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


def synthetic_regression(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": 3 * x1 - x2 + rng.normal(scale=0.5, size=n)})


def make_version(store: Store, actor: Identity, name: str = "toy-model", *, regression: bool = False,
                 seed: int = 0, **kwargs) -> records.ModelVersion:
    """Register a small real model trained on synthetic data (with hold-out metrics)."""
    df = synthetic_regression(seed=seed) if regression else synthetic_classification(seed=seed)
    train, test = df.iloc[:300], df.iloc[300:]
    est = (LinearRegression() if regression else LogisticRegression()).fit(train[["x1", "x2"]], train["y"])
    return versions.register_version(store, actor, name, est, train, "y", test_data=test, **kwargs)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli():
    """Run `modelgov` in-process: cli(store, "models", "list", as_="ada@example.com")."""
    from core.cli import main

    def run(store: Store, *args: str, as_: str | None = None) -> CliResult:
        argv = ["--home", str(store.home)] + (["--as", as_] if as_ else []) + list(args)
        out, err = io.StringIO(), io.StringIO()
        # The CLI builds its Store from --home and, for PostgreSQL, MODELGOV_DATABASE_URL: point that at `store`'s
        # database for the call (a module-scoped store has no per-test environment of its own).
        with pytest.MonkeyPatch.context() as env, redirect_stdout(out), redirect_stderr(err):
            _use_backend(store, env)
            code = main(argv)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def pytest_configure(config):
    config.addinivalue_line("markers", "duckdb_only(reason): runs only with the DuckDB backend, for the reason given")


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e as `e2e` (a `pytestmark` in a conftest marks nothing), so that
    `pytest -m "not e2e"` (make test-fast) really starts no browser."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
    if BACKEND == "postgresql":
        for item in items:
            mark = item.get_closest_marker("duckdb_only")
            if mark:
                item.add_marker(pytest.mark.skip(reason=f"DuckDB only: {mark.args[0] if mark.args else ''}"))
    # PostgreSQL's share in `make test`: what needs the demo store (trained once per run, half a minute) stays on
    # DuckDB, where the first run already covered it.
    if BACKEND == "postgresql" and os.environ.get("MODELGOV_TEST_SHARE") == "1":
        keep = [item for item in items if not _DEMO_FIXTURES & set(getattr(item, "fixturenames", ()))]
        if len(keep) != len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
    # First what needs no demo store, which runs while the demo is built (half a minute and more on a busy machine;
    # a test that needs it waits idle): the mutation fuzz, the sign-in journeys, the rest; then the demo's journeys
    # and the rest that needs it. Long tests go early in each half, so that the two workers end together instead of
    # one finishing a minute-long journey alone. The order within each group is kept (xdist still starts the Spark
    # group first, on one worker).
    def rank(item) -> int:
        demo = bool(_DEMO_FIXTURES & set(getattr(item, "fixturenames", ())))
        if Path(str(item.fspath)).name == "test_model_validation_fuzz.py":
            return 0
        return (3 if demo else 1) if item.get_closest_marker("e2e") else (4 if demo else 2)

    items.sort(key=rank)
    start_demo_build(config, items)


def logs_relation(store: Store, model: str, version: int) -> str:
    """A version's prediction log as SQL to read in `store.data()` (its catalogued Parquet files)."""
    from core import datafiles
    from core.monitoring import ingest

    files = ingest.log_files(store, versions.get_model_version(store, model, version))
    assert files, f"{model}:{version} has no logged predictions"
    return datafiles.relation(store, files)


def outcomes_relation(store: Store, model: str) -> str:
    """A model's outcomes as they stand (the latest label of each request id), as SQL to read in `store.data()`."""
    from core import datafiles
    from core.registry.catalog import get_model_tx

    with store.read() as con:
        files = datafiles.outcome_files_tx(con, get_model_tx(con, model).id)
    return datafiles.outcomes_relation(store, files)
