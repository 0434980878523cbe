"""Explaining the demo's gradient-boosting model: ModelGov's explain() next to calling shap directly.

For 1,000 and 10,000 hold-out rows of credit-default v1 (the full demo's HistGradientBoosting champion)
it times core.explain.explain() (rows drawn from all 30,000 clients) without the cache (loading and hash-checking the artifact, checking the
data, the additivity check, writing the cache and the audit event) and shap.TreeExplainer on the same
rows in the same run. Goal: overhead under 10%. Then the Explanations page opening a cached explanation
under AppTest. Goal: under 1 s.

Run: .venv/bin/python benchmarks/bench_explain.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import shap  # noqa: E402

from benchmarks.common import max_rss_mib, print_table  # noqa: E402
from core import demo
from core.explain import explanations
from core.identity import identity_for  # noqa: E402
from core.registry import versions
from core.registry.datasets import load_frame
from core.store import Store  # noqa: E402


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the quick demo model and fewer repeats")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "home")
        print(f"Building the {'quick' if a.quick else 'full'} demo store…")
        demo.build(store, quick=a.quick)
        ada = identity_for(store, "ada@modelgov.demo")
        v = versions.get_model_version(store, "credit-default", 1)
        train_ds, test_ds = versions.version_datasets(store, v)
        import pandas as pd


        # The hold-out has 9,000 clients; 10,000 rows are drawn from all 30,000.
        frame = pd.concat([load_frame(store, test_ds), load_frame(store, train_ds)], ignore_index=True)
        rows = []
        for n in (1_000, 10_000):
            X = frame[v.feature_names].sample(n=n, random_state=1).sort_index()
            repeat = 7 if n == 1_000 else 3

            def ours():
                explanations.explain(store, ada, "credit-default", 1, X, rows=None, use_cache=False)

            def direct():
                _v, est = versions.load_model(store, "credit-default", 1)  # shap needs the model too
                shap.TreeExplainer(est)(X, check_additivity=False)

            ours()  # warm-up (imports, first artifact read)
            t_direct = median_time(direct, repeat)
            t_ours = median_time(ours, repeat)
            rows.append({"rows": n, "shap_direct_ms": 1000 * t_direct, "modelgov_ms": 1000 * t_ours,
                         "overhead_pct": 100 * (t_ours - t_direct) / t_direct, "goal_pct": 10})
        print_table("SHAP on credit-default v1 (HistGradientBoosting), medians", rows)

        from streamlit.testing.v1 import AppTest

        explanations.explain(store, ada, "credit-default", 1, rows=1000)  # make sure the page's default is cached
        os.environ["MODELGOV_HOME"] = str(store.home)
        times = []
        for _ in range(5):
            at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
            at.session_state["demo_user"] = "vera@modelgov.demo"
            at.run()
            at.switch_page("pages/explanations.py")
            at.session_state["xp_model"] = "credit-default"
            t = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t)
            assert not at.exception, at.exception
            assert any("Tree explainer" in m.value for m in at.markdown), "the cached explanation did not open"
        print_table("Explanations page opening a cached explanation (AppTest run)",
                    [{"median_s": statistics.median(times), "max_s": max(times), "goal_s": 1.0}])
        print(f"\nPeak RSS of this process: {max_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
