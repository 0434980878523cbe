"""Each drift test names the statistic it reports, and which side of its threshold means drift."""

from __future__ import annotations

import pytest

from core.drift import stattests


@pytest.mark.parametrize("name, statistic, rule", [
    ("ks", "KS p-value", "≤"), ("wasserstein", "Wasserstein distance", "≥"), ("psi", "PSI", "≥"),
    ("jensenshannon", "JS distance", "≥"), ("chisquare", "chi-square p-value", "<"), ("z", "z-test p-value", "<"),
])
def test_every_test_names_its_statistic_and_drift_side(name, statistic, rule):
    test = stattests.get(name)
    assert (test.statistic, test.drift_rule) == (statistic, rule)
    assert ("p-value" in test.statistic) == test.is_p_value


def test_a_test_without_a_statistic_name_is_refused():
    with pytest.raises(ValueError, match="malformed"):
        stattests.register(stattests.StatTest("nameless", "Nameless", ("numeric",), 0.1, "at_or_above",
                                              lambda s: None))
    assert "nameless" not in stattests.REGISTRY
