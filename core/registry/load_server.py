"""The process that opens handed-in model files, started once per process that hands files in.

`safe_load.open_handed_in` opens every model file a person hands in in a child process with memory and CPU
limits. A fresh Python for each file spent one to two seconds importing scikit-learn, skops, joblib and the
booster libraries before it read a byte of the file: most of a registration, and most of the time of the tests
that hand files in. This server imports them once and then forks one child per file; the child is a copy of a
process that has never loaded a handed-in file, applies the limits, answers, and exits. The server itself runs
nothing from a file.

The child can reach nothing but its own answer pipe: its standard streams go to /dev/null and every other
descriptor it inherited is closed before it reads the file, so a file cannot write into the server's channel to
the caller and forge the answer for the next file. The caller still checks every answer as untrusted
(`safe_load.open_handed_in`). A request that outlives its time limit kills the server and all it started; the
next request starts a new one. One request at a time: a second thread asking meanwhile gets a process of its own,
as every request did before.

Protocol: the caller writes one JSON line {"path", "what", "mode", "memory_mb", "cpu_s"}; the server answers with
one JSON line {"code", "size"} (`code` as `subprocess` reports it: negative for the signal that ended the child)
followed by `size` bytes, the child's own output.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_LIMIT_VARS = ("MODELGOV_LOAD_MEMORY_MB", "MODELGOV_LOAD_CPU_SECONDS")
_lock = threading.Lock()
_server: dict = {}  # "proc" and the "env" it was started with


# What the process that opens a handed-in file may see of ours: what Python and the libraries need to run, and
# nothing else. It unpickles files nobody has reviewed, so it must not inherit the store's URL and its password,
# tokens, the sign-in client's secret or the SMTP password that the calling process may hold in its environment.
# A stable environment also lets one model-loading server (load_server.py) serve every call of a process.
_LOADER_PASSES = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "LD_LIBRARY_PATH",
                  "VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "SYSTEMROOT")


def loader_env(root: str, memory_mb: int, cpu_s: int) -> dict[str, str]:
    """The environment of the process that opens handed-in files (see _LOADER_PASSES)."""
    env = {k: os.environ[k] for k in _LOADER_PASSES if k in os.environ}
    return env | {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
                  "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "PYTHONWARNINGS": "ignore", "MODELGOV_LOAD_MEMORY_MB": str(memory_mb),
                  "MODELGOV_LOAD_CPU_SECONDS": str(cpu_s)}


class Busy(Exception):
    """Another thread of this process is using the server."""


def run(path: Path, what: str, mode: str, *, env: dict[str, str], cwd: str, memory_mb: int, cpu_s: int,
        timeout: float) -> tuple[int, bytes]:
    """(exit code, output) of one child of the server; raises Busy, or subprocess.TimeoutExpired after
    `timeout` seconds (having killed the server and its children)."""
    if not _lock.acquire(blocking=False):
        raise Busy()
    try:
        proc = _running(env, cwd)
        request = {"path": str(path), "what": what, "mode": mode, "memory_mb": memory_mb, "cpu_s": cpu_s}
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            return _reply(proc, time.monotonic() + timeout)
        except subprocess.TimeoutExpired:
            _stop()
            raise
        except (OSError, ValueError):  # the server died (a child may kill it): no answer; a new one next time
            _stop()
            return 1, b""
    finally:
        _lock.release()


def _running(env: dict[str, str], cwd: str) -> subprocess.Popen:
    key = {k: v for k, v in env.items() if k not in _LIMIT_VARS}
    proc = _server.get("proc")
    if proc is not None and (proc.poll() is not None or _server.get("env") != (key, cwd)):
        _stop()
        proc = None
    if proc is None:
        proc = subprocess.Popen([sys.executable, "-m", "core.registry.load_server"], env=env, cwd=cwd,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # its own process group: a timeout kills all of it
        _server.update(proc=proc, env=(key, cwd))
    return proc


def crash_sentence(what: str, signum: int, memory_mb: int, cpu_s: int) -> str:
    """The refusal for a child ended by `signum`."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    cause = {
        "SIGSEGV": "a segmentation fault, the mark of indices that point outside the model's own arrays",
        "SIGBUS": "a bus error, the mark of indices that point outside the model's own arrays",
        "SIGXCPU": f"it used more than {cpu_s} seconds of CPU (MODELGOV_LOAD_CPU_SECONDS)",
        "SIGKILL": f"it was killed, most likely for using more than {memory_mb} MB (MODELGOV_LOAD_MEMORY_MB)",
        "SIGABRT": "an abort inside compiled code",
    }.get(name, name)
    return (f"Loading {what} crashed the separate process that checks model files ({name}: {cause}); the file is "
            "damaged or crafted, so it was refused and nothing was registered.")


def _stop() -> None:
    proc = _server.pop("proc", None)
    _server.pop("env", None)
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass


def _reply(proc: subprocess.Popen, deadline: float) -> tuple[int, bytes]:
    fd = proc.stdout.fileno()
    buf = bytearray()
    header: dict | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            if header is None and b"\n" in buf:
                line, _, rest = bytes(buf).partition(b"\n")
                header, buf = json.loads(line), bytearray(rest)
                if not isinstance(header, dict) or not isinstance(header.get("size"), int):
                    raise ValueError("bad header")
            if header is not None and len(buf) >= header["size"]:
                return int(header["code"]), bytes(buf[:header["size"]])
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise subprocess.TimeoutExpired("load_server", 0)
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise OSError("the model-loading server ended")
            buf += chunk


# -- the server ------------------------------------------------------------------------------------------


def _serve() -> None:
    from . import booster_files, safe_load  # noqa: F401  (and with it numpy, skops, the checks)

    safe_load.preload()
    channel = os.fdopen(os.dup(1), "wb")  # answers; stdout itself goes to /dev/null
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            path, what, mode = Path(req["path"]), str(req["what"]), str(req["mode"])
            limits = {"MODELGOV_LOAD_MEMORY_MB": str(int(req["memory_mb"])),
                      "MODELGOV_LOAD_CPU_SECONDS": str(int(req["cpu_s"]))}
        except (ValueError, KeyError, TypeError):
            return  # only our own caller writes here
        code, out = _fork_child(path, what, mode, limits, devnull)
        channel.write(json.dumps({"code": code, "size": len(out)}).encode() + b"\n" + out)
        channel.flush()


def _fork_child(path: Path, what: str, mode: str, limits: dict[str, str], devnull: int) -> tuple[int, bytes]:
    from . import safe_load

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing but its answer pipe, then the same work as a one-off process
        try:
            os.dup2(w, 3)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(4, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)
            os.environ.update(limits)
            answer = os.fdopen(3, "wb")
            answer.write(safe_load.answer(path, what, mode))
            answer.flush()
        finally:
            os._exit(0)  # skip whatever exit handlers an unpickled file may have registered
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as pipe:
        while chunk := pipe.read(1 << 20):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


if __name__ == "__main__":
    _serve()
