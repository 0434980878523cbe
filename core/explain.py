"""SHAP explanations in terms of the inputs people know, checked for additivity and cached in the store.

Explainer choice (say which, and in which output space):
- tree ensembles (gradient boosting, random forests, decision trees): `shap.TreeExplainer`, exact;
  classifiers in log-odds (HistGradientBoosting, GradientBoosting) or probability (forests, trees),
  regressors in the raw output;
- linear models (logistic and linear regression, ridge, lasso, …): `shap.LinearExplainer` with the
  version's training data as background; log-odds or raw;
- anything else: `shap.PermutationExplainer` on the whole model with a background sample of the
  training data; probability or raw.

A pipeline's preprocessing (ColumnTransformer, one-hot encoding, scaling, imputing) is applied first
and the contributions of the columns one input was expanded into are summed back to that input, so
every explanation speaks of the ORIGINAL input columns. Additivity — base value + sum of contributions
= the model's own output in that space, computed independently of shap — is checked on every
computation and stored with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import lineage
from .audit import AuditEvent, canonical_json, record, utcnow
from .datasets import column_type, fingerprint, load_frame, read_table
from .errors import InvalidInput, NotFound
from .identity import Identity, allowed, require
from .registry import ModelVersion, get_model_version, load_model, version_datasets

SETTINGS_VERSION = 1
DEFAULT_ROWS = 1000
BACKGROUND_ROWS = 200
TOLERANCE = 1e-6  # relative to the spread of the model output
TREE_TYPES = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "GradientBoostingClassifier",
              "GradientBoostingRegressor", "RandomForestClassifier", "RandomForestRegressor",
              "ExtraTreesClassifier", "ExtraTreesRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor")
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

    @property
    def values(self) -> pd.DataFrame:
        return self.frame[[f"s__{f}" for f in self.features]].set_axis(self.features, axis=1)

    @property
    def inputs(self) -> pd.DataFrame:
        return self.frame[[f"x__{f}" for f in self.features]].set_axis(self.features, axis=1)

    def global_importance(self) -> pd.DataFrame:
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
            "global": [{"feature": r.feature, "mean_abs_shap": float(r.mean_abs_shap)}
                       for r in self.global_importance().itertuples()],
            "rows": [{"index": _py(f["index"].iat[i]), "prediction": float(f["prediction"].iat[i]),
                      "values": {c: float(vals[c].iat[i]) for c in self.features}} for i in range(n)],
        }


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


# --- data checks -------------------------------------------------------------------------------------

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


# --- mapping a pipeline's output columns back to its input columns ----------------------------------

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


# --- computing ---------------------------------------------------------------------------------------

def _split(estimator: Any) -> tuple[Any, Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return Pipeline(estimator.steps[:-1]), estimator.steps[-1][1]
    return None, estimator


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=float)


def plan(version: ModelVersion, estimator: Any) -> dict[str, Any]:
    """Which explainer and output space a version gets (without computing anything)."""
    prep, final = _split(estimator)
    kind = type(final).__name__
    mapped = column_map(prep, version.feature_names) if prep is not None else list(version.feature_names)
    classifier = version.task == "binary_classification"
    if kind in TREE_TYPES and mapped is not None:
        prob = kind.startswith(("RandomForest", "ExtraTrees", "DecisionTree"))
        return {"explainer": "tree", "output_space": ("probability" if prob else "log-odds") if classifier else "raw",
                "estimator": kind}
    if kind in LINEAR_TYPES and mapped is not None:
        return {"explainer": "linear", "output_space": "log-odds" if classifier else "raw", "estimator": kind}
    return {"explainer": "permutation", "output_space": "probability" if classifier else "raw", "estimator": kind}


def _model_output(final: Any, Xt: Any, space: str, classifier: bool) -> np.ndarray:
    """The model's own output in `space`, computed without shap (the additivity reference)."""
    if not classifier:
        return np.asarray(final.predict(Xt), dtype=float)
    if space == "log-odds":
        return np.asarray(final.decision_function(Xt), dtype=float)
    return np.asarray(final.predict_proba(Xt), dtype=float)[:, 1]


