"""Monitoring: drift by input and window, distributions, performance and volume over time, data quality, alerts."""

from datetime import datetime

import streamlit as st

from app import session
from app.components import monitoring as ui
from core.compare.scores import LABELS as METRIC_LABELS
from core.drift import stattests
from core.errors import CoreError
from core.identity import allowed
from core.metrics import HIGHER_IS_BETTER
from core.monitoring import health, logs, snapshots
from app.components.text import escape
from core.vocabulary import AUC_LIKE, ENVIRONMENTS

me = session.guard("view")
store = session.store()
st.title("Monitoring")
st.caption("Does the data a model sees in production still look like what it learned on, and does it still "
           "perform? Computed from the logged predictions and the outcomes that arrived.")

logged = logs.monitored_models(store)  # every model with logs, in one store connection
if not logged:
    if allowed(me, "log-predictions"):
        st.info("No logged predictions yet. Score production data with `modelgov score MODEL --input FILE`, or log a "
                "model served elsewhere with `modelgov log-predictions MODEL:VERSION --input FILE`; add outcomes with "
                "`modelgov log-outcomes`.")
    else:
        st.info("No logged predictions yet. Monitoring starts once a data scientist logs a deployed model's "
                "predictions; ask the model's owner when that will be.")
    ui.alert_list(store, me, None, key="mon_alerts_all")
    st.stop()

wanted = st.query_params.get("model") or st.session_state.get("model_name")
if st.session_state.get("mon_model") not in logged:
    st.session_state["mon_model"] = wanted if wanted in logged else next(iter(logged))
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
name = c1.selectbox("Model", list(logged), key="mon_model")
st.session_state["model_name"] = name
env = c2.selectbox("Environment", ENVIRONMENTS, key="mon_env")
versions = [v["version"] for v in logged[name]]
# Health is the live champion's in this environment (a retired or shadow version's figures are not the model's);
# core's health record names that champion (from governance.live), so one call answers both.
h = next((r for r in health.health_by_environment(store, name).get(name, []) if r["environment"] == env), None)
champ = h["version"] if h else None
# By default, the version that is live as champion in that environment, else the latest logged.
default = versions.index(champ) if champ in versions else len(versions) - 1
version = c3.selectbox("Version", versions, index=default, key=f"mon_version_{name}_{env}",
                       format_func=lambda v: f"v{v} (live champion)" if v == champ else f"v{v}")
window = c4.selectbox("Window", ["day", "week", "hour"], key="mon_window")


# The review is computed when data arrives and stored (core.monitoring.snapshots); the page reads it. The first
# request of a window nobody computed yet computes it once, and keeps it.
try:
    snap = snapshots.latest(store, me, name, version, env, window)
    if snap is None:
        session.release_store()  # a review takes seconds: other processes may use the store meanwhile
        with st.spinner(f"Computing drift and performance of {name}:{version} per {window} in DuckDB (once: the "
                        "result is kept)…"):
            snap = snapshots.refresh(store, me, name, version, env, window)
except CoreError as e:
    st.info(str(e))
    st.stop()
if not snap.current:
    c_when, c_refresh = st.columns([5, 1], vertical_alignment="center")
    c_when.caption(ui.stale_text(snap.age_seconds(), snap.new_rows, snap.new_outcomes, snap.stamp["log_rows"]))
    if c_refresh.button("Refresh", key="mon_refresh", icon=":material/refresh:",
                        help="Compute drift and performance again over every row logged so far."):
        session.release_store()  # a review takes seconds: other processes may use the store meanwhile
        try:
            with st.spinner("Computing drift and performance in DuckDB…"):
                snapshots.refresh(store, me, name, version, env, window)
        except CoreError as e:
            st.error(str(e))
        else:
            st.rerun()
reviewed = snap.review


# A stored review is drawn once per process: its pictures are the same for everyone who may view it, and building a
# Plotly figure costs more than reading the review. (A Figure is not changed once drawn; st.plotly_chart copies it.)
snap_id = (str(store.db_path), name, version, env, window, snap.computed_at.isoformat(), snap.computed_by)


@st.cache_resource(max_entries=32, show_spinner=False)
def _heatmap(snap_id: tuple, _drift: dict):
    return ui.heatmap(_drift)


@st.cache_resource(max_entries=32, show_spinner=False)
def _performance(snap_id: tuple, _result: dict, _summary: dict, label: str):
    return ui.performance_and_volume(_result["performance"], _result["volume"], _summary["baseline"],
                                     _summary["metric"], label, _result["window"])


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _samples(db: str, name: str, version: int, column: str, env: str, data_stamp: str):
    """A sample of one input (reference and logs), kept while the logged data stays the same."""
    return logs.column_values(store, name, version, column, env)


res, summary, change = reviewed["result"], reviewed["summary"], reviewed["performance_change"]
(st.warning if reviewed["needs_attention"] else st.success)(summary["sentence"], icon=":material/monitor_heart:")
for traced in (summary.get("drift_sources") or {}).values():  # lineage-aware drift, computed with the review
    st.caption(f":material/account_tree: {escape(traced['sentence'])}")
if reviewed["caveats"]:
    st.caption(f"Caveats from the model card: {reviewed['caveats']}")
label = METRIC_LABELS.get(summary["metric"], summary["metric"])
m = st.columns(5)
m[0].metric("Logged predictions", f"{res['rows']:,}")
m[1].metric(f"Inputs drifted ({res['recent_days']} days)", f"{len(summary['drifted_columns'])} of {summary['n_columns']}",
            help=f"Inputs whose last {res['recent_days']} days differ from the training data (see the Drift tab).")
