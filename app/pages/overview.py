"""Overview: the portfolio at a glance and what needs attention."""

import streamlit as st

from app import session
from app.components import badges, charts
from app.components import monitoring as monitoring_ui
from app.components.text import escape
from core import queries
from core.errors import CoreError
from core.identity import allowed
from core.monitoring import health as monitoring_health

me = session.guard("view")
store = session.store()
st.title("Overview")
st.caption("Every model the company runs, how healthy each one is, and what needs attention.")

try:
    df = queries.portfolio(store)
except CoreError as e:
    st.error(str(e))
    st.stop()

if df.empty:
    if allowed(me, "register-model"):
        st.info("No models yet. Build the demo store with `modelgov demo`, or register your first model with "
                "`modelgov register NAME --model FILE --train-data FILE --target COLUMN`.")
    else:
        st.info("No models yet. Data scientists register them; ask one of them, or an administrator, when the "
                "first model will arrive.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Models", len(df))
c2.metric("Versions", int(df["versions"].sum()))
c3.metric("In production", int((df["status"] == "production").sum()))
c4.metric("High risk", int((df["risk_tier"] == "high").sum()))

left, right = st.columns([3, 2])
with left:
    st.subheader("Models by status and risk tier")
    st.vega_lite_chart(charts.portfolio_spec(df), key="overview_status_chart")
with right:
    st.subheader("Needs attention")
    items = queries.attention_items(store, me, df)
    if not items:
        st.success("Nothing needs attention right now.", icon=":material/check_circle:")
    first, rest = items[:8], items[8:]

    def _item(item: queries.AttentionItem) -> None:
        st.markdown(f"{badges.attention(item.severity)} **{escape(item.model)}** · {escape(item.reason)}  \n"
                    f":gray[Next: {escape(item.action)}]")

    for item in first:
        _item(item)
    if rest:
        with st.expander(f"{len(rest)} more"):
            for item in rest:
                _item(item)

st.subheader("Alerts")
monitoring_ui.alert_list(store, me, None, key="overview_alerts", limit=8)

st.subheader("Portfolio")
health = monitoring_health.health(store)
view = df.assign(status=df["status"].map(badges.model_status), risk_tier=df["risk_tier"].map(badges.risk),
                 card=(df["card_completeness"] * 100).round(),
                 health=df["name"].map(lambda n: badges.health(health.get(n))),
                 why=df["name"].map(lambda n: "; ".join(health.get(n, {}).get("reasons", [])) or "—"),
                 owner=df["owner"].map(lambda v: v if isinstance(v, str) and v.strip() else "—"),
                 business_unit=df["business_unit"].map(lambda v: v if isinstance(v, str) and v.strip() else "—"))
st.dataframe(view[["name", "status", "health", "why", "risk_tier", "owner", "business_unit", "versions", "card"]],
             hide_index=True, key="overview_table",
             column_config={"name": "Model", "status": "Status", "risk_tier": "Risk", "owner": "Owner",
                            "business_unit": "Business unit", "versions": "Versions",
                            "health": "Health", "why": st.column_config.TextColumn("Why not green", width="large"),
                            "card": st.column_config.ProgressColumn("Model card", format="%d%%",
                                                                    min_value=0, max_value=100)})
