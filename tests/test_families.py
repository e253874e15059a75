import numpy as np
import pytest
from scipy import integrate

from mixedrain.families import FAMILIES, get_family
from mixedrain.engine import machine_lock
from mixedrain.models import get_model, load_program, program_data


@pytest.mark.parametrize("name", ["gaussian", "gamma"])
def test_density_integrates_to_one_and_draws_have_its_mean(name):
    family = get_family(name)
    eta, dispersion = (3.0, 40.0) if family.link == "log" else (3.0, 2.0)
    lower = 0 if family.positive else -np.inf
    total, _ = integrate.quad(lambda y: np.exp(family.log_density(np.array(y), np.array(eta), np.array(dispersion))), lower, np.inf)
    assert total == pytest.approx(1.0, abs=1e-6)
    draws = family.draw(np.random.default_rng(0), np.full(100_000, eta), np.full(100_000, dispersion))
    # the sample mean sits within 4 standard errors of the family's mean
    assert abs(draws.mean() - family.mean(np.array(eta))) < 4 * draws.std() / np.sqrt(draws.size)
    if family.positive:
        assert draws.min() > 0


def test_student_t_density_integrates_to_one_and_draws_have_its_mean_and_sd():
    # A t with nu = 5 and scale 2 around 3: mean 3, sd 2 sqrt(5 / 3); a sample sd of 200,000 draws is within
    # a few percent of it (the t's fourth moment is finite for nu > 4, so the sample variance settles).
    family = get_family("student_t")
    eta, sigma, nu = 3.0, 2.0, 5.0
    density = lambda y: np.exp(family.log_density(np.array(y), np.array(eta), np.array(sigma), tail=np.array(nu)))
    total, _ = integrate.quad(density, -np.inf, np.inf)
    assert total == pytest.approx(1.0, abs=1e-6)
    n = 200_000
    draws = family.draw(np.random.default_rng(0), np.full(n, eta), np.full(n, sigma), tail=np.full(n, nu))
    sd = sigma * np.sqrt(nu / (nu - 2))
    assert abs(draws.mean() - eta) < 4 * sd / np.sqrt(n)
    assert draws.std() == pytest.approx(sd, rel=0.03)
    # Per draw, broadcast over rows: (draws, 1) parameters against (rows,) predictors, as the fits call it.
    shaped = family.draw(np.random.default_rng(1), np.zeros(3), np.ones((4, 1)), tail=np.full((4, 1), 3.0))
    assert shaped.shape == (4, 3)
    with pytest.raises(ValueError, match="student_t family needs its nu"):
        family.log_density(np.array(0.0), np.array(0.0), np.array(1.0))


@pytest.mark.parametrize("name, eta, trials", [("binomial", 0.8, 7), ("poisson", 1.5, None)])
def test_count_probabilities_sum_to_one_and_draws_have_their_mean(name, eta, trials):
    family = get_family(name)
    support = np.arange(0, 200 if trials is None else trials + 1)
    total = np.exp(family.log_density(support, np.array(eta), trials=trials)).sum()
    assert total == pytest.approx(1.0, abs=1e-9)
    draws = family.draw(np.random.default_rng(0), np.full(100_000, eta), trials=trials)
    assert set(np.unique(draws)) <= set(support.astype(float))
    expected = family.mean(np.array(eta)) * (1 if trials is None else trials)
    assert abs(draws.mean() - expected) < 4 * draws.std() / np.sqrt(draws.size)


def test_unknown_family_is_named():
    with pytest.raises(ValueError, match="unknown family 'tweedie'"):
        get_family("tweedie")


