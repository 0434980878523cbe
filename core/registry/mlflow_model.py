"""MLflow model directories: read the `MLmodel` file safely, find the model file, keep the signature.

An MLflow model is a folder with an `MLmodel` YAML file naming its flavours and, per flavour, the file that
holds the model. ModelGov reads three flavours and hands their file to the same loader as any other model
file (`artifacts.read_model_file`): scikit-learn (skops, or pickle/cloudpickle, which load only in the child
process and only with `allow_pickle`, exactly like a joblib file), XGBoost (its native JSON/UBJSON file) and
LightGBM (a Booster's native text file; a scikit-learn-API model is stored like scikit-learn's). The folder
is data from somebody else: the YAML is read with `yaml.safe_load`, and every path it names must stay inside
the folder once `..` and symlinks are resolved. Nothing here imports MLflow.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from ..frozen import frozen_record

MLMODEL = "MLmodel"
MAX_MLMODEL_BYTES = 1_000_000  # real ones are about a kilobyte; a bigger one is not an MLmodel file
FLAVOURS = ("sklearn", "xgboost", "lightgbm")  # in the order they are preferred when a folder has several
PICKLE_FORMATS = ("pickle", "cloudpickle")
# The native file of a flavour, renamed to the suffix `read_model_file` recognises its format by.
_NATIVE_SUFFIX = {"ubj": ".ubj", "json": ".json", "lgb": ".txt"}


@frozen_record
class MlflowModelDir:
    """What the MLmodel file of a folder says, checked; the model itself is not loaded."""
    path: Path                 # the folder, resolved
    flavour: str               # sklearn, xgboost or lightgbm
    data_file: Path            # resolved, inside `path`
    serialization: str         # skops, pickle, cloudpickle, ubj, json or lgb
    signature: dict[str, Any] | None  # {"inputs": [...], "outputs": [...]}: MLflow's column specs
    run_id: str | None
    model_uuid: str | None
    mlflow_version: str | None

    @property
    def input_names(self) -> list[str] | None:
        """The signature's input column names; None without a column signature (none, or a tensor one)."""
        inputs = (self.signature or {}).get("inputs")
        if not inputs or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in inputs):
            return None
        return [c["name"] for c in inputs]


