"""Model: versions with metrics, the model card, deployments and history."""

import json

import pandas as pd
import streamlit as st

from app import session
from app.components import approvals as approvals_ui
from app.components import badges, charts
from app.components.text import escape
from app.components import mlflow as mlflow_ui
from app.components import monitoring as monitoring_ui
from core import queries
from core.compare.scores import LABELS as METRIC_LABELS
from core.errors import CoreError
from core.governance import live
from core.identity import allowed
from core.metrics import HIGHER_IS_BETTER
from core.monitoring import alerts
from core.monitoring import health as monitoring_health
from core.registry import catalog, mlflow_records, records
from core.vocabulary import ENVIRONMENTS

me = session.guard("view")
store = session.store()

def per_class_section(v) -> None:
    """A multiclass version's precision and recall per class on its hold-out data (core computes them)."""
    st.markdown(f"**Per class** on the hold-out data of version {v.version} ({len(v.classes or [])} classes)")
    try:
        table = queries.class_metrics(store, v.model, v.version)
    except CoreError as e:
        st.error(str(e))
        return
    if table is None:
        st.caption("This version was registered without hold-out data, so its classes were not measured.")
        return
    c1, c2 = st.columns([3, 2])
    with c1:
        st.dataframe(table, hide_index=True, key="model_class_table", width="stretch",
                     column_config={k: st.column_config.NumberColumn(format="%.3f")
                                    for k in ("Precision", "Recall", "F1")})
    with c2:
        st.plotly_chart(charts.class_precision_recall(table), key="model_class_chart")
    st.caption("Precision: of the rows predicted as the class, the share that were. Recall: of the rows of the "
               "class, the share predicted as it.")


names = queries.model_names(store)
if not names:
    st.title("Model")
    st.info("No models yet. Run `modelgov demo`, or register one with `modelgov register`.")
    st.stop()
wanted = st.query_params.get("model") or st.session_state.get("model_name")
if st.session_state.get("model_pick") not in names:
    st.session_state["model_pick"] = wanted if wanted in names else names[0]
name = st.sidebar.selectbox("Model", names, key="model_pick")
st.session_state["model_name"] = name
st.query_params["model"] = name

try:
    model = catalog.get_model(store, name)
except CoreError as e:
    st.error(str(e))
    st.stop()

st.title(model.name)
st.markdown(f"{badges.md(model.risk_tier + ' risk', model.risk_tier)} · owner **{escape(model.owner)}**"
            + (f" · {escape(model.business_unit)}" if model.business_unit else "")
            + (f" · tags: {escape(', '.join(model.tags))}" if model.tags else ""))
if model.description:
    st.markdown(escape(model.description, inline=False))
# What is live where, and each live champion's health there (core answers both; a retired version's health is
# history, not the model's).
live_now = live.live(store, model.name)
health_by_env = {h["environment"]: h
                 for h in monitoring_health.health_by_environment(store, model.name).get(model.name, [])}
for env in [e for e in ENVIRONMENTS if any(d.environment == e for d in live_now)]:
    here = [d for d in live_now if d.environment == env]
    champ = next((d for d in here if d.role == "champion"), None)
    shadows = [d for d in here if d.role != "champion"]
    line = f"**{env.capitalize()}**: "
    if champ is not None:
        h = health_by_env.get(env)
        line += (f"champion version {champ.version} since {champ.since:%-d %B %Y}, health **{badges.health(h)}**"
                 + (f" — {'; '.join(h['reasons'])}" if h and h["reasons"] else ""))
    else:
        line += "no champion"
    if shadows:
        line += " · in shadow: " + ", ".join(f"version {d.version} (challenger since {d.since:%-d %B})" for d in shadows)
    st.markdown(line)
if live_now:
    st.caption("Health scores each live champion's latest monitoring in its environment; see the Monitoring page.")
if alerts.alerts(store, model.name, "active"):
    with st.expander("Open alerts", expanded=True):
        monitoring_ui.alert_list(store, me, model.name, key=f"model_alerts_{model.name}")

tab_versions, tab_card, tab_deploy, tab_history = st.tabs(["Versions", "Model card", "Deployments", "History"])

