"""The Overview's pictures of the portfolio, in Markdown: drawn with the page, with no chart library to load.

The landing page is what everyone waits for first, so it draws nothing that makes the browser fetch and start a
chart or grid library (Vega 0.8 MB, the data grid 1.2 MB of script; benchmarks/bench_first_load.py). Its two
pictures are a risk grid (models by risk tier and status, as a risk team's heat map reads) and a health line
(the live models by health colour); every model's row is on the Inventory page.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from app.components.badges import STATUS_COLORS, md
from core.vocabulary import RISK_TIERS_HIGHEST_FIRST

# Health colours as Streamlit badge colours; the words are core's (monitoring.health).
HEALTH_BADGES = {"red": "red", "amber": "orange", "green": "green", "unknown": "gray"}


def risk_grid(df: pd.DataFrame) -> str:
    """A Markdown table: a row per risk tier (highest first), a column per model status (the pages' order), the number
    of models in each cell and a total per row; a dash for none. `df` has a `status` and a `risk_tier` per model."""
    counts = Counter(zip(df["risk_tier"], df["status"]))  # a few hundred models at most: no group-by needed
    statuses = [s for s in STATUS_COLORS if any(s == st for _, st in counts)]
    tiers = [t for t in RISK_TIERS_HIGHEST_FIRST if any(t == tier for tier, _ in counts)]
    lines = ["| Risk tier | " + " | ".join(s.capitalize() for s in statuses) + " | All |",
             "|:--|" + "--:|" * (len(statuses) + 1)]
    for tier in tiers:
        cells = [int(counts.get((tier, s), 0)) for s in statuses]
        lines.append(f"| {md(f'{tier} risk', tier)} | " + " | ".join(f"**{n}**" if n else "–" for n in cells)
                     + f" | {sum(cells)} |")
    return "\n".join(lines)


def health_counts(health: dict[str, dict]) -> dict[str, int]:
    """How many models live in production are green, amber, red, or not monitored yet (`health` as
    `core.monitoring.health.health` gives it: the live production champion's health, for each model that has one)."""
    out = {"green": 0, "amber": 0, "red": 0, "unknown": 0}
    for rec in health.values():
        out[rec["status"] if rec.get("status") in out else "unknown"] += 1
    return out


def health_line(counts: dict[str, int]) -> str:
    """The health counts as coloured badges: ':green-badge[2 green] :orange-badge[1 amber] …' (zeros left out)."""
    words = {"green": "green", "amber": "amber", "red": "red", "unknown": "not monitored yet"}
    parts = [f":{HEALTH_BADGES[k]}-badge[{n} {words[k]}]" for k, n in counts.items() if n]
    return " ".join(parts)
