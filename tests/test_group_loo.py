import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

from mixedrain.group_loo import group_log_likelihood, integrated_log_likelihood, integrated_loo, leave_one_group_out
from mixedrain.models import resolve_priors
from mixedrain.prepare import prepare_data

POINTS = {
    # Two parameter points per model: correlated (with rho) and uncorrelated (rho fixed at 0).
    "correlated_integrated": [
        {"mu_alpha": 250.0, "mu_beta": 10.0, "sigma_alpha": 25.0, "sigma_beta": 6.0, "sigma_y": 25.0, "rho": 0.3},
        {"mu_alpha": 240.0, "mu_beta": 12.0, "sigma_alpha": 5.0, "sigma_beta": 9.0, "sigma_y": 40.0, "rho": -0.8},
    ],
    "integrated": [
        {"mu_alpha": 250.0, "mu_beta": 10.0, "sigma_alpha": 25.0, "sigma_beta": 6.0, "sigma_y": 25.0},
        {"mu_alpha": 260.0, "mu_beta": 8.0, "sigma_alpha": 60.0, "sigma_beta": 1.0, "sigma_y": 10.0},
    ],
}


def unequal_frame(seed=0):
    """Groups of 2 to 6 rows, shuffled, with a predictor that is not 0, 1, 2, ... in every group."""
    rng = np.random.default_rng(seed)
    rows = []
    for group, size in zip("abcd", (2, 3, 5, 6)):
        x = rng.choice(np.arange(10.0), size=size, replace=False)
        rows += [(group, xi, 250 + 10 * xi + rng.normal(0, 40)) for xi in x]
    frame = pd.DataFrame(rows, columns=["g", "x", "y"])
    return frame.sample(frac=1, random_state=1).reset_index(drop=True)


def fit_at(model, points):
    """A stand-in for a fit: one chain whose draws are the given parameter points."""
    posterior = {key: np.array([[point[key] for point in points]]) for key in points[0]}
    return az.from_dict(posterior=posterior, attrs={"model": model})


def covariance(point, x):
    rho = point.get("rho", 0.0)
    sigma = np.array(
        [
            [point["sigma_alpha"] ** 2, rho * point["sigma_alpha"] * point["sigma_beta"]],
            [rho * point["sigma_alpha"] * point["sigma_beta"], point["sigma_beta"] ** 2],
        ]
    )
    design = np.column_stack([np.ones_like(x), x])
    return design @ sigma @ design.T + point["sigma_y"] ** 2 * np.eye(x.size), design


@pytest.mark.parametrize("model", POINTS)
def test_group_log_density_is_the_multivariate_normal_of_its_rows(model):
    frame = unequal_frame()
    prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    ours = group_log_likelihood(fit_at(model, POINTS[model]), prepared).log_likelihood["y"]
    assert ours.dims == ("chain", "draw", "g") and list(ours["g"].values) == list(prepared.groups)
    for draw, point in enumerate(POINTS[model]):
        for group, rows in frame.groupby("g"):
            x, y = rows["x"].to_numpy(), rows["y"].to_numpy()
            cov, design = covariance(point, x)
            mean = design @ np.array([point["mu_alpha"], point["mu_beta"]])
            expected = stats.multivariate_normal(mean, cov).logpdf(y)
            assert float(ours.sel(g=group)[0, draw]) == pytest.approx(expected, rel=1e-10), (group, draw)


@pytest.mark.parametrize("model", POINTS)
def test_integrated_row_density_is_the_conditional_normal_given_its_group(model):
    frame = unequal_frame(seed=3)
    prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    ours = integrated_log_likelihood(fit_at(model, POINTS[model]), prepared).log_likelihood["y"]
    assert list(ours["obs_g"].values) == frame["g"].tolist()
    for draw, point in enumerate(POINTS[model]):
        for group, rows in frame.groupby("g"):
            x, y = rows["x"].to_numpy(), rows["y"].to_numpy()
            cov, design = covariance(point, x)
            mean = design @ np.array([point["mu_alpha"], point["mu_beta"]])
            for k, obs in enumerate(rows.index):
                others = np.arange(x.size) != k
                # The textbook partition of a multivariate normal, without Woodbury's identity.
                gain = np.linalg.solve(cov[np.ix_(others, others)], cov[others, k])
                conditional_mean = mean[k] + gain @ (y[others] - mean[others])
                conditional_var = cov[k, k] - gain @ cov[others, k]
                expected = stats.norm(conditional_mean, np.sqrt(conditional_var)).logpdf(y[k])
                assert float(ours[0, draw, obs]) == pytest.approx(expected, rel=1e-9), (group, obs, draw)


