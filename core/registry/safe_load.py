"""Loading model files without running code from them, and refusing what would crash the process.

Three layers, each covering what the one before cannot:

1. `audit`: before anything is built, every node of a skops file must name a
   (loader, type) pair on the reviewed list in `core/registry/trusted_types.py`. No
   module prefix is trusted and no function is ever loaded.
2. `validate`: after skops has built the objects and before anything calls
   them, the structures scikit-learn's compiled code indexes without bounds
   checks are checked: tree nodes, histogram-boosting predictors, KD and ball
   trees, libsvm supports, neighbour labels, k-means centres, sparse matrices,
   and every estimator's parameters against scikit-learn's own constraints.
3. `open_handed_in`: a file a person hands in is opened in a child process
   with memory and CPU limits, so that anything the first two layers miss
   crashes the child, not the CLI or the dashboard, and becomes a refusal.
   Unpickling (joblib/pickle) runs code and happens only there, only when the
   caller passes `allow_pickle=True` (the CLI does; nothing in a server does).

Artifacts in the store were written by ModelGov after all three layers
passed, and their SHA-256 is checked before they are read, so they are loaded
in-process (no child: it would cost about a second per load) but still go
through `audit` and `validate`, which cost milliseconds and keep a swapped
file and registry row from reaching compiled code unchecked.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from . import booster_files, boosters, load_server
from . import trusted_types as tt
from ..errors import CoreError, InvalidInput, NotFound
from .model_checks import _printable, _short, validate

MEMORY_MB_DEFAULT = 4096
CPU_SECONDS_DEFAULT = 120


# -- 1. audit: names only, nothing built ---------------------------------------------------------------


def _skops_protocol() -> int:
    from skops.io._protocol import PROTOCOL  # the only protocol whose node classes we reviewed

    return PROTOCOL


def _nodes(schema: Any):
    """Every dict in the schema that skops would build into a node (it needs a `__loader__`)."""
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _bit_generator(node: dict) -> str | None:
    try:
        name = json.loads(node["content"]["bit_generator"]["content"]["bit_generator"]["content"])
    except (KeyError, TypeError, ValueError):
        return None
    return name if isinstance(name, str) else None


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def audit(data: bytes, what: str) -> list[str]:
    """The type names in the skops bytes `data`, or InvalidInput naming what is not reviewed.

    Reads only `schema.json`: no import, no object is built.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            schema = json.loads(z.read("schema.json"))
    except KeyError:
        raise InvalidInput(f"{what} is a zip file without schema.json, so it is not a skops model file.") from None
    except (zipfile.BadZipFile, ValueError, RecursionError) as e:
        raise InvalidInput(f"{what} is not a readable skops file ({type(e).__name__}).") from None
    if not isinstance(schema, dict):
        raise InvalidInput(f"{what} is not a skops model file (its schema.json is not an object).")
    protocol = schema.get("protocol")
    if protocol != _skops_protocol():
        raise InvalidInput(f"{what} was saved with skops protocol {_short(repr(protocol), 20)}, and ModelGov reads "
                           f"only protocol {_skops_protocol()}; save it again with skops.io.dump using this skops "
                           "version.")
    functions: set[str] = set()
    unreviewed: set[tuple[str, str]] = set()  # (loader, type)
    loaders: set[str] = set()
    calls: set[str] = set()
    names: set[str] = set()
    reviewed_funcs: set[int] = set()  # the FunctionNode dicts that are the func of a reviewed partial
    by_id = _nodes_by_id(schema)
    for node in _nodes(schema):
        loader = node["__loader__"]
        # Names come from the file and end up in messages: printable and short, so they cannot forge lines.
        name = _printable(f"{node.get('__module__')}.{node.get('__class__')}")
        if not isinstance(loader, str):
            loaders.add(_printable(f"{loader!r} ({name})"))
        elif loader == "CachedNode":  # a reference to a node met earlier; skops refuses unknown ids
            continue
        elif loader == "PartialNode" and name == "functools.partial" and (func := _reviewed_partial(node, by_id)):
            names.update({name, func["name"]})
            reviewed_funcs.add(id(func["node"]))
        elif loader == "FunctionNode" and id(node) in reviewed_funcs:
            continue  # checked with its partial just above (parents come before their children)
        elif loader in tt.FUNCTION_LOADERS:
            content = node.get("content")
            if loader == "MethodNode" and isinstance(content, dict):
                name = _printable(f"{name}.{content.get('func')}")
            functions.add(name)
        elif loader == "ConstructorFromReduceNode":
            calls.add(name)
        elif loader not in tt.ALLOWED:
            loaders.add(_printable(f"{loader} ({name})"))
        elif name not in tt.ALLOWED[loader]:
            unreviewed.add((loader, name))
        else:
            names.add(name)
            if loader == "RandomGeneratorNode":
                bitgen = _printable(f"numpy.random.{_bit_generator(node)}")
                if bitgen not in tt.BIT_GENERATORS:
                    unreviewed.add(("bit generator", bitgen))
    if functions:
        shown = ", ".join(sorted(functions)[:3]) + (f" and {len(functions) - 3} more" if len(functions) > 3 else "")
        raise InvalidInput(
            f"{what} holds the function{'s' if len(functions) > 1 else ''} {shown}, and ModelGov loads only "
            "reviewed classes, never functions, from a model file (FunctionTransformer(func=…) and "
            "SelectKBest(score_func=…) keep one), so it was refused without being loaded.")
    if calls:
        raise InvalidInput(f"{what} asks skops to call {', '.join(sorted(calls)[:3])} with arguments taken from "
                           "the file, which ModelGov never does, so it was refused without being loaded.")
    if loaders:
        raise InvalidInput(f"{what} asks skops to rebuild objects with {', '.join(sorted(loaders)[:3])}, which "
                           "ModelGov does not accept, so it was refused without being loaded.")
    if unreviewed:
        raise InvalidInput(f"{what} contains {_describe_unreviewed(sorted(unreviewed))}; it was refused without "
                           "being loaded (the reviewed list is core/registry/trusted_types.py).")
    return sorted(names)