def compute(version: ModelVersion, estimator: Any, X: pd.DataFrame, background: Callable[[], pd.DataFrame],
            progress: Progress | None = None) -> dict[str, Any]:
    """SHAP values for X (original columns), the base value and the additivity error."""
    import shap

    say = progress or (lambda _f, _t: None)
    p = plan(version, estimator)
    prep, final = _split(estimator)
    classifier = version.task == "binary_classification"
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
            if vals.ndim == 3:  # per class: keep the positive class
                vals, bv = vals[:, :, -1], bv.reshape(len(vals), -1)[:, -1]
            chunks.append(vals)
            base = float(np.ravel(bv)[0])
            say(0.05 + 0.85 * min(1.0, (start + step) / len(Xt)), f"{min(start + step, len(Xt)):,} of {len(Xt):,} rows")
        raw = np.vstack(chunks)
        # Sum the expanded columns back to the inputs they came from.
        index = {f: i for i, f in enumerate(features)}
        values = np.zeros((len(Xt), len(features)))
        for j, src in enumerate(mapping):
            values[:, index[src]] += raw[:, j]
        output = _model_output(final, Xt, p["output_space"], classifier)
    else:
        predict = (lambda d: estimator.predict_proba(pd.DataFrame(d, columns=features).astype(X.dtypes.to_dict()))[:, 1]) \
            if classifier else (lambda d: estimator.predict(pd.DataFrame(d, columns=features).astype(X.dtypes.to_dict())))
        bg = background()
        masker = shap.maskers.Independent(bg.to_numpy(), max_samples=len(bg))
        explainer = shap.PermutationExplainer(predict, masker)
        chunks, base = [], None
        step = max(1, len(X) // 10)
        for start in range(0, len(X), step):
            ex = explainer(X.iloc[start:start + step].to_numpy(), silent=True)
            chunks.append(np.asarray(ex.values, dtype=float))
            base = float(np.ravel(ex.base_values)[0])
            say(0.05 + 0.85 * min(1.0, (start + step) / len(X)), f"{min(start + step, len(X)):,} of {len(X):,} rows")
        values = np.vstack(chunks)
        output = np.asarray(predict(X.to_numpy()), dtype=float)
    err = np.abs(base + values.sum(axis=1) - output)
    scale = max(1.0, float(np.ptp(output)) if len(output) > 1 else 1.0)
    tol = TOLERANCE * scale if p["explainer"] != "permutation" else 1e-4 * scale
    return {**p, "features": features, "base_value": base, "values": values, "prediction": output,
            "additivity_max_error": float(err.max()), "additivity_ok": bool(err.max() <= tol), "tolerance": tol}


# --- the cache ---------------------------------------------------------------------------------------

def _home(store):
    path = store.home / "explanations"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(version: ModelVersion, data_fp: str, settings: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json([version.sha256, data_fp, settings]).encode()).hexdigest()


def _row_to_explanation(store, r, cached: bool) -> Explanation:
    (eid, key, model, version, explainer, space, base, err, ok, features, data_ref, created_at, created_by) = r
    path = _home(store) / f"{key}.parquet"
    if not path.exists():
        raise NotFound(f"The cached values of explanation {eid} are missing from {path.parent}; compute it again.")
    return Explanation(eid, key, model, version, explainer, space, base, err, ok, json.loads(features),
                       pd.read_parquet(path), data_ref, created_at, created_by, cached)


_SELECT = """SELECT e.id, e.cache_key, m.name, v.version, e.explainer, e.output_space, e.base_value,
                    e.additivity_max_error, e.additivity_ok, CAST(e.features AS VARCHAR), e.data_ref, e.created_at,
                    e.created_by
             FROM explanations e JOIN model_versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id"""


def cached(store, key: str) -> Explanation | None:
    with store.read() as con:
        r = con.execute(_SELECT + " WHERE e.cache_key = ?", [key]).fetchall()
    return _row_to_explanation(store, r[0], True) if r else None


def list_explanations(store, model: str | None = None, version: int | None = None) -> list[dict[str, Any]]:
    where, params = [], []
    if model:
        where.append("m.name = ?")
        params.append(model)
    if version is not None:
        where.append("v.version = ?")
        params.append(version)
    sql = ("SELECT e.id, m.name, v.version, e.explainer, e.output_space, e.rows, e.data_ref, e.additivity_ok,"
           " e.additivity_max_error, e.created_at, e.created_by, e.cache_key FROM explanations e JOIN model_versions v"
           " ON v.id = e.version_id JOIN models m ON m.id = v.model_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.created_at DESC, e.id DESC")
    with store.read() as con:
        rows = con.execute(sql, params).fetchall()
    cols = ["id", "model", "version", "explainer", "output_space", "rows", "data_ref", "additivity_ok",
            "additivity_max_error", "created_at", "created_by", "key"]
    return [dict(zip(cols, r)) for r in rows]


def latest(store, model: str, version: int) -> Explanation | None:
    items = list_explanations(store, model, version)
    return cached(store, items[0]["key"]) if items else None


def background_for(store, version: ModelVersion, n: int = BACKGROUND_ROWS) -> pd.DataFrame:
    train, _test = version_datasets(store, version)
    if train is None:
        raise InvalidInput(f"{version.ref} has no stored training data to draw a background sample from.")
    frame = load_frame(store, train)[version.feature_names]
    return frame.sample(n=min(n, len(frame)), random_state=0).sort_index()


def training_data(store, version: ModelVersion) -> pd.DataFrame:
    """The version's training data (the reference an explanation shift compares production with)."""
    train, _test = version_datasets(store, version)
    if train is None:
        raise InvalidInput(f"{version.ref} has no stored training data.")
    return load_frame(store, train)


def default_data(store, version: ModelVersion) -> tuple[pd.DataFrame, str]:
    """The version's hold-out data (else its training data) and a reference naming it."""
    train, test = version_datasets(store, version)
    ds = test or train
    if ds is None:
        raise InvalidInput(f"{version.ref} has no stored data; give a data file to explain.")
    return load_frame(store, ds), f"dataset:{ds.ref}"


def prepare(store, model: str, version: int | None, data: pd.DataFrame | str | None = None,
            rows: int | None = DEFAULT_ROWS, label: str | None = None
            ) -> tuple[ModelVersion, pd.DataFrame, str, str, dict[str, Any]]:
    """The version, the rows to explain, a reference to the data, the cache key and the settings."""
    v = get_model_version(store, model, version)
    if data is None:
        frame, data_ref = default_data(store, v)
    elif isinstance(data, pd.DataFrame):
        frame, data_ref = data, label or "frame"
    else:
        frame, data_ref = read_table(data), f"file:{data}"
    if rows is not None and rows < 1:
        raise InvalidInput(f"--rows must be 1 or more; got {rows}.")
    X = check_data(v, frame)
    if rows is not None and len(X) > rows:
        X = X.sample(n=rows, random_state=0).sort_index()
    settings = {"v": SETTINGS_VERSION, "rows": len(X), "background": BACKGROUND_ROWS, "seed": 0,
                "data_fingerprint": fingerprint(X)}
    return v, X, data_ref, cache_key(v, settings["data_fingerprint"], settings), settings


def find(store, model: str, version: int | None, data: pd.DataFrame | str | None = None,
         rows: int | None = DEFAULT_ROWS, label: str | None = None) -> Explanation | None:
    """The cached explanation for these inputs, or None (computes nothing)."""
    return cached(store, prepare(store, model, version, data, rows, label)[3])


def explain(store, actor: Identity, model: str, version: int | None, data: pd.DataFrame | str | None = None, *,
            rows: int | None = DEFAULT_ROWS, progress: Progress | None = None, use_cache: bool = True,
            label: str | None = None) -> Explanation:
    """Explain up to `rows` rows of `data` (a frame — named by `label` —, a CSV/Parquet path, or None for the
    hold-out data)."""
    v, X, data_ref, key, settings = prepare(store, model, version, data, rows, label)
    if use_cache:
        hit = cached(store, key)
        if hit is not None:
            if progress:
                progress(1.0, "Opened the cached explanation.")
            return hit
    if not allowed(actor, "compute-results"):  # refuse early, before minutes of work (and audit it)
        with store.transaction():
            require(actor, "compute-results", "model_version", v.ref)
    from . import artifacts

    estimator = artifacts.load(store.artifacts_dir, v.sha256, v.ref)  # after its SHA-256 matches the registry
    try:
        result = compute(v, estimator, X, lambda: background_for(store, v), progress)
    except InvalidInput:
        raise
    except Exception as e:  # an estimator shap cannot handle: one sentence, nothing cached
        raise InvalidInput(f"{v.ref} ({type(_split(estimator)[1]).__name__}) could not be explained: "
                           f"{type(e).__name__}: {e}") from e
    frame_out = pd.DataFrame({"index": X.index.to_numpy(), "prediction": result["prediction"]})
    for i, f in enumerate(result["features"]):
        frame_out[f"x__{f}"] = X[f].to_numpy()
    for i, f in enumerate(result["features"]):
        frame_out[f"s__{f}"] = result["values"][:, i]
    path = _home(store) / f"{key}.parquet"
    tmp = path.with_suffix(".tmp")
    frame_out.to_parquet(tmp, index=False)
    now = utcnow()
    try:
        with store.transaction() as con:
            require(actor, "compute-results", "model_version", v.ref)
            con.execute("DELETE FROM explanations WHERE cache_key = ?", [key])
            eid = con.execute(
                "INSERT INTO explanations (cache_key, version_id, data_fingerprint, data_ref, settings, explainer,"
                " output_space, base_value, additivity_max_error, additivity_ok, features, rows, seconds, created_at,"
                " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [key, v.id, settings["data_fingerprint"], data_ref, canonical_json(settings), result["explainer"],
                 result["output_space"], result["base_value"], result["additivity_max_error"],
                 result["additivity_ok"], canonical_json(result["features"]), len(X), None, now, actor.email],
            ).fetchall()[0][0]
            tmp.replace(path)
            lineage.record_result_tx(con, actor, "explanation", v.model, v.version, key[:12],
                                     f"SHAP ({result['explainer']}) on {len(X):,} rows",
                                     {"explainer": result["explainer"], "rows": len(X), "data": data_ref})
            record(con, actor, AuditEvent("explanation.compute", "model_version", v.ref, {
                "model": v.model, "version": v.version, "explainer": result["explainer"], "rows": len(X),
                "data": data_ref, "additivity_max_error": result["additivity_max_error"],
                "additivity_ok": result["additivity_ok"]}))
    finally:
        tmp.unlink(missing_ok=True)
    if progress:
        progress(1.0, "Done.")
    return Explanation(eid, key, v.model, v.version, result["explainer"], result["output_space"],
                       result["base_value"], result["additivity_max_error"], result["additivity_ok"],
                       result["features"], frame_out, data_ref, now, actor.email, False)


