"""The Stan programs, shipped as ``.stan`` files inside the package.

httpstan caches each compiled program under a key made from its text, so the
program text never varies: data and priors are passed as data.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from statistics import NormalDist

import pandas as pd

#: The programs this package ships, by name.
MODEL_NAMES: tuple[str, ...] = ("centered", "noncentered")

#: Weakly informative priors on the rainfall scale (inches per year); see chapter 2.
DEFAULT_PRIORS: dict[str, float] = {
    "prior_mu_alpha_mean": 30.0,
    "prior_mu_alpha_sd": 20.0,
    "prior_mu_beta_mean": 0.0,
    "prior_mu_beta_sd": 10.0,
    "prior_sigma_alpha_sd": 10.0,
    "prior_sigma_beta_sd": 5.0,
    "prior_sigma_y_sd": 10.0,
}


def program_path(name: str) -> Path:
    """Path of the ``.stan`` file for the program called ``name``.

    Examples
    --------
    >>> program_path("centered").name
    'centered.stan'
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
    return Path(str(resources.files("mixedrain") / "stan" / f"{name}.stan"))


def load_program(name: str) -> str:
    """Text of the Stan program called ``name``.

    Examples
    --------
    >>> "generated quantities" in load_program("noncentered")
    True
    """
    return program_path(name).read_text(encoding="utf-8")


#: What each prior setting is the prior of: (parameter, LaTeX symbol, family, location key, scale key).
#: Scales get a normal(0, s) in Stan on a parameter declared ``<lower=0>``: a half-normal.
_PRIOR_LAYOUT: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("mu_alpha", r"\mu_\alpha", "normal", "prior_mu_alpha_mean", "prior_mu_alpha_sd"),
    ("mu_beta", r"\mu_\beta", "normal", "prior_mu_beta_mean", "prior_mu_beta_sd"),
    ("sigma_alpha", r"\sigma_\alpha", "half-normal", None, "prior_sigma_alpha_sd"),
    ("sigma_beta", r"\sigma_\beta", "half-normal", None, "prior_sigma_beta_sd"),
    ("sigma_y", r"\sigma_y", "half-normal", None, "prior_sigma_y_sd"),
)

_STANDARD_NORMAL = NormalDist()


def prior_table(priors: dict[str, float] | None = None, level: float = 0.95) -> pd.DataFrame:
    """The prior of each population-level parameter, with its central interval.

    Reads the settings the Stan programs receive as data, so a table or an
    equation built from it always matches what is sampled.

    Parameters
    ----------
    priors : dict, optional
        Overrides for :data:`DEFAULT_PRIORS`, as passed to
        :func:`mixedrain.fit.fit_model`.
    level : float
        Probability inside the central interval ``lower`` to ``upper``.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter (``mu_alpha``, ``mu_beta``, ``sigma_alpha``,
        ``sigma_beta``, ``sigma_y``), with columns ``family`` ("normal" or
        "half-normal"), ``location`` (0 for a half-normal), ``scale``,
        ``lower``, ``upper``, ``median`` and ``latex`` (e.g.
        ``\\mu_\\alpha \\sim \\mathrm{N}(30, 20)``).

    Raises
    ------
    ValueError
        If a setting is unknown, a scale is not positive and finite, or
        ``level`` is not strictly between 0 and 1.

    Examples
    --------
    >>> table = prior_table()
    >>> table.loc["sigma_y", "family"], float(table.loc["sigma_y", "scale"])
    ('half-normal', 10.0)
    >>> print(table.loc["mu_alpha", "latex"])
    \\mu_\\alpha \\sim \\mathrm{N}(30, 20)
    >>> print(f"{table.loc['mu_alpha', 'upper']:.1f}")
    69.2
    """
    unknown = sorted(set(priors or {}) - set(DEFAULT_PRIORS))
    if unknown:
        raise ValueError(f"unknown prior setting(s) {unknown}; known: {sorted(DEFAULT_PRIORS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    settings = {**DEFAULT_PRIORS, **(priors or {})}
    probabilities = ((1 - level) / 2, (1 + level) / 2, 0.5)
    rows = {}
    for name, symbol, family, location_key, scale_key in _PRIOR_LAYOUT:
        scale = float(settings[scale_key])
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"{scale_key} must be a positive finite number, got {settings[scale_key]!r}")
        location = 0.0 if location_key is None else float(settings[location_key])
        if family == "normal":
            lower, upper, median = (location + scale * _STANDARD_NORMAL.inv_cdf(p) for p in probabilities)
            latex = rf"{symbol} \sim \mathrm{{N}}({location:g}, {scale:g})"
        else:
            # |Z| * scale with Z standard normal: its quantile p is the normal's quantile (1 + p) / 2.
            lower, upper, median = (scale * _STANDARD_NORMAL.inv_cdf((1 + p) / 2) for p in probabilities)
            latex = rf"{symbol} \sim \mathrm{{N}}^{{+}}(0, {scale:g})"
        rows[name] = {
            "family": family,
            "location": location,
            "scale": scale,
            "lower": lower,
            "upper": upper,
            "median": median,
            "latex": latex,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("parameter")
