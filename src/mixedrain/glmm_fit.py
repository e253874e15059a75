"""Fit an lme4 formula with the general Stan program, and predict from the fit: Part III's entry point.

:func:`fit_formula` reads a formula (``"Reaction ~ Days + (Days | Subject)"``),
fits ``glmm.stan`` and returns ArviZ InferenceData named the way bambi names
things, with term names and group labels as coordinates. In the posterior:

``fixed`` (dim ``fixed_term``)
    The fixed effects, by column of ``X``: ``Intercept``, ``Days``, ...
``sd_<g>`` (dim ``<g>_effect``)
    The SDs of grouping factor ``g``'s effects, by column (``Intercept``, ``Days``).
``corr_<g>`` (dim ``<g>_pair``)
    The correlations of a correlated term's effects, by pair (``"Intercept, Days"``).
``effect_<g>`` (dims ``<g>``, ``<g>_effect``)
    Each level's effects (deviations from the fixed effects), labelled by level.
``sigma_y`` (Gaussian sd, Student-t scale), ``phi`` (Gamma shape)
    The dispersion, named as in :mod:`mixedrain.families`.
``nu`` (Student-t)
    The degrees of freedom: small, heavy tails; large, close to normal.

``<g>`` is the grouping label made a valid name (``g1:g2`` becomes ``g1_g2``,
:func:`mixedrain.glmm.safe_name`). Terms that share a grouping factor (lme4's
``(x || g)``, expanded to ``(1 | g) + (0 + x | g)``) share its variables.
``observed_data`` holds ``y`` over ``obs``, ``log_likelihood`` ``y`` and
``posterior_predictive`` ``y_rep`` (computed in NumPy from the draws, as
:func:`mixedrain.fit.add_pointwise` does), each row labelled by its levels
(coordinates ``obs_<g>``); ``constant_data`` holds the data the formula read
(and a binomial's ``trials``), so :func:`predict` can encode new data the same way:
each column under its own name, except a column named as the group keeps
something of its own (``obs``, ``trials``), which is stored as ``column_obs``
(``attrs["data_columns"]`` maps each column to its variable). A grouping factor
whose name the posterior keeps for itself (``chain``, ``draw``, ``fixed``, ...)
is refused with a named error before Stan is called.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from mixedrain.families import get_family
from mixedrain.glmm import (
    cholesky_from_cpc,
    conditional_group_effects,
    glmm_data,
    group_sums,
    load_glmm_program,
    safe_name,
    term_slices,
)

if TYPE_CHECKING:
    from mixedrain.formula import Design

#: What :func:`predict` can return for each new row and draw.
PREDICTION_KINDS = ("response", "mean", "link")


def fit_formula(formula: str, data: pd.DataFrame, family: str = "gaussian", **options) -> az.InferenceData:
    """Fit an lme4 formula to a DataFrame with Stan: ``fit_formula("Reaction ~ Days + (Days | Subject)", sleep)``.

    Parameters
    ----------
    formula : str
        An lme4 formula (:func:`mixedrain.formula.parse_formula` says what it accepts).
    data : pandas.DataFrame
        The rows, one per observation.
    family : {"gaussian", "binomial", "poisson", "gamma", "student_t"}
        The outcome's family, with its usual link (identity, logit, log, log,
        identity). ``"student_t"`` is brms's ``family = student()``: a
        heavy-tailed alternative to the Gaussian for data with outlying rows.
    **options
        Passed to :func:`fit_design`: ``priors``, ``integrated``, ``centered``, ``chains``,
        ``draws``, ``warmup``, ``seed``, ``prior_only``, ``pointwise``,
        ``quiet`` and sampler settings such as ``delta=0.95``.

    Returns
    -------
    arviz.InferenceData
        As :func:`fit_design` (the module's docstring lists the names).

    Examples
    --------
    >>> from mixedrain.data import load_sleepstudy  # doctest: +SKIP
    >>> idata = fit_formula("Reaction ~ Days + (Days | Subject)", load_sleepstudy())  # doctest: +SKIP
    >>> idata.posterior["sd_Subject"].sel(Subject_effect="Days").mean().item()  # doctest: +SKIP
    """
    from mixedrain.formula import parse_formula  # the formula front end; imported late so this module stands alone

    return fit_design(parse_formula(formula, data, family=family), **options)


def fit_design(
    design: Design,
    *,
    priors: dict[str, Any] | None = None,
    integrated: bool | None = None,
    centered: bool | Sequence[str] = False,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 1234,
    prior_only: bool = False,
    pointwise: bool = True,
    quiet: bool = True,
    **sampler_options,
) -> az.InferenceData:
    """Fit a formula's design with ``glmm.stan`` and name the draws.

    Parameters
    ----------
    design : Design
        From :func:`mixedrain.formula.parse_formula`.
    priors : dict, optional
        Overrides of the default priors (:func:`mixedrain.glmm.resolve_glmm_priors`).
    integrated : bool, optional
        Integrate the group effects out of the likelihood and draw them after
        sampling (exact, and fastest); by default whenever possible, for a
        Gaussian outcome with one grouping term (never for a Student-t). ``False`` samples them,
        non-centered.
    centered : bool or sequence of str
        Sample these terms' effects centered (``True`` for all, or grouping
        labels) rather than non-centered (:func:`mixedrain.glmm.glmm_data`).
    chains, draws, warmup, seed :
        As :func:`mixedrain.fit.fit_model`.
    prior_only : bool
        Sample from the prior (a prior predictive check); the draws go to the
        ``prior`` group and replicated data to ``prior_predictive``.
    pointwise : bool
        Add ``log_likelihood`` and replicated data, computed in NumPy.
    quiet : bool
        Keep PyStan's messages out of the output.
    **sampler_options
        Passed to ``stan.Model.sample``, e.g. ``delta=0.95``.

    Returns
    -------
    arviz.InferenceData
        Named as the module's docstring says; ``attrs`` record the formula,
        family, outcome, whether the effects were integrated out, and the
        build and sampling seconds.

    Warns
    -----
    mixedrain.fit.SamplingWarning
        If any transition diverged or any R-hat of a population-level
        parameter exceeds 1.01.
    """
    from mixedrain.engine import sample_program  # the engine; imported late to keep this module light

    for name, value in (("chains", chains), ("draws", draws), ("warmup", warmup), ("seed", seed)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < (0 if name == "warmup" else 1):
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    groupings(design)  # refuses grouping names the posterior keeps for itself, before Stan is called
    data = glmm_data(design, priors, integrated=integrated, centered=centered, prior_only=prior_only)
    fit, model, timings = sample_program(
        load_glmm_program(), data, chains=chains, draws=draws, warmup=warmup, seed=seed, quiet=quiet,
        label="glmm.stan", **sampler_options,
    )
    group = "prior" if prior_only else "posterior"
    raw = az.from_pystan(**{group: fit, f"{group}_model": model})
    stats_group = "sample_stats_prior" if prior_only else "sample_stats"
    draws_ds = name_draws(design, _raw_draws(fit, chains, draws), data, seed=seed)
    idata = az.InferenceData(**{group: draws_ds, stats_group: raw[stats_group]})
    idata.add_groups(observed_data=_observed(design), constant_data=_constant(design))
    if pointwise:
        idata = add_glmm_pointwise(idata, design, seed=seed)
    idata.attrs.update(
        formula=design.formula, family=design.family, outcome=design.outcome, program="glmm",
        integrated=int(data["integrated"]), prior_only=int(prior_only), **timings,
        data_columns=json.dumps(constant_names(design.frame.columns)),
        data_categories=json.dumps(_categories(design.frame)),
    )
    _warn_about_problems(idata, group)
    return idata


def _raw_draws(fit, chains: int, draws: int) -> dict[str, np.ndarray]:
    """Each parameter's draws, shape (chain, draw, ...), empty ones included (ArviZ's converter drops those)."""
    out = {}
    for name, dims in zip(fit.param_names, fit.dims):
        # PyStan puts the draws last, draw by draw with the chains interleaved (draw 0 of every chain,
        # then draw 1, ...), not chain after chain: reading them the other way would mix the chains,
        # and R-hat would no longer see chains that disagree.
        values = np.asarray(fit[name], dtype=float).reshape(*dims, draws, chains)
        out[name] = np.moveaxis(values, (-1, -2), (0, 1))
    return out


# ---- Names -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """One grouping factor's share of the posterior: the terms it gathers, their columns, its levels."""

    label: str                 # as in the formula, e.g. "g1:g2"
    name: str                  # as a valid name, e.g. "g1_g2"
    terms: tuple[int, ...]     # positions in design.terms
    columns: tuple[str, ...]   # every column of those terms, in order
    levels: tuple[str, ...]

    @property
    def effect_dim(self) -> str:
        return f"{self.name}_effect"

    @property
    def pair_dim(self) -> str:
        return f"{self.name}_pair"


