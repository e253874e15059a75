import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.compare import (
    bayes_vs_mixedlm,
    fit_mixedlm,
    group_predictive_check,
    least_squares_by_state,
    loo_verdict,
    mixedlm_estimates,
    mixedlm_intervals,
    pareto_k_by_observation,
    pooling_estimates,
    posterior_medians_vs_mixedlm,
    posterior_vs_truth,
    sampling_efficiency,
    shrinkage_fraction,
    state_effects_vs_truth,
)
from mixedrain.data import load_sleepstudy, printed_digit_gaps, sleepstudy_lme4_reml
from mixedrain.models import get_model
from mixedrain.prepare import prepare_data
from mixedrain.simulate import SimulationParameters, simulate_rainfall, simulate_rainfall_numpy


def test_posterior_vs_truth_on_known_draws():
    draws = np.random.default_rng(0).normal(1.0, 2.0, size=(4, 5000))
    idata = az.from_dict(posterior={"mu_beta": draws})
    row = posterior_vs_truth(idata, {"mu_beta": 3.0}).loc["mu_beta"]
    se = 2 / np.sqrt(draws.size)
    assert row["mean"] == pytest.approx(1.0, abs=4 * se)
    assert row["sd"] == pytest.approx(2.0, rel=0.02)
    assert row["z"] == pytest.approx(-1.0, abs=0.02)
    assert row["lower"] == pytest.approx(1 - 1.645 * 2, abs=0.1) and bool(row["covered"])


def test_mixedlm_reports_standard_deviations_not_variances():
    # 400 states: REML estimates are close to the truth, so a variance reported as an sd would show.
    params = SimulationParameters(states=tuple(f"S{i}" for i in range(400)))
    data = simulate_rainfall_numpy(params, rng=5)
    estimates = mixedlm_estimates(fit_mixedlm(prepare_data(data)))["estimate"]
    assert estimates["mu_alpha"] == pytest.approx(20.1, abs=0.8)
    assert estimates["mu_beta"] == pytest.approx(5.0, abs=0.4)
    assert estimates["sigma_alpha"] == pytest.approx(5.0, rel=0.15)
    assert estimates["sigma_beta"] == pytest.approx(2.0, rel=0.15)
    assert estimates["sigma_y"] == pytest.approx(5.0, rel=0.05)


@pytest.mark.stan
def test_bayes_and_reml_agree(centered_fit, prepared):
    table = bayes_vs_mixedlm(centered_fit, fit_mixedlm(prepared))
    # 51 states and weak priors: the likelihood dominates, so the two differ by a fraction of a posterior sd.
    gap = (table["posterior_mean"] - table["reml_estimate"]).abs() / table["posterior_sd"]
    assert gap.max() < 0.5, table
    fixed = table.loc[["mu_alpha", "mu_beta"]]
    assert (fixed["reml_std_error"] / fixed["posterior_sd"]).between(0.8, 1.25).all(), table


@pytest.mark.stan
def test_partial_pooling_shrinks(centered_fit, prepared, simulated):
    estimates = pooling_estimates(prepared, centered_fit)
    assert set(estimates["method"]) == {"no pooling", "partial pooling", "complete pooling"}
    al = simulated[simulated["state"] == "AL"]
    slope, intercept = np.polyfit(al["year_index"], al["rainfall"], 1)
    own = estimates[(estimates["state"] == "AL") & (estimates["method"] == "no pooling")].iloc[0]
    assert (own["intercept"], own["slope"]) == pytest.approx((intercept, slope))
    complete = estimates[estimates["method"] == "complete pooling"]
    assert complete[["intercept", "slope"]].nunique().tolist() == [1, 1]
    spread = estimates.groupby("method")["slope"].std()
    assert spread["partial pooling"] < spread["no pooling"]


@pytest.mark.stan
def test_state_effects_track_the_truth(centered_fit, simulated):
    table = state_effects_vs_truth(centered_fit, simulated)
    assert len(table) == 51
    # Between-state slope sd 2 against a per-state posterior sd near 0.5: correlation about 0.97 expected.
    assert np.corrcoef(table["true_slope"], table["beta_mean"])[0, 1] > 0.9
    assert np.corrcoef(table["true_intercept"], table["alpha_mean"])[0, 1] > 0.8


def test_state_effects_need_an_uncentred_fit():
    idata = az.from_dict(posterior={"alpha": np.zeros((1, 2, 2))})
    idata.attrs["centre"] = 5.5
    with pytest.raises(ValueError, match="uncentred"):
        state_effects_vs_truth(idata, pd.DataFrame())


def test_least_squares_recovers_an_exact_line():
    years = np.arange(2010, 2020)
    df = pd.DataFrame(
        {
            "state": ["A"] * 10 + ["B"] * 10,
            "year": np.tile(years, 2),
            "rainfall": np.concatenate([3.0 + 0.5 * years, -1.0 - 2.0 * years]),
        }
    )
    lines = least_squares_by_state(df, "year")
    assert lines.loc["A"].tolist() == pytest.approx([3.0, 0.5])
    assert lines.loc["B"].tolist() == pytest.approx([-1.0, -2.0])


