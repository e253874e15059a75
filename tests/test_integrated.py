"""Tests for mixedrain.integrated: the integrated Gaussian likelihood in NumPy, against the textbook
matrices, SciPy's multivariate normal and the Stan function it mirrors."""

import numpy as np
import pytest
from scipy import stats

from mixedrain.integrated import conditional, group_sums, log_likelihood

POINT = {"mu_alpha": 40.0, "mu_beta": 3.0, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 4.0}


def scale(rho: float) -> tuple[float, float, float]:
    """``a, b, c`` of the effects' Cholesky factor S = [[a, 0], [b, c]] at POINT."""
    return POINT["sigma_alpha"], POINT["sigma_beta"] * rho, POINT["sigma_beta"] * np.sqrt(1 - rho**2)


def rows(prepared):
    data = prepared.stan_data
    codes = np.asarray(data["group"]) - 1
    return codes, np.asarray(data["x"], dtype=float), np.asarray(data["y"], dtype=float), data["J"]


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_m_and_v_are_the_textbook_matrices(rho, prepared):
    codes, x, y, groups = rows(prepared)
    a, b, c = scale(rho)
    m = conditional(group_sums(codes, x, y, groups), POINT["mu_alpha"], POINT["mu_beta"], a, b, c, POINT["sigma_y"])
    S = np.array([[a, 0.0], [b, c]])
    for j in (0, 1, 50):
        design = np.column_stack([np.ones((codes == j).sum()), x[codes == j]])
        residual = y[codes == j] - design @ [POINT["mu_alpha"], POINT["mu_beta"]]
        M = np.eye(2) + S.T @ design.T @ design @ S / POINT["sigma_y"] ** 2
        v = S.T @ design.T @ residual / POINT["sigma_y"] ** 2
        np.testing.assert_allclose([m.m11[j], m.m12[j], m.m22[j]], [M[0, 0], M[0, 1], M[1, 1]], rtol=1e-12)
        np.testing.assert_allclose([m.v1[j], m.v2[j]], v, rtol=1e-10)


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_log_likelihood_is_the_gaussian_marginal(rho, prepared):
    # Each group's rows are normal with mean mu_alpha + mu_beta x and covariance sigma_y^2 I + X S S' X'.
    codes, x, y, groups = rows(prepared)
    a, b, c = scale(rho)
    S = np.array([[a, 0.0], [b, c]])
    marginal = 0.0
    for j in range(groups):
        design = np.column_stack([np.ones((codes == j).sum()), x[codes == j]])
        covariance = POINT["sigma_y"] ** 2 * np.eye(len(design)) + design @ S @ S.T @ design.T
        marginal += stats.multivariate_normal(design @ [POINT["mu_alpha"], POINT["mu_beta"]], covariance).logpdf(y[codes == j])
    value = log_likelihood(group_sums(codes, x, y, groups), POINT["mu_alpha"], POINT["mu_beta"], a, b, c, POINT["sigma_y"])
    assert value - 0.5 * y.size * np.log(2 * np.pi) == pytest.approx(marginal, rel=1e-10)


@pytest.mark.stan
@pytest.mark.parametrize("model, rho", [("integrated", 0.0), ("correlated_integrated", 0.6)])
def test_numpy_and_the_stan_function_agree(model, rho, prepared):
    # Stan's log density with the likelihood on, minus with it off, is what integrated_gaussian adds.
    import stan

    from mixedrain.engine import machine_lock
    from mixedrain.models import get_model, load_program, program_data

    point = dict(POINT)
    if get_model(model).correlated:
        point["L"] = [[1.0, 0.0], [rho, np.sqrt(1 - rho**2)]]
    with machine_lock(load_program(model)):
        on = stan.build(load_program(model), data=program_data(model, prepared), random_seed=1)
        off = stan.build(load_program(model), data=program_data(model, prepared, prior_only=True), random_seed=1)
    unconstrained = on.unconstrain_pars(point)
    stan_likelihood = on.log_prob(unconstrained, adjust_transform=False) - off.log_prob(unconstrained, adjust_transform=False)
    codes, x, y, groups = rows(prepared)
    a, b, c = scale(rho)
    numpy_likelihood = log_likelihood(group_sums(codes, x, y, groups), POINT["mu_alpha"], POINT["mu_beta"], a, b, c, POINT["sigma_y"])
    assert stan_likelihood == pytest.approx(numpy_likelihood, rel=1e-10)
