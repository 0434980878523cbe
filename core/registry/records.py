"""Records of the registry (models, versions, search results), validation and row mapping.
"""

from __future__ import annotations

import json
import re
from dataclasses import field
from typing import Any

from ..errors import InvalidInput, NotFound
from .datasets import slug
from ..frozen import frozen_record



CARD_FIELDS = ("intended_use", "limitations", "training_data_summary", "ethical_considerations", "caveats")


# The card's feature dictionary (input column -> business label) is optional and not one of CARD_FIELDS: card
# completeness and the tiers' required card fields count the text fields only.
FEATURE_DICTIONARY = "feature_dictionary"


EDITABLE_FIELDS = ("description", "owner", "business_unit", "use_case", "risk_tier", "tags") + CARD_FIELDS + (
    FEATURE_DICTIONARY,)


MAX_LABEL = 80


MODEL_STATUSES = ("production", "staging", "development", "retired", "draft")


VERSION_STATUSES = ("registered", "staging", "challenger", "production", "retired", "archived")


_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@frozen_record
class ModelVersion:
    id: int
    model: str
    version: int
    sha256: str
    artifact_format: str
    artifact_size: int
    flavour: str
    estimator: str
    task: str
    signature: list[dict[str, str]]
    target: str
    classes: list[Any] | None
    train_dataset_id: int | None
    test_dataset_id: int | None
    parameters: dict[str, Any]
    metrics: dict[str, float]
    code_ref: str | None
    status: str
    created_at: Any
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def feature_names(self) -> list[str]:
        return [c["name"] for c in self.signature]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "sha256": self.sha256, "status": self.status,
                "created_at": iso(self.created_at), "created_by": self.created_by, "metrics": self.metrics,
                "signature": self.signature, "target": self.target, "task": self.task,
                "estimator": self.estimator, "code_ref": self.code_ref, "parameters": self.parameters}


@frozen_record
class Model:
    id: int
    name: str
    description: str
    owner: str
    business_unit: str
    use_case: str
    risk_tier: str
    card: dict[str, str]
    tags: list[str]
    created_at: Any
    created_by: str
    updated_at: Any
    versions: list[ModelVersion] = field(default_factory=list)
    feature_dictionary: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> ModelVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def input_columns(self) -> list[str]:
        """Every input column any version of the model reads, in the order they first appear."""
        return list(dict.fromkeys(c for v in self.versions for c in v.feature_names))

    def feature_label(self, column: str) -> str:
        """The business label of an input column from the feature dictionary, else the column's own name."""
        return self.feature_dictionary.get(column) or column

    def card_completeness(self) -> float:
        filled = sum(1 for f in CARD_FIELDS if self.card.get(f, "").strip())
        return filled / len(CARD_FIELDS)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "risk_tier": self.risk_tier,
                "description": self.description, "business_unit": self.business_unit,
                "use_case": self.use_case, "tags": self.tags, "card": self.card,
                "feature_dictionary": self.feature_dictionary, "created_at": iso(self.created_at), "created_by": self.created_by,
                "versions": [v.as_dict() for v in self.versions]}


@frozen_record
class ModelSummary:
    name: str
    owner: str
    risk_tier: str
    status: str
    latest_version: int | None
    versions: int
    business_unit: str
    description: str
    tags: list[str]
    updated_at: Any
    card_completeness: float = 0.0  # the share of the model card's fields filled in, 0 to 1

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "risk_tier": self.risk_tier, "status": self.status,
                "latest_version": self.latest_version, "versions": self.versions,
                "business_unit": self.business_unit, "description": self.description, "tags": self.tags,
                "updated_at": iso(self.updated_at), "card_completeness": round(self.card_completeness, 4)}


