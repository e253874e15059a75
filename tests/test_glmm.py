"""The general program's data, priors and NumPy maths (mixedrain.glmm), and glmm.stan's log density against SciPy."""

import numpy as np
import pytest
from glmm_designs import design, simulate, simulate_crossed, term
from scipy import special, stats

from mixedrain.glmm import (
    cholesky_from_cpc,
    conditional_group_effects,
    default_glmm_priors,
    glmm_data,
    glmm_prior_table,
    group_sums,
    lkj_cpc_shapes,
    load_glmm_program,
    resolve_glmm_priors,
    term_slices,
)
from mixedrain.models import default_priors


def rainfall_design(prepared):
    """The catalogue's ``y ~ x + (x | g)`` on the seed's data, as a formula design."""
    data = prepared.stan_data
    x, y, codes = np.asarray(data["x"], float), np.asarray(data["y"], float), np.asarray(data["group"]) - 1
    ones = np.ones(y.size)
    return design("gaussian", y, {"Intercept": ones, "x": x}, (term("g", {"Intercept": ones, "x": x}, codes),))


def test_gaussian_priors_are_the_catalogues_rule(prepared):
    # The formula path states the same rule as models.default_priors, column by column, so a formula
    # that states a catalogue model gets the catalogue's priors.
    catalogue = default_priors("correlated", prepared)
    priors = default_glmm_priors(rainfall_design(prepared))
    assert priors["prior_fixed_mean"].tolist() == [catalogue["prior_mu_alpha_mean"], catalogue["prior_mu_beta_mean"]]
    assert priors["prior_fixed_sd"].tolist() == [catalogue["prior_mu_alpha_sd"], catalogue["prior_mu_beta_sd"]]
    assert priors["prior_sd_scale"].tolist() == [catalogue["prior_sigma_alpha_sd"], catalogue["prior_sigma_beta_sd"]]
    assert priors["prior_sigma_sd"] == catalogue["prior_sigma_y_sd"]
    assert priors["prior_lkj_eta"].tolist() == [catalogue["prior_lkj_eta"]]


def test_link_scale_priors_ignore_the_outcomes_units_and_scale_with_the_columns():
    sim = simulate("binomial")
    d = sim.design
    priors = default_glmm_priors(d)
    s_x = np.std(d.X[:, 1], ddof=1)
    proportion = (d.y.sum() + 0.5) / (d.trials.sum() + 1)
    assert priors["prior_fixed_mean"][0] == pytest.approx(special.logit(proportion), rel=5e-3)
    assert priors["prior_fixed_sd"].tolist() == [2.5, pytest.approx(2.5 / s_x, rel=5e-3)]
    assert priors["prior_sd_scale"].tolist() == [1.0]
    # The same x in other units (times 10): its slope's prior shrinks tenfold, nothing else moves.
    tenfold = design("binomial", d.y, {"Intercept": d.X[:, 0], "x": 10 * d.X[:, 1]}, d.terms, trials=d.trials)
    assert default_glmm_priors(tenfold)["prior_fixed_sd"][1] == pytest.approx(priors["prior_fixed_sd"][1] / 10, rel=5e-3)
    poisson = simulate("poisson").design
    rate = (poisson.y.sum() + 0.5) / np.exp(poisson.offset).sum()
    assert default_glmm_priors(poisson)["prior_fixed_mean"][0] == pytest.approx(np.log(rate), rel=5e-3)
    gamma = default_glmm_priors(simulate("gamma").design)
    assert (gamma["prior_fixed_sd"][0], gamma["prior_phi_shape"], gamma["prior_phi_rate"]) == (0.5, 2.0, 0.1)