def _nodes_by_id(schema: Any) -> dict[Any, list[dict]]:
    """The nodes that carry an `__id__` (CachedNode references excluded), by that id."""
    found: dict[Any, list[dict]] = {}
    for node in _nodes(schema):
        if node.get("__loader__") != "CachedNode" and "__id__" in node:
            key = node["__id__"]
            if isinstance(key, (int, str)):
                found.setdefault(key, []).append(node)
    return found


def _resolved(item: Any, by_id: dict[Any, list[dict]]) -> Any:
    """`item`, or the one node a CachedNode `item` refers to (None when it is ambiguous or unknown)."""
    if isinstance(item, dict) and item.get("__loader__") == "CachedNode":
        targets = by_id.get(item.get("__id__"), []) if isinstance(item.get("__id__"), (int, str)) else []
        return targets[0] if len(targets) == 1 else None
    return item


def _reviewed_partial(node: dict, by_id: dict[Any, list[dict]]) -> dict[str, Any] | None:
    """{"name", "node"} of the partial's function when it is on REVIEWED_PARTIALS with no positional argument,
    only listed keywords and no `__dict__`; None otherwise (then the partial is refused as a function).

    skops writes a second reference to the same object (the empty tuple, the function) as a CachedNode: those
    are followed to the one node with that id; an id carried by two nodes is not followed."""
    content = node.get("content")
    if not isinstance(content, dict) or set(content) != {"func", "args", "kwds", "namespace"}:
        return None
    func, args, kwds, namespace = (_resolved(content[k], by_id) for k in ("func", "args", "kwds", "namespace"))
    if not (isinstance(func, dict) and func.get("__loader__") == "FunctionNode" and set(func) <= _FUNCTION_KEYS):
        return None
    name = f"{func.get('__module__')}.{func.get('__class__')}"
    allowed = tt.REVIEWED_PARTIALS.get(name)
    if allowed is None:
        return None
    if not (isinstance(args, dict) and args.get("__loader__") == "TupleNode" and args.get("content") == []):
        return None
    if not (isinstance(kwds, dict) and kwds.get("__loader__") == "DictNode" and isinstance(kwds.get("content"), dict)
            and set(kwds["content"]) <= allowed):
        return None
    # No `__dict__` (null), or an empty one (what skops writes for a partial it built itself).
    if not (isinstance(namespace, dict) and (
            (namespace.get("__loader__") == "JsonNode" and namespace.get("content") == "null")
            or (namespace.get("__loader__") == "DictNode" and namespace.get("content") == {}))):
        return None
    return {"name": name, "node": func}


_FUNCTION_KEYS = {"__class__", "__module__", "__loader__", "__id__"}


def _describe_unreviewed(found: list[tuple[str, str]]) -> str:
    # A booster library's class first: it explains the refusal better than the helpers found with it.
    found = sorted(found, key=lambda f: not f[1].startswith(("xgboost.", "lightgbm.")))
    loader, first = found[0]
    more = f" and {len(found) - 1} more type(s)" if len(found) > 1 else ""
    elsewhere = sorted(other for other, names in tt.ALLOWED.items() if first in names)
    if elsewhere:
        return (f"{first} as a {loader}{more}, which ModelGov accepts for that type only as "
                f"{' or '.join(('an ' if o[0] in 'AEIOU' else 'a ') + o for o in elsewhere)}")
    if first in tt.NOT_REVIEWED:
        why = f"which ModelGov does not load: {tt.NOT_REVIEWED[first]}"
    elif first.startswith(("xgboost.", "lightgbm.")):
        why = booster_files.UNREVIEWED
    elif first.startswith("sklearn."):
        why = (f"which is not on ModelGov's reviewed list for scikit-learn {_sklearn_version()} (a file saved "
               "with another scikit-learn version can name classes that moved)")
    else:
        why = "which is not a reviewed scikit-learn, numpy or scipy type"
    return f"{first}{more}, {why}"



