"""Tests of mixedrain.reml: statsmodels MixedLM by REML, its intervals, and the posterior beside it."""

import arviz as az
import numpy as np
import pytest

from mixedrain.data import printed_digit_gaps, sleepstudy_lme4_reml
from mixedrain.models import get_model
from mixedrain.prepare import prepare_data
from mixedrain.reml import fit_mixedlm, mixedlm_estimates, mixedlm_intervals, posterior_vs_mixedlm
from mixedrain.simulate import SimulationParameters, simulate_rainfall_datasets


def test_mixedlm_reports_standard_deviations_not_variances():
    # 400 states: REML estimates are close to the truth, so a variance reported as an sd would show.
    params = SimulationParameters(states=tuple(f"S{i}" for i in range(400)))
    data = simulate_rainfall_datasets(params, rng=5)
    estimates = mixedlm_estimates(fit_mixedlm(prepare_data(data)))["estimate"]
    assert estimates["mu_alpha"] == pytest.approx(20.1, abs=0.8)
    assert estimates["mu_beta"] == pytest.approx(5.0, abs=0.4)
    assert estimates["sigma_alpha"] == pytest.approx(5.0, rel=0.15)
    assert estimates["sigma_beta"] == pytest.approx(2.0, rel=0.15)
    assert estimates["sigma_y"] == pytest.approx(5.0, rel=0.05)


@pytest.mark.stan
def test_posterior_means_and_reml_agree(centered_fit, prepared):
    table = posterior_vs_mixedlm(centered_fit, fit_mixedlm(prepared), point="mean")
    # 51 states and weak priors: the likelihood dominates, so the two differ by a fraction of a posterior sd.
    gap = (table["posterior_mean"] - table["reml_estimate"]).abs() / table["posterior_sd"]
    assert gap.max() < 0.5, table
    fixed = table.loc[["mu_alpha", "mu_beta"]]
    assert (fixed["reml_std_error"] / fixed["posterior_sd"]).between(0.8, 1.25).all(), table


def test_correlated_reml_reproduces_lme4_on_sleepstudy(sleepstudy_prepared):
    result = fit_mixedlm(sleepstudy_prepared, correlated=True)
    ours = mixedlm_estimates(result)
    assert list(ours.index) == list(get_model("correlated").hyperparameters)
    # Same likelihood: lme4 prints its REML criterion (-2 x REML log-likelihood) as 1743.6.
    assert -2 * result.llf == pytest.approx(1743.6, abs=0.05)
    # Like with like: ours rounded to the digits lme4 prints (summary(fm1), three decimals), then compared
    # with the printed value. Tolerance: one unit in that last digit, because two optimisers of the same
    # flat REML criterion stop a little apart (sigma_alpha: statsmodels 24.7404, lme4 24.7407, printed
    # 24.741); a different model or likelihood would miss by far more (the uncorrelated fit's sigma_alpha
    # is ~25.05, hundreds of units away).
    gaps = printed_digit_gaps(ours["estimate"])
    assert len(gaps) == len(sleepstudy_lme4_reml()) and (gaps.abs() <= 1).all(), gaps
    assert (printed_digit_gaps(ours["std_error"], "std_error").abs() <= 1).all()
    assert len(printed_digit_gaps(ours["std_error"], "std_error")) == 2  # the fixed effects' errors are compared


def test_uncorrelated_reml_has_no_correlation(sleepstudy_prepared):
    ours = mixedlm_estimates(fit_mixedlm(sleepstudy_prepared))
    assert list(ours.index) == list(get_model("centered").hyperparameters)
    # Without the correlation the likelihood is lower: the two fits are different models.
    correlated = fit_mixedlm(sleepstudy_prepared, correlated=True)
    assert fit_mixedlm(sleepstudy_prepared).llf < correlated.llf


def test_posterior_medians_or_means_sit_beside_reml(sleepstudy_prepared):
    result = fit_mixedlm(sleepstudy_prepared, correlated=True)
    reml = mixedlm_estimates(result)["estimate"]
    rng = np.random.default_rng(1)
    # Skewed draws: the median, not the mean, must be reported.
    posterior = {name: value + rng.exponential(1.0, size=(2, 4000)) for name, value in reml.items()}
    table = posterior_vs_mixedlm(az.from_dict(posterior=posterior), result)
    assert list(table.columns) == ["posterior_median", "posterior_sd", "reml_estimate", "reml_std_error"]
    np.testing.assert_allclose(table["posterior_median"] - table["reml_estimate"], np.log(2), atol=0.05)
    np.testing.assert_allclose(table["posterior_sd"], 1.0, atol=0.05)
    without_rho = az.from_dict(posterior={name: posterior[name] for name in reml.index if name != "rho"})
    with pytest.raises(ValueError, match="rho"):
        posterior_vs_mixedlm(without_rho, result)
    # The mean, asked for, is the mean: exponential draws put it 1 above the REML estimate, not log 2.
    means = posterior_vs_mixedlm(az.from_dict(posterior=posterior), result, point="mean")
    np.testing.assert_allclose(means["posterior_mean"] - means["reml_estimate"], 1.0, atol=0.05)
    with pytest.raises(ValueError, match="point"):
        posterior_vs_mixedlm(az.from_dict(posterior=posterior), result, point="mode")


def test_mixedlm_intervals_wald_for_means_profile_for_spreads(prepared):
    table = mixedlm_intervals(fit_mixedlm(prepared), level=0.9)
    z = 1.6448536269514722
    means = table.loc[["mu_alpha", "mu_beta"]]
    np.testing.assert_allclose(means["upper"] - means["estimate"], z * means["std_error"])
    np.testing.assert_allclose(means["estimate"] - means["lower"], z * means["std_error"])
    spreads = table.loc[["sigma_alpha", "sigma_beta"]]
    assert (spreads["lower"] < spreads["estimate"]).all() and (spreads["estimate"] < spreads["upper"]).all()
    # With 51 groups the likelihood is nearly normal, so a profile interval is about as wide as
    # estimate +- z standard errors (measured: within 10%). A standard error on the wrong scale,
    # like statsmodels' bse_re (too small by sqrt(scale), a factor of 5 here), fails by far.
    ratio = (spreads["upper"] - spreads["lower"]) / (2 * z * spreads["std_error"])
    assert ratio.between(0.8, 1.25).all(), ratio
    assert table.loc["sigma_y", "interval"] == "none" and np.isnan(table.loc["sigma_y", "upper"])
    with pytest.raises(ValueError, match="level"):
        mixedlm_intervals(fit_mixedlm(prepared), level=90)


def test_mixedlm_intervals_widen_with_the_level(prepared):
    result = fit_mixedlm(prepared)
    narrow, wide = mixedlm_intervals(result, level=0.5), mixedlm_intervals(result, level=0.95)
    spreads = ["sigma_alpha", "sigma_beta"]
    assert (wide.loc[spreads, "lower"] < narrow.loc[spreads, "lower"]).all()
    assert (wide.loc[spreads, "upper"] > narrow.loc[spreads, "upper"]).all()
