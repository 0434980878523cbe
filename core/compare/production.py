"""Champion vs challenger on production shadow traffic whose outcomes arrived.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..audit import utcnow
from ..errors import InvalidInput, NotFound
from ..governance import live
from ..monitoring import logs as monitoring_logs
from ..registry.datasets import fingerprint
from ..registry.records import ModelVersion
from ..registry.versions import class_index, get_version_by_id
from .scores import DEFAULT_BOOTSTRAP, check_bootstrap, compare_scores
from ..vocabulary import ENVIRONMENTS

_WINDOW = re.compile(r"^(\d+)\s*([hdw])$")


def parse_window(text: str | None) -> timedelta | None:
    """'24h', '7d', '4w' → timedelta; None stays None."""
    if text is None:
        return None
    m = _WINDOW.match(text.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"Window {text!r} is not a number of hours, days or weeks, e.g. 24h, 7d or 4w.")
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(hours=n) if unit == "h" else timedelta(days=n) if unit == "d" else timedelta(weeks=n)


def active_deployments(store, model: str, environment: str) -> tuple[ModelVersion | None, list[ModelVersion]]:
    """The live champion and challengers of `model` in `environment` (deployments still open)."""
    deployed = live.active(store, model, environment)  # NotFound for an unknown model
    with store.read() as con:
        versions = [(get_version_by_id(con, d.version_id), d.role) for d in deployed]
    champion = next((v for v, role in versions if role == "champion"), None)
    return champion, [v for v, role in versions if role == "challenger"]


def _shadow_pairs(store, model: str, champion: ModelVersion, challenger: ModelVersion, environment: str,
                  window: timedelta | None) -> pd.DataFrame | None:
    """Aligned (label, champion score, challenger score) rows from the prediction logs: the same request ids
    scored by both versions, whose outcomes arrived (core.monitoring.shadow_pairs)."""
    since = utcnow() - window if window else None
    return monitoring_logs.shadow_pairs(store, model, champion.version, challenger.version, environment, since)


def compare_production(store, model: str, environment: str = "production", window: str | None = None, *,
                       bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, Any]:
    """Compare the environment's champion with each challenger on logged shadow traffic with outcomes.

    Raises NotFound (model, no champion, no challenger, no labelled shadow traffic), InvalidInput.
    """
    if environment not in ENVIRONMENTS:
        raise InvalidInput(f"Environment {environment!r} is not staging or production.")
    span = parse_window(window)
    check_bootstrap(bootstrap)
    champion, challengers = active_deployments(store, model, environment)
    if champion is None:
        raise NotFound(f"No champion of {model} is deployed in {environment}; compare two versions on a hold-out "
                       f"file instead: modelgov compare {model}:A {model}:B --data FILE --target COLUMN.")
    if not challengers:
        raise NotFound(f"{model} has no challenger running in shadow in {environment}; deploy one as challenger, "
                       f"or compare on a hold-out file: modelgov compare {champion.ref} {model}:B --data FILE "
                       "--target COLUMN.")
    results = []
    for ch in challengers:
        pairs = _shadow_pairs(store, model, champion, ch, environment, span)
        if pairs is None or len(pairs) == 0:
            continue
        y, a, b = pairs["label"].to_numpy(), pairs["champion_score"].to_numpy(), pairs["challenger_score"].to_numpy()
        rows = pairs
        if champion.task == "multiclass_classification":  # labels → class positions; lists → (n, K) matrices
            if list(ch.classes or []) != list(champion.classes or []):
                raise InvalidInput(f"{champion.ref} predicts classes {champion.classes} but {ch.ref} predicts "
                                   f"{ch.classes}; they cannot be compared.")
            y = class_index(champion.classes, pairs["label"], "The logged outcomes")
            a, b = np.array([list(p) for p in a], dtype=float), np.array([list(p) for p in b], dtype=float)
            rows = pd.DataFrame({"label": pairs["label"], **{f"champion_{k}": a[:, k] for k in range(a.shape[1])},
                                 **{f"challenger_{k}": b[:, k] for k in range(b.shape[1])}})
        r = compare_scores(y, a, b, task=champion.task, bootstrap=bootstrap, seed=seed)
        r.update({"source": "production", "champion_ref": champion.ref, "challenger_ref": ch.ref,
                  "champion_sha256": champion.sha256, "challenger_sha256": ch.sha256, "segment": None,
                  "segments": [], "data": {"ref": f"shadow:{model}:{environment}:{window or 'all'}",
                                           "fingerprint": fingerprint(rows.reset_index(drop=True)),
                                           "rows": len(pairs), "target": champion.target}})
        results.append(r)
    if not results:
        span_txt = f" in the last {window}" if window else ""
        raise NotFound(f"No logged shadow traffic with outcomes for {model} in {environment}{span_txt}: log the "
                       "champion's and challengers' predictions and their outcomes first, or compare on a hold-out "
                       f"file with 'modelgov compare {champion.ref} {challengers[0].ref} --data FILE --target COLUMN'.")
    return {"model": model, "environment": environment, "window": window, "champion": champion.ref,
            "comparisons": results}

