"""Shared fixtures: a migrated template store copied per test, the demo store, people, makers."""

from __future__ import annotations

import io
import multiprocessing.process
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

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

PEOPLE = {
    "admin": ("alan@example.com", ["admin"]),
    "ds": ("ada@example.com", ["data_scientist"]),
    "ds2": ("grace@example.com", ["data_scientist"]),
    "ro": ("rita@example.com", ["risk_officer"]),
    "ro2": ("raj@example.com", ["risk_officer"]),
    "viewer": ("vera@example.com", ["viewer"]),
}
NOBODY = Identity("nobody@example.com", frozenset())


def _copy_home(src: Path, dst: Path) -> Store:
    """A copy of a migrated store; the copy is known to be migrated, so its first connection skips the check."""
    shutil.copytree(src, dst)
    copy = Store(dst)
    store_module._migrated.add(str(copy.db_path))
    return copy


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
    _KEPT.append(duckdb.connect(str(s.db_path)))
    try:
        yield s
    finally:
        _release_kept()


@pytest.fixture(scope="session")
def _template_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    s = Store(home)
    users.init_store(s, PEOPLE["admin"][0])
    admin = identity_for(s, PEOPLE["admin"][0])
    for email, roles in PEOPLE.values():
        for role in roles:
            users.grant_role(s, admin, email, role)
    return home


@pytest.fixture
def store(_template_home, tmp_path):
    """An empty migrated store with the PEOPLE granted their roles (kept open while the test runs)."""
    yield from _kept_open(_copy_home(_template_home, tmp_path / "home"))


@pytest.fixture(scope="session")
def _demo_home(tmp_path_factory, worker_id) -> Path:
    """The quick demo store, built once per test run: under xdist the first worker builds it (half a minute of
    training, explaining and replaying traffic) while the other waits on a lock instead of building the same
    store beside it on the same two cores. Each worker then reads its own copy, so no two processes ever open
    one database file."""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    shared = root.parent if worker_id != "master" else root  # pytest-N/, shared by this run's workers only
    built = shared / "demo-template"
    with open(shared / "demo-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / "ready").exists():
            shutil.rmtree(built, ignore_errors=True)
            demo.build(Store(built / "home"), quick=True)
            (built / "ready").touch()
    mine = tmp_path_factory.mktemp("demo") / "home"
    shutil.copytree(built / "home", mine)
    return mine


@pytest.fixture
def demo_store(_demo_home, tmp_path):
    """A copy of the quick demo store (real models on real data; kept open while the test runs)."""
    yield from _kept_open(_copy_home(_demo_home, tmp_path / "demo"))


@pytest.fixture(scope="session")
def _template_people(_template_home) -> dict[str, Identity]:
    """The PEOPLE as the template store knows them (read once: every `store` is a copy of the template)."""
    template = Store(_template_home)
    return {k: identity_for(template, email) for k, (email, _r) in PEOPLE.items()} | {"nobody": NOBODY}


@pytest.fixture
def people(store, _template_people) -> dict[str, Identity]:
    return dict(_template_people)


@pytest.fixture(scope="session")
def _demo_people(_demo_home) -> dict[str, Identity]:
    demo_home = Store(_demo_home)
    return {email.split("@")[0]: identity_for(demo_home, email) for email in demo.DEMO_USERS}


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
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/e2e as `e2e` (a `pytestmark` in a conftest marks nothing), so that
    `pytest -m "not e2e"` (make test-fast) really starts no browser."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if e2e in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
    # The longest tests first (browser journeys, the mutation fuzz), so that the two workers end together
    # instead of one finishing a minute-long journey alone at the end; the order within each group is kept.
    slow = {"test_model_validation_fuzz.py"}
    items.sort(key=lambda item: 0 if item.get_closest_marker("e2e") else 1 if Path(str(item.fspath)).name in slow
               else 2)


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