def groupings(design: Design) -> list[Grouping]:
    """The design's grouping factors in order of first appearance, each gathering the terms that share it.

    Raises
    ------
    ValueError
        If two terms of one grouping factor disagree on its levels, or a
        grouping factor's name (or its ``_effect`` or ``_pair`` dimension)
        is one the posterior keeps for itself (:data:`POSTERIOR_NAMES`).
    """
    gathered: dict[str, list[int]] = {}
    for t, term in enumerate(design.terms):
        gathered.setdefault(term.grouping, []).append(t)
    out = []
    for label, positions in gathered.items():
        levels = tuple(str(level) for level in design.terms[positions[0]].levels)
        for t in positions[1:]:
            if tuple(str(level) for level in design.terms[t].levels) != levels:
                raise ValueError(f"the terms of grouping factor {label!r} disagree on its levels")
        columns = tuple(c for t in positions for c in design.terms[t].columns)
        out.append(Grouping(label, safe_name(label), tuple(positions), columns, levels))
    variables = {f"{prefix}_{g.name}" for g in out for prefix in ("sd", "effect", "corr")}
    for grouping in out:
        others = {d for g in out if g is not grouping for d in (g.name, g.effect_dim, g.pair_dim)}
        clash = sorted({grouping.name, grouping.effect_dim, grouping.pair_dim} & {*POSTERIOR_NAMES, *variables, *others})
        if clash:
            raise ValueError(
                f"grouping factor {grouping.label!r} would be named {clash[0]!r} in the posterior, a name taken "
                f"by the posterior itself ({', '.join(POSTERIOR_NAMES)}; sd_, effect_ and corr_ of each grouping "
                "factor) or by another grouping factor; rename the column"
            )
    return out