def test_least_squares_intercept_moves_with_the_predictor_origin():
    df = simulate_rainfall()
    by_index = least_squares_by_state(df, "year_index")
    by_year = least_squares_by_state(df, "year")
    np.testing.assert_allclose(by_year["slope"], by_index["slope"])
    # year = year_index + 2009, so the calendar-year intercept is 2009 slopes lower.
    np.testing.assert_allclose(by_year["intercept"], by_index["intercept"] - 2009 * by_index["slope"])


def test_least_squares_needs_two_distinct_predictor_values_and_the_columns():
    df = pd.DataFrame({"state": ["A", "A"], "year": [2010, 2010], "rainfall": [1.0, 2.0]})
    with pytest.raises(ValueError, match="two distinct"):
        least_squares_by_state(df, "year")
    with pytest.raises(ValueError, match="missing column"):
        least_squares_by_state(df, "year_index")


@pytest.fixture
def shrunk_fit(fake_posterior, prepared):
    """Factory: a fake posterior whose per-state means sit ``1 - shrink`` of the way from the population
    to each state's own line, with independent normal draws for the hyperparameters."""

    def build(shrink: float, seconds: float = 4.0):
        rng = np.random.default_rng(0)
        own = least_squares_by_state(prepared.frame, "x")
        mu_alpha, mu_beta = own["intercept"].mean(), own["slope"].mean()
        alpha = mu_alpha + (1 - shrink) * (own.loc[list(prepared.groups), "intercept"].to_numpy() - mu_alpha)
        beta = mu_beta + (1 - shrink) * (own.loc[list(prepared.groups), "slope"].to_numpy() - mu_beta)
        shape = (4, 200)
        hyper = {name: rng.normal(size=shape) for name in get_model("centered").hyperparameters}
        hyper["mu_alpha"] = hyper["mu_alpha"] * 1e-9 + mu_alpha
        hyper["mu_beta"] = hyper["mu_beta"] * 1e-9 + mu_beta
        return fake_posterior(
            states=prepared.groups,
            chains=shape[0],
            draws=shape[1],
            alpha=alpha,
            beta=beta,
            attrs={"sampling_seconds": seconds, "model": "centered"},
            **hyper,
        )

    return build


def test_sampling_efficiency_columns_and_rate(shrunk_fit):
    idata = shrunk_fit(0.0, seconds=4.0)
    table = sampling_efficiency(idata)
    assert list(table.index) == list(get_model("centered").hyperparameters)
    assert list(table.columns) == ["ess_bulk", "ess_tail", "r_hat", "ess_bulk_per_second"]
    np.testing.assert_allclose(table["ess_bulk_per_second"], table["ess_bulk"] / 4.0)
    # independent normal draws: ESS near the number of draws, R-hat near 1
    assert table.loc["sigma_y", "ess_bulk"] > 400
    assert abs(table.loc["sigma_y", "r_hat"] - 1) < 0.02


@pytest.mark.parametrize("seconds", [None, 0.0, -1.0])
def test_sampling_efficiency_needs_a_positive_time(shrunk_fit, seconds):
    idata = shrunk_fit(0.0)
    if seconds is None:
        del idata.attrs["sampling_seconds"]
    else:
        idata.attrs["sampling_seconds"] = seconds
    with pytest.raises(ValueError, match="sampling_seconds"):
        sampling_efficiency(idata)


@pytest.mark.parametrize("shrink", [0.0, 0.3, 1.0])
def test_shrinkage_fraction_recovers_a_known_pull(shrunk_fit, prepared, shrink):
    idata = shrunk_fit(shrink)
    result = shrinkage_fraction(pooling_estimates(prepared, idata), idata)
    assert list(result.index) == ["intercept", "slope"]
    np.testing.assert_allclose(result.to_numpy(), shrink, atol=1e-6)


def test_shrinkage_fraction_is_a_named_series(shrunk_fit, prepared):
    idata = shrunk_fit(0.5)
    result = shrinkage_fraction(pooling_estimates(prepared, idata), idata)
    assert isinstance(result, pd.Series) and result.name == "shrinkage"


# --- The correlated REML fit, checked against lme4's published sleepstudy fit -------------------------


@pytest.fixture(scope="module")
def sleepstudy_prepared():
    return prepare_data(load_sleepstudy(), group="Subject", predictor="Days", outcome="Reaction")


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


def test_posterior_medians_sit_beside_reml(sleepstudy_prepared):
    result = fit_mixedlm(sleepstudy_prepared, correlated=True)
    reml = mixedlm_estimates(result)["estimate"]
    rng = np.random.default_rng(1)
    # Skewed draws: the median, not the mean, must be reported.
    posterior = {name: value + rng.exponential(1.0, size=(2, 4000)) for name, value in reml.items()}
    table = posterior_medians_vs_mixedlm(az.from_dict(posterior=posterior), result)
    assert list(table.columns) == ["posterior_median", "posterior_sd", "reml_estimate", "reml_std_error"]
    np.testing.assert_allclose(table["posterior_median"] - table["reml_estimate"], np.log(2), atol=0.05)
    np.testing.assert_allclose(table["posterior_sd"], 1.0, atol=0.05)
    without_rho = az.from_dict(posterior={name: posterior[name] for name in reml.index if name != "rho"})
    with pytest.raises(ValueError, match="rho"):
        posterior_medians_vs_mixedlm(without_rho, result)


