"""XGBoost and LightGBM models stored without pickle: the booster in its library's own format, the rest in skops.

A gradient-boosted model from XGBoost or LightGBM is two things: a booster (trees the library's C++ code
walks) and a scikit-learn wrapper (`XGBClassifier`, `LGBMRegressor`, …) that holds hyper-parameters and a
few fitted facts (classes, feature names), possibly as the last step of a scikit-learn `Pipeline`.
skops cannot store the booster without naming library internals, and pickle runs code. So ModelGov stores
such a model as a deterministic zip of:

- `manifest.json`: library, wrapper class (from a fixed list), the wrapper's parameters and fitted facts
  as plain JSON values, and the names of the other members;
- `booster.json` (XGBoost's JSON model) or `booster.txt` (LightGBM's model text): data, parsed by the
  library's own loader after the structural checks in `core/registry/booster_checks.py`;
- `pipeline.skops` when the booster is the last step of a Pipeline: that Pipeline with the last step
  `"passthrough"`, written and read like every other skops artifact (reviewed list, structural checks).

Loading rebuilds the wrapper with its constructor and the native loader; nothing is unpickled. The same
fitted model gives the same bytes, so the duplicate check works unchanged.

A native booster file (`.json`/`.ubj` from XGBoost, `.txt` from LightGBM) becomes the library's own
scikit-learn wrapper, classifier or regressor by its objective (`core/registry/booster_files.py`).
"""

from __future__ import annotations

import copy
import io
import json
import math
import zipfile
from typing import Any

from ..errors import InvalidInput
from . import booster_checks
from .artifacts import zip_members

FORMAT = "modelgov-booster"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

CLASSES = {
    "xgboost": {"XGBClassifier": "classifier", "XGBRegressor": "regressor"},
    "lightgbm": {"LGBMClassifier": "classifier", "LGBMRegressor": "regressor"},
}
BOOSTER_MEMBER = {"xgboost": "booster.json", "lightgbm": "booster.txt"}
NATIVE_SUFFIXES = {".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm"}

# What a native booster's objective makes it. Anything else (ranking, survival, hinge, raw margins,
# multi:softmax without probabilities, custom objectives) is refused with one sentence.
XGB_CLASSIFY = {"binary:logistic", "multi:softprob"}
XGB_REGRESS = {"reg:squarederror", "reg:squaredlogerror", "reg:absoluteerror", "reg:pseudohubererror",
               "reg:gamma", "reg:tweedie", "count:poisson"}
LGBM_CLASSIFY = {"binary", "multiclass", "multiclassova"}
LGBM_REGRESS = {"regression", "regression_l1", "huber", "fair", "poisson", "quantile", "mape", "gamma", "tweedie"}
SUPPORTED = "binary and multiclass classification and regression"


def install_hint(library: str) -> str:
    return f"pip install 'modelgov[{library}]'"


def _import(library: str, what: str) -> Any:
    try:
        if library == "xgboost":
            import xgboost as lib
        else:
            import lightgbm as lib
    except ImportError:
        raise InvalidInput(f"{what} is a {'XGBoost' if library == 'xgboost' else 'LightGBM'} model and the "
                           f"{library} package is not installed here; install it with {install_hint(library)}."
                           ) from None
    except OSError as e:  # installed, but its compiled library cannot load (LightGBM needs the OpenMP runtime)
        raise InvalidInput(f"{what} is a {'XGBoost' if library == 'xgboost' else 'LightGBM'} model and the "
                           f"{library} package is installed but cannot load ({e}); install the OpenMP runtime "
                           "(Debian/Ubuntu: apt install libgomp1; macOS: brew install libomp).") from None
    return lib


def library_of(obj: Any) -> str | None:
    """'xgboost' or 'lightgbm' when `obj` (or the last step of the Pipeline `obj`) is one of their models."""
    final = _final(obj)
    module = type(final).__module__.split(".")[0]
    return module if module in CLASSES else None


