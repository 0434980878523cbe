"""Records of the registry (models, versions, search results), validation and row mapping.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, NotFound
from .datasets import slug



CARD_FIELDS = ("intended_use", "limitations", "training_data_summary", "ethical_considerations", "caveats")


EDITABLE_FIELDS = ("description", "owner", "business_unit", "use_case", "risk_tier", "tags") + CARD_FIELDS


MODEL_STATUSES = ("production", "staging", "development", "retired", "draft")


VERSION_STATUSES = ("registered", "staging", "challenger", "production", "retired", "archived")


_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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

    @property
    def latest(self) -> ModelVersion | None:
        return self.versions[-1] if self.versions else None

    def card_completeness(self) -> float:
        filled = sum(1 for f in CARD_FIELDS if self.card.get(f, "").strip())
        return filled / len(CARD_FIELDS)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "risk_tier": self.risk_tier,
                "description": self.description, "business_unit": self.business_unit,
                "use_case": self.use_case, "tags": self.tags, "card": self.card,
                "created_at": iso(self.created_at), "created_by": self.created_by,
                "versions": [v.as_dict() for v in self.versions]}


@dataclass(frozen=True)
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

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "owner": self.owner, "risk_tier": self.risk_tier, "status": self.status,
                "latest_version": self.latest_version, "versions": self.versions,
                "business_unit": self.business_unit, "description": self.description, "tags": self.tags,
                "updated_at": iso(self.updated_at)}


@dataclass(frozen=True)
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
               " training_data_summary, ethical_considerations, caveats, tags, created_at, created_by, updated_at")


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
    return Model(r[0], r[1], r[2], r[3], r[4], r[5], r[6], card, list(r[12] or []), r[13], r[14], r[15], versions)


def model_not_found(name: str) -> NotFound:
    return NotFound(f"Model {name} not found. See 'modelgov models list'.")
