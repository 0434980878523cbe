"""Champion vs challenger: both versions on the same rows, with 95% intervals, then ask to promote."""

import tempfile
from pathlib import Path

import streamlit as st

from app import session
from app.components import compare as figs
from app.components import text
from core.compare import scores
from core.compare import stored as compare_stored
from core.errors import CoreError
from core.governance import approvals, live
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
    if allowed(me, "register-model"):
        st.info("No model has two versions yet. Register a challenger with `modelgov register MODEL --model FILE "
                "--train-data FILE --target COLUMN --test-data FILE`, then compare it here.")
    else:
        st.info("No model has two versions yet. Ask a data scientist to register a challenger; its comparison "
                "with the champion will show here.")
    st.stop()

names = [m.name for m in models]
if st.session_state.get("cmp_model") not in names:
    wanted = st.session_state.get("model_name")
    st.session_state["cmp_model"] = wanted if wanted in names else names[0]
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
name = c1.selectbox("Model", names, key="cmp_model")
environment = c2.selectbox("Live in", ENVIRONMENTS, key="cmp_env")
try:
    model = catalog.get_model(store, name)
    deployed = live.active(store, name, environment)
    live_stored = compare_stored.latest_comparison(store, name, environment)
except CoreError as e:
    st.error(str(e))
    st.stop()
numbers = [v.version for v in reversed(model.versions)]
live_champion = next((d.version for d in deployed if d.role == "champion"), None)
live_challengers = [d.version for d in deployed if d.role == "challenger"]
if live_stored:  # the live pair last compared
    pair = tuple(int(r.rsplit(":", 1)[1]) for r in (live_stored["champion"], live_stored["challenger"]))
else:
    first = live_champion if live_champion is not None else numbers[1]
    pair = (first, next((n for n in live_challengers if n != first), next(n for n in numbers if n != first)))
if (st.session_state.get("cmp_champion") not in numbers or st.session_state.get("cmp_challenger") not in numbers
        or st.session_state.get("cmp_for") != (name, environment)):
    st.session_state["cmp_champion"], st.session_state["cmp_challenger"] = pair
    st.session_state["cmp_for"] = (name, environment)


def label(n: int) -> str:
    role = ("champion" if n == live_champion else "challenger" if n in live_challengers else None)
    return f"v{n}" + (f" · live {role}" if role else "")


champion_no = c3.selectbox("Champion", numbers, key="cmp_champion", format_func=label)
challenger_no = c4.selectbox("Challenger", numbers, key="cmp_challenger", format_func=label)
champion = next(v for v in model.versions if v.version == champion_no)
challenger = next(v for v in model.versions if v.version == challenger_no)
if champion_no == challenger_no:
    st.warning("Pick two different versions.")
    st.stop()

try:
    stored_pair = compare_stored.latest_between(store, champion, challenger)
except CoreError as e:
    st.error(str(e))
    st.stop()

SOURCES = ["Champion's registered test data", "Upload a labelled file"]
with st.expander("Compare on labelled rows" if stored_pair is None else "Compare again on other rows or settings",
                 expanded=stored_pair is None, icon=":material/compare_arrows:"):
    source = st.radio("Rows to compare on", SOURCES, key="cmp_source", horizontal=True)
    frame, data_label, data_obj = None, None, None
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
        upload = st.file_uploader("Labelled hold-out file (CSV or Parquet)", type=["csv", "parquet"],
                                  key="cmp_upload")
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
    if frame is not None:
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
        if st.button("Compare", key="cmp_run", type="primary"):
            session.release_store()  # scoring takes a while: other processes may use the store meanwhile
            with st.spinner(f"Scoring {len(frame):,} rows with both versions and {int(replicates):,} paired "
                            "resamples…"):
                try:
                    fresh = compare_stored.compare_and_record(
                        store, me if allowed(me, "compute-results") else None, champion, challenger, data_obj,
                        target, segment=None if segment == segment_choices[0] else segment,
                        bootstrap=int(replicates), seed=int(seed),
                        data_ref=None if source == SOURCES[0] else f"upload:{data_label}")
                except CoreError as e:
                    st.error(str(e))
                    st.stop()
            st.session_state["cmp_result"] = ((champion.ref, challenger.ref), fresh)

# What to show: this session's own comparison of the pair, else the latest stored one.
mine = st.session_state.get("cmp_result")
if mine and mine[0] == (champion.ref, challenger.ref):
    result, stored_at = mine[1], None
elif stored_pair is not None:
    result, stored_at = stored_pair["result"], stored_pair
else:
    st.info(f"{challenger.ref} has not been compared with {champion.ref} yet. Choose the rows above and press "
            "**Compare**.")
    st.stop()

