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
    simulate_rainfall_numpy,
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
    sims = simulate_rainfall_numpy(params, rng=7, n_datasets=200)
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
    a = simulate_rainfall_numpy(rng=1)
    pd.testing.assert_frame_equal(a, simulate_rainfall_numpy(rng=1))
    assert not a["rainfall"].equals(simulate_rainfall_numpy(rng=2)["rainfall"])


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
        simulate_rainfall_numpy(n_datasets=0)


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
    sims = simulate_rainfall_numpy(n_datasets=2, rng=1)
    with pytest.raises(ValueError, match="several data sets"):
        true_state_effects(sims)
    assert len(true_state_effects(sims[sims["dataset"] == 1])) == len(STATES)
    with pytest.raises(ValueError, match="missing column"):
        true_state_effects(simulate_rainfall().drop(columns="true_slope"))
