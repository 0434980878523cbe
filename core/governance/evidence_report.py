"""The auditor's copy: a self-contained HTML report of a request and its frozen evidence pack.
"""

from __future__ import annotations

import json

from ..audit import canonical_json, utcnow
from ..identity import Identity
from .approvals import get_request
from .evidence import evidence
from .policy import iso

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2rem auto;
color:#1f2933;line-height:1.45;padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.25rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border:1px solid #d9e2ec;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#f0f4f8}.pass{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}
.not{color:#8a6d00}code{font-size:.85rem;word-break:break-all}.muted{color:#627d98;font-size:.9rem}
pre{background:#f7f9fb;padding:.75rem;overflow-x:auto;font-size:.8rem}"""


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
    extra = ""
    for key, title in (("drift", "Drift"), ("explanations", "Top SHAP features"),
                       ("comparison", "Champion vs challenger")):
        body = pack.get(key)
        extra += f"<h2>{title}</h2>" + (
            f"<pre>{e(json.dumps(body, indent=2, ensure_ascii=False))}</pre>" if body
            else "<p class=muted>Not available when the pack was frozen.</p>")
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
<pre>{e(canonical)}</pre>
</body></html>
"""