summary = result["verdict_summary"]
box = {"challenger_better": st.success, "champion_better": st.warning, "mixed": st.warning}.get(summary, st.info)
box(f"**Verdict** ({result['rows']:,} rows, {result['bootstrap']:,} replicates, seed {result['seed']}): "
    f"{text.escape(result['verdict'])}")
if stored_at is not None:
    st.caption(f"Stored comparison {stored_at['id']}, computed by {text.escape(stored_at['created_by'])} on "
               f"{stored_at['created_at'][:16].replace('T', ' ')} UTC on {text.escape(stored_at['data_ref'])} "
               f"({stored_at['data_fingerprint'][:12]}…). An approval request cites it as evidence.")
elif result.get("comparison_id"):
    st.caption(f"Stored as comparison {result['comparison_id']} with the fingerprint of these rows "
               f"({result['data']['fingerprint'][:12]}…); an approval request can cite it as evidence.")
else:
    st.caption("Not stored: only people who may compute results store comparisons.")
m1, m2, m3 = st.columns(3)
m1.metric("Agreement rate", f"{result['agreement_rate']:.1%}", help="Share of rows where both versions decide "
          "alike (same class at 0.5; regression: predictions within 0.1 standard deviations of the outcome).")
if "delong" in result["tests"]:
    d = result["tests"]["delong"]
    m2.metric("DeLong AUC difference", figs.signed(d["difference"]),
              help=f"95% interval {figs.interval(d['ci_low'], d['ci_high'])}; z = {d['z']:.2f}; "
                   f"p = {figs.p_value(d['p_value'])}")
if "mcnemar" in result["tests"]:
    t = result["tests"]["mcnemar"]
    m3.metric("McNemar p-value", figs.p_value(t["p_value"]), help=f"{t['method']}; champion-only correct "
              f"{t['champion_only_correct']}, challenger-only correct {t['challenger_only_correct']}")

st.dataframe(figs.metrics_table(result), hide_index=True, width="stretch", key="cmp_metrics_table")
st.markdown("**Challenger − champion**, each with its 95% paired-bootstrap interval: green where the challenger is "
            "better, red where it is worse (an interval that crosses the dotted zero line means no significant "
            "difference)")
st.plotly_chart(figs.difference_bars(result), key="cmp_diff_chart")

tabs = ["Curves", "Score distributions", "Disagreements", "Segments"] + (["Importance"] if result.get("importance")
                                                                          else [])
tab = dict(zip(tabs, st.tabs(tabs)))
with tab["Curves"]:
    if not result.get("curves"):
        st.info("This stored comparison kept no curves; compare again to draw them.")
    else:
        if result["task"] == "binary_classification":
            a, b = st.columns(2)
            a.plotly_chart(figs.roc(result), key="cmp_roc")
            b.plotly_chart(figs.precision_recall(result), key="cmp_pr")
        st.plotly_chart(figs.calibration(result), key="cmp_calibration")
with tab["Score distributions"]:
    if result.get("distributions"):
        st.plotly_chart(figs.distributions(result), key="cmp_dist")
    else:
        st.info("This stored comparison kept no score histograms; compare again to draw them.")
with tab["Disagreements"]:
    st.caption("The rows where the two versions' scores differ most (row = position in the data).")
    st.dataframe(figs.disagreements_table(result), hide_index=True, key="cmp_disagree_table")
with tab["Segments"]:
    if not result.get("segments"):
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
caution = scores.promotion_caution(summary)
if not allowed(me, "request-deployment"):
    st.caption("A data scientist requests promotion; a risk officer decides.")
else:
    if caution:
        st.warning(caution, icon=":material/warning:")
    worse = caution is not None
    comparison_id = result.get("comparison_id")
    with st.form("cmp_promote_form"):
        # Nothing the data argues against is chosen for the requester: with a worse challenger every field
        # starts empty.
        env = st.selectbox("Environment", ENVIRONMENTS, key="cmp_promote_env",
                           index=None if worse else ENVIRONMENTS.index(environment), placeholder="Choose…")
        role = st.selectbox("Role", ["champion", "challenger"], key="cmp_promote_role", index=None if worse else 0,
                            placeholder="Choose…")
        why = st.text_area("Justification", "" if worse else
                           (f"Comparison {comparison_id}: " if comparison_id else "") + result["verdict"],
                           key="cmp_promote_why", placeholder="Why this version should serve, in your words.")
        if st.form_submit_button(f"Request promotion of {challenger.ref}", key="cmp_promote_submit"):
            missing = [f for f, v in (("Environment", env), ("Role", role), ("Justification", (why or "").strip()))
                       if not v]
            if missing:
                st.error(f"Fill in {', '.join(missing)} before requesting the promotion.")
            else:
                try:
                    req = request(store, me, challenger.model, challenger.version, env, role, why)
                except CoreError as e:
                    st.error(str(e))
                else:
                    st.success(f"Requested: {getattr(req, 'id', req)}. A risk officer reviews it on the Approvals "
                               "page.")
