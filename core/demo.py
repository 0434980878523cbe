"""The demo store: real models trained on real data, also the fixture for tests.

`credit-default` is trained on the UCI "default of credit card clients" data
shipped in `data/demo/credit_default.csv` (CC BY 4.0, Yeh & Lien 2009) with a
seeded 70/30 stratified hold-out split, so every metric shown is honest. Three
more models use scikit-learn's bundled datasets. The store is built in a
temporary folder and moved into place whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from . import audit, config, demo_compare, demo_multiclass, users
from .errors import Conflict, NotFound
from .explain import compute, explanations
from .demo_fairness import CREDIT_SENSITIVE, FAIRNESS_OVERRIDE
from .fairness import alerts as fairness_alerts, attributes as fairness
from .governance import approvals, deployments, policy
from .identity import identity_for
from .lineage import openlineage
from .monitoring import checks, ingest
from .registry import catalog, versions
from .store import Store

SEED = 20261122
CREDIT_CSV = config.PROJECT_ROOT / "data" / "demo" / "credit_default.csv"
CREDIT_CATEGORICAL = ["SEX", "EDUCATION", "MARRIAGE"]

DEMO_USERS = {
    "ada@modelgov.demo": ("Ada Lovelace", ["data_scientist"]),
    "grace@modelgov.demo": ("Grace Hopper", ["data_scientist"]),
    "rita@modelgov.demo": ("Rita Levi", ["risk_officer"]),
    "raj@modelgov.demo": ("Raj Patel", ["risk_officer"]),
    "vera@modelgov.demo": ("Vera Brooks", ["viewer"]),
    "alan@modelgov.demo": ("Alan Turing", ["admin"]),
}
ADMIN = "alan@modelgov.demo"
# The folders the demo fills under its home; it refuses to build where any of them already holds files.
DEMO_FOLDERS = ["artifacts", "datasets", "inputs", "explanations", "data"]

Progress = Callable[[str], None] | None


def has_models(store: Store) -> bool:
    if not store.exists():
        return False
    with store.read() as con:
        return con.execute("SELECT count(*) FROM models").fetchone()[0] > 0


def credit_frame() -> pd.DataFrame:
    if not CREDIT_CSV.exists():
        raise NotFound(f"The demo data {CREDIT_CSV} is missing; restore it from the repository.")
    return pd.read_csv(CREDIT_CSV)


def credit_split(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeded 70/30 stratified split every credit-default version uses."""
    df = credit_frame()
    train, test = train_test_split(df, test_size=0.3, random_state=seed, stratify=df["default"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def credit_champion(quick: bool = False) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=60 if quick else 250, learning_rate=0.05, max_leaf_nodes=15,
                                          l2_regularization=1.0, random_state=SEED)


def credit_challenger(features: list[str], quick: bool = False) -> Pipeline:
    numeric = [c for c in features if c not in CREDIT_CATEGORICAL]
    return Pipeline([
        ("prep", ColumnTransformer([
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CREDIT_CATEGORICAL),
        ])),
        ("clf", LogisticRegression(max_iter=300 if quick else 1000, C=0.5)),
    ])


def build(store: Store, *, quick: bool = False, progress: Progress = None) -> dict[str, Any]:
    """Train and register the demo models into a new store at `store`; only where no store exists yet.

    Raises Conflict (touching nothing) when the store file, its WAL, or a non-empty folder the demo would fill
    is already there: an initialised store holds users, policies and an audit trail even before its first model.
    """
    refuse_existing(store)
    say = progress or (lambda _m: None)
    store.home.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=store.home))
    try:
        # Built in a DuckDB file of its own whatever the target (PostgreSQL receives it with store copy).
        staging = Store(tmp, lock_timeout=store.lock_timeout, database_url="")
        # The staging store is the build's alone (a hidden temporary folder): holding it open for the whole build
        # spares hundreds of opens of the file, each building a DuckDB instance (tens of milliseconds).
        with staging.session():
            summary = _fill(staging, quick, say)
        _move_into_place(tmp, store)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"Done: {len(summary['models'])} models.")
    return summary


