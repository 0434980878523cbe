"""The performance rule both the review (checks.performance_change) and health (health.score) apply.

Defined once, here, in a module that imports nothing: `modelgov models list` shows health without loading the
monitoring computation (pandas, numpy).
"""

AUC_DROP_POINTS = 2.0  # a drop of AUC of at least this many points from validation needs attention
RMSE_RISE = 0.05  # a rise of RMSE of at least this share over validation needs attention
from ..vocabulary import AUC_LIKE, PRIMARY_METRIC  # noqa: E402,F401  (the words, defined once)
