"""Start the dashboard with the modules its pages import already loaded: `python -m app.serve [streamlit flags]`.

`streamlit run app/main.py` imports the pages' libraries (pandas, Plotly, DuckDB, core) during the first run of
the first visitor, who then waits seconds for imports rather than for their page. This starts the same server in
the same process after importing, once, every module the entry script and the page files import at their top
(read from their source, so a new page's imports are preloaded too). Nothing of a page runs here.
"""

from __future__ import annotations

import ast
import gc
import importlib
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent
ROOT = APP.parent


def page_imports() -> list[str]:
    """The modules `main.py`, `session.py` and the page files import at their top level, in file order."""
    names: list[str] = []
    for path in [APP / "main.py", APP / "session.py", *sorted((APP / "pages").glob("*.py"))]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names]
    return list(dict.fromkeys(names))


def preload() -> list[str]:
    """Import what the pages import; returns the modules loaded (a name that is not a module is skipped)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    loaded = []
    for name in page_imports():
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # `from x import function`: the name is not a module; x itself was imported above
        loaded.append(name)
    return loaded


def warm() -> None:
    """Pay, before the first visitor, the one-time costs Streamlit and Plotly charge the first page run.

    - Streamlit checks once per process, on the first element drawn, whether it runs in a Python REPL to print a
      warning; the check walks the whole call stack resolving every module's source file (0.2-0.4 s here). A
      server started by this module is never a REPL, so the check is marked done.
    - Plotly builds its figure and trace classes lazily, on first use (0.3 s here for the first bar chart).
    - DuckDB sets itself up on its first connection in a process (0.1 s here), before it opens any file.
    - Each process checks once that the store has every migration; the check is done here (`_check_store`).
    """
    from core import store

    store.warm()
    _check_store()
    from streamlit import delta_generator

    if hasattr(delta_generator, "_use_warning_has_been_displayed"):
        delta_generator._use_warning_has_been_displayed = True
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a"], y=[1], marker_color="#1f77b4", hovertemplate="%{y}<extra></extra>"))
    fig.add_trace(go.Scatter(x=["a"], y=[1], mode="lines+markers", name="b"))
    fig.update_layout(barmode="stack", height=300, margin=dict(l=10, r=10, t=10, b=10), legend_title_text="x",
                      xaxis_title="x", yaxis_title="y", legend=dict(orientation="h", y=1.1))
    fig.update_yaxes(dtick=1, tickformat=".2f", rangemode="tozero")
    fig.to_json()


def _check_store() -> None:
    """Open the configured DuckDB store once, if it exists, so that this process's one check that the store has
    every migration (and the first read of its file) is not paid by the first visitor. A store that is missing,
    locked by another process or broken is left alone: the page says what is wrong with it."""
    from core.errors import CoreError
    from core.store import Store

    s = Store(lock_timeout=0)
    if s.database_url is not None or not s.db_path.exists():
        return
    try:
        with s.read():
            pass
    except CoreError:
        pass


def freeze_startup_objects() -> None:
    """Move every object alive after start-up (the imported libraries' modules, classes and functions) out of the
    garbage collector's reach.

    Streamlit runs a full collection after every page run (`runner.postScriptGC`, kept on to bound memory), and a
    full collection walks every tracked object: 0.11 s per run on an idle machine here, 0.15-0.17 s while the
    browser draws, nearly all of it over objects that live as long as the process and are never garbage. Frozen,
    they are skipped (the same collection then takes microseconds), and each run's collection walks only what the
    runs made: `gc.freeze`, as CPython's documentation advises for a process that preloads before serving.
    """
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    preload()
    warm()
    freeze_startup_objects()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP / "main.py"), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
