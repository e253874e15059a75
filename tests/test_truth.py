"""Tests of mixedrain.truth: posterior summaries beside the simulation's truth."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.truth import posterior_vs_truth, state_effects_vs_truth


def test_posterior_vs_truth_on_known_draws():
    draws = np.random.default_rng(0).normal(1.0, 2.0, size=(4, 5000))
    idata = az.from_dict(posterior={"mu_beta": draws})
    row = posterior_vs_truth(idata, {"mu_beta": 3.0}).loc["mu_beta"]
    se = 2 / np.sqrt(draws.size)
    assert row["mean"] == pytest.approx(1.0, abs=4 * se)
    assert row["sd"] == pytest.approx(2.0, rel=0.02)
    assert row["z"] == pytest.approx(-1.0, abs=0.02)
    assert row["lower"] == pytest.approx(1 - 1.645 * 2, abs=0.1) and bool(row["covered"])


def test_posterior_vs_truth_reads_entries_of_named_variables():
    # A formula fit's variables are vectors over named entries: "sd_g[x]" is entry x of sd_g.
    rng = np.random.default_rng(1)
    sd = np.stack([rng.normal(0.3, 0.01, (2, 1000)), rng.normal(0.05, 0.01, (2, 1000))], axis=-1)
    idata = az.from_dict(posterior={"sd_g": sd}, coords={"g_effect": ["Intercept", "x"]}, dims={"sd_g": ["g_effect"]})
    table = posterior_vs_truth(idata, {"sd_g[x]": 0.05, "sd_g[Intercept]": 0.5})
    assert table.loc["sd_g[x]", "mean"] == pytest.approx(0.05, abs=0.002) and bool(table.loc["sd_g[x]", "covered"])
    assert table.loc["sd_g[Intercept]", "z"] == pytest.approx(-20, rel=0.05)
    with pytest.raises(KeyError, match="'sd_g' has no entry 'slope'"):
        posterior_vs_truth(idata, {"sd_g[slope]": 0.05})


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
