"""Fitting formula designs with glmm.stan (mixedrain.glmm_fit): recovery, the integrated fast path, names, prediction."""

import warnings
from dataclasses import replace

import arviz as az
import numpy as np
import pytest
from glmm_designs import design, simulate, simulate_crossed

from mixedrain.fit import SamplingWarning
from mixedrain.glmm_fit import fit_design, predict

pytestmark = pytest.mark.stan

SMALL = {"chains": 4, "draws": 500, "warmup": 500}


def _fit(design_, **options):
    # Short chains of a non-centered intercept may show an R-hat just above 1.01 (reported, not failed);
    # a divergence would mean a biased posterior, so none is allowed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        idata = fit_design(design_, **{**SMALL, **options})
    stats = idata["sample_stats_prior" if options.get("prior_only") else "sample_stats"]
    assert int(stats["diverging"].sum()) == 0
    return idata


@pytest.fixture(scope="module")
def gaussian():
    sim = simulate("gaussian")
    return sim, _fit(sim.design)


def _select(posterior, name):
    """``"sd_g[x]"`` or ``"corr_g[Intercept, x]"`` -> that posterior variable's draws."""
    if "[" not in name:
        return posterior[name]
    variable, label = name[:-1].split("[", 1)
    dim = next(d for d in posterior[variable].dims if d not in ("chain", "draw"))
    return posterior[variable].sel({dim: label})


def _assert_recovered(idata, truth):
    # A correctly specified model's posterior puts each true value within a few posterior sds of its
    # mean (the Monte Carlo error of a mean, with ESS in the hundreds, is a small part of that sd).
    for name, value in truth.items():
        draws = _select(idata.posterior, name)
        z = (float(draws.mean()) - value) / float(draws.std())
        assert abs(z) < 3, (name, value, float(draws.mean()), float(draws.std()))


@pytest.mark.parametrize("family", ["binomial", "poisson", "gamma", "student_t"])
def test_each_family_recovers_its_hyperparameters(family):
    sim = simulate(family)
    idata = _fit(sim.design)
    assert idata.attrs["integrated"] == 0
    _assert_recovered(idata, sim.truth)


def test_student_t_tells_heavy_tails_from_a_normal_and_replicates_them():
    # nu = 4 in 320 rows: the posterior of nu stays far below the values (30 and more) where a t is a normal
    # in all but name, and below the prior's mean of 20.
    from scipy import stats

    from mixedrain.glmm_fit import linear_predictor

    sim = simulate("student_t")
    idata = _fit(sim.design)
    post = idata.posterior
    assert float(post["nu"].quantile(0.95)) < 15
    # Each row's log-likelihood is the t's, with each draw's own nu and scale.
    eta = linear_predictor(sim.design, post)
    nu, sigma = post["nu"].to_numpy()[..., None], post["sigma_y"].to_numpy()[..., None]
    expected = stats.t.logpdf(sim.design.y, df=nu, loc=eta, scale=sigma)
    np.testing.assert_allclose(idata.log_likelihood["y"].transpose("chain", "draw", "obs").to_numpy(), expected, rtol=1e-10)
    # The replicates scatter as t's: the share of them beyond 3 scales of their line is what each draw's nu
    # says (about 4% for nu near 4, where a normal gives 0.27%), within 5 binomial standard errors.
    z = (idata.posterior_predictive["y_rep"].transpose("chain", "draw", "obs").to_numpy() - eta) / sigma
    share = float((np.abs(z) > 3).mean())
    expected_share = float(np.mean(2 * stats.t.sf(3, post["nu"].to_numpy())))
    assert abs(share - expected_share) < 5 * np.sqrt(expected_share * (1 - expected_share) / z.size)
    # Predictions draw from the t too (each draw's nu reaches the family): for the first row, the share of
    # response draws beyond 3 scales of the draw's line is the same t tail.
    d, g = sim.design, sim.design.terms[0]
    first = design("student_t", d.y[:1], dict(zip(d.fixed, d.X[:1].T)), (replace(g, Z=g.Z[:1], codes=g.codes[:1]),))
    response = predict(idata, first, kind="response", seed=1)["prediction"].to_numpy()
    line = predict(idata, first, kind="mean")["prediction"].to_numpy()
    beyond = float((np.abs(response - line) / sigma.ravel() > 3).mean())
    assert abs(beyond - expected_share) < 5 * np.sqrt(expected_share * (1 - expected_share) / response.size)


def test_gaussian_correlated_term_recovers_its_hyperparameters(gaussian):
    sim, idata = gaussian
    assert idata.attrs["integrated"] == 1
    _assert_recovered(idata, sim.truth)


def test_crossed_factors_are_recovered():
    # Every level has 24 or 48 rows: the effects are well informed, so they are sampled centered.
    sim = simulate_crossed()
    idata = _fit(sim.design, centered=True)
    _assert_recovered(idata, sim.truth)
    assert idata.posterior["effect_sample"].sizes["sample"] == 12


