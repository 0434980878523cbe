"""Explanations: why a model decides what it decides, globally and for one case, in its input columns."""

import pandas as pd
import streamlit as st

from app import session
from app.components import explain as figs
from app.components import text
from core import queries
from core.errors import CoreError
from core.explain import compute, explanations, summary
from core.governance import live
from core.identity import allowed
from core.monitoring import logs
from core.registry import catalog
from core.registry import versions as registry_versions

me = session.guard("view")
store = session.store()
st.title("Explanations")
st.caption("Which inputs drive a model's scores (SHAP values), for the whole portfolio of cases and for one case.")

names = queries.model_names(store, with_versions=True)
if not names:
    st.info("No model with a version yet. Register one with `modelgov register`, then explain it here or with "
            "`modelgov explain MODEL --data FILE`.")
    st.stop()
wanted = st.query_params.get("model") or st.session_state.get("model_name")
if st.session_state.get("xp_model") not in names:
    explained = [x["model"] for x in explanations.list_explanations(store)]
    st.session_state["xp_model"] = wanted if wanted in names else next((n for n in explained if n in names), names[0])
c1, c2, c3 = st.columns([3, 1, 1])
name = c1.selectbox("Model", names, key="xp_model")
st.session_state["model_name"] = name
model = catalog.get_model(store, name)
versions = [v.version for v in reversed(model.versions)]
champ = live.champion(store, name, "production")
default_version = champ.version if champ else versions[0]
if st.session_state.get(f"xp_version_{name}") not in versions:
    st.session_state[f"xp_version_{name}"] = default_version
version = c2.selectbox("Version", versions, key=f"xp_version_{name}",
                       format_func=lambda v: f"{v} · live champion" if champ and v == champ.version else str(v))
rows = c3.number_input("Rows", 50, 20000, compute.DEFAULT_ROWS, step=50, key="xp_rows",
                       help="A seeded sample of the data; more rows, smoother pictures, longer to compute.")
source = st.radio("Data", ["Hold-out data", "Training data (the reference)", "Production (last 7 days of logs)",
                           "Upload a file"], horizontal=True, key="xp_source")
upload = st.file_uploader("CSV or Parquet with the model's inputs", type=["csv", "parquet"], key="xp_upload") \
    if source == "Upload a file" else None

data, label = None, None
if source.startswith("Training"):
    label = "training data"
    try:
        data = explanations.training_data(store, registry_versions.get_model_version(store, name, version))
    except CoreError as err:
        st.error(str(err))
        st.stop()
elif source.startswith("Production"):
    try:
        data = logs.recent_rows(store, name, version, days=7)
        label = "production, last 7 days"
    except CoreError as err:
        st.info(f"{err} Explain the hold-out data meanwhile.")
        st.stop()
elif source == "Upload a file" and upload is None:
    st.info("Upload a file to explain it.")
    st.stop()
if upload is not None:
    try:
        data = pd.read_csv(upload) if upload.name.lower().endswith(".csv") else pd.read_parquet(upload)
        label = f"upload {upload.name}"
    except Exception as e:  # an unreadable upload: one sentence
        st.error(f"{upload.name} could not be read: {e}")
        st.stop()

try:
    e = explanations.find(store, name, version, data, int(rows), label)
except CoreError as err:
    st.error(str(err))
    st.stop()

if e is None:
    st.info(f"{name}:{version} has no cached explanation for these rows yet. Computing one takes seconds for tree "
            "and linear models, longer for others; afterwards it opens instantly for everyone.")
    if not allowed(me, "compute-results"):
        st.stop()
    if st.button("Compute the explanation", type="primary", key="xp_compute"):
        session.release_store()  # SHAP takes a while: other processes may use the store meanwhile
        bar = st.progress(0.0, text="Starting…")
        try:
            explanations.explain(store, me, name, version, data, rows=int(rows), label=label,
                                 progress=lambda f, t: bar.progress(min(1.0, f), text=t))
        except CoreError as err:
            st.error(str(err))
            st.stop()
        # Draw the page again from the cache it now holds: the "no cached explanation" box above goes away.
        st.rerun()
    st.stop()

