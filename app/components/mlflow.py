"""Where a version came from in MLflow: registered version, aliases, source run, its parameters, tags and metrics.

MLflow's logged metrics are shown next to ModelGov's own hold-out metrics, each in its own labelled column:
they were measured by different people on possibly different data, so they are never merged.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.components.text import escape


def _table(mapping: dict[str, Any], key_label: str, value_label: str, key: str) -> None:
    st.dataframe(pd.DataFrame({key_label: list(mapping), value_label: [str(v) for v in mapping.values()]}),
                 hide_index=True, key=key, width="stretch", height=min(38 + 35 * len(mapping), 250))


def mlflow_section(facts: dict[str, Any], metrics: dict[str, float], labels: dict[str, str], key: str) -> None:
    """The MLflow facts core keeps for one version (core.registry.mlflow_records.get_mlflow_facts)."""
    st.markdown("**From MLflow**")
    where = []
    if facts.get("registered_model"):
        where.append(f"registered model **{escape(facts['registered_model'])}** version "
                     f"**{facts['registered_version']}** at `{escape(facts['tracking_uri'])}`")
    if facts.get("aliases"):
        where.append("aliases " + ", ".join(f"**{escape(a)}**" for a in facts["aliases"]))
    if facts.get("run_id"):
        where.append(f"source run **{escape(facts.get('run_name') or facts['run_id'])}** "
                     f"(`{escape(facts['run_id'])}`" + (f", experiment {escape(facts['experiment_id'])})"
                                                      if facts.get("experiment_id") else ")"))
    where.append(f"{escape(facts['flavour'])} flavour, {escape(facts['serialization'])} file")
    st.caption(" · ".join(where))
    logged = facts.get("metrics") or {}
    if logged or metrics:
        names = list(dict.fromkeys(list(metrics) + sorted(logged)))
        st.dataframe(pd.DataFrame({"Metric": [labels.get(n, n) for n in names],
                                   "ModelGov (hold-out, recomputed)": [metrics.get(n) for n in names],
                                   "MLflow (logged by the run)": [logged.get(n) for n in names]}),
                     hide_index=True, key=f"{key}_metrics", width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in ("ModelGov (hold-out, recomputed)", "MLflow (logged by the run)")})
    cols = st.columns(2)
    with cols[0]:
        if facts.get("params"):
            st.markdown("Run parameters")
            _table(facts["params"], "Parameter", "Value", f"{key}_params")
    with cols[1]:
        tags = {**{f"version: {k}": v for k, v in (facts.get("version_tags") or {}).items()},
                **{f"run: {k}": v for k, v in (facts.get("run_tags") or {}).items()}}
        if tags:
            st.markdown("Tags")
            _table(tags, "Tag", "Value", f"{key}_tags")
    inputs = (facts.get("signature") or {}).get("inputs")
    if inputs:
        with st.expander(f"MLflow signature ({len(inputs)} inputs, checked against the model's columns)"):
            st.dataframe(pd.DataFrame(inputs).astype(str), hide_index=True, key=f"{key}_signature")
