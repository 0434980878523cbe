"""Reading OpenLineage events: the layouts a file may have, the three event kinds, and the facets ModelGov uses
(parent run, column lineage, its own model facet). `openlineage.import_events` writes what this returns.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInput

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
MODEL_NAMESPACE = "modelgov"
MODEL_FACET_KEYS = {"trainedOn": "trained_on", "evaluatedOn": "evaluated_on"}


def dataset_id(namespace: str, name: str) -> str:
    if namespace == MODEL_NAMESPACE and name.startswith("model/"):
        parts = name.split("/")
        if len(parts) == 3 and parts[2].isdigit():
            return f"model:{parts[1]}:{parts[2]}"
    return f"dataset:{namespace}:{name}"


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def parse_events(text: str) -> list[tuple[int, Any]]:
    """(event number from 1, parsed value) for every event in `text`, however it is laid out: a JSON array of
    events, one event per line (JSON lines), or events one after another however they are formatted (a single
    pretty-printed event is the common case).

    An event that is not JSON becomes (number, exception) so it can be reported with the rest; the exception
    names the line it starts on. Positions count events, never lines.
    """
    stripped = text.strip()
    if not stripped:
        return []
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = _NOT_ONE_VALUE
    if isinstance(whole, list):
        return list(enumerate(whole, start=1))
    if whole is not _NOT_ONE_VALUE:
        return [(1, whole)]
    if stripped.startswith("["):
        try:
            json.loads(stripped)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"The file is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); give a "
                               "JSON array of OpenLineage events, one event per line, or events one after another."
                               ) from None
    values, error = _stream(text)
    if error is None:
        return list(enumerate(values, start=1))
    if not all(line.lstrip().startswith("{") for line in text.splitlines() if line.strip()):
        # Events laid out over several lines: where a broken one ends cannot be known, so none is imported.
        raise InvalidInput(f"Event {len(values) + 1} of the file is not valid JSON ({error.msg} at line "
                           f"{error.lineno}, column {error.colno}); nothing was imported. Give a JSON array of "
                           "OpenLineage events, one event per line, or events one after another.")
    # JSON lines with broken lines: one broken line costs one event, and --skip-invalid imports the others.
    out: list[tuple[int, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((len(out) + 1, json.loads(line)))
        except json.JSONDecodeError as e:
            out.append((len(out) + 1, ValueError(f"not JSON ({e.msg} at line {lineno}, column {e.colno})")))
    return out


_NOT_ONE_VALUE = object()


def _stream(text: str) -> tuple[list[Any], json.JSONDecodeError | None]:
    """The JSON values of `text` one after another (separated by nothing but white space), and the error that
    stopped the reading (None when all of it was read)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return values, None
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            return values, e
        values.append(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    if "\x00" in value:  # no name holds one; column lineage keys (dataset, column) pairs with it as separator
        raise ValueError(f"{what} holds a NUL character")
    return value.strip()


def _dataset_list(event: dict[str, Any], side: str) -> list[tuple[str, str]]:
    items = event.get(side, [])
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValueError(f"'{side}' must be a list")
    ds = []
    for i, d in enumerate(items):
        if not isinstance(d, dict):
            raise ValueError(f"{side}[{i}] must be an object with namespace and name")
        ds.append((_text(d.get("namespace"), f"{side}[{i}].namespace"), _text(d.get("name"), f"{side}[{i}].name")))
    return ds


def _event_time(event: dict[str, Any]) -> datetime | None:
    when = event.get("eventTime")
    if when is None:
        return None
    try:
        t = datetime.fromisoformat(_text(when, "eventTime").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"eventTime '{when}' is not an ISO-8601 date-time") from None
    return t.replace(tzinfo=None) - (t.utcoffset() or timedelta(0))


def _parent(run: dict[str, Any]) -> tuple[str, str] | None:
    """The job of the run's `parent` facet (the Airflow DAG, the dbt invocation, the Spark application)."""
    facets = run.get("facets")
    parent = facets.get("parent") if isinstance(facets, dict) else None
    if parent is None:
        return None
    job = parent.get("job") if isinstance(parent, dict) else None
    if not isinstance(job, dict):
        raise ValueError("the parent run facet needs 'job' with 'namespace' and 'name'")
    return _text(job.get("namespace"), "parent.job.namespace"), _text(job.get("name"), "parent.job.name")


def _transformations(spec: dict[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    """An input field's transformations (spec 1-2-0), or the field-level description of older producers."""
    found = item.get("transformations")
    if found is None and (spec.get("transformationType") or spec.get("transformationDescription")):
        found = [{"type": spec.get("transformationType"), "description": spec.get("transformationDescription")}]
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(t, dict) for t in found):
        raise ValueError("columnLineage transformations must be a list of objects")
    keep = ("type", "subtype", "description", "masking")
    return [{k: t[k] for k in keep if isinstance(t.get(k), (str, bool))} for t in found]


def _column_lineage(d: dict[str, Any], where: str) -> list[tuple[str, str, str, str, list]]:
    """(column, source namespace, source name, source column, transformations) from a dataset's columnLineage
    facet; a facet that is there but malformed is an error naming where."""
    facets = d.get("facets")
    facet = facets.get("columnLineage") if isinstance(facets, dict) else None
    if facet is None:
        return []
    fields = facet.get("fields") if isinstance(facet, dict) else None
    if not isinstance(fields, dict):
        raise ValueError(f"{where}.facets.columnLineage needs 'fields', an object of columns")
    out = []
    for column, spec in fields.items():
        items = spec.get("inputFields") if isinstance(spec, dict) else None
        if not isinstance(items, list):
            raise ValueError(f"{where}.facets.columnLineage.fields.{column} needs 'inputFields', a list")
        for i, item in enumerate(items):
            at = f"{where}.facets.columnLineage.fields.{column}.inputFields[{i}]"
            if not isinstance(item, dict):
                raise ValueError(f"{at} must be an object with namespace, name and field")
            out.append((_text(column, f"{where} column name"), _text(item.get("namespace"), f"{at}.namespace"),
                        _text(item.get("name"), f"{at}.name"), _text(item.get("field"), f"{at}.field"),
                        _transformations(spec, item)))
    return out


def event_kind(event: dict[str, Any]) -> str:
    """RunEvent, JobEvent or DatasetEvent, from the fields present, as the spec's schemas tell them apart: only a
    RunEvent has a run or an eventType, a JobEvent has a job, a DatasetEvent a dataset alone."""
    if "run" in event or "eventType" in event:
        return "RunEvent"
    if "job" in event:
        return "JobEvent"
    if "dataset" in event:
        return "DatasetEvent"
    return "RunEvent"  # nothing to tell by: held to the RunEvent's fields, so the message names what is missing


def validate_event(event: Any) -> dict[str, Any]:
    """The parts of a RunEvent, JobEvent or DatasetEvent we use, or ValueError naming what is wrong."""
    if isinstance(event, Exception):
        raise event
    if not isinstance(event, dict):
        raise ValueError("an event must be a JSON object")
    kind = event_kind(event)
    out: dict[str, Any] = {"kind": kind, "job": None, "run_id": None, "event_type": None, "parent": None,
                           "inputs": [], "outputs": [], "dataset": None, "columns": [], "model_edges": []}
    out["event_time"] = _event_time(event)
    out["producer"] = event.get("producer") if isinstance(event.get("producer"), str) else ""
    if kind == "DatasetEvent":
        d = event["dataset"]
        if not isinstance(d, dict):
            raise ValueError("'dataset' must be an object with namespace and name")
        out["dataset"] = (_text(d.get("namespace"), "dataset.namespace"), _text(d.get("name"), "dataset.name"))
        out["columns"] = [(*out["dataset"], *c) for c in _column_lineage(d, "dataset")]
        return out
    job = event.get("job")
    if not isinstance(job, dict):
        raise ValueError("'job' with 'namespace' and 'name' is missing")
    out["job"] = (_text(job.get("namespace"), "job.namespace"), _text(job.get("name"), "job.name"))
    if kind == "RunEvent":
        run = event.get("run")
        if not isinstance(run, dict):
            raise ValueError("'run' with 'runId' is missing")
        out["run_id"] = _text(run.get("runId"), "run.runId")
        etype = event.get("eventType", "OTHER")
        if etype not in EVENT_TYPES:
            raise ValueError(f"eventType '{etype}' is not one of {', '.join(EVENT_TYPES)}")
        out["event_type"] = etype
        out["parent"] = _parent(run)
    for side in ("inputs", "outputs"):
        out[side] = _dataset_list(event, side)
    out["columns"] = [(ns, name, *c) for i, ((ns, name), d) in enumerate(zip(out["outputs"], event.get("outputs") or []))
                      for c in _column_lineage(d, f"outputs[{i}]")]
    out["model_edges"] = _model_edges(event, out) if out["job"][0] == MODEL_NAMESPACE else []
    return out


def _model_edges(event: dict[str, Any], parsed: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(namespace, name, relation, model dataset name) from the ModelGov input facet of an exported training
    job: which version each dataset trained or evaluated (export_events writes it)."""
    found = []
    for (ns, name), item in zip(parsed["inputs"], event.get("inputs") or []):
        facet = (item.get("inputFacets") or {}).get("modelgov") if isinstance(item.get("inputFacets"), dict) else None
        if not isinstance(facet, dict):
            continue
        for key, relation in MODEL_FACET_KEYS.items():
            versions = facet.get(key) or []
            if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
                raise ValueError(f"the modelgov input facet's {key} must be a list of model/NAME/VERSION names")
            for version in versions:
                if not dataset_id(MODEL_NAMESPACE, version).startswith("model:"):
                    raise ValueError(f"the modelgov input facet names {version!r}, not model/NAME/VERSION")
                found.append((ns, name, relation, version))
    return found
