import math
import warnings

import pytest

from mixedrain.calibrate import QUANTITIES, counting_sampling_warnings, draw_from_prior, run_calibration, simulation_parameters, study_priors
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


def test_prior_draws_follow_the_stated_priors():
    priors = study_priors()
    draws = draw_from_prior(priors, rng=4, n=40_000)
    assert list(draws.columns) == list(get_model("centered").hyperparameters)
    for prior in get_model("centered").priors:
        distribution = prior.distribution(priors)
        mean, variance, excess_kurtosis = (float(v) for v in distribution.stats(moments="mvk"))
        values = draws[prior.parameter].to_numpy()
        # Monte Carlo standard errors of a sample mean and a sample variance
        assert abs(values.mean() - mean) < 4 * math.sqrt(variance / values.size), prior.parameter
        assert abs(values.var() - variance) < 4 * variance * math.sqrt((excess_kurtosis + 2) / values.size), prior.parameter
    assert (draws[["sigma_alpha", "sigma_beta", "sigma_y"]] > 0).all().all()
    with pytest.raises(ValueError, match="missing"):
        draw_from_prior({"prior_mu_alpha_mean": 0.0}, rng=1)


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


@pytest.mark.stan
def test_a_tiny_study_end_to_end():
    study = run_calibration(2, seed=11, chains=2, draws=100, warmup=100)
    assert len(study) == 2 and (study["error"] == "").all()
    ranks = study[[f"rank_{q}" for q in QUANTITIES]]
    assert ranks.notna().all().all()
    assert ((ranks >= 0) & (ranks <= N_THINNED)).all().all()
    assert (study["divergences"] >= 0).all() and (study["min_ess_bulk"] > 0).all()
    assert study.attrs["chains"] == 2 and study.attrs["n_thinned"] == N_THINNED
    with pytest.raises(ValueError, match="cannot keep 99 draws out of 40"):
        run_calibration(1, chains=2, draws=20)