def _occupied(store: Store, folders: list[str]) -> list[Path]:
    found = ([store.location] if store.exists() else []) if store.database_url else [
        p for p in (store.db_path, _wal(store.db_path)) if p.exists()]
    places = [store.data_dir if f == "data" else store.home / f for f in folders]
    found += [p for p in places if p.is_dir() and any(p.iterdir())]
    return found


def _wal(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".wal")


def refuse_existing(store: Store, folders: list[str] = DEMO_FOLDERS) -> None:
    """Raise Conflict when anything the demo would write already exists at `store`."""
    found = _occupied(store, folders)
    if found:
        raise Conflict(f"A ModelGov store already exists at {found[0]}, so the demo changed nothing; build the demo "
                       "into a new folder with --home DIR (or MODELGOV_HOME), or keep using this store.")


def _move_into_place(tmp: Path, store: Store) -> None:
    folders = sorted(p.name for p in tmp.iterdir() if p.is_dir())  # artifacts, datasets, inputs, explanations, …
    refuse_existing(store, folders)  # again: training took minutes, and someone may have created a store meanwhile
    if store.database_url:  # PostgreSQL: the staging DuckDB store moves over as `modelgov store copy` moves one
        from .store_copy import copy_store
        copy_store(Store(tmp, database_url=""), store.database_url)
    else:
        _link_into_place(tmp, store, folders)
    _move_folders(tmp, store, folders)


def _link_into_place(tmp: Path, store: Store, folders: list[str]) -> None:
    store.db_path.parent.mkdir(parents=True, exist_ok=True)
    try:  # a hard link claims the name atomically and never replaces a store created in the meantime
        os.link(tmp / "modelgov.duckdb", store.db_path)
    except FileExistsError:
        refuse_existing(store, folders)
        raise
    except OSError:  # another file system (MODELGOV_DB elsewhere): checked just above, copy it over
        shutil.copy2(tmp / "modelgov.duckdb", store.db_path)


def _move_folders(tmp: Path, store: Store, folders: list[str]) -> None:
    for name in folders:
        # The staging store's data location is its home's `data/`; the store's may be elsewhere (MODELGOV_DATA_DIR).
        # The catalogue names files relative to it, so the folder moves as it is.
        target = store.data_dir if name == "data" else store.home / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            target.rmdir()  # empty (checked above); never a folder with content
        shutil.move(str(tmp / name), str(target))
    from . import store as store_module

    store_module._migrated.discard(store._key)
    # Lineage names the input files by absolute path; they now live under store.home.
    with store.transaction() as con:
        for table, col in (("lineage_nodes", "id"), ("lineage_edges", "src"), ("lineage_edges", "dst"),
                           ("lineage_columns", "dataset"), ("lineage_columns", "source_dataset"),
                           ("datasets", "location")):
            con.execute(f"UPDATE {table} SET {col} = replace({col}, ?, ?)", [str(tmp), str(store.home)])
        con.execute("UPDATE lineage_nodes SET attributes = CAST(replace(CAST(attributes AS VARCHAR), ?, ?) AS JSON)",
                    [str(tmp), str(store.home)])