with tab_versions:
    if not model.versions:
        st.info(f"{model.name} has no version yet. Register one with "
                f"`modelgov register {model.name} --model FILE --train-data FILE --target COLUMN --test-data FILE`."
                if allowed(me, "register-model") else
                f"{model.name} has no version yet; its owner, {escape(model.owner)}, registers the first one.")
    else:
        metric_names = sorted({k for v in model.versions for k in v.metrics}, key=lambda k: list(METRIC_LABELS).index(k)
                              if k in METRIC_LABELS else len(METRIC_LABELS))
        rows = []
        for v in reversed(model.versions):
            rows.append({"Version": v.version, "Status": badges.version_status(v.status), "Estimator": v.estimator,
                         **{METRIC_LABELS.get(k, k): v.metrics.get(k) for k in metric_names},
                         "Created": v.created_at, "By": v.created_by, "SHA-256": v.sha256[:12], "Code": v.code_ref or "—"})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="model_versions_table", width="stretch",
                     column_config={**{METRIC_LABELS.get(k, k): st.column_config.NumberColumn(format="%.3f")
                                       for k in metric_names},
                                    "Created": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")})
        with_metrics = [v for v in model.versions if v.metrics]
        if with_metrics:
            frame = pd.DataFrame([{"version": v.version, **v.metrics} for v in with_metrics])
            # Which way is better is core's (core.metrics.HIGHER_IS_BETTER): one chart per direction.
            groups = [("higher", ":material/trending_up: Higher is better",
                       [k for k in metric_names if HIGHER_IS_BETTER.get(k) is True]),
                      ("lower", ":material/trending_down: Lower is better",
                       [k for k in metric_names if HIGHER_IS_BETTER.get(k) is False])]
            groups = [g for g in groups if g[2]]
            for col, (better, title, names_) in zip(st.columns(len(groups)), groups):
                with col:
                    st.markdown(f"**{title}** ({', '.join(METRIC_LABELS.get(k, k) for k in names_)})")
                    st.plotly_chart(charts.version_metrics(frame, names_, METRIC_LABELS, better),
                                    key=f"model_metrics_{better}")
            other = [k for k in metric_names if k not in HIGHER_IS_BETTER]
            if other:
                st.caption(f"Also measured (shown in the table only): {', '.join(other)}.")
        else:
            st.caption("No hold-out metrics: register versions with `--test-data` to measure them."
                       if allowed(me, "register-model") else
                       "No hold-out metrics were measured for these versions; ask the model's owner for test data.")
        pick = st.selectbox("Version details", [v.version for v in reversed(model.versions)], key="model_version_pick")
        v = next(x for x in model.versions if x.version == pick)
        c1, c2 = st.columns(2)
        with c1:
            st.markdown(f"**Signature** ({len(v.signature)} inputs → target `{v.target}`, {v.task.replace('_', ' ')})")
            st.dataframe(pd.DataFrame(v.signature), hide_index=True, key="model_signature", height=250)
        with c2:
            st.markdown(f"**Artifact** `{v.sha256}` ({v.artifact_size / 1024:.0f} KiB, {v.artifact_format})")
            st.markdown(f"**Code** `{v.code_ref or 'not recorded'}`")
            with st.expander("Parameters"):
                st.json(v.parameters, expanded=False)
        if v.task == "multiclass_classification":
            per_class_section(v)
        mlflow_facts = mlflow_records.get_mlflow_facts(store, model.name, v.version)
        if mlflow_facts is not None:
            mlflow_ui.mlflow_section(mlflow_facts, v.metrics, METRIC_LABELS, key=f"model_mlflow_{v.version}")

with tab_card:
    done = model.card_completeness()
    st.progress(done, text=f"Model card {done:.0%} complete")
    labels = {f: f.replace("_", " ").capitalize() for f in records.CARD_FIELDS}
    if allowed(me, "register-model"):
        with st.form(f"model_card_form_{model.name}"):
            values = {f: st.text_area(labels[f], model.card.get(f, ""), key=f"card_{model.name}_{f}") for f in records.CARD_FIELDS}
            if st.form_submit_button("Save model card"):
                try:
                    catalog.update_model(store, me, model.name, **values)
                except CoreError as e:
                    st.error(str(e))
                else:
                    st.success("Model card saved.")
                    st.rerun()
    else:
        for f in records.CARD_FIELDS:
            st.markdown(f"**{labels[f]}**")
            st.markdown(escape(model.card[f], inline=False) if model.card.get(f) else "_Not filled in yet._")

with tab_deploy:
    approvals_ui.deployment_history(store, model.name, key="model_deployments")
    st.markdown("**Request a deployment**")
    approvals_ui.request_form(store, me, model.name, [v.version for v in reversed(model.versions)],
                              key=f"model_request_{model.name}")

with tab_history:
    history = None
    if not allowed(me, "view-approvals"):
        st.info("A model's change history (who changed what, and refused attempts) is shown to data scientists, "
                "risk officers and administrators.")
    else:
        try:
            history = queries.model_history(store, me, model.name)
        except CoreError as e:
            st.error(str(e))
    if history is not None and history.empty:
        st.info("No recorded changes yet.")
    elif history is not None:
        history["payload"] = history["payload"].map(lambda p: json.dumps(json.loads(p))[:200])
        st.dataframe(history, hide_index=True, key="model_history_table")
