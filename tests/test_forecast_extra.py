"""Tests for the forecast helpers added in chapter 4 (no Stan needed: fake posteriors)."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.forecast import (
    forecast_rainfall,
    forecast_scorecard,
    interval_widths,
    no_pooling_forecast,
    predictive_variance_parts,
    summarise_forecast,
)


def fake_fit(n_draws: int = 4000, seed: int = 0) -> az.InferenceData:
    """A posterior shaped like fit_model's, with known spreads, for two states."""
    rng = np.random.default_rng(seed)
    shape = (2, n_draws // 2)
    posterior = {
        "mu_alpha": np.full(shape, 20.0),
        "mu_beta": np.full(shape, 5.0),
        "sigma_alpha": np.full(shape, 5.0),
        "sigma_beta": np.full(shape, 2.0),
        "sigma_y": np.full(shape, 3.0),
        "alpha": rng.normal([25.0, 15.0], [2.0, 2.0], (*shape, 2)),
        "beta": np.broadcast_to([4.0, 6.0], (*shape, 2)).copy(),
    }
    idata = az.from_dict(posterior=posterior, coords={"state": ["AL", "AK"]}, dims={"alpha": ["state"], "beta": ["state"]})
    idata.attrs.update(first_year=2010, centre=0.0)
    return idata


def test_variance_parts_add_up_to_the_sampled_variance():
    idata = fake_fit()
    draws = forecast_rainfall(idata, ["AL", "PR"], [2025], seed=1)
    parts = predictive_variance_parts(draws, idata).set_index("state")
    assert parts.loc["AL", "noise_variance"] == pytest.approx(9.0)
    assert parts.loc["AL", "line_variance"] == pytest.approx(4.0, rel=0.1)  # alpha sd 2, slope known
    np.testing.assert_allclose(parts["total_variance"], parts["sampled_variance"], rtol=0.1)
    # A new state's line varies with the population: 5**2 + (2 * 16)**2.
    assert parts.loc["PR", "line_variance"] == pytest.approx(25 + 32**2, rel=0.1)


def test_variance_parts_rejects_other_frames():
    with pytest.raises(ValueError, match="forecast_rainfall"):
        predictive_variance_parts(pd.DataFrame({"state": ["AL"], "year": [2025]}), fake_fit(10))


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
