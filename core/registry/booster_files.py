"""Native XGBoost and LightGBM booster files a person hands in, and bare boosters from joblib files.

A native file (`.json`/`.ubj` from XGBoost, `.txt` from LightGBM) is data: it becomes the library's own
scikit-learn wrapper, classifier or regressor by its objective, and is then stored like any other booster
model (`core/registry/boosters.py`). JSON and text are checked in Python first (`precheck`, safe in the
parent); parsing by the library happens in the child process of `core/registry/safe_load.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from . import booster_checks
from .boosters import (CLASSES, LGBM_CLASSIFY, NATIVE_SUFFIXES, XGB_CLASSIFY, _check_objective, _final, _import,
                       _rebuild)



def native_library(path: Path) -> str | None:
    """The library whose native model file `path` is, by suffix and first bytes; None for anything else
    (which then gets the message for a file that is not a skops file)."""
    library = NATIVE_SUFFIXES.get(path.suffix.lower())
    if library is None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if library == "lightgbm":
        return library if head.startswith(b"tree\n") else None
    return library if head.lstrip().startswith(b"{") and b"learner" in head else None


def read_native(path: Path, what: str) -> Any:
    """A native XGBoost (.json/.ubj) or LightGBM (.txt) booster file as the library's scikit-learn wrapper.

    Classifier or regressor is read from the objective; classes are 0…k-1 as the library numbers them.
    """
    library = native_library(path)
    if library is None:
        raise InvalidInput(f"{what} is not a native booster file (.json, .ubj or .txt).")
    return _from_native(library, path.read_bytes(), what, ubj=path.suffix.lower() == ".ubj")


def precheck(path: Path, what: str) -> None:
    """The structural checks of a native JSON or text booster, in Python (safe in-process): a malformed file
    is refused before a child process starts. UBJSON is binary and left to the child."""
    library = native_library(path)
    if library == "xgboost" and path.suffix.lower() == ".json":
        model = booster_checks.check_xgboost(path.read_bytes(), what)
        _role("xgboost", model["learner"]["objective"]["name"], what)
    elif library == "lightgbm":
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{what} is not LightGBM model text (it is not UTF-8).") from None
        _role("lightgbm", booster_checks.check_lightgbm(text, what)["objective"], what)


def from_booster(obj: Any, what: str) -> Any:
    """A bare `xgboost.Booster` or `lightgbm.Booster` (e.g. from a joblib file) as its scikit-learn wrapper."""
    library = type(obj).__module__.split(".")[0]
    try:
        if library == "xgboost":
            data = bytes(obj.save_raw("json"))
        else:
            data = obj.model_to_string().encode()
    except Exception as e:  # the library's writer fails on a broken booster
        raise InvalidInput(f"{what} holds a {library} booster that cannot be written in its own format "
                           f"({type(e).__name__}: {booster_checks.short(e)}).") from None
    return _from_native(library, data, what, ubj=False)


def is_bare_booster(obj: Any) -> bool:
    return type(obj).__name__ == "Booster" and type(obj).__module__.split(".")[0] in CLASSES


def _from_native(library: str, data: bytes, what: str, *, ubj: bool) -> Any:
    lib = _import(library, what)
    if library == "xgboost":
        if ubj:
            booster_checks.check_ubj_shape(data, what)
            try:  # UBJSON → the library's JSON, so the same checks read it
                b = lib.Booster()
                b.load_model(bytearray(data))
                data = bytes(b.save_raw("json"))
            except Exception as e:  # XGBoost's parser refuses the file
                raise InvalidInput(f"{what} is not a model XGBoost can read ({type(e).__name__}: "
                                   f"{booster_checks.short(e)}).") from None
        model = booster_checks.check_xgboost(data, what)
        role = _role("xgboost", model["learner"]["objective"]["name"], what)
        kind = "XGBClassifier" if role == "classifier" else "XGBRegressor"
        est = getattr(lib, kind)()
        try:
            est.load_model(bytearray(data))
        except Exception as e:  # XGBoost's parser refuses the file
            raise InvalidInput(f"{what} is not a model XGBoost can read ({type(e).__name__}: "
                               f"{booster_checks.short(e)}).") from None
        return _rebuild(lib, "xgboost", kind, bytes(est.get_booster().save_raw("json")),
                        est.get_params(deep=False), {}, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} is not LightGBM model text (it is not UTF-8).") from None
    header = booster_checks.check_lightgbm(text, what)
    role = _role("lightgbm", header["objective"], what)
    kind = "LGBMClassifier" if role == "classifier" else "LGBMRegressor"
    names = header["feature_names"]
    state = {"objective": header["objective"].split()[0], "best_iteration": -1, "best_score": {},
             "fitted_with_feature_names": names != [f"Column_{i}" for i in range(len(names))]}
    if role == "classifier":
        state["classes"] = list(range(header["num_class"] if header["num_class"] > 1 else 2))
    return _rebuild(lib, "lightgbm", kind, text.encode(), {"objective": state["objective"]}, state, what)


def preload() -> None:
    """Import the installed booster libraries (the child process does this before it limits itself)."""
    try:
        import xgboost  # noqa: F401
    except (ImportError, OSError):  # not installed, or its compiled library cannot load: said when used
        pass
    try:
        import lightgbm  # noqa: F401
    except (ImportError, OSError):
        pass


def missing_module(name: str | None, what: str) -> str | None:
    """The sentence for a joblib file that needs XGBoost or LightGBM when it is not installed; None otherwise."""
    top = (name or "").split(".")[0]
    if top not in CLASSES:
        return None
    return f"{what} holds a {top} model and the {top} package is not installed here; install it with " \
           f"pip install 'modelgov[{top}]'."


# Why a skops file naming a booster class is refused (safe_load's audit).
UNREVIEWED = ("which ModelGov takes alone or as the last step of a Pipeline, saved with joblib or as the library's "
              "own booster file (.json/.ubj/.txt), not inside a skops file or deeper in a pipeline")


def smoke(model: Any, what: str) -> None:
    """Predict two rows of zeros with the booster, so a booster the checks missed crashes here (in the child)."""
    import numpy as np

    final = _final(model)
    try:
        final.predict(np.zeros((2, int(final.n_features_in_))))
    except Exception as e:  # a booster that cannot predict is not a model
        raise InvalidInput(f"{what}'s booster cannot predict ({type(e).__name__}: "
                           f"{booster_checks.short(e)}).") from None


def _role(library: str, objective: str, what: str) -> str:
    base = str(objective).split()[0] if objective else ""
    kind = {"xgboost": {"classifier": "XGBClassifier", "regressor": "XGBRegressor"},
            "lightgbm": {"classifier": "LGBMClassifier", "regressor": "LGBMRegressor"}}[library]
    if base in (XGB_CLASSIFY | LGBM_CLASSIFY):
        return _check_objective(library, objective, kind["classifier"], what)
    return _check_objective(library, objective, kind["regressor"], what)