def test_student_t_priors_are_the_gaussians_with_a_truncated_gamma_on_nu():
    # The Student-t keeps the Gaussian's data-scaled values (sigma_y now its scale) and adds brms's
    # nu ~ Gamma(2, 0.1), nu >= 1. The table's quantiles are those of the truncated Gamma: the mass below 1
    # (about 0.5%) is cut off and the rest rescaled, so each quantile sits a little above the Gamma's.
    d = simulate("student_t").design
    gaussian = design("gaussian", d.y, dict(zip(d.fixed, d.X.T)), d.terms)
    priors, same = default_glmm_priors(d), default_glmm_priors(gaussian)
    for key in ("prior_fixed_mean", "prior_fixed_sd", "prior_sd_scale", "prior_sigma_sd"):
        np.testing.assert_array_equal(priors[key], same[key])
    assert (priors["prior_nu_shape"], priors["prior_nu_rate"]) == (2.0, 0.1)
    data = glmm_data(d)
    assert (data["family"], data["integrated"], data["nu_lower"], data["y_real"].size) == (5, 0, 1.0, d.y.size)
    with pytest.raises(ValueError, match="integrated out only for a Gaussian outcome"):
        glmm_data(d, integrated=True)
    table = glmm_prior_table(d, level=0.9)
    assert table.index[-2:].tolist() == ["sigma_y", "nu"] and table.loc["nu", "family"] == "truncated gamma"
    gamma = stats.gamma(a=2, scale=10)
    below = gamma.cdf(1.0)
    assert 0.004 < below < 0.006
    for column, q in (("lower", 0.05), ("median", 0.5), ("upper", 0.95)):
        assert gamma.cdf(table.loc["nu", column]) == pytest.approx(below + q * (1 - below), rel=1e-9)
        assert table.loc["nu", column] > gamma.ppf(q)


def test_prior_overrides_by_name_and_their_errors():
    d = simulate("gaussian").design
    values = resolve_glmm_priors(d, {"prior_fixed_sd": {"x": 3}, "prior_lkj_eta": 4, "prior_sigma_sd": 2})
    assert values["prior_fixed_sd"][1] == 3 and values["prior_lkj_eta"].tolist() == [4.0] and values["prior_sigma_sd"] == 2.0
    with pytest.raises(ValueError, match="unknown prior setting"):
        resolve_glmm_priors(d, {"prior_tau": 1})
    with pytest.raises(ValueError, match="prior_sd_scale must be positive"):
        resolve_glmm_priors(d, {"prior_sd_scale": [1, 0]})
    with pytest.raises(ValueError, match="prior_fixed_sd needs 2 values"):
        resolve_glmm_priors(d, {"prior_fixed_sd": [1, 2, 3]})
    with pytest.raises(ValueError, match="column 'x' takes a single value"):
        default_glmm_priors(design("gaussian", d.y, {"Intercept": d.X[:, 0], "x": np.full(d.y.size, 2.0)}, ()))


def test_prior_table_reads_what_stan_receives():
    d = simulate("gaussian").design
    table = glmm_prior_table(d)
    assert table.index.tolist() == ["fixed[Intercept]", "fixed[x]", "sd_g[Intercept]", "sd_g[x]", "corr_g", "sigma_y"]
    data = glmm_data(d)
    assert table.loc["sd_g[x]", "upper"] == pytest.approx(stats.halfnorm(scale=data["prior_sd_scale"][1]).ppf(0.95))
    # LKJ(2) on a 2 x 2 correlation: (rho + 1) / 2 ~ Beta(2, 2), central 90% about -0.73 to 0.73.
    assert table.loc["corr_g", ["lower", "upper"]].tolist() == pytest.approx([-0.729, 0.729], abs=1e-3)


def test_data_layout_and_the_integrated_switch():
    crossed = simulate_crossed().design
    data = glmm_data(crossed)
    assert (data["T"], data["K"], data["J"], data["integrated"]) == (2, [1, 1], [24, 12], 0)
    assert data["Z"].shape == (crossed.y.size, 2) and data["level"].shape == (2, crossed.y.size)
    assert data["level"].min() == 1 and data["y_int"].size == 0 and data["centered"] == [0, 0]
    assert glmm_data(crossed, centered=["sample"])["centered"] == [0, 1]
    with pytest.raises(ValueError, match="centered names \\['plot'\\], which are not grouping factors"):
        glmm_data(crossed, centered=["plot"])
    assert glmm_data(simulate("gaussian").design)["integrated"] == 1
    assert glmm_data(simulate("gaussian").design, integrated=False)["integrated"] == 0
    with pytest.raises(ValueError, match="integrated out only for a Gaussian outcome with one grouping term"):
        glmm_data(simulate("binomial").design, integrated=True)
    with pytest.raises(ValueError, match="integrated out only .* 2 grouping term"):
        glmm_data(crossed, integrated=True)
    binomial = glmm_data(simulate("binomial").design)
    assert binomial["family"] == 2 and binomial["y_real"].size == 0 and binomial["trials"].dtype.kind == "i"
    slices = term_slices(crossed)
    assert [(s.columns.start, s.effects.start, s.effects.stop) for s in slices] == [(0, 0, 24), (1, 24, 36)]


