"""The Model page shows what a version brought from MLflow: registered version, aliases, source run, parameters,
tags, and MLflow's logged metrics beside ModelGov's recomputed ones (no MLflow needed: core keeps the facts)."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from core.registry import versions
from core.registry.mlflow_records import MlflowFacts
from tests.app.test_foundation_pages import open_app, texts
from tests.conftest import synthetic_classification


def test_model_page_shows_mlflow_facts_beside_modelgov_metrics(demo_store, demo_people, monkeypatch):
    df = synthetic_classification(n=300, seed=7)
    est = LogisticRegression().fit(df[["x1", "x2"]], df["y"])
    facts = MlflowFacts("sqlite:///mlflow.db", "churn [lr]", 3, ["champion"], {"validated": "yes"}, "abc123",
                        "nightly-*bold*", "1", {"team": "churn"}, {"C": "1.0"}, {"auc": 0.91, "custom_lift": 2.5})
    versions.register_version(demo_store, demo_people["ada"], "from-mlflow", est, df.iloc[:200], "y",
                              test_data=df.iloc[200:], mlflow=facts)
    at = open_app(demo_store.home, monkeypatch, page="pages/model.py")
    at.selectbox(key="model_pick").select("from-mlflow").run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert "churn [lr]" in shown and "champion" in shown and "nightly-*bold*" in shown  # escaped, not formatted
    frames = [d.value for d in at.dataframe]  # (AppTest does not find dataframes by key)
    table = next(f for f in frames if "MLflow (logged by the run)" in f.columns)
    assert list(table.columns) == ["Metric", "ModelGov (hold-out, recomputed)", "MLflow (logged by the run)"]
    row = table.set_index("Metric")
    assert row.loc["custom_lift", "MLflow (logged by the run)"] == 2.5
    assert row["ModelGov (hold-out, recomputed)"].notna().sum() >= 4  # ours are computed, not MLflow's copied
    assert next(f for f in frames if "Parameter" in f.columns).iloc[0].tolist() == ["C", "1.0"]
    assert "run: team" in next(f for f in frames if "Tag" in f.columns)["Tag"].tolist()
