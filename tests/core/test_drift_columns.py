"""Which columns `modelgov drift` compares (issue 21): the time and id columns never, dates and times not by
default, `--exclude` and the config's "exclude" on request; a config key nobody reads is refused, not ignored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.drift.report import DriftConfig
from core.errors import InvalidInput


@pytest.fixture
def files(tmp_path):
    """Two samples of the same distribution with a timestamp, a string date and an increasing id, as logs have."""
    rng = np.random.default_rng(3)

    def sample(n, start_id, start_day):
        return pd.DataFrame({
            "rid": np.arange(start_id, start_id + n),
            "when": pd.Timestamp("2026-01-01") + pd.to_timedelta(start_day + rng.integers(0, 30, n), unit="D"),
            "amount": rng.normal(100, 10, n).round(2),
            "segment": rng.choice(["a", "b", "c"], n),
            "score": rng.random(n).round(4),
        })

    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    sample(800, 0, 0).to_csv(ref, index=False)
    sample(900, 10_000, 60).to_csv(cur, index=False)
    return ref, cur


def _run(cli, store, ref, cur, *args):
    res = cli(store, "drift", str(ref), str(cur), "--json", *args)
    assert res.code == 0, res.err
    return json.loads(res.out)


def test_time_and_id_columns_are_never_compared(cli, store, files):
    ref, cur = files
    plain = _run(cli, store, ref, cur)
    compared = [c["column"] for c in plain["columns"]]
    # The id is compared when nobody says it is one, and it drifts: every id is new. The date is set aside.
    assert compared == ["rid", "amount", "segment", "score"]
    assert next(c for c in plain["columns"] if c["column"] == "rid")["drifted"]
    assert plain["excluded"] == [{"column": "when", "reason": "a date or time: its values move on by nature; "
                                                            "--time-column cuts windows by it"}]

    named = _run(cli, store, ref, cur, "--time-column", "when", "--id-column", "rid")
    assert [c["column"] for c in named["columns"]] == ["amount", "segment", "score"]
    assert named["dataset_drift"] is False and named["drifted_share"] == 0
    assert [e["column"] for e in named["excluded"]] == ["when", "rid"]
    assert named["excluded"][1]["reason"] == "the id column: every id is new"
    assert all(c["column"] in ("amount", "segment", "score") for w in named["windows"] for c in w["columns"])

    text = cli(store, "drift", str(ref), str(cur), "--id-column", "rid")
    assert "Not compared: rid (the id column: every id is new); when (a date or time" in text.out


def test_exclude_by_flag_and_by_config(cli, store, files, tmp_path):
    ref, cur = files
    out = _run(cli, store, ref, cur, "--id-column", "rid", "--exclude", "segment, score", "--exclude", "segment")
    assert [c["column"] for c in out["columns"]] == ["amount"]
    assert [e for e in out["excluded"] if e["reason"] == "excluded on request"] == [
        {"column": "segment", "reason": "excluded on request"}, {"column": "score", "reason": "excluded on request"}]
    cfg = tmp_path / "drift.json"
    cfg.write_text(json.dumps({"exclude": ["segment"], "columns": {"score": {"method": "psi"}}}))
    got = _run(cli, store, ref, cur, "--id-column", "rid", "--config", str(cfg))
    assert [c["column"] for c in got["columns"]] == ["amount", "score"]
    assert {"column": "segment", "reason": "excluded on request"} in got["excluded"]
    assert got["columns"][1]["method"] == "psi"


def test_nothing_left_and_unknown_names_are_one_sentence(cli, store, files):
    ref, cur = files
    res = cli(store, "drift", str(ref), str(cur), "--id-column", "rid", "--exclude", "segment,score,amount")
    assert res.code == 2 and res.err.count("\n") == 1
    assert "No column is left to compare" in res.err
    res = cli(store, "drift", str(ref), str(cur), "--exclude", "amout")
    assert res.code == 2 and "--exclude names column(s) amout that the reference does not have" in res.err
    assert "amount" in res.err  # the columns it has are listed
    res = cli(store, "drift", str(ref), str(cur), "--id-column", "nope")
    assert res.code == 2 and "Neither file has the id column 'nope'" in res.err


@pytest.mark.parametrize("config, words", [
    ({"columns": {"amount": {"treshold": 0.2}}}, "Column amount of the drift config has unknown key(s) 'treshold'; "
                                                  "the valid keys are kind, method, threshold."),
    ({"drift_shar": 0.3}, "The drift config has unknown key(s) 'drift_shar'; the valid keys are columns, "
                          "drift_share, exclude."),
    ({"exclude": "amount"}, 'must be a list of column names'),
    ({"columns": ["amount"]}, 'must map each column to an object'),
    ({"drift_share": "half"}, "drift_share must be a number in (0, 1]"),
    ({"drift_share": True}, "drift_share must be a number in (0, 1]"),
    ({"columns": {"amount": {"threshold": True}}}, "threshold must be a number"),
    ([1, 2], "A drift config is a JSON object"),
])
def test_a_config_key_nobody_reads_is_refused(cli, store, files, tmp_path, config, words):
    ref, cur = files
    cfg = tmp_path / "drift.json"
    cfg.write_text(json.dumps(config))
    res = cli(store, "drift", str(ref), str(cur), "--config", str(cfg))
    assert res.code == 2, res.out
    assert words in res.err and res.err.count("\n") == 1


def test_a_stored_model_config_with_old_keys_still_loads(store):
    """Configs stored before unknown keys were refused keep working: the strict rule is for what is handed in."""
    with pytest.raises(InvalidInput):
        DriftConfig.from_dict({"columns": {}, "legacy": 1})
    cfg = DriftConfig.from_dict({"columns": {"AGE": {"method": "psi", "note": "x"}}, "legacy": 1}, strict=False)
    assert cfg.columns["AGE"]["method"] == "psi"