def test_only_gaussian_posterior_fits_are_accepted():
    prepared = prepare_data(unequal_frame(), group="g", predictor="x", outcome="y")
    point = dict(POINTS["integrated"][0], phi=5.0)
    with pytest.raises(ValueError, match="Gaussian models only, not 'gamma'"):
        group_log_likelihood(fit_at("gamma", [point]), prepared)
    prior_fit = az.from_dict(prior={key: np.ones((1, 2)) for key in point}, attrs={"model": "integrated"})
    with pytest.raises(ValueError, match="needs a posterior fit"):
        integrated_log_likelihood(prior_fit, prepared)
    with pytest.raises(ValueError, match="attrs\\['model'\\]"):
        group_log_likelihood(az.from_dict(posterior={key: np.ones((1, 2)) for key in point}), prepared)


# --- Against brute force: refit without each group ------------------------------------------------


def small_study(seed=11, groups=8, rows=5):
    """A small Gaussian data set from the uncorrelated model: 8 groups x 5 rows."""
    rng = np.random.default_rng(seed)
    x = np.arange(rows, dtype=float)
    alpha = rng.normal(20.0, 3.0, groups)
    beta = rng.normal(1.0, 0.7, groups)
    return pd.DataFrame(
        [(f"g{j}", xi, alpha[j] + beta[j] * xi + rng.normal(0, 1.5)) for j in range(groups) for xi in x],
        columns=["g", "x", "y"],
    )


def log_mean_exp_with_error(log_values: np.ndarray) -> tuple[float, float]:
    """log mean_s exp(l_s) over (chain, draw) and its Monte Carlo se (delta method, ESS of exp(l - max))."""
    scaled = np.exp(log_values - log_values.max())
    ess = float(az.ess(scaled[None] if scaled.ndim == 1 else scaled))
    estimate = float(logsumexp(log_values) - np.log(log_values.size))
    return estimate, float(scaled.std() / scaled.mean() / np.sqrt(ess))