@pytest.mark.stan
@pytest.mark.parametrize("model", ["centered", "by_row", "correlated", "correlated_noncentered", "gamma"])
def test_numpy_log_likelihood_matches_the_stan_program(model, prepared):
    # The likelihood is stated twice, in the Stan program (for sampling) and in NumPy (for log_lik):
    # Stan's log density with the likelihood on, minus with it off, is the NumPy sum at the same point,
    # up to the constant -N/2 log(2 pi) that a Gaussian `~` statement or the sums drop.
    import stan

    spec = get_model(model)
    rng = np.random.default_rng(1)
    J = prepared.stan_data["J"]
    point = {"mu_alpha": 3.0, "mu_beta": 0.05, "sigma_alpha": 0.4, "sigma_beta": 0.03}
    if spec.family == "gamma":
        point |= {"phi": 30.0, "alpha": rng.normal(3.5, 0.2, J), "beta": rng.normal(0.05, 0.02, J)}
    else:
        point |= {"mu_alpha": 40.0, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 5.0}
        if spec.correlated:
            z = rng.normal(size=(2, J)) * (1 if spec.switches["noncentered"] else np.array([[5.0], [2.0]]))
            point |= {"L": np.array([[1.0, 0.0], [0.3, np.sqrt(1 - 0.09)]]), "z": z}
        else:
            point |= {"alpha": rng.normal(25, 5, J), "beta": rng.normal(5, 2, J)}
    with machine_lock():
        on = stan.build(load_program(spec.program), data=program_data(spec, prepared), random_seed=1)
        off = stan.build(load_program(spec.program), data=program_data(spec, prepared, prior_only=True), random_seed=1)
    unconstrained = on.unconstrain_pars({k: np.asarray(v).tolist() for k, v in point.items()})
    stan_likelihood = on.log_prob(unconstrained, adjust_transform=False) - off.log_prob(unconstrained, adjust_transform=False)
    if spec.correlated and spec.switches["noncentered"]:
        effects = np.diag([point["sigma_alpha"], point["sigma_beta"]]) @ point["L"] @ point["z"]
        alpha, beta = point["mu_alpha"] + effects[0], point["mu_beta"] + effects[1]
    elif spec.correlated:  # centered: z holds the effects themselves
        alpha, beta = point["z"]
    else:
        alpha, beta = point["alpha"], point["beta"]
    codes = np.asarray(prepared.stan_data["group"]) - 1
    eta = alpha[codes] + beta[codes] * np.asarray(prepared.stan_data["x"])
    family = spec.outcome_family
    numpy_likelihood = family.log_density(np.asarray(prepared.stan_data["y"]), eta, np.array(point[family.dispersion])).sum()
    dropped = 0.0 if spec.family == "gamma" else -0.5 * prepared.stan_data["N"] * np.log(2 * np.pi)
    assert stan_likelihood == pytest.approx(numpy_likelihood - dropped, rel=1e-9)


@pytest.mark.stan
@pytest.mark.parametrize("model, rho", [("integrated", 0.0), ("correlated_integrated", 0.6)])
def test_integrated_likelihood_is_the_exact_gaussian_marginal(model, rho, prepared):
    # With each group's intercept and slope integrated out, a group's rows are jointly normal with
    # mean mu_alpha + mu_beta x and covariance sigma_y^2 I + X Sigma X', Sigma the effects' covariance.
    # Stan's closed form from the group sums must be that density, computed here row by row with SciPy.
    import stan
    from scipy import stats

    point = {"mu_alpha": 40.0, "mu_beta": 3.0, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 4.0}
    if get_model(model).correlated:
        point["L"] = [[1.0, 0.0], [rho, np.sqrt(1 - rho**2)]]
    effects_covariance = np.array([[25.0, rho * 10.0], [rho * 10.0, 4.0]])
    with machine_lock():
        on = stan.build(load_program(model), data=program_data(model, prepared), random_seed=1)
        off = stan.build(load_program(model), data=program_data(model, prepared, prior_only=True), random_seed=1)
    unconstrained = on.unconstrain_pars(point)
    stan_likelihood = on.log_prob(unconstrained, adjust_transform=False) - off.log_prob(unconstrained, adjust_transform=False)
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    marginal = 0.0
    for j in np.unique(codes):
        rows = codes == j
        design = np.column_stack([np.ones(rows.sum()), x[rows]])
        covariance = point["sigma_y"] ** 2 * np.eye(rows.sum()) + design @ effects_covariance @ design.T
        marginal += stats.multivariate_normal(design @ [40.0, 3.0], covariance).logpdf(y[rows])
    dropped = -0.5 * y.size * np.log(2 * np.pi)
    assert stan_likelihood == pytest.approx(marginal - dropped, rel=1e-9)
