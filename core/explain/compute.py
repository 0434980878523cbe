"""Computing SHAP explanations in terms of the original inputs, with additivity checked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..registry.datasets import column_type
from ..registry.records import ModelVersion

SETTINGS_VERSION = 1


DEFAULT_ROWS = 1000


BACKGROUND_ROWS = 200


TOLERANCE = 1e-6  # relative to the spread of the model output


TREE_TYPES = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "GradientBoostingClassifier",
              "GradientBoostingRegressor", "RandomForestClassifier", "RandomForestRegressor",
              "ExtraTreesClassifier", "ExtraTreesRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor")


# XGBoost and LightGBM wrappers: TreeExplainer reads their boosters; values add up to the raw margin.
BOOSTER_TREE_TYPES = ("XGBClassifier", "XGBRegressor", "LGBMClassifier", "LGBMRegressor")


LINEAR_TYPES = ("LogisticRegression", "LinearRegression", "Ridge", "Lasso", "ElasticNet", "RidgeClassifier",
                "SGDRegressor", "LinearSVR", "BayesianRidge", "HuberRegressor")


Progress = Callable[[float, str], None]


@dataclass
class Explanation:
    id: int | None
    key: str
    model: str
    version: int
    explainer: str
    output_space: str
    base_value: float
    additivity_max_error: float
    additivity_ok: bool
    features: list[str]
    frame: pd.DataFrame      # index, prediction, x__FEATURE (input values), s__FEATURE (contributions)
    data_ref: str
    created_at: Any = None
    created_by: str = ""
    cached: bool = False
    class_position: int | None = None  # multiclass: the class `for_class` picked (None: every class)

    @property
    def class_count(self) -> int:
        """How many classes the explanation holds values for (multiclass; 0 for binary and regression, whose
        values are of the positive class or the prediction)."""
        return sum(1 for c in self.frame.columns if c.startswith("c") and c.endswith("__prediction"))

    def for_class(self, k: int) -> "Explanation":
        """The explanation of class position `k` (multiclass): its contributions, base value and outputs in
        `values`, `base_value` and `prediction`. The frame's unprefixed columns hold class 0's."""
        if not 0 <= k < self.class_count:
            raise InvalidInput(f"Class position {k} is not one of the {self.class_count} classes explained "
                               f"(0 to {self.class_count - 1}).")
        f = self.frame.copy()
        f["prediction"] = f[f"c{k}__prediction"]
        for name in self.features:
            f[f"s__{name}"] = f[f"c{k}__s__{name}"]
        return replace(self, frame=f, base_value=float(f[f"c{k}__base"].iat[0]),
                       additivity_max_error=float(f[f"c{k}__additivity"].iat[0]), class_position=k)

    def class_probability(self, row: int, k: int) -> float:
        """Multiclass: row `row`'s probability of class position `k` from the explained outputs (the outputs
        themselves in probability space; the softmax of every class's raw score otherwise, as predict_proba)."""
        outputs = np.array([self.frame[f"c{c}__prediction"].iat[row] for c in range(self.class_count)], dtype=float)
        if self.output_space == "probability":
            return float(outputs[k])
        z = np.exp(outputs - outputs.max())
        return float(z[k] / z.sum())

    @property
    def values(self) -> pd.DataFrame:
        return self.frame[[f"s__{f}" for f in self.features]].set_axis(self.features, axis=1)

    @property
    def inputs(self) -> pd.DataFrame:
        return self.frame[[f"x__{f}" for f in self.features]].set_axis(self.features, axis=1)

    def global_importance(self) -> pd.DataFrame:
        """Mean |SHAP| per input, largest first; a multiclass explanation not narrowed to one class
        (`for_class`) averages it over the classes, so no class speaks for the others."""
        if self.class_count and self.class_position is None:
            per_class = [self.frame[[f"c{k}__s__{f}" for f in self.features]].abs().mean().to_numpy()
                         for k in range(self.class_count)]
            imp = pd.Series(np.mean(per_class, axis=0), index=self.features).sort_values(ascending=False)
            return pd.DataFrame({"feature": imp.index, "mean_abs_shap": imp.to_numpy()})
        imp = self.values.abs().mean().sort_values(ascending=False)
        return pd.DataFrame({"feature": imp.index, "mean_abs_shap": imp.to_numpy()})

    def as_dict(self, max_rows: int | None = None) -> dict[str, Any]:
        vals, f = self.values, self.frame
        n = len(f) if max_rows is None else min(max_rows, len(f))
        return {
            "model": self.model, "version": self.version, "explainer": self.explainer,
            "output_space": self.output_space, "base_value": self.base_value,
            "additivity_max_error": self.additivity_max_error, "additivity_ok": self.additivity_ok,
            "features": self.features,
            **({"class_position": self.class_position} if self.class_count else {}),
            "global": [{"feature": r.feature, "mean_abs_shap": float(r.mean_abs_shap)}
                       for r in self.global_importance().itertuples()],
            "rows": [{"index": _py(f["index"].iat[i]), "prediction": float(f["prediction"].iat[i]),
                      "values": {c: float(vals[c].iat[i]) for c in self.features}} for i in range(n)],
        }


