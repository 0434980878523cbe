"""Lineage: trace a model to its data and code, and a dataset to the models that depend on it."""

import pandas as pd
import streamlit as st

from app import session
from app.components import lineage as draw
from core.errors import CoreError
from core.governance import live
from core.lineage import columns as lcolumns
from core.lineage import graph as lg

me = session.guard("view")
store = session.store()
st.title("Lineage")
st.caption("Where every model came from (data, jobs, code) and what depends on every dataset. Arrows point "
           "downstream: data → job → data → model version → deployment.")

size = lg.counts(store)
if size["nodes"] == 0:
    st.info("No lineage yet. Registering a model records its training and test data; import pipelines with "
            "`modelgov lineage import events.json` (OpenLineage from Airflow, Spark, dbt or Marquez).")
    st.stop()

all_nodes = lg.list_nodes(store, limit=100_000)
ids = [n["id"] for n in all_nodes]
wanted = st.query_params.get("node")
if st.session_state.get("lin_focus") not in ids:
    # Start from the model the person was looking at, else a live deployment's version, else any version.
    chosen = st.session_state.get("model_name")
    model_nodes = [i for i in ids if i.startswith("model:")]
    preferred = [i for i in model_nodes if chosen and i.startswith(f"model:{chosen}:")] + \
        [f"model:{d.model}:{d.version}" for d in live.live(store)] + model_nodes + ids
    st.session_state["lin_focus"] = wanted if wanted in ids else next(i for i in preferred if i in ids)

# A click on the graph chooses the node to focus (before the picker is drawn).
clicked = (st.session_state.get("lin_graph") or {}).get("selection", {}).get("points", [])
if clicked and clicked[0].get("customdata") in ids and clicked[0]["customdata"] != st.session_state.get("lin_last"):
    st.session_state["lin_focus"] = st.session_state["lin_last"] = clicked[0]["customdata"]

c1, c2, c3 = st.columns([3, 1, 1])
focus = c1.selectbox("Node", ids, key="lin_focus",
                     format_func=lambda i: f"{draw.KIND_LABELS.get(lg.kind_of(i), 'other')} · {i}")
depth = c2.slider("Depth", 1, 8, 3, key="lin_depth")
view = c3.radio("Show", ["Neighbourhood", "Whole graph"], key="lin_view")
st.query_params["node"] = focus

m = st.columns(4)
m[0].metric("Nodes", size["nodes"])
m[1].metric("Edges", size["edges"])
m[2].metric("Model versions", sum(i.startswith("model:") for i in ids))
m[3].metric("Datasets", sum(i.startswith("dataset:") for i in ids))

tab_graph, tab_impact, tab_columns, tab_table = st.tabs(["Graph", "Impact", "Columns", "Table"])

try:
    if view == "Neighbourhood":
        g = lg.neighbourhood(store, focus, depth)
        nodes, edges, total = g.nodes, g.edges, len(g.nodes)
    else:
        nodes, edges, total = lg.whole_graph(store, limit=draw.MAX_DRAW)
except CoreError as e:
    st.error(str(e))
    st.stop()

with tab_graph:
    shown = nodes[:draw.MAX_DRAW]
    keep = {n["id"] for n in shown}
    if view == "Whole graph" or len(shown) < total:
        st.caption(f"Showing {len(shown)} of {total if view == 'Neighbourhood' else size['nodes']} nodes"
                   + (" — choose a node and a smaller depth to see the rest." if len(shown) < max(total, size["nodes"])
                      and view == "Whole graph" else "."))
    st.plotly_chart(draw.figure(shown, [e for e in edges if e["from"] in keep and e["to"] in keep], focus),
                    key="lin_graph", on_select="rerun", selection_mode="points")
    st.caption("Click a node to focus it. Diamonds are live; faded nodes are retired.")
    detail = lg.node(store, focus)
    with st.expander(f"Details of {focus}", expanded=True):
        st.markdown(f"**{detail['name']}** — {draw.KIND_LABELS.get(detail['kind'], detail['kind'])}, "
                    f"recorded {str(detail['created_at'])[:16]} UTC")
        if detail["attributes"]:
            st.json(detail["attributes"], expanded=False)
        up, down = lg.upstream(store, focus), lg.downstream(store, focus)
        st.caption(f"{up.node_count} node(s) upstream, {down.node_count} downstream.")

with tab_impact:
    imp = lg.impact(store, focus)
    # The sentence and the list come from the same core graph, so they cannot disagree.
    (st.warning if lg.impact_in_production(imp) else st.info)(lg.impact_summary(imp))
    if imp.nodes:
        st.dataframe(pd.DataFrame([{"Depends on it": n["id"], "Kind": draw.KIND_LABELS.get(n["kind"], n["kind"]),
                                    "Hops": n["depth"], "Live": "yes" if n.get("active") else "no",
                                    "Environment": n.get("environment") or "—", "Role": n.get("role") or "—"}
                                   for n in imp.nodes]), hide_index=True, key="lin_impact_table")

with tab_columns:
    cols = lcolumns.dataset_columns(store, focus) if focus.startswith("dataset:") else []
    if not cols:
        st.info("No column lineage for this node. Pick a dataset, and import OpenLineage events whose outputs "
                "carry the columnLineage facet (`modelgov lineage import FILE`).")
    else:
        col = st.selectbox("Column", cols, key="lin_column")
        found = lcolumns.column_lineage(store, focus, col)
        for side, title in (("upstream", "Made from"), ("downstream", "Used by")):
            st.markdown(f"**{title}** ({len(found[side])} column(s))")
            if found[side]:
                st.dataframe(pd.DataFrame([{
                    "Dataset": c["dataset"], "Column": c["column"], "Steps": c["depth"],
                    "Job": (c["via"] or "—").split(":", 2)[-1],
                    "Transformation": ", ".join(t.get("subtype") or t.get("type") or "" for t in c["transformations"])
                    or "—"} for c in found[side]]), hide_index=True, key=f"lin_col_{side}")

with tab_table:
    st.markdown(f"**Nodes** ({len(nodes)} in this view)")
    st.dataframe(pd.DataFrame([{"node": n["id"], "kind": n["kind"], "name": n["name"], "depth": n.get("depth")}
                               for n in nodes]), hide_index=True, key="lin_nodes_table")
    st.markdown(f"**Edges** ({len(edges)} in this view)")
    st.dataframe(pd.DataFrame(edges, columns=["from", "to", "relation"]), hide_index=True, key="lin_edges_table")
