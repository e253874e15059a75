"""Tests of the helpers chapter 1 uses: true_state_effects and least_squares_by_state."""

import numpy as np
import pandas as pd
import pytest

from mixedrain.compare import least_squares_by_state
from mixedrain.simulate import (
    STATES,
    simulate_rainfall,
    simulate_rainfall_numpy,
    true_state_effects,
)


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
