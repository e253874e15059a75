import math

import numpy as np
import pandas as pd
import pytest

from mixedrain.calibrate import QUANTITIES
from mixedrain.ranks import (
    MIN_SUBSET,
    N_THINNED,
    band_probability,
    calibration_verdict,
    effective_sizes,
    rank_statistic,
    ranks_thinned_by_ess,
    rescale_rank,
    thin,
    thin_by_ess,
    uniformity_test,
    uniformity_verdict,
)


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


# --- Thinning by ESS -----------------------------------------------------------------------------------


def ar1_chains(rng, mean, sd, shape, phi):
    """Stationary AR(1) chains with N(mean, sd) marginals: exact draws of N(mean, sd), autocorrelated by phi.

    ``mean`` and ``sd`` broadcast against ``shape[:-1]``; the last axis is the iteration."""
    draws = np.empty(shape)
    draws[..., 0] = rng.normal(mean, sd, shape[:-1])
    for t in range(1, shape[-1]):
        draws[..., t] = mean + phi * (draws[..., t - 1] - mean) + rng.normal(0, sd * np.sqrt(1 - phi**2), shape[:-1])
    return draws


def test_effective_sizes_match_the_autocorrelation():
    rng = np.random.default_rng(11)
    independent = effective_sizes(rng.normal(size=(4, 5000)))
    # Independent draws: ESS about the 20,000 draws (the bulk estimate's sd is a few percent here).
    assert 0.85 * 20_000 < independent[0] < 1.15 * 20_000
    # AR(1) with phi = 0.9: ESS = n (1 - phi) / (1 + phi) = 20,000 / 19, about 1053; with chains 5000 long
    # (about 260 autocorrelation times each) the estimate is within 15% of it.
    bulk, tail = effective_sizes(ar1_chains(rng, 0.0, 1.0, (4, 5000), 0.9))
    assert 0.85 * 1053 < bulk < 1.15 * 1053
    # Indicators of the 5% and 95% quantiles of a Gaussian AR(1) decorrelate faster than the chain itself,
    # so the tail ESS is at least about the bulk one (it is about twice it here), and not unboundedly more.
    assert 0.85 * 1053 < tail < 4 * 1053
    stuck_apart = effective_sizes(np.repeat([[0.0], [1.0]], 100, axis=1))  # two chains, each stuck at its own value
    assert stuck_apart[0] < 3
    with pytest.raises(ValueError, match="chain, draw"):
        effective_sizes(np.ones(100))


def test_thin_by_ess_keeps_as_many_evenly_spaced_draws_as_the_ess():
    draws = np.arange(2 * 500, dtype=float).reshape(2, 500)
    assert thin_by_ess(draws, 37.9).size == 37  # floor(ESS) draws
    assert np.diff(thin_by_ess(draws, 37.9)).min() >= 999 // 36  # spaced about n / ESS iterations apart
    assert thin_by_ess(draws, 500.0).size == N_THINNED  # never more than the number of ranks
    assert thin_by_ess(draws, 0.3).size == 1  # at least one
    with pytest.raises(ValueError, match="positive"):
        thin_by_ess(draws, 0.0)


@pytest.mark.parametrize("n_kept", [0, 9, 37])
def test_rescaled_ranks_stay_uniform(n_kept):
    # Ranks uniform on 0..n_kept, put on 0..99: each of the 100 values expects 200 of 20,000. The chi-square
    # statistic has 99 degrees of freedom; its 0.1% critical value is about 148.2. Spreading the ranks
    # without the uniform tie-break would fill only n_kept + 1 of the 100 values and fail by far.
    rng = np.random.default_rng(n_kept)
    ranks = [rescale_rank(int(r), n_kept, N_THINNED, rng) for r in rng.integers(0, n_kept + 1, 20_000)]
    counts = np.bincount(ranks, minlength=N_THINNED + 1)
    assert counts.size == N_THINNED + 1
    assert ((counts - 200) ** 2 / 200).sum() < 148.2


def test_rescale_rank_keeps_a_full_scale_rank_and_rejects_an_impossible_one():
    rng = np.random.default_rng(0)
    assert [rescale_rank(r, N_THINNED, N_THINNED, rng) for r in (0, 50, 99)] == [0, 50, 99]
    with pytest.raises(ValueError, match="0..9"):
        rescale_rank(10, 9, N_THINNED, rng)


def test_thinning_by_ess_removes_the_u_shape_of_autocorrelated_draws():
    # The conjugate toy with an exact but sticky sampler: AR(1) chains, phi = 0.99, 2 x 500 draws, so the
    # ESS is about 1000 * 0.01 / 1.99 = 5, far below the 99 ranks. A fixed step keeps 99 draws 10 apart
    # (correlation 0.99^10 = 0.9), which cluster, so the truth falls outside all of them too often: a U.
    # Thinned to floor(ESS) draws (about 200 apart, correlation 0.13) and rescaled, the ranks are uniform.
    # 1000 replications: the extreme ranks 0 and 99 expect 2% (binomial sd 0.44%).
    rng = np.random.default_rng(21)
    n = 1000
    theta = rng.normal(size=n)
    y = rng.normal(theta[:, None], 1.0, (n, 4))
    mean, sd = y.sum(axis=1) / 5, 1 / np.sqrt(5)
    chains = ar1_chains(rng, mean[:, None], sd, (n, 2, 500), 0.99)
    fixed = [rank_statistic(thin(chains[i]), theta[i]) for i in range(n)]
    by_ess = [ranks_thinned_by_ess({"theta": chains[i]}, {"theta": theta[i]}, rng)["rank_theta"] for i in range(n)]
    test = uniformity_test(pd.DataFrame({"rank_fixed": fixed, "rank_by_ess": by_ess}))
    assert test.loc["fixed", "direction"] == "too many low ranks and too many high ranks"
    assert np.isin(fixed, [0, N_THINNED]).mean() > 0.02 + 4 * 0.0044
    assert test.loc["by_ess", "inside"]
    assert np.isin(by_ess, [0, N_THINNED]).mean() < 0.02 + 4 * 0.0044