def _pipelines(store: Store, actor, train_path: Path, test_path: Path) -> None:
    """The upstream pipelines of the credit models, imported as OpenLineage events like Airflow would send."""
    import json


    bank = "postgres://core-banking.internal:5432"
    lake = "s3://lake"

    def columns(mapping: dict[str, tuple[str, str, str, str]]) -> dict:
        """A columnLineage facet: output column -> (source namespace, source table, source column, subtype)."""
        return {"columnLineage": {
            "_producer": "https://github.com/apache/airflow",
            "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
            "fields": {c: {"inputFields": [{"namespace": ns, "name": t, "field": f, "transformations": [
                {"type": "DIRECT", "subtype": sub}]}]} for c, (ns, t, f, sub) in mapping.items()}}}

    # Where credit-default's inputs come from: the core banking tables, through the monthly feature snapshot;
    # credit-limit-advisor is trained on the same snapshot, so a source column reaches both.
    snapshot = {"LIMIT_BAL": (bank, "cards.accounts", "credit_limit", "IDENTITY"),
                "AGE": (bank, "crm.clients", "birth_date", "TRANSFORMATION"),
                "PAY_0": (bank, "cards.payments", "months_late_m1", "IDENTITY"),
                "BILL_AMT1": (bank, "cards.statements", "bill_amount_m1", "IDENTITY")}
    split = {c: (lake, "features/credit_client_monthly", c, "IDENTITY") for c in snapshot}
    events = [
        {"eventType": "COMPLETE", "eventTime": "2026-03-01T02:00:00Z", "run": {"runId": "d1c3a9e0-0001-4000-8000-000000000001"},
         "job": {"namespace": "airflow", "name": "cards_daily_snapshot"},
         "inputs": [{"namespace": bank, "name": "cards.statements"}, {"namespace": bank, "name": "cards.payments"},
                    {"namespace": bank, "name": "crm.clients"}],
         "outputs": [{"namespace": "s3://lake", "name": "features/credit_client_monthly", "facets": columns(snapshot)}],
         "producer": "https://github.com/apache/airflow"},
        {"eventType": "COMPLETE", "eventTime": "2026-03-01T03:00:00Z", "run": {"runId": "d1c3a9e0-0002-4000-8000-000000000002"},
         "job": {"namespace": "airflow", "name": "credit_default_training_split"},
         "inputs": [{"namespace": "s3://lake", "name": "features/credit_client_monthly"}],
         "outputs": [{"namespace": "file", "name": str(train_path.resolve()), "facets": columns(split)},
                     {"namespace": "file", "name": str(test_path.resolve()), "facets": columns(split)}],
         "producer": "https://github.com/apache/airflow"},
        {"eventType": "COMPLETE", "eventTime": "2026-03-01T03:10:00Z", "run": {"runId": "d1c3a9e0-0003-4000-8000-000000000003"},
         "job": {"namespace": "airflow", "name": "credit_limit_extract"},
         "inputs": [{"namespace": "s3://lake", "name": "features/credit_client_monthly"}],
         "outputs": [{"namespace": "modelgov", "name": "credit-limit-train/v1", "facets": columns(split)},
                     {"namespace": "modelgov", "name": "credit-limit-test/v1", "facets": columns(split)}],
         "producer": "https://github.com/apache/airflow"},
    ]
    path = store.home / "inputs" / "credit_pipelines.openlineage.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    openlineage.import_events(store, actor, path)


TRAFFIC_DAYS, SHIFT_DAY, OUTCOME_LAG_DAYS = 30, 15, 7
SHIFT_NOTE = ("Simulated: the hold-out clients replayed as a month of production traffic. From day 15 the "
              "repayment status PAY_0 of 80% of the clients who did not default is recorded one month later than "
              "before (as if arrears were reported differently), credit limits arrive 20% lower and first bills 25% higher. "
              "Outcomes arrive 7 days after each prediction.")


