"""Column lineage from OpenLineage's columnLineage facet (OpenLineage's own facet examples, see
tests/fixtures/openlineage/README.md): stored exactly as the facet says, walked through jobs both ways,
`modelgov lineage column`'s JSON contract, and one-sentence refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound
from core.lineage import columns, openlineage

FILES = Path(__file__).resolve().parents[1] / "fixtures" / "openlineage"


def _event(run: str, job: str, inputs: list[tuple[str, str]], output: tuple[str, str], facets: dict) -> dict:
    return {"eventType": "COMPLETE", "eventTime": "2026-03-01T02:00:00Z", "run": {"runId": run},
            "job": {"namespace": "spark", "name": job}, "producer": "https://example.com/test",
            "inputs": [{"namespace": ns, "name": n} for ns, n in inputs],
            "outputs": [{"namespace": output[0], "name": output[1], "facets": facets}]}


def _facet_file(i: int) -> dict:
    return json.loads((FILES / f"spec-tests__ColumnLineageDatasetFacet__{i}.json").read_text())


def _rows(store):
    with store.read() as con:
        return sorted(con.execute("SELECT dataset, column_name, source_dataset, source_column, job_id, "
                                  "CAST(transformations AS VARCHAR) FROM lineage_columns").fetchall())


def test_the_facets_rows_are_stored_exactly(store, people, tmp_path):
    facets = _facet_file(1)
    f = tmp_path / "e.json"
    f.write_text(json.dumps(_event("r1", "discounts", [("SnowflakeOpenLineage", "CUSTOMERS")],
                                   ("SnowflakeOpenLineage", "CUSTOMER_DISCOUNTS"), facets), indent=2))
    r = openlineage.import_events(store, people["ds"], f)
    expected = []
    for column, spec in facets["columnLineage"]["fields"].items():
        for item in spec["inputFields"]:
            kept = [{k: t[k] for k in ("type", "subtype", "description", "masking") if k in t}
                    for t in item["transformations"]]
            expected.append(("dataset:SnowflakeOpenLineage:CUSTOMER_DISCOUNTS", column,
                             f"dataset:{item['namespace']}:{item['name']}", item["field"], "job:spark:discounts",
                             json.dumps(kept, sort_keys=True, separators=(",", ":"))))
    assert r.columns == len(expected) == r.new_columns
    assert [row[:5] for row in _rows(store)] == sorted(row[:5] for row in expected)
    assert [json.loads(row[5]) for row in _rows(store)] == [json.loads(e[5]) for e in sorted(expected)]
    # The same file again adds nothing.
    assert openlineage.import_events(store, people["ds"], f).new_columns == 0


def test_columns_are_followed_through_jobs_both_ways(store, people, tmp_path, cli):
    """raw.accounts.credit_limit → (snapshot job) → lake.features.LIMIT_BAL → (split job) → train.LIMIT_BAL,
    and a second model's table reads the same feature column."""
    def facet(**cols):
        return {"columnLineage": {"fields": {c: {"inputFields": [
            {"namespace": ns, "name": n, "field": fld, "transformations": [{"type": "DIRECT", "subtype": sub}]}]}
            for c, (ns, n, fld, sub) in cols.items()}}}

    events = [
        _event("r1", "snapshot", [("pg", "raw.accounts")], ("s3", "features"),
               facet(LIMIT_BAL=("pg", "raw.accounts", "credit_limit", "IDENTITY"),
                     AGE=("pg", "raw.clients", "birth_date", "TRANSFORMATION"))),
        _event("r2", "split", [("s3", "features")], ("file", "train.csv"),
               facet(LIMIT_BAL=("s3", "features", "LIMIT_BAL", "IDENTITY"))),
        _event("r3", "limits", [("s3", "features")], ("s3", "limits_train"),
               facet(limit=("s3", "features", "LIMIT_BAL", "IDENTITY"))),
    ]
    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(e) + "\n" for e in events))
    openlineage.import_events(store, people["ds"], f)
    got = columns.column_lineage(store, "dataset:file:train.csv", "LIMIT_BAL")
    assert [(c["depth"], c["dataset"], c["column"], c["via"]) for c in got["upstream"]] == [
        (1, "dataset:s3:features", "LIMIT_BAL", "job:spark:split"),
        (2, "dataset:pg:raw.accounts", "credit_limit", "job:spark:snapshot")]
    assert got["downstream"] == []
    down = columns.column_lineage(store, "dataset:pg:raw.accounts", "credit_limit")
    assert [(c["depth"], c["dataset"], c["column"]) for c in down["downstream"]] == [
        (1, "dataset:s3:features", "LIMIT_BAL"), (2, "dataset:file:train.csv", "LIMIT_BAL"),
        (2, "dataset:s3:limits_train", "limit")]
    assert down["downstream"][0]["transformations"] == [{"type": "DIRECT", "subtype": "IDENTITY"}]
    assert columns.column_lineage(store, "dataset:pg:raw.accounts", "credit_limit", depth=1)["downstream"] == \
        down["downstream"][:1]
    res = cli(store, "lineage", "column", "dataset:s3:features", "LIMIT_BAL", "--json")
    data = json.loads(res.out)
    assert res.code == 0 and set(data) == {"dataset", "column", "upstream", "downstream"}
    assert {k for c in data["upstream"] + data["downstream"] for k in c} >= {"dataset", "column", "transformations"}
    text = cli(store, "lineage", "column", "dataset:s3:features", "LIMIT_BAL")
    assert "Made from: 1 column(s)" in text.out and "Used by: 2 column(s)" in text.out
    assert columns.dataset_columns(store, "dataset:s3:features") == ["AGE", "LIMIT_BAL"]