# -- loading -------------------------------------------------------------------------------------------


def load_skops(data: bytes, what: str) -> Any:
    """The object in the skops bytes `data`, after `audit`, skops' own audit and `validate`."""
    import skops.io as sio

    names = audit(data, what)
    try:
        obj = sio.loads(data, trusted=names)
    except ModuleNotFoundError as e:
        raise InvalidInput(f"{what} needs the Python module {e.name!r}, which is not installed here.") from None
    except ImportError as e:
        raise InvalidInput(f"{what} needs something this installation cannot import ({_short(e)}).") from None
    except AttributeError as e:
        raise InvalidInput(f"{what} names a class this scikit-learn ({_sklearn_version()}) does not have "
                           f"({_short(e)}); save it again with this version.") from None
    except MemoryError:
        raise
    except Exception as e:  # skops and the classes it rebuilds raise many types for malformed state
        raise InvalidInput(f"{what} is not a readable skops model ({type(e).__name__}: {_short(e)}).") from None
    validate(obj, what)
    return obj


def ensure_estimator(obj: Any, what: str) -> None:
    """InvalidInput unless `obj` is a scikit-learn estimator (a file may hold a dict, an array, …)."""
    import numpy as np
    from sklearn.base import BaseEstimator

    if isinstance(obj, BaseEstimator):
        return
    if isinstance(obj, np.ndarray):
        kind = f"a numpy array of shape {obj.shape}"
    elif isinstance(obj, (dict, list, tuple, str, int, float)):
        kind = f"a {type(obj).__name__}"
    else:
        kind = f"an object of type {type(obj).__module__}.{type(obj).__qualname__}"
    raise InvalidInput(f"{what} holds {kind}, not a fitted scikit-learn estimator; save the estimator itself "
                       "with joblib.dump(model, path) or skops.io.dump(model, path).")


def _limits() -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        raw = os.environ.get(name, "")
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise InvalidInput(f"{name} must be a whole number, not {raw!r}.") from None
        if value <= 0:
            raise InvalidInput(f"{name} must be positive, not {value}.")
        return value

    return number("MODELGOV_LOAD_MEMORY_MB", MEMORY_MB_DEFAULT), number("MODELGOV_LOAD_CPU_SECONDS",
                                                                        CPU_SECONDS_DEFAULT)


def open_handed_in(path: Path, what: str, *, allow_pickle: bool) -> bytes:
    """Open the model file a person hands in, in a child process with limits; the estimator as skops bytes.

    A skops file is audited and validated there; a joblib/pickle file is
    unpickled there only with `allow_pickle` (unpickling runs the code it
    names). The caller must still `load_skops` the result: the child's output
    is not trusted either, since a pickle can make the child say anything.
    """
    memory_mb, cpu_s = _limits()
    with open(path, "rb") as f:
        is_zip = zipfile.is_zipfile(f)
    native = not is_zip and booster_files.native_library(Path(path)) is not None
    if native:
        booster_files.precheck(Path(path), what)  # pure Python: a malformed booster needs no child to be refused
    if not is_zip and not native and not allow_pickle:
        raise InvalidInput(
            f"{what} is not a skops file, and loading a joblib or pickle file runs the code inside it, so ModelGov "
            "does it only for the person registering it on the command line (modelgov register); save it with "
            "skops.io.dump(model, path) to hand it in here.")
    root = str(Path(__file__).resolve().parent.parent)
    env = load_server.loader_env(root, memory_mb, cpu_s)
    resolved, mode = Path(path).resolve(), "native" if native else "pickle" if allow_pickle else "skops"
    try:
        try:  # a child of the server that has imported the libraries once (load_server.py)
            code, stdout = load_server.run(resolved, what, mode, env=env, cwd=root, memory_mb=memory_mb,
                                           cpu_s=cpu_s, timeout=2 * cpu_s + 60)
        except load_server.Busy:  # another thread is loading a file: a process of its own, as before the server
            cmd = [sys.executable, "-m", "core.registry.safe_load", str(resolved), what, mode]
            done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=2 * cpu_s + 60, cwd=root)
            code, stdout = done.returncode, done.stdout
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"Loading {what} did not finish within {2 * cpu_s + 60} seconds, so it was refused "
                           "(raise MODELGOV_LOAD_CPU_SECONDS if the model is genuinely that large).") from None
    if code < 0:
        raise InvalidInput(load_server.crash_sentence(what, -code, memory_mb, cpu_s))
    header, _, body = stdout.partition(b"\n")
    try:
        reply = json.loads(header)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise InvalidInput(f"Loading {what} ended without an answer (exit status {code}), so it was "
                           "refused.")
    if not reply.get("ok"):
        error = {"NotFound": NotFound}.get(reply.get("error"), InvalidInput)
        raise error(str(reply.get("message") or f"{what} could not be loaded."))
    if len(body) != reply.get("size"):
        raise InvalidInput(f"Loading {what} returned a truncated answer, so it was refused.")
    return body


