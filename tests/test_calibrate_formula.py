import math

import numpy as np
import pytest
from scipy import stats

from mixedrain.calibrate_formula import (
    STUDIES,
    draw_glmm_prior,
    named_quantities,
    run_formula_calibration,
    simulate_from_prior,
    with_outcome,
)
from mixedrain.data import load_penicillin, load_sleepstudy
from mixedrain.formula import parse_formula
from mixedrain.glmm import resolve_glmm_priors
from mixedrain.glmm_fit import name_draws
from mixedrain.ranks import N_THINNED


def within(values, mean, variance, k=4.0):
    """Whether a sample mean is within k Monte Carlo standard errors of the distribution's mean."""
    return abs(np.mean(values) - mean) < k * math.sqrt(variance / len(values))


def test_prior_draws_follow_the_priors_the_program_states():
    design = parse_formula("Reaction ~ Days + (Days | Subject)", load_sleepstudy())
    priors = resolve_glmm_priors(design)
    rng = np.random.default_rng(3)
    draws = [draw_glmm_prior(design, priors, rng) for _ in range(20_000)]
    beta = np.array([d["beta"].ravel() for d in draws])
    tau = np.array([d["tau"].ravel() for d in draws])
    cpc = np.array([d["cpc"].ravel() for d in draws])
    sigma = np.array([d["sigma"].ravel() for d in draws])
    assert cpc.shape == (20_000, 1) and draws[0]["phi"].size == 0 and draws[0]["z"].size == 2 * 18
    for p in range(2):
        assert within(beta[:, p], priors["prior_fixed_mean"][p], priors["prior_fixed_sd"][p] ** 2)
    for k in range(2):  # half-normal: mean s sqrt(2 / pi), variance s^2 (1 - 2 / pi)
        scale = priors["prior_sd_scale"][k]
        assert within(tau[:, k], scale * math.sqrt(2 / math.pi), scale**2 * (1 - 2 / math.pi))
    scale = priors["prior_sigma_sd"]
    assert within(sigma[:, 0], scale * math.sqrt(2 / math.pi), scale**2 * (1 - 2 / math.pi))
    # LKJ(2) on a 2 x 2 correlation: (rho + 1) / 2 ~ Beta(2, 2), so rho has mean 0 and variance 4 * 0.05 = 0.2
    assert within(cpc[:, 0], 0.0, 0.2)
    assert within(cpc[:, 0] ** 2, 0.2, stats.beta(2, 2, loc=-1, scale=2).moment(4) - 0.2**2)


def test_the_truth_is_named_as_a_fit_names_its_draws():
    expected = {
        "glmm_binomial": ["fixed_Intercept", "fixed_period_2", "fixed_period_3", "fixed_period_4", "sd_herd", "log_lik"],
        "glmm_crossed": ["fixed_Intercept", "sd_plate", "sd_sample", "sigma_y", "log_lik"],
    }
    for name, study in STUDIES.items():
        design = study.design()
        truth, y = simulate_from_prior(design, resolve_glmm_priors(design), np.random.default_rng(1))
        assert list(truth) == expected[name]
        assert y.shape == design.y.shape and math.isfinite(truth["log_lik"]) and truth["log_lik"] < 0
    binomial = STUDIES["glmm_binomial"].design()
    _, successes = simulate_from_prior(binomial, resolve_glmm_priors(binomial), np.random.default_rng(2))
    assert np.all(successes == np.round(successes)) and np.all((0 <= successes) & (successes <= binomial.trials))


def test_named_quantities_read_a_correlated_term():
    design = parse_formula("Reaction ~ Days + (Days | Subject)", load_sleepstudy())
    raw = draw_glmm_prior(design, resolve_glmm_priors(design), np.random.default_rng(5))
    named = named_quantities(design, name_draws(design, raw, {"integrated": 0, "centered": [0]}))
    assert list(named) == ["fixed_Intercept", "fixed_Days", "sd_Subject_Intercept", "sd_Subject_Days", "corr_Subject_Intercept_Days", "sigma_y"]
    assert named["corr_Subject_Intercept_Days"][0, 0] == pytest.approx(raw["cpc"].item())  # K = 2: the correlation is the cpc
    assert named["sd_Subject_Days"][0, 0] == raw["tau"].ravel()[1]


def test_simulated_crossed_outcomes_have_the_priors_spread():
    # y - intercept = plate effect + sample effect + noise: its mean square has expectation tau_plate^2 +
    # tau_sample^2 + sigma^2, each half-normal with scale s = 2.03, so 3 s^2. The replications' mean squares
    # vary a lot (each square's sd is about 1.4 s^2), so the test uses their own standard error (300 of them);
    # leaving out one of the three sources would miss by s^2, about 7 standard errors.
    design = STUDIES["glmm_crossed"].design()
    priors = resolve_glmm_priors(design)
    rng = np.random.default_rng(7)
    squares = []
    for _ in range(300):
        truth, y = simulate_from_prior(design, priors, rng)
        squares.append(np.mean((y - truth["fixed_Intercept"]) ** 2))
    s = priors["prior_sd_scale"][0]
    assert priors["prior_sd_scale"].tolist() == [s, s] and priors["prior_sigma_sd"] == s
    assert abs(np.mean(squares) - 3 * s**2) < 4 * np.std(squares) / math.sqrt(len(squares))


def test_with_outcome_replaces_only_the_outcome():
    design = STUDIES["glmm_binomial"].design()
    y = np.zeros(len(design.y))
    again = with_outcome(design, y)
    assert np.array_equal(again.y, y) and np.array_equal(again.trials, design.trials) and np.array_equal(again.X, design.X)
    assert again.terms[0].levels == design.terms[0].levels
    logged = parse_formula("log(diameter) ~ 1 + (1 | plate)", load_penicillin())
    with pytest.raises(ValueError, match="not a column"):
        with_outcome(logged, np.ones(len(logged.y)))


@pytest.mark.stan
@pytest.mark.parametrize("study", sorted(STUDIES))
def test_a_tiny_formula_study_end_to_end(study):
    table = run_formula_calibration(1, study, seed=3, chains=2, draws=100, warmup=100)
    assert (table["error"] == "").all()
    ranks = table.filter(like="rank_")
    assert ranks.shape[1] == len([c for c in table if c.startswith("true_")])
    assert ((ranks >= 0) & (ranks <= N_THINNED)).all().all()
    assert table.attrs["model"] == study and table.attrs["formula"] == STUDIES[study].formula
    with pytest.raises(ValueError, match="unknown study"):
        run_formula_calibration(1, "glmm_nothing")