def test_ranks_thinned_by_ess_report_the_ess_they_used():
    rng = np.random.default_rng(3)
    draws = {"a": rng.normal(size=(2, 500)), "b": ar1_chains(rng, 0.0, 1.0, (2, 500), 0.95)}
    row = ranks_thinned_by_ess(draws, {"a": 0.0, "b": 0.0}, rng)
    assert set(row) == {"rank_a", "ess_bulk_a", "ess_tail_a", "rank_b", "ess_bulk_b", "ess_tail_b"}
    assert row["ess_bulk_a"] > 500 and row["ess_bulk_b"] < 60  # independent; about 26 for phi = 0.95
    assert all(0 <= row[f"rank_{q}"] <= N_THINNED for q in "ab")


# --- The verdict ---------------------------------------------------------------------------------------


def study_table(ranks, divergent):
    return pd.DataFrame({"replication": range(len(ranks)), "rank_sigma": ranks, "divergences": np.asarray(divergent, int), "error": ""})


def test_verdict_calls_a_failure_over_all_fits_miscalibrated():
    ranks = np.r_[np.zeros(40, int), np.arange(1, 101) % 100]  # 40 extra ranks at 0
    text = calibration_verdict(study_table(ranks, np.zeros(140)), name="The program")
    assert text.startswith("The program is miscalibrated: `sigma`'s ranks leave the band (too many low ranks")
    assert text.endswith("0 of 140 fits (0%) had divergent transitions.")
    top = np.r_[np.full(40, 99), np.arange(100)]  # 40 extra ranks at the top: 41 of 140 at 99, 1% expected
    assert "(too many high ranks: 29.3% of ranks at 99, 1.0% expected)" in calibration_verdict(study_table(top, np.zeros(140)))


def test_verdict_finds_a_failure_confined_to_the_divergent_fits():
    # 300 fits; the 100 divergent ones put 6% of their ranks at 0 (1% expected): on them alone the ECDF
    # leaves its band, over all fits (2% at 0) it stays inside.
    clean = np.arange(200) % 100
    divergent = np.r_[np.zeros(6, int), np.arange(1, 95)]
    study = study_table(np.r_[clean, divergent], np.r_[np.zeros(200), np.ones(100)])
    assert uniformity_test(study).loc["sigma", "inside"]
    text = calibration_verdict(study, name="The centered program")
    assert text.startswith("The centered program is miscalibrated where its sampler diverged: 100 of 300 fits (33%)")
    assert "`sigma`'s ranks leave the band (too many low ranks: 6.0% of ranks at 0, 1.0% expected)" in text
    assert text.endswith("the fits without divergences dilute the failure.")
    # A control fitted to the same data sets that stays uniform there is told beside
    control = study_table(np.arange(300) % 100, np.zeros(300))
    with_control = calibration_verdict(study, name="The centered program", control=control, control_name="the integrated form")
    assert "Fitted to the same 100 data sets, the integrated form's ranks stay inside their bands." in with_control
    # ... and one that fails there too says the selection bends ranks by itself
    bent = control.assign(rank_sigma=np.r_[clean, divergent])
    assert "so choosing fits by divergence bends ranks by itself" in calibration_verdict(study, control=bent)


def test_verdict_of_a_clean_study_counts_divergences_it_cannot_test_apart():
    uniform = np.arange(200) % 100
    assert calibration_verdict(study_table(uniform, np.zeros(200))).endswith("and no fit had a divergent transition.")
    few = np.arange(200) < MIN_SUBSET - 1
    assert calibration_verdict(study_table(uniform, few)).endswith(
        f"{MIN_SUBSET - 1} of 200 fits (10%) had divergent transitions, too few to test on their own."
    )
    many = np.arange(200) % 4 == 0  # 50 divergent fits, uniform among themselves too
    assert calibration_verdict(study_table(uniform, many)).endswith("also on the 50 fits (25%) with divergent transitions.")
    # Where the study records ESS, the divergent fits ranked among fewer draws are counted
    with_ess = study_table(uniform, many).assign(min_ess_bulk=np.where(many & (np.arange(200) < 100), 30.0, 500.0), min_ess_tail=400.0)
    assert calibration_verdict(with_ess).endswith(
        "also on the 50 fits (25%) with divergent transitions; 25 of those had a bulk or tail ESS below 99, so their "
        "ranks were taken among fewer draws, a coarser test."
    )
    with pytest.raises(ValueError, match="no fitted"):
        calibration_verdict(study_table(uniform, many).assign(error="boom"))
