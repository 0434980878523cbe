"""Audit events as typed records: one dataclass per thing that can happen, with its fields.

Each event names its `action` (what the audit trail's `action` column holds, also for a refused
attempt at the same action, so one filter finds both), the kind of entity it is about, and which of
its fields identifies that entity. The other fields are the event's payload, hashed into the chain.
Core functions build these records; `audit.record(tx, actor, event)` writes them.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, ClassVar

from .frozen import frozen_record as event  # 34 frozen dataclasses, none compiling code of its own


@event
class Event:
    action: ClassVar[str] = ""
    entity_type: ClassVar[str] = ""
    entity_field: ClassVar[str] = ""          # the field whose value is the entity id
    entity_in_payload: ClassVar[bool] = False  # whether that field is repeated in the payload

    @property
    def entity_id(self) -> str:
        return str(getattr(self, self.entity_field))

    def payload(self) -> dict[str, Any]:
        skip = set() if self.entity_in_payload else {self.entity_field}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


# --- people and settings ---------------------------------------------------------------------------------

@event
class RoleGranted(Event):
    action, entity_type, entity_field = "user.grant", "user", "email"
    email: str
    role: str


@event
class RoleRevoked(Event):
    action, entity_type, entity_field = "user.revoke", "user", "email"
    email: str
    role: str


@event
class UserSignedIn(Event):
    action, entity_type, entity_field = "user.sign_in", "user", "email"
    email: str
    from_provider: list[str]
    granted: list[str]
    auto_viewer: bool
    roles: list[str]


@event
class SettingUpdated(Event):
    action, entity_type, entity_field = "setting.update", "setting", "key"
    key: str
    before: Any
    after: Any


@event
class TokenCreated(Event):
    action, entity_type, entity_field, entity_in_payload = "token.create", "api_token", "token_id", False
    token_id: str
    owner: str
    kind: str
    scope: list[str]
    expires_at: str


@event
class TokenRevoked(Event):
    action, entity_type, entity_field = "token.revoke", "api_token", "token_id"
    token_id: str
    owner: str


# --- registry ----------------------------------------------------------------------------------------------

@event
class ModelCreated(Event):
    action, entity_type, entity_field = "model.create", "model", "name"
    name: str
    owner: str = ""
    risk_tier: str = ""
    tags: list[str] | None = None


@event
class ModelUpdated(Event):
    action, entity_type, entity_field = "model.update", "model", "name"
    name: str
    changes: dict[str, Any] | None = None


@event
class RiskTierChanged(Event):
    """A risk officer changed a model's risk tier (a governance decision, with its reason)."""

    action, entity_type, entity_field, entity_in_payload = "model.set_risk_tier", "model", "model", True
    model: str
    from_tier: str = ""
    to_tier: str = ""
    reason: str = ""


@event
class VersionRegistered(Event):
    action, entity_type, entity_field = "version.register", "model_version", "ref"
    ref: str
    sha256: str = ""
    metrics: dict[str, float] | None = None
    train_dataset: str | None = None
    test_dataset: str | None = None
    code_ref: str | None = None


@event
class MlflowVersionImported(Event):
    """A registered MLflow model version brought in as `ref` (recorded with its `version.register`)."""
    action, entity_type, entity_field = "version.import_mlflow", "model_version", "ref"
    ref: str
    tracking_uri: str = ""
    mlflow_model: str = ""
    mlflow_version: int = 0
    run_id: str | None = None
    aliases: list[str] | None = None


@event
class DatasetRegistered(Event):
    action, entity_type, entity_field = "dataset.register", "dataset", "ref"
    ref: str
    location: str = ""
    fingerprint: str = ""
    rows: int = 0


# --- monitoring --------------------------------------------------------------------------------------------

@event
class PredictionsLogged(Event):
    action, entity_type, entity_field = "predictions.log", "model_version", "ref"
    ref: str
    model: str = ""
    version: int = 0
    source: str = ""
    rows: int = 0
    rejected: int = 0
    reasons: dict[str, int] | None = None


@event
class PredictionsScored(PredictionsLogged):
    action = "predictions.score"


@event
class OutcomesLogged(Event):
    action, entity_type, entity_field, entity_in_payload = "outcomes.log", "model", "model", True
    model: str
    source: str = ""
    rows: int = 0
    rejected: int = 0
    reasons: dict[str, int] | None = None


@event
class MonitoringConfigured(Event):
    action, entity_type, entity_field, entity_in_payload = "monitoring.configure", "model", "model", True
    model: str
    columns: dict[str, Any] | None = None
    drift_share: float = 0.5


@event
class FairnessDeclared(Event):
    """A model card's sensitive attributes (and how fairness is read for the model) were declared or changed."""
    action, entity_type, entity_field, entity_in_payload = "fairness.declare", "model", "model", True
    model: str
    attributes: list[Any] | None = None
    positive_is: str = "adverse"
    min_group_size: int = 0
    attribute_dataset: str = ""
    id_column: str = ""


@event
class MonitoringSnapshotStored(Event):
    action, entity_type, entity_field, entity_in_payload = "monitoring.snapshot", "model", "model", True
    model: str
    version: int = 0
    environment: str = ""
    rows: int = 0
    drifted_share: float = 0.0


@event
class AlertRaised(Event):
    action, entity_type, entity_field = "alert.raise", "alert", "alert_id"
    alert_id: int
    model: str = ""
    kind: str = ""
    message: str = ""