def to_probability(value: float, space: str) -> float | None:
    """A classifier's output as the probability of the positive class (log-odds through the logistic function);
    None for a regression's raw output."""
    if space == "log-odds":
        return float(1 / (1 + np.exp(-value)))
    if space == "probability":
        return float(value)
    return None


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def check_data(version: ModelVersion, frame: pd.DataFrame) -> pd.DataFrame:
    """The version's input columns in signature order, or one sentence saying what does not fit."""
    features = version.feature_names
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The data lacks {len(missing)} input column(s) of {version.ref}: "
                           f"{', '.join(missing[:8])}{'…' if len(missing) > 8 else ''}; give a file with every "
                           "input the model was trained on.")
    extra = [c for c in frame.columns if c not in features and c != version.target]
    if extra:
        raise InvalidInput(f"The data has column(s) {version.ref} does not know: {', '.join(map(str, extra[:8]))}; "
                           f"remove them (the target '{version.target}' may stay).")
    wrong = []
    for col in version.signature:
        want, got = col["type"], column_type(frame[col["name"]])
        if want in ("integer", "float", "boolean") and got not in ("integer", "float", "boolean"):
            wrong.append(f"{col['name']} ({got}, expected {want})")
    if wrong:
        raise InvalidInput(f"Column(s) with the wrong type: {', '.join(wrong[:6])}; the model was trained on "
                           "numbers there.")
    if frame.empty:
        raise InvalidInput("The data has no rows to explain.")
    return frame[features]


def _names(cols: Any, all_inputs: list[str]) -> list[str]:
    if isinstance(cols, slice):
        return all_inputs[cols]
    cols = list(cols) if not isinstance(cols, str) else [cols]
    if cols and all(isinstance(c, (bool, np.bool_)) for c in cols):
        return [n for n, keep in zip(all_inputs, cols) if keep]
    if cols and all(isinstance(c, (int, np.integer)) for c in cols):
        return [all_inputs[i] for i in cols]
    return [str(c) for c in cols]