# -- the child process ---------------------------------------------------------------------------------


def _limit_resources(memory_mb: int, cpu_s: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    usage = resource.getrusage(resource.RUSAGE_SELF)  # RLIMIT_CPU counts from process start: add the imports
    spent = int(usage.ru_utime + usage.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_s, spent + cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2 ** 20, memory_mb * 2 ** 20))
    # Not a sandbox, but the unpickled code (and anything it starts) cannot write a byte to a file, such
    # as the store; the answer leaves through a pipe, which this limit does not cover.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def preload() -> None:
    """Import what the loaders need, before the limits (and once, in the server of `load_server.py`)."""
    import joblib  # noqa: F401
    import skops.io  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.pipeline  # noqa: F401

    booster_files.preload()  # the booster libraries too


def answer(path: Path, what: str, mode: str) -> bytes:
    """What the child says: one JSON line, then the estimator as skops (or booster) bytes when it loaded."""
    result = _child(path, what, mode)
    header, body = (result, b"") if isinstance(result, dict) else result
    return json.dumps(header).encode() + b"\n" + body


def _child(path: Path, what: str, mode: str) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
    import skops.io as sio

    preload()
    memory_mb, cpu_s = _limits()
    _limit_resources(memory_mb, cpu_s)
    try:
        data = path.read_bytes()
        if zipfile.is_zipfile(io.BytesIO(data)):
            from .artifacts import load_bytes

            obj = load_bytes(data, what)
        elif mode == "native":
            obj = booster_files.read_native(path, what)
        elif mode == "pickle":
            obj = _unpickle(path, what)
            if booster_files.is_bare_booster(obj):
                obj = booster_files.from_booster(obj, what)
        else:  # the parent checks this too; kept so the child never unpickles on its own
            raise InvalidInput(f"{what} is not a skops file.")
        ensure_estimator(obj, what)
        if boosters.library_of(obj):
            out = boosters.serialise(obj, what)  # checks the pipeline part and loads the whole back
            booster_files.smoke(boosters.load(out, what), what)
        else:
            validate(obj, what)
            out = sio.dumps(obj)
    except CoreError as e:
        return {"ok": False, "error": type(e).__name__, "message": str(e)}
    except MemoryError:
        return {"ok": False, "error": "InvalidInput",
                "message": f"Loading {what} needs more than {memory_mb} MB (MODELGOV_LOAD_MEMORY_MB), so it was "
                           "refused."}
    except Exception as e:  # skops cannot store what the pickle held, or an unforeseen failure: one sentence
        return {"ok": False, "error": "InvalidInput",
                "message": f"{what} cannot be stored safely ({type(e).__name__}: {_short(e)})."}
    return {"ok": True, "size": len(out)}, out


def _unpickle(path: Path, what: str) -> Any:
    import joblib

    try:
        return joblib.load(path)  # runs the code the file names: only here, only for the CLI's user
    except ModuleNotFoundError as e:
        raise InvalidInput(booster_files.missing_module(e.name, what) or f"{what} needs the Python module "
                           f"{e.name!r}, which is not installed here; ModelGov registers scikit-learn, XGBoost and "
                           "LightGBM models.") from None
    except AttributeError as e:
        raise InvalidInput(f"{what} names a class this installation does not have ({_short(e)}); it was probably "
                           f"saved with another version of the library (scikit-learn here is "
                           f"{_sklearn_version()}).") from None
    except MemoryError:
        raise
    except Exception as e:  # unpickling fails in many ways: say how, not how the person should have saved it
        raise InvalidInput(f"{path.name} is not a scikit-learn model file joblib can read ({type(e).__name__}: "
                           f"{_short(e)}).") from None


def _main(argv: list[str]) -> int:
    # Everything the loaded file might print goes to /dev/null; the answer goes to the original stdout.
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    out.write(answer(Path(argv[0]), argv[1], argv[2]))
    out.flush()
    os._exit(0)  # skip whatever exit handlers an unpickled file may have registered


if __name__ == "__main__":
    _main(sys.argv[1:])
