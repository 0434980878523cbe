"""`scipy.stats.kstwo.sf` — the p-value `ks_2samp` reports in its asymptotic mode — without importing scipy.stats.

`import scipy.stats` costs about a second of a `modelgov drift` process (it builds every distribution and its
documentation), more than the drift statistics themselves. The two-sided Kolmogorov distribution lives in
scipy's own module `scipy/stats/_ksstats.py`, which needs only numpy, plus `scipy.special.smirnov` in its tail
regimes. So that very module is read from the installed scipy and run on its own, with `scipy.special` imported
only when a tail regime is reached (a drifted column). The numbers are scipy's, computed by scipy's code.

If the installed scipy's module no longer has the shape this relies on, `sf` falls back to
`scipy.stats.kstwo.sf` itself (slower to import, same numbers); tests compare both on a grid either way.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

_IMPORTS = ("import scipy.special\n", "import scipy.special._ufuncs as scu\n",
            "from scipy.stats._finite_differences import _derivative\n")


class _LazyScipy:
    """The `scipy` the module's code reads: `scipy.special` (its `smirnov`, in the tail regimes), imported on first
    use. (The module's other functions, quantiles and densities, are never called.)"""

    @property
    def special(self):
        import scipy.special

        return scipy.special


def warm_up() -> None:
    """Start importing `scipy.special` in a background thread, for a process about to scan large samples.

    With samples of tens of thousands of rows, any KS statistic above about 0.005 reaches the regime that needs
    `smirnov`, and the import (a few tenths of a second) then overlaps DuckDB's scans, which release the
    interpreter, instead of following them. A process that has it already (the dashboard, via scikit-learn)
    starts nothing."""
    import sys
    import threading

    if "scipy.special" in sys.modules:
        return

    def load() -> None:
        try:
            import scipy.special  # noqa: F401
        except Exception:  # noqa: BLE001 - the main thread imports it again when needed, and reports
            pass

    threading.Thread(target=load, name="modelgov-scipy-special", daemon=True).start()


@lru_cache(maxsize=1)
def _kolmogn() -> Callable[..., float] | None:
    """scipy's `_kolmogn(n, x, cdf)` from its own source file, or None when that file is not as expected."""
    spec = importlib.util.find_spec("scipy")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "stats" / "_ksstats.py"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if not all(line in source for line in _IMPORTS) or "\ndef _kolmogn(n, x, cdf=True):" not in source:
        return None
    for line in _IMPORTS:  # the module's other imports: used only by functions drift never calls (ppf, pdf)
        source = source.replace(line, "")
    namespace = {"__name__": "core.drift._scipy_ksstats", "scipy": _LazyScipy()}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - scipy's own installed source, unchanged
    return namespace["_kolmogn"]


def sf(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """`scipy.stats.kstwo.sf(d, n)` for arrays of statistics d in [0, 1] and integral sizes n ≥ 1."""
    d = np.asarray(d, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    fn = _kolmogn()
    if fn is None:
        from scipy import stats

        return np.asarray(stats.distributions.kstwo.sf(d, n), dtype=np.float64)
    out = np.empty(np.broadcast(d, n).shape)
    for i, (x, k) in enumerate(np.broadcast(d, n)):
        # kstwo's support is [0, 1]: at or below 0 the survival is 1, at or above 1 it is 0 (rv_continuous.sf)
        out.flat[i] = 1.0 if x <= 0 else 0.0 if x >= 1 else float(fn(int(k), float(x), cdf=False))
    return out
