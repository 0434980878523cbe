"""Fairness: how a model treats the groups its card declares sensitive, on the hold-out data (champion and
challenger on the same rows) and in production over time."""

import streamlit as st

from app import session
from app.components import fairness as figs
from app.components.text import escape
from core.errors import CoreError
from core.fairness import attributes, report
from core.fairness.words import attribute_sentence
from core.governance import live, policy
from core.identity import allowed
from core.registry import catalog
from core.vocabulary import ENVIRONMENTS

me = session.guard("view")
store = session.store()
st.title("Fairness")
st.caption("How often each group is predicted positive, how accurate the model is for it, and how far the groups "
           "are apart. Every figure has a 95% bootstrap interval; groups too small to judge are shown and flagged, "
           "never hidden, and left out of the disparities.")

names = attributes.declared_models(store)
if not names:
    hint = ("Declare them with `modelgov fairness-declare MODEL --sensitive SEX,AGE --bands AGE=25,35,45,60`."
            if allowed(me, "register-model") else "Ask a data scientist to declare them on the model card.")
    st.info(f"No model card declares sensitive attributes yet. {hint}")
    st.stop()

if st.session_state.get("fair_model") not in names:
    wanted = st.session_state.get("model_name")
    st.session_state["fair_model"] = wanted if wanted in names else names[0]
c1, c2, c3 = st.columns([3, 3, 2])
name = c1.selectbox("Model", names, key="fair_model")
try:
    model = catalog.get_model(store, name)
    settings = attributes.get_settings(store, name)
    tier = next(p for p in policy.policies(store) if p.risk_tier == model.risk_tier)
    deployed = {env: live.active(store, name, env) for env in ENVIRONMENTS}
except CoreError as e:
    st.error(str(e))
    st.stop()
attr_names = [a.name for a in settings.attributes]
attribute = c2.selectbox("Sensitive attribute", attr_names, key="fair_attribute")
threshold = c3.number_input("Decision threshold", 0.05, 0.95, 0.5, 0.05, key="fair_threshold",
                            help="A score at or above it counts as a positive prediction (0.5: the model's own).")
phrase = escape(settings.prediction_phrase)
bar = tier.min_parity_ratio
st.caption(f"A positive prediction means *{phrase}*; it is {settings.positive_is} to the person, so the most "
           f"favoured group is the one {'least' if settings.positive_is == 'adverse' else 'most'} often predicted "
           f"positive. " + (f"The {model.risk_tier}-risk policy asks for a demographic-parity ratio of at least "
                            f"{bar:.2f} on each attribute (the four-fifths rule at 0.80)." if bar is not None else
                            f"The {model.risk_tier}-risk policy sets no fairness threshold."))


@st.cache_data(ttl=600, max_entries=32, show_spinner="Measuring each group with 200 bootstrap resamples…")
def _holdout(db: str, model_name: str, version: int, threshold: float, stamp: str) -> dict:
    return report.fairness_on_holdout(store, me, model_name, version, threshold=threshold)


@st.cache_data(ttl=600, max_entries=32, show_spinner="Reading the logged traffic…")
def _over_time(db: str, model_name: str, version: int, env: str, window: str, threshold: float, stamp: str):
    return report.fairness_over_time(store, me, model_name, version, environment=env, window=window,
                                     threshold=threshold)


stamp = str(settings.updated_at)
versions = [v for v in model.versions if v.task in report.TASKS]
if not versions:
    st.info(f"{name} has no binary or regression version; fairness covers those.")
    st.stop()
prod = deployed.get("production") or []
champion = next((d.version for d in prod if d.role == "champion"), versions[-1].version)
challengers = [d.version for d in prod if d.role == "challenger" and d.version != champion]
shown = [champion] + challengers[:1] if challengers else [champion] + [
    v.version for v in reversed(versions) if v.version != champion][:1]


def _label(n: int) -> str:
    return f"v{n} (" + ("champion" if n == champion else "challenger" if n in challengers else "registered") + ")"


