"""Sensitive attributes, as the model card declares them, and the groups they put each row in.

A declared attribute is a column of the data (the model's own input, or a column of an attribute file joined by
row or request id: the usual, lawful case where the model never sees it). A numeric attribute (more than
`MAX_CATEGORIES` distinct values, or `"bands"` given) is banded: `bands` are the lower edges of the bands after the
first ([25, 35, 45, 60] gives under 25, 25–34, 35–44, 45–59, 60+). Defaults: age-like columns use AGE_BANDS, other
numbers their quartiles. `labels` name coded values ({"1": "male", "2": "female"}); several codes may share one
label, which merges them into one group.
"""

from __future__ import annotations

import json
from typing import Any

from ..audit import canonical_json, record, utcnow
from ..errors import InvalidInput, NotFound
from ..events import FairnessDeclared
from ..frozen import frozen_record
from ..identity import Identity, require
from ..registry.catalog import get_model_tx

AGE_BANDS = [25, 35, 45, 60]
MAX_CATEGORIES = 12
MISSING = "unknown"
POSITIVE_IS = ("adverse", "favourable")
_KEYS = {"name", "column", "bands", "labels", "kind"}


@frozen_record
class Attribute:
    name: str                    # what people read ("Age")
    column: str                  # the column holding it ("AGE")
    kind: str                    # "categorical", "numeric" or "auto"
    bands: list[float] | None
    labels: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "column": self.column, "kind": self.kind, "bands": self.bands,
                "labels": self.labels}


@frozen_record
class FairnessSettings:
    model: str
    attributes: list[Attribute]
    positive_is: str
    prediction_phrase: str
    min_group_size: int
    attribute_dataset_id: int | None
    id_column: str | None
    updated_by: str | None
    updated_at: Any

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if name in (a.name, a.column)), None)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "attributes": [a.as_dict() for a in self.attributes],
                "positive_is": self.positive_is, "prediction_phrase": self.prediction_phrase,
                "min_group_size": self.min_group_size, "attribute_dataset_id": self.attribute_dataset_id,
                "id_column": self.id_column, "updated_by": self.updated_by,
                "updated_at": None if self.updated_at is None else str(self.updated_at)}


def parse_attribute(spec: Any) -> Attribute:
    """One declared attribute from a column name or a mapping; raises InvalidInput in one sentence."""
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("column", spec.get("name")), str):
        raise InvalidInput('Declare a sensitive attribute as a column name or {"column": "AGE", "bands": [25, 35]}.')
    unknown = set(spec) - _KEYS
    if unknown:
        raise InvalidInput(f"Unknown key(s) {', '.join(sorted(unknown))} in a sensitive attribute; use "
                           f"{', '.join(sorted(_KEYS))}.")
    column = str(spec.get("column") or spec.get("name")).strip()
    name = str(spec.get("name") or column).strip()
    if not column or len(column) > 200 or len(name) > 80:
        raise InvalidInput("A sensitive attribute needs a column name (and a name of at most 80 characters).")
    kind = spec.get("kind") or "auto"
    if kind not in ("auto", "categorical", "numeric"):
        raise InvalidInput(f"The kind of sensitive attribute {name} must be categorical or numeric; got {kind!r}.")
    bands = spec.get("bands")
    if bands is not None:
        try:
            bands = [float(b) for b in bands]
        except (TypeError, ValueError):
            raise InvalidInput(f"The bands of {name} must be numbers (the lower edges), e.g. [25, 35, 45, 60].") from None
        if not bands or sorted(set(bands)) != bands:
            raise InvalidInput(f"The bands of {name} must be increasing numbers, e.g. [25, 35, 45, 60].")
    labels = spec.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) and v.strip() for v in labels.values()):
        raise InvalidInput(f'The labels of {name} must map values to names, e.g. {{"1": "male", "2": "female"}}.')
    return Attribute(name, column, kind, bands, {_code(k): v.strip()[:80] for k, v in labels.items()})


