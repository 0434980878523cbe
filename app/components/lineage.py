"""Drawing lineage: a left-to-right layered layout and a Plotly figure."""

from __future__ import annotations

from collections import defaultdict, deque

import plotly.graph_objects as go

KIND_COLORS = {"source": "#8c564b", "dataset": "#2ca02c", "job": "#ff7f0e", "model_version": "#1f77b4",
               "deployment": "#9467bd", "monitoring": "#17becf", "explanation": "#bcbd22", "comparison": "#e377c2",
               "other": "#7f7f7f"}
KIND_LABELS = {"source": "source", "dataset": "dataset", "job": "job", "model_version": "model version",
               "deployment": "deployment", "monitoring": "monitoring", "explanation": "explanation",
               "comparison": "comparison", "other": "other"}
MAX_DRAW = 250


def layers(node_ids: list[str], edges: list[dict]) -> dict[str, int]:
    """Longest-path layering (sources on the left); edges closing a cycle are ignored for the layout."""
    ids = set(node_ids)
    succ, indeg = defaultdict(list), {n: 0 for n in node_ids}
    for e in edges:
        if e["from"] in ids and e["to"] in ids and e["from"] != e["to"]:
            succ[e["from"]].append(e["to"])
            indeg[e["to"]] += 1
    layer = {n: 0 for n in node_ids}
    queue = deque(sorted(n for n, d in indeg.items() if d == 0))
    done = set()
    while True:
        while queue:
            n = queue.popleft()
            done.add(n)
            for m in succ[n]:
                layer[m] = max(layer[m], layer[n] + 1)
                indeg[m] -= 1
                if indeg[m] == 0:
                    queue.append(m)
        rest = [n for n in node_ids if n not in done]
        if not rest:
            return layer
        # A cycle: release the waiting node with the fewest unmet predecessors and go on.
        pick = min(rest, key=lambda n: (indeg[n], n))
        indeg[pick] = 0
        queue.append(pick)


def figure(nodes: list[dict], edges: list[dict], focus: str | None = None, height: int = 560) -> go.Figure:
    """Nodes coloured by kind, live deployments and the focused node outlined; hover shows details."""
    ids = [n["id"] for n in nodes]
    layer = layers(ids, edges)
    columns = defaultdict(list)
    for n in sorted(nodes, key=lambda n: (n["kind"], n["id"])):
        columns[layer[n["id"]]].append(n["id"])
    pos = {}
    for x, members in columns.items():
        for i, nid in enumerate(members):
            pos[nid] = (x, (len(members) - 1) / 2 - i)
    fig = go.Figure()
    ex, ey = [], []
    for e in edges:
        if e["from"] in pos and e["to"] in pos:
            (x0, y0), (x1, y1) = pos[e["from"]], pos[e["to"]]
            ex += [x0, x1, None]
            ey += [y0, y1, None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#b0b8c1", width=1), hoverinfo="skip",
                             showlegend=False))
    if len(edges) <= 150:
        for e in edges:
            if e["from"] in pos and e["to"] in pos:
                (x0, y0), (x1, y1) = pos[e["from"]], pos[e["to"]]
                fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
                                   showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1, arrowcolor="#b0b8c1",
                                   standoff=9)
    by_kind = defaultdict(list)
    for n in nodes:
        by_kind[n["kind"] if n["kind"] in KIND_COLORS else "other"].append(n)
    for kind, members in by_kind.items():
        status = [str((n.get("attributes") or {}).get("status", "")) for n in members]
        fig.add_trace(go.Scatter(
            x=[pos[n["id"]][0] for n in members], y=[pos[n["id"]][1] for n in members], mode="markers+text",
            name=KIND_LABELS[kind], text=[_short(n["name"]) for n in members], textposition="top center",
            textfont=dict(size=10), customdata=[n["id"] for n in members],
            marker=dict(size=[22 if n["id"] == focus else 15 for n in members], color=KIND_COLORS[kind],
                        symbol=["diamond" if s == "active" else "circle" for s in status],
                        opacity=[0.35 if s in ("retired", "replaced") else 1.0 for s in status],
                        line=dict(width=[3 if n["id"] == focus else 1 for n in members],
                                  color=["#111" if n["id"] == focus else "#fff" for n in members])),
            hovertemplate="%{customdata}<br>" + KIND_LABELS[kind] + "<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.05),
                      xaxis=dict(visible=False), yaxis=dict(visible=False), plot_bgcolor="white",
                      dragmode="pan", clickmode="event+select")
    return fig


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]
