import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mixedrain.fit import fit_model
from mixedrain.forecast import (
    forecast_rainfall,
    forecast_scorecard,
    interval_coverage,
    interval_widths,
    no_pooling_forecast,
    oracle_forecast,
    pit_values,
    predictive_variance_parts,
    reml_plugin_forecast,
    summarise_forecast,
)
from mixedrain.prepare import prepare_data
from mixedrain.reml import fit_mixedlm

N_DRAWS = 4000


@pytest.fixture
def fixed_line_fit(fake_posterior):
    """Known draws: AL's line is fixed (alpha 10, beta 2); the population is N(10, 2), N(1, 0.5)."""
    return fake_posterior(
        states=["AL", "AK"],
        chains=1,
        draws=N_DRAWS,
        alpha=[10.0, 0.0],
        beta=[2.0, 0.0],
        mu_alpha=10.0,
        sigma_alpha=2.0,
        mu_beta=1.0,
        sigma_beta=0.5,
        sigma_y=1.0,
        attrs={"x_origin": 2009.0, "first_year": 2010, "centre": 0.0},
    )


@pytest.fixture
def uncertain_intercept_fit(fake_posterior):
    """Known spreads for two states: alpha ~ N(25, 2) and N(15, 2), slopes 4 and 6 known, sigma_y 3;
    the population is N(20, 5), N(5, 2)."""
    shape = (2, N_DRAWS // 2)
    return fake_posterior(
        states=["AL", "AK"],
        chains=shape[0],
        draws=shape[1],
        alpha=np.random.default_rng(0).normal([25.0, 15.0], [2.0, 2.0], (*shape, 2)),
        beta=[4.0, 6.0],
        mu_alpha=20.0,
        mu_beta=5.0,
        sigma_alpha=5.0,
        sigma_beta=2.0,
        sigma_y=3.0,
        attrs={"x_origin": 2009.0, "first_year": 2010, "centre": 0.0},
    )


def test_known_state_uses_its_own_line(fixed_line_fit):
    draws = forecast_rainfall(fixed_line_fit, ["AL"], [2010, 2025])
    assert len(draws) == 2 * N_DRAWS
    expected = draws.groupby("year")["expected_rainfall"].agg(["min", "max"])
    # Year index 1 and 16: 10 + 2 * 1 and 10 + 2 * 16, with no spread in the line.
    assert expected.loc[2010].tolist() == [12.0, 12.0] and expected.loc[2025].tolist() == [42.0, 42.0]
    noise = draws["rainfall"] - draws["expected_rainfall"]
    assert noise.std() == pytest.approx(1.0, abs=4 / np.sqrt(2 * len(noise)))
    assert draws["seen"].all()


def test_new_state_draws_from_the_population(fixed_line_fit):
    draws = forecast_rainfall(fixed_line_fit, ["PR"], [2025], seed=3)
    assert not draws["seen"].any()
    line = draws["expected_rainfall"]
    # alpha + 16 beta with alpha ~ N(10, 2), beta ~ N(1, 0.5): mean 26, sd sqrt(4 + 64) ~ 8.25.
    sd = np.sqrt(2.0**2 + (16 * 0.5) ** 2)
    assert line.mean() == pytest.approx(26, abs=4 * sd / np.sqrt(N_DRAWS))
    assert line.std() == pytest.approx(sd, abs=4 * sd / np.sqrt(2 * N_DRAWS))


def test_forecast_rejects_bad_years(fixed_line_fit):
    with pytest.raises(ValueError, match="whole numbers"):
        forecast_rainfall(fixed_line_fit, ["AL"], [2025.5])
    with pytest.raises(ValueError, match="at least one"):
        forecast_rainfall(fixed_line_fit, [], [2025])


def test_summary_and_coverage():
    draws = pd.DataFrame({"state": "AL", "year": 2025, "rainfall": np.linspace(0, 100, 1001)})
    summary = summarise_forecast(draws)
    row = summary.iloc[0]
    assert (row["median"], row["lower_50"], row["upper_50"]) == pytest.approx((50, 25, 75))
    assert (row["lower_90"], row["upper_90"]) == pytest.approx((5, 95))
    observed = pd.DataFrame({"state": ["AL"], "year": [2025], "rainfall": [80.0]})
    coverage = interval_coverage(summary, observed)
    assert coverage["coverage"].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        summarise_forecast(draws, levels=[90])


def test_no_pooling_intervals_are_calibrated():
    # Ordinary least-squares prediction intervals are exact for a normal linear model:
    # over 600 simulated states the coverage is within 4 binomial sds of nominal.
    rng = np.random.default_rng(11)
    n_states, years = 600, np.arange(2010, 2018)
    rows = [
        (f"S{s}", year, 20 + 2 * (year - 2010) + rng.normal(0, 3)) for s in range(n_states) for year in [*years, 2018]
    ]
    data = pd.DataFrame(rows, columns=["state", "year", "rainfall"])
    train, test = data[data["year"] < 2018], data[data["year"] == 2018]
    summary = no_pooling_forecast(train, train["state"].unique(), [2018])
    coverage = interval_coverage(summary, test).set_index("level")["coverage"]
    for level in (0.5, 0.9):
        assert coverage[level] == pytest.approx(level, abs=4 * np.sqrt(level * (1 - level) / n_states))


def test_oracle_is_the_seeds_formula(simulated):
    oracle = oracle_forecast(simulated, "AL", 2025)
    assert oracle["x"] == 16
    assert oracle["seed_mean"] == pytest.approx(25.271098 + 4.548885 * 16, abs=1e-5)
    assert oracle["mean"] == pytest.approx(oracle["seed_mean"] + 0.1)
    assert oracle["sd"] == 5
    with pytest.raises(ValueError, match="'PR' is not in the simulated data"):
        oracle_forecast(simulated, "PR", 2025)


def test_variance_parts_add_up_to_the_sampled_variance(uncertain_intercept_fit):
    idata = uncertain_intercept_fit
    draws = forecast_rainfall(idata, ["AL", "PR"], [2025], seed=1)
    parts = predictive_variance_parts(draws, idata).set_index("state")
    assert parts.loc["AL", "noise_variance"] == pytest.approx(9.0)
    assert parts.loc["AL", "line_variance"] == pytest.approx(4.0, rel=0.1)  # alpha sd 2, slope known
    np.testing.assert_allclose(parts["total_variance"], parts["sampled_variance"], rtol=0.1)
    # A new state's line varies with the population: 5**2 + (2 * 16)**2.
    assert parts.loc["PR", "line_variance"] == pytest.approx(25 + 32**2, rel=0.1)


def test_variance_parts_rejects_other_frames(uncertain_intercept_fit):
    with pytest.raises(ValueError, match="forecast_rainfall"):
        predictive_variance_parts(pd.DataFrame({"state": ["AL"], "year": [2025]}), uncertain_intercept_fit)


def test_interval_widths_long_form_and_missing_level():
    summary = summarise_forecast(pd.DataFrame({"state": "AL", "year": 2025, "rainfall": np.arange(101.0)}))
    widths = interval_widths(summary)
    assert widths["level"].tolist() == [0.5, 0.9]
    np.testing.assert_allclose(widths["width"], [50.0, 90.0])
    with pytest.raises(ValueError, match="80%"):
        interval_widths(summary, levels=[0.8])


def test_scorecard_counts_only_held_out_rows_and_reports_binomial_sd():
    observed = pd.DataFrame({"state": ["AL", "AL"], "year": [2018, 2019], "rainfall": [5.0, 50.0]})
    summary = pd.DataFrame(
        {
            "state": ["AL", "AL", "AL"],
            "year": [2018, 2019, 2020],  # 2020 was not held out: its width must not count
            "lower_50": [4.0, 4.0, 0.0],
            "upper_50": [6.0, 6.0, 100.0],
            "lower_90": [0.0, 0.0, 0.0],
            "upper_90": [10.0, 10.0, 100.0],
        }
    )
    card = forecast_scorecard({"narrow": summary}, observed).set_index("level")
    assert card.loc[0.9, "coverage"] == 0.5
    assert card.loc[0.9, "mean_width"] == 10.0
    assert card.loc[0.5, "mean_width"] == 2.0
    assert card.loc[0.9, "coverage_sd"] == pytest.approx(np.sqrt(0.9 * 0.1 / 2))
    assert (card["n"] == 2).all()


def test_scorecard_compares_methods_on_the_same_rows():
    rng = np.random.default_rng(3)
    years = np.arange(2010, 2020)
    rows = [(s, y, 10 + 2 * (y - 2010) + rng.normal(0, 1)) for s in ("AL", "AK") for y in years]
    data = pd.DataFrame(rows, columns=["state", "year", "rainfall"])
    train, test = data[data["year"] <= 2017], data[data["year"] >= 2018]
    baseline = no_pooling_forecast(train, ["AL", "AK"], [2018, 2019])
    card = forecast_scorecard({"a": baseline, "b": baseline}, test)
    assert card["method"].tolist() == ["a", "a", "b", "b"]
    assert (card["n"] == 4).all()
    pd.testing.assert_series_equal(
        card.loc[card["method"] == "a", "mean_width"].reset_index(drop=True),
        card.loc[card["method"] == "b", "mean_width"].reset_index(drop=True),
    )
    with pytest.raises(ValueError, match="at least one"):
        forecast_scorecard({}, test)


@pytest.mark.stan
def test_alabama_2025_against_the_oracle(centered_fit, simulated):
    oracle = oracle_forecast(simulated, "AL", 2025)
    draws = forecast_rainfall(centered_fit, ["AL", "PR"], [2025])
    al, pr = draws[draws["state"] == "AL"], draws[draws["state"] == "PR"]
    # The line's posterior sd is the uncertainty about where AL's 2025 mean lies.
    line_sd = al["expected_rainfall"].std()
    assert abs(al["expected_rainfall"].mean() - oracle["mean"]) < 3 * line_sd
    # Not knowing the line makes the predictive wider than the oracle's N(., 5); a new state wider still.
    assert al["rainfall"].std() > oracle["sd"]
    assert pr["rainfall"].std() > 2 * al["rainfall"].std()


@pytest.mark.stan
def test_holdout_coverage_is_near_nominal(simulated):
    train, test = simulated[simulated["year"] <= 2017], simulated[simulated["year"] > 2017]
    prepared = prepare_data(train)
    fit = fit_model(prepared)
    summary = summarise_forecast(forecast_rainfall(fit, prepared.groups, [2018, 2019]))
    coverage = interval_coverage(summary, test).set_index("level")["coverage"]
    n = len(test)
    assert n == 102
    # Binomial sd of a coverage from 102 values; 4 sds leave room for the within-state correlation.
    for level in (0.5, 0.9):
        assert coverage[level] == pytest.approx(level, abs=4 * np.sqrt(level * (1 - level) / n))


# --- The lme4 user's plug-in forecast; the PIT --------------------------------------------------------


def test_reml_plugin_forecast_is_the_blup_line_plus_the_residual_sd(prepared):
    result = fit_mixedlm(prepared)
    plugin = reml_plugin_forecast(result, prepared, ["AL", "WY"], [2010, 2019, 2025]).set_index(["state", "year"])
    # In the data's own years the BLUP line is statsmodels' fitted value: fixed plus predicted random effects.
    fitted = pd.Series(result.fittedvalues.to_numpy(), index=pd.MultiIndex.from_frame(prepared.frame[["state", "year"]]))
    for key in [("AL", 2010), ("AL", 2019), ("WY", 2010), ("WY", 2019)]:
        assert plugin.loc[key, "mean"] == pytest.approx(fitted[key])
    # 2025 lies on the same straight line: six more steps of the 2010-2019 slope.
    for state in ("AL", "WY"):
        step = (plugin.loc[(state, 2019), "mean"] - plugin.loc[(state, 2010), "mean"]) / 9
        assert plugin.loc[(state, 2025), "mean"] == pytest.approx(plugin.loc[(state, 2019), "mean"] + 6 * step)
    np.testing.assert_allclose(plugin["sd"], np.sqrt(result.scale))
    np.testing.assert_allclose(plugin["upper_90"] - plugin["mean"], stats.norm.ppf(0.95) * plugin["sd"])
    np.testing.assert_allclose(plugin["median"], plugin["mean"])


def test_reml_plugin_forecast_needs_states_of_the_fit(prepared):
    with pytest.raises(ValueError, match="PR"):
        reml_plugin_forecast(fit_mixedlm(prepared), prepared, ["AL", "PR"], [2025])


@pytest.mark.stan
def test_reml_plugin_forecast_is_narrower_than_the_posterior_predictive(centered_fit, prepared):
    # The plug-in leaves out the uncertainty of each state's line, which grows with the horizon.
    states = list(prepared.groups)
    plugin = reml_plugin_forecast(fit_mixedlm(prepared), prepared, states, [2025])
    posterior = summarise_forecast(forecast_rainfall(centered_fit, states, [2025], seed=3))
    both = plugin.merge(posterior, on=["state", "year"], suffixes=("_plugin", "_posterior"))
    assert (both["sd_plugin"] < both["sd_posterior"]).all()
    # Same model, same data: the centres differ by a fraction of a predictive sd.
    assert ((both["mean_plugin"] - both["mean_posterior"]).abs() < 0.5 * both["sd_posterior"]).all()


def _pit_case(draw_sd, n=300, n_draws=400, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(50, 10, n)
    keys = pd.DataFrame({"state": [f"S{i}" for i in range(n)], "year": 2018})
    observed = keys.assign(rainfall=centres + rng.normal(size=n))
    draws = keys.loc[np.repeat(np.arange(n), n_draws)].reset_index(drop=True)
    draws["rainfall"] = np.repeat(centres, n_draws) + draw_sd * rng.normal(size=n * n_draws)
    return pit_values(draws, observed)


def test_pit_of_a_calibrated_forecast_is_uniform():
    pit = _pit_case(draw_sd=1.0)["pit"]
    assert len(pit) == 300
    # 300 PITs from draws of the right distribution: a KS test rejects uniformity rarely (1 in 1000 here).
    assert stats.kstest(pit, "uniform").pvalue > 0.001


def test_pit_of_an_overconfident_forecast_piles_up_in_the_tails():
    pit = _pit_case(draw_sd=0.5)["pit"]
    # Draws half as wide as the truth put P(|Z| > 1.645 * 0.5) = 0.41 of the values in the outer 10%
    # (sd of the share from 300 values: 0.03); a calibrated forecast puts 0.10 there.
    assert ((pit < 0.05) | (pit > 0.95)).mean() > 0.3


def test_pit_values_need_draws_for_the_observed_rows():
    draws = pd.DataFrame({"state": "AL", "year": 2018, "rainfall": [1.0, 2.0]})
    with pytest.raises(ValueError, match="no observed"):
        pit_values(draws, pd.DataFrame({"state": ["AK"], "year": [2018], "rainfall": [1.0]}))
    with pytest.raises(ValueError, match="lack column"):
        pit_values(draws.drop(columns="rainfall"), pd.DataFrame({"state": ["AL"], "year": [2018], "rainfall": [1.0]}))


# --- Forecasts from the Gamma GLMM (chapter 7): log link, Gamma draws, always positive ---

from scipy import stats  # noqa: E402


def gamma_posterior(fake_posterior, draws):
    """Known draws: AL's log-scale line is fixed (alpha log 50, beta 0.02), shape 20; population as simulated."""
    return fake_posterior(
        states=["AL", "AK"],
        chains=1,
        draws=draws,
        alpha=[np.log(50.0), np.log(30.0)],
        beta=[0.02, 0.0],
        mu_alpha=np.log(40.0),
        sigma_alpha=0.25,
        mu_beta=0.03,
        sigma_beta=0.02,
        phi=20.0,
        attrs={"x_origin": 2009.0, "first_year": 2010, "centre": 0.0, "family": "gamma"},
    )


def test_gamma_forecast_is_positive_and_right_skewed(fake_posterior):
    n = 40_000
    draws = forecast_rainfall(gamma_posterior(fake_posterior, n), ["AL", "PR"], [2025], seed=3)
    assert (draws["rainfall"] > 0).all() and (draws["expected_rainfall"] > 0).all()
    al = draws[draws["state"] == "AL"]
    mean = 50.0 * np.exp(0.02 * 16)  # the log link: exp(alpha + beta * x) at year index 16
    np.testing.assert_allclose(al["expected_rainfall"], mean, rtol=1e-12)
    # Gamma(20, rate 20 / mean): sd mean / sqrt(20); the sample mean within 4 standard errors of the mean.
    assert abs(al["rainfall"].mean() - mean) < 4 * mean / np.sqrt(20) / np.sqrt(n)
    # Right skew: more than half the draws fall below the mean, exactly P(Gamma(20, 20) < 1) of them,
    # within 4 binomial standard errors.
    below = stats.gamma.cdf(1.0, a=20, scale=1 / 20)
    assert below > 0.52
    assert abs((al["rainfall"] < mean).mean() - below) < 4 * np.sqrt(below * (1 - below) / n)


def test_forecast_rejects_an_unknown_family(fake_posterior):
    idata = gamma_posterior(fake_posterior, 10)
    idata.attrs["family"] = "tweedie"
    with pytest.raises(ValueError, match="unknown family 'tweedie'"):
        forecast_rainfall(idata, ["AL"], [2025])


@pytest.mark.stan
def test_gamma_fit_forecasts_only_positive_rainfall():
    import warnings

    from mixedrain.fit import SamplingWarning
    from mixedrain.simulate import observed, simulate_positive_rainfall

    prepared = prepare_data(observed(simulate_positive_rainfall()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # short chains: positivity does not need convergence
        fit = fit_model(prepared, "gamma", chains=2, draws=200, warmup=300)
    draws = forecast_rainfall(fit, ["AL", "PR"], range(2020, 2030), seed=1)
    assert len(draws) == 2 * 10 * 400
    assert np.isfinite(draws["rainfall"]).all() and (draws["rainfall"] > 0).all()
    assert (draws["expected_rainfall"] > 0).all()


# --- Data that are not the book's rainfall: lme4's sleepstudy, with its own column names ------------


@pytest.mark.stan
def test_forecast_names_its_columns_after_the_fits_data(sleepstudy_fit, sleepstudy_prepared):
    draws = forecast_rainfall(sleepstudy_fit, ["308", "new"], [0, 12], outcome="Reaction")
    assert list(draws.columns) == ["Subject", "Days", "draw", "seen", "expected_Reaction", "Reaction"]
    assert draws.attrs == {"group": "Subject", "predictor": "Days", "outcome": "Reaction"}
    posterior = sleepstudy_fit.posterior
    seen = draws[(draws["Subject"] == "308") & (draws["Days"] == 12)]
    line = posterior["alpha"].sel(Subject="308") + 12 * posterior["beta"].sel(Subject="308")
    # The same posterior draws, in the same order: no new randomness in a seen subject's line.
    np.testing.assert_allclose(seen["expected_Reaction"].to_numpy(), line.transpose("chain", "draw").to_numpy().ravel())
    # A new subject's day-0 line is a draw from the population: its mean is mu_alpha's, to 4 Monte Carlo errors.
    new = draws[(draws["Subject"] == "new") & (draws["Days"] == 0)]["expected_Reaction"]
    assert new.mean() == pytest.approx(float(posterior["mu_alpha"].mean()), abs=4 * new.std() / np.sqrt(len(new)))

    summary = summarise_forecast(draws)
    assert summary.columns[:3].tolist() == ["Subject", "Days", "mean"] and len(summary) == 4
    parts = predictive_variance_parts(draws, sleepstudy_fit)
    assert parts.columns[:2].tolist() == ["Subject", "Days"]
    # 600 draws estimate a variance to about 6% (sqrt(2 / 600)); 20% is more than 3 of those.
    np.testing.assert_allclose(parts["total_variance"], parts["sampled_variance"], rtol=0.2)
    day_12 = pd.DataFrame({"Subject": ["308"], "Days": [12], "Reaction": [float(summary["median"].iloc[1])]})
    assert interval_coverage(summary, day_12)["coverage"].tolist() == [1.0, 1.0]  # the median is in every interval
    assert pit_values(draws, day_12)["pit"].iloc[0] == pytest.approx(0.5, abs=0.01)


def test_no_pooling_and_plugin_forecasts_take_the_datas_names(sleepstudy_prepared):
    frame = sleepstudy_prepared.frame
    own = frame[frame["Subject"] == "308"]
    slope, intercept = np.polyfit(own["Days"], own["Reaction"], 1)
    baseline = no_pooling_forecast(frame, ["308"], [12], group="Subject", predictor="Days", outcome="Reaction")
    assert baseline.columns[:2].tolist() == ["Subject", "Days"]
    assert baseline["mean"].iloc[0] == pytest.approx(intercept + 12 * slope)
    plugin = reml_plugin_forecast(fit_mixedlm(sleepstudy_prepared, correlated=True), sleepstudy_prepared, ["308"], [12])
    assert plugin.columns[:2].tolist() == ["Subject", "Days"] and plugin.attrs["outcome"] == "Reaction"
    # lme4's coef(fm1) for subject 308 is (253.66, 19.67): statsmodels' BLUPs agree to a few hundredths.
    assert plugin["mean"].iloc[0] == pytest.approx(253.66 + 12 * 19.67, abs=0.5)
    with pytest.raises(ValueError, match="Subject"):
        reml_plugin_forecast(fit_mixedlm(sleepstudy_prepared), sleepstudy_prepared, ["999"], [12])