def _final(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    if isinstance(steps, list) and steps and type(obj).__name__ == "Pipeline":
        last = steps[-1]
        return last[1] if isinstance(last, tuple) and len(last) == 2 else obj
    return obj


def is_booster_artifact(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return MANIFEST in z.namelist()
    except zipfile.BadZipFile:
        return False


# -- parameters as plain JSON --------------------------------------------------------------------------


def _encode(value: Any, where: str) -> Any:
    import numpy as np

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, where) for k, v in value.items()}
    raise InvalidInput(f"The model's parameter {where} holds a {type(value).__name__}, and ModelGov stores only "
                       "plain values (numbers, text, lists) beside a booster; a custom objective, metric or "
                       "callback cannot be stored safely, so remove it (set it to None) before saving.")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"float"} and value["float"] in ("nan", "inf", "-inf"):
            return float(value["float"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def _params(est: Any) -> dict[str, Any]:
    return {k: _encode(v, k) for k, v in sorted(est.get_params(deep=False).items())}


# -- write -----------------------------------------------------------------------------------------------


def _booster_bytes(library: str, est: Any) -> bytes:
    if library == "xgboost":
        return bytes(est.get_booster().save_raw("json"))
    return est.booster_.model_to_string().encode()


def _state(library: str, est: Any) -> dict[str, Any]:
    """The fitted facts a LightGBM wrapper keeps beside its booster (XGBoost keeps them in the booster)."""
    if library == "xgboost":
        return {}
    state: dict[str, Any] = {
        "objective": est._objective if isinstance(est._objective, str) else None,
        "fitted_with_feature_names": bool(est._fitted_with_feature_names),
        "best_iteration": int(est._best_iteration),
        "best_score": _encode(est._best_score, "best_score"),
    }
    if state["objective"] is None:
        raise InvalidInput("The LightGBM model uses a custom objective function, which ModelGov cannot store "
                           "safely; train it with a built-in objective.")
    if hasattr(est, "_classes") and est._classes is not None:
        state["classes"] = [_encode(c.item() if hasattr(c, "item") else c, "classes_") for c in est._classes]
    return state


def serialise(model: Any, what: str = "The model") -> bytes:
    """The deterministic zip of an XGBoost/LightGBM model, alone or as the last step of a Pipeline."""
    from . import artifacts

    library = library_of(model)
    final = _final(model)
    kind = type(final).__name__
    if library is None or kind not in CLASSES[library]:
        raise InvalidInput(f"{what} holds a {type(final).__module__}.{kind}; ModelGov stores the XGBoost and "
                           "LightGBM scikit-learn wrappers (XGBClassifier, XGBRegressor, LGBMClassifier, "
                           "LGBMRegressor) and native boosters.")
    try:
        fitted = bool(final.__sklearn_is_fitted__())
    except Exception:  # a wrapper unpickled without its state cannot even answer
        fitted = False
    if not fitted:
        raise InvalidInput(f"{what} holds an unfitted {kind} (or lost its state when it was saved); fit it "
                           "before registering.")
    members: dict[str, bytes] = {}
    manifest: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "library": library,
                                "estimator": kind, "params": _params(final), "state": _state(library, final),
                                "booster": BOOSTER_MEMBER[library], "pipeline": None, "step": None}
    if final is not model:
        rest = copy.copy(model)  # shallow: the steps list is replaced, the fitted steps are shared
        name = model.steps[-1][0]
        rest.steps = [*model.steps[:-1], (name, "passthrough")]  # strings are never shared in the skops schema
        members["pipeline.skops"] = artifacts.serialise(rest)
        manifest.update(pipeline="pipeline.skops", step=name)
    try:
        members[BOOSTER_MEMBER[library]] = _booster_bytes(library, final)
    except Exception as e:  # the library's own writer: an unfitted or broken booster
        raise InvalidInput(f"{what}'s booster cannot be written in {library}'s own format "
                           f"({type(e).__name__}).") from None
    members[MANIFEST] = json.dumps(manifest, sort_keys=True, indent=1).encode()
    data = zip_members(members)
    load(data, what)  # what cannot be loaded back must not be stored
    return data


# -- load ------------------------------------------------------------------------------------------------


MAX_MEMBER_BYTES = 2 ** 30  # as declared in the zip, which zipfile does not read past


def load(data: bytes, what: str) -> Any:
    """Rebuild the model in `data` (written by `serialise`): skops for the pipeline, native loader for the booster."""
    from . import safe_load

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if any(z.getinfo(n).file_size > MAX_MEMBER_BYTES for n in names):
                raise InvalidInput(f"{what} has a member over 1 GiB, so it was refused.")
            manifest = json.loads(z.read(MANIFEST))
            if not isinstance(manifest, dict):
                raise InvalidInput(f"{what} is not a ModelGov booster file (its manifest is not an object).")
            library, kind = manifest.get("library"), manifest.get("estimator")
            if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
                raise InvalidInput(f"{what} is not a ModelGov booster file of format version {FORMAT_VERSION}.")
            if library not in CLASSES or kind not in CLASSES.get(library, {}):
                raise InvalidInput(f"{what} names a model class ModelGov does not rebuild.")
            expected = {MANIFEST, BOOSTER_MEMBER[library]} | ({"pipeline.skops"} if manifest.get("pipeline") else set())
            if names != expected or manifest.get("booster") != BOOSTER_MEMBER[library] or \
                    manifest.get("pipeline") not in (None, "pipeline.skops"):
                raise InvalidInput(f"{what} does not hold exactly the members a ModelGov booster file has.")
            booster = z.read(BOOSTER_MEMBER[library])
            pipeline = z.read("pipeline.skops") if manifest.get("pipeline") else None
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError) as e:
        raise InvalidInput(f"{what} is not a readable ModelGov booster file ({type(e).__name__}).") from None
    lib = _import(library, what)
    params, state = manifest.get("params"), manifest.get("state")
    if not isinstance(params, dict) or not isinstance(state, dict):
        raise InvalidInput(f"{what} has a malformed manifest (parameters or state are not objects).")
    try:
        est = _rebuild(lib, library, kind, booster, _decode(params), _decode(state), what)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as e:
        raise InvalidInput(f"{what} has a malformed manifest or booster ({type(e).__name__}: "
                           f"{booster_checks.short(e, 80)}); it was refused.") from None
    if pipeline is None:
        return est
    pipe = safe_load.load_skops(pipeline, f"{what} (its pipeline)")
    step = manifest.get("step")
    if not (type(pipe).__name__ == "Pipeline" and pipe.steps and pipe.steps[-1] == (step, "passthrough")):
        raise InvalidInput(f"{what}'s pipeline does not end in the place its booster goes.")
    pipe.steps[-1] = (step, est)
    return pipe


