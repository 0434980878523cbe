"""Monitoring: drift by input and window, distributions, performance and volume over time, data quality, alerts."""

import pandas as pd
import streamlit as st

from app import session
from app.components import monitoring as ui
from core import queries
from core.errors import CoreError
from core.monitoring import checks, health, logs
from core.vocabulary import ENVIRONMENTS

me = session.guard("view")
store = session.store()
st.title("Monitoring")
st.caption("Does the data a model sees in production still look like what it learned on, and does it still "
           "perform? Computed from the logged predictions and the outcomes that arrived.")

logged = {}
for n in queries.model_names(store):
    try:
        vs = logs.monitored_versions(store, n)
    except CoreError:
        vs = []
    if vs:
        logged[n] = vs
if not logged:
    st.info("No logged predictions yet. Score production data with `modelgov score MODEL --input FILE`, or log a "
            "model served elsewhere with `modelgov log-predictions MODEL:VERSION --input FILE`; add outcomes with "
            "`modelgov log-outcomes`.")
    ui.alert_list(store, me, None, key="mon_alerts_all")
    st.stop()

wanted = st.query_params.get("model") or st.session_state.get("model_name")
if st.session_state.get("mon_model") not in logged:
    st.session_state["mon_model"] = wanted if wanted in logged else next(iter(logged))
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
name = c1.selectbox("Model", list(logged), key="mon_model")
st.session_state["model_name"] = name
versions = [v["version"] for v in logged[name]]
version = c2.selectbox("Version", versions, index=0, key=f"mon_version_{name}")
env = c3.selectbox("Environment", ENVIRONMENTS, key="mon_env")
window = c4.selectbox("Window", ["day", "week", "hour"], key="mon_window")


@st.cache_data(ttl=60, show_spinner=False)
def _review(db: str, name: str, version: int, env: str, window: str, stamp: str):
    return checks.review(store, name, version, environment=env, window=window)


stamp = str(logged[name][versions.index(version)]["last"]) + str(logged[name][versions.index(version)]["rows"])
try:
    with st.spinner("Computing drift and performance in DuckDB…"):
        reviewed = _review(str(store.db_path), name, version, env, window, stamp)
except CoreError as e:
    st.info(str(e))
    st.stop()

res, summary = reviewed["result"], reviewed["summary"]
(st.warning if reviewed["needs_attention"] else st.success)(summary["sentence"], icon=":material/monitor_heart:")
if reviewed["caveats"]:
    st.caption(f"Caveats from the model card: {reviewed['caveats']}")
h = health.health(store).get(name)
m = st.columns(5)
m[0].metric("Logged predictions", f"{res['rows']:,}")
m[1].metric(f"Inputs drifted (last {res['recent_days']} days)", f"{len(summary['drifted_columns'])} of {summary['n_columns']}")
if summary["current"] is not None:
    m[2].metric(summary["metric"].upper() + " (last 7 windows)", f"{summary['current']:.3f}",
                delta=f"{summary['current'] - summary['baseline']:+.3f} vs validation" if summary["baseline"] else None,
                delta_color="normal" if summary["metric"] == "auc" else "inverse")
else:
    m[2].metric("Performance", "no outcomes yet")
m[3].metric("Health", ui.health_label(h), help="; ".join(h["reasons"]) if h else "Run 'modelgov monitor' to score it.")
m[4].metric("Last prediction", (res["last"] or "")[:10], help=(res["last"] or "").replace("T", " ")[:19] + " UTC")

t_drift, t_dist, t_perf, t_quality, t_alerts = st.tabs(["Drift", "Distributions", "Performance", "Data quality", "Alerts"])
with t_drift:
    st.caption("Each cell compares one input in one window with the training data (method and threshold as Evidently's "
               "DataDriftPreset). Darker means more drift; hover for the statistic.")
    if res["drift"].get("windows"):
        st.plotly_chart(ui.heatmap(res["drift"]), key="mon_heatmap")
    table = pd.DataFrame([{k: c.get(k) for k in ("column", "kind", "method", "drift_score", "threshold", "drifted", "psi",
                                                 "ks_p_value", "wasserstein", "js_distance", "chi2_p_value")}
                          for c in res["recent_drift"]["columns"]])
    st.markdown(f"**The last {res['recent_days']} days against the training data**")
    st.dataframe(table, hide_index=True, key="mon_drift_table")
    if res.get("score_drift"):
        sc = res["score_drift"]["columns"][0]
        st.caption(f"The score itself against the hold-out scores: {sc['method']} {sc['drift_score']:.3g}"
                   f" ({'drifted' if sc['drifted'] else 'no drift'}).")
with t_dist:
    ranked = sorted(res["recent_drift"]["columns"], key=lambda c: not c["drifted"])
    pick = st.selectbox("Input", [c["column"] for c in ranked], key="mon_dist_col")
    ref_s, cur_s = logs.column_values(store, name, version, pick, env)
    st.plotly_chart(ui.distribution(ref_s, cur_s, pick), key="mon_dist_chart")
with t_perf:
    if res["performance"]:
        st.plotly_chart(ui.performance(res["performance"], summary["baseline"], summary["metric"]), key="mon_perf")
    else:
        st.info("No outcomes yet: log them with `modelgov log-outcomes MODEL --input FILE --id-column C --label-column C`.")
    st.markdown("**Volume**")
    st.plotly_chart(ui.volume(res["volume"]), key="mon_volume")
with t_quality:
    dq = pd.DataFrame(res["data_quality"])
    dq["unseen_categories"] = dq["unseen_categories"].map(lambda x: ", ".join(x))
    st.dataframe(dq, hide_index=True, key="mon_quality_table",
                 column_config={"missing_rate": st.column_config.NumberColumn("missing", format="percent")})
    ing = pd.DataFrame(res["ingestion"])
    if not ing.empty:
        st.markdown("**Schema violations (rows rejected at ingestion)**")
        st.dataframe(ing, hide_index=True, key="mon_ingest_table")
with t_alerts:
    ui.alert_list(store, me, name, key="mon_alerts")
