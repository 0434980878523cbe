"""The demo's multiclass model: wine-cultivar (scikit-learn's bundled three-class wine data), so every page shows a
multiclass classifier: per-class metrics, predicted-class drift, performance per day, SHAP per class, and a champion
with a challenger in shadow compared with paired-bootstrap intervals. Called by core.demo."""

from __future__ import annotations

from typing import Callable

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .compare import holdout, scores, stored
from .explain import explanations
from .governance import approvals, deployments
from .identity import identity_for
from .monitoring import checks, ingest
from .registry import versions
from .store import Store

SEED = 20261122  # core.demo.SEED

WINE_TARGET = "cultivar"


def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(all 178 wines, the training split, the stratified 35% hold-out), the same on every call."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame.rename(columns={"target": WINE_TARGET})
    wine.columns = [c.replace("/", "_") for c in wine.columns]  # od280/od315_of_diluted_wines: a plain name
    train, test = train_test_split(wine, test_size=0.35, random_state=SEED, stratify=wine[WINE_TARGET])
    return wine, train, test


def register(store: Store, quick: bool, say: Callable[[str], None]) -> None:
    """The two versions: a scaled multinomial logistic regression (v1, Ada's) and a random forest (v2, Grace's)."""
    from sklearn.ensemble import RandomForestClassifier

    say("Training wine-cultivar (three classes: logistic regression and a random-forest challenger)…")
    _wine, train, test = data()
    features = [c for c in train.columns if c != WINE_TARGET]
    ada, grace = (identity_for(store, f"{n}@modelgov.demo") for n in ("ada", "grace"))
    lr = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000, C=0.5))]).fit(
        train[features], train[WINE_TARGET])
    versions.register_version(
        store, ada, "wine-cultivar", lr, train, WINE_TARGET, test_data=test, owner="ada@modelgov.demo",
        risk_tier="low", tags=["quality", "multiclass"], train_name="wine-train", test_name="wine-test",
        description="Which of three cultivars a wine comes from, from its chemical analysis (scikit-learn wine data).",
        code_ref="demo:wine_champion", intended_use="Route lab samples to the right cultivar's quality checks.",
        limitations="178 wines from one Italian region; other regions and vintages are unknown.")
    rf = RandomForestClassifier(n_estimators=30 if quick else 200, max_depth=5, random_state=SEED, n_jobs=1).fit(
        train[features], train[WINE_TARGET])
    versions.register_version(store, grace, "wine-cultivar", rf, train, WINE_TARGET, test_data=test,
                              train_name="wine-train", test_name="wine-test", code_ref="demo:wine_challenger")


def deploy(store: Store, quick: bool) -> None:
    """v1 champion and v2 challenger in shadow, live in production; v1 explained; the two compared on the
    hold-out with paired-bootstrap intervals (stored)."""
    _wine, _train, test = data()
    ada, grace, rita = (identity_for(store, f"{n}@modelgov.demo") for n in ("ada", "grace", "rita"))
    # Grace asks for both (Ada's own requests stay the credit and diabetes ones the Approvals page starts from).
    for version, role, why in ((1, "champion", "Multinomial logistic regression: clear coefficients."),
                               (2, "challenger", "A random forest in shadow beside it.")):
        r = approvals.request_deployment(store, grace, "wine-cultivar", version, "production", role, why)
        approvals.approve(store, rita, r.id, "Low risk; lab routing only.")
        deployments.deploy(store, grace, r.id)
    explanations.explain(store, ada, "wine-cultivar", 1, rows=100)
    result = holdout.compare_holdout(store, "wine-cultivar:1", "wine-cultivar:2", test, WINE_TARGET,
                                     bootstrap=200 if quick else scores.DEFAULT_BOOTSTRAP, seed=0)
    stored.save_comparison(store, grace, result)


def traffic(store: Store, quick: bool) -> None:
    """Three weeks of lab samples scored by champion and challenger; in the last week more samples of the third
    cultivar arrive (the predicted classes drift); outcomes arrive three days late; then a monitoring check."""
    import numpy as np

    from .audit import utcnow

    wine = data()[0]
    rng = np.random.default_rng(SEED + 1)
    days, n = 21, 900 if quick else 2100  # 30 labelled a day or more: performance is measured per day
    frame = wine.sample(n=n, replace=True, random_state=SEED).reset_index(drop=True)
    day = np.sort(rng.integers(0, days, n))
    late = day >= days - 7  # the last week: a third more samples of cultivar 2
    extra = wine[wine[WINE_TARGET] == 2].sample(n=int(late.sum() // 3), replace=True, random_state=SEED)
    frame = pd.concat([frame, extra], ignore_index=True)
    day = np.concatenate([day, np.full(len(extra), days - 1) - rng.integers(0, 7, len(extra))])
    numeric = [c for c in frame.columns if c != WINE_TARGET]
    frame[numeric] = frame[numeric] * rng.normal(1.0, 0.02, size=(len(frame), len(numeric)))  # measurement noise
    start = pd.Timestamp(utcnow() - pd.Timedelta(days=days)).normalize()
    frame["ts"] = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86400, len(frame)), unit="s")
    frame["request_id"] = [f"wc-{i:05d}" for i in range(len(frame))]
    ada = identity_for(store, "ada@modelgov.demo")
    folder = store.home / "inputs"
    traffic = folder / "wine_cultivar_traffic.csv"
    frame.drop(columns=[WINE_TARGET]).to_csv(traffic, index=False)
    ingest.score_file(store, ada, "wine-cultivar", None, traffic, time_column="ts", id_column="request_id",
                      output=folder / "wine_cultivar_traffic.scored.csv", refresh_snapshots=False)
    arrived = frame[frame["ts"] < utcnow() - pd.Timedelta(days=3)]
    outcomes = folder / "wine_cultivar_outcomes.csv"
    arrived[["request_id", WINE_TARGET]].to_csv(outcomes, index=False)
    ingest.log_outcomes(store, ada, "wine-cultivar", outcomes, id_column="request_id", label_column=WINE_TARGET,
                        refresh_snapshots=False)  # the check below stores the review pages read
    checks.check(store, ada, "wine-cultivar")