#: Names a formula fit's posterior keeps for itself: its dimensions and its variables. A grouping
#: factor named so would overwrite them. ``sample`` is not among them although ``az.extract`` stacks
#: chain and draw under that name: lme4's own crossed example (Penicillin, chapter 10) groups by a
#: column ``sample``, and nothing in the formula path calls ``az.extract``.
POSTERIOR_NAMES = ("chain", "draw", "fixed_term", "fixed", "sigma_y", "phi", "nu")

#: Names ``constant_data`` keeps for itself on its row dimension: the dimension, and a binomial's trials.
CONSTANT_DATA_NAMES = ("obs", "trials")


def constant_names(columns) -> dict[str, str]:
    """Each data column's variable name in ``constant_data``: its own, unless the group keeps that name for itself.

    Examples
    --------
    >>> constant_names(["herd", "obs", "column_obs"])
    {'herd': 'herd', 'obs': 'column_column_obs', 'column_obs': 'column_obs'}
    """
    columns = [str(column) for column in columns]
    taken = {*CONSTANT_DATA_NAMES, *columns}
    names = {}
    for column in columns:
        name = column
        while name in CONSTANT_DATA_NAMES or (name != column and name in taken):
            name = f"column_{name}"
        taken.add(name)
        names[column] = name
    return names


def _pairs(columns: tuple[str, ...]) -> list[tuple[int, int, str]]:
    return [(a, b, f"{columns[a]}, {columns[b]}") for b in range(len(columns)) for a in range(b)]