def explain_record(store, model: str, version: int, record_: dict[str, Any]) -> dict[str, Any]:
    """What-if: one typed-in record's score and contributions (not cached; nothing is stored)."""
    v, estimator = load_model(store, model, version)
    frame = pd.DataFrame([record_])
    X = check_data(v, frame)
    for col in v.signature:  # typed numbers arrive as floats; give the model its training types
        if col["type"] == "integer":
            X[col["name"]] = X[col["name"]].round().astype("int64")
    result = compute(v, estimator, X, lambda: background_for(store, v, 100))
    return {"explainer": result["explainer"], "output_space": result["output_space"],
            "base_value": result["base_value"], "prediction": float(result["prediction"][0]),
            "values": dict(zip(result["features"], map(float, result["values"][0]))),
            "additivity_max_error": result["additivity_max_error"]}


# --- summaries for other areas ------------------------------------------------------------------------

def global_importance(store, model: str, version: int) -> pd.DataFrame | None:
    """Mean |SHAP| per input from the newest cached explanation of the version, or None."""
    e = latest(store, model, version)
    return e.global_importance() if e else None


def evidence_for(store, model: str, version: int) -> dict[str, Any] | None:
    """Top features for an approval's evidence pack."""
    e = latest(store, model, version)
    if e is None:
        return None
    top = e.global_importance().head(5)
    return {"explanation_id": e.id, "explainer": e.explainer, "output_space": e.output_space, "rows": len(e.frame),
            "additivity_ok": e.additivity_ok, "additivity_max_error": e.additivity_max_error,
            "top_features": [{"feature": r.feature, "mean_abs_shap": round(float(r.mean_abs_shap), 6)}
                             for r in top.itertuples()]}


