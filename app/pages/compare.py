"""Champion vs challenger: both versions on the same rows, with 95% intervals, then ask to promote."""

import tempfile
from pathlib import Path

import streamlit as st

from app import session
from app.components import compare as figs
from core.compare import production, scores
from core.compare import stored as compare_stored
from core.errors import CoreError
from core.governance import approvals
from core.identity import allowed
from core.registry import catalog, datasets, versions
from core.vocabulary import ENVIRONMENTS

me = session.guard("view")
store = session.store()
st.title("Champion vs challenger")
st.caption("Both versions score the same labelled rows; every difference comes with a paired-bootstrap 95% "
           "interval (challenger − champion). AUC is also tested with DeLong's test, accuracy with McNemar's.")

models = [m for m in catalog.search_models(store, per_page=1000).items if m.versions >= 2]
if not models:
    st.info("No model has two versions yet. Register a challenger with `modelgov register MODEL --model FILE "
            "--train-data FILE --target COLUMN --test-data FILE`, then compare it here.")
    st.stop()

names = [m.name for m in models]
if st.session_state.get("cmp_model") not in names:
    wanted = st.session_state.get("model_name")
    st.session_state["cmp_model"] = wanted if wanted in names else names[0]
c1, c2, c3 = st.columns([3, 2, 2])
name = c1.selectbox("Model", names, key="cmp_model")
try:
    model = catalog.get_model(store, name)
    champion_live, _challengers = production.active_deployments(store, name, "production")
except CoreError as e:
    st.error(str(e))
    st.stop()
numbers = [v.version for v in reversed(model.versions)]
default_champion = champion_live.version if champion_live else numbers[1]
if st.session_state.get("cmp_champion") not in numbers or st.session_state.get("cmp_for") != name:
    st.session_state["cmp_champion"] = default_champion
    st.session_state["cmp_challenger"] = next(n for n in numbers if n != default_champion)
    st.session_state["cmp_for"] = name
label = lambda n: f"v{n}" + (" (production champion)" if champion_live and n == champion_live.version else "")  # noqa: E731
champion_no = c2.selectbox("Champion", numbers, key="cmp_champion", format_func=label)
challenger_no = c3.selectbox("Challenger", numbers, key="cmp_challenger", format_func=label)
champion = next(v for v in model.versions if v.version == champion_no)
challenger = next(v for v in model.versions if v.version == challenger_no)
if champion_no == challenger_no:
    st.warning("Pick two different versions.")
    st.stop()

SOURCES = ["Champion's registered test data", "Upload a labelled file"]
source = st.radio("Rows to compare on", SOURCES, key="cmp_source", horizontal=True)
frame, data_label = None, None
if source == SOURCES[0]:
    _train, test_ds = versions.version_datasets(store, champion)
    if test_ds is None:
        st.info(f"{champion.ref} was registered without test data; upload a labelled hold-out file instead.")
    else:
        try:
            frame, data_label = datasets.load_frame(store, test_ds), f"dataset {test_ds.ref}"
        except CoreError as e:
            st.error(str(e))
        data_obj = test_ds
else:
    upload = st.file_uploader("Labelled hold-out file (CSV or Parquet)", type=["csv", "parquet"], key="cmp_upload")
    if upload is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            try:
                frame = datasets.read_table(path)
            except CoreError as e:
                st.error(str(e))
        data_label = upload.name
        data_obj = frame
    else:
        st.info("Upload a file with the model's input columns and the outcome column.")
if frame is None:
    st.stop()

cols = [str(c) for c in frame.columns]
o1, o2, o3, o4 = st.columns([2, 2, 1, 1])
target_default = champion.target if champion.target in cols else cols[-1]
if st.session_state.get("cmp_target") not in cols:
    st.session_state["cmp_target"] = target_default
target = o1.selectbox("Outcome column", cols, key="cmp_target")
segment_choices = ["(no segments)"] + [c for c in cols if c != target]
if st.session_state.get("cmp_segment") not in segment_choices:
    st.session_state["cmp_segment"] = segment_choices[0]
segment = o2.selectbox("Segment by", segment_choices, key="cmp_segment")
replicates = o3.number_input("Bootstrap replicates", min_value=scores.MIN_BOOTSTRAP, max_value=20_000,
                             value=scores.DEFAULT_BOOTSTRAP, step=100, key="cmp_bootstrap")
seed = o4.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="cmp_seed")
st.caption(f"{len(frame):,} rows from {data_label}.")