def name_draws(design: Design, raw: dict[str, np.ndarray], data: dict, *, seed: int = 0) -> xr.Dataset:
    """The program's raw draws (``beta``, ``tau``, ``cpc``, ``z``, ...) as the named variables of the module's docstring.

    For an integrated fit, each level's effects are drawn here from their exact
    conditional (:func:`mixedrain.glmm.conditional_group_effects`).

    Parameters
    ----------
    design : Design
        The design that was fitted.
    raw : dict
        Each Stan parameter's draws, shape (chain, draw, ...).
    data : dict
        The program's data (:func:`mixedrain.glmm.glmm_data`).
    seed : int
        Seed for the integrated effects' draws.
    """
    chains, draws = raw["beta"].shape[:2]
    beta = raw["beta"].reshape(chains, draws, -1)
    tau = raw["tau"].reshape(chains, draws, -1)
    cpc = raw["cpc"].reshape(chains, draws, -1)
    slices = term_slices(design)
    scales, correlations = [], []
    for term, where in zip(design.terms, slices):
        K = len(term.columns)
        L = cholesky_from_cpc(cpc[..., where.cpc], K) if where.cpc.stop > where.cpc.start else np.broadcast_to(np.eye(K), (chains, draws, K, K))
        scales.append(tau[..., where.columns, None] * L)
        correlations.append(L @ np.swapaxes(L, -1, -2))
    if data["integrated"]:
        effects = [_integrated_effects(design, data, beta, scales[0], raw["sigma"].reshape(chains, draws), seed)]
    else:
        z = raw["z"].reshape(chains, draws, -1)
        effects = []
        for term, where, S, centered in zip(design.terms, slices, scales, data["centered"]):
            w = z[..., where.effects].reshape(chains, draws, len(term.levels), len(term.columns))
            effects.append(w if centered else np.einsum("cdkl,cdjl->cdjk", S, w))
    dims2 = ("chain", "draw")
    variables: dict[str, Any] = {"fixed": (dims2 + ("fixed_term",), beta)}
    coords: dict[str, Any] = {"chain": np.arange(chains), "draw": np.arange(draws), "fixed_term": list(design.fixed)}
    for grouping in groupings(design):
        coords[grouping.name] = list(grouping.levels)
        coords[grouping.effect_dim] = list(grouping.columns)
        sds = np.concatenate([tau[..., slices[t].columns] for t in grouping.terms], axis=-1)
        variables[f"sd_{grouping.name}"] = (dims2 + (grouping.effect_dim,), sds)
        variables[f"effect_{grouping.name}"] = (
            dims2 + (grouping.name, grouping.effect_dim), np.concatenate([effects[t] for t in grouping.terms], axis=-1)
        )
        pairs, values = [], []
        for t in grouping.terms:
            if slices[t].cpc.stop > slices[t].cpc.start:
                for a, b, label in _pairs(design.terms[t].columns):
                    pairs.append(label)
                    values.append(correlations[t][..., a, b])
        if pairs:
            coords[grouping.pair_dim] = pairs
            variables[f"corr_{grouping.name}"] = (dims2 + (grouping.pair_dim,), np.stack(values, axis=-1))
    family = get_family(design.family)
    if family.dispersion == "sigma_y":
        variables["sigma_y"] = (dims2, raw["sigma"].reshape(chains, draws))
    elif family.dispersion == "phi":
        variables["phi"] = (dims2, raw["phi"].reshape(chains, draws))
    if family.tail is not None:
        variables[family.tail] = (dims2, raw[family.tail].reshape(chains, draws))
    return xr.Dataset(variables, coords=coords)


def _integrated_effects(design, data, beta, scale, sigma, seed) -> np.ndarray:
    term = design.terms[0]
    codes = np.asarray(term.codes)
    r = np.asarray(design.y, dtype=float) - np.asarray(design.offset, dtype=float)
    if data["prior_only"]:  # nothing to condition on: the sums of no rows
        codes, r = codes[:0], r[:0]
        Z, X = np.zeros((0, len(term.columns))), np.zeros((0, len(design.fixed)))
    else:
        Z, X = np.asarray(term.Z, dtype=float)[: r.size], np.asarray(design.X, dtype=float)
    ztz, ztx, ztr = group_sums(Z, X, r, codes, len(term.levels))
    residual = ztr - np.einsum("jkp,cdp->cdjk", ztx, beta)  # Z_j'(r_j - X_j beta)
    return conditional_group_effects(scale, sigma, ztz, residual, np.random.default_rng([seed, 2]))


def _level_labels(grouping: Grouping, term) -> np.ndarray:
    codes = np.asarray(term.codes)
    labels = np.asarray(grouping.levels, dtype=object)[np.clip(codes, 0, None)]
    return np.where(codes >= 0, labels, None)


def _observed(design: Design) -> xr.Dataset:
    coords = {"obs": np.arange(len(design.y)), **_where(design)}
    return xr.Dataset({"y": ("obs", np.asarray(design.y, dtype=float))}, coords=coords)