def test_a_repeated_column_of_one_grouping_factor_is_named():
    d = simulate_crossed().design
    twice = design("gaussian", d.y, {"Intercept": d.X[:, 0]}, (d.terms[0], d.terms[0]))
    with pytest.raises(ValueError, match="grouping factor 'plate' has column\\(s\\) \\['Intercept'\\] in more than one term"):
        glmm_data(twice)


def test_partial_correlations_with_their_beta_shapes_make_an_lkj_matrix():
    # LKJ(eta) in dimension K gives every correlation the same marginal, (rho + 1) / 2 ~ Beta(eta - 1 + K/2).
    # The construction with Beta shapes depending on the level must reproduce it for each pair: with
    # wrong shapes (all eta, say) the later pairs' marginals differ and the KS test fails.
    rng = np.random.default_rng(3)
    K, eta, n = 4, 2.0, 20_000
    shapes = lkj_cpc_shapes(eta, K)
    cpc = 2 * rng.beta(shapes, shapes, size=(n, shapes.size)) - 1
    L = cholesky_from_cpc(cpc, K)
    omega = L @ np.swapaxes(L, -1, -2)
    np.testing.assert_allclose(np.diagonal(omega, axis1=1, axis2=2), 1.0)
    marginal = stats.beta(eta - 1 + K / 2, eta - 1 + K / 2, loc=-1, scale=2)
    for i in range(K):
        for j in range(i):
            assert stats.kstest(omega[:, i, j], marginal.cdf).pvalue > 1e-3, (i, j)
    wrong = 2 * rng.beta(eta, eta, size=(n, shapes.size)) - 1
    wrong_omega = cholesky_from_cpc(wrong, K)
    assert stats.kstest((wrong_omega @ np.swapaxes(wrong_omega, -1, -2))[:, 1, 0], marginal.cdf).pvalue < 1e-3