# --- PSIS-LOO in plain words ------------------------------------------------------------------------


def _comparison(difference, standard_error):
    return pd.DataFrame({"elpd_diff": [0.0, difference], "dse": [0.0, standard_error]}, index=["better", "worse"])


@pytest.mark.parametrize(
    ("difference", "standard_error", "start"),
    [
        (0.9, 1.5, "no evidence to prefer either"),
        (3.9, 0.1, "no evidence to prefer either"),  # many standard errors, yet too small to matter
        (6.0, 4.0, "weak evidence for better"),
        (10.3, 3.8, "clear evidence for better"),
    ],
)
def test_loo_verdict_weighs_size_and_uncertainty(difference, standard_error, start):
    assert loo_verdict(_comparison(difference, standard_error)).startswith(start)


def test_loo_verdict_needs_two_models():
    with pytest.raises(ValueError, match="two models"):
        loo_verdict(_comparison(1.0, 1.0).iloc[:1])


def test_pareto_k_names_the_influential_observation():
    rng = np.random.default_rng(0)
    log_likelihood = rng.normal(-1, 0.1, size=(2, 500, 4))
    # Row 2's likelihood collapses in a few draws: leaving it out would move the posterior a lot.
    log_likelihood[:, :, 2] = -np.exp(rng.normal(0, 3, size=(2, 500)))
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(2, 500))},
        log_likelihood={"y": log_likelihood},
        observed_data={"y": np.array([1.0, 2.0, 3.0, 4.0])},
        coords={"obs": np.arange(4)},
        dims={"y": ["obs"]},
    )
    where = {"obs_state": ("obs", ["A", "A", "B", "B"]), "year": ("obs", [2010, 2011, 2010, 2011])}
    idata = idata.assign_coords(where, groups=["log_likelihood", "observed_data"])
    idata.attrs.update(group="state", predictor="year")
    with pytest.warns(UserWarning, match="Pareto"):
        loo = az.loo(idata, pointwise=True)
    table = pareto_k_by_observation(idata, loo)
    assert list(table.columns) == ["state", "year", "y", "pareto_k", "high"]
    assert table.index[0] == 2 and table.iloc[0][["state", "year", "y"]].tolist() == ["B", 2010, 3.0]
    assert table["high"].tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="pointwise"):
        pareto_k_by_observation(idata, loo.drop(["pareto_k", "loo_i"]))


# --- What REML says about its own uncertainty; checking the fit state by state -----------------------


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


def _replicated(observed_y, labels, draws):
    idata = az.from_dict(
        posterior_predictive={"y_rep": draws},
        observed_data={"y": np.asarray(observed_y, dtype=float)},
        dims={"y_rep": ["obs"], "y": ["obs"]},
    ).assign_coords(obs_state=("obs", labels), groups="observed_vars")
    idata.attrs["group"] = "state"
    return idata


def test_group_predictive_check_flags_only_the_group_the_replicates_miss():
    rng = np.random.default_rng(3)
    # Replicates are N(0, 1) for every row; state B's observed rows sit 6 sds up.
    idata = _replicated([0.2, -0.4, 0.1, 6.1, 5.8, 6.3], ["A"] * 3 + ["B"] * 3, rng.normal(size=(2, 2000, 6)))
    check = group_predictive_check(idata, ["mean", "max"]).set_index(["state", "statistic"])
    assert not check.loc["A", "outside"].any() and check.loc["B", "outside"].all()
    assert (check.loc["B", "p_value"] == 0).all()
    assert check.loc[("A", "mean"), "p_value"] == pytest.approx(0.5, abs=0.15)
    assert check.loc[("B", "max"), "observed"] == pytest.approx(6.3)


def test_group_predictive_check_needs_replicates_and_known_statistics():
    idata = _replicated([0.0, 1.0], ["A", "A"], np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="unknown statistic"):
        group_predictive_check(idata, ["median"])
    with pytest.raises(ValueError, match="posterior_predictive"):
        group_predictive_check(az.from_dict(observed_data={"y": np.zeros(2)}))


@pytest.mark.stan
def test_group_predictive_check_passes_the_right_model(centered_fit):
    check = group_predictive_check(centered_fit)
    assert len(check) == 3 * 51
    for statistic, rows in check.groupby("statistic"):
        # A right model puts at most about 10% of the 51 states outside a 90% interval, fewer since a
        # posterior predictive check is conservative; 10 is more than 2 binomial sds above 5.1.
        assert rows["outside"].sum() <= 10, statistic
        # Posterior predictive p-values of a right model centre near 0.5 (mean of 51: sd about 0.04).
        assert 0.35 < rows["p_value"].mean() < 0.65, statistic
