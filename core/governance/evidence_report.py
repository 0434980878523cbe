"""The auditor's copy: a self-contained HTML report of a request and its frozen evidence pack.
"""

from __future__ import annotations

from ..audit import canonical_json, utcnow
from ..identity import Identity
from ..metrics import HIGHER_IS_BETTER, METRIC_LABELS
from .approvals import get_request
from .evidence import evidence
from .policy import checks_verdict, iso

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2rem auto;
color:#1f2933;line-height:1.45;padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.25rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border:1px solid #d9e2ec;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#f0f4f8}.pass{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}
.not{color:#8a6d00}code{font-size:.85rem;word-break:break-all}.muted{color:#627d98;font-size:.9rem}
pre{background:#f7f9fb;padding:.75rem;overflow-x:auto;font-size:.8rem}
.bar{background:#1f77b4;height:.8rem;border-radius:2px}"""


def evidence_html(store, actor: Identity | None, request_id: int) -> str:
    """A self-contained HTML report of a request: its frozen pack, the checks, every decision.

    Needs `view-approvals` (a refusal is audited). Raises Forbidden, NotFound, CheckFailed.

    No scripts, no external assets; every value is escaped. The pack's SHA-256 is
    printed with the check that the stored pack still matches it, and the full
    canonical JSON is embedded so anyone can re-hash it.
    """
    from html import escape

    r = get_request(store, actor, request_id)
    pack = evidence(store, actor, r.id)  # raises when the pack no longer matches its hash
    e = lambda v: escape("" if v is None else str(v))  # noqa: E731

    def rows(pairs) -> str:
        return "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in pairs)

    checks = "".join(
        f"<tr><td>{e(c['check'])}</td><td class=\"{'pass' if c['status'] == 'pass' else 'fail' if c['status'] == 'fail' else 'not'}\">"
        f"{e(c['status'])}</td><td>{e(c['detail'])}</td></tr>" for c in pack["checks"])
    decisions = "".join(
        f"<tr><td>{e(iso(d.decided_at))}</td><td>{e(d.decided_by)}</td><td>{e(d.decision)}</td><td>{e(d.comment)}"
        f"</td><td>{e(d.override_reason or '')}</td><td>{e(d.role_evidence)}</td></tr>" for d in r.decisions) or \
        "<tr><td colspan=6>No decision yet.</td></tr>"
    metrics = rows((k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in pack["metrics"].items())
    card = rows((k.replace("_", " "), v or "— missing —") for k, v in pack["model_card"]["fields"].items())
    upstream = "".join(f"<li><code>{e(n['id'])}</code> ({e(n['kind'])}, depth {e(n['depth'])})</li>"
                       for n in pack["lineage"]["upstream"]) or "<li>No upstream nodes recorded.</li>"
    extra = (_comparison_html(pack.get("comparison"), e) + _drift_html(pack.get("drift"), pack, e)
             + _fairness_html(pack.get("fairness"), e) + _shap_html(pack.get("explanations"), e))
    verdict = checks_verdict(pack["checks"])
    canonical = canonical_json(pack)
    m, v = pack["model"], pack["version"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence pack: request {r.id} ({e(r.ref)})</title>
<style>{_CSS}</style></head><body>
<h1>Deployment request {r.id}: {e(r.ref)} to {e(r.environment)} as {e(r.role)}</h1>
<p>Status <strong>{e(r.status)}</strong> · {len(r.approvals)} of {r.approvals_needed} approval(s) ·
requested by {e(r.requested_by)} at {e(iso(r.requested_at))}</p>
<p>Justification: {e(r.reason)}</p>
<p class=muted>Evidence pack frozen at {e(pack['assembled_at'])}; SHA-256 <code>{e(r.evidence_sha256)}</code>
(verified against the stored pack when this report was written, {e(utcnow().isoformat(timespec='seconds'))} UTC).</p>
<h2>Decisions</h2>
<table><tr><th>When (UTC)</th><th>Who</th><th>Decision</th><th>Comment</th><th>Override reason</th>
<th>Approver's role</th></tr>{decisions}</table>
<h2>Policy checks ({e(m['risk_tier'])} risk)</h2>
<p class="{'pass' if verdict['status'] == 'pass' else 'fail' if verdict['status'] == 'fail' else 'not'}">{e(verdict['sentence'])}</p>
<table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>{checks}</table>
<h2>Model</h2><table>{rows([("name", m['name']), ("owner", m['owner']), ("risk tier", m['risk_tier']),
 ("business unit", m['business_unit']), ("description", m['description'])])}</table>
<h2>Version {e(v['version'])}</h2><table>{rows([("estimator", v['estimator']), ("task", v['task']),
 ("target", v['target']), ("artifact SHA-256", v['sha256']), ("created by", v['created_by']),
 ("created at", v['created_at']), ("code reference", v['code_ref'] or "—")])}</table>
<h2>Hold-out metrics</h2><table>{metrics or '<tr><td>None</td></tr>'}</table>
<h2>Model card ({pack['model_card']['completeness']:.0%} complete)</h2><table>{card}</table>
<h2>Lineage (upstream of <code>{e(pack['lineage']['node'])}</code>)</h2><ul>{upstream}</ul>
{extra}
<h2>The frozen pack</h2>
<p class=muted>Canonical JSON; its SHA-256 is the value above
(<code>python -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"</code>).</p>
<details><summary>Show the canonical JSON</summary><pre>{e(canonical)}</pre></details>
</body></html>
"""


def _num(x) -> str:
    """4 significant digits, tiny values (p-values) as 5e-34, missing as a dash."""
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    return f"{x:.2g}" if x != 0 and abs(x) < 1e-3 else f"{x:,.4g}"


def _comparison_html(c, e) -> str:
    if not c:
        return "<h2>Champion vs challenger</h2><p class=muted>No stored comparison of this version when the pack was frozen.</p>"
    res = c["result"]
    rows = ""
    for m, d in res.get("difference", {}).items():
        lo, hi = d.get("ci_low"), d.get("ci_high")
        sign = 1 if HIGHER_IS_BETTER.get(m, True) else -1
        side = ("" if lo is None or hi is None else "better" if min(sign * lo, sign * hi) > 0
                else "worse" if max(sign * lo, sign * hi) < 0 else "no clear difference")
        css = {"better": "pass", "worse": "fail"}.get(side, "")
        rows += (f"<tr><td>{e(METRIC_LABELS.get(m, m))}</td><td>{_num(res['champion'].get(m))}</td>"
                 f"<td>{_num(res['challenger'].get(m))}</td><td>{_num(d.get('estimate'))}</td>"
                 f"<td>{_num(lo)} to {_num(hi)}</td><td>{_num(d.get('p_value'))} ({e(d.get('p_value_method'))})</td>"
                 f"<td class=\"{css}\">{e(side)}</td></tr>")
    return (f"<h2>Champion vs challenger</h2><p>Comparison {e(c['id'])}: champion <strong>{e(c['champion'])}</strong>"
            f" vs challenger <strong>{e(c['challenger'])}</strong> on {_num(c['rows'])} rows of {e(c['data_ref'])}, "
            f"by {e(c['created_by'])} on {e(c['created_at'][:10])} ({_num(c['bootstrap'])} paired-bootstrap "
            f"replicates, seed {e(c['seed'])}).</p><p>{e(res.get('verdict', ''))}</p>"
            "<table><tr><th>Metric</th><th>Champion</th><th>Challenger</th><th>Difference (challenger − champion)"
            "</th><th>95% interval</th><th>p-value</th><th>Challenger is</th></tr>" + rows + "</table>")


def _fairness_html(f, e) -> str:
    if not f:
        return ("<h2>Fairness on the hold-out data</h2><p class=muted>The model card declared no sensitive attributes "
                "when the pack was frozen (the fairness check, where the tier asks for one, says so).</p>")
    out = [f"<h2>Fairness on the hold-out data</h2><p>{_num(f['rows'])} rows, threshold {e(f['threshold'])}; "
           f"a positive prediction means: {e(f['prediction_phrase'])}.</p>"]
    for a in f["attributes"]:
        groups = "".join(
            f"<tr><td>{e(g['group'])}</td><td>{_num(g['n'])}</td><td>{_num(g.get('selection_rate'))}</td>"
            f"<td>{_num(g.get('tpr'))}</td><td>{_num(g.get('fpr'))}</td><td>{_num(g.get('mean_score'))}</td>"
            f"<td>{_num(g.get('observed_rate'))}</td><td>{'too small' if g['small'] else ''}</td></tr>"
            for g in a["groups"])
        out.append(f"<h3>{e(a['attribute'])}</h3><p>{e(a.get('sentence') or '')} Demographic-parity ratio "
                   f"{_num(a.get('demographic_parity_ratio'))}, difference {_num(a.get('demographic_parity_difference'))}"
                   f"; equalized-odds difference {_num(a.get('equalized_odds_difference'))}.</p><table><tr><th>Group"
                   "</th><th>Rows</th><th>Predicted positive</th><th>TPR</th><th>FPR</th><th>Mean score</th>"
                   "<th>Observed</th><th></th></tr>" + groups + "</table>")
    return "".join(out)


def _drift_html(d, pack, e) -> str:
    env = pack["request"]["environment"]
    if not d:
        return (f"<h2>Drift on its own traffic in {e(env)}</h2><p class=muted>No drift result for this version in "
                f"{e(env)} when the pack was frozen (the maximum-drift check says why).</p>")
    cols = "".join(f"<tr><td>{e(x['column'])}</td><td>{e(x['method'])}</td><td>{_num(x['drift_score'])}</td>"
                   f"<td>{_num(x['threshold'])}</td><td class=\"{'fail' if x['drifted'] else ''}\">"
                   f"{'yes' if x['drifted'] else 'no'}</td></tr>"
                   for x in sorted(d.get("columns") or [], key=lambda x: not x["drifted"]))
    return (f"<h2>Drift on its own traffic in {e(env)}</h2><p>{e(d.get('sentence') or '')} "
            f"{len(d['drifted_columns'])} of {e(d.get('n_columns'))} inputs drifted ({d['drifted_share']:.0%}), on "
            f"{_num(d['rows'])} rows from {e((d.get('first') or '')[:10])} to {e((d.get('last') or '')[:10])}; the "
            f"last {e(d.get('recent_days', 7))} days against the training data.</p>"
            + ("<table><tr><th>Input</th><th>Test</th><th>Statistic</th><th>Threshold</th><th>Drifted</th></tr>"
               + cols + "</table>" if cols else ""))


def _shap_html(x, e) -> str:
    if not x:
        return "<h2>Top SHAP features</h2><p class=muted>No SHAP explanation of this version when the pack was frozen.</p>"
    top = x["top_features"]
    most = max((t["mean_abs_shap"] for t in top), default=0) or 1
    bars = "".join(f"<tr><td>{e(t['feature'])}</td><td>{_num(t['mean_abs_shap'])}</td><td><div class=bar "
                   f"style=\"width:{100 * t['mean_abs_shap'] / most:.0f}%\"></div></td></tr>" for t in top)
    return (f"<h2>Top SHAP features</h2><p>Explanation {e(x['explanation_id'])}: {e(x['explainer'])} on "
            f"{_num(x['rows'])} rows, mean |SHAP value| in {e(x['output_space'])} units.</p>"
            "<table><tr><th>Input</th><th>Mean |SHAP value|</th><th style=\"width:50%\"></th></tr>" + bars + "</table>")
