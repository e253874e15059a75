"""Hand-made formula designs for the general program's tests, and simulated data with known hyperparameters.

The formula front end (``mixedrain.formula``) builds ``Design`` objects from lme4 formulas; these tests
build the same objects straight from arrays, so the program is tested apart from the parser. Where
``mixedrain.formula`` is importable its classes are used; otherwise stand-ins with the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

try:
    from mixedrain.formula import Design, GroupTerm
except ImportError:  # the formula branch has not landed: the same interface, field for field

    @dataclass(frozen=True)
    class GroupTerm:
        grouping: str
        columns: tuple[str, ...]
        Z: np.ndarray
        codes: np.ndarray
        levels: tuple[str, ...]
        correlated: bool

    @dataclass(frozen=True)
    class Design:
        formula: str
        family: str
        outcome: str
        y: np.ndarray
        trials: np.ndarray | None
        X: np.ndarray
        fixed: tuple[str, ...]
        offset: np.ndarray
        terms: tuple[GroupTerm, ...]
        frame: pd.DataFrame


def term(grouping: str, columns: dict[str, np.ndarray], codes: np.ndarray, correlated: bool = True, levels=None) -> GroupTerm:
    """A grouping term from its columns (name -> values per row) and each row's 0-based level."""
    codes = np.asarray(codes, dtype=int)
    n_levels = int(codes.max()) + 1
    levels = tuple(levels) if levels is not None else tuple(f"{grouping}{j}" for j in range(n_levels))
    Z = np.column_stack([np.asarray(v, dtype=float) for v in columns.values()])
    return GroupTerm(grouping, tuple(columns), Z, codes, levels, bool(correlated and len(columns) > 1))


def design(
    family: str,
    y: np.ndarray,
    fixed: dict[str, np.ndarray],
    terms: tuple[GroupTerm, ...],
    *,
    trials: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    formula: str = "hand-made",
) -> Design:
    """A design from arrays; the frame holds the fixed columns (but the intercept) and each term's level labels."""
    y = np.asarray(y, dtype=float)
    X = np.column_stack([np.asarray(v, dtype=float) for v in fixed.values()]) if fixed else np.zeros((y.size, 0))
    frame = pd.DataFrame({name: values for name, values in fixed.items() if name != "Intercept"})
    for t in terms:
        if t.grouping not in frame:
            frame[t.grouping] = np.asarray(t.levels, dtype=object)[t.codes]
    return Design(
        formula, family, "y", y, None if trials is None else np.asarray(trials, dtype=float), X, tuple(fixed),
        np.zeros(y.size) if offset is None else np.asarray(offset, dtype=float), tuple(terms), frame,
    )


@dataclass(frozen=True)
class Simulated:
    design: Design
    truth: dict[str, float]  # posterior variable (with selection) -> true value


