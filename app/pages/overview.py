"""Overview: the portfolio at a glance and what needs attention.

The landing page: it draws only Markdown, metrics and links, so the first load waits for no chart or grid library
in the browser (app/components/portfolio.py); every model's row is on Inventory, alerts are acted on in Monitoring.
"""

import streamlit as st

from app import session
from app.components import badges, portfolio
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

by_env = monitoring_health.health_by_environment(store)
health = portfolio.health_counts(monitoring_health.health(store, by_environment=by_env))
c1, c2, c3, c4 = st.columns(4)
c1.metric("Models", len(df))
c2.metric("Versions", int(df["versions"].sum()))
c3.metric("In production", int((df["status"] == "production").sum()))
c4.metric("High risk", int((df["risk_tier"] == "high").sum()))

left, right = st.columns([3, 2])
with left:
    st.subheader("Models by risk tier and status")
    st.markdown(portfolio.risk_grid(df))
    if sum(health.values()):
        st.markdown("**Health of the champions live in production:** " + portfolio.health_line(health))
    else:
        st.markdown("**Health:** no model is live in production yet.")
    st.page_link("pages/inventory.py", label="Every model with its health, owner and model card: Inventory",
                 icon=":material/inventory_2:")
    st.subheader("Alerts")
    monitoring_ui.alert_digest(store, me, limit=8)
with right:
    st.subheader("Needs attention")
    items = queries.attention_items(store, me, df, by_env)
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