def test_raw_draws_keep_each_chain_apart():
    # PyStan stores the draws interleaved (draw 0 of every chain, then draw 1, ...). A real PyStan Fit is
    # built here from Stan's output lines, each value naming its chain and draw, so reading them as
    # chain after chain (which mixes the chains and hides their disagreement from R-hat) would show.
    import json

    from stan.fit import Fit

    from mixedrain.glmm_fit import _raw_draws

    chains, draws = 3, 4
    outputs = tuple(
        "\n".join(
            json.dumps({"topic": "sample", "values": {"lp__": 0.0, "x.1": 100.0 * c + d, "x.2": -100.0 * c - d, "s": c + d / 10}})
            for d in range(draws)
        ).encode()
        for c in range(chains)
    )
    fit = Fit(outputs, chains, ("x", "s"), ("x.1", "x.2", "s"), ([2], []), 0, draws, 1, False)
    raw = _raw_draws(fit, chains, draws)
    c, d = np.meshgrid(np.arange(chains), np.arange(draws), indexing="ij")
    np.testing.assert_array_equal(raw["x"][..., 0], 100 * c + d)
    np.testing.assert_array_equal(raw["x"][..., 1], -100 * c - d)
    np.testing.assert_array_equal(raw["s"], c + d / 10)


def test_integrated_and_noncentered_forms_agree(gaussian):
    # The same model, its effects integrated out and drawn afterwards, or sampled (non-centered): the
    # posteriors are the same, so means agree within Monte Carlo error (4 combined MCSE) and sds within
    # 10% (an sd estimated from ESS ~ 1000 draws has a relative error of a few percent).
    sim, integrated = gaussian
    sampled = _fit(sim.design, integrated=False)
    assert sampled.attrs["integrated"] == 0
    names = ["fixed", "sd_g", "corr_g", "sigma_y"]
    for name in names:
        a, b = integrated.posterior[name], sampled.posterior[name]
        mcse = np.hypot(az.mcse(integrated, var_names=[name])[name], az.mcse(sampled, var_names=[name])[name])
        np.testing.assert_array_less(np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))), 4 * mcse)
        np.testing.assert_allclose(a.std(("chain", "draw")), b.std(("chain", "draw")), rtol=0.1)
    # The drawn effects too, level by level (their sds within 10%, their means within 4 combined MCSE).
    a, b = integrated.posterior["effect_g"], sampled.posterior["effect_g"]
    mcse = np.hypot(az.mcse(integrated, var_names=["effect_g"])["effect_g"], az.mcse(sampled, var_names=["effect_g"])["effect_g"])
    assert float((np.abs(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))) / mcse).max()) < 4.5
    assert float(np.abs(a.std(("chain", "draw")) / b.std(("chain", "draw")) - 1).mean()) < 0.05


def test_inference_data_is_named_by_terms_and_levels(gaussian):
    sim, idata = gaussian
    posterior = idata.posterior
    assert posterior["fixed"].dims == ("chain", "draw", "fixed_term")
    assert posterior["fixed_term"].values.tolist() == ["Intercept", "x"]
    assert posterior["sd_g"].dims == ("chain", "draw", "g_effect")
    assert posterior["corr_g"]["g_pair"].values.tolist() == ["Intercept, x"]
    assert posterior["effect_g"].dims == ("chain", "draw", "g", "g_effect")
    assert posterior["g"].values.tolist() == list(sim.design.terms[0].levels)
    assert set(posterior.data_vars) == {"fixed", "sd_g", "corr_g", "effect_g", "sigma_y"}
    n = sim.design.y.size
    assert idata.log_likelihood["y"].shape == (4, 500, n) and idata.posterior_predictive["y_rep"].shape == (4, 500, n)
    assert idata.observed_data["obs_g"].values.tolist() == [sim.design.terms[0].levels[c] for c in sim.design.terms[0].codes]
    assert idata.attrs["sampling_seconds"] > 0 and idata.attrs["formula"] == "y ~ x + (x | g)"
    assert np.isfinite(az.loo(idata).elpd_loo)


def _at(design_, rows, x, levels):
    """The rows of ``design_`` at ``x`` for the given level codes (-1: a level the fit never saw)."""
    t = design_.terms[0]
    Z = np.column_stack([np.ones(rows), np.full(rows, x)])[:, : len(t.columns)]
    term = type(t)(t.grouping, t.columns, Z, np.asarray(levels), t.levels, t.correlated)
    X = np.column_stack([np.ones(rows), np.full(rows, x)])
    return design(design_.family, np.zeros(rows), dict(zip(design_.fixed, X.T)), (term,),
                  trials=None if design_.trials is None else np.full(rows, 10.0))


