"""Fairness in words a business reader understands, and the section an evidence pack carries.
"""

from __future__ import annotations

from typing import Any


def _times(x: float) -> str:
    return f"{x:.2f}×" if x < 10 else f"{x:.0f}×"


def attribute_sentence(report: dict[str, Any], attribute: dict[str, Any]) -> str:
    """The largest disparity of one attribute in a sentence: 'AGE 60+ is predicted to default 1.40× as often as
    the most favoured group (AGE 25–34; 95% CI 1.21–1.62).' Small groups are named, not judged."""
    name, phrase = attribute["attribute"], report.get("prediction_phrase") or "predicted positive"
    if report.get("task") == "regression":
        rows = [g for g in attribute["groups"] if not g["small"] and g.get("mean_error") is not None]
        if len(rows) < 2:
            return f"{name}: too few rows with outcomes per group to compare errors."
        worst = max(rows, key=lambda g: g["mae"])
        best = min(rows, key=lambda g: g["mae"])
        return (f"{name} {worst['group']}: mean absolute error {worst['mae']:.3g}, against {best['mae']:.3g} for "
                f"{name} {best['group']} (the most accurately predicted group).")
    fav = attribute.get("favoured_group")
    judged = [g for g in attribute["groups"] if not g["small"]]
    small = [g["group"] for g in attribute["groups"] if g["small"]]
    tail = (f" Too small to judge: {', '.join(f'{name} {s}' for s in small)}." if small else "")
    if fav is None or len(judged) < 2:
        return f"{name}: fewer than two groups large enough to compare.{tail}"
    base = next(g for g in attribute["groups"] if g["group"] == fav)["selection_rate"]
    if not base:  # the favoured group is never predicted positive: no ratio to it, a parity ratio of 0
        top = max(attribute["groups"], key=lambda g: (not g["small"], g["selection_rate"] or 0))
        return (f"{name} {top['group']} is {phrase} in {top['selection_rate']:.1%} of cases, {name} {fav} never: "
                f"a demographic-parity ratio of 0.{tail}")
    judged = [g for g in judged if g["ratio_to_favoured"] is not None]
    adverse = report.get("positive_is", "adverse") == "adverse"
    far = max(judged, key=lambda g: g["ratio_to_favoured"]) if adverse else min(judged, key=lambda g: g["ratio_to_favoured"])
    ci = far.get("ratio_to_favoured_ci")
    interval = f"; 95% CI {ci[0]:.2f}–{ci[1]:.2f}" if ci else ""
    ratio = attribute.get("demographic_parity_ratio")
    if far["group"] == fav or far["ratio_to_favoured"] is None:
        return f"{name}: every group is {phrase} at about the same rate.{tail}"
    return (f"{name} {far['group']} is {phrase} {_times(far['ratio_to_favoured'])} as often as the most favoured "
            f"group ({name} {fav}{interval}): a demographic-parity ratio of {ratio:.2f}.{tail}")


def evidence_section(report: dict[str, Any]) -> dict[str, Any]:
    """What an evidence pack keeps of a hold-out fairness report: per attribute its table (with intervals), its
    disparities and its sentence."""
    return {"task": report["task"], "source": report["source"], "rows": report["rows"], "threshold": report["threshold"],
            "positive_is": report["positive_is"], "prediction_phrase": report["prediction_phrase"],
            "attributes": [{**a, "sentence": attribute_sentence(report, a)} for a in report["attributes"]]}
