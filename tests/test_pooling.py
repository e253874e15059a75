"""Tests of mixedrain.pooling: least-squares lines by group, the three poolings, shrinkage."""

import numpy as np
import pandas as pd
import pytest

from mixedrain.pooling import least_squares_by_group, pooling_estimates, shrinkage_fraction
from mixedrain.simulate import simulate_rainfall


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


def test_least_squares_recovers_an_exact_line():
    years = np.arange(2010, 2020)
    df = pd.DataFrame(
        {
            "state": ["A"] * 10 + ["B"] * 10,
            "year": np.tile(years, 2),
            "rainfall": np.concatenate([3.0 + 0.5 * years, -1.0 - 2.0 * years]),
        }
    )
    lines = least_squares_by_group(df, "year")
    assert lines.loc["A"].tolist() == pytest.approx([3.0, 0.5])
    assert lines.loc["B"].tolist() == pytest.approx([-1.0, -2.0])


def test_least_squares_intercept_moves_with_the_predictor_origin():
    df = simulate_rainfall()
    by_index = least_squares_by_group(df, "year_index")
    by_year = least_squares_by_group(df, "year")
    np.testing.assert_allclose(by_year["slope"], by_index["slope"])
    # year = year_index + 2009, so the calendar-year intercept is 2009 slopes lower.
    np.testing.assert_allclose(by_year["intercept"], by_index["intercept"] - 2009 * by_index["slope"])


def test_least_squares_needs_two_distinct_predictor_values_and_the_columns():
    df = pd.DataFrame({"state": ["A", "A"], "year": [2010, 2010], "rainfall": [1.0, 2.0]})
    with pytest.raises(ValueError, match="two distinct"):
        least_squares_by_group(df, "year")
    with pytest.raises(ValueError, match="missing column"):
        least_squares_by_group(df, "year_index")


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


@pytest.mark.stan
def test_pooling_takes_the_group_column_from_the_data(sleepstudy_fit, sleepstudy_prepared):
    estimates = pooling_estimates(sleepstudy_prepared, sleepstudy_fit)
    assert estimates.columns.tolist() == ["Subject", "method", "intercept", "slope"] and len(estimates) == 3 * 18
    own = sleepstudy_prepared.frame.query("Subject == '308'")
    slope, intercept = np.polyfit(own["Days"], own["Reaction"], 1)
    row = estimates.query("Subject == '308' and method == 'no pooling'").iloc[0]
    assert (row["intercept"], row["slope"]) == pytest.approx((intercept, slope))
    partial = estimates.query("Subject == '308' and method == 'partial pooling'").iloc[0]
    assert partial["slope"] == pytest.approx(float(sleepstudy_fit.posterior["beta"].sel(Subject="308").mean()))
    # 18 subjects of 10 days each: each keeps most of its own line, but not all of it.
    shrinkage = shrinkage_fraction(estimates, sleepstudy_fit)
    assert ((shrinkage > 0) & (shrinkage < 1)).all(), shrinkage
