"""Chapter 2's first program, ``first_model.stan``, is the model the book fits.

The book shows the short program and fits the catalogue's ``uncorrelated.stan``. Both must give the
same log density up to a constant: the centered form at the same parameter values, and the
integrated form (the default) through the marginal of the short program's density over the effects.
"""

import numpy as np
import pytest
from scipy import stats

from mixedrain.engine import compile_code, is_compiled_text, machine_lock
from mixedrain.models import load_program, program_data, program_path

pytestmark = pytest.mark.stan

FIRST_PROGRAM = program_path("centered").with_name("first_model.stan")


def _model(program: str, data: dict):
    """PyStan's model of ``program`` built with ``data`` (compiled with the book's flags the first time)."""
    import stan

    with machine_lock(program):
        if not is_compiled_text(program):
            compile_code(program)
        return stan.build(program, data=data, random_seed=1)


def _log_density(model, values: dict) -> float:
    # Without the Jacobian: both programs declare the same constrained parameters, compared where they are.
    as_json = {name: np.asarray(value, dtype=float).tolist() for name, value in values.items()}
    return model.log_prob(model.unconstrain_pars(as_json), adjust_transform=False)


def _points(n_states: int, count: int = 4) -> list[dict]:
    """Parameter values near and far from the posterior's bulk, all inside the support."""
    rng = np.random.default_rng(2026)
    points = []
    for _ in range(count):
        hyper = {
            "mu_alpha": rng.normal(30, 5), "mu_beta": rng.normal(0.1, 0.3),
            "sigma_alpha": rng.uniform(2, 15), "sigma_beta": rng.uniform(0.05, 1.5), "sigma_y": rng.uniform(3, 8),
        }
        hyper["alpha"] = rng.normal(hyper["mu_alpha"], hyper["sigma_alpha"], n_states)
        hyper["beta"] = rng.normal(hyper["mu_beta"], hyper["sigma_beta"], n_states)
        points.append(hyper)
    return points


def _log_conditional_of_effects(values: dict, data: dict) -> float:
    """log p(alpha, beta | hyperparameters, y) with every constant: each state's pair is bivariate normal."""
    group = np.asarray(data["group"]) - 1
    x, y = np.asarray(data["x"], float), np.asarray(data["y"], float)
    prior_precision = np.diag([values["sigma_alpha"] ** -2, values["sigma_beta"] ** -2])
    prior_mean = np.array([values["mu_alpha"], values["mu_beta"]])
    total = 0.0
    for j in range(data["J"]):
        design = np.column_stack([np.ones((group == j).sum()), x[group == j]])
        precision = prior_precision + design.T @ design / values["sigma_y"] ** 2
        covariance = np.linalg.inv(precision)
        mean = covariance @ (prior_precision @ prior_mean + design.T @ y[group == j] / values["sigma_y"] ** 2)
        total += stats.multivariate_normal(mean, covariance).logpdf([values["alpha"][j], values["beta"][j]])
    return total


@pytest.fixture(scope="module")
def first_model(prepared):
    return _model(FIRST_PROGRAM.read_text(encoding="utf-8"), program_data("centered", prepared))


def test_first_program_is_short_and_states_each_equation_once():
    text = FIRST_PROGRAM.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 40
    for statement in ("alpha ~ normal(mu_alpha, sigma_alpha);", "beta ~ normal(mu_beta, sigma_beta);",
                      "y ~ normal(alpha[group] + beta[group] .* x, sigma_y);"):
        assert text.count(statement) == 1, statement


def test_first_program_and_centered_form_have_the_same_log_density(first_model, prepared):
    centered = _model(load_program("centered"), program_data("centered", prepared))
    points = _points(prepared.stan_data["J"])
    first = np.array([_log_density(first_model, p) for p in points])
    fitted = np.array([_log_density(centered, p) for p in points])
    # Equal up to one constant: differences between points agree to rounding (the densities are ~ -2000).
    np.testing.assert_allclose(np.diff(first), np.diff(fitted), atol=1e-8, rtol=1e-10)
    assert np.ptp(first) > 10  # the points differ enough for the comparison to mean something


def test_first_program_integrated_over_the_effects_is_the_default_form(first_model, prepared):
    data = program_data("integrated", prepared)
    integrated = _model(load_program("integrated"), data)
    points = _points(prepared.stan_data["J"])
    hyperparameters = ("mu_alpha", "mu_beta", "sigma_alpha", "sigma_beta", "sigma_y")
    # p(hyper, y) = p(hyper, alpha, beta, y) / p(alpha, beta | hyper, y), at any alpha and beta.
    marginal = np.array([_log_density(first_model, p) - _log_conditional_of_effects(p, data) for p in points])
    fitted = np.array([
        _log_density(integrated, {**{k: p[k] for k in hyperparameters}, "alpha": [], "beta": []}) for p in points
    ])
    np.testing.assert_allclose(np.diff(marginal), np.diff(fitted), atol=1e-6, rtol=1e-9)
    assert np.ptp(fitted) > 10