class _FixedNormals:
    """A stand-in for a Generator whose standard normals are given."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def standard_normal(self, shape):
        return np.broadcast_to(self.values, shape).copy()


def test_conditional_effects_are_the_conjugate_posterior():
    # b ~ N(0, S S') a priori and r = Z b + N(0, sigma^2 I): the posterior is normal with covariance
    # V = ((S S')^-1 + Z'Z / sigma^2)^-1 and mean V Z'r / sigma^2. With the normals fixed at 0 the draw
    # is that mean; with them at each unit vector, the deviations' outer products sum to V.
    rng = np.random.default_rng(0)
    K, n, sigma = 3, 7, 0.7
    Z, r = rng.normal(size=(n, K)), rng.normal(size=n)
    S = np.linalg.cholesky(np.array([[1.0, 0.3, 0.1], [0.3, 0.8, -0.2], [0.1, -0.2, 0.5]]))
    ztz, _, ztr = group_sums(Z, np.zeros((n, 0)), r, np.zeros(n, dtype=int), 1)
    V = np.linalg.inv(np.linalg.inv(S @ S.T) + Z.T @ Z / sigma**2)
    mean = conditional_group_effects(S, np.array(sigma), ztz, ztr, _FixedNormals(np.zeros(K)))[0]
    np.testing.assert_allclose(mean, V @ Z.T @ r / sigma**2, rtol=1e-10)
    deviations = [conditional_group_effects(S, np.array(sigma), ztz, ztr, _FixedNormals(e))[0] - mean for e in np.eye(K)]
    np.testing.assert_allclose(sum(np.outer(d, d) for d in deviations), V, rtol=1e-10)


# ---- glmm.stan's log density ----------------------------------------------------------------------


def _build(data):
    import stan

    from mixedrain.engine import machine_lock

    with machine_lock(load_glmm_program()):
        return stan.build(load_glmm_program(), data=data, random_seed=1)


def _random_point(data, rng):
    """A parameter point of the right shapes for the program built with ``data``."""
    n_cpc = sum(k * (k - 1) // 2 for k, c in zip(data["K"], data["correlated"]) if c)
    n_effects = 0 if data["integrated"] else sum(k * j for k, j in zip(data["K"], data["J"]))
    return {
        "beta": rng.normal(0, 0.5, data["P"]),
        "tau": rng.uniform(0.3, 1.0, sum(data["K"])),
        "cpc": rng.uniform(-0.6, 0.6, n_cpc),
        "sigma": rng.uniform(0.5, 1.5, int(data["family"] in (1, 5))),
        "phi": rng.uniform(5, 15, int(data["family"] == 4)),
        "nu": rng.uniform(2, 10, int(data["family"] == 5)),
        "z": rng.normal(size=n_effects),
    }


def _log_prob(model, point):
    return model.log_prob(model.unconstrain_pars({k: np.asarray(v).tolist() for k, v in point.items()}), adjust_transform=False)


def _three_level_design(seed=2, family="gaussian"):
    """y ~ x1 + x2 + (1 + x1 + x2 | g) + (1 | h): a correlated term of three columns beside a second factor."""
    rng = np.random.default_rng(seed)
    n, ones = 60, np.ones(60)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    g, h = np.repeat(np.arange(6), 10), np.tile(np.arange(4), 15)
    columns = {"Intercept": ones, "x1": x1, "x2": x2}
    terms = (term("g", columns, g, correlated=True), term("h", {"Intercept": ones}, h))
    if family == "gaussian":
        y = rng.normal(1 + x1, 1.0)
        return design(family, y, columns, terms, offset=rng.normal(0, 0.1, n))
    y = rng.poisson(np.exp(0.5 + 0.3 * x1))
    return design(family, y, columns, terms)


# Constants a `~` statement leaves out of Stan's log density, per row.
def _dropped(design_, data):
    y = np.asarray(design_.y, dtype=float)
    if design_.family == "gaussian":
        return -0.5 * np.log(2 * np.pi) * y.size
    if design_.family == "binomial":
        return np.sum(special.gammaln(design_.trials + 1) - special.gammaln(y + 1) - special.gammaln(design_.trials - y + 1))
    if design_.family == "poisson":
        return -np.sum(special.gammaln(y + 1))
    if design_.family == "student_t":  # its other constants involve nu, a parameter, so Stan keeps them
        return -0.5 * np.log(np.pi) * y.size
    return 0.0


@pytest.mark.stan
@pytest.mark.parametrize(
    "case", ["gaussian", "student_t", "binomial", "poisson", "gamma", "three_columns", "three_columns_centered"]
)
def test_numpy_log_likelihood_matches_the_program(case):
    # The likelihood is stated twice: in glmm.stan (for sampling) and in NumPy from the named draws
    # (glmm_fit.name_draws, linear_predictor and the family's log density: what log_likelihood holds).
    # Stan's log density with the likelihood on minus off is the NumPy sum at the same point, up to the
    # constants a `~` statement drops.
    from mixedrain.families import get_family
    from mixedrain.glmm_fit import linear_predictor, name_draws

    d = _three_level_design() if case.startswith("three_columns") else simulate(case).design
    data = glmm_data(d, integrated=False, centered=case.endswith("centered"))
    point = _random_point(data, np.random.default_rng(5))
    on, off = _build(data), _build({**data, "prior_only": 1})
    stan_likelihood = _log_prob(on, point) - _log_prob(off, point)
    raw = {name: np.asarray(value, dtype=float)[None, None] for name, value in point.items()}
    draws = name_draws(d, raw, data)
    family = get_family(d.family)
    eta = linear_predictor(d, draws)[0, 0]
    dispersion = draws[family.dispersion].item() if family.dispersion else None
    tail = draws[family.tail].item() if family.tail else None
    pointwise = family.log_density(d.y, eta, dispersion, d.trials, tail)
    assert stan_likelihood == pytest.approx(pointwise.sum() - _dropped(d, data), rel=1e-8)


@pytest.mark.stan
def test_priors_in_the_program_are_the_stated_ones_and_the_correlations_exactly_lkj():
    # Differences of Stan's log density between two points (constants cancel) against SciPy: normal fixed
    # effects, half-normal SDs, the centered term's effects N(0, S S') level by level and the other
    # term's standardised ones N(0, 1), half-normal sigma, and for the 3 x 3 correlation
    # the LKJ(eta) density det(Omega)^(eta - 1) of Omega = L L', carried to the partial correlations by
    # the Jacobian of cpc -> Omega's off-diagonal entries, computed here numerically: so the program's
    # Beta shapes give exactly LKJ(eta) on the block, not a marginal of a bigger LKJ.
    d = _three_level_design()
    data = glmm_data(d, integrated=False, centered=["g"], prior_only=True)
    data["prior_lkj_eta"] = np.array([1.7, 1.0])
    model = _build(data)
    rng = np.random.default_rng(9)
    first, second = _random_point(data, rng), _random_point(data, rng)

    def numpy_prior(point):
        L = cholesky_from_cpc(point["cpc"], 3)
        omega = L @ L.T
        S = point["tau"][:3, None] * L

        def off_diagonal(cpc):
            f = cholesky_from_cpc(cpc, 3)
            return (f @ f.T)[np.tril_indices(3, -1)]

        h = 1e-6
        jacobian = np.column_stack([(off_diagonal(point["cpc"] + h * e) - off_diagonal(point["cpc"] - h * e)) / (2 * h) for e in np.eye(3)])
        return (
            stats.norm.logpdf(point["beta"], data["prior_fixed_mean"], data["prior_fixed_sd"]).sum()
            + stats.halfnorm.logpdf(point["tau"], scale=data["prior_sd_scale"]).sum()
            + sum(stats.multivariate_normal(np.zeros(3), S @ S.T).logpdf(b) for b in point["z"][:18].reshape(6, 3))
            + stats.norm.logpdf(point["z"][18:]).sum()
            + stats.halfnorm.logpdf(point["sigma"], scale=data["prior_sigma_sd"]).sum()
            + (1.7 - 1) * np.log(np.linalg.det(omega))
            + np.log(abs(np.linalg.det(jacobian)))
        )

    stan_difference = _log_prob(model, first) - _log_prob(model, second)
    assert stan_difference == pytest.approx(numpy_prior(first) - numpy_prior(second), rel=1e-6)


@pytest.mark.stan
def test_the_student_t_priors_in_the_program_are_the_stated_ones():
    # With the likelihood off, differences of Stan's log density between two points against SciPy: the
    # Gaussian's priors, the standardised effects N(0, 1), and nu's Gamma(2, 0.1) (its truncation at
    # nu_lower is a constant, so it cancels in a difference, as it does for the sampler).
    d = simulate("student_t").design
    data = glmm_data(d, prior_only=True)
    model = _build(data)
    rng = np.random.default_rng(11)
    first, second = _random_point(data, rng), _random_point(data, rng)

    def numpy_prior(point):
        return (
            stats.norm.logpdf(point["beta"], data["prior_fixed_mean"], data["prior_fixed_sd"]).sum()
            + stats.halfnorm.logpdf(point["tau"], scale=data["prior_sd_scale"]).sum()
            + stats.norm.logpdf(point["z"]).sum()
            + stats.halfnorm.logpdf(point["sigma"], scale=data["prior_sigma_sd"]).sum()
            + stats.gamma.logpdf(point["nu"], a=data["prior_nu_shape"], scale=1 / data["prior_nu_rate"]).sum()
        )

    stan_difference = _log_prob(model, first) - _log_prob(model, second)
    assert stan_difference == pytest.approx(numpy_prior(first) - numpy_prior(second), rel=1e-8)


@pytest.mark.stan
@pytest.mark.parametrize("columns, correlated", [(3, True), (2, True), (2, False), (1, False)])
def test_integrated_likelihood_is_the_exact_gaussian_marginal(columns, correlated):
    # One term (K = 1 and 2 have closed forms of their own in the program, K = 3 the general loop) with an
    # offset: each level's rows are jointly normal with mean offset + X beta and covariance
    # Z_j S S' Z_j' + sigma^2 I. Stan's Woodbury form from the sums must be that density, computed here
    # level by level with SciPy.
    d = _three_level_design()
    g = d.terms[0]
    single = term("g", dict(zip(g.columns[:columns], g.Z[:, :columns].T)), g.codes, correlated=correlated)
    d = design("gaussian", d.y, dict(zip(d.fixed, d.X.T)), (single,), offset=d.offset)
    data = glmm_data(d)
    assert data["integrated"] == 1 and data["correlated"] == [int(correlated)]
    point = _random_point(data, np.random.default_rng(4))
    on, off = _build(data), _build({**data, "prior_only": 1})
    stan_likelihood = _log_prob(on, point) - _log_prob(off, point)
    L = cholesky_from_cpc(point["cpc"], columns) if correlated else np.eye(columns)
    S = point["tau"][:, None] * L
    marginal = 0.0
    for j in range(len(single.levels)):
        rows = single.codes == j
        covariance = point["sigma"][0] ** 2 * np.eye(rows.sum()) + single.Z[rows] @ S @ S.T @ single.Z[rows].T
        marginal += stats.multivariate_normal(d.offset[rows] + d.X[rows] @ point["beta"], covariance).logpdf(d.y[rows])
    assert stan_likelihood == pytest.approx(marginal + 0.5 * np.log(2 * np.pi) * d.y.size, rel=1e-9)
