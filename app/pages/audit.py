"""Audit: who changed what, when; the chain check; CSV export."""

from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from app import session
from core import audit, queries
from core.audit import AuditFilter, utcnow
from core.errors import CoreError



def _details(payload: dict) -> str:
    """The event's payload as 'key: value' pairs a person reads; empty values left out."""
    parts = [f"{k.replace('_', ' ')}: {v}" for k, v in payload.items() if v not in (None, "", [], {})]
    text = "; ".join(parts) or "—"
    return text if len(text) <= 300 else text[:299] + "…"


me = session.guard("read-audit")
store = session.store()
st.title("Audit trail")
st.caption("Every change and every refused attempt, append-only; each row carries the SHA-256 of its content "
           "and of the row before it, so an edited, deleted or inserted row breaks the chain.")

check = audit.verify(store)
if check.ok:
    st.success(f"The chain is intact: {check.rows} row(s), every hash matches.", icon=":material/verified:")
else:
    st.error(f"The chain is broken at sequence number {check.first_bad_seq}: {check.problem}. Restore the store from "
             "a backup and investigate who had write access.", icon=":material/gpp_bad:")

c1, c2, c3, c4 = st.columns(4)
person = c1.text_input("Person", key="audit_person", placeholder="part of an e-mail address, e.g. rita")
model = c2.selectbox("Model", [""] + queries.model_names(store), key="audit_model",
                     format_func=lambda m: m or "any model")
action = c3.selectbox("Action", [""] + audit.actions_in_trail(store), key="audit_action",
                      format_func=lambda a: a or "any action")
outcome = c4.selectbox("Outcome", ["", "ok", "refused"], key="audit_outcome", format_func=lambda o: o or "any")
today = utcnow().date()
span = st.date_input("Between", (today - timedelta(days=90), today), key="audit_span")
since = until = None
if isinstance(span, (list, tuple)) and len(span) == 2:
    since, until = datetime.combine(span[0], time.min), datetime.combine(span[1], time.min) + timedelta(days=1)

flt = AuditFilter(person=person or None, model=model or None, action=action or None, outcome=outcome or None,
                  since=since, until=until)
try:
    events = audit.list_events(store, me, flt, limit=2000)
except CoreError as e:
    st.error(str(e))
    st.stop()

if not events:
    st.info("No event matches these filters; widen the dates or clear a filter.")
else:
    df = pd.DataFrame([{"Seq": e["seq"], "Time (UTC)": str(e["ts"])[:19], "Person": e["actor"],
                        "Action": e["action"], "Entity": f"{e['entity_type']} {e['entity_id']}".strip() or "—",
                        "Outcome": e["outcome"], "Details": _details(e["payload"]), "Hash": e["hash"][:12]}
                       for e in events])
    st.caption(f"{len(df)} event(s)" + (" (the newest 2,000; narrow the filters or export)" if len(df) == 2000 else ""))
    st.dataframe(df, hide_index=True, key="audit_table", column_config={
        "Seq": st.column_config.NumberColumn(format="%d", width="small"),
        "Details": st.column_config.TextColumn(width="large"), "Hash": st.column_config.TextColumn(width="small")})
    times = pd.DataFrame({"time (UTC)": pd.to_datetime([e["ts"] for e in events]),
                          "outcome": [e["outcome"] for e in events]})
    counts = times.groupby([pd.Grouper(key="time (UTC)", freq="D"), "outcome"]).size().reset_index(name="events")
    if len(counts) > 1:
        import plotly.express as px

        fig = px.bar(counts, x="time (UTC)", y="events", color="outcome", height=220,
                     color_discrete_map={"ok": "#1f77b4", "refused": "#d62728"})
        fig.update_layout(margin=dict(l=10, r=10, t=10, b=10))
        st.plotly_chart(fig, key="audit_chart")
st.download_button("Export these events as CSV", audit.export_csv(store, me, flt), file_name="modelgov-audit.csv",
                   mime="text/csv", key="audit_csv", disabled=not events)
