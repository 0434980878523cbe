"""Comparison statistics against independent references (scikit-learn, scipy, naive formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from core.compare import paired as compare_paired
from core.compare import scores as compare_scores


def _ks(y, s):
    fpr, tpr, _ = skm.roc_curve(y, s)
    return float(np.max(np.abs(tpr - fpr)))


def _sk_binary(y, s):
    return {"auc": skm.roc_auc_score(y, s), "ks": _ks(y, s), "brier": skm.brier_score_loss(y, s),
            "accuracy": skm.accuracy_score(y, (s >= 0.5).astype(int)),
            "log_loss": skm.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15), labels=[0, 1])}


def _sk_regression(y, p):
    return {"rmse": math.sqrt(skm.mean_squared_error(y, p)), "mae": skm.mean_absolute_error(y, p),
            "r2": skm.r2_score(y, p)}


def _binary_data(n=600, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = 1 / (1 + np.exp(-(1.2 * y - 0.6 + rng.normal(size=n))))
    b = 1 / (1 + np.exp(-(0.9 * y - 0.45 + rng.normal(size=n))))
    if ties:  # coarse scores produce many ties, the hard case for rank formulas
        b = np.round(b, 2)
    return y, a, b


def test_point_metrics_equal_scikit_learn():
    y, a, b = _binary_data()
    r = compare_scores.compare_scores(y, a, b, task="binary_classification", bootstrap=50, seed=1)
    for side, s in (("champion", a), ("challenger", b)):
        for m, v in _sk_binary(y, s).items():
            assert r[side][m] == pytest.approx(v, abs=1e-12), (side, m)
    for m in r["difference"]:
        assert r["difference"][m]["estimate"] == pytest.approx(r["challenger"][m] - r["champion"][m])


def test_regression_point_metrics_equal_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300) * 10
    a, b = y + rng.normal(size=300) * 3, y + rng.normal(size=300) * 4
    r = compare_scores.compare_scores(y, a, b, task="regression", bootstrap=50, seed=1)
    for side, p in (("champion", a), ("challenger", b)):
        for m, v in _sk_regression(y, p).items():
            assert r[side][m] == pytest.approx(v, abs=1e-10)


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_replicates_equal_scikit_learn_on_the_resampled_rows(ties):
    y, a, b = _binary_data(n=500, seed=4, ties=ties)
    boot = compare_paired.paired_bootstrap(y, a, b, task="binary_classification", replicates=6, seed=11)
    (_, idx), = list(compare_paired.bootstrap_indices(len(y), 6, 11))
    for r in range(6):
        i = idx[r]
        for side, s in (("champion", a), ("challenger", b)):
            ref = _sk_binary(y[i], s[i])
            got = getattr(boot, side)
            for m, v in ref.items():
                assert got[m][r] == pytest.approx(v, abs=1e-10), (r, side, m)


def test_regression_bootstrap_replicates_equal_scikit_learn():
    rng = np.random.default_rng(5)
    y = rng.normal(size=250)
    a, b = y + rng.normal(size=250), y + 0.5 * rng.normal(size=250)
    boot = compare_paired.paired_bootstrap(y, a, b, task="regression", replicates=4, seed=2)
    (_, idx), = list(compare_paired.bootstrap_indices(250, 4, 2))
    for r in range(4):
        for m, v in _sk_regression(y[idx[r]], b[idx[r]]).items():
            assert boot.challenger[m][r] == pytest.approx(v, abs=1e-10)


def test_same_seed_same_intervals_and_prefix_stability():
    y, a, b = _binary_data(n=3000, seed=7)
    r1 = compare_scores.compare_scores(y, a, b, task="binary_classification", bootstrap=300, seed=42, with_curves=False)
    r2 = compare_scores.compare_scores(y, a, b, task="binary_classification", bootstrap=300, seed=42, with_curves=False)
    r3 = compare_scores.compare_scores(y, a, b, task="binary_classification", bootstrap=300, seed=43, with_curves=False)
    assert r1["difference"] == r2["difference"]
    assert r1["difference"]["auc"]["ci_low"] != r3["difference"]["auc"]["ci_low"]
    # Replicate b does not depend on how many replicates were asked for (chunks are fixed by rows).
    n = 3000
    small = compare_paired.paired_bootstrap(y, a, b, task="binary_classification", replicates=compare_paired.chunk_size(n) + 5, seed=9)
    large = compare_paired.paired_bootstrap(y, a, b, task="binary_classification", replicates=compare_paired.chunk_size(n) * 2 + 3, seed=9)
    k = compare_paired.chunk_size(n) + 5
    np.testing.assert_array_equal(small.champion["auc"], large.champion["auc"][:k])


def test_resample_without_a_class_gives_nan_not_an_error():
    y = np.array([1] + [0] * 29)
    s = np.linspace(0.1, 0.9, 30)
    boot = compare_paired.paired_bootstrap(y, s, s[::-1], task="binary_classification", replicates=40, seed=0)
    assert np.isnan(boot.champion["auc"]).any()  # some resamples miss the single positive
    assert np.isfinite(boot.champion["brier"]).all()


def _simulate(rng, n, mu_a, mu_b, rho):
    """Binormal scores: positives shifted by mu; AUC = Φ(mu/√2) exactly. Models correlated by rho."""
    y = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    ea = z
    eb = rho * z + math.sqrt(1 - rho ** 2) * rng.normal(size=n)
    return y, mu_a * y + ea, mu_b * y + eb


def test_interval_coverage_of_the_true_auc_difference():
    mu_a, mu_b, rho = 1.0, 1.4, 0.6
    truth = stats.norm.cdf(mu_b / math.sqrt(2)) - stats.norm.cdf(mu_a / math.sqrt(2))
    rng = np.random.default_rng(20261122)
    sims, hits_boot, hits_delong = 200, 0, 0
    for _ in range(sims):
        y, a, b = _simulate(rng, 150, mu_a, mu_b, rho)
        boot = compare_paired.paired_bootstrap(y, a, b, task="binary_classification", replicates=300,
                                   seed=int(rng.integers(1 << 31)))
        lo, hi = compare_paired.percentile_interval(boot.difference("auc"))
        hits_boot += lo <= truth <= hi
        d = compare_paired.delong_test(y, a, b)
        hits_delong += d.ci_low <= truth <= d.ci_high
    # 200 simulations: the standard error of a 95% coverage is 1.5 points.
    assert 0.90 <= hits_boot / sims <= 0.99, hits_boot / sims
    assert 0.90 <= hits_delong / sims <= 0.99, hits_delong / sims


def test_an_unpaired_interval_would_be_too_wide_so_pairing_matters():
    """With strongly correlated models the paired interval is much narrower than an unpaired one."""
    rng = np.random.default_rng(1)
    y, a, b = _simulate(rng, 2000, 1.0, 1.1, 0.95)
    paired = compare_paired.paired_bootstrap(y, a, b, task="binary_classification", replicates=300, seed=1)
    lo, hi = compare_paired.percentile_interval(paired.difference("auc"))
    other = compare_paired.paired_bootstrap(y, b, b, task="binary_classification", replicates=300, seed=2)
    unpaired = other.champion["auc"] - paired.champion["auc"]
    ulo, uhi = compare_paired.percentile_interval(unpaired)
    assert (hi - lo) < 0.6 * (uhi - ulo)


def _naive_delong(y, scores):
    """DeLong (1988) with structural components from explicit pairwise comparisons."""
    pos = [s[y == 1] for s in scores]
    neg = [s[y == 0] for s in scores]
    m, n = len(pos[0]), len(neg[0])
    psi = [(p[:, None] > q[None, :]) + 0.5 * (p[:, None] == q[None, :]) for p, q in zip(pos, neg)]
    aucs = np.array([x.mean() for x in psi])
    v10 = np.array([x.mean(axis=1) for x in psi])  # per positive
    v01 = np.array([x.mean(axis=0) for x in psi])  # per negative
    k = len(scores)
    s10 = np.array([[np.sum((v10[r] - aucs[r]) * (v10[t] - aucs[t])) / (m - 1) for t in range(k)] for r in range(k)])
    s01 = np.array([[np.sum((v01[r] - aucs[r]) * (v01[t] - aucs[t])) / (n - 1) for t in range(k)] for r in range(k)])
    return aucs, s10 / m + s01 / n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_delong_equals_the_naive_structural_components(seed):
    y, a, b = _binary_data(n=120, seed=seed, ties=True)
    a = np.round(a, 1)  # heavy ties on both
    aucs, cov = compare_paired.delong_covariance(y, np.vstack([a, b]))
    ref_aucs, ref_cov = _naive_delong(y, [a, b])
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    np.testing.assert_allclose(aucs, [skm.roc_auc_score(y, a), skm.roc_auc_score(y, b)], atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-14)
    t = compare_paired.delong_test(y, a, b)
    var = ref_cov[0, 0] + ref_cov[1, 1] - 2 * ref_cov[0, 1]
    z = (ref_aucs[1] - ref_aucs[0]) / math.sqrt(var)
    assert t.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_delong_single_auc_variance_matches_hanley_mcneil_order_and_midranks_match_scipy():
    rng = np.random.default_rng(8)
    x = np.round(rng.random(200), 1)
    np.testing.assert_allclose(compare_paired.midranks(x), stats.rankdata(x, method="average"))
    # Identical scores: zero difference, p = 1.
    y = rng.integers(0, 2, 200)
    t = compare_paired.delong_test(y, x, x)
    assert t.difference == 0 and t.p_value == 1.0


@pytest.mark.parametrize("b,c", [(0, 0), (3, 0), (2, 9), (7, 7), (1, 12), (10, 14)])
def test_mcnemar_exact_equals_scipy_binomtest(b, c):
    y = np.ones(b + c + 5, dtype=int)
    champ = np.r_[np.ones(b), np.zeros(c), np.ones(5)].astype(int)
    chall = np.r_[np.zeros(b), np.ones(c), np.ones(5)].astype(int)
    r = compare_paired.mcnemar_test(y, champ, chall)
    assert (r.champion_only, r.challenger_only) == (b, c)
    assert r.method == "exact binomial"
    expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5).pvalue
    assert r.p_value == pytest.approx(expected, rel=1e-12)


def test_mcnemar_chi_square_for_many_discordant_pairs():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 3000)
    champ = np.where(rng.random(3000) < 0.8, y, 1 - y)
    chall = np.where(rng.random(3000) < 0.77, y, 1 - y)
    r = compare_paired.mcnemar_test(y, champ, chall)
    b, c = r.champion_only, r.challenger_only
    assert b + c >= compare_paired.EXACT_BELOW and r.method.startswith("chi-square")
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    assert r.statistic == pytest.approx(stat)
    assert r.p_value == pytest.approx(stats.chi2.sf(stat, df=1), rel=1e-10)
    # The exact test agrees closely at this size.
    assert r.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=0.15)


def test_bootstrap_p_value_tails():
    assert compare_paired.bootstrap_p_value(np.full(99, 0.5)) == pytest.approx(2 / 100)
    assert compare_paired.bootstrap_p_value(np.r_[np.full(50, -1.0), np.full(50, 1.0)]) == 1.0


def test_verdict_words_follow_the_intervals():
    diff = {"auc": {"estimate": 0.012, "ci_low": 0.004, "ci_high": 0.020},
            "brier": {"estimate": -0.001, "ci_low": -0.003, "ci_high": 0.001},
            "log_loss": {"estimate": 0.03, "ci_low": 0.01, "ci_high": 0.05}}
    text, summary = compare_scores.verdict(diff)
    assert text == ("challenger better on AUC by 0.012 (95% CI 0.004 to 0.020); challenger worse on log loss by "
                    "0.030 (95% CI 0.010 to 0.050); no significant difference in Brier.")
    assert summary == "mixed"
    text, summary = compare_scores.verdict({"rmse": {"estimate": -2.5, "ci_low": -4.0, "ci_high": -1.0}})
    assert text == "challenger better on RMSE by 2.5 (95% CI 1 to 4)." and summary == "challenger_better"


def test_a_real_improvement_is_found_and_no_difference_is_not_invented():
    rng = np.random.default_rng(12)
    y, a, b = _simulate(rng, 4000, 0.8, 1.3, 0.5)
    r = compare_scores.compare_scores(y, 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b)), task="binary_classification",
                               bootstrap=300, seed=0, with_curves=False)
    assert r["verdict"].startswith("challenger better on AUC")
    y, a, _ = _simulate(rng, 4000, 1.0, 1.0, 0.5)
    same = compare_scores.compare_scores(y, 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-a)), task="binary_classification",
                                  bootstrap=100, seed=0, with_curves=False)
    assert same["verdict_summary"] == "no_significant_difference" and same["agreement_rate"] == 1.0


# pROC's aSAH data (Turck et al. 2010, Intensive Care Med 36:107; 113 patients with aneurysmal
# subarachnoid haemorrhage): outcome (G good / P poor), WFNS grade, S100B and NDKA, one patient per
# "|"-separated cell. Reference values: pROC's own test suite (Robin et al. 2011, BMC Bioinformatics
# 12:77), roc.test(wfns, s100b) paired DeLong and var() of each AUC.
ASAH = """
G 1 0.13 3.01 | G 1 0.14 8.54 | G 1 0.1 8.09 | G 1 0.04 10.42 | P 3 0.13 17.4 | P 2 0.1 12.75
G 5 0.47 6.0 | P 4 0.16 13.2 | G 1 0.18 15.54 | G 2 0.1 6.01 | P 5 0.12 15.96 | G 2 0.1 17.86
P 5 0.44 5.18 | P 5 0.71 8.9 | G 1 0.04 13.41 | G 2 0.08 20.75 | P 5 0.49 11.6 | G 2 0.04 16.11
P 2 0.07 32.37 | P 5 0.33 54.82 | P 2 0.09 32.41 | G 1 0.09 49.94 | P 1 0.07 40.34
G 1 0.11 9.47 | G 1 0.07 6.29 | G 2 0.17 12.53 | G 1 0.07 6.54 | G 2 0.11 6.3 | G 1 0.13 80.3
G 1 0.19 12.8 | G 3 0.05 9.8 | G 4 0.16 9.81 | P 2 0.41 9.85 | G 1 0.14 18.21 | G 4 0.34 5.03
P 5 0.35 14.04 | P 4 0.48 21.93 | G 1 0.09 8.02 | P 4 0.96 7.42 | P 2 0.25 8.38 | G 5 0.5 6.59
G 5 0.46 9.63 | G 1 0.16 13.12 | G 1 0.07 7.96 | G 2 0.43 14.34 | G 4 0.45 41.43 | G 1 0.11 7.63
G 1 0.08 7.06 | G 2 0.09 12.59 | P 5 0.86 13.56 | P 5 0.52 3.87 | G 2 0.08 9.44 | G 1 0.06 7.66
G 2 0.13 12.98 | P 5 2.07 419.19 | G 1 0.1 27.19 | G 2 0.14 22.27 | G 2 0.15 9.95
P 2 0.07 21.22 | G 1 0.06 11.73 | P 5 0.77 10.4 | G 1 0.05 58.83 | G 1 0.09 6.39 | P 2 0.3 11.09
P 5 0.03 12.22 | P 2 0.09 13.67 | G 1 0.04 17.21 | P 4 0.23 22.63 | P 5 0.7 12.9 | G 2 0.09 9.7
P 4 0.27 21.57 | P 4 0.71 8.23 | P 1 0.08 72.57 | P 4 0.26 15.54 | G 1 0.08 10.51 | G 2 0.16 10.6
G 1 0.09 14.57 | P 4 0.13 5.19 | P 2 0.1 9.63 | G 1 0.08 4.61 | P 2 0.11 21.48 | G 3 0.33 17.3
G 2 0.11 12.71 | G 4 0.28 9.44 | G 2 0.07 11.07 | G 1 0.1 19.46 | G 4 0.32 10.83 | P 5 0.22 5.37
G 1 0.07 11.97 | G 1 0.05 7.75 | G 5 0.24 9.83 | G 4 0.38 10.55 | G 2 0.1 28.49 | G 2 0.15 8.53
G 1 0.08 12.57 | G 1 0.14 12.9 | G 1 0.1 46.83 | G 3 0.07 11.68 | G 1 0.04 12.67 | G 2 0.19 9.01
P 5 0.56 9.57 | P 2 0.14 34.06 | P 2 0.58 11.72 | P 5 0.32 14.26 | P 5 0.82 47.61
P 5 0.74 11.67 | G 2 0.15 24.58 | G 4 0.47 10.33 | G 4 0.17 13.87 | P 5 0.44 15.89
G 1 0.15 22.43 | G 1 0.5 6.79 | G 1 0.48 13.45
"""


def _asah():
    rows = [cell.split() for cell in ASAH.replace("\n", " | ").split("|") if cell.strip()]
    y = np.array([r[0] == "P" for r in rows], dtype=int)
    return y, {name: np.array([float(r[i]) for r in rows]) for i, name in ((1, "wfns"), (2, "s100b"), (3, "ndka"))}


def test_delong_reproduces_the_published_proc_results():
    y, m = _asah()
    assert len(y) == 113 and y.sum() == 41
    t = compare_paired.delong_test(y, m["s100b"], m["wfns"])  # challenger − champion = AUC(wfns) − AUC(s100b)
    assert t.z == pytest.approx(2.20898359144091, rel=1e-10)
    assert t.p_value == pytest.approx(0.0271757822291882, rel=1e-10)
    assert (t.ci_low, t.ci_high) == pytest.approx((0.0104061769564846, 0.174214419249478), rel=1e-10)
    aucs, cov = compare_paired.delong_covariance(y, np.vstack([m["wfns"], m["ndka"], m["s100b"]]))
    np.testing.assert_allclose(aucs[:2], [0.823678861788618, 0.611957994579946], rtol=1e-12)
    np.testing.assert_allclose(np.diag(cov), [0.00146991470882363, 0.0031908105493913, 0.00266868245717244],
                               rtol=1e-10)
    z_ndka = compare_paired.delong_test(y, m["ndka"], m["wfns"]).z
    assert z_ndka == pytest.approx(2.79777591868904, rel=1e-10)