the_version = registry_versions.get_model_version(store, name, version)
classes = list(the_version.classes or []) if e.class_count else []
explained = e  # every class (multiclass); `e` below is the class being looked at
if classes:  # multiclass: SHAP values exist for every class; look at one at a time
    class_pos = st.selectbox("Class", range(len(classes)), key=f"xp_class_{name}_{version}",
                             format_func=lambda k: f"{the_version.target} = {classes[k]}",
                             help="The contributions to this class's output (each class has its own).")
    e = explained.for_class(class_pos)
if not e.additivity_ok:
    st.error(f"Additivity check FAILED: base value + contributions differ from the model's output by up to "
             f"{e.additivity_max_error:.3g}. Treat these explanations with caution.", icon=":material/error:")
imp = e.global_importance()
st.markdown(f"**{e.explainer.capitalize()} explainer**, output in **{figs.SPACE[e.output_space]}**, "
            f"{len(e.frame):,} rows of {e.data_ref} · base value {e.base_value:.4g} · additivity max error "
            f"{e.additivity_max_error:.2g} ({'holds' if e.additivity_ok else 'failed'}) · computed by "
            f"{e.created_by} at {str(e.created_at)[:16]} UTC")
st.success(summary.plain_summary(e), icon=":material/lightbulb:")

# Only the open tab is drawn (each holds a chart of thousands of points): switching tabs reruns the page.
t_global, t_swarm, t_dep, t_case, t_whatif, t_shift = st.tabs(
    ["Importance", "Summary", "Dependence", "One case", "What-if", "Shift"], key="xp_tab", on_change="rerun")

if t_global.open:
    with t_global:
        st.plotly_chart(figs.importance_bar(imp), key="xp_importance")
if t_swarm.open:
    with t_swarm:
        st.caption("Each dot is a case: how far the input pushed its score (right: up) and whether its value was high "
                   "(red) or low (blue).")
        st.plotly_chart(figs.beeswarm(e.values, e.inputs, list(imp["feature"])), key="xp_beeswarm")
if t_dep.open:
    with t_dep:
        feature = st.selectbox(
            "Input", list(imp["feature"]), key="xp_dep_feature",
            format_func=lambda f: f if model.feature_label(f) == f else f"{model.feature_label(f)} ({f})")
        partner = summary.strongest_interaction(e, feature)
        st.caption(f"Coloured by {partner}, the input that interacts most strongly with {feature}." if partner
                   else "No interacting input found.")
        st.plotly_chart(figs.dependence(e.values, e.inputs, feature, partner), key="xp_dependence")


def case_output(out: float) -> str:
    p = summary.to_probability(out, e.output_space)
    return f"probability {p:.1%}" if p is not None else f"output {out:.4g}"


if t_case.open:
    with t_case:
        idx = list(range(len(e.frame)))
        # One label per case, built once from whole columns (a lookup per option and run cost a third of a second).
        case_labels = [f"row {r} · {case_output(float(out))}"
                       for r, out in zip(e.frame["index"].tolist(), e.frame["prediction"].tolist())]
        row = st.selectbox("Case (row of the data)", idx, key="xp_row", format_func=case_labels.__getitem__)
        st.session_state["xp_case"] = row  # kept for the What-if tab, which runs without this picker drawn
        if classes:  # one case: the predicted class by default
            predicted = int(explained.frame["predicted_class"].iat[row])
            case_class = st.selectbox("Explain this case's output for", [None, *range(len(classes))],
                                      key="xp_case_class",
                                      format_func=lambda k: (f"the predicted class ({classes[predicted]})" if k is None
                                                             else f"class {classes[k]}"))
            e = explained.for_class(predicted if case_class is None else case_class)
        st.info(summary.plain_summary(e, row=row))
        contrib = e.values.iloc[row].to_dict()
        st.plotly_chart(figs.waterfall(e.base_value, contrib, float(e.frame["prediction"].iat[row]), e.output_space),
                        key="xp_waterfall")
        with st.expander("This case's inputs"):
            case = {"Input": e.features, "Value": [e.inputs[f].iat[row] for f in e.features]}
            if model.feature_dictionary:
                case = {"Input": e.features, "Meaning": [model.feature_label(f) for f in e.features], "Value": case["Value"]}
            st.dataframe(pd.DataFrame(case), hide_index=True, key="xp_case_inputs")
