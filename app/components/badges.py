"""Text badges for risk tiers and statuses, used the same way on every page."""

RISK = {"high": "🔴 high", "medium": "🟠 medium", "low": "🟢 low"}
MODEL_STATUS = {"production": "🚀 production", "staging": "🧪 staging", "development": "🛠️ development",
                "retired": "📦 retired", "draft": "📝 draft"}
VERSION_STATUS = {"registered": "🛠️ registered", "staging": "🧪 staging", "challenger": "🥈 challenger",
                  "production": "🚀 production", "retired": "📦 retired", "archived": "🗄️ archived"}
RISK_COLORS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#2ca02c"}
STATUS_COLORS = {"production": "#1f77b4", "staging": "#9467bd", "development": "#8c8c8c",
                 "retired": "#c7c7c7", "draft": "#e0e0e0"}


def risk(tier: str) -> str:
    return RISK.get(tier, tier)


def model_status(status: str) -> str:
    return MODEL_STATUS.get(status, status)


def version_status(status: str) -> str:
    return VERSION_STATUS.get(status, status)
