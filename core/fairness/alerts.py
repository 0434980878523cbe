"""Fairness in production: an alert when a recent window of a live version's traffic crosses the tier's minimum
demographic-parity ratio (the same threshold the approval check holds the hold-out data to).
"""

from __future__ import annotations

from typing import Any

from ..audit import record, utcnow
from ..errors import Forbidden
from ..events import AlertRaised
from ..governance.live import active
from ..governance.policy import policy_tx
from ..identity import Identity, allowed, require
from ..registry.catalog import get_model_tx
from .attributes import get_settings
from .report import fairness_in_production

RECENT_DAYS = 7


def check_fairness(store, actor: Identity, model: str, environment: str = "production",
                   days: int = RECENT_DAYS) -> dict[str, Any]:
    """Measure each live version's last `days` days of traffic in `environment` and raise one `fairness` alert per
    attribute whose demographic-parity ratio (over groups large enough to judge) is below the tier's minimum.

    Returns {threshold, versions: [{version, role, attributes: [{attribute, demographic_parity_ratio, sentence}]}],
    alerts_raised}. Nothing is measured when the card declares no attribute or the tier sets no minimum.
    Needs `store-monitoring`. Records `alert.raise`. Raises Forbidden (before any work), NotFound.
    """
    from .words import attribute_sentence

    if not allowed(actor, "store-monitoring"):
        with store.transaction():
            who = actor.email if actor else "anonymous"
            raise Forbidden(f"{who} may not raise monitoring alerts; a data scientist runs the monitoring checks.",
                            actor=who, action=AlertRaised.action, entity_type="model", entity_id=model)
    settings = get_settings(store, model)
    with store.read() as con:
        threshold = policy_tx(con, get_model_tx(con, model).risk_tier).min_parity_ratio
    out: dict[str, Any] = {"threshold": threshold, "versions": [], "alerts_raised": []}
    if settings is None or threshold is None:
        out["skipped"] = ("no sensitive attributes are declared on the model card" if settings is None
                          else "the tier sets no minimum demographic-parity ratio")
        return out
    candidates = []
    for d in active(store, model, environment):
        try:
            rep = fairness_in_production(store, actor, model, d.version, environment=environment, days=days,
                                         bootstrap=0)  # the alert judges the estimate
        except Exception as e:  # noqa: BLE001 - one version without logs does not stop the others
            from ..errors import CoreError
            if not isinstance(e, CoreError):
                raise
            out["versions"].append({"version": d.version, "role": d.role, "error": str(e)})
            continue
        attrs = []
        for a in rep["attributes"]:
            ratio = a["demographic_parity_ratio"]
            attrs.append({"attribute": a["attribute"], "demographic_parity_ratio": ratio,
                          "sentence": attribute_sentence(rep, a)})
            if ratio is not None and ratio < threshold and d.role == "champion":
                candidates.append((d.version, a["attribute"], ratio,
                                   f"{a['attribute']}: demographic-parity ratio {ratio:.2f} below {threshold:.2f} over "
                                   f"the last {days} days of {environment} traffic ({rep['rows']:,} predictions). "
                                   + attribute_sentence(rep, a)))
        out["versions"].append({"version": d.version, "role": d.role, "rows": rep["rows"], "attributes": attrs})
    if not candidates:
        return out
    with store.transaction() as con:
        require(actor, "store-monitoring", AlertRaised, model)
        m = get_model_tx(con, model)
        for version, attribute, ratio, message in candidates:
            metric = f"demographic_parity_ratio:{attribute}"
            if con.execute("SELECT id FROM alerts WHERE model_id = ? AND kind = 'fairness' AND metric = ? AND "
                           "status <> 'resolved'", [m.id, metric]).fetchall():
                continue
            aid = con.execute("INSERT INTO alerts (model_id, version, environment, kind, severity, message, metric, "
                              "value, threshold, status, created_at) VALUES (?, ?, ?, 'fairness', 'high', ?, ?, ?, ?, "
                              "'open', ?) RETURNING id", [m.id, version, environment, message, metric, ratio,
                                                           threshold, utcnow()]).fetchall()[0][0]
            out["alerts_raised"].append(aid)
            record(con, actor, AlertRaised(aid, model, "fairness", message))
    return out
