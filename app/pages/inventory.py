"""Inventory: every model, searchable and filterable, with status and risk badges."""

import streamlit as st

from app import session
from app.components import badges
from core.errors import CoreError
from core.monitoring import health as monitoring_health
from core.vocabulary import RISK_TIERS
from core.registry import catalog, records

me = session.guard("view")
store = session.store()
st.title("Inventory")


@st.cache_data(ttl=30, show_spinner=False)
def _choices(db_path: str) -> tuple[list[str], list[str]]:
    return catalog.list_owners(store), catalog.list_tags(store)


owners, tags = _choices(str(store.db_path))
f1, f2, f3, f4, f5 = st.columns([3, 2, 2, 2, 2])
text = f1.text_input("Search", key="inv_search", placeholder="name, description or owner")
owner = f2.selectbox("Owner", ["Any"] + owners, key="inv_owner")
tier = f3.selectbox("Risk tier", ["Any", *RISK_TIERS], key="inv_tier")
status = f4.selectbox("Status", ["Any", *records.MODEL_STATUSES], key="inv_status")
tag = f5.selectbox("Tag", ["Any"] + tags, key="inv_tag")
s1, s2, s3 = st.columns([2, 2, 6])
sort = s1.selectbox("Sort by", list(catalog.SORTS), key="inv_sort")
descending = s2.toggle("Descending", key="inv_desc")
per_page = 50
page = int(st.session_state.get("inv_page", 1))

try:
    result = catalog.search_models(store, text or None, owner=None if owner == "Any" else owner,
                                    risk_tier=None if tier == "Any" else tier,
                                    status=None if status == "Any" else status,
                                    tag=None if tag == "Any" else tag, sort=sort, descending=descending,
                                    page=page, per_page=per_page)
except CoreError as e:
    st.error(str(e))
    st.stop()

if result.total == 0:
    if any([text, owner != "Any", tier != "Any", status != "Any", tag != "Any"]):
        st.info("No model matches these filters. Clear the search or set a filter back to 'Any'.")
    else:
        st.info("The inventory is empty. Run `modelgov demo` for the demo, or register a model with "
                "`modelgov register NAME --model FILE --train-data FILE --target COLUMN`.")
    st.stop()
if page > result.pages:
    st.session_state["inv_page"] = 1
    st.rerun()

health = monitoring_health.health(store)


def _or_dash(text: str | None) -> str:
    return text if isinstance(text, str) and text.strip() else "—"


rows = [{"Model": m.name, "Status": badges.model_status(m.status), "Risk": badges.risk(m.risk_tier),
         "Health": badges.health(health.get(m.name)),
         "Why": _or_dash("; ".join(health.get(m.name, {}).get("reasons", []))), "Owner": _or_dash(m.owner),
         "Latest": "—" if m.latest_version is None else f"v{m.latest_version}", "Versions": m.versions,
         "Business unit": _or_dash(m.business_unit),
         "Model card": round(m.card_completeness * 100), "Tags": ", ".join(m.tags), "Description": m.description}
        for m in result.items]
st.caption(f"{result.total} model(s) · page {result.page} of {result.pages}. Select a row to open the model.")
event = st.dataframe(rows, hide_index=True, key="inv_table", on_select="rerun", selection_mode="single-row",
                     column_config={"Why": st.column_config.TextColumn("Why not green", width="large"),
                                    "Model card": st.column_config.ProgressColumn("Model card", format="%d%%",
                                                                                  min_value=0, max_value=100)})
selected = event.selection.rows if event is not None and hasattr(event, "selection") else []

p1, p2, p3, p4 = st.columns([1, 1, 4, 3])
if p1.button("◀ Previous", key="inv_prev", disabled=result.page <= 1):
    st.session_state["inv_page"] = result.page - 1
    st.rerun()
if p2.button("Next ▶", key="inv_next", disabled=result.page >= result.pages):
    st.session_state["inv_page"] = result.page + 1
    st.rerun()
choice = p4.selectbox("Open a model", [m.name for m in result.items], key="inv_open_choice",
                      index=selected[0] if selected else 0)
if selected or p4.button("Open model", key="inv_open"):
    st.session_state["model_name"] = result.items[selected[0]].name if selected else choice
    st.switch_page("pages/model.py")