def _traffic(store: Store, actor, test: pd.DataFrame, quick: bool) -> None:
    """A month of scored traffic through the real CLI path: champion and challenger in shadow, a documented shift,
    outcomes arriving with a lag, then a monitoring check that raises the alerts."""
    import numpy as np

    from .audit import utcnow

    rng = np.random.default_rng(SEED)
    frame = test.sample(n=3000 if quick else len(test), random_state=SEED).reset_index(drop=True)
    n = len(frame)
    start = pd.Timestamp(utcnow() - pd.Timedelta(days=TRAFFIC_DAYS)).normalize()
    day = np.sort(rng.integers(0, TRAFFIC_DAYS, n))
    frame["ts"] = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s")
    shifted = day >= SHIFT_DAY
    late = shifted & (frame["default"].to_numpy() == 0) & (rng.random(n) < 0.8)
    frame.loc[late, "PAY_0"] = np.minimum(frame.loc[late, "PAY_0"] + 1, 8)
    frame.loc[shifted, "LIMIT_BAL"] = (frame.loc[shifted, "LIMIT_BAL"] * 0.8).round()
    frame.loc[shifted, "BILL_AMT1"] = (frame.loc[shifted, "BILL_AMT1"] * 1.25).round()
    frame["request_id"] = [f"cd-{i:06d}" for i in range(n)]
    folder = store.home / "inputs"
    traffic = folder / "credit_default_traffic.csv"
    frame.drop(columns=["default"]).to_csv(traffic, index=False)
    # The reviews pages read are stored once, after the outcomes (which refresh every version with logs), not
    # also after the scoring: they would be replaced seconds later.
    ingest.score_file(store, actor, "credit-default", None, traffic, time_column="ts", id_column="request_id",
                      output=folder / "credit_default_traffic.scored.csv", refresh_snapshots=False)
    arrived = frame[frame["ts"] < utcnow() - pd.Timedelta(days=OUTCOME_LAG_DAYS)]
    outcomes = folder / "credit_default_outcomes.csv"
    arrived[["request_id", "default"]].to_csv(outcomes, index=False)
    ingest.log_outcomes(store, actor, "credit-default", outcomes, id_column="request_id", label_column="default")
    checks.check(store, actor, "credit-default")
    fairness_alerts.check_fairness(store, actor, "credit-default")


def _governance(store: Store) -> None:
    """The approval story the demo tells: champions, a challenger in shadow, a rejection, one request waiting."""

    ada, grace, rita, raj = (identity_for(store, f"{n}@modelgov.demo") for n in ("ada", "grace", "rita", "raj"))
    r = approvals.request_deployment(store, ada, "credit-default", 1, "production", "champion",
                                     "Gradient boosting: best hold-out AUC; replaces the manual scorecard.")
    # The fairness check fails (the high tier asks for a demographic-parity ratio of 0.8 on each declared
    # attribute): the risk officers approve with the reason on record, which is the decision the story shows.
    approvals.approve(store, rita, r.id, "Evidence complete; monitoring of sex/age segments agreed.",
                      override_reason=FAIRNESS_OVERRIDE)
    approvals.approve(store, raj, r.id, "Second review: calibration acceptable on the hold-out.",
                      override_reason="Agreed: the age and education gaps follow observed default rates; a fairness "
                                      "alert in production goes to the risk committee.")
    deployments.deploy(store, ada, r.id)
    r = approvals.request_deployment(store, grace, "credit-default", 2, "production", "challenger",
                                     "Run the interpretable logistic model in shadow beside the champion.")
    approvals.approve(store, rita, r.id, "Shadow only; it does not decide anything.",
                      override_reason="Shadow only. Its age disparity is larger than the champion's: it may not be "
                                      "promoted to champion without a new fairness review.")
    approvals.approve(store, raj, r.id, "Agreed, shadow only.", override_reason="Shadow only; see the age gap.")
    deployments.deploy(store, grace, r.id)
    r = approvals.request_deployment(store, grace, "credit-limit-advisor", 1, "production", "champion",
                                     "Suggested limits for underwriters; low risk, a person decides.")
    approvals.approve(store, rita, r.id, "Low risk; decision support only.")
    deployments.deploy(store, grace, r.id)
    r = approvals.request_deployment(store, grace, "breast-cancer-screening", 1, "staging", "champion",
                                     "Try it with the research team.")
    approvals.reject(store, raj, r.id, "A research prototype on 569 samples; not even for staging until the "
                                       "model card covers ethics and caveats.")
    approvals.request_deployment(store, ada, "diabetes-progression", 1, "production", "champion",
                                 "Random forest ready for the clinic's planning tool.")


_MONTHS = ("September", "August", "July", "June", "May", "April")  # of 2005; PAY_0/BILL_AMT1/PAY_AMT1 is September

