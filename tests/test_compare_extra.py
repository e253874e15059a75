"""Tests for the functions chapter 3 added to mixedrain.compare (no Stan needed)."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.compare import least_squares_by_state, pooling_estimates, sampling_efficiency, shrinkage_fraction
from mixedrain.fit import HYPERPARAMETERS
from mixedrain.prepare import prepare_data
from mixedrain.simulate import observed, simulate_rainfall


def _fake_fit(prepared, shrink: float, seconds: float = 4.0) -> az.InferenceData:
    """A fake posterior whose per-state means sit ``1 - shrink`` of the way from the population to each state's own line."""
    rng = np.random.default_rng(0)
    own = least_squares_by_state(prepared.frame, "x")
    mu_alpha, mu_beta = own["intercept"].mean(), own["slope"].mean()
    alpha = mu_alpha + (1 - shrink) * (own.loc[list(prepared.groups), "intercept"].to_numpy() - mu_alpha)
    beta = mu_beta + (1 - shrink) * (own.loc[list(prepared.groups), "slope"].to_numpy() - mu_beta)
    shape = (4, 200)
    posterior = {name: rng.normal(size=shape) for name in HYPERPARAMETERS}
    posterior["mu_alpha"] = posterior["mu_alpha"] * 1e-9 + mu_alpha
    posterior["mu_beta"] = posterior["mu_beta"] * 1e-9 + mu_beta
    posterior["alpha"] = np.broadcast_to(alpha, (*shape, len(alpha))).copy()
    posterior["beta"] = np.broadcast_to(beta, (*shape, len(beta))).copy()
    idata = az.from_dict(
        posterior=posterior, coords={"state": list(prepared.groups)}, dims={"alpha": ["state"], "beta": ["state"]}
    )
    idata.attrs["sampling_seconds"] = seconds
    return idata


@pytest.fixture(scope="module")
def prepared():
    return prepare_data(observed(simulate_rainfall()))


def test_sampling_efficiency_columns_and_rate(prepared):
    idata = _fake_fit(prepared, 0.0, seconds=4.0)
    table = sampling_efficiency(idata)
    assert list(table.index) == list(HYPERPARAMETERS)
    assert list(table.columns) == ["ess_bulk", "ess_tail", "r_hat", "ess_bulk_per_second"]
    np.testing.assert_allclose(table["ess_bulk_per_second"], table["ess_bulk"] / 4.0)
    # independent normal draws: ESS near the number of draws, R-hat near 1
    assert table.loc["sigma_y", "ess_bulk"] > 400
    assert abs(table.loc["sigma_y", "r_hat"] - 1) < 0.02


@pytest.mark.parametrize("seconds", [None, 0.0, -1.0])
def test_sampling_efficiency_needs_a_positive_time(prepared, seconds):
    idata = _fake_fit(prepared, 0.0)
    if seconds is None:
        del idata.attrs["sampling_seconds"]
    else:
        idata.attrs["sampling_seconds"] = seconds
    with pytest.raises(ValueError, match="sampling_seconds"):
        sampling_efficiency(idata)


@pytest.mark.parametrize("shrink", [0.0, 0.3, 1.0])
def test_shrinkage_fraction_recovers_a_known_pull(prepared, shrink):
    idata = _fake_fit(prepared, shrink)
    result = shrinkage_fraction(pooling_estimates(prepared, idata), idata)
    assert list(result.index) == ["intercept", "slope"]
    np.testing.assert_allclose(result.to_numpy(), shrink, atol=1e-6)


def test_shrinkage_fraction_is_a_named_series(prepared):
    idata = _fake_fit(prepared, 0.5)
    result = shrinkage_fraction(pooling_estimates(prepared, idata), idata)
    assert isinstance(result, pd.Series) and result.name == "shrinkage"
