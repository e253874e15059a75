import math
import random
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from mixedrain.simulate import (
    LATENT_COLUMNS,
    STATES,
    VARIANTS,
    SimulationParameters,
    observed,
    simulate_rainfall,
    simulate_rainfall_datasets,
    true_hyperparameters,
    true_state_effects,
)


def truncate(value, digits):
    # The seed prints truncated, not rounded, digits (4.548885 appears as 4.548).
    return math.floor(value * 10**digits) / 10**digits


def test_worked_example_alabama_2010(simulated):
    al_2010 = simulated.iloc[0]
    assert (al_2010["state"], al_2010["year"], al_2010["year_index"]) == ("AL", 2010, 1)
    assert round(al_2010["true_intercept"], 2) == 25.27
    assert round(al_2010["true_slope"], 2) == 4.55 and truncate(al_2010["true_slope"], 3) == 4.548
    assert round(al_2010["true_error"], 3) == 11.085
    assert truncate(al_2010["rainfall"], 2) == 40.90
    decomposition = al_2010["true_intercept"] + al_2010["true_slope"] * 1 + al_2010["true_error"]
    assert al_2010["rainfall"] == pytest.approx(decomposition, abs=1e-12)


def seed_blog_code(slope_mu, slope_sigma, use_year_index):
    """The seed's code block, as published, with the slope's mean/sd and predictor swappable."""
    random.seed(1234)
    data = defaultdict(list)
    for state in STATES:
        intercept = random.gauss(20, 5)
        slope = random.gauss(slope_mu, slope_sigma)
        for j, year in enumerate(range(2010, 2020), 1):
            error = random.gauss(0.1, 5)
            data["state"].append(state)
            data["year"].append(year)
            data["rainfall"].append(intercept + slope * (j if use_year_index else year) + error)
    return pd.DataFrame(data)


@pytest.mark.parametrize("variant, slope, use_index", [("text", (5, 2), True), ("code", (0.05, 0.2), False)])
def test_matches_the_seed_code_draw_for_draw(variant, slope, use_index):
    expected = seed_blog_code(*slope, use_index)
    got = simulate_rainfall(variant)
    pd.testing.assert_frame_equal(got[["state", "year", "rainfall"]], expected)


def test_global_random_state_is_left_alone():
    random.seed(99)
    before = random.random()
    random.seed(99)
    simulate_rainfall()
    assert random.random() == before


def test_shape_columns_and_states(simulated):
    assert len(STATES) == 51 and "DC" in STATES
    assert len(simulated) == 51 * 10
    assert list(simulated.columns) == ["state", "year", "year_index", "rainfall", *LATENT_COLUMNS]
    assert simulated.groupby("state")["true_slope"].nunique().eq(1).all()
    assert list(observed(simulated).columns) == ["state", "year", "year_index", "rainfall"]


def test_code_variant_multiplies_the_calendar_year():
    df = simulate_rainfall("code")
    row = df.iloc[0]
    assert VARIANTS["code"].slope_mu == 0.05 and VARIANTS["code"].slope_sigma == 0.2
    assert row["rainfall"] == pytest.approx(row["true_intercept"] + row["true_slope"] * 2010 + row["true_error"])


def test_numpy_path_has_the_right_distribution():
    params = SimulationParameters()
    sims = simulate_rainfall_datasets(params, rng=7, n_datasets=200)
    assert len(sims) == 200 * 510
    per_state = sims.groupby(["dataset", "state"]).first()
    n = len(per_state)  # 10,200 independent intercepts and slopes
    # Means within 4 standard errors; sds within 4 standard errors of a normal sd (sigma / sqrt(2n)).
    assert per_state["true_intercept"].mean() == pytest.approx(20, abs=4 * 5 / np.sqrt(n))
    assert per_state["true_slope"].mean() == pytest.approx(5, abs=4 * 2 / np.sqrt(n))
    assert per_state["true_slope"].std() == pytest.approx(2, abs=4 * 2 / np.sqrt(2 * n))
    assert sims["true_error"].std() == pytest.approx(5, abs=4 * 5 / np.sqrt(2 * len(sims)))
    row = sims.iloc[12345]
    assert row["rainfall"] == pytest.approx(row["true_intercept"] + row["true_slope"] * row["year_index"] + row["true_error"])