def test_a_new_group_is_predicted_more_widely_than_a_seen_one(gaussian):
    # A seen level's prediction knows its effects to within their posterior sd; a new level's draws them
    # from the population (sd 1 for the intercept here), so its 90% interval is much wider.
    sim, idata = gaussian
    draws = predict(idata, _at(sim.design, 2, 0.5, [0, -1]), kind="mean")
    assert draws["seen"].groupby(draws["row"]).first().tolist() == [True, False]
    spread = draws.groupby("row")["prediction"].std()
    assert spread[1] > 2 * spread[0]
    # The new level's mean prediction is the population line: fixed intercept + 0.5 * slope.
    fixed = idata.posterior["fixed"]
    line = float((fixed.sel(fixed_term="Intercept") + 0.5 * fixed.sel(fixed_term="x")).mean())
    new = draws.loc[draws["row"] == 1, "prediction"]
    assert abs(new.mean() - line) < 4 * new.std() / np.sqrt(500)
    # Replicated outcomes add sigma_y to the mean's spread.
    response = predict(idata, _at(sim.design, 2, 0.5, [0, -1]), kind="response")
    assert response.groupby("row")["prediction"].std()[0] > spread[0]


def test_binomial_predictions_are_counts_or_probabilities():
    sim = simulate("binomial")
    idata = _fit(sim.design, chains=2, draws=300, warmup=300)
    new = _at(sim.design, 2, 0.0, [3, -1])
    mean = predict(idata, new, kind="mean")["prediction"]
    assert mean.between(0, 10).all()
    response = predict(idata, new, kind="response")["prediction"]
    assert set(np.unique(response)) <= set(range(11))
    with pytest.raises(ValueError, match="kind must be one of"):
        predict(idata, new, kind="probability")


def test_new_rows_as_a_dataframe_are_encoded_by_the_formula_front_end(gaussian, monkeypatch):
    # predict re-reads the fitted rows from constant_data, parses them with the fit's formula and encodes
    # the new rows by them (mixedrain.formula; a stand-in here, checked to receive the fitted rows).
    import sys
    import types

    import pandas as pd

    sim, idata = gaussian
    levels = sim.design.terms[0].levels

    def parse_formula(formula, data, family="gaussian"):
        assert (formula, family) == (sim.design.formula, "gaussian")
        pd.testing.assert_frame_equal(data, sim.design.frame.reset_index(drop=True), check_dtype=False)
        return sim.design

    def new_data_design(fitted, new_data):
        codes = np.array([levels.index(g) if g in levels else -1 for g in new_data["g"]])
        x = new_data["x"].to_numpy(float)
        new = design("gaussian", np.zeros(len(x)), {"Intercept": np.ones(len(x)), "x": x},
                     (type(fitted.terms[0])("g", ("Intercept", "x"), np.column_stack([np.ones(len(x)), x]), codes, levels, True),))
        return type(new)(**{**new.__dict__, "frame": new_data.copy()})

    monkeypatch.setitem(sys.modules, "mixedrain.formula", types.SimpleNamespace(parse_formula=parse_formula, new_data_design=new_data_design))
    draws = predict(idata, pd.DataFrame({"x": [0.5, 0.5, 0.5], "g": [levels[0], "unseen", "unseen"]}), kind="link")
    assert draws.columns.tolist() == ["x", "g", "row", "draw", "seen", "prediction"]
    assert draws.groupby("row")["seen"].first().tolist() == [True, False, False]
    # Two rows of one new level share its drawn effects: their linear predictors are equal draw by draw.
    np.testing.assert_array_equal(draws.loc[draws["row"] == 1, "prediction"].to_numpy(), draws.loc[draws["row"] == 2, "prediction"].to_numpy())
    seen = draws.loc[draws["row"] == 0, "prediction"].to_numpy()
    effect = idata.posterior["effect_g"].sel(g=levels[0]).stack(sample=("chain", "draw"))
    fixed = idata.posterior["fixed"].stack(sample=("chain", "draw"))
    line = fixed.sel(fixed_term="Intercept") + effect.sel(g_effect="Intercept") + 0.5 * (fixed.sel(fixed_term="x") + effect.sel(g_effect="x"))
    np.testing.assert_allclose(seen, line.to_numpy())


