"""Build and sample a model from the catalogue with PyStan 3, returning ArviZ InferenceData."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np

from mixedrain.engine import sample_program
from mixedrain.integrated import conditional, group_sums
from mixedrain.models import DEFAULT_MODEL, Model, get_model, load_program, program_data
from mixedrain.prepare import PreparedData

#: R-hat above this is reported (Vehtari et al. 2021 recommend 1.01).
RHAT_THRESHOLD = 1.01


class SamplingWarning(UserWarning):
    """The sampler reported a problem: divergences or chains that disagree."""


class CentringWarning(UserWarning):
    """An uncorrelated model was fitted to a centred predictor, where it is misspecified."""


def fit_model(
    prepared: PreparedData,
    model: str = DEFAULT_MODEL,
    *,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 1234,
    priors: dict[str, float] | None = None,
    prior_only: bool = False,
    pointwise: bool = True,
    quiet: bool = True,
    **sampler_options,
) -> az.InferenceData:
    """Fit a model from the catalogue (:data:`mixedrain.models.MODELS`) with PyStan 3.

    The first call for a program compiles it (about 30 seconds and 2 GB of
    memory, announced in one line); httpstan caches the compiled program, so
    later calls with any data reuse it. Every call samples afresh: fits are not
    replayed from httpstan's disk cache.

    Parameters
    ----------
    prepared : PreparedData
        Output of :func:`mixedrain.prepare.prepare_data`.
    model : str
        A catalogue name (:data:`mixedrain.models.MODEL_NAMES`):
        ``"integrated"`` (the default, :data:`mixedrain.models.DEFAULT_MODEL`),
        ``"centered"``, ``"noncentered"``, ``"correlated_integrated"``,
        ``"correlated"``, ``"gamma"``, ...
    chains, draws, warmup : int
        Number of chains, and of kept and warmup iterations per chain.
    seed : int
        Random seed for the sampler and the replicated data, so a fit can be
        repeated exactly.
    priors : dict, optional
        Overrides for the model's default priors
        (:func:`mixedrain.models.default_priors`).
    prior_only : bool
        Sample from the prior (the likelihood is switched off): a prior
        predictive check with the same compiled program.
    pointwise : bool
        Add each row's log-likelihood (group ``log_likelihood``, for
        ``az.loo``) and replicated data ``y_rep`` (group
        ``posterior_predictive``, or ``prior_predictive``), computed in NumPy
        from the draws. Switch off for very large data, where they take
        ``chains * draws * N`` numbers each.
    quiet : bool
        Keep PyStan's build and progress messages out of the output. They are
        attached to any error raised.
    **sampler_options
        Passed to ``stan.Model.sample``, e.g. ``delta=0.95``.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (or ``prior``) with the group dimension named after the
        group column (``state``) and labelled by group; with ``pointwise``,
        ``log_likelihood`` and ``posterior_predictive`` (or
        ``prior_predictive``) over dimension ``obs``, as is
        ``observed_data``; coordinates ``obs_<group>`` and the predictor's
        column (``year``) say where each row came from. ``attrs`` record the
        model, the predictor's mapping (``x_origin``, ``first_year``,
        ``centre``) and the build and sampling times.

    Raises
    ------
    ValueError
        For an unknown model, a bad prior setting, non-positive outcomes for
        a positive family, or sampler settings that are not positive whole
        numbers; all before Stan is called.

    Warns
    -----
    SamplingWarning
        If any transition diverged or any R-hat exceeds 1.01.
    CentringWarning
        If an uncorrelated model is fitted to a centred predictor.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> from mixedrain.prepare import prepare_data
    >>> idata = fit_model(prepare_data(simulate_rainfall()))  # doctest: +SKIP
    >>> idata.posterior["alpha"].sel(state="AL").mean().item()  # doctest: +SKIP
    """
    spec = get_model(model)
    if not isinstance(prepared, PreparedData):
        raise TypeError(f"prepared must come from prepare_data(), not {type(prepared).__name__}")
    for name, value in (("chains", chains), ("draws", draws), ("warmup", warmup), ("seed", seed)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < (0 if name == "warmup" else 1):
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    data = program_data(spec, prepared, priors, prior_only=prior_only)
    if not spec.correlated and prepared.centre != 0:
        warnings.warn(
            f"model {spec.name!r} keeps intercept and slope uncorrelated, but the predictor was centred at "
            f"{prepared.centre:g}: intercepts are now read at that point, where they are correlated with the "
            "slopes unless the data were generated that way. Fit 'correlated', or prepare with centre=False.",
            CentringWarning,
            stacklevel=2,
        )
    fit, posterior, timings = sample_program(
        load_program(spec.program), data, chains=chains, draws=draws, warmup=warmup, seed=seed, quiet=quiet,
        label=f"{spec.program}.stan", **sampler_options,
    )
    idata = _to_inference_data(fit, posterior, prepared, prior_only)
    if spec.integrated:
        idata = draw_integrated_effects(idata, prepared, seed=seed)
    if pointwise:
        idata = add_pointwise(idata, prepared, spec, seed=seed)
    idata.attrs.update(
        model=spec.name,
        program=spec.program,
        family=spec.family,
        group=prepared.group_column,
        predictor=prepared.predictor_column,
        x_origin=prepared.x_origin,
        centre=prepared.centre,
        **timings,
        prior_only=int(prior_only),
    )
    if prepared.first_year is not None:
        idata.attrs["first_year"] = prepared.first_year
    _warn_about_problems(idata, spec, "prior" if prior_only else "posterior")
    return idata


def add_pointwise(idata: az.InferenceData, prepared: PreparedData, model: str | Model, *, seed: int = 0) -> az.InferenceData:
    """Add each row's log-likelihood and replicated data, computed from the draws.

    For every draw and row, the linear predictor is ``alpha[g] + beta[g] * x``;
    the model's family (:mod:`mixedrain.families`) turns it into a log density
    of the observed ``y`` and a replicated ``y_rep``. For a prior fit only
    ``prior_predictive`` is added: a prior has no likelihood to score.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of ``model`` to ``prepared``, with or without these groups.
    prepared : PreparedData
        The data it was fitted to.
    model : str or Model
        The catalogue entry that was fitted.
    seed : int
        Seed for the replicated data.

    Returns
    -------
    arviz.InferenceData
        A new object with ``log_likelihood`` and ``posterior_predictive`` (or
        ``prior_predictive``) ``y_rep`` over dimension ``obs``.
    """
    spec = get_model(model)
    family = spec.outcome_family
    group = _sampled_group(idata)
    draws = idata[group]
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    group_dim = prepared.group_column
    alpha = draws["alpha"].transpose("chain", "draw", group_dim).to_numpy()
    beta = draws["beta"].transpose("chain", "draw", group_dim).to_numpy()
    eta = alpha[..., codes] + beta[..., codes] * x
    dispersion = draws[family.dispersion].to_numpy()[..., None]
    rng = np.random.default_rng(seed)
    coords = {"chain": draws["chain"].to_numpy(), "draw": draws["draw"].to_numpy(), "obs": np.arange(y.size)}
    replicated = az.from_dict(
        **{f"{group}_predictive": {"y_rep": family.draw(rng, eta, dispersion)}},
        coords=coords,
        dims={"y_rep": ["obs"]},
    )
    extra = [replicated]
    if group == "posterior":
        extra.append(az.from_dict(log_likelihood={"y": family.log_density(y, eta, dispersion)}, coords=coords, dims={"y": ["obs"]}))
    out = idata.copy()
    for part in extra:
        for name in part.groups():
            if name in out.groups():
                del out[name]
        out.extend(part)
    return out.assign_coords(_where(prepared), groups=[g for g in out.groups() if "obs" in out[g].dims])


def _sampled_group(idata: az.InferenceData) -> str:
    """``"prior"`` for a prior-only fit, else ``"posterior"``."""
    return "prior" if "prior" in idata.groups() and "posterior" not in idata.groups() else "posterior"


def _where(prepared: PreparedData) -> dict:
    return {
        f"obs_{prepared.group_column}": ("obs", prepared.frame[prepared.group_column].to_numpy()),
        prepared.predictor_column: ("obs", prepared.frame[prepared.predictor_column].to_numpy()),
    }


def draw_integrated_effects(idata: az.InferenceData, prepared: PreparedData, *, seed: int = 0) -> az.InferenceData:
    """Draw each group's ``alpha`` and ``beta`` for a fit that integrated them out.

    A group's effects are ``mu + S w`` with ``w ~ N(0, I)`` a priori and
    ``S = [[a, 0], [b, c]]`` the Cholesky factor of their covariance:
    ``a = sigma_alpha``, ``b = sigma_beta * rho``, ``c = sigma_beta *
    sqrt(1 - rho^2)`` (``rho = 0`` for the uncorrelated model). Given the
    hyperparameters and the group's rows, ``w`` is exactly bivariate normal,
    with precision ``M`` and mean ``M^-1 v`` (:func:`mixedrain.integrated.conditional`,
    the NumPy twin of the programs' integrated likelihood). One draw of ``w`` per
    posterior draw and group makes the joint posterior draws the other
    programs sample directly. A prior fit has no rows to condition on: the
    effects are drawn from their prior.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of an integrated model (``"integrated"`` or
        ``"correlated_integrated"``): ``mu_alpha``, ``mu_beta``,
        ``sigma_alpha``, ``sigma_beta``, ``sigma_y`` and, if correlated,
        ``rho`` in ``posterior`` (or ``prior``).
    prepared : PreparedData
        The data it was fitted to.
    seed : int
        Seed for the draws.

    Returns
    -------
    arviz.InferenceData
        A new object whose posterior (or prior) holds ``alpha`` and ``beta``
        over the group dimension.

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> prepared = prepare_data(simulate_rainfall())
    >>> idata = fit_model(prepared)  # doctest: +SKIP
    >>> idata.posterior["alpha"].sizes["state"]  # doctest: +SKIP
    51
    """
    group = _sampled_group(idata)
    draws = idata[group]
    mu_alpha, mu_beta, sigma_alpha, sigma_beta, sigma_y = (
        draws[name].to_numpy()[..., None] for name in ("mu_alpha", "mu_beta", "sigma_alpha", "sigma_beta", "sigma_y")
    )
    rho = draws["rho"].to_numpy()[..., None] if "rho" in draws else 0.0
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    if group == "prior":
        y = x = np.zeros(0)
        codes = codes[:0]
    a, b, c = sigma_alpha, sigma_beta * rho, sigma_beta * np.sqrt(1 - rho**2)
    m = conditional(group_sums(codes, x, y, prepared.stan_data["J"]), mu_alpha, mu_beta, a, b, c, sigma_y)
    m11, m12, m22, v1, v2, det = (*m, m.det)
    # w ~ N(M^-1 v, M^-1), drawn through the Cholesky factor of M^-1 = [[m22, -m12], [-m12, m11]] / det.
    l11 = np.sqrt(m22 / det)
    l21 = -m12 / det / l11
    l22 = np.sqrt(m11 / det - l21**2)
    rng = np.random.default_rng([seed, 2])
    z1, z2 = rng.standard_normal((2, *det.shape))
    w1 = (m22 * v1 - m12 * v2) / det + l11 * z1
    w2 = (m11 * v2 - m12 * v1) / det + l21 * z1 + l22 * z2
    dims = ("chain", "draw", prepared.group_column)
    out = idata.copy()
    out[group] = out[group].assign(
        alpha=(dims, mu_alpha + a * w1), beta=(dims, mu_beta + b * w1 + c * w2)
    ).assign_coords({prepared.group_column: list(prepared.groups)})
    return out


def _to_inference_data(fit, posterior, prepared: PreparedData, prior_only: bool) -> az.InferenceData:
    group_dim = prepared.group_column
    coords = {group_dim: list(prepared.groups), "obs": np.arange(prepared.stan_data["N"]), "effect": ["intercept", "slope"]}
    dims = {"alpha": [group_dim], "beta": [group_dim], "z": ["effect", group_dim], "y": ["obs"]}
    if prior_only:
        idata = az.from_pystan(prior=fit, prior_model=posterior, coords=coords, dims=dims)
    else:
        idata = az.from_pystan(
            posterior=fit, posterior_model=posterior, observed_data="y", log_likelihood=False, coords=coords, dims=dims
        )
    return idata.assign_coords(_where(prepared), groups=[g for g in idata.groups() if "obs" in idata[g].dims])


def _warn_about_problems(idata: az.InferenceData, spec: Model, group: str) -> None:
    names = [n for n in (*spec.hyperparameters, "alpha", "beta") if n in idata[group]]
    warn_about_problems(idata, group, names, "Try the other parameterisation or a higher delta (e.g. delta=0.95).")


def warn_about_problems(idata: az.InferenceData, group: str, names: list[str], advice: str) -> None:
    """Warn of divergent transitions, and of an R-hat above :data:`RHAT_THRESHOLD` for any of ``names``.

    The one check behind :func:`fit_model` and :func:`mixedrain.glmm_fit.fit_design`; ``advice``
    says what to try about divergences. The warning points at the caller of the fitting function.
    """
    stats = idata["sample_stats_prior" if group == "prior" else "sample_stats"]
    divergent = int(stats["diverging"].sum())
    if divergent:
        warnings.warn(
            f"{divergent} of {stats['diverging'].size} transitions diverged: the {group} may be biased. {advice}",
            SamplingWarning,
            stacklevel=4,
        )
    if idata[group].sizes["chain"] < 2:
        return
    rhat = az.rhat(idata[group][names])
    bad = {n: float(rhat[n].max()) for n in names if float(rhat[n].max()) > RHAT_THRESHOLD}
    if bad:
        listed = ", ".join(f"{n} ({v:.3f})" for n, v in bad.items())
        warnings.warn(
            f"R-hat above {RHAT_THRESHOLD} for {listed}: the chains disagree; run longer or reparameterise.",
            SamplingWarning,
            stacklevel=4,
        )