def relative_efficiency(fit) -> float:
    """Mean ESS over draws of the hyperparameters, the r_eff az.loo uses (there over every variable)."""
    names = ["mu_alpha", "mu_beta", "sigma_alpha", "sigma_beta", "sigma_y"]
    ess = az.ess(fit, var_names=names, method="mean").to_array()
    return float(ess.mean()) / (fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"])


def psis_error(log_likelihood: np.ndarray, reff: float) -> float:
    """Monte Carlo se of one PSIS term log E(p), as the loo package computes it (delta method on the log)."""
    flat = log_likelihood.reshape(-1)
    log_weights, _ = az.psislw(-flat, reff)
    weights = np.exp(log_weights)
    p = np.exp(flat - flat.max())
    expectation = float(np.sum(weights * p))
    return float(np.sqrt(np.sum(weights**2 * (p - expectation) ** 2) / reff) / expectation)


@pytest.mark.stan
def test_leave_one_group_out_agrees_with_refits_without_each_group():
    from mixedrain.fit import fit_model

    frame = small_study()
    prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    # The refits must be the same model: the data-scaled priors of the full data, not of what is left.
    priors = resolve_priors("integrated", prepared)
    full = fit_model(prepared, "integrated", seed=5, pointwise=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a few groups' k may exceed 0.7: read below
        psis = leave_one_group_out(full, prepared)
    log_likelihood = group_log_likelihood(full, prepared).log_likelihood["y"]
    reff = relative_efficiency(full)

    compared = 0
    for group in prepared.groups:
        refit = fit_model(
            prepare_data(frame[frame["g"] != group], group="g", predictor="x", outcome="y"),
            "integrated", seed=6, priors=priors, pointwise=False,
        )
        # Exact: log p(y_j | y_-j) = log mean_s p(y_j | theta_s), theta_s from the refit without group j.
        refit_log_likelihood = group_log_likelihood(refit, prepared).log_likelihood["y"].sel(g=group)
        exact, exact_error = log_mean_exp_with_error(refit_log_likelihood.to_numpy())
        estimate = float(psis.loo_i.sel(g=group))
        k = float(psis.pareto_k.sel(g=group))
        if k >= psis.good_k:
            continue  # PSIS does not claim this term: nothing to test
        compared += 1
        error = np.hypot(exact_error, psis_error(log_likelihood.sel(g=group).to_numpy(), reff))
        # Four Monte Carlo standard errors of the difference: a wrong density (the conditional one
        # fitted by az.loo, or a covariance missing sigma_y) misses by whole units of log density.
        assert abs(estimate - exact) < 4 * error, (group, estimate, exact, error, k)
    assert compared >= 6, f"only {compared} of {len(prepared.groups)} groups had k below {psis.good_k}"


@pytest.mark.stan
def test_integrated_loo_reads_like_az_loo():
    from mixedrain.fit import fit_model

    frame = small_study(seed=2)
    prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    fit = fit_model(prepared, "integrated", seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        integrated = integrated_loo(fit, prepared)
        conditional = az.loo(fit, pointwise=True)
        by_group = leave_one_group_out(fit, prepared)
    assert integrated.loo_i.sizes["obs"] == conditional.loo_i.sizes["obs"] == len(frame)
    assert list(integrated.loo_i["obs_g"].values) == frame["g"].tolist()
    assert by_group.loo_i.sizes["g"] == 8
    # Same task (a new row of a known group), same target log p(y_i | y_-i), two routes to it: where both
    # PSIS estimates are claimed reliable, they agree within four Monte Carlo se of their difference.
    integrated_ll = integrated_log_likelihood(fit, prepared).log_likelihood["y"]
    reff = relative_efficiency(fit)
    reliable = (integrated.pareto_k < integrated.good_k) & (conditional.pareto_k < conditional.good_k)
    assert int(reliable.sum()) >= len(frame) // 2
    for obs in np.flatnonzero(reliable.values):
        error = np.hypot(
            psis_error(integrated_ll.isel(obs=obs).to_numpy(), reff),
            psis_error(fit.log_likelihood["y"].isel(obs=obs).to_numpy(), reff),
        )
        assert abs(float(integrated.loo_i[obs] - conditional.loo_i[obs])) < 4 * error, obs
    # Integrating the group's effects out leaves PSIS less to reweight: its k are smaller overall.
    assert float(integrated.pareto_k.max()) < float(conditional.pareto_k.max())
    # A new group is harder to predict than a new row of known groups: its rows' effects are unknown.
    assert by_group.elpd_loo < integrated.elpd_loo


def test_loo_results_are_labelled_by_group_and_by_row():
    # Draws scattered around a parameter point stand in for a posterior of 2 chains x 300 draws.
    rng = np.random.default_rng(4)
    point = POINTS["correlated_integrated"][0]
    posterior = {key: value * np.exp(rng.normal(0, 0.05, (2, 300))) for key, value in point.items()}
    fit = az.from_dict(posterior=posterior, attrs={"model": "correlated_integrated"})
    frame = unequal_frame(seed=5)
    prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        by_group = leave_one_group_out(fit, prepared)
        by_row = integrated_loo(fit, prepared)
    assert by_group.n_data_points == 4 and list(by_group.loo_i["g"].values) == list(prepared.groups)
    assert by_row.n_data_points == len(frame) and list(by_row.loo_i["obs_g"].values) == frame["g"].tolist()
    assert by_group.pareto_k.dims == ("g",)