def column_map(step: Any, inputs: list[str]) -> list[str] | None:
    """For each output column of a fitted transformer, the input column it came from; None if unknown."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if step is None or step == "passthrough":
        return list(inputs)
    if isinstance(step, Pipeline):
        current = list(inputs)
        for _name, sub in step.steps:
            current = column_map(sub, current)
            if current is None:
                return None
        return current
    if isinstance(step, ColumnTransformer):
        out: list[str | None] = [None] * sum(s.stop - s.start for s in step.output_indices_.values())
        for name, trans, cols in step.transformers_:
            sl = step.output_indices_.get(name)
            if trans == "drop" or sl is None or sl.stop == sl.start:
                continue
            sub = column_map(trans, _names(cols, inputs))
            if sub is None or len(sub) != sl.stop - sl.start:
                return None
            out[sl] = sub
        return None if any(o is None for o in out) else out  # type: ignore[return-value]
    if isinstance(step, OneHotEncoder):
        sizes = getattr(step, "_n_features_outs", None)
        if sizes is None:
            return None
        return [name for name, k in zip(inputs, sizes) for _ in range(k)]
    try:
        n_out = len(step.get_feature_names_out(inputs))
    except Exception:  # a transformer without names: only a shape-preserving one can be mapped
        return None
    return list(inputs) if n_out == len(inputs) else None


def split_pipeline(estimator: Any) -> tuple[Any, Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return Pipeline(estimator.steps[:-1]), estimator.steps[-1][1]
    return None, estimator


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=float)


def plan(version: ModelVersion, estimator: Any) -> dict[str, Any]:
    """Which explainer and output space a version gets (without computing anything)."""
    prep, final = split_pipeline(estimator)
    kind = type(final).__name__
    mapped = column_map(prep, version.feature_names) if prep is not None else list(version.feature_names)
    classifier = version.task != "regression"
    # A multiclass model's per-class margin (softmax logit) is no log-odds: it is the class's raw score.
    margin = "log-odds" if version.task == "binary_classification" else "raw"
    if kind in BOOSTER_TREE_TYPES and mapped is not None:
        return _booster_plan(kind, classifier, margin)
    if kind in TREE_TYPES and mapped is not None:
        prob = kind.startswith(("RandomForest", "ExtraTrees", "DecisionTree"))
        return {"explainer": "tree", "output_space": ("probability" if prob else margin) if classifier else "raw",
                "estimator": kind}
    if kind in LINEAR_TYPES and mapped is not None:
        return {"explainer": "linear", "output_space": margin, "estimator": kind}
    return {"explainer": "permutation", "output_space": "probability" if classifier else "raw", "estimator": kind}


def _booster_plan(kind: str, classifier: bool, margin: str) -> dict[str, Any]:
    """XGBoost/LightGBM: tree explainer in the booster's raw space (log-odds for a binary classifier)."""
    return {"explainer": "tree", "output_space": margin if classifier else "raw", "estimator": kind}


def _model_output(final: Any, Xt: Any, space: str, classifier: bool, multi: bool = False) -> np.ndarray:
    """The model's own output in `space`, computed without shap (the additivity reference); multiclass: (n, K),
    every class's probability or raw score."""
    if type(final).__name__ in BOOSTER_TREE_TYPES:
        from ..registry.boosters import raw_output

        return raw_output(final, Xt)
    if not classifier:
        return np.asarray(final.predict(Xt), dtype=float)
    if space in ("log-odds", "raw"):
        return np.asarray(final.decision_function(Xt), dtype=float)
    out = np.asarray(final.predict_proba(Xt), dtype=float)
    return out if multi else out[:, 1]


def _shap():
    """shap, with numba's compiler off unless NUMBA_DISABLE_JIT says otherwise. Only the permutation explainer
    runs shap's numba code, and compiling it cost 12-13 CPU-seconds in every process before the first row was
    explained (a CLI command, a dashboard's first explanation), while the same loops in plain Python took 0.2 s
    for a row and 10% more than compiled code on 50 rows of 23 features (numbers in the commit that made this)."""
    import os
    import sys

    if "NUMBA_DISABLE_JIT" not in os.environ and "shap" not in sys.modules:
        os.environ["NUMBA_DISABLE_JIT"] = "1"  # read when numba is imported, and again when its config reloads
        if "numba" in sys.modules:
            sys.modules["numba"].config.DISABLE_JIT = True
    import shap

    return shap


