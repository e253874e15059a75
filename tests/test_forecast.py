import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.fit import fit_model
from mixedrain.forecast import (
    forecast_rainfall,
    interval_coverage,
    no_pooling_forecast,
    oracle_forecast,
    summarise_forecast,
)
from mixedrain.prepare import prepare_data

N_DRAWS = 4000


def synthetic_fit(alpha_al=10.0, beta_al=2.0):
    """An InferenceData with known draws: AL's line is fixed; the population is N(10, 2), N(1, 0.5)."""
    shape = (1, N_DRAWS)
    constant = lambda value: np.full(shape, value)  # noqa: E731
    posterior = {
        "alpha": np.stack([constant(alpha_al), constant(0.0)], axis=-1),
        "beta": np.stack([constant(beta_al), constant(0.0)], axis=-1),
        "mu_alpha": constant(10.0),
        "sigma_alpha": constant(2.0),
        "mu_beta": constant(1.0),
        "sigma_beta": constant(0.5),
        "sigma_y": constant(1.0),
    }
    idata = az.from_dict(posterior=posterior, coords={"state": ["AL", "AK"]}, dims={"alpha": ["state"], "beta": ["state"]})
    idata.attrs.update(first_year=2010, centre=0.0)
    return idata


def test_known_state_uses_its_own_line():
    draws = forecast_rainfall(synthetic_fit(), ["AL"], [2010, 2025])
    assert len(draws) == 2 * N_DRAWS
    expected = draws.groupby("year")["expected_rainfall"].agg(["min", "max"])
    # Year index 1 and 16: 10 + 2 * 1 and 10 + 2 * 16, with no spread in the line.
    assert expected.loc[2010].tolist() == [12.0, 12.0] and expected.loc[2025].tolist() == [42.0, 42.0]
    noise = draws["rainfall"] - draws["expected_rainfall"]
    assert noise.std() == pytest.approx(1.0, abs=4 / np.sqrt(2 * len(noise)))
    assert draws["seen"].all()


def test_new_state_draws_from_the_population():
    draws = forecast_rainfall(synthetic_fit(), ["PR"], [2025], seed=3)
    assert not draws["seen"].any()
    line = draws["expected_rainfall"]
    # alpha + 16 beta with alpha ~ N(10, 2), beta ~ N(1, 0.5): mean 26, sd sqrt(4 + 64) ~ 8.25.
    sd = np.sqrt(2.0**2 + (16 * 0.5) ** 2)
    assert line.mean() == pytest.approx(26, abs=4 * sd / np.sqrt(N_DRAWS))
    assert line.std() == pytest.approx(sd, abs=4 * sd / np.sqrt(2 * N_DRAWS))


def test_forecast_rejects_bad_years():
    with pytest.raises(ValueError, match="whole numbers"):
        forecast_rainfall(synthetic_fit(), ["AL"], [2025.5])
    with pytest.raises(ValueError, match="at least one"):
        forecast_rainfall(synthetic_fit(), [], [2025])


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
    assert oracle["predictor"] == 16
    assert oracle["seed_mean"] == pytest.approx(25.271098 + 4.548885 * 16, abs=1e-5)
    assert oracle["mean"] == pytest.approx(oracle["seed_mean"] + 0.1)
    assert oracle["sd"] == 5
    with pytest.raises(ValueError, match="'PR' is not in the simulated data"):
        oracle_forecast(simulated, "PR", 2025)


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
