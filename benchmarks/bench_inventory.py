"""Inventory at scale: 10,000 models × 5 versions.

Prints the median search latency of core.registry.search_models (one store
open per call, as the dashboard does) next to a baseline measured in the same
run: loading every model and version into pandas and filtering there. Then the
Inventory page's AppTest run time. Goals: search under 50 ms, page under 1.5 s.

Run: .venv/bin/python benchmarks/bench_inventory.py [--models 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from benchmarks.common import max_rss_mib, measure, print_table  # noqa: E402
from core import users
from core.audit import utcnow  # noqa: E402
from core.registry import catalog
from core.store import Store  # noqa: E402


def fill(store: Store, n_models: int, n_versions: int) -> None:
    """Bulk-load synthetic registry rows with SQL (registering 50,000 real artifacts would take hours)."""
    users.init_store(store, "bench-admin@example.com")
    now = utcnow()
    with store.transaction() as con:
        con.execute("""
            INSERT INTO models (name, description, owner, business_unit, risk_tier, tags, created_at, created_by,
                                updated_at, intended_use)
            SELECT 'model-' || lpad(i::VARCHAR, 5, '0'), 'Synthetic model number ' || i,
                   'owner' || (i % 40) || '@example.com', 'unit-' || (i % 12),
                   ['low', 'medium', 'high'][1 + i % 3], ['tag-' || (i % 25), 'family-' || (i % 7)], ?, 'bench', ?,
                   CASE WHEN i % 2 = 0 THEN 'Synthetic' ELSE '' END
            FROM range(?) t(i)""", [now, now, n_models])
        con.execute("""
            INSERT INTO model_versions (model_id, version, sha256, artifact_format, artifact_size, flavour,
                estimator, task, signature, target, parameters, metrics, status, created_at, created_by)
            SELECT m.id, v, sha256(m.name || v), 'skops', 1000, 'sklearn', 'LogisticRegression',
                   'binary_classification', '[]', 'y', '{}', '{"auc": 0.8}',
                   CASE WHEN v = ? AND m.id % 4 = 0 THEN 'production'
                        WHEN v = ? AND m.id % 4 = 1 THEN 'staging'
                        WHEN v < ? THEN 'retired' ELSE 'registered' END, ?, 'bench'
            FROM models m, range(1, ? + 1) t(v)""", [n_versions, n_versions, n_versions, now, n_versions])


def pandas_baseline(store: Store, text: str, tier: str) -> pd.DataFrame:
    with store.read() as con:
        models = con.execute("SELECT * FROM models").df()
        versions = con.execute("SELECT model_id, version, status FROM model_versions").df()
    agg = versions.groupby("model_id").agg(latest_version=("version", "max"), versions=("version", "count"))
    df = models.merge(agg, left_on="id", right_index=True, how="left")
    df = df[(df["risk_tier"] == tier) & df["name"].str.contains(text)]
    return df.sort_values("name").head(50)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--versions", type=int, default=5)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    store = Store(home)
    t = time.perf_counter()
    fill(store, args.models, args.versions)
    print(f"Filled {args.models:,} models × {args.versions} versions in {time.perf_counter() - t:.1f} s ({home})")

    rows = []
    cases = {
        "first page, sorted by name": lambda: catalog.search_models(store),
        "text + tier filter": lambda: catalog.search_models(store, "model-01", risk_tier="high"),
        "status filter (aggregate)": lambda: catalog.search_models(store, status="production", page=3),
        "tag filter, sort by versions desc": lambda: catalog.search_models(store, tag="tag-3", sort="versions",
                                                                            descending=True),
    }
    for name, fn in cases.items():
        rows.append({"operation": f"search: {name}", **measure(fn)})
    rows.append({"operation": "baseline: pandas load-all + filter", **measure(
        lambda: pandas_baseline(store, "model-01", "high"), repeat=10)})
    print_table("Search latency (each call opens and closes the store)", rows)

    os.environ["MODELGOV_HOME"] = str(home)
    from streamlit.testing.v1 import AppTest

    def page_run() -> None:
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=60)
        at.session_state["demo_user"] = "bench-admin@example.com"
        at.run()
        at.switch_page("pages/inventory.py")
        at.run()
        assert not at.exception, at.exception

    page_rows = [{"operation": "Inventory page (AppTest: main + switch_page)", **measure(page_run, repeat=5, warmup=1)}]
    print_table("Inventory page", page_rows)
    print(f"\nProcess peak RSS: {max_rss_mib():.0f} MiB. Goals: search median < 50 ms, page < 1500 ms.")


if __name__ == "__main__":
    main()