def test_a_cycle_of_columns_ends(store, people, tmp_path):
    def ev(run, src, dst):
        return _event(run, f"j{run}", [("s", src)], ("s", dst), {"columnLineage": {"fields": {"x": {"inputFields": [
            {"namespace": "s", "name": src, "field": "x"}]}}}})

    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps(ev(str(i), a, b)) + "\n" for i, (a, b) in enumerate([("a", "b"), ("b", "c"),
                                                                                           ("c", "a")])))
    openlineage.import_events(store, people["ds"], f)
    got = columns.column_lineage(store, "dataset:s:a", "x")
    assert [c["dataset"] for c in got["upstream"]] == ["dataset:s:c", "dataset:s:b"]
    assert [c["dataset"] for c in got["downstream"]] == ["dataset:s:b", "dataset:s:c"]


def test_refusals_are_one_sentence(store, people, tmp_path, cli):
    f = tmp_path / "e.json"
    bad = _event("r1", "j", [], ("s", "out"), {"columnLineage": {"fields": {"x": {"inputFields": [{"name": "in"}]}}}})
    f.write_text(json.dumps(bad))
    with pytest.raises(InvalidInput, match=r"event 1: outputs\[0\]\.facets\.columnLineage\.fields\.x\.inputFields\[0\]"
                                           r"\.namespace must be a non-empty string"):
        openlineage.import_events(store, people["ds"], f)
    f.write_text(json.dumps(_event("r2", "j", [], ("s", "out"), _facet_file(2))))
    openlineage.import_events(store, people["ds"], f)
    with pytest.raises(NotFound, match=r"No column lineage for column 'nope' of dataset:s:out \(columns with "
                                       r"lineage there: "):
        columns.column_lineage(store, "dataset:s:out", "nope")
    res = cli(store, "lineage", "column", "dataset:s:missing", "x")
    assert res.code != 0 and res.err.count("\n") == 1 and "No lineage node 'dataset:s:missing'" in res.err


def test_a_nul_in_a_name_is_refused_so_no_two_columns_share_a_key(store, people, tmp_path):
    """Walks key (dataset, column) pairs as dataset + NUL + column: ("s:a\\0b", "c") and ("s:a", "b\\0c") would
    meet, so a name holding NUL is a malformed event and nothing is imported."""
    f = tmp_path / "e.json"
    f.write_text(json.dumps(_event("r1", "j", [], ("s", "a"), {"columnLineage": {"fields": {"b\u0000c": {
        "inputFields": [{"namespace": "s", "name": "in", "field": "x"}]}}}})))
    with pytest.raises(InvalidInput, match=r"event 1: outputs\[0\] column name holds a NUL character"):
        openlineage.import_events(store, people["ds"], f)
    assert _rows(store) == []