if change is not None:
    delta = (f"{change['change']:+.1f} points vs validation" if change["metric"] in AUC_LIKE
             else f"{change['change']:+.0%} vs validation")
    m[2].metric(f"{label} (last 7 windows)", f"{change['current']:.3f}", delta=delta,
                delta_color="normal" if HIGHER_IS_BETTER[change["metric"]] else "inverse",
                help=f"{label} at validation: {change['baseline']:.3f}.")
elif summary["current"] is not None:
    m[2].metric(f"{label} (last 7 windows)", f"{summary['current']:.3f}", help="No validation figure to compare with.")
else:
    m[2].metric("Performance", "no outcomes yet")
if h is None:
    m[3].metric("Health", "nothing live", help=f"No champion of {name} is live in {env}.")
else:
    m[3].metric(f"Health of v{h['version']}" + (" (champion)" if h["version"] != version else ""), ui.health_label(h),
                help=f"The live champion, v{h['version']}, in {env}. " + ("; ".join(h["reasons"]) or "No concerns."))
m[4].metric("Last prediction", f"{datetime.fromisoformat(res['last']):%-d %b %Y}" if res["last"] else "—",
            help=((res["last"] or "").replace("T", " ")[:19] + " UTC") if res["last"] else None)

# Only the open tab is drawn: switching tabs reruns the page, which reads the stored review again (milliseconds).
t_drift, t_dist, t_perf, t_quality, t_alerts = st.tabs(
    ["Drift", "Distributions", "Performance", "Data quality", "Alerts"], key="mon_tab", on_change="rerun")
if t_drift.open:
    with t_drift:
        st.caption("Each cell compares one input in one window with the training data (method and threshold as "
                   "Evidently's DataDriftPreset). Darker means more drift; hover for the statistic.")
        if res["drift"].get("windows"):
            st.plotly_chart(_heatmap(snap_id, res["drift"]), key="mon_heatmap")
        st.markdown(f"**The last {res['recent_days']} days against the training data**")
        st.dataframe(ui.drift_table(res["recent_drift"]["columns"]), hide_index=True, key="mon_drift_table",
                     width="stretch", column_config={
                         "Test": st.column_config.TextColumn("Test", help="The drift test chosen for the input"),
                         "Statistic": st.column_config.TextColumn("Statistic", help="What the test reports"),
                         "Value": st.column_config.TextColumn(
                             "Value", help=f"The statistic over the last {res['recent_days']} days"),
                         "Drifts when": st.column_config.TextColumn("Drifts when", help="The statistic against its threshold"),
                         "Drifted": st.column_config.CheckboxColumn("Drifted")})
        if res.get("score_drift"):
            sc = res["score_drift"]["columns"][0]
            test = stattests.get(sc["method"])
            st.caption(f"The score itself against the hold-out scores: {test.statistic} "
                       f"{ui.stat_text(sc['drift_score'], test.is_p_value)} ({'drifted' if sc['drifted'] else 'no drift'}).")
        if res.get("prediction_drift"):  # multiclass: how often each class is predicted, against the hold-out
            pc = res["prediction_drift"]["columns"][0]
            test = stattests.get(pc["method"])
            st.caption(f"The predicted class's distribution against the hold-out predictions: {test.statistic} "
                       f"{ui.stat_text(pc['drift_score'], test.is_p_value)} ({'drifted' if pc['drifted'] else 'no drift'}).")
if t_dist.open:
    with t_dist:
        ranked = sorted(res["recent_drift"]["columns"], key=lambda c: not c["drifted"])
        pick = st.selectbox("Input", [c["column"] for c in ranked], key="mon_dist_col")
        ref_s, cur_s = _samples(str(store.db_path), name, version, pick, env, repr(sorted(snap.now_stamp.items())))
        st.plotly_chart(ui.distribution(ref_s, cur_s, pick), key="mon_dist_chart")
if t_perf.open:
    with t_perf:
        if not res["performance"]:
            st.info("No outcomes have arrived yet, so only the volume is drawn: performance appears once outcomes are "
                    + ("logged (`modelgov log-outcomes MODEL --input FILE --id-column C --label-column C`)."
                       if allowed(me, "log-predictions") else "logged by the model's data scientists."))
        st.caption(f"{label} per {window} over the rows whose outcome arrived (right axis: rates), and the number of "
                   "predictions below, on one time axis.")
        st.plotly_chart(_performance(snap_id, res, summary, label), key="mon_perf_volume")
        if res["performance"] and summary["metric"] not in ("auc", "rmse"):  # multiclass: every metric per window
            st.dataframe(ui.performance_table(res["performance"]), hide_index=True, key="mon_perf_table",
                         width="stretch")
if t_quality.open:
    with t_quality:
        st.dataframe(ui.quality_table(res["data_quality"]), hide_index=True, key="mon_quality_table", width="stretch",
                     column_config={"Missing": st.column_config.NumberColumn("Missing", format="percent"),
                                    "Out of range": st.column_config.NumberColumn("Out of range", format="%d",
                                                                                  help="Values outside the training range")})
        ingested = sum(i["rows"] for i in res["ingestion"])
        rejected = sum(i["rejected"] for i in res["ingestion"])
        if rejected == 0:
            st.success("No rows rejected" + (f": all {ingested:,} rows logged for {name} matched its inputs." if ingested
                                             else "."), icon=":material/task_alt:")
        else:
            st.markdown(f"**Schema violations: {rejected:,} of {ingested:,} rows rejected at ingestion**")
            st.plotly_chart(ui.rejections(res["ingestion"]), key="mon_rejections")
if t_alerts.open:
    with t_alerts:
        ui.alert_list(store, me, name, key="mon_alerts")