def simulate(family: str, *, seed: int = 0, groups: int = 40, per_group: int = 8) -> Simulated:
    """``y ~ x + (x | g)`` (Gaussian, correlated), ``y ~ x + (x || g)`` (Student-t with 4 degrees of freedom),
    ``y ~ x + (1 | g)`` (binomial of 5 to 15 trials, Gamma) or ``y ~ x + (x || g)`` with an exposure offset
    (Poisson), with known hyperparameters."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(groups), per_group)
    n = codes.size
    x = rng.normal(0, 1, n)
    ones = np.ones(n)
    if family == "gaussian":
        sd, rho, beta, sigma = np.array([1.0, 0.5]), 0.5, np.array([2.0, 0.7]), 0.8
        cov = np.diag(sd) @ np.array([[1, rho], [rho, 1]]) @ np.diag(sd)
        b = rng.multivariate_normal([0, 0], cov, groups)
        y = beta[0] + b[codes, 0] + (beta[1] + b[codes, 1]) * x + rng.normal(0, sigma, n)
        terms = (term("g", {"Intercept": ones, "x": x}, codes, correlated=True),)
        truth = {"fixed[Intercept]": 2.0, "fixed[x]": 0.7, "sd_g[Intercept]": 1.0, "sd_g[x]": 0.5,
                 "corr_g[Intercept, x]": rho, "sigma_y": sigma}
        return Simulated(design(family, y, {"Intercept": ones, "x": x}, terms, formula="y ~ x + (x | g)"), truth)
    if family == "student_t":
        # Heavy tails (nu = 4): about one row in 25 lies more than 3 scales from its line, where a normal
        # with that scale puts one in 370.
        sd, beta, sigma, nu = np.array([1.0, 0.5]), np.array([2.0, 0.7]), 0.5, 4.0
        b = rng.normal(0, sd, (groups, 2))
        y = beta[0] + b[codes, 0] + (beta[1] + b[codes, 1]) * x + sigma * rng.standard_t(nu, n)
        terms = (term("g", {"Intercept": ones, "x": x}, codes, correlated=False),)
        truth = {"fixed[Intercept]": 2.0, "fixed[x]": 0.7, "sd_g[Intercept]": 1.0, "sd_g[x]": 0.5, "sigma_y": sigma, "nu": nu}
        return Simulated(design(family, y, {"Intercept": ones, "x": x}, terms, formula="y ~ x + (x || g)"), truth)
    if family == "binomial":
        b = rng.normal(0, 0.7, groups)
        trials = rng.integers(5, 16, n)
        y = rng.binomial(trials, special.expit(-0.5 + 0.8 * x + b[codes]))
        terms = (term("g", {"Intercept": ones}, codes),)
        truth = {"fixed[Intercept]": -0.5, "fixed[x]": 0.8, "sd_g[Intercept]": 0.7}
        return Simulated(design(family, y, {"Intercept": ones, "x": x}, terms, trials=trials,
                                formula="cbind(y, trials - y) ~ x + (1 | g)"), truth)
    if family == "poisson":
        exposure = rng.uniform(0.5, 3, n)
        b0, b1 = rng.normal(0, 0.5, groups), rng.normal(0, 0.3, groups)
        y = rng.poisson(exposure * np.exp(1.0 + b0[codes] + (-0.3 + b1[codes]) * x))
        terms = (term("g", {"Intercept": ones, "x": x}, codes, correlated=False),)
        truth = {"fixed[Intercept]": 1.0, "fixed[x]": -0.3, "sd_g[Intercept]": 0.5, "sd_g[x]": 0.3}
        return Simulated(design(family, y, {"Intercept": ones, "x": x}, terms, offset=np.log(exposure),
                                formula="y ~ x + (x || g) + offset(log(exposure))"), truth)
    if family == "gamma":
        b = rng.normal(0, 0.4, groups)
        mean = np.exp(1.5 + 0.2 * x + b[codes])
        y = rng.gamma(10.0, mean / 10.0)
        terms = (term("g", {"Intercept": ones}, codes),)
        truth = {"fixed[Intercept]": 1.5, "fixed[x]": 0.2, "sd_g[Intercept]": 0.4, "phi": 10.0}
        return Simulated(design(family, y, {"Intercept": ones, "x": x}, terms, formula="y ~ x + (1 | g)"), truth)
    raise ValueError(family)


def simulate_crossed(seed: int = 0, plates: int = 24, samples: int = 12) -> Simulated:
    """``y ~ 1 + (1 | plate) + (1 | sample)``, every plate with every sample twice, as Penicillin is crossed."""
    rng = np.random.default_rng(seed)
    plate = np.repeat(np.arange(plates), samples * 2)
    sample = np.tile(np.repeat(np.arange(samples), 2), plates)
    n = plate.size
    y = 23.0 + rng.normal(0, 0.8, plates)[plate] + rng.normal(0, 1.5, samples)[sample] + rng.normal(0, 0.5, n)
    ones = np.ones(n)
    terms = (term("plate", {"Intercept": ones}, plate), term("sample", {"Intercept": ones}, sample))
    truth = {"fixed[Intercept]": 23.0, "sd_plate[Intercept]": 0.8, "sd_sample[Intercept]": 1.5, "sigma_y": 0.5}
    return Simulated(design("gaussian", y, {"Intercept": ones}, terms, formula="y ~ 1 + (1 | plate) + (1 | sample)"), truth)