@frozen_record
class SearchResult:
    items: list[ModelSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 64:
        suggestion = slug(str(name))[:64]
        raise InvalidInput(
            f"Model name {name!r} is not lowercase-kebab (letters, digits and single dashes, "
            f"at most 64 characters); try {suggestion!r}."
        )
    return name



def parse_ref(ref: str) -> tuple[str, int | None]:
    """'name' or 'name:3' → (name, version or None)."""
    name, _, ver = ref.partition(":")
    if not ver:
        return name, None
    if not ver.isdigit():
        raise InvalidInput(f"{ref!r} is not MODEL or MODEL:VERSION (the version is a whole number).")
    return name, int(ver)


MODEL_COLUMNS = ("id, name, description, owner, business_unit, use_case, risk_tier, intended_use, limitations,"
               " training_data_summary, ethical_considerations, caveats, tags, created_at, created_by, updated_at,"
               " CAST(feature_dictionary AS VARCHAR)")


VERSION_COLUMNS = ("v.id, m.name, v.version, v.sha256, v.artifact_format, v.artifact_size, v.flavour, v.estimator,"
                 " v.task, CAST(v.signature AS VARCHAR), v.target, CAST(v.classes AS VARCHAR), v.train_dataset_id,"
                 " v.test_dataset_id, CAST(v.parameters AS VARCHAR), CAST(v.metrics AS VARCHAR), v.code_ref,"
                 " v.status, v.created_at, v.created_by")


def version_row(r) -> ModelVersion:
    return ModelVersion(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]), r[10],
                        json.loads(r[11]) if r[11] else None, r[12], r[13], json.loads(r[14]),
                        json.loads(r[15]), r[16], r[17], r[18], r[19])


def model_row(r, versions: list[ModelVersion]) -> Model:
    card = dict(zip(CARD_FIELDS, r[7:12]))
    return Model(r[0], r[1], r[2], r[3], r[4], r[5], r[6], card, list(r[12] or []), r[13], r[14], r[15], versions,
                 json.loads(r[16]) if r[16] else {})


def validate_feature_dictionary(model: str, columns: list[str], dictionary: Any) -> dict[str, str]:
    """A feature dictionary checked against the model's input columns: labels trimmed, in column order.

    Raises InvalidInput, in one sentence, for anything but a mapping of known input columns to short one-line
    labels. An empty mapping clears the dictionary.
    """
    if not isinstance(dictionary, dict):
        raise InvalidInput(f"The feature dictionary of {model} must map input columns to business labels, "
                           'e.g. {"LIMIT_BAL": "Credit limit"}.')
    if dictionary and not columns:
        raise InvalidInput(f"{model} has no registered version yet, so its input columns are unknown; register a "
                           "version first, then give its feature dictionary.")
    unknown = [str(k) for k in dictionary if not isinstance(k, str) or k not in columns]
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5
                                                                else "")
        known = ", ".join(columns[:12]) + (", …" if len(columns) > 12 else "")
        raise InvalidInput(f"The feature dictionary of {model} names {shown}, which {'is not an input column' if len(unknown) == 1 else 'are not input columns'} "
                           f"of any version; its input columns are {known}.")
    out = {}
    for column in columns:
        if column not in dictionary:
            continue
        label = dictionary[column]
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > MAX_LABEL \
                or any(not ch.isprintable() for ch in label.strip()):
            raise InvalidInput(f"Give the label of {column} in the feature dictionary of {model} as one line of "
                               f"text of 1 to {MAX_LABEL} characters.")
        out[column] = label.strip()
    return out


def load_feature_dictionary(value: str) -> dict[str, Any]:
    """A feature dictionary from JSON text, a .json file or a two-column CSV file (column,label; a header row
    'column,label' may come first). Raises InvalidInput."""
    import csv
    from pathlib import Path

    text = value
    path = Path(value)
    if value.lower().endswith((".json", ".csv")):
        if not path.is_file():
            raise InvalidInput(f"Feature dictionary file {value} not found.")
        text = path.read_text(encoding="utf-8-sig")
        if value.lower().endswith(".csv"):
            rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
            if rows and [c.strip().lower() for c in rows[0]] == ["column", "label"]:
                rows = rows[1:]
            bad = next((i for i, r in enumerate(rows, 1) if len(r) != 2), None)
            if bad is not None:
                raise InvalidInput(f"Feature dictionary file {path.name}: row {bad} does not have exactly two cells "
                                   "(column,label).")
            return {r[0].strip(): r[1] for r in rows}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"The feature dictionary is not valid JSON ({e.msg} at line {e.lineno}); give an object "
                           'like {"LIMIT_BAL": "Credit limit"}, a .json file or a two-column .csv file.') from e
    if not isinstance(parsed, dict):
        raise InvalidInput('The feature dictionary must be a JSON object like {"LIMIT_BAL": "Credit limit"}.')
    return parsed


def model_not_found(name: str) -> NotFound:
    return NotFound(f"Model {name} not found. See 'modelgov models list'.")
