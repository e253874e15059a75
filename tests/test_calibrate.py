import math
import warnings

import pytest

import numpy as np

from mixedrain.calibrate import (
    QUANTITIES,
    counting_sampling_warnings,
    draw_from_prior,
    quantities,
    run_calibration,
    simulate_from_truth,
    simulate_replication,
    simulation_parameters,
    study_priors,
)
from mixedrain.fit import SamplingWarning
from mixedrain.models import get_model
from mixedrain.ranks import N_THINNED


def test_sampling_warnings_are_counted_and_others_shown():
    with pytest.warns(UserWarning, match="something else"):
        with counting_sampling_warnings() as caught:
            warnings.warn("3 of 1000 transitions diverged", SamplingWarning)
            warnings.warn("3 of 1000 transitions diverged", SamplingWarning)  # counted twice: one per fit
            warnings.warn("something else", UserWarning)
    assert [str(message) for message in caught] == ["3 of 1000 transitions diverged"] * 2


@pytest.mark.parametrize("model", ["centered", "correlated_integrated", "gamma"])
def test_prior_draws_follow_the_stated_priors(model):
    priors = study_priors(model)
    draws = draw_from_prior(priors, rng=4, n=40_000, model=model)
    assert list(draws.columns) == list(get_model(model).hyperparameters)
    for prior in get_model(model).priors:
        distribution = prior.distribution(priors)
        mean, variance, excess_kurtosis = (float(v) for v in distribution.stats(moments="mvk"))
        values = draws[prior.parameter].to_numpy()
        # Monte Carlo standard errors of a sample mean and a sample variance
        assert abs(values.mean() - mean) < 4 * math.sqrt(variance / values.size), prior.parameter
        assert abs(values.var() - variance) < 4 * variance * math.sqrt((excess_kurtosis + 2) / values.size), prior.parameter
    assert (draws[["sigma_alpha", "sigma_beta"]] > 0).all().all()
    with pytest.raises(ValueError, match="missing"):
        draw_from_prior({"prior_mu_alpha_mean": 0.0}, rng=1, model=model)


def test_study_priors_are_the_defaults_on_the_seeds_data():
    priors = study_priors()
    assert set(priors) == set(get_model("centered").prior_settings)
    assert priors["prior_mu_beta_mean"] == 0.0 and priors["prior_sigma_y_sd"] > 0


def test_simulation_parameters_match_the_model():
    draw = {"mu_alpha": 40.0, "mu_beta": 1.5, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 8.0}
    params = simulation_parameters(draw, seed=7)
    assert (params.intercept_mu, params.intercept_sigma, params.slope_mu, params.slope_sigma) == (40.0, 5.0, 1.5, 2.0)
    assert (params.error_mu, params.error_sigma, params.predictor, params.seed) == (0.0, 8.0, "year_index", 7)
    assert len(params.states) == 51 and len(params.years) == 10


def test_studies_of_two_gaussian_forms_with_one_seed_fit_the_same_data_sets():
    # The centered program and the integrated form are compared replication by replication.
    priors = study_priors("centered")
    assert priors == study_priors("integrated")
    for index in (0, 7):
        truth_c, data_c = simulate_replication(priors, np.random.default_rng([2018, index]), "centered")
        truth_i, data_i = simulate_replication(priors, np.random.default_rng([2018, index]), "integrated")
        assert truth_c == truth_i and data_c.equals(data_i)


def test_simulated_effects_and_outcomes_follow_the_truth():
    truth = {"mu_alpha": 3.0, "mu_beta": 0.05, "sigma_alpha": 0.4, "sigma_beta": 0.1, "phi": 8.0, "sigma_y": 1.0, "rho": -0.6}
    rng = np.random.default_rng(12)
    correlated = [simulate_from_truth("correlated_integrated", truth, rng).drop_duplicates("state") for _ in range(200)]
    effects = np.concatenate([d[["true_intercept", "true_slope"]].to_numpy() for d in correlated])
    # 10,200 pairs: a sample correlation's sd is about (1 - rho^2) / sqrt(n) = 0.0063; its means' sds 0.004, 0.001
    assert abs(np.corrcoef(effects.T)[0, 1] - truth["rho"]) < 4 * 0.0063
    assert abs(effects[:, 0].mean() - 3.0) < 4 * 0.4 / np.sqrt(effects.shape[0])
    assert abs(effects[:, 1].std() - 0.1) < 4 * 0.1 / np.sqrt(2 * effects.shape[0])
    gamma = simulate_from_truth("gamma", truth, rng, n_states=20)
    assert len(gamma) == 200 and gamma["state"].nunique() == 20
    # Gamma outcome with mean exp(eta) and shape phi: y / mean has mean 1 and sd 1 / sqrt(8) = 0.354 (200 rows)
    ratio = gamma["rainfall"] / np.exp(gamma["true_intercept"] + gamma["true_slope"] * gamma["year_index"])
    assert abs(ratio.mean() - 1) < 4 * 0.354 / np.sqrt(200)
    with pytest.raises(ValueError, match="n_states"):
        simulate_from_truth("gamma", truth, rng, n_states=52)


@pytest.mark.stan
@pytest.mark.parametrize("model", ["integrated", "correlated_integrated"])
def test_a_tiny_study_end_to_end(model):
    study = run_calibration(2, model=model, seed=11, n_states=10, chains=2, draws=100, warmup=100)
    assert len(study) == 2 and (study["error"] == "").all()
    ranks = study[[f"rank_{q}" for q in quantities(model)]]
    assert ranks.notna().all().all()
    assert ((ranks >= 0) & (ranks <= N_THINNED)).all().all()
    assert (study["divergences"] >= 0).all() and (study["min_ess_bulk"] > 0).all() and (study["min_ess_tail"] > 0).all()
    assert (study["fit_seconds"] >= study["sampling_seconds"]).all()
    assert study.attrs["chains"] == 2 and study.attrs["n_thinned"] == N_THINNED and study.attrs["model"] == model
    with pytest.raises(ValueError, match="cannot keep 99 draws out of 40"):
        run_calibration(1, chains=2, draws=20)