def parse_attributes(specs: Any) -> list[Attribute]:
    if isinstance(specs, str):
        specs = [s for s in (p.strip() for p in specs.split(",")) if s]
    if not isinstance(specs, list) or not specs:
        raise InvalidInput("Name at least one sensitive attribute (a column such as SEX or AGE).")
    out = [parse_attribute(s) for s in specs]
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise InvalidInput(f"Sensitive attributes are named twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}.")
    return out


def _code(value: Any) -> str:
    """A value as the text its group is known by: 2.0 and 2 and "2" are all "2"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and "e" not in text.lower() else text


def _edge(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def band_labels(bands: list[float]) -> list[str]:
    """[25, 35, 60] → ['under 25', '25–34', '35–59', '60+'] (whole-number edges read as ages do)."""
    whole = all(float(b).is_integer() for b in bands)
    out = [f"under {_edge(bands[0])}"]
    for lo, hi in zip(bands, bands[1:]):
        out.append(f"{_edge(lo)}–{_edge(hi - 1)}" if whole else f"{_edge(lo)} to <{_edge(hi)}")
    out.append(f"{_edge(bands[-1])}+")
    return out


def default_bands(column: str, values) -> list[float]:
    """Age-like columns: AGE_BANDS; other numbers: their quartiles, rounded to two significant digits."""
    import numpy as np

    if "age" in column.lower():
        return list(AGE_BANDS)
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [0.0]
    edges = sorted({float(f"{q:.2g}") for q in np.quantile(v, [0.25, 0.5, 0.75])})
    return edges or [float(v.min())]


def groups_of(attribute: Attribute, values) -> tuple[list[str], list[str]]:
    """The group of each value, and the groups in their natural order (bands low to high, codes sorted)."""
    import numpy as np
    import pandas as pd

    s = pd.Series(values).reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    banded = attribute.kind == "numeric" or attribute.bands is not None or (
        attribute.kind == "auto" and numeric and s.nunique(dropna=True) > MAX_CATEGORIES)
    if banded:
        if not numeric:
            s = pd.to_numeric(s, errors="coerce")
        bands = attribute.bands or default_bands(attribute.column, s)
        names = band_labels(bands)
        idx = np.searchsorted(np.asarray(bands, dtype=float), s.to_numpy(dtype=float), side="right")
        out = np.where(s.isna().to_numpy(), MISSING, np.asarray(names, dtype=object)[np.minimum(idx, len(names) - 1)])
        order = names + [MISSING]
    else:
        uniques = pd.unique(s.dropna())  # a few distinct codes: each is named once, then looked up per row
        named = {u: _code(u) for u in uniques}
        codes = s.map(named).fillna(MISSING)
        out = codes.map(lambda c: attribute.labels.get(c, c)).to_numpy(dtype=object) if len(named) > 50 else \
            codes.map({c: attribute.labels.get(c, c) for c in set(named.values()) | {MISSING}}).to_numpy(dtype=object)
        seen = sorted(set(named.values()), key=lambda c: (0, float(c)) if _is_number(c) else (1, c))
        order = list(dict.fromkeys([attribute.labels.get(c, c) for c in seen] + [MISSING]))
    present = set(out)
    return [str(x) for x in out], [g for g in order if g in present]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- the declaration on the model card --------------------------------------------------------------------------

def settings_tx(con, model: str) -> FairnessSettings | None:
    m = get_model_tx(con, model)
    r = con.execute("SELECT CAST(attributes AS VARCHAR), positive_is, prediction_phrase, min_group_size, "
                    "attribute_dataset_id, id_column, updated_by, updated_at FROM fairness_settings WHERE model_id = ?",
                    [m.id]).fetchone()
    if r is None:
        return None
    return FairnessSettings(model, [parse_attribute(a) for a in json.loads(r[0])], *r[1:])


def get_settings(store, model: str) -> FairnessSettings | None:
    """The model card's fairness declaration, or None when it declares no sensitive attribute. Raises NotFound."""
    with store.read() as con:
        return settings_tx(con, model)


