"""The demo's stored comparisons: breast-cancer-screening's XGBoost challenger against v1, and credit-default v1
against v2 on the registered test data (split from core/demo.py, which builds the rest of the story)."""

from __future__ import annotations

from typing import Callable

import pandas as pd

from .compare import holdout, scores, stored
from .explain import explanations
from .identity import identity_for
from .registry import versions
from .registry.datasets import get_dataset_by_id
from .store import Store


def xgboost_challenger(store: Store, grace, train: pd.DataFrame, test: pd.DataFrame, quick: bool,
                       say: Callable[[str], None], seed: int) -> None:
    """breast-cancer-screening v2: an XGBoost challenger, explained and compared with v1 (skipped without xgboost)."""
    try:
        from xgboost import XGBClassifier
    except ImportError:
        say("xgboost is not installed (pip install 'modelgov[xgboost]'): no XGBoost challenger in this demo.")
        return
    say("Training an XGBoost challenger for breast-cancer-screening…")
    features = [c for c in train.columns if c != "target"]
    model = XGBClassifier(n_estimators=30 if quick else 120, max_depth=3, learning_rate=0.1, random_state=seed,
                          n_jobs=1).fit(train[features], train["target"])
    versions.register_version(store, grace, "breast-cancer-screening", model, train, "target", test_data=test,
                              train_name="breast-cancer-train", test_name="breast-cancer-test",
                              code_ref="demo:breast_cancer_xgboost")
    explanations.explain(store, grace, "breast-cancer-screening", 2, rows=len(test))
    champion = versions.get_model_version(store, "breast-cancer-screening", 1)
    result = holdout.compare_holdout(store, champion, "breast-cancer-screening:2", test, "target",
                                     bootstrap=200 if quick else scores.DEFAULT_BOOTSTRAP, seed=0)
    stored.save_comparison(store, grace, result)


def credit_comparison(store: Store, quick: bool) -> None:
    """Store the credit-default v1 vs v2 comparison on the registered test data (by Grace)."""
    champion = versions.get_model_version(store, "credit-default", 1)
    with store.read() as con:
        test = get_dataset_by_id(con, champion.test_dataset_id)
    result = holdout.compare_holdout(store, champion, "credit-default:2", test, champion.target, segment="EDUCATION",
                                     bootstrap=200 if quick else scores.DEFAULT_BOOTSTRAP, seed=0)
    stored.save_comparison(store, identity_for(store, "grace@modelgov.demo"), result)
