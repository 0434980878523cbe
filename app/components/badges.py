"""Badges for risk tiers and statuses, used the same way on every page.

Tables get plain words (the grid is a canvas and not every machine has an
emoji font); markdown gets coloured `:color-badge[...]` labels.
"""

RISK_COLORS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#2ca02c"}
STATUS_COLORS = {"production": "#1f77b4", "staging": "#9467bd", "development": "#8c8c8c",
                 "retired": "#c7c7c7", "draft": "#e0e0e0"}


_BADGE_COLOR = {"high": "red", "medium": "orange", "low": "green", "production": "blue", "staging": "violet",
                "challenger": "violet", "development": "gray", "registered": "gray", "retired": "gray",
                "archived": "gray", "draft": "gray"}


def risk(tier: str) -> str:
    """Plain text for tables."""
    return f"{tier} risk"


def model_status(status: str) -> str:
    return status


def version_status(status: str) -> str:
    return status


def md(label: str, key: str | None = None) -> str:
    """A coloured markdown badge; `label` must not come from user input unescaped."""
    color = _BADGE_COLOR.get(key or label, "gray")
    return f":{color}-badge[{label}]"


def health(h: dict | None) -> str:
    """Plain text for tables: 'green 91', 'amber 74', 'not monitored yet' (a live champion without a snapshot)
    or 'not monitored' (nothing live)."""
    if not h:
        return "not monitored"
    return "not monitored yet" if h.get("score") is None else f"{h['status']} {h['score']}"


SEVERITY_COLOR = {"high": "red", "medium": "orange", "low": "green"}


def severity(level: str) -> str:
    """An alert's severity in markdown: a bell and coloured words ('high severity'), not a pill, so it is not read
    as a risk-tier badge (no emoji: not every browser has the font)."""
    return f":{SEVERITY_COLOR.get(level, 'gray')}[:material/notifications_active: {level} severity]"


# Needs attention: coloured words with an icon, never a pill, and never the words high / medium / low, so a
# severity cannot be read as a risk tier (risk tiers are `md(tier)` badges).
ATTENTION = {"action": ("red", "error", "Action needed"), "watch": ("blue", "visibility", "Watch")}


def attention(level: str) -> str:
    """Markdown for an attention item's severity: ':red[:material/error: **Action needed**]'."""
    color, icon, words = ATTENTION.get(level, ("gray", "info", level))
    return f":{color}[:material/{icon}: **{words}**]"
