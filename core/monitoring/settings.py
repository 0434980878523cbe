"""Per-model drift settings (methods, thresholds, windows).
"""

from __future__ import annotations

import json
from typing import Any

from ..audit import canonical_json, record, utcnow
from ..events import MonitoringConfigured
from ..drift import report
from ..identity import Identity, require
from ..registry.catalog import get_model_tx


def get_config(store, model: str) -> report.DriftConfig:
    with store.read() as con:
        return get_config_tx(con, get_model_tx(con, model).id)


def get_config_tx(con, model_id: int) -> report.DriftConfig:
    row = con.execute("SELECT CAST(config AS VARCHAR) FROM monitoring_config WHERE model_id = ?", [model_id]).fetchall()
    return report.DriftConfig.from_dict(json.loads(row[0][0]) if row else None, strict=False)


def set_config(store, actor: Identity, model: str, config: dict[str, Any]) -> report.DriftConfig:
    cfg = report.DriftConfig.from_dict(config)
    with store.transaction() as con:
        require(actor, "set-policy", MonitoringConfigured, model)
        m = get_model_tx(con, model)
        con.execute("INSERT INTO monitoring_config VALUES (?, ?, ?, ?) ON CONFLICT (model_id) DO UPDATE SET config = "
                    "excluded.config, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    [m.id, canonical_json(cfg.as_dict()), actor.email, utcnow()])
        record(con, actor, MonitoringConfigured(model, **cfg.as_dict()))
    return cfg