# credit-default's feature dictionary: the business label of each input column (from the UCI data's description).
CREDIT_FEATURE_LABELS = {
    "LIMIT_BAL": "Credit limit (NT$, family and individual)",
    "SEX": "Sex (1 male, 2 female)",
    "EDUCATION": "Education (1 graduate, 2 university, 3 high school, 4 other)",
    "MARRIAGE": "Marital status (1 married, 2 single, 3 other)",
    "AGE": "Age (years)",
    **{f"PAY_{n}": f"Months late paying in {m} (-1 paid in full)"
       for n, m in zip((0, 2, 3, 4, 5, 6), _MONTHS)},
    **{f"BILL_AMT{i}": f"Bill amount in {m} (NT$)" for i, m in enumerate(_MONTHS, start=1)},
    **{f"PAY_AMT{i}": f"Amount paid in {m} (NT$)" for i, m in enumerate(_MONTHS, start=1)},
}


def _fill(store: Store, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    # The story (people, registrations, approvals, deployments) happened before the month of traffic the
    # champion and its challenger served: each deployment starts no later than the first prediction it logged.
    with audit.dated_back(timedelta(days=TRAFFIC_DAYS + 1)):
        ada, test = _story(store, quick, say)
        demo_multiclass.deploy(store, quick)
    say("Replaying a month of production traffic for credit-default (shift from mid-month, outcomes 7 days late)…")
    _traffic(store, ada, test, quick)
    say("Replaying three weeks of wine-cultivar traffic (champion and challenger, outcomes as they arrive)…")
    demo_multiclass.traffic(store, quick)
    models = catalog.search_models(store).items
    return {"store": store.location, "models": [m.as_dict() for m in models],
            "users": {e: roles for e, (_n, roles) in DEMO_USERS.items()}}


def _story(store: Store, quick: bool, say: Callable[[str], None]):
    """People, models, explanations, the comparison, approvals and deployments; returns (ada, the test data)."""
    users.init_store(store, ADMIN)
    admin = identity_for(store, ADMIN)
    for email, (_name, roles) in DEMO_USERS.items():
        for role in roles:
            users.grant_role(store, admin, email, role)
    ada = identity_for(store, "ada@modelgov.demo")
    grace = identity_for(store, "grace@modelgov.demo")
    # High risk asks for a fair treatment of the declared groups: the four-fifths rule on each attribute.
    policy.change_policy(store, admin, "high", min_parity_ratio=0.8)
    inputs = store.home / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)

    say("Training credit-default on 21,000 clients (gradient boosting and a logistic challenger)…")
    train, test = credit_split()
    train_path, test_path = inputs / "credit_default_train.csv", inputs / "credit_default_test.csv"
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    features = [c for c in train.columns if c != "default"]
    X, y = train[features], train["default"]
    card = dict(
        intended_use="Rank credit-card clients by their probability of defaulting next month, to prioritise "
                     "early collection contact. Decision support only; a person reviews every action.",
        limitations="Trained on Taiwanese clients in 2005; behaviour under other economies, products or "
                    "currencies is unknown. Scores are probabilities, calibrated on the 2005 hold-out.",
        training_data_summary="UCI 'default of credit card clients' (30,000 clients, 23 inputs, 22% default); "
                              "70/30 stratified split with a fixed seed.",
        ethical_considerations="Inputs include sex, marital status and age; monitor outcomes by segment and "
                               "do not use the score to deny credit without review.",
        caveats="Repayment-status inputs (PAY_*) dominate; a change in how they are recorded will shift scores. "
                "Demo data: " + SHIFT_NOTE,
    )
    champion = credit_champion(quick).fit(X, y)
    versions.register_version(store, ada, "credit-default", champion, train_path, "default", test_data=test_path,
                              owner="ada@modelgov.demo", risk_tier="high",
                              description="Probability that a credit-card client defaults next month.",
                              tags=["credit", "retail", "pd"], code_ref="demo:credit_champion", **card)
    catalog.update_model(store, ada, "credit-default", business_unit="Retail credit",
                          use_case="Collections prioritisation", feature_dictionary=CREDIT_FEATURE_LABELS)
    challenger = credit_challenger(features, quick).fit(X, y)
    versions.register_version(store, grace, "credit-default", challenger, train_path, "default",
                              test_data=test_path, code_ref="demo:credit_challenger")
    fairness.declare(store, ada, "credit-default", CREDIT_SENSITIVE, prediction_phrase="predicted to default")

    say("Training credit-limit-advisor (ridge regression on the same clients)…")
    limit_features = ["AGE", "EDUCATION", "MARRIAGE", "PAY_0", "BILL_AMT1", "BILL_AMT2", "PAY_AMT1", "PAY_AMT2"]
    limit = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=1.0))]).fit(
        train[limit_features], train["LIMIT_BAL"])
    versions.register_version(
        store, grace, "credit-limit-advisor", limit, train[limit_features + ["LIMIT_BAL"]], "LIMIT_BAL",
        test_data=test[limit_features + ["LIMIT_BAL"]], owner="grace@modelgov.demo", risk_tier="low",
        description="Suggests a starting credit limit for a client from their profile and recent bills.",
        tags=["credit", "pricing"], train_name="credit-limit-train", test_name="credit-limit-test",
        code_ref="demo:credit_limit", intended_use="Suggest a starting limit for a human underwriter.")

    say("Training breast-cancer-screening (logistic regression on scikit-learn's bundled data)…")
    bc = load_breast_cancer(as_frame=True).frame
    bc_train, bc_test = train_test_split(bc, test_size=0.3, random_state=SEED, stratify=bc["target"])
    bc_features = [c for c in bc.columns if c != "target"]
    bc_model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))]).fit(
        bc_train[bc_features], bc_train["target"])
    versions.register_version(
        store, grace, "breast-cancer-screening", bc_model, bc_train, "target", test_data=bc_test,
        owner="grace@modelgov.demo", risk_tier="high", tags=["health", "research"],
        description="Flags fine-needle-aspirate images whose cell nuclei look benign (1) or malignant (0).",
        train_name="breast-cancer-train", test_name="breast-cancer-test", code_ref="demo:breast_cancer",
        intended_use="Research prototype; never a diagnosis.",
        limitations="569 samples from one Wisconsin hospital (1995).")

    demo_compare.xgboost_challenger(store, grace, bc_train, bc_test, quick, say, SEED)

    say("Training diabetes-progression (random forest on scikit-learn's bundled data)…")
    db = load_diabetes(as_frame=True).frame
    db_train, db_test = train_test_split(db, test_size=0.3, random_state=SEED)
    db_features = [c for c in db.columns if c != "target"]
    rf = RandomForestRegressor(n_estimators=50 if quick else 200, max_depth=6, random_state=SEED, n_jobs=1)
    rf.fit(db_train[db_features], db_train["target"])
    versions.register_version(
        store, ada, "diabetes-progression", rf, db_train, "target", test_data=db_test,
        owner="ada@modelgov.demo", risk_tier="medium", tags=["health"],
        description="Predicts disease progression one year after baseline (scikit-learn diabetes data).",
        train_name="diabetes-train", test_name="diabetes-test", code_ref="demo:diabetes")

    catalog.create_model(store, grace, "churn-early-warning", owner="grace@modelgov.demo", risk_tier="medium",
                          description="Planned: warn account managers before a client leaves. No version yet.",
                          tags=["retail", "planned"], business_unit="Retail credit")

    demo_multiclass.register(store, quick, say)  # every version is registered before the first deployment
    _pipelines(store, ada, train_path, test_path)
    say("Explaining credit-default's champion and challenger with SHAP…")

    for version in (1, 2):
        explanations.explain(store, ada, "credit-default", version, rows=300 if quick else compute.DEFAULT_ROWS)
    demo_compare.credit_comparison(store, quick)
    say("Recording approvals and deployments (four eyes; credit-default needs two risk officers)…")
    _governance(store)
    return ada, test