def _where(design: Design) -> dict:
    return {
        f"obs_{grouping.name}": ("obs", _level_labels(grouping, design.terms[grouping.terms[0]]).astype(str))
        for grouping in groupings(design)
    }


def _constant(design: Design) -> xr.Dataset:
    frame = design.frame.reset_index(drop=True)
    names = constant_names(frame.columns)
    variables = {names[str(column)]: ("obs", plain_values(frame[column])) for column in frame.columns}
    if design.trials is not None:
        variables["trials"] = ("obs", np.asarray(design.trials, dtype=float))
    return xr.Dataset(variables, coords={"obs": np.arange(len(frame))})


def _categories(frame: pd.DataFrame) -> dict[str, dict]:
    """Each categorical column's categories (as str) and order flag: the order sets the reference level."""
    return {
        str(name): {"categories": [str(c) for c in column.cat.categories], "ordered": bool(column.cat.ordered)}
        for name, column in frame.items()
        if isinstance(column.dtype, pd.CategoricalDtype)
    }


def plain_values(column: pd.Series) -> np.ndarray:
    """A column as plain NumPy values (categorical and text labels as ``str``), which xarray and NetCDF keep."""
    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
        return column.astype(str).to_numpy()
    return column.to_numpy()


# ---- Linear predictor, pointwise log-likelihood and replicated data ---------------------------------


def linear_predictor(design: Design, draws: xr.Dataset, effects: list[np.ndarray] | None = None) -> np.ndarray:
    """``eta = offset + X beta + sum_t Z_t b_t[level]`` for every draw and row of ``design``, shape (chain, draw, N).

    ``effects`` gives each term's effects per row, shape (chain, draw, N, K_t);
    by default they are read from ``draws`` (every level seen).
    """
    beta = draws["fixed"].transpose("chain", "draw", "fixed_term").to_numpy()
    eta = np.asarray(design.offset, dtype=float) + np.einsum("np,cdp->cdn", np.asarray(design.X, dtype=float), beta)
    if effects is None:
        effects = _seen_effects(design, draws)
    for term, per_row in zip(design.terms, effects):
        Z = np.asarray(term.Z, dtype=float)
        for k in range(Z.shape[1]):
            eta += Z[:, k] * per_row[..., k]
    return eta


def _seen_effects(design: Design, draws: xr.Dataset) -> list[np.ndarray]:
    """Each term's effects at each row's level, shape (chain, draw, N, K_t), from the named draws."""
    out = []
    names = {t: g for g in groupings(design) for t in g.terms}
    for t, term in enumerate(design.terms):
        grouping = names[t]
        b = draws[f"effect_{grouping.name}"].sel({grouping.effect_dim: list(term.columns)})
        b = b.transpose("chain", "draw", grouping.name, grouping.effect_dim).to_numpy()
        out.append(b[:, :, np.asarray(term.codes)])
    return out


def _family_parameters(family, draws: xr.Dataset) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The family's dispersion and tail draws, shape (chain, draw, 1) to broadcast over rows (None where it has none)."""
    return tuple(
        None if name is None else draws[name].transpose("chain", "draw").to_numpy()[..., None]
        for name in (family.dispersion, family.tail)
    )


def add_glmm_pointwise(idata: az.InferenceData, design: Design, *, seed: int = 0) -> az.InferenceData:
    """Add each row's log-likelihood and replicated data ``y_rep``, computed from the draws in NumPy.

    As :func:`mixedrain.fit.add_pointwise` does for the catalogue: a prior fit
    gets only ``prior_predictive``.
    """
    group = "prior" if "prior" in idata.groups() and "posterior" not in idata.groups() else "posterior"
    draws = idata[group]
    family = get_family(design.family)
    eta = linear_predictor(design, draws)
    dispersion, tail = _family_parameters(family, draws)
    trials = None if design.trials is None else np.asarray(design.trials, dtype=float)
    coords = {"chain": draws["chain"].to_numpy(), "draw": draws["draw"].to_numpy(), "obs": np.arange(eta.shape[-1]), **_where(design)}
    dims = ("chain", "draw", "obs")
    rng = np.random.default_rng([seed, 4])
    replicated = family.draw(rng, eta, dispersion, trials, tail)
    extra = {f"{group}_predictive": xr.Dataset({"y_rep": (dims, replicated)}, coords=coords)}
    if group == "posterior":
        y = np.asarray(design.y, dtype=float)
        extra["log_likelihood"] = xr.Dataset({"y": (dims, family.log_density(y, eta, dispersion, trials, tail))}, coords=coords)
    out = idata.copy()
    for name in extra:
        if name in out.groups():
            del out[name]
    out.add_groups(**extra)
    return out