t_hold, t_prod = st.tabs(["Before approval: hold-out data", "In production: over time"])
with t_hold:
    reports = []
    session.release_store()  # bootstrap work ahead: nobody waits on the store meanwhile
    for n in shown:
        try:
            reports.append((n, _label(n), _holdout(str(store.db_path), name, n, float(threshold), stamp)))
        except CoreError as e:
            st.warning(f"{_label(n)}: {e}")
    if reports:
        for _n, label, rep in reports:
            a = next(x for x in rep["attributes"] if x["attribute"] == attribute)
            ratio = a["demographic_parity_ratio"]
            verdict = ""
            if bar is not None and ratio is not None:
                verdict = (" Below" if ratio < bar else " Meets") + f" the {bar:.2f} the policy asks for."
            box = st.warning if (bar is not None and ratio is not None and ratio < bar) else st.info
            box(f"**{escape(label)}** on {rep['rows']:,} hold-out rows: {escape(attribute_sentence(rep, a))}{verdict}",
                icon=":material/balance:")
        st.plotly_chart(figs.group_bars([(label, rep) for _n, label, rep in reports], attribute,
                                        title=f"Share {settings.prediction_phrase}, by {attribute} (95% CI)"),
                        key="fair_bars")
        data_of = {v.version: v.test_dataset_id for v in model.versions}
        if len(reports) > 1 and data_of[reports[0][0]] == data_of[reports[1][0]]:
            st.caption("Both versions are measured on the same hold-out rows.")
        cols = st.columns(len(reports))
        for (n, label, rep), col in zip(reports, cols):
            if rep["task"] != "regression":
                col.plotly_chart(figs.calibration_bars(rep, attribute, label), key=f"fair_calib_v{n}")
        for n, label, rep in reports:
            st.markdown(f"**{escape(label)}**")
            a = next(x for x in rep["attributes"] if x["attribute"] == attribute)
            if rep["task"] != "regression":
                c = st.columns(3)
                dp = a["demographic_parity_ratio"]
                c[0].metric("Demographic-parity ratio", figs._num(dp, 2),
                            help="Lowest ÷ highest share predicted positive among the groups large enough to judge. "
                                 f"95% CI {figs._ci(a.get('demographic_parity_ratio_ci'), pct=False)}.")
                c[1].metric("Demographic-parity difference", figs._pct(a["demographic_parity_difference"]),
                            help="Highest − lowest share predicted positive.")
                c[2].metric("Equalized-odds difference", figs._pct(a["equalized_odds_difference"]),
                            help="The larger of the gaps in true-positive rate and in false-positive rate.")
            st.dataframe(figs.groups_table(rep, attribute), hide_index=True, key=f"fair_table_v{n}")

with t_prod:
    live_versions = sorted({d.version for ds in deployed.values() for d in ds})
    if not live_versions:
        st.info(f"No version of {name} is live yet; production fairness shows once it logs predictions.")
    else:
        c1, c2, c3 = st.columns(3)
        env = c1.selectbox("Environment", [e for e in ENVIRONMENTS if deployed.get(e)], key="fair_env")
        version = c2.selectbox("Version", [d.version for d in deployed[env]], key="fair_version", format_func=_label)
        window = c3.segmented_control("Window", ["week", "day"], default="week", key="fair_window") or "week"
        try:
            frame = _over_time(str(store.db_path), name, version, env, window, float(threshold), stamp)
        except CoreError as e:
            st.info(str(e))
        else:
            value = ("mean prediction" if model.versions[0].task == "regression" else f"share {settings.prediction_phrase}")
            st.plotly_chart(figs.over_time(frame, attribute, f"{value} per {window}, by {attribute}", bar),
                            key="fair_time")
            st.caption("Shares are of every logged prediction; outcome rates count only the rows whose outcome has "
                       "arrived. Monitoring raises a fairness alert when the last 7 days fall below the policy.")
