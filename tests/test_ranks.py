import math

import numpy as np
import pandas as pd
import pytest

from mixedrain.calibrate import QUANTITIES
from mixedrain.ranks import N_THINNED, band_probability, rank_statistic, thin, uniformity_test, uniformity_verdict


def conjugate_sbc(rng, n_replications, *, shift=0.0, scale=1.0, n_thinned=N_THINNED, n_obs=4):
    """SBC without Stan: theta ~ N(0, 1), y_i ~ N(theta, 1), posterior N(sum y / (n + 1), 1 / sqrt(n + 1)).

    ``shift`` moves the posterior draws (bias) and ``scale`` multiplies their spread (scale < 1: too narrow)."""
    ranks = []
    for _ in range(n_replications):
        theta = rng.normal()
        y = rng.normal(theta, 1.0, n_obs)
        draws = rng.normal(y.sum() / (n_obs + 1) + shift, scale / math.sqrt(n_obs + 1), n_thinned)
        ranks.append(rank_statistic(draws, theta))
    return pd.DataFrame({"rank_mu_alpha": ranks})


def test_rank_statistic_counts_the_draws_below_the_truth():
    draws = np.array([3.0, 1.0, 2.0, 5.0])
    assert [rank_statistic(draws, truth) for truth in (0.0, 1.5, 4.0, 9.0)] == [0, 1, 3, 4]
    with pytest.raises(ValueError, match="finite"):
        rank_statistic(draws, float("nan"))
    with pytest.raises(ValueError, match="non-empty"):
        rank_statistic(np.array([]), 1.0)


def test_thin_keeps_evenly_spaced_draws_across_chains():
    draws = np.arange(2 * 500 * 3, dtype=float).reshape(2, 500, 3)  # chain, draw, state
    kept = thin(draws, 99)
    assert kept.shape == (99, 3)
    assert kept[0, 0] == 0 and kept[-1, 0] == draws[-1, -1, 0]  # first of chain 1 to last of chain 2
    gaps = np.diff(kept[:, 0]) / 3
    assert gaps.min() >= 10 and gaps.max() <= 11  # 999 / 98 iterations apart
    with pytest.raises(ValueError, match="between 1 and the 1000"):
        thin(draws, 1001)


def test_a_posterior_that_is_the_prior_gives_uniform_ranks():
    # Draws from the prior itself, ignoring the data, are a calibrated (if useless) posterior.
    rng = np.random.default_rng(1)
    ranks = [rank_statistic(rng.normal(size=N_THINNED), rng.normal()) for _ in range(2000)]
    counts = np.bincount(ranks, minlength=N_THINNED + 1)
    assert counts.size == N_THINNED + 1
    # Each of the 100 ranks expects 20 of 2000 (sd about 4.4): a chi-square test, 99 degrees of freedom
    # (its 0.1% critical value is about 149).
    chi2 = ((counts - 20) ** 2 / 20).sum()
    assert chi2 < 149
    assert bool(uniformity_test(pd.DataFrame({"rank_sigma_y": ranks})).loc["sigma_y", "inside"])


def test_the_exact_posterior_passes_and_a_biased_or_narrow_one_fails():
    rng = np.random.default_rng(2)
    exact = uniformity_test(conjugate_sbc(rng, 300))
    assert exact.loc["mu_alpha", "inside"]
    # Draws shifted up by one posterior sd put the truth below most of them: too many low ranks.
    biased = uniformity_test(conjugate_sbc(rng, 300, shift=1 / math.sqrt(5)))
    assert not biased.loc["mu_alpha", "inside"]
    assert biased.loc["mu_alpha", "direction"] == "too many low ranks"
    assert biased.loc["mu_alpha", "ecdf_minus_uniform"] > 0
    shifted_down = uniformity_test(conjugate_sbc(rng, 300, shift=-1 / math.sqrt(5)))
    assert shifted_down.loc["mu_alpha", "direction"] == "too many high ranks"
    narrow = uniformity_test(conjugate_sbc(rng, 300, scale=0.5))  # U shape
    assert narrow.loc["mu_alpha", "direction"] == "too many low ranks and too many high ranks"
    wide = uniformity_test(conjugate_sbc(rng, 300, scale=2.0))  # hump
    assert wide.loc["mu_alpha", "direction"] == "too few low ranks and too few high ranks"
    assert exact.loc["mu_alpha", "direction"] == ""


def test_the_band_rarely_rejects_uniform_ranks():
    # The band is simultaneous: uniform ranks leave it in about 1 - prob of the studies. With 400 studies
    # the observed rate has sd sqrt(0.05 * 0.95 / 400) = 0.011 around 0.05.
    rng = np.random.default_rng(3)
    ranks = pd.DataFrame({f"rank_{i}": rng.integers(0, N_THINNED + 1, 100) for i in range(400)})
    one_at_a_time = [bool(uniformity_test(ranks[[column]]).iloc[0]["inside"]) for column in ranks]
    false_alarms = 1 - np.mean(one_at_a_time)
    assert 0.05 - 3.5 * 0.011 < false_alarms < 0.05 + 3.5 * 0.011


def test_bonferroni_band_probability():
    assert band_probability(1) == pytest.approx(0.95)
    assert band_probability(6) == pytest.approx(1 - 0.05 / 6)
    table = uniformity_test(pd.DataFrame({f"rank_{q}": np.arange(100) for q in QUANTITIES}))
    assert table["prob"].tolist() == pytest.approx([1 - 0.05 / len(QUANTITIES)] * len(QUANTITIES))
    with pytest.raises(ValueError, match="0..99"):
        uniformity_test(pd.DataFrame({"rank_mu_alpha": [0, 100]}))


def test_verdict_says_what_was_found_either_way():
    uniform = pd.DataFrame({f"rank_{q}": np.arange(100) for q in QUANTITIES})
    assert uniformity_verdict(uniformity_test(uniform)).startswith("The ranks of all 6 quantities stay inside")
    skewed = uniform.assign(rank_sigma_beta=np.full(100, 99))
    text = uniformity_verdict(uniformity_test(skewed))
    assert text.startswith("`sigma_beta`'s ranks leave the band (too many high ranks)")
    assert "`mu_alpha`'s" in text and "`sigma_y`'s" in text