# LightGBM passes a wrapper's extra parameters to its C++ config at prediction; these name files or tasks
# (LightGBM's IO parameters and their aliases), which a model file has no business setting.
_LGBM_IO_WORDS = ("file", "filename", "filenames")
_LGBM_IO_PREFIXES = ("output", "input", "save", "convert", "init_score", "forced", "valid", "train_data", "test",
                     "data_file", "config", "task", "model_", "predict_name", "prediction_", "pred_name",
                     "name_pred", "in_model", "out_model", "is_save")
_LGBM_IO_NAMES = {"data", "train"}


def _io_parameters(params: dict) -> list[str]:
    return sorted(k for k in params if k.lower() in _LGBM_IO_NAMES or k.lower().endswith(_LGBM_IO_WORDS)
                  or k.lower().startswith(_LGBM_IO_PREFIXES))


def _rebuild(lib: Any, library: str, kind: str, booster: bytes, params: dict, state: dict, what: str) -> Any:
    cls = getattr(lib, kind)
    io_params = _io_parameters(params) if library == "lightgbm" else []
    if io_params:
        raise InvalidInput(f"{what} sets LightGBM parameter(s) {booster_checks.short(', '.join(io_params[:5]), 80)} "
                           "that name files or tasks, which a stored model may not set; remove them before saving.")
    try:
        est = cls(**params)
    except Exception as e:  # the constructor refuses a parameter
        raise InvalidInput(f"{what} has parameters {kind} refuses ({type(e).__name__}).") from None
    if library == "xgboost":
        model = booster_checks.check_xgboost(booster, what)
        _check_objective("xgboost", model["learner"]["objective"]["name"], kind, what)
        try:
            est.load_model(bytearray(booster))
        except Exception as e:  # XGBoost's own parser refuses the file
            raise InvalidInput(f"{what}'s booster is not a model XGBoost can read ({type(e).__name__}).") from None
        est.set_params(**params)  # load_model rewrites some parameters from the booster: keep the stored ones
        return est
    text = booster.decode("utf-8", errors="strict")
    header = booster_checks.check_lightgbm(text, what)
    objective = state.get("objective") or header["objective"]
    _check_objective("lightgbm", objective, kind, what)
    try:
        b = lib.Booster(model_str=text)
    except Exception as e:  # LightGBM's own parser refuses the text
        raise InvalidInput(f"{what}'s booster is not a model LightGBM can read ({type(e).__name__}).") from None
    est._Booster = b
    est._n_features = est._n_features_in = b.num_feature()
    est._fitted_with_feature_names = bool(state.get("fitted_with_feature_names"))
    est._objective = objective
    est._best_iteration = int(state.get("best_iteration", -1))
    est._best_score = state.get("best_score") or {}
    est._evals_result = {}
    if kind == "LGBMClassifier":
        import numpy as np
        from lightgbm.sklearn import _LGBMLabelEncoder

        classes = state.get("classes")
        n = header["num_class"] if header["num_class"] > 1 else 2
        if not (isinstance(classes, list) and len(classes) == n and len(set(map(repr, classes))) == n
                and all(isinstance(c, (bool, int, float, str)) for c in classes)):
            raise InvalidInput(f"{what} lists classes that do not match its booster's {n} outputs.")
        est._le = _LGBMLabelEncoder().fit(np.asarray(classes))
        est._classes = est._le.classes_
        est._n_classes = len(est._classes)
        est._class_map = dict(zip(est._le.classes_, est._le.transform(est._le.classes_)))
        if est.class_weight is not None and not isinstance(est.class_weight, str):
            est._class_weight = {est._class_map.get(k, k): v for k, v in est.class_weight.items()}
        else:
            est._class_weight = est.class_weight
    est.fitted_ = True
    return est


def _check_objective(library: str, objective: str, kind: str, what: str) -> str:
    base = str(objective).split()[0] if objective else ""
    classify, regress = (XGB_CLASSIFY, XGB_REGRESS) if library == "xgboost" else (LGBM_CLASSIFY, LGBM_REGRESS)
    if base in classify:
        role = "classifier"
    elif base in regress:
        role = "regressor"
    else:
        raise InvalidInput(f"{what} has the {library} objective {booster_checks.short(base, 40)!r}; ModelGov "
                           f"supports {SUPPORTED} ({', '.join(sorted(classify | regress))}), not ranking, "
                           "survival or custom objectives.")
    if CLASSES[library][kind] != role:
        raise InvalidInput(f"{what} is a {kind} but its objective {base!r} makes it a {role}.")
    return role


# -- explanations ------------------------------------------------------------------------------------------


def raw_output(final: Any, X: Any) -> Any:
    """A booster's own raw output (XGBoost margin, LightGBM raw score): what TreeExplainer's values add up to."""
    import numpy as np

    if library_of(final) == "xgboost":
        return np.asarray(final.predict(X, output_margin=True), dtype=float)
    return np.asarray(final.predict(X, raw_score=True), dtype=float)