# ---- Prediction -------------------------------------------------------------------------------------


def predict(
    idata: az.InferenceData,
    new: Design | pd.DataFrame,
    *,
    kind: str = "response",
    seed: int = 0,
) -> pd.DataFrame:
    """Posterior predictive draws for new rows, on the outcome's scale, for seen and new groups.

    For a row whose level was in the data, each draw uses that level's
    effects. For a level the fit never saw, each draw first draws the level's
    effects from the fitted population, ``b = S e`` with ``e ~ N(0, I)`` and
    ``S = diag(sd) L`` the draw's Cholesky scale (correlated where the term
    is), as chapter 4 draws a new state; rows of one new level share its
    draw (the level is read from the new rows' grouping columns, e.g. ``g1``
    and ``g2`` for ``g1:g2``; where they are missing each row is its own new
    level). So a new level's predictions carry the spread between levels as
    well as the uncertainty about the population.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`fit_formula` (or :func:`fit_design`).
    new : Design or pandas.DataFrame
        The new rows, as a design (:func:`mixedrain.formula.new_data_design`)
        or as a DataFrame with the formula's columns (the outcome may be
        missing), encoded as the fitted data were.
    kind : {"response", "mean", "link"}
        ``"response"``: replicated outcomes (counts of successes out of the
        new rows' trials for a binomial, 1 trial where they have none);
        ``"mean"``: the expected outcome (a binomial's ``trials * p``, the
        probability itself for one trial); ``"link"``: the linear predictor.
    seed : int
        Seed for the new levels' effects and the replicated outcomes.

    Returns
    -------
    pandas.DataFrame
        One row per new row and posterior draw: the new rows' columns, then
        ``row`` (position in ``new``), ``draw`` (0 to chains x draws - 1),
        ``seen`` (every level of the row was in the data) and ``prediction``.
        ``attrs["kind"]`` says which kind.

    Examples
    --------
    >>> draws = predict(idata, pd.DataFrame({"Days": [3], "Subject": ["new"]}))  # doctest: +SKIP
    >>> draws.groupby("row")["prediction"].quantile([0.05, 0.95])  # doctest: +SKIP
    """
    if kind not in PREDICTION_KINDS:
        raise ValueError(f"kind must be one of {PREDICTION_KINDS}, got {kind!r}")
    if "posterior" not in idata.groups():
        raise ValueError("idata has no posterior to predict from")
    design = new if not isinstance(new, pd.DataFrame) else _new_design(idata, new)
    posterior = idata.posterior
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    rng = np.random.default_rng([seed, 5])
    known = {g.label: g for g in groupings_from_posterior(posterior, design)}
    effects, seen = [], np.ones(len(design.X), dtype=bool)
    for term in design.terms:
        grouping = known[term.grouping]
        codes = np.asarray(term.codes)
        seen &= codes >= 0
        b = posterior[f"effect_{grouping.name}"].sel({grouping.effect_dim: list(term.columns)})
        b = b.transpose("chain", "draw", grouping.name, grouping.effect_dim)
        labels = np.asarray(term.levels, dtype=object)[np.clip(codes, 0, None)] if len(term.levels) else np.full(codes.size, None)
        per_row = np.zeros((chains, draws, codes.size, len(term.columns)))
        old = codes >= 0
        if old.any():
            per_row[:, :, old] = b.sel({grouping.name: [str(label) for label in labels[old]]}).to_numpy()
        if (~old).any():
            new_levels = _new_level_ids(design, term, ~old)
            scale = term_scale(posterior, grouping, term)
            fresh = np.einsum("cdkl,cdjl->cdjk", scale, rng.standard_normal((chains, draws, new_levels.max() + 1, len(term.columns))))
            per_row[:, :, ~old] = fresh[:, :, new_levels]
        effects.append(per_row)
    eta = linear_predictor(design, posterior, effects)
    family = get_family(idata.attrs.get("family", design.family))
    trials = np.ones(eta.shape[-1]) if design.trials is None else np.asarray(design.trials, dtype=float)
    if kind == "link":
        value = eta
    elif kind == "mean":
        value = family.mean(eta) * (trials if family.name == "binomial" else 1)
    else:
        dispersion, tail = _family_parameters(family, posterior)
        value = family.draw(rng, eta, dispersion, trials if family.name == "binomial" else None, tail)
    n_rows, n_draws = eta.shape[-1], chains * draws
    frame = design.frame.reset_index(drop=True)
    out = frame.iloc[np.repeat(np.arange(n_rows), n_draws)].reset_index(drop=True) if len(frame) == n_rows else pd.DataFrame(index=range(n_rows * n_draws))
    out = out.assign(
        row=np.repeat(np.arange(n_rows), n_draws),
        draw=np.tile(np.arange(n_draws), n_rows),
        seen=np.repeat(seen, n_draws),
        prediction=value.reshape(n_draws, n_rows).T.reshape(-1),
    )
    out.attrs["kind"] = kind
    return out


