import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.compare import (
    bayes_vs_mixedlm,
    fit_mixedlm,
    mixedlm_estimates,
    pooling_estimates,
    posterior_vs_truth,
    state_effects_vs_truth,
)
from mixedrain.prepare import prepare_data
from mixedrain.simulate import SimulationParameters, simulate_rainfall_numpy


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