def is_mlflow_dir(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and os.path.lexists(p / MLMODEL)


def not_a_model_folder(p: Path) -> InvalidInput:
    return InvalidInput(f"{p} is a folder without an {MLMODEL} file, so it is neither a model file nor an MLflow "
                        "model; name a skops or joblib file, or an MLflow model folder (the one holding MLmodel).")


def _inside(root: Path, rel: Any, what: str, key: str) -> Path:
    if not isinstance(rel, str) or not rel.strip():
        raise InvalidInput(f"{what}: its {MLMODEL} file has no file name under {key}, so there is no model to read.")
    target = (root / rel).resolve()
    if Path(rel).is_absolute() or not target.is_relative_to(root):
        raise InvalidInput(f"{what}: its {MLMODEL} file points {key} outside the folder ({_short(rel)}), through "
                           "'..', an absolute path or a symlink; ModelGov reads only files inside the model folder.")
    if not target.is_file():
        raise InvalidInput(f"{what}: the model file {_short(rel)} its {MLMODEL} file names ({key}) is missing.")
    return target


def _short(value: Any, n: int = 80) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= n else text[: n - 1] + "…"


def _load_yaml(file: Path, what: str) -> dict[str, Any]:
    import yaml

    if file.stat().st_size > MAX_MLMODEL_BYTES:
        raise InvalidInput(f"{what}: its {MLMODEL} file is larger than {MAX_MLMODEL_BYTES // 1000} kB, so it is not "
                           "an MLflow MLmodel file.")
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{what}: its {MLMODEL} file is not UTF-8 text.") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise InvalidInput(f"{what}: its {MLMODEL} file is not valid YAML{at}, or uses YAML tags a plain file "
                           "does not need.") from None
    except RecursionError:
        raise InvalidInput(f"{what}: its {MLMODEL} file nests too deeply to be an MLflow MLmodel file.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise InvalidInput(f"{what}: its {MLMODEL} file has no 'flavors' section, so it is not an MLflow model.")
    return doc


def _signature(doc: dict[str, Any], what: str) -> dict[str, Any] | None:
    sig = doc.get("signature")
    if sig is None:
        return None
    if not isinstance(sig, dict):
        raise InvalidInput(f"{what}: the signature in its {MLMODEL} file is not a mapping of inputs and outputs.")
    out: dict[str, Any] = {}
    for part in ("inputs", "outputs"):
        text = sig.get(part)
        if text is None:
            continue
        if not isinstance(text, str) or len(text) > MAX_MLMODEL_BYTES:
            raise InvalidInput(f"{what}: the signature's {part} in its {MLMODEL} file is not MLflow's JSON text.")
        try:
            specs = json.loads(text)
        except (ValueError, RecursionError):
            raise InvalidInput(f"{what}: the signature's {part} in its {MLMODEL} file is not valid JSON.") from None
        if not isinstance(specs, list) or not all(isinstance(c, dict) for c in specs):
            raise InvalidInput(f"{what}: the signature's {part} in its {MLMODEL} file is not a list of columns.")
        out[part] = specs
    return out or None


def _optional_text(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return _short(value, 200) if isinstance(value, (str, int, float)) and str(value) else None


def read_mlmodel(path: str | Path) -> MlflowModelDir:
    """Read and check the MLmodel file of the folder `path`; InvalidInput with one sentence for each fault."""
    given = Path(path)
    if not given.is_dir():
        raise NotFound(f"Model folder {given} does not exist.")
    root = given.resolve()
    what = f"MLflow model {given.name or given}"
    if not os.path.lexists(given / MLMODEL):
        raise not_a_model_folder(given)
    mlmodel = _inside(root, MLMODEL, what, MLMODEL)
    doc = _load_yaml(mlmodel, what)
    flavours = doc["flavors"]
    name = next((f for f in FLAVOURS if f in flavours), None)
    if name is None:
        shown = ", ".join(sorted(_short(f, 40) for f in flavours)[:6]) or "none"
        raise InvalidInput(f"{what} has the flavour(s) {shown}; ModelGov reads MLflow models of the sklearn, "
                           "xgboost and lightgbm flavours.")
    conf = flavours[name]
    if not isinstance(conf, dict):
        raise InvalidInput(f"{what}: the {name} flavour in its {MLMODEL} file is not a mapping.")
    if name == "sklearn":
        key = "pickled_model"
        fmt = conf.get("serialization_format") or "cloudpickle"  # MLflow before 1.x wrote no format: pickled
    elif name == "xgboost":
        key = "data"
        fmt = conf.get("model_format") or Path(str(conf.get("data", ""))).suffix.lstrip(".")
    else:
        key = "data"
        booster = conf.get("model_class") == "lightgbm.basic.Booster" or str(conf.get("data", "")).endswith(".lgb")
        fmt = "lgb" if booster else (conf.get("serialization_format") or "cloudpickle")
    fmt = _short(fmt, 40)
    readable = ("ubj", "json") if name == "xgboost" else ("lgb",) if fmt == "lgb" else ("skops",) + PICKLE_FORMATS
    if fmt not in readable:
        raise InvalidInput(f"{what} stores its {name} model as {fmt!r}, which ModelGov does not read; log it again "
                           + ("with model_format='ubj' or 'json'." if name == "xgboost" else
                              "with serialization_format='skops' (or pickle/cloudpickle)."))
    data_file = _inside(root, conf.get(key), what, f"{name}.{key}")
    return MlflowModelDir(root, name, data_file, fmt, _signature(doc, what), _optional_text(doc, "run_id"),
                          _optional_text(doc, "model_uuid"), _optional_text(doc, "mlflow_version"))


def read_model(path: str | Path, *, allow_pickle: bool = False) -> tuple[Any, MlflowModelDir | None]:
    """The estimator in a model file or an MLflow model folder, and what the folder's MLmodel says (else None).

    The file goes through `artifacts.read_model_file` (child process, reviewed types, structure checks); a
    pickle/cloudpickle file of an MLflow model is unpickled there only with `allow_pickle`, like a joblib file.
    """
    from . import artifacts

    p = Path(path)
    if not p.is_dir():
        return artifacts.read_model_file(p, allow_pickle=allow_pickle), None
    info = read_mlmodel(p)
    if info.serialization in PICKLE_FORMATS and not allow_pickle:
        raise InvalidInput(
            f"MLflow model {p.name} holds a {info.serialization} file, and loading it runs the code inside it, so "
            "ModelGov does it only for the person registering their own folder on the command line (modelgov "
            "register NAME --model FOLDER); log the model with serialization_format='skops' (MLflow's default) to "
            "import it.")
    if info.serialization not in _NATIVE_SUFFIX:
        return artifacts.read_model_file(info.data_file, allow_pickle=allow_pickle), info
    # A native XGBoost/LightGBM file is recognised by its suffix, which MLflow does not use for LightGBM (.lgb):
    # hand the loader a copy under the suffix of its format.
    with tempfile.TemporaryDirectory(prefix="modelgov-mlflow-") as tmp:
        copy = Path(tmp) / f"model{_NATIVE_SUFFIX[info.serialization]}"
        shutil.copyfile(info.data_file, copy)
        return artifacts.read_model_file(copy, allow_pickle=False), info


def check_signature(info: MlflowModelDir, features: list[str]) -> None:
    """Refuse a model whose MLflow signature names other input columns than the model reads."""
    names = info.input_names
    if names is None:
        return
    missing = [n for n in features if n not in names]
    extra = [n for n in names if n not in features]
    if missing or extra:
        parts = ([f"lacks {', '.join(map(_short, missing[:5]))}"] if missing else []) + (
            [f"has {', '.join(map(_short, extra[:5]))} besides"] if extra else [])
        raise InvalidInput(f"The MLflow signature of {info.path.name} does not match the model's input columns: it "
                           f"{' and '.join(parts)}; log the model again with a signature inferred from its "
                           "training columns.")
