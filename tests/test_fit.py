import warnings

import arviz as az
import numpy as np
import pytest

from mixedrain.fit import SamplingWarning, fit_model
from mixedrain.models import MODEL_NAMES, get_model, resolve_priors
from mixedrain.prepare import prepare_data
from mixedrain.truth import posterior_vs_truth

HYPERPARAMETERS = get_model("centered").hyperparameters
from mixedrain.fit import CentringWarning
from mixedrain.simulate import STATES, simulate_rainfall_datasets, true_hyperparameters

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


@pytest.fixture(scope="module")
def by_row_fit(prepared):
    return fit_model(prepared, "by_row")


@pytest.mark.parametrize("fit_name", ["centered_fit", "integrated_fit"])
def test_each_likelihood_agrees_with_row_by_row_within_monte_carlo_error(fit_name, by_row_fit, request):
    # One posterior, its likelihood written from per-group sums, or with the group effects integrated
    # out (and drawn afterwards), or row by row: means may differ only by Monte Carlo error.
    fit = request.getfixturevalue(fit_name)
    names = [*HYPERPARAMETERS, "alpha", "beta"]
    mcse_fit = az.mcse(fit, var_names=names)
    mcse_rows = az.mcse(by_row_fit, var_names=names)
    for name in names:
        difference = np.abs(fit.posterior[name].mean(("chain", "draw")) - by_row_fit.posterior[name].mean(("chain", "draw")))
        bound = 4 * np.hypot(mcse_fit[name], mcse_rows[name])
        # 102 effects at 4 Monte Carlo standard errors: one outside by chance has probability about 0.6%.
        assert bool((difference < bound).all()), name
    # The posterior sd of each effect agrees too (within 10%: an sd's Monte Carlo error is ~2% at ESS 1,000).
    for name in ("alpha", "beta"):
        ratio = fit.posterior[name].std(("chain", "draw")) / by_row_fit.posterior[name].std(("chain", "draw"))
        assert float(abs(ratio - 1).max()) < 0.1, name
    assert abs(float(az.loo(fit).elpd_loo - az.loo(by_row_fit).elpd_loo)) < 1.0


def test_correlated_integrated_agrees_with_correlated_centered_within_monte_carlo_error(prepared):
    # The same posterior, sampled with the effects or integrated out and drawn afterwards; rho included.
    names = [*get_model("correlated").hyperparameters, "alpha", "beta"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        integrated = fit_model(prepared, "correlated_integrated", seed=11)
        centered = fit_model(prepared, "correlated", seed=12)
    mcse_integrated = az.mcse(integrated, var_names=names)
    mcse_centered = az.mcse(centered, var_names=names)
    for name in names:
        difference = np.abs(integrated.posterior[name].mean(("chain", "draw")) - centered.posterior[name].mean(("chain", "draw")))
        # 108 means at 4 Monte Carlo standard errors: one outside by chance has probability about 0.7%.
        assert bool((difference < 4 * np.hypot(mcse_integrated[name], mcse_centered[name])).all()), name
    for name in ("alpha", "beta", "rho"):
        ratio = integrated.posterior[name].std(("chain", "draw")) / centered.posterior[name].std(("chain", "draw"))
        assert float(abs(ratio - 1).max()) < 0.1, name
    assert abs(float(az.loo(integrated).elpd_loo - az.loo(centered).elpd_loo)) < 1.0


@pytest.mark.parametrize("rho", [None, 0.6])  # None: the uncorrelated model, whose posterior has no rho
def test_integrated_draws_follow_the_exact_conditional(rho, prepared):
    # At fixed hyperparameters a group's (alpha, beta) given its rows is normal; its mean and covariance
    # are computed here the textbook way, with the group's full design matrix, and the NumPy draws must
    # match them within Monte Carlo error.
    from mixedrain.fit import draw_integrated_effects

    point = {"mu_alpha": 40.0, "mu_beta": 3.0, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 4.0}
    if rho is not None:
        point["rho"] = rho
    draws = 20_000
    fake = az.from_dict(posterior={name: np.full((1, draws), value) for name, value in point.items()})
    effects = draw_integrated_effects(fake, prepared, seed=3).posterior
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    covariance_between = 10.0 * (rho or 0.0)  # rho * sigma_alpha * sigma_beta
    prior_precision = np.linalg.inv([[25.0, covariance_between], [covariance_between, 4.0]])
    for j in (0, 1, 50):
        rows = codes == j
        design = np.column_stack([np.ones(rows.sum()), x[rows]])
        precision = prior_precision + design.T @ design / 16.0
        covariance = np.linalg.inv(precision)
        mean = covariance @ (prior_precision @ [40.0, 3.0] + design.T @ y[rows] / 16.0)
        sample = np.column_stack([effects["alpha"].to_numpy()[0, :, j], effects["beta"].to_numpy()[0, :, j]])
        standard_error = np.sqrt(np.diag(covariance) / draws)
        assert np.all(np.abs(sample.mean(axis=0) - mean) < 4 * standard_error)
        # A variance's relative Monte Carlo sd is sqrt(2 / draws), 1%, a correlation's at most 1 / sqrt(draws),
        # 0.7%: the bounds below are 5 and 4 of them.
        np.testing.assert_allclose(sample.var(axis=0), np.diag(covariance), rtol=0.05)
        correlation = covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1])
        assert abs(np.corrcoef(sample.T)[0, 1] - correlation) < 4 / np.sqrt(draws)


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
    simulated = simulate_rainfall_datasets(rng=11, n_datasets=2)
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


# --- The Gamma GLMM (chapter 7): recovery, prior predictive, positivity, errors before Stan ---

