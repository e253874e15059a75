"""The general mixed model behind lme4 formulas: its Stan program's data, its priors, its maths in NumPy.

One compiled program, ``stan/glmm.stan``, fits every formula (rstanarm's
approach): the family, the fixed-effect matrix, the offset and any number of
grouping terms arrive as data. A formula becomes a
:class:`mixedrain.formula.Design` (``parse_formula``); this module turns a
design into the program's data with data-scaled default priors, and states in
NumPy what the fitting code needs outside Stan: the correlation matrices from
their partial correlations, and the exact conditional draws of the group
effects that the integrated form leaves out of the sampler.

Ragged layout. Term ``t`` has ``K_t`` columns and ``J_t`` levels. Its columns
sit side by side in ``Z`` (``N x sum K``), its SDs in ``tau`` and
``prior_sd_scale`` in the same order; its ``K_t * J_t`` standardised effects
follow one another in ``z``, level by level (level ``j``'s ``K_t`` values
together); a correlated term's ``K_t (K_t - 1) / 2`` canonical partial
correlations follow one another in ``cpc``. :func:`term_slices` gives each
term's slices, and the program recomputes the same running sums.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special, stats

from mixedrain.models import FORMULA_PROGRAM, load_program

if TYPE_CHECKING:  # the formula front end; imported only for type hints, so this module works without it
    from mixedrain.formula import Design

#: The program's code for each family, and the families it fits.
FAMILY_CODES: dict[str, int] = {"gaussian": 1, "binomial": 2, "poisson": 3, "gamma": 4, "student_t": 5}

#: The Student-t's degrees of freedom are at least this (brms's bound for ``family = student()``): below 1
#: the t has no mean, tails heavier than any data this book meets call for. glmm.stan reads it as data.
NU_LOWER = 1.0

#: The ``.stan`` file (without suffix) in ``mixedrain/stan``; the catalogue lists it among the programs it compiles.
PROGRAM = FORMULA_PROGRAM

#: The prior settings the program reads, for :func:`default_glmm_priors` overrides.
PRIOR_SETTINGS: tuple[str, ...] = (
    "prior_fixed_mean", "prior_fixed_sd", "prior_sd_scale", "prior_lkj_eta",
    "prior_sigma_sd", "prior_phi_shape", "prior_phi_rate", "prior_nu_shape", "prior_nu_rate",
)


def load_glmm_program() -> str:
    """Text of ``glmm.stan``, the one program behind every formula.

    Examples
    --------
    >>> "cholesky_from_cpc" in load_glmm_program()
    True
    """
    return load_program(PROGRAM)


@dataclass(frozen=True)
class TermSlices:
    """Where one grouping term's pieces sit in the program's flat arrays (0-based, end exclusive)."""

    columns: slice  # in Z, tau and prior_sd_scale
    effects: slice  # in z
    cpc: slice      # in cpc (empty unless correlated with K > 1)


def term_slices(design: Design) -> list[TermSlices]:
    """Each grouping term's slices of the flat arrays, in the program's order.

    Examples
    --------
    >>> from types import SimpleNamespace as T
    >>> terms = (T(columns=("Intercept", "x"), levels=("a", "b", "c"), correlated=True),
    ...          T(columns=("Intercept",), levels=("u", "v"), correlated=False))
    >>> [(s.columns, s.effects, s.cpc) for s in term_slices(T(terms=terms))]
    [(slice(0, 2, None), slice(0, 6, None), slice(0, 1, None)), (slice(2, 3, None), slice(6, 8, None), slice(1, 1, None))]
    """
    out, column, effect, cpc = [], 0, 0, 0
    for term in design.terms:
        K, J = len(term.columns), len(term.levels)
        n_cpc = K * (K - 1) // 2 if term.correlated else 0
        out.append(TermSlices(slice(column, column + K), slice(effect, effect + K * J), slice(cpc, cpc + n_cpc)))
        column, effect, cpc = column + K, effect + K * J, cpc + n_cpc
    return out


def can_integrate(design: Design) -> bool:
    """Whether the group effects can be integrated out exactly: a Gaussian outcome and one grouping term."""
    return design.family == "gaussian" and len(design.terms) == 1


def _three_figures(value: float) -> float:
    return float(f"{value:.3g}")


def _is_intercept(column: np.ndarray) -> bool:
    return bool(np.all(column == 1))


def _column_scale(column: np.ndarray, name: str, where: str) -> float:
    """The column's sd, to scale a slope's prior; 0 for an intercept column (all ones)."""
    if _is_intercept(column):
        return 0.0
    spread = float(np.std(column, ddof=1)) if column.size > 1 else 0.0
    if not spread > 0:
        raise ValueError(f"{where} column {name!r} takes a single value, so its slope cannot be estimated")
    return spread


def default_glmm_priors(design: Design) -> dict[str, Any]:
    """Weakly informative priors scaled to the data, by the rule the book states for its Gaussian models.

    The rule is rstanarm's, applied to each column of ``X`` and ``Z``. For a
    Gaussian outcome with mean ``m`` and sd ``s_y``, and a column with sd
    ``s_x``: the intercept ``~ N(m, 2.5 s_y)``, a slope ``~ N(0, 2.5 s_y /
    s_x)``; each group-effect SD half-normal with scale ``s_y`` (an intercept
    column) or ``s_y / s_x`` (a slope); ``sigma_y ~ N+(0, s_y)``; each
    correlated term's correlation matrix ``LKJ(2)``. These are
    :func:`mixedrain.models.default_priors`' values whenever a formula states
    a catalogue model. The Student-t family (identity link) takes the
    Gaussian's values, ``sigma_y`` now its scale, and gives its degrees of
    freedom ``nu ~ Gamma(2, 0.1)`` truncated below at :data:`NU_LOWER`
    (brms's default for ``family = student()``, after Juárez and Steel 2010:
    a mean of 20, close to normal, with room for heavy tails at ``nu`` of 2 to
    5). The other families work on the link scale, where the
    outcome's units do not enter: the intercept is centred on the link of the
    overall mean (the log of the total count per unit of exposure ``exp(offset)``,
    or the logit of the overall proportion, nudged by half a success off 0 and
    1), with sd 2.5, slopes ``N(0, 2.5 / s_x)`` and SD scales 1 and ``1 / s_x``
    (rstanarm's scales on the link); the Gamma family keeps chapter 7's scales
    (:func:`mixedrain.models.default_priors`: 0.5 and 0.2 in place of 2.5, SD
    scales 0.5 and ``0.2 / s_x``) and shape ``phi ~ Gamma(2, 0.1)``. An
    intercept column is a column of ones; ``X`` is not centred, so the
    intercept is the linear predictor where the other columns are 0. Each
    value is rounded to three significant figures, so a table shows what Stan
    receives.

    Parameters
    ----------
    design : Design
        The formula's design (:func:`mixedrain.formula.parse_formula`).

    Returns
    -------
    dict
        ``prior_fixed_mean``, ``prior_fixed_sd`` (one per column of ``X``),
        ``prior_sd_scale`` (one per column of the terms, in order),
        ``prior_lkj_eta`` (one per term), ``prior_sigma_sd``,
        ``prior_phi_shape``, ``prior_phi_rate``, ``prior_nu_shape`` and
        ``prior_nu_rate`` (placeholders of 1 where the family has no such
        parameter).

    Raises
    ------
    ValueError
        If the outcome, or a column that is not an intercept, takes a single value.

    Examples
    --------
    >>> design = _example_design()
    >>> priors = default_glmm_priors(design)
    >>> priors["prior_fixed_mean"].tolist(), priors["prior_sd_scale"].tolist()
    ([3.0, 0.0], [1.41, 2.58])
    """
    if design.family not in FAMILY_CODES:
        raise ValueError(f"unknown family {design.family!r}; choose one of {sorted(FAMILY_CODES)}")
    y = np.asarray(design.y, dtype=float)
    offset = np.asarray(design.offset, dtype=float)
    if design.family in ("gaussian", "student_t"):
        s_y = float(np.std(y - offset, ddof=1)) if y.size > 1 else 0.0
        if not s_y > 0:
            raise ValueError(f"the outcome {design.outcome!r} takes a single value: there is nothing to model")
        centre, fixed_unit, effect_unit = float(np.mean(y - offset)), 2.5 * s_y, s_y
    elif design.family == "gamma":
        centre, fixed_unit, effect_unit = math.log(y.sum() / np.exp(offset).sum()), 0.5, 0.5
    elif design.family == "poisson":
        centre, fixed_unit, effect_unit = math.log((y.sum() + 0.5) / np.exp(offset).sum()), 2.5, 1.0
    else:
        trials = np.asarray(design.trials, dtype=float)
        centre, fixed_unit, effect_unit = float(special.logit((y.sum() + 0.5) / (trials.sum() + 1))), 2.5, 1.0
    slope_unit = 0.2 if design.family == "gamma" else fixed_unit  # the fixed slope's scale, before / s_x
    X = np.asarray(design.X, dtype=float)
    fixed_mean, fixed_sd = [], []
    for p, name in enumerate(design.fixed):
        spread = _column_scale(X[:, p], name, "fixed-effect")
        fixed_mean.append(centre if spread == 0 else 0.0)
        fixed_sd.append(fixed_unit if spread == 0 else slope_unit / spread)
    effect_slope_unit = 0.2 if design.family == "gamma" else effect_unit
    sd_scale = []
    for term in design.terms:
        Z = np.asarray(term.Z, dtype=float)
        for k, name in enumerate(term.columns):
            spread = _column_scale(Z[:, k], name, f"grouping term {term.grouping!r}:")
            sd_scale.append(effect_unit if spread == 0 else effect_slope_unit / spread)
    gaussian, gamma, student_t = design.family in ("gaussian", "student_t"), design.family == "gamma", design.family == "student_t"
    values = {
        "prior_fixed_mean": fixed_mean,
        "prior_fixed_sd": fixed_sd,
        "prior_sd_scale": sd_scale,
        "prior_lkj_eta": [2.0] * len(design.terms),
        "prior_sigma_sd": effect_unit if gaussian else 1.0,
        "prior_phi_shape": 2.0 if gamma else 1.0,
        "prior_phi_rate": 0.1 if gamma else 1.0,
        "prior_nu_shape": 2.0 if student_t else 1.0,
        "prior_nu_rate": 0.1 if student_t else 1.0,
    }
    return {key: _rounded(value) for key, value in values.items()}


def _rounded(value):
    if isinstance(value, list):
        return np.array([_three_figures(v) for v in value], dtype=float)
    return _three_figures(value)


def prior_labels(design: Design) -> dict[str, list[str]]:
    """The names of the entries of each vector-valued prior setting, for overrides and tables.

    Fixed effects by column name; SD scales as ``"column|grouping"`` (lme4's
    notation, e.g. ``"Days|Subject"``, the intercept as ``"1|Subject"``); LKJ
    shapes by grouping label (with ``#2``, ``#3`` after a repeated one).

    Examples
    --------
    >>> prior_labels(_example_design())["prior_sd_scale"]
    ['1|g', 'x|g']
    """
    terms = []
    seen: dict[str, int] = {}
    for term in design.terms:
        seen[term.grouping] = seen.get(term.grouping, 0) + 1
        terms.append(term.grouping if seen[term.grouping] == 1 else f"{term.grouping}#{seen[term.grouping]}")
    return {
        "prior_fixed_mean": list(design.fixed),
        "prior_fixed_sd": list(design.fixed),
        "prior_sd_scale": [f"{_lme4_column(c)}|{term.grouping}" for term in design.terms for c in term.columns],
        "prior_lkj_eta": terms,
    }


def _lme4_column(name: str) -> str:
    return "1" if name == "Intercept" else name


def resolve_glmm_priors(design: Design, priors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default priors for ``design`` with ``priors`` laid over them, checked.

    An override of a vector setting may be one number (for every entry), a
    sequence of the right length, or a mapping from entry names
    (:func:`prior_labels`) to numbers, which replaces just those.

    Raises
    ------
    ValueError
        For an unknown setting or entry name, a wrong length, a value that is
        not a finite number, or a scale, shape, rate or ``eta`` that is not positive.

    Examples
    --------
    >>> resolve_glmm_priors(_example_design(), {"prior_sd_scale": {"x|g": 2}})["prior_sd_scale"].tolist()
    [1.41, 2.0]
    >>> resolve_glmm_priors(_example_design(), {"prior_sd_scale": {"z|g": 2}})
    Traceback (most recent call last):
    ...
    ValueError: prior_sd_scale has no entry 'z|g'; its entries are ['1|g', 'x|g']
    """
    values = default_glmm_priors(design)
    labels = prior_labels(design)
    unknown = sorted(set(priors or {}) - set(PRIOR_SETTINGS))
    if unknown:
        raise ValueError(f"unknown prior setting(s) {unknown}; known: {list(PRIOR_SETTINGS)}")
    for key, override in (priors or {}).items():
        if key not in labels:
            values[key] = override
            continue
        current = values[key].copy()
        if isinstance(override, dict):
            for name, value in override.items():
                if name not in labels[key]:
                    raise ValueError(f"{key} has no entry {name!r}; its entries are {labels[key]}")
                current[labels[key].index(name)] = value
        elif np.ndim(override) == 0:
            current[:] = override
        else:
            if len(override) != current.size:
                raise ValueError(f"{key} needs {current.size} values ({labels[key]}), got {len(override)}")
            current = np.asarray(override)
        values[key] = current
    for key, value in values.items():
        array = np.atleast_1d(np.asarray(value))
        if array.dtype.kind not in "iuf" or not np.all(np.isfinite(array)):
            raise ValueError(f"prior setting {key} must hold finite numbers, got {value!r}")
        if not key.endswith("_mean") and not np.all(array > 0):
            raise ValueError(f"prior setting {key} must be positive, got {value!r}")
        values[key] = np.asarray(value, dtype=float) if key in labels else float(value)
    return values


def glmm_data(
    design: Design,
    priors: dict[str, Any] | None = None,
    *,
    integrated: bool | None = None,
    centered: bool | Sequence[str] = False,
    prior_only: bool = False,
) -> dict:
    """Everything ``glmm.stan`` reads for ``design``: rows, terms, priors and switches.

    Parameters
    ----------
    design : Design
        The formula's design, every level seen (no code -1).
    priors : dict, optional
        Overrides of :func:`default_glmm_priors` (see :func:`resolve_glmm_priors`).
    integrated : bool, optional
        Integrate the group effects out of the likelihood. By default, whenever
        possible (:func:`can_integrate`): a Gaussian outcome with one grouping term.
    centered : bool or sequence of str
        Where the effects are sampled, sample them centered (the effects
        themselves) rather than non-centered (standardised, the default):
        ``True`` for every term, or the grouping labels of the terms to center.
        Centered suits levels with many informative rows; non-centered, few.
    prior_only : bool
        Switch the likelihood off, for a prior predictive check.

    Raises
    ------
    ValueError
        If ``integrated`` is asked for where it is not possible, the family is
        unknown, or the design's arrays disagree in shape.

    Examples
    --------
    >>> data = glmm_data(_example_design())
    >>> data["N"], data["P"], data["T"], data["K"], data["J"], data["integrated"]
    (6, 2, 1, [2], [3], 1)
    """
    _check_design(design)
    if integrated is None:
        integrated = can_integrate(design)
    if integrated and not can_integrate(design):
        raise ValueError(
            "the group effects can be integrated out only for a Gaussian outcome with one grouping term; "
            f"this design has a {design.family} outcome and {len(design.terms)} grouping term(s)"
        )
    N = len(design.y)
    family = design.family
    y = np.asarray(design.y)
    continuous = family in ("gaussian", "gamma", "student_t")
    return {
        "N": N,
        "family": FAMILY_CODES[family],
        "P": len(design.fixed),
        "X": np.asarray(design.X, dtype=float).reshape(N, len(design.fixed)),
        "offset_": np.asarray(design.offset, dtype=float),
        "y_real": y.astype(float) if continuous else np.zeros(0),
        "y_int": np.zeros(0, dtype=int) if continuous else np.rint(y).astype(int),
        "trials": np.rint(np.asarray(design.trials)).astype(int) if family == "binomial" else np.zeros(0, dtype=int),
        "T": len(design.terms),
        "K": [len(term.columns) for term in design.terms],
        "J": [len(term.levels) for term in design.terms],
        "correlated": [int(term.correlated and len(term.columns) > 1) for term in design.terms],
        "Z": np.column_stack([np.asarray(term.Z, dtype=float) for term in design.terms]) if design.terms else np.zeros((N, 0)),
        "level": np.array([np.asarray(term.codes) + 1 for term in design.terms], dtype=int).reshape(len(design.terms), N),
        **resolve_glmm_priors(design, priors),
        "nu_lower": NU_LOWER,
        "centered": _centered_terms(design, centered),
        "integrated": int(bool(integrated)),
        "prior_only": int(prior_only),
    }


def _centered_terms(design: Design, centered: bool | Sequence[str]) -> list[int]:
    if isinstance(centered, (bool, np.bool_)):
        return [int(centered)] * len(design.terms)
    labels = [str(label) for label in ([centered] if isinstance(centered, str) else centered)]
    unknown = sorted(set(labels) - {term.grouping for term in design.terms})
    if unknown:
        raise ValueError(f"centered names {unknown}, which are not grouping factors of the formula")
    return [int(term.grouping in labels) for term in design.terms]


def _check_design(design: Design) -> None:
    if design.family not in FAMILY_CODES:
        raise ValueError(f"unknown family {design.family!r}; choose one of {sorted(FAMILY_CODES)}")
    N = len(design.y)
    if np.asarray(design.X).shape != (N, len(design.fixed)):
        raise ValueError(f"X has shape {np.asarray(design.X).shape}, not (rows, fixed effects) = ({N}, {len(design.fixed)})")
    if design.family == "binomial" and (design.trials is None or len(design.trials) != N):
        raise ValueError("a binomial design needs one number of trials per row")
    for term in design.terms:
        if np.asarray(term.Z).shape != (N, len(term.columns)):
            raise ValueError(f"term {term.grouping!r}: Z has shape {np.asarray(term.Z).shape}, not ({N}, {len(term.columns)})")
        codes = np.asarray(term.codes)
        if codes.shape != (N,) or codes.min(initial=0) < 0 or codes.max(initial=0) >= len(term.levels):
            raise ValueError(f"term {term.grouping!r}: every row's code must be a level of the fit, 0 to {len(term.levels) - 1}")
    per_grouping: dict[str, list[str]] = {}
    for term in design.terms:
        columns = per_grouping.setdefault(term.grouping, [])
        repeated = sorted(set(columns) & set(term.columns))
        if repeated:
            raise ValueError(f"grouping factor {term.grouping!r} has column(s) {repeated} in more than one term")
        columns.extend(term.columns)


# ---- The program's maths in NumPy ----------------------------------------------------------------


def cholesky_from_cpc(cpc: np.ndarray, K: int) -> np.ndarray:
    """Cholesky factors of ``K x K`` correlation matrices from canonical partial correlations, as glmm.stan builds them.

    ``cpc[..., :]`` holds ``K (K - 1) / 2`` values in ``(-1, 1)``, row by row:
    ``(2,1), (3,1), (3,2), (4,1), ...``; the ``(i, j)`` one is the partial
    correlation of ``i`` and ``j`` given ``1 .. j-1``. Leading dimensions are
    kept (one factor per draw).

    Examples
    --------
    >>> L = cholesky_from_cpc(np.array([0.5]), 2)
    >>> (L @ L.T).round(3).tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    cpc = np.asarray(cpc, dtype=float)
    L = np.zeros((*cpc.shape[:-1], K, K))
    L[..., 0, 0] = 1.0
    position = 0
    for i in range(1, K):
        remaining = np.ones(cpc.shape[:-1])
        for j in range(i):
            L[..., i, j] = cpc[..., position] * np.sqrt(remaining)
            remaining = remaining - L[..., i, j] ** 2
            position += 1
        L[..., i, i] = np.sqrt(remaining)
    return L


def lkj_cpc_shapes(eta: float, K: int) -> np.ndarray:
    """The Beta shape of each partial correlation that makes the correlation matrix LKJ(``eta``).

    ``(cpc + 1) / 2 ~ Beta(b, b)`` with ``b = eta + (K - 1 - j) / 2`` for the
    ``(i, j)`` one (Lewandowski, Kurowicka and Joe 2009), in
    :func:`cholesky_from_cpc`'s order; glmm.stan computes the same.

    Examples
    --------
    >>> lkj_cpc_shapes(2.0, 3).tolist()
    [2.5, 2.5, 2.0]
    """
    return np.array([eta + (K - 1 - (j + 1)) / 2 for i in range(1, K) for j in range(i)])


def group_sums(Z: np.ndarray, X: np.ndarray, r: np.ndarray, codes: np.ndarray, J: int):
    """Per-level sums ``Z_j'Z_j`` (J, K, K), ``Z_j'X_j`` (J, K, P) and ``Z_j'r_j`` (J, K) of one grouping term.

    Examples
    --------
    >>> ztz, ztx, ztr = group_sums(np.ones((3, 1)), np.ones((3, 1)), np.array([1.0, 2, 3]), np.array([0, 0, 1]), 2)
    >>> ztz[:, 0, 0].tolist(), ztr[:, 0].tolist()
    ([2.0, 1.0], [3.0, 3.0])
    """
    Z, X, r = (np.asarray(a, dtype=float) for a in (Z, X, r))
    K, P = Z.shape[1], X.shape[1]
    ztz, ztx, ztr = np.zeros((J, K, K)), np.zeros((J, K, P)), np.zeros((J, K))
    np.add.at(ztz, codes, Z[:, :, None] * Z[:, None, :])
    np.add.at(ztx, codes, Z[:, :, None] * X[:, None, :])
    np.add.at(ztr, codes, Z * r[:, None])
    return ztz, ztx, ztr


def conditional_group_effects(
    scale: np.ndarray, sigma: np.ndarray, ztz: np.ndarray, ztr: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One draw of each level's group effects from their exact conditional, for a Gaussian fit that integrated them out.

    A level's effects are ``b_j = S w_j`` with ``w_j ~ N(0, I)`` a priori and
    ``S`` the Cholesky scale of their covariance. Given the rest, its rows'
    residuals ``r_j = y_j - offset_j - X_j beta`` are ``N(Z_j S w_j, sigma^2
    I)``, so ``w_j`` is exactly normal with precision ``M_j = I + S'Z_j'Z_j S
    / sigma^2`` and mean ``M_j^-1 v_j``, ``v_j = S'Z_j'r_j / sigma^2`` (the
    same ``M_j`` and ``v_j`` as glmm.stan's integrated likelihood). One draw
    per posterior draw and level makes the joint posterior draws that the
    non-centered form samples directly; with no rows (``ztz = 0``) it draws
    from the prior. Works for any ``K``; :func:`mixedrain.fit.draw_integrated_effects`
    is the ``K = 2`` case written out.

    Parameters
    ----------
    scale : numpy.ndarray
        ``S`` per draw, shape (..., K, K): ``diag(tau) L``.
    sigma : numpy.ndarray
        Residual sd per draw, shape (...).
    ztz : numpy.ndarray
        ``Z_j'Z_j`` per level, shape (J, K, K) (:func:`group_sums`).
    ztr : numpy.ndarray
        ``Z_j'r_j`` per draw and level, shape (..., J, K).
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        The effects ``b_j``, shape (..., J, K).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S, sigma = np.full((20_000, 1, 1), 2.0), np.ones(20_000)
    >>> b = conditional_group_effects(S, sigma, np.array([[[4.0]]]), np.full((20_000, 1, 1), 8.0), rng)
    >>> round(float(b.mean()), 1), round(float(b.var()), 2)   # exactly 32/17 and 4/17: prior var 4, 4 rows, sum 8
    (1.9, 0.23)
    """
    s2 = np.asarray(sigma, dtype=float)[..., None, None, None] ** 2
    S = np.asarray(scale, dtype=float)[..., None, :, :]  # (..., 1, K, K), broadcast over levels
    K = S.shape[-1]
    M = np.eye(K) + np.swapaxes(S, -1, -2) @ ztz @ S / s2
    v = (np.swapaxes(S, -1, -2) @ np.asarray(ztr, dtype=float)[..., None])[..., 0] / s2[..., 0]
    chol = np.linalg.cholesky(M)  # M = C C', so w = M^-1 v + C'^-1 e has covariance M^-1
    mean = np.linalg.solve(M, v[..., None])[..., 0]
    noise = rng.standard_normal(mean.shape)
    w = mean + np.linalg.solve(np.swapaxes(chol, -1, -2), noise[..., None])[..., 0]
    return (S @ w[..., None])[..., 0]


# ---- Prior table ---------------------------------------------------------------------------------


def glmm_prior_table(design: Design, priors: dict[str, Any] | None = None, level: float = 0.9) -> pd.DataFrame:
    """The prior of each population-level parameter of a formula fit, with its central interval (90%, the book's one level).

    Reads the settings :func:`glmm_data` passes to Stan, so the table always
    matches what is sampled. Rows are named as the fit's posterior variables
    (:mod:`mixedrain.glmm_fit`): ``fixed[Days]``, ``sd_Subject[Intercept]``,
    ``corr_Subject``, ``sigma_y``, ``phi``, ``nu``. A correlation matrix's row
    reports its LKJ prior through the marginal of each correlation,
    ``(rho + 1) / 2 ~ Beta(eta - 1 + K/2, eta - 1 + K/2)``; the Student-t's
    ``nu`` its Gamma prior truncated below at :data:`NU_LOWER`, family
    ``"truncated gamma"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``parameter``, with columns ``family``, ``lower``,
        ``median``, ``upper`` and ``latex``.

    Examples
    --------
    >>> table = glmm_prior_table(_example_design())
    >>> print(table.loc["sd_g[x]", "latex"])
    \\sigma_{\\mathrm{g},\\mathrm{x}} \\sim \\mathrm{N}^{+}(0, 2.58)
    >>> print(table.loc["corr_g", "latex"])
    \\Omega_{\\mathrm{g}} \\sim \\mathrm{LKJ}(2)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    values = resolve_glmm_priors(design, priors)
    rows: dict[str, tuple[str, Any, str]] = {}
    for p, name in enumerate(design.fixed):
        mean, sd = values["prior_fixed_mean"][p], values["prior_fixed_sd"][p]
        rows[f"fixed[{name}]"] = ("normal", stats.norm(mean, sd), rf"\beta_{{{_tex(name)}}} \sim \mathrm{{N}}({mean:g}, {sd:g})")
    column = 0
    for t, term in enumerate(design.terms):
        label = safe_name(term.grouping)
        for name in term.columns:
            scale = values["prior_sd_scale"][column]
            rows[f"sd_{label}[{name}]"] = (
                "half-normal", stats.halfnorm(scale=scale),
                rf"\sigma_{{{_tex(term.grouping)},{_tex(name)}}} \sim \mathrm{{N}}^{{+}}(0, {scale:g})",
            )
            column += 1
        K = len(term.columns)
        if term.correlated and K > 1:
            eta = values["prior_lkj_eta"][t]
            shape = eta - 1 + K / 2
            rows[f"corr_{label}"] = (
                "lkj", stats.beta(shape, shape, loc=-1, scale=2), rf"\Omega_{{{_tex(term.grouping)}}} \sim \mathrm{{LKJ}}({eta:g})"
            )
    if design.family in ("gaussian", "student_t"):
        scale = values["prior_sigma_sd"]
        rows["sigma_y"] = ("half-normal", stats.halfnorm(scale=scale), rf"\sigma_y \sim \mathrm{{N}}^{{+}}(0, {scale:g})")
    if design.family == "gamma":
        shape, rate = values["prior_phi_shape"], values["prior_phi_rate"]
        rows["phi"] = ("gamma", stats.gamma(a=shape, scale=1 / rate), rf"\phi \sim \mathrm{{Gamma}}({shape:g}, {rate:g})")
    if design.family == "student_t":
        shape, rate = values["prior_nu_shape"], values["prior_nu_rate"]
        rows["nu"] = (
            "truncated gamma", _TruncatedBelow(stats.gamma(a=shape, scale=1 / rate), NU_LOWER),
            rf"\nu \sim \mathrm{{Gamma}}({shape:g}, {rate:g}),\ \nu \geq {NU_LOWER:g}",
        )
    table = {}
    for parameter, (family, distribution, latex) in rows.items():
        lower, median, upper = distribution.ppf([(1 - level) / 2, 0.5, (1 + level) / 2])
        table[parameter] = {
            "family": family, "lower": float(lower), "median": float(median), "upper": float(upper), "latex": latex,
        }
    return pd.DataFrame.from_dict(table, orient="index").rename_axis("parameter")


@dataclass(frozen=True)
class _TruncatedBelow:
    """A continuous distribution truncated below at ``bound``: its quantiles, for the prior table."""

    distribution: Any
    bound: float

    def ppf(self, q):
        below = self.distribution.cdf(self.bound)
        return self.distribution.ppf(below + np.asarray(q) * (1 - below))


def safe_name(label: str) -> str:
    """A grouping label as a valid, readable Python name, for variable and dimension names: ``"g1:g2"`` -> ``"g1_g2"``.

    Examples
    --------
    >>> safe_name("g1:g2"), safe_name("log.radon")
    ('g1_g2', 'log_radon')
    """
    name = re.sub(r"\W", "_", str(label))
    return name if name and not name[0].isdigit() else f"_{name}"


def _tex(name: str) -> str:
    return r"\mathrm{" + re.sub(r"([_#$%&{}])", r"\\\1", str(name)) + "}"


def _example_design():
    """A tiny hand-made design for this module's examples: ``y ~ x + (x | g)``, 3 levels of 2 rows."""
    from types import SimpleNamespace

    x = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    X = np.column_stack([np.ones(6), x])
    term = SimpleNamespace(
        grouping="g", columns=("Intercept", "x"), Z=X, codes=np.array([0, 0, 1, 1, 2, 2]),
        levels=("a", "b", "c"), correlated=True,
    )
    return SimpleNamespace(
        formula="y ~ x + (x | g)", family="gaussian", outcome="y", y=np.array([1.0, 2, 3, 4, 3, 5]), trials=None,
        X=X, fixed=("Intercept", "x"), offset=np.zeros(6), terms=(term,), frame=pd.DataFrame({"x": x}),
    )