def groupings_from_posterior(posterior: xr.Dataset, design: Design) -> list[Grouping]:
    """The fit's groupings for the terms of ``design``, with the levels the fit saw (from the posterior's coordinates)."""
    out = []
    for label in dict.fromkeys(term.grouping for term in design.terms):
        name = safe_name(label)
        if f"effect_{name}" not in posterior:
            raise ValueError(f"the fit has no grouping factor {label!r}")
        positions = tuple(t for t, term in enumerate(design.terms) if term.grouping == label)
        levels = tuple(str(v) for v in posterior[name].to_numpy())
        columns = tuple(str(v) for v in posterior[f"{name}_effect"].to_numpy())
        out.append(Grouping(label, name, positions, columns, levels))
    return out


def term_scale(posterior: xr.Dataset, grouping: Grouping, term) -> np.ndarray:
    """A term's Cholesky scale ``S = diag(sd) L`` per draw, shape (chain, draw, K, K), from the named draws."""
    columns = list(term.columns)
    sd = posterior[f"sd_{grouping.name}"].sel({grouping.effect_dim: columns}).transpose("chain", "draw", ...).to_numpy()
    K = len(columns)
    omega = np.broadcast_to(np.eye(K), (*sd.shape[:2], K, K)).copy()
    corr = f"corr_{grouping.name}"
    if term.correlated and K > 1 and corr in posterior:
        for a, b, label in _pairs(term.columns):
            omega[..., a, b] = omega[..., b, a] = posterior[corr].sel({grouping.pair_dim: label}).to_numpy()
    return sd[..., :, None] * np.linalg.cholesky(omega)


def _new_level_ids(design: Design, term, rows: np.ndarray) -> np.ndarray:
    """0, 1, ... for the distinct new levels among ``rows``, read from the grouping columns where the frame has them."""
    parts = str(term.grouping).split(":")
    frame = design.frame.reset_index(drop=True)
    if len(frame) == len(rows) and all(part in frame.columns for part in parts):
        labels = frame.loc[rows, parts].astype(str).agg(":".join, axis=1)
        return pd.factorize(labels)[0]
    return np.arange(int(rows.sum()))


def _new_design(idata: az.InferenceData, new_data: pd.DataFrame) -> Design:
    from mixedrain.formula import new_data_design, parse_formula

    names = json.loads(idata.attrs["data_columns"])
    frame = pd.DataFrame({column: idata.constant_data[name].to_numpy() for column, name in names.items()})
    for column, categorical in json.loads(idata.attrs.get("data_categories", "{}")).items():
        frame[column] = pd.Categorical(frame[column], categories=categorical["categories"], ordered=categorical["ordered"])
    fitted = parse_formula(idata.attrs["formula"], frame, family=idata.attrs["family"])
    return new_data_design(fitted, new_data)


def _warn_about_problems(idata: az.InferenceData, group: str) -> None:
    from mixedrain.fit import warn_about_problems

    names = [n for n in idata[group].data_vars if not n.startswith("effect_")]
    warn_about_problems(idata, group, names, "Try a higher delta (e.g. delta=0.95), or integrated=True where possible.")