def test_the_formula_path_and_the_catalogue_agree_on_the_seeds_rainfall(prepared):
    # glmm.stan with the rainfall as y ~ x + (x | g) and correlated.stan's integrated form state the same
    # model with the same priors: posterior means agree within 4 combined MCSE, sds within 10%.
    from test_glmm import rainfall_design

    from mixedrain.fit import fit_model

    catalogue = fit_model(prepared, "correlated_integrated", pointwise=False)
    formula = _fit(rainfall_design(prepared), chains=4, draws=1000, warmup=1000, pointwise=False)
    pairs = {"mu_alpha": ("fixed", "Intercept"), "mu_beta": ("fixed", "x"), "sigma_alpha": ("sd_g", "Intercept"),
             "sigma_beta": ("sd_g", "x"), "rho": ("corr_g", "Intercept, x"), "sigma_y": ("sigma_y", None)}
    for name, (variable, label) in pairs.items():
        a = catalogue.posterior[name]
        b = formula.posterior[variable]
        if label is not None:
            b = b.sel({b.dims[-1]: label})
        mcse = np.hypot(float(az.mcse(a.to_dataset(name="v"))["v"]), float(az.mcse(b.to_dataset(name="v"))["v"]))
        assert abs(float(a.mean()) - float(b.mean())) < 4 * mcse, name
        assert float(b.std()) == pytest.approx(float(a.std()), rel=0.1), name


@pytest.mark.parametrize("integrated", [True, False])
def test_a_prior_only_fit_samples_the_stated_priors(integrated):
    # With the likelihood off, each SD's draws follow its half-normal prior (mean scale * sqrt(2 / pi)),
    # and the effects, drawn (integrated) or sampled, have the SDs' spread: var(b) = E[sd^2] = scale^2.
    from scipy import stats

    from mixedrain.glmm import glmm_data

    sim = simulate("gaussian")
    idata = _fit(sim.design, integrated=integrated, prior_only=True, chains=2)
    assert "prior" in idata.groups() and "prior_predictive" in idata.groups() and "posterior" not in idata.groups()
    scales = glmm_data(sim.design)["prior_sd_scale"]
    for k, column in enumerate(["Intercept", "x"]):
        sd = idata.prior["sd_g"].sel(g_effect=column).to_numpy().ravel()
        prior = stats.halfnorm(scale=scales[k])
        ess = float(az.ess(idata.prior["sd_g"].sel(g_effect=column).to_dataset(name="v"))["v"])
        assert abs(sd.mean() - prior.mean()) < 4 * prior.std() / np.sqrt(ess), column
        effects = idata.prior["effect_g"].sel(g_effect=column).to_numpy()
        assert effects.var() == pytest.approx(scales[k] ** 2, rel=0.25), column


def test_a_column_named_like_the_fits_own_names_is_kept_apart():
    # lme4's documentation fits cbpp with (1 | obs), obs numbering the rows. constant_data's row dimension is
    # obs too: the column is stored under another name and read back as itself, so predict encodes new rows.
    import pandas as pd

    from mixedrain.data import load_cbpp

    cbpp = load_cbpp()
    cbpp["obs"] = [str(i) for i in range(len(cbpp))]
    cbpp["trials"] = cbpp["size"]  # a binomial's own variable in constant_data, too
    idata = fit_design_from(
        "cbind(incidence, trials - incidence) ~ period + (1 | herd) + (1 | obs)", cbpp, "binomial",
        chains=2, draws=200, warmup=200,
    )
    assert idata.posterior["effect_obs"].sizes["obs"] == len(cbpp)
    assert idata.observed_data["obs_obs"].values.tolist() == cbpp["obs"].tolist()
    constant = idata.constant_data
    assert constant["column_obs"].values.tolist() == cbpp["obs"].tolist()
    assert constant["column_trials"].values.tolist() == cbpp["size"].tolist()
    assert constant["obs"].values.tolist() == list(range(len(cbpp)))
    new = pd.DataFrame({"period": ["1", "1"], "herd": ["1", "1"], "obs": ["3", "new"], "incidence": [0, 0], "trials": [10, 10]})
    draws = predict(idata, new, kind="mean")
    assert draws.groupby("row")["seen"].first().tolist() == [True, False]
    assert draws["prediction"].between(0, 10).all()


@pytest.mark.parametrize("name", ["draw", "fixed", "nu", "g_effect"])
def test_a_grouping_factor_named_as_the_posteriors_own_names_is_refused_before_stan(name, monkeypatch):
    import mixedrain.engine
    import pandas as pd

    def no_stan(*args, **kwargs):
        raise AssertionError("Stan was called")

    monkeypatch.setattr(mixedrain.engine, "sample_program", no_stan)
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"y": rng.normal(size=40), "g": list("abcd") * 10, name: list("abcde") * 8})
    # g_effect clashes with g's own dimension of effects: whichever of the two is named, the fit stops.
    with pytest.raises(ValueError, match=r"grouping factor '\w+' would be named '\w+'.*rename the column") as raised:
        fit_design_from(f"y ~ 1 + (1 | g) + (1 | {name})", data, "gaussian")
    assert f"named '{name}'" in str(raised.value)


def fit_design_from(formula, data, family, **options):
    from mixedrain.glmm_fit import fit_formula

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return fit_formula(formula, data, family=family, **options)