from mixedrain.simulate import observed, simulate_positive_rainfall, true_positive_hyperparameters  # noqa: E402


@pytest.fixture(scope="module")
def positive_prepared():
    return prepare_data(observed(simulate_positive_rainfall()))


@pytest.fixture(scope="module")
def gamma_fit(positive_prepared):
    """Chapter 7's fit: positive simulated rainfall, the catalogue's Gamma GLMM, 4 x 1000 draws."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)  # the chapter's fit must be clean
        return fit_model(positive_prepared, "gamma")


@pytest.mark.stan
def test_gamma_model_recovers_its_simulation(gamma_fit):
    table = posterior_vs_truth(gamma_fit, true_positive_hyperparameters())
    # The model is the simulation's own process, so each truth lies within a few posterior sds of the
    # posterior mean; with bulk ESS > 400 the Monte Carlo error of a mean is under sd / 20, too small
    # to widen that band.
    assert table["z"].abs().max() < 3, table
    ess = az.ess(gamma_fit, var_names=list(get_model("gamma").hyperparameters))
    assert min(float(ess[name]) for name in ess.data_vars) > 400


@pytest.mark.stan
def test_gamma_fit_replicates_positive_rainfall(gamma_fit, positive_prepared):
    assert gamma_fit.attrs["family"] == "gamma" and gamma_fit.attrs["model"] == "gamma"
    y_rep = gamma_fit.posterior_predictive["y_rep"]
    assert y_rep.shape == (4, 1000, 510) and bool((y_rep > 0).all())
    assert bool(np.isfinite(gamma_fit.log_likelihood["y"]).all())
    # The replicates' overall mean matches the data's within 4 of its sampling errors (sd / sqrt(n)).
    y = np.asarray(positive_prepared.stan_data["y"])
    assert abs(float(y_rep.mean()) - y.mean()) < 4 * y.std() / np.sqrt(y.size)


@pytest.mark.stan
def test_gamma_prior_predictive_is_positive_and_plausible(positive_prepared):
    # With no data a chain can stick at sigma_beta ~ 0 during warm-up; delta=0.95 keeps it out (as chapter 7 does).
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        prior = fit_model(positive_prepared, "gamma", prior_only=True, delta=0.95)
    rainfall = prior.prior_predictive["y_rep"].to_numpy()
    assert (rainfall > 0).all()
    # default_priors' documented rule for the Gamma model: prior rainfall of the data's order of magnitude,
    # the median within a factor 2 of the data's mean and a 99th percentile in the hundreds of inches, not
    # the thousands that wider log-scale priors give. (4 million draws: quantile error is far below these margins.)
    data_mean = float(np.mean(positive_prepared.stan_data["y"]))
    median, q99 = np.quantile(rainfall, [0.5, 0.99])
    assert data_mean / 2 < median < 2 * data_mean
    assert 100 < q99 < 1000


@pytest.mark.stan
def test_gamma_model_rejects_non_positive_rainfall_before_stan(monkeypatch):
    import stan

    def stan_must_not_be_called(*args, **kwargs):
        raise AssertionError("Stan was called")

    monkeypatch.setattr(stan, "build", stan_must_not_be_called)
    frame = observed(simulate_positive_rainfall())
    frame.loc[17, "rainfall"] = 0.0
    with pytest.raises(ValueError, match=r"column 'rainfall' has 1 value\(s\) <= 0 in row\(s\) \[17\]"):
        fit_model(prepare_data(frame), "gamma")
    frame.loc[[3, 250], "rainfall"] = -2.5
    with pytest.raises(ValueError, match=r"'gamma' has a gamma outcome.*3 value\(s\) <= 0 in row\(s\) \[3, 17, 250\]"):
        fit_model(prepare_data(frame), "gamma", prior_only=True)


# --- Real data: lme4's sleepstudy, against the published lme4 REML fit ------------------------------


@pytest.fixture(scope="module")
def sleepstudy_fit():
    """The correlated model, (Days | Subject), fitted once to sleepstudy (4 x 1000 draws)."""
    from mixedrain.data import load_sleepstudy

    prepared = prepare_data(load_sleepstudy(), group="Subject", predictor="Days", outcome="Reaction")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)  # the book's sleepstudy fit must be clean
        return fit_model(prepared, "correlated")


def test_sleepstudy_fixed_effects_match_lme4(sleepstudy_fit):
    from mixedrain.data import sleepstudy_lme4_reml

    published = sleepstudy_lme4_reml()
    # 18 subjects and wide data-scaled priors: the posterior median of a fixed effect sits near REML's
    # estimate, well within one published standard error (the posterior sd is about that size).
    for name in ("mu_alpha", "mu_beta"):
        median = float(sleepstudy_fit.posterior[name].median())
        estimate, std_error = published.loc[name, ["estimate", "std_error"]]
        assert abs(median - estimate) < std_error, (name, median, estimate)


def test_sleepstudy_residual_sd_matches_lme4(sleepstudy_fit):
    from mixedrain.data import sleepstudy_lme4_reml

    # sigma_y is informed by all 180 rows: its posterior is nearly symmetric, so its median should lie
    # within one posterior sd of REML's estimate.
    draws = sleepstudy_fit.posterior["sigma_y"]
    published = sleepstudy_lme4_reml().loc["sigma_y", "estimate"]
    assert abs(float(draws.median()) - published) < float(draws.std()), (float(draws.median()), published)


def test_sleepstudy_is_labelled_by_subject(sleepstudy_fit):
    assert sleepstudy_fit.posterior["alpha"].dims == ("chain", "draw", "Subject")
    assert sleepstudy_fit.posterior["Subject"].values[0] == "308"
    assert sleepstudy_fit.log_likelihood["y"].sizes["obs"] == 180
