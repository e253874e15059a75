import warnings

import arviz as az
import numpy as np
import pytest

from mixedrain.compare import posterior_vs_truth
from mixedrain.fit import HYPERPARAMETERS, SamplingWarning, fit_model
from mixedrain.simulate import STATES, true_hyperparameters

pytestmark = pytest.mark.stan


def test_centered_fit_recovers_the_simulation_truth(centered_fit):
    table = posterior_vs_truth(centered_fit, true_hyperparameters())
    # A correctly specified model's posterior puts the truth within a few posterior sds of its mean;
    # the Monte Carlo error of the mean (ESS > 1000) is under sd / 30, so it does not widen the band.
    assert table["z"].abs().max() < 3, table
    ess = az.ess(centered_fit, var_names=list(HYPERPARAMETERS))
    assert min(float(ess[n]) for n in HYPERPARAMETERS) > 1000


def test_alabama_effects_are_recovered(centered_fit, simulated):
    al = simulated[simulated["state"] == "AL"].iloc[0]
    alpha = centered_fit.posterior["alpha"].sel(state="AL")
    beta = centered_fit.posterior["beta"].sel(state="AL")
    # The model's intercept absorbs the error mean 0.1.
    assert abs(float(alpha.mean()) - (al["true_intercept"] + 0.1)) < 3 * float(alpha.std())
    assert abs(float(beta.mean()) - al["true_slope"]) < 3 * float(beta.std())


def test_inference_data_is_labelled(centered_fit, simulated):
    posterior = centered_fit.posterior
    assert posterior["alpha"].dims == ("chain", "draw", "state")
    assert posterior["state"].values.tolist() == list(STATES)
    assert posterior.sizes["chain"] == 4 and posterior.sizes["draw"] == 1000
    predictive = centered_fit.posterior_predictive
    assert predictive["year"].values.tolist() == simulated["year"].tolist()
    assert predictive["obs_state"].values.tolist() == simulated["state"].tolist()
    np.testing.assert_array_equal(centered_fit.observed_data["y"].values, simulated["rainfall"].values)
    assert centered_fit.attrs["first_year"] == 2010 and centered_fit.attrs["centre"] == 0.0
    assert centered_fit.attrs["sampling_seconds"] > 0


def test_parameterisations_agree_within_monte_carlo_error(centered_fit, noncentered_fit):
    # Same posterior, two samplers: posterior means may differ only by Monte Carlo error.
    mcse_c = az.mcse(centered_fit, var_names=list(HYPERPARAMETERS))
    mcse_n = az.mcse(noncentered_fit, var_names=list(HYPERPARAMETERS))
    for name in HYPERPARAMETERS:
        difference = float(centered_fit.posterior[name].mean() - noncentered_fit.posterior[name].mean())
        assert abs(difference) < 4 * np.hypot(float(mcse_c[name]), float(mcse_n[name])), name


def test_same_seed_same_draws(prepared):
    first = fit_model(prepared, chains=2, draws=100, warmup=200, seed=7)
    second = fit_model(prepared, chains=2, draws=100, warmup=200, seed=7)
    other = fit_model(prepared, chains=2, draws=100, warmup=200, seed=8)
    np.testing.assert_array_equal(first.posterior["mu_beta"].values, second.posterior["mu_beta"].values)
    assert not np.array_equal(first.posterior["mu_beta"].values, other.posterior["mu_beta"].values)


def test_prior_only_samples_the_prior(prepared):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)  # the non-centered prior has no funnel: clean sampling
        prior = fit_model(prepared, "noncentered", prior_only=True)
    assert {"prior", "prior_predictive", "sample_stats_prior"} <= set(prior.groups())
    assert "posterior" not in prior.groups()
    mu_alpha = prior.prior["mu_alpha"]
    # The prior is N(30, 20): its sample mean is within 4 Monte Carlo standard errors of 30.
    assert abs(float(mu_alpha.mean()) - 30) < 4 * float(az.mcse(prior.prior[["mu_alpha"]])["mu_alpha"])
    assert float(mu_alpha.std()) == pytest.approx(20, rel=0.1)


def test_problems_become_warnings(prepared):
    # The centered program on the prior alone is Neal's funnel: short chains diverge and disagree.
    with pytest.warns(SamplingWarning) as record:
        fit_model(prepared, "centered", prior_only=True, draws=300)
    messages = " ".join(str(w.message) for w in record)
    assert "diverged" in messages
    assert "R-hat above 1.01" in messages


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"model": "funnel"}, ValueError, "unknown model 'funnel'"),
        ({"priors": {"prior_nu": 1.0}}, ValueError, r"unknown prior setting\(s\) \['prior_nu'\]"),
        ({"chains": 0}, ValueError, "chains must be a positive whole number"),
        ({"draws": 2.5}, ValueError, "draws must be a positive whole number"),
    ],
)
def test_bad_arguments_fail_before_stan(prepared, kwargs, error, message):
    with pytest.raises(error, match=message):
        fit_model(prepared, **kwargs)


def test_a_dataframe_is_not_prepared_data(simulated):
    with pytest.raises(TypeError, match="prepare_data"):
        fit_model(simulated)
