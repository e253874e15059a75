import warnings

import arviz as az
import numpy as np
import pytest

from mixedrain.compare import posterior_vs_truth
from mixedrain.fit import SamplingWarning, fit_model
from mixedrain.models import MODEL_NAMES, get_model, resolve_priors
from mixedrain.prepare import prepare_data

HYPERPARAMETERS = get_model("centered").hyperparameters
from mixedrain.fit import CentringWarning
from mixedrain.simulate import STATES, simulate_rainfall_numpy, true_hyperparameters

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
    for group in ("posterior_predictive", "log_likelihood", "observed_data"):
        assert centered_fit[group]["year"].values.tolist() == simulated["year"].tolist(), group
        assert centered_fit[group]["obs_state"].values.tolist() == simulated["state"].tolist(), group
    assert centered_fit.posterior_predictive["y_rep"].shape == (4, 1000, 510)
    np.testing.assert_array_equal(centered_fit.observed_data["y"].values, simulated["rainfall"].values)
    assert centered_fit.attrs["first_year"] == 2010 and centered_fit.attrs["centre"] == 0.0
    assert centered_fit.attrs["x_origin"] == 2009.0 and centered_fit.attrs["model"] == "centered"
    assert centered_fit.attrs["sampling_seconds"] > 0


def test_replicated_data_look_like_the_data(centered_fit, simulated):
    # y_rep is drawn around each draw's lines with sigma_y: its overall mean and sd match the data's
    # within a few times their sampling error (sd / sqrt(n) for the mean, about sd / sqrt(2n) for the sd).
    y = simulated["rainfall"].to_numpy()
    y_rep = centered_fit.posterior_predictive["y_rep"].to_numpy()
    assert abs(y_rep.mean() - y.mean()) < 4 * y.std() / np.sqrt(y.size)
    assert abs(y_rep.std() - y.std()) < 4 * y.std() / np.sqrt(2 * y.size)


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
    assert "posterior" not in prior.groups() and "log_likelihood" not in prior.groups()
    settings = resolve_priors("noncentered", prepared)
    mean, sd = settings["prior_mu_alpha_mean"], settings["prior_mu_alpha_sd"]
    mu_alpha = prior.prior["mu_alpha"]
    # The prior is N(mean, sd): its sample mean is within 4 Monte Carlo standard errors of the mean.
    assert abs(float(mu_alpha.mean()) - mean) < 4 * float(az.mcse(prior.prior[["mu_alpha"]])["mu_alpha"])
    assert float(mu_alpha.std()) == pytest.approx(sd, rel=0.1)


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


def test_sufficient_statistics_and_row_by_row_agree_within_monte_carlo_error(centered_fit, prepared):
    # One likelihood written two ways: the posterior means may differ only by Monte Carlo error.
    by_row = fit_model(prepared, "by_row")
    mcse_sums = az.mcse(centered_fit, var_names=list(HYPERPARAMETERS))
    mcse_rows = az.mcse(by_row, var_names=list(HYPERPARAMETERS))
    for name in HYPERPARAMETERS:
        difference = float(centered_fit.posterior[name].mean() - by_row.posterior[name].mean())
        assert abs(difference) < 4 * np.hypot(float(mcse_sums[name]), float(mcse_rows[name])), name
    # The pointwise log-likelihood comes from the draws, so at equal draws it is the same number.
    assert abs(float(az.loo(centered_fit).elpd_loo - az.loo(by_row).elpd_loo)) < 1.0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_supports_psis_loo(name, prepared):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: convergence is not the point here
        idata = fit_model(prepared, name, chains=2, draws=200, warmup=300)
    assert idata.log_likelihood["y"].shape == (2, 200, 510)
    loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo) and loo.n_data_points == 510


def test_correlated_model_recovers_a_known_correlation():
    # Centring the seed's year index at 5.5 makes each state's intercept alpha + 5.5 * beta: with
    # sigma_alpha = 5 and sigma_beta = 2 it correlates with the slope at 11 / sqrt(146) = 0.91.
    # 102 simulated states pin rho down to a posterior sd of a few hundredths.
    simulated = simulate_rainfall_numpy(rng=11, n_datasets=2)
    simulated["state"] = simulated["dataset"].astype(str) + "-" + simulated["state"]
    prepared = prepare_data(simulated, centre=5.5)
    truth = true_hyperparameters(centre=5.5, correlation=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        idata = fit_model(prepared, "correlated")
    table = posterior_vs_truth(idata, truth)
    assert table.loc["rho", "sd"] < 0.05, table
    assert table["z"].abs().max() < 3, table


def test_uncorrelated_model_on_centred_data_warns(prepared, simulated):
    with pytest.warns(CentringWarning, match="centred at 5.5"):
        fit_model(prepare_data(simulated, centre=5.5), "centered", chains=1, draws=50, warmup=50)