if t_whatif.open:
    with t_whatif:
        st.caption("Change a case's inputs and see the score and the contributions move. Nothing is stored.")
        base_row = st.session_state.get("xp_case", 0) or 0
        st.caption(f"Starting from row {e.frame['index'].iat[base_row]}, the case chosen under One case.")
        start = e.inputs.iloc[base_row]
        kinds = {c["name"]: c["type"] for c in the_version.signature}
        log_odds = False
        if e.output_space == "log-odds":
            log_odds = st.toggle("Show the output in log-odds (the space the contributions add up in)",
                                 key="xp_wi_log_odds")
        with st.form("xp_whatif"):
            cols = st.columns(3)
            record = {}
            for i, f in enumerate(e.features):
                val = start[f]
                business = model.feature_label(f)
                label = text.escape(business) + (f" ({text.escape(f)})" if business != f else "")
                if kinds.get(f) == "integer":  # whole numbers stay whole: step 1, no decimals
                    record[f] = cols[i % 3].number_input(label, value=int(round(float(val))) if pd.notna(val) else 0,
                                                         step=1, format="%d", key=f"xp_wi_{f}")
                else:
                    record[f] = cols[i % 3].number_input(label, value=float(val) if pd.notna(val) else 0.0,
                                                         key=f"xp_wi_{f}")
            go_ = st.form_submit_button("Score this record", key="xp_whatif_submit")
        if go_:
            try:
                # multiclass: the class picked above (the predicted class when none is)
                out = explanations.explain_record(store, name, version, record,
                                                  class_pos if classes else None)
            except CoreError as err:
                st.error(str(err))
            else:
                before = float(e.frame["prediction"].iat[base_row])
                before_p = (explained.class_probability(base_row, out["class_index"]) if classes
                            else summary.to_probability(before, e.output_space))
                if classes:
                    st.caption(f"Predicted class: {out['predicted_class']} · probabilities: " + ", ".join(
                        f"{c} {p:.1%}" for c, p in out["class_probabilities"].items()))
                if out["probability"] is not None and not log_odds:
                    st.metric(f"Probability that {the_version.target} is "
                              f"{out['class'] if classes else 1}", f"{out['probability']:.1%}",
                              delta=f"{(out['probability'] - before_p) * 100:+.1f} points vs the original case",
                              delta_color="off")
                else:
                    st.metric(f"Output ({figs.SPACE[out['output_space']]})", f"{out['prediction']:.4g}",
                              delta=f"{out['prediction'] - before:+.4g} vs the original case", delta_color="off")
                if out["output_space"] == "log-odds":
                    st.caption("The contributions below are in log-odds: SHAP values add up in that space.")
                st.plotly_chart(figs.waterfall(out["base_value"], out["values"], out["prediction"], out["output_space"]),
                                key="xp_whatif_waterfall")
if t_shift.open:
    with t_shift:
        st.caption("Do the same inputs matter as before? Global importance side by side, as shares of the total.")
        others = [x for x in explanations.list_explanations(store, name) if x["key"] != e.key]
        if not others:
            st.info("Compute a second explanation to compare: another version (champion vs challenger), or the same "
                    "version on other data (choose 'Training data' and 'Production' above).")
        else:
            pick = st.selectbox("Compare with", range(len(others)), key="xp_shift_pick",
                                format_func=lambda i: f"{name}:{others[i]['version']} on {others[i]['data_ref']} "
                                                      f"({others[i]['rows']} rows, {str(others[i]['created_at'])[:10]})")
            other = explanations.cached(store, others[pick]["key"])
            if other is not None:
                st.plotly_chart(figs.side_by_side(imp, other.global_importance(), f"{name}:{version} · {e.data_ref}",
                                                  f"{name}:{other.version} · {other.data_ref}"), key="xp_shift_chart")