@event
class AlertAcknowledged(Event):
    action, entity_type, entity_field = "alert.acknowledge", "alert", "alert_id"
    alert_id: int
    note: str = ""


@event
class AlertResolved(AlertAcknowledged):
    action = "alert.resolve"


# --- explanations, comparisons, lineage ----------------------------------------------------------------------

@event
class ExplanationComputed(Event):
    action, entity_type, entity_field = "explanation.compute", "model_version", "ref"
    ref: str
    model: str = ""
    version: int = 0
    explainer: str = ""
    rows: int = 0
    data: str = ""
    additivity_max_error: float | None = None
    additivity_ok: bool | None = None


@event
class ComparisonRecorded(Event):
    action, entity_type, entity_field = "comparison.record", "model_version", "challenger"
    challenger: str
    comparison_id: int = 0
    champion: str = ""
    source: str = ""
    data_fingerprint: str = ""
    result_sha256: str = ""
    verdict_summary: str | None = None


@event
class LineageImported(Event):
    action, entity_type, entity_field = "lineage.import", "lineage", "name"
    name: str
    details: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        return dict(self.details or {})


@event
class LineageNodeAdded(Event):
    action, entity_type, entity_field = "lineage.add_node", "lineage_node", "node_id"
    node_id: str
    kind: str = ""


@event
class LineageEdgeAdded(Event):
    action, entity_type, entity_field = "lineage.add_edge", "lineage_edge", "edge"
    edge: str
    relation: str = ""


# --- governance --------------------------------------------------------------------------------------------

@event
class PolicyUpdated(Event):
    action, entity_type, entity_field = "policy.update", "policy", "risk_tier"
    risk_tier: str
    changes: dict[str, Any] | None = None


@event
class DeploymentRequested(Event):
    action, entity_type, entity_field = "approval.request", "approval", "request_id"
    request_id: Any
    model: str = ""
    version: int = 0
    environment: str = ""
    role: str = ""
    reason: str = ""
    evidence_sha256: str = ""
    checks_failed: int = 0


@event
class DeploymentApproved(Event):
    action, entity_type, entity_field = "approval.approve", "approval", "request_id"
    request_id: Any
    model: str = ""
    version: int = 0
    environment: str = ""
    role: str = ""
    comment: str = ""
    override_reason: str | None = None
    failing_checks: list[str] | None = None
    status: str = ""
    evidence_sha256: str = ""


@event
class DeploymentRejected(DeploymentApproved):
    action = "approval.reject"


@event
class ApprovalExpired(Event):
    action, entity_type, entity_field = "approval.expire", "approval", "request_id"
    request_id: Any


@event
class Deployed(Event):
    action, entity_type, entity_field = "deploy", "approval", "request_id"
    request_id: Any
    model: str = ""
    version: int = 0
    environment: str = ""
    role: str = ""
    deployment_id: int = 0
    ended: list[dict[str, Any]] | None = None


@event
class RolledBack(Event):
    action, entity_type, entity_field, entity_in_payload = "rollback", "model", "model", True
    model: str
    environment: str = ""
    reason: str = ""
    from_version: int = 0
    to_version: int = 0
    deployment_id: int = 0


@event
class Recertified(Event):
    action, entity_type, entity_field, entity_in_payload = "recertify", "model", "model", True
    model: str
    environment: str = ""
    version: int = 0
    comment: str = ""
    next_due: str = ""


# --- notifications ------------------------------------------------------------------------------------------

@event
class HookCreated(Event):
    """A webhook or e-mail subscription was added. Never its secret: the URL as `hooks.redact_url` shows it."""
    action, entity_type, entity_field = "hook.create", "notification_hook", "hook_id"
    hook_id: int
    url: str = ""
    format: str = ""
    events: list[str] | None = None
    models: list[str] | None = None
    tiers: list[str] | None = None
    signed: bool = False


@event
class HookRemoved(Event):
    action, entity_type, entity_field = "hook.remove", "notification_hook", "hook_id"
    hook_id: int
    cancelled_deliveries: int = 0


@event
class HookTested(Event):
    action, entity_type, entity_field = "hook.test", "notification_hook", "hook_id"
    hook_id: int
    event_id: int = 0


@event
class DeliveryRequeued(Event):
    action, entity_type, entity_field = "hook.redeliver", "notification_delivery", "delivery_id"
    delivery_id: int
    hook_id: int = 0
    event_id: int = 0
    previous_status: str = ""


# Every event type, by action (documentation and the audit page's filters read it).
EVENTS: dict[str, type[Event]] = {e.action: e for e in (
    RoleGranted, RoleRevoked, UserSignedIn, SettingUpdated, TokenCreated, TokenRevoked, ModelCreated, ModelUpdated, RiskTierChanged,
    VersionRegistered,
    DatasetRegistered, PredictionsLogged, PredictionsScored, OutcomesLogged, MonitoringConfigured, FairnessDeclared,
    MonitoringSnapshotStored, AlertRaised, AlertAcknowledged, AlertResolved, ExplanationComputed,
    ComparisonRecorded, LineageImported, LineageNodeAdded, LineageEdgeAdded, PolicyUpdated, DeploymentRequested,
    DeploymentApproved, DeploymentRejected, ApprovalExpired, Deployed, RolledBack, Recertified, HookCreated, HookRemoved,
    HookTested, DeliveryRequeued)}