def strongest_interaction(e: Explanation, feature: str) -> str | None:
    """The input whose values best explain the spread of `feature`'s contributions (shap's heuristic, simplified:
    the largest absolute correlation between the other input and the residual contribution)."""
    vals, inputs = e.values[feature].to_numpy(), e.inputs
    x = pd.to_numeric(inputs[feature], errors="coerce").to_numpy(dtype=float)
    if np.nanstd(x) == 0:
        return None
    # remove the main effect with a coarse binned mean, then correlate what is left with each other input
    bins = pd.qcut(pd.Series(x).rank(method="first"), q=min(10, len(x)), labels=False, duplicates="drop")
    resid = vals - pd.Series(vals).groupby(bins).transform("mean").to_numpy()
    best, score = None, 0.0
    for other in e.features:
        if other == feature:
            continue
        o = pd.to_numeric(inputs[other], errors="coerce").to_numpy(dtype=float)
        if np.nanstd(o) == 0 or np.isnan(o).all():
            continue
        c = abs(np.corrcoef(np.nan_to_num(o), resid)[0, 1])
        if np.isfinite(c) and c > score:
            best, score = other, c
    return best


def plain_summary(e: Explanation, row: int | None = None, top: int = 3) -> str:
    """A sentence for business users."""
    imp = e.global_importance()
    names = list(imp["feature"].head(top))
    text = f"The {len(names)} inputs that matter most are {', '.join(names[:-1])} and {names[-1]}." if len(names) > 1 \
        else f"The input that matters most is {names[0]}."
    if row is not None:
        contrib = e.values.iloc[row]
        pred = float(e.frame["prediction"].iat[row])
        direction = "high" if pred > e.base_value else "low"
        drivers = contrib.sort_values(ascending=direction == "low").head(2)
        drivers = [f for f, v in drivers.items() if (v > 0) == (direction == "high") and v != 0]
        text += (f" For this case the score is {direction}er than average ({_fmt(pred, e.output_space)} vs "
                 f"{_fmt(e.base_value, e.output_space)})"
                 + (f", mainly because of {' and '.join(drivers)}." if drivers else "."))
    return text


def _fmt(value: float, space: str) -> str:
    if space == "log-odds":
        return f"{1 / (1 + np.exp(-value)):.0%} probability"
    if space == "probability":
        return f"{value:.0%} probability"
    return f"{value:,.3g}"