def test_numpy_path_is_reproducible_and_seeded():
    a = simulate_rainfall_datasets(rng=1)
    pd.testing.assert_frame_equal(a, simulate_rainfall_datasets(rng=1))
    assert not a["rainfall"].equals(simulate_rainfall_datasets(rng=2)["rainfall"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"intercept_sigma": -1}, "intercept_sigma"),
        ({"predictor": "decade"}, "predictor"),
        ({"years": (2010, 2012)}, "consecutive"),
        ({"states": ("AL", "AL")}, "distinct"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimulationParameters(**kwargs)


def test_unknown_variant_and_wrong_type():
    with pytest.raises(ValueError, match="unknown variant 'prose'"):
        simulate_rainfall("prose")
    with pytest.raises(TypeError, match="SimulationParameters"):
        simulate_rainfall(42)
    with pytest.raises(ValueError, match="n_datasets"):
        simulate_rainfall_datasets(n_datasets=0)


def test_true_hyperparameters_absorb_the_error_mean_and_follow_centring():
    assert true_hyperparameters() == pytest.approx(
        {"mu_alpha": 20.1, "mu_beta": 5.0, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 5.0}
    )
    centred = true_hyperparameters(centre=5.5)
    assert centred["mu_alpha"] == pytest.approx(20.1 + 5 * 5.5)
    assert centred["sigma_alpha"] == pytest.approx(np.sqrt(25 + (2 * 5.5) ** 2))


def test_true_state_effects_match_the_seed_worked_example():
    effects = true_state_effects(simulate_rainfall())
    assert tuple(effects.index) == STATES
    assert effects.loc["AL", "true_intercept"] == pytest.approx(25.2711, abs=1e-4)
    assert effects.loc["AL", "true_slope"] == pytest.approx(4.548885, abs=1e-6)


def test_true_state_effects_refuses_several_data_sets_and_missing_truth():
    sims = simulate_rainfall_datasets(n_datasets=2, rng=1)
    with pytest.raises(ValueError, match="several data sets"):
        true_state_effects(sims)
    assert len(true_state_effects(sims[sims["dataset"] == 1])) == len(STATES)
    with pytest.raises(ValueError, match="missing column"):
        true_state_effects(simulate_rainfall().drop(columns="true_slope"))


# --- Positive rainfall: the seed's structure on the log scale with a Gamma outcome (chapter 7) ---

from mixedrain.simulate import (  # noqa: E402
    PositiveSimulationParameters,
    simulate_positive_rainfall,
    true_positive_hyperparameters,
)


def test_positive_rainfall_is_positive_and_multiplicative():
    df = simulate_positive_rainfall()
    assert len(df) == 510 and (df["rainfall"] > 0).all()
    assert list(observed(df).columns) == ["dataset", "state", "year", "year_index", "rainfall"]
    mean = np.exp(df["true_intercept"] + df["true_slope"] * df["year_index"])
    np.testing.assert_allclose(df["rainfall"], mean * df["true_error"], rtol=1e-12)
    # Like the seed's rainfall: a typical year has tens of inches, not hundreds.
    assert 30 < df["rainfall"].median() < 70


def test_positive_rainfall_has_the_stated_distribution():
    params = PositiveSimulationParameters()
    sims = simulate_positive_rainfall(params, rng=7, n_datasets=200)
    per_state = sims.groupby(["dataset", "state"]).first()
    n = len(per_state)  # 10,200 independent intercepts and slopes
    # Normal effects: means within 4 standard errors (sigma / sqrt(n)), sds within 4 standard errors of a
    # normal sample sd (sigma / sqrt(2n)).
    assert per_state["true_intercept"].mean() == pytest.approx(np.log(40), abs=4 * 0.25 / np.sqrt(n))
    assert per_state["true_intercept"].std() == pytest.approx(0.25, abs=4 * 0.25 / np.sqrt(2 * n))
    assert per_state["true_slope"].mean() == pytest.approx(0.03, abs=4 * 0.02 / np.sqrt(n))
    assert per_state["true_slope"].std() == pytest.approx(0.02, abs=4 * 0.02 / np.sqrt(2 * n))
    # The multiplicative error is Gamma(20, rate 20): mean 1, sd 1 / sqrt(20). A Gamma(k) has excess
    # kurtosis 6 / k, so a sample sd from m values has standard error sigma * sqrt((2 + 6 / k) / (4 m)).
    error, m, k = sims["true_error"], len(sims), params.shape
    sigma = 1 / np.sqrt(k)
    assert error.mean() == pytest.approx(1.0, abs=4 * sigma / np.sqrt(m))
    assert error.std() == pytest.approx(sigma, abs=4 * sigma * np.sqrt((2 + 6 / k) / (4 * m)))
    # Each year's rainfall, averaged over the 10,200 states, matches its lognormal-times-Gamma mean
    # E[y | x] = exp(mu_a + s_a^2 / 2 + mu_b x + s_b^2 x^2 / 2), within 4 standard errors of that average.
    by_year = sims.groupby("year_index")["rainfall"]
    x = np.arange(1, 11)
    log_mean = params.intercept_mu + params.slope_mu * x
    expected = np.exp(log_mean + params.intercept_sigma**2 / 2 + params.slope_sigma**2 * x**2 / 2)
    standard_error = by_year.std().to_numpy() / np.sqrt(n)
    np.testing.assert_array_less(np.abs(by_year.mean().to_numpy() - expected), 4 * standard_error)


def test_positive_rainfall_spread_grows_with_the_level():
    # sd(y | mean) = mean / sqrt(shape): the ratio of a year's deviation to its mean has the same spread at
    # every level. Split 10,200 state-years at the median mean: the two halves' relative spreads agree
    # (within 4 standard errors of their difference) while their absolute spreads differ by their levels.
    sims = simulate_positive_rainfall(rng=3, n_datasets=20)
    mean = np.exp(sims["true_intercept"] + sims["true_slope"] * sims["year_index"])
    high = mean > mean.median()
    relative = (sims["rainfall"] - mean) / mean
    sd_low, sd_high = relative[~high].std(), relative[high].std()
    se = np.hypot(sd_low, sd_high) * np.sqrt((2 + 6 / 20) / (4 * high.sum()))
    assert abs(sd_high - sd_low) < 4 * se
    # The absolute spreads differ as the levels do: sd(y - mean) over a half is sqrt(E[mean^2] / shape).
    deviation = sims["rainfall"] - mean
    ratio = deviation[high].std() / deviation[~high].std()
    predicted = np.sqrt((mean[high] ** 2).mean() / (mean[~high] ** 2).mean())
    # Relative standard error of a sample sd: sqrt((kurtosis - 1) / (4 m)), kurtosis measured in each half.
    halves = (deviation[high], deviation[~high])
    relative_se = np.hypot(*(np.sqrt((half.kurt() + 2) / (4 * len(half))) for half in halves))
    assert predicted > 1.3 and ratio == pytest.approx(predicted, rel=4 * relative_se)


def test_numpy_simulation_takes_a_family():
    params = PositiveSimulationParameters()
    pd.testing.assert_frame_equal(
        simulate_rainfall_datasets(params, rng=5, n_datasets=2, family="gamma"),
        simulate_positive_rainfall(params, rng=5, n_datasets=2),
    )
    # The Gaussian family is the default, and its output is unchanged by the option.
    pd.testing.assert_frame_equal(simulate_rainfall_datasets(rng=5), simulate_rainfall_datasets(rng=5, family="gaussian"))
    pd.testing.assert_frame_equal(simulate_positive_rainfall(), simulate_positive_rainfall(rng=params.seed))


def test_bad_family_or_mismatched_parameters_are_named():
    with pytest.raises(ValueError, match="unknown family 'tweedie'"):
        simulate_rainfall_datasets(family="tweedie")
    with pytest.raises(TypeError, match="family='gamma' needs PositiveSimulationParameters"):
        simulate_rainfall_datasets("text", family="gamma")
    with pytest.raises(TypeError, match="pass family='gamma'"):
        simulate_rainfall_datasets(PositiveSimulationParameters())
    with pytest.raises(TypeError, match="PositiveSimulationParameters"):
        simulate_positive_rainfall(SimulationParameters())
    with pytest.raises(ValueError, match="n_datasets"):
        simulate_positive_rainfall(n_datasets=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shape": 0}, "shape must be a positive number"),
        ({"slope_sigma": -0.1}, "slope_sigma"),
        ({"intercept_mu": float("nan")}, "intercept_mu"),
        ({"years": (2010, 2012)}, "consecutive"),
    ],
)
def test_bad_positive_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PositiveSimulationParameters(**kwargs)


def test_true_positive_hyperparameters_are_the_simulation_parameters():
    params = PositiveSimulationParameters(slope_sigma=0.05, shape=8.0)
    assert true_positive_hyperparameters(params) == pytest.approx(
        {"mu_alpha": np.log(40), "mu_beta": 0.03, "sigma_alpha": 0.25, "sigma_beta": 0.05, "phi": 8.0}
    )
    with pytest.raises(TypeError, match="PositiveSimulationParameters"):
        true_positive_hyperparameters("text")