def declare(store, actor: Identity, model: str, attributes: Any, *, positive_is: str = "adverse",
            prediction_phrase: str = "predicted positive", min_group_size: int = 50,
            attribute_file=None, id_column: str | None = None) -> FairnessSettings:
    """Declare (or replace) the sensitive attributes on a model's card.

    `attribute_file` (a path or DataFrame) holds attributes the model does not take as inputs, one row per
    `id_column` value (a row id of the data, or the request id of logged predictions); it is stored as a dataset.
    Needs `register-model` (model cards). Records `fairness.declare` (and `dataset.register` for the file).
    Raises InvalidInput, Forbidden, NotFound.
    """
    from ..registry.datasets import read_table, register_dataset_tx

    attrs = parse_attributes(attributes)
    if positive_is not in POSITIVE_IS:
        raise InvalidInput(f"A positive prediction is either adverse or favourable; got {positive_is!r}.")
    phrase = (prediction_phrase or "").strip()
    if not phrase or len(phrase) > 60 or "\n" in phrase:
        raise InvalidInput("Say in a few words what a positive prediction means, e.g. 'predicted to default'.")
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) or not 1 <= min_group_size <= 100_000:
        raise InvalidInput(f"The smallest group to judge must be a whole number from 1 to 100000; got {min_group_size!r}.")
    frame = None
    if attribute_file is not None:
        frame = attribute_file if not isinstance(attribute_file, (str, bytes)) and hasattr(attribute_file, "columns") \
            else read_table(attribute_file)
        if not id_column or id_column not in frame.columns:
            raise InvalidInput(f"The attribute file must have the id column {id_column!r} (--id-column) to join by.")
        if frame[id_column].duplicated().any():
            raise InvalidInput(f"The attribute file repeats ids in {id_column}; give one row per id.")
    with store.transaction() as con:
        require(actor, "register-model", FairnessDeclared, model)
        m = get_model_tx(con, model)
        columns = set(m.input_columns) | (set(frame.columns) if frame is not None else set())
        if frame is None:
            before = settings_tx(con, model)
            dataset_id = before.attribute_dataset_id if before else None
            id_column = before.id_column if before else None
            if dataset_id is not None:
                from ..registry.datasets import get_dataset_by_id
                columns |= {c["name"] for c in get_dataset_by_id(con, dataset_id).schema}
        else:
            ds = register_dataset_tx(con, store, actor, frame.reset_index(drop=True), f"{model}-sensitive-attributes",
                                     str(attribute_file) if isinstance(attribute_file, (str, bytes)) else "dataframe")
            dataset_id = ds.id
        missing = [a.column for a in attrs if a.column not in columns]
        if missing:
            raise InvalidInput(f"{model}'s inputs{' and attribute file' if dataset_id else ''} have no column "
                               f"{', '.join(missing)}; give an attribute file joined by id for attributes the model "
                               "does not take as inputs.")
        con.execute("DELETE FROM fairness_settings WHERE model_id = ?", [m.id])
        con.execute("INSERT INTO fairness_settings (model_id, attributes, positive_is, prediction_phrase, "
                    "min_group_size, attribute_dataset_id, id_column, updated_by, updated_at) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [m.id, canonical_json([a.as_dict() for a in attrs]), positive_is, phrase, min_group_size,
                     dataset_id, id_column, actor.email, utcnow()])
        record(con, actor, FairnessDeclared(model, [a.as_dict() for a in attrs], positive_is, min_group_size,
                                            "" if dataset_id is None else str(dataset_id), id_column or ""))
        return settings_tx(con, model)


def attribute_frame(store, settings: FairnessSettings | None):
    """The declared attribute file as a DataFrame (None when the card declares none). Raises NotFound."""
    from ..registry.datasets import get_dataset_by_id, load_frame

    if settings is None or settings.attribute_dataset_id is None:
        return None
    with store.read() as con:
        ds = get_dataset_by_id(con, settings.attribute_dataset_id)
    try:
        return load_frame(store, ds)
    except NotFound as e:
        raise NotFound(f"The attribute file of {settings.model} is missing from the store: {e}") from e


def declared_models(store) -> list[str]:
    """The models whose card declares sensitive attributes, by name."""
    with store.read() as con:
        return [r[0] for r in con.execute("SELECT m.name FROM fairness_settings f JOIN models m ON m.id = f.model_id "
                                          "ORDER BY m.name").fetchall()]