def compute(version: ModelVersion, estimator: Any, X: pd.DataFrame, background: Callable[[], pd.DataFrame],
            progress: Progress | None = None) -> dict[str, Any]:
    """SHAP values for X (original columns), the base value and the additivity error.

    Multiclass: every class at once: `values` (n, features, K), `base_value` and `prediction` per class ((K,) and
    (n, K)), and the additivity error of each class (`class_additivity_max_error`) as well as the largest.
    """
    shap = _shap()
    say = progress or (lambda _f, _t: None)
    p = plan(version, estimator)
    prep, final = split_pipeline(estimator)
    classifier = version.task != "regression"
    multi = version.task == "multiclass_classification"
    features = list(version.feature_names)
    say(0.05, f"Explaining {len(X):,} rows with the {p['explainer']} explainer…")
    if p["explainer"] in ("tree", "linear"):
        Xt = _dense(prep.transform(X)) if prep is not None else X
        mapping = column_map(prep, features) if prep is not None else features
        if p["explainer"] == "tree":
            explainer = shap.TreeExplainer(final)
        else:
            bg = background()
            bt = _dense(prep.transform(bg)) if prep is not None else bg.to_numpy(dtype=float)
            explainer = shap.LinearExplainer(final, bt)
        chunks, base = [], None
        step = max(2000, len(Xt) // 10)  # chunks for the progress bar, not so small that calls add up
        for start in range(0, len(Xt), step):
            part = Xt[start:start + step]
            ex = explainer(part, check_additivity=False) if p["explainer"] == "tree" else explainer(part)
            vals = np.asarray(ex.values, dtype=float)
            bv = np.asarray(ex.base_values, dtype=float)
            if multi:  # per class: keep every class
                bv = bv.reshape(len(vals), -1)[0]
            elif vals.ndim == 3:  # per class: keep the positive class
                vals, bv = vals[:, :, -1], bv.reshape(len(vals), -1)[:, -1]
            chunks.append(vals)
            base = bv.astype(float) if multi else float(np.ravel(bv)[0])
            say(0.05 + 0.85 * min(1.0, (start + step) / len(Xt)), f"{min(start + step, len(Xt)):,} of {len(Xt):,} rows")
        raw = np.vstack(chunks)
        # Sum the expanded columns back to the inputs they came from.
        index = {f: i for i, f in enumerate(features)}
        values = np.zeros((len(Xt), len(features)) + raw.shape[2:])
        for j, src in enumerate(mapping):
            values[:, index[src]] += raw[:, j]
        output = _model_output(final, Xt, p["output_space"], classifier, multi)
    else:
        def frame_of(d):
            return pd.DataFrame(d, columns=features).astype(X.dtypes.to_dict())

        predict = ((lambda d: estimator.predict_proba(frame_of(d))) if multi
                   else (lambda d: estimator.predict_proba(frame_of(d))[:, 1]) if classifier
                   else (lambda d: estimator.predict(frame_of(d))))
        bg = background()
        masker = shap.maskers.Independent(bg.to_numpy(), max_samples=len(bg))
        explainer = shap.PermutationExplainer(predict, masker)
        chunks, base = [], None
        step = max(1, len(X) // 10)
        for start in range(0, len(X), step):
            ex = explainer(X.iloc[start:start + step].to_numpy(), silent=True)
            chunks.append(np.asarray(ex.values, dtype=float))
            bv = np.asarray(ex.base_values, dtype=float)
            base = bv.reshape(len(chunks[-1]), -1)[0] if multi else float(np.ravel(bv)[0])
            say(0.05 + 0.85 * min(1.0, (start + step) / len(X)), f"{min(start + step, len(X)):,} of {len(X):,} rows")
        values = np.vstack(chunks)
        output = np.asarray(predict(X.to_numpy()), dtype=float)
    err = np.abs(base + values.sum(axis=1) - output)  # multiclass: (n, K), each class checked on its own
    scale = max(1.0, float(np.ptp(output)) if len(output) > 1 else 1.0)
    tol = TOLERANCE * scale if p["explainer"] != "permutation" else 1e-4 * scale
    out = {**p, "features": features, "base_value": base, "values": values, "prediction": output,
           "additivity_max_error": float(err.max()), "additivity_ok": bool(err.max() <= tol), "tolerance": tol}
    if multi:
        out["class_additivity_max_error"] = [float(e) for e in err.max(axis=0)]
    return out


def for_class(result: dict[str, Any], k: int) -> dict[str, Any]:
    """A multiclass `compute` result as the explanation of class position `k` alone (the shape of a binary one)."""
    err = result["class_additivity_max_error"][k]
    return {**result, "values": result["values"][:, :, k], "prediction": result["prediction"][:, k],
            "base_value": float(result["base_value"][k]), "additivity_max_error": err,
            "additivity_ok": bool(err <= result["tolerance"])}