inputs = (champion.ref, challenger.ref, data_label, len(frame), target, segment, int(replicates), int(seed))
if st.button("Compare", key="cmp_run", type="primary"):
    with st.spinner(f"Scoring {len(frame):,} rows with both versions and {int(replicates):,} paired resamples…"):
        try:
            result = compare_stored.compare_and_record(
                store, me if allowed(me, "compute-results") else None, champion, challenger, data_obj, target,
                segment=None if segment == segment_choices[0] else segment, bootstrap=int(replicates),
                seed=int(seed), data_ref=None if source == SOURCES[0] else f"upload:{data_label}")
        except CoreError as e:
            st.error(str(e))
            st.stop()
    st.session_state["cmp_result"] = (inputs, result)

stored = st.session_state.get("cmp_result")
if not stored or stored[0] != inputs:
    st.info("Choose the versions and rows, then press **Compare**.")
    st.stop()
result = stored[1]

summary = result["verdict_summary"]
box = {"challenger_better": st.success, "champion_better": st.warning}.get(summary, st.info)
box(f"**Verdict** ({result['rows']:,} rows, {result['bootstrap']:,} replicates, seed {result['seed']}): "
    f"{result['verdict']}")
m1, m2, m3 = st.columns(3)
m1.metric("Agreement rate", f"{result['agreement_rate']:.1%}", help="Share of rows where both versions decide "
          "alike (same class at 0.5; regression: predictions within 0.1 standard deviations of the outcome).")
if "delong" in result["tests"]:
    d = result["tests"]["delong"]
    m2.metric("DeLong AUC difference", f"{d['difference']:+.4f}", help=f"95% CI {d['ci_low']:.4f} to "
              f"{d['ci_high']:.4f}; z = {d['z']:.2f}; p = {d['p_value']:.3g}")
if "mcnemar" in result["tests"]:
    t = result["tests"]["mcnemar"]
    m3.metric("McNemar p-value", f"{t['p_value']:.3g}", help=f"{t['method']}; champion-only correct "
              f"{t['champion_only_correct']}, challenger-only correct {t['challenger_only_correct']}")
if result.get("comparison_id"):
    st.caption(f"Stored as comparison {result['comparison_id']} with the fingerprint of these rows "
               f"({result['data']['fingerprint'][:12]}…); an approval request can cite it as evidence.")

st.dataframe(figs.metrics_table(result), hide_index=True, key="cmp_metrics_table")
st.markdown("**Challenger − champion**, each with its 95% paired-bootstrap interval (an interval that crosses "
            "the dotted zero line means no significant difference)")
st.plotly_chart(figs.difference_bars(result), key="cmp_diff_chart")

tabs = ["Curves", "Score distributions", "Disagreements", "Segments"] + (["Importance"] if result.get("importance")
                                                                          else [])
tab = dict(zip(tabs, st.tabs(tabs)))
with tab["Curves"]:
    if result["task"] == "binary_classification":
        a, b = st.columns(2)
        a.plotly_chart(figs.roc(result), key="cmp_roc")
        b.plotly_chart(figs.precision_recall(result), key="cmp_pr")
    st.plotly_chart(figs.calibration(result), key="cmp_calibration")
with tab["Score distributions"]:
    st.plotly_chart(figs.distributions(result), key="cmp_dist")
with tab["Disagreements"]:
    st.caption("The rows where the two versions' scores differ most (row = position in the data).")
    st.dataframe(figs.disagreements_table(result), hide_index=True, key="cmp_disagree_table")
with tab["Segments"]:
    if not result["segments"]:
        st.info("Pick a column in **Segment by** and compare again to see the difference within each segment.")
    else:
        metric = st.selectbox("Metric", list(result["difference"]), key="cmp_segment_metric",
                              format_func=scores.LABELS.get)
        st.plotly_chart(figs.segments_figure(result, metric), key="cmp_segments_chart")
        st.dataframe(figs.segments_table(result, metric), hide_index=True, key="cmp_segments_table")
if "Importance" in tab:
    with tab["Importance"]:
        st.plotly_chart(figs.importance(result["importance"]), key="cmp_importance")

st.subheader("Request promotion")
request = approvals.request_deployment
if not allowed(me, "request-deployment"):
    st.caption("A data scientist requests promotion; a risk officer decides.")
else:
    with st.form("cmp_promote_form"):
        env = st.selectbox("Environment", ENVIRONMENTS, key="cmp_promote_env")
        role = st.selectbox("Role", ["champion", "challenger"], key="cmp_promote_role")
        why = st.text_area("Justification", f"Comparison {result.get('comparison_id')}: {result['verdict']}",
                           key="cmp_promote_why")
        if st.form_submit_button(f"Request promotion of {challenger.ref}", key="cmp_promote_submit"):
            try:
                req = request(store, me, challenger.model, challenger.version, env, role, why)
            except CoreError as e:
                st.error(str(e))
            else:
                st.success(f"Requested: {getattr(req, 'id', req)}. A risk officer reviews it on the Approvals page.")
