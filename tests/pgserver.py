"""A throwaway PostgreSQL for the tests: `MODELGOV_TEST_DATABASE_URL` when set, else a cluster of Debian's binaries
started in a temporary folder on a free local port (as an unprivileged user when run as root: initdb refuses root).

`server()` returns a `Server` (its admin URL) or None with the reason in `why_not`; the cluster is stopped when the
process exits. `MODELGOV_REQUIRE_POSTGRES=1` (set by .ci/run) turns "no server" into a failure in the fixtures.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

why_not = ""


@dataclass
class Server:
    url: str  # a superuser URL to the maintenance database `postgres`

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name)
                  if Path(d).parent.name.isdigit() else 0)
    for d in reversed(dirs):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner() -> list[str]:
    """How to run the cluster's commands: as ourselves, or (as root) as `nobody` through runuser."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser, and initdb refuses root")
    return [runuser, "-u", "nobody", "--"]


_started: Server | None = None


def server() -> Server | None:
    """The test server, started on first call (once per process)."""
    global _started, why_not
    if _started is not None:
        return _started
    url = os.environ.get("MODELGOV_TEST_DATABASE_URL")
    if url:
        _started = Server(url)
        return _started
    try:
        import psycopg  # noqa: F401
    except ImportError:
        why_not = "psycopg is not installed (pip install 'modelgov[postgres]')"
        return None
    bins = _bin_dir()
    if bins is None:
        why_not = ("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; "
                   "apt-get install postgresql, or set MODELGOV_TEST_DATABASE_URL")
        return None
    try:
        _started = _start(bins)
    except Exception as e:  # any failure to start is a reason to skip, said in one line
        why_not = f"could not start a throwaway PostgreSQL from {bins}: {str(e).strip().splitlines()[-1:]}"
        return None
    return _started


def _sweep(bins: Path, run: list[str]) -> None:
    """Stop clusters left by test processes that were killed before their exit handler ran."""
    for root in Path(tempfile.gettempdir()).glob("modelgov-pg-*"):
        try:
            owner = int((root / "owner").read_text())
        except (OSError, ValueError):  # being made by another process right now, unless it is old
            try:
                if time.time() - root.stat().st_mtime < 300:
                    continue
            except OSError:  # gone meanwhile
                continue
            owner = 0
        try:
            if owner:
                os.kill(owner, 0)
                continue  # its test process still runs
        except OSError:
            pass
        subprocess.run([*run, str(bins / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _start(bins: Path) -> Server:
    run = _runner()
    _sweep(bins, run)
    root = Path(tempfile.mkdtemp(prefix="modelgov-pg-"))
    (root / "owner").write_text(str(os.getpid()))
    if run:
        os.chown(root, pwd.getpwnam("nobody").pw_uid, -1)
    data = root / "data"
    subprocess.run([*run, str(bins / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True, text=True)
    port = _free_port()
    # Durability off: a test cluster never survives a crash, and fsync on every commit would dominate the timings.
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB")
    subprocess.run([*run, str(bins / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w",
                    "-t", "60", "start"], check=True, capture_output=True, text=True)

    def stop() -> None:
        subprocess.run([*run, str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    import psycopg

    while True:
        try:
            psycopg.connect(url, connect_timeout=5).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return Server(url)


def admin_execute(srv: Server, *statements: str) -> None:
    import psycopg

    with psycopg.connect(srv.url, autocommit=True) as con:
        for sql in statements:
            con.execute(sql)
