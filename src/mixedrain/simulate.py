"""Simulate average rainfall for 51 US "states" with a random intercept and slope.

The data-generating process is the seed blog post's:

    rainfall = intercept_state + slope_state * predictor + error

with ``intercept_state ~ N(intercept_mu, intercept_sigma)``,
``slope_state ~ N(slope_mu, slope_sigma)`` and ``error ~ N(error_mu, error_sigma)``.

Two variants of the seed are available by name in :data:`VARIANTS`:

``"text"`` (the default)
    The seed's prose and worked example: slope ~ N(5, 2) multiplied by the
    year index 1..10. With ``random.seed(1234)`` it reproduces
    40.90 = 25.27 + 4.548 * 1 + 11.085 for Alabama in 2010.
``"code"``
    The seed's code block: slope ~ N(0.05, 0.2) multiplied by the calendar
    year (2010..2019).

A third process, :func:`simulate_positive_rainfall`, keeps the seed's structure
on the log scale and draws a Gamma outcome, so rainfall is always positive and
its spread grows with its level:

    rainfall ~ Gamma(shape, rate shape / exp(intercept_state + slope_state * year_index))
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mixedrain.families import get_family

#: The seed's 51 "states": the 50 states and the District of Columbia, in its order.
STATES: tuple[str, ...] = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DC", "DE", "FL", "GA",
    "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME", "MD",
    "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC",
    "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
)  # fmt: skip

#: The seed's years of data.
YEARS: tuple[int, ...] = tuple(range(2010, 2020))

#: Columns a real analyst would never see: the simulation's truth.
LATENT_COLUMNS: tuple[str, ...] = ("true_intercept", "true_slope", "true_error")

#: Columns an analyst observes.
OBSERVED_COLUMNS: tuple[str, ...] = ("state", "year", "year_index", "rainfall")

Predictor = Literal["year_index", "year"]


@dataclass(frozen=True)
class SimulationParameters:
    """Parameters of the seed's data-generating process.

    The defaults are the seed's text: the draws that reproduce its worked
    example for Alabama in 2010.

    Parameters
    ----------
    intercept_mu, intercept_sigma : float
        Mean and standard deviation of the state intercepts.
    slope_mu, slope_sigma : float
        Mean and standard deviation of the state slopes.
    error_mu, error_sigma : float
        Mean and standard deviation of the observation error. The seed uses a
        mean of 0.1, which a model with an intercept cannot tell apart from
        the intercept: the intercept absorbs it.
    predictor : {"year_index", "year"}
        What the slope multiplies: the year index 1..10 (the seed's text) or
        the calendar year (the seed's code).
    seed : int
        Seed for :func:`random.seed`.
    states : tuple of str
        Group labels, in the order their effects are drawn.
    years : tuple of int
        Calendar years, consecutive and increasing.

    Examples
    --------
    >>> SimulationParameters().slope_mu
    5.0
    >>> VARIANTS["code"].predictor
    'year'
    """

    intercept_mu: float = 20.0
    intercept_sigma: float = 5.0
    slope_mu: float = 5.0
    slope_sigma: float = 2.0
    error_mu: float = 0.1
    error_sigma: float = 5.0
    predictor: Predictor = "year_index"
    seed: int = 1234
    states: tuple[str, ...] = STATES
    years: tuple[int, ...] = YEARS

    def __post_init__(self) -> None:
        if self.predictor not in ("year_index", "year"):
            raise ValueError(f"predictor must be 'year_index' or 'year', not {self.predictor!r}")
        for name in ("intercept_sigma", "slope_sigma", "error_sigma"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if len(self.states) < 1 or len(set(self.states)) != len(self.states):
            raise ValueError("states must be a non-empty tuple of distinct labels")
        if len(self.years) < 1 or list(self.years) != list(range(self.years[0], self.years[0] + len(self.years))):
            raise ValueError("years must be consecutive increasing whole numbers")


#: The seed's two versions of its data-generating process, by name.
VARIANTS: dict[str, SimulationParameters] = {
    "text": SimulationParameters(),
    "code": SimulationParameters(slope_mu=0.05, slope_sigma=0.2, predictor="year"),
}


def _x_values(params: SimulationParameters) -> np.ndarray:
    # The predictor's values, one per year: the year index 1..n or the calendar year.
    years = np.asarray(params.years)
    return years - years[0] + 1 if params.predictor == "year_index" else years


def simulate_rainfall(params: SimulationParameters | str = "text") -> pd.DataFrame:
    """Simulate the seed's data exactly as its code does, draw by draw.

    Uses Python's :mod:`random` in the seed's order: for each state an
    intercept, then a slope, then one error per year. The global state of
    :mod:`random` is left as it was.

    Parameters
    ----------
    params : SimulationParameters or {"text", "code"}
        The parameters, or the name of one of the seed's :data:`VARIANTS`.

    Returns
    -------
    pandas.DataFrame
        One row per state and year with columns ``state``, ``year``,
        ``year_index`` (1 for the first year), ``rainfall`` and the latent
        truth ``true_intercept``, ``true_slope``, ``true_error``.

    Examples
    --------
    >>> df = simulate_rainfall()
    >>> df.loc[0, ["state", "year_index", "true_intercept", "true_slope", "true_error", "rainfall"]].to_dict()
    {'state': 'AL', 'year_index': 1, 'true_intercept': 25.271..., 'true_slope': 4.548..., 'true_error': 11.085..., 'rainfall': 40.905...}
    """
    params = resolve_parameters(params)
    rng = random.Random(params.seed)  # same stream as random.seed(seed) + random.gauss
    x_values = _x_values(params)
    rows = []
    for state in params.states:
        intercept = rng.gauss(params.intercept_mu, params.intercept_sigma)
        slope = rng.gauss(params.slope_mu, params.slope_sigma)
        for year_index, (year, x) in enumerate(zip(params.years, x_values), start=1):
            error = rng.gauss(params.error_mu, params.error_sigma)
            rows.append((state, year, year_index, intercept + slope * float(x) + error, intercept, slope, error))
    return pd.DataFrame(rows, columns=[*OBSERVED_COLUMNS, *LATENT_COLUMNS])


def simulate_rainfall_datasets(
    params: SimulationParameters | PositiveSimulationParameters | str = "text",
    rng: np.random.Generator | int | None = None,
    n_datasets: int = 1,
    family: str = "gaussian",
) -> pd.DataFrame:
    """Simulate many data sets at once with a vectorised NumPy ``Generator``.

    Same distribution as :func:`simulate_rainfall`, different random stream:
    use it for simulation studies, not to reproduce the seed's numbers.

    Parameters
    ----------
    params : SimulationParameters, PositiveSimulationParameters or {"text", "code"}
        The parameters, or the name of one of the seed's :data:`VARIANTS`;
        for ``family="gamma"``, :class:`PositiveSimulationParameters`.
    rng : numpy.random.Generator, int or None
        The generator, or a seed for :func:`numpy.random.default_rng`.
        ``None`` uses ``params.seed``.
    n_datasets : int
        Number of independent data sets.
    family : {"gaussian", "gamma"}
        The outcome's family: the seed's normal noise around a straight line,
        or :func:`simulate_positive_rainfall`'s Gamma outcome with a log link.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`simulate_rainfall` plus ``dataset``
        (0 .. n_datasets - 1).

    Examples
    --------
    >>> sims = simulate_rainfall_datasets(n_datasets=3, rng=1)
    >>> sims.groupby("dataset").size().tolist()
    [510, 510, 510]
    >>> bool(simulate_rainfall_datasets(PositiveSimulationParameters(), family="gamma")["rainfall"].min() > 0)
    True
    """
    family = get_family(family).name  # an unknown name gets the named error of mixedrain.families
    if family == "gamma":
        if not isinstance(params, PositiveSimulationParameters):
            raise TypeError(
                "family='gamma' needs PositiveSimulationParameters (intercepts and slopes on the log scale), "
                f"not {params!r}"
            )
        return simulate_positive_rainfall(params, rng, n_datasets)
    if family != "gaussian":
        raise ValueError(f"the simulation has no {family!r} outcome; choose 'gaussian' or 'gamma'")
    if isinstance(params, PositiveSimulationParameters):
        raise TypeError("PositiveSimulationParameters describe a Gamma outcome: pass family='gamma'")
    params = resolve_parameters(params)
    rng, intercept, slope = _draw_true_effects(params, rng, n_datasets)
    shape, n_years = intercept.shape, len(params.years)
    error = rng.normal(params.error_mu, params.error_sigma, (*shape, n_years))
    x_values = _x_values(params).astype(float)
    rainfall = intercept[..., None] + slope[..., None] * x_values + error
    return _long_frame(params.states, params.years, intercept, slope, rainfall, error)


@dataclass(frozen=True)
class PositiveSimulationParameters:
    """Parameters of positive rainfall: the seed's structure on the log scale, Gamma noise.

    Each state's intercept and slope act on the logarithm of its mean
    rainfall, and a year's rainfall is Gamma around that mean:

    ``log mean = intercept_state + slope_state * year_index``,
    ``rainfall ~ Gamma(shape, rate shape / mean)``,

    so rainfall is positive, has mean ``mean`` and standard deviation
    ``mean / sqrt(shape)``: its spread grows in proportion to its level. The
    defaults give rainfall like the seed's (mostly 20 to 90 inches, mean
    near 48): a typical state starts near ``exp(intercept_mu)`` = 40 inches
    and gains ``exp(slope_mu) - 1``, about 3%, a year; a year scatters around
    its state's mean with a coefficient of variation ``1 / sqrt(20)``, about
    0.22.

    Parameters
    ----------
    intercept_mu, intercept_sigma : float
        Mean and standard deviation of the state intercepts (log inches, at
        year index 0).
    slope_mu, slope_sigma : float
        Mean and standard deviation of the state slopes (change in log
        rainfall per year).
    shape : float
        The Gamma shape ``phi`` (the model's ``phi``), positive.
    seed : int
        Seed for :func:`numpy.random.default_rng` when no ``rng`` is given.
    states : tuple of str
        Group labels, in the order their effects are drawn.
    years : tuple of int
        Calendar years, consecutive and increasing; the predictor is the year
        index 1, 2, ...

    Examples
    --------
    >>> round(math.exp(PositiveSimulationParameters().intercept_mu), 6)
    40.0
    """

    intercept_mu: float = math.log(40.0)
    intercept_sigma: float = 0.25
    slope_mu: float = 0.03
    slope_sigma: float = 0.02
    shape: float = 20.0
    seed: int = 2024
    states: tuple[str, ...] = STATES
    years: tuple[int, ...] = YEARS

    def __post_init__(self) -> None:
        for name in ("intercept_mu", "slope_mu"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        for name in ("intercept_sigma", "slope_sigma"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if not self.shape > 0 or not math.isfinite(self.shape):
            raise ValueError(f"shape must be a positive number, got {self.shape!r}")
        if len(self.states) < 1 or len(set(self.states)) != len(self.states):
            raise ValueError("states must be a non-empty tuple of distinct labels")
        if len(self.years) < 1 or list(self.years) != list(range(self.years[0], self.years[0] + len(self.years))):
            raise ValueError("years must be consecutive increasing whole numbers")


def simulate_positive_rainfall(
    params: PositiveSimulationParameters | None = None,
    rng: np.random.Generator | int | None = None,
    n_datasets: int = 1,
) -> pd.DataFrame:
    """Simulate positive rainfall whose spread grows with its level (a Gamma GLMM's data).

    For each data set and state: an intercept ``N(intercept_mu,
    intercept_sigma)`` and a slope ``N(slope_mu, slope_sigma)`` on the log
    scale; then, for each year, rainfall ``Gamma(shape, rate shape / mean)``
    with ``mean = exp(intercept + slope * year_index)``. This is the data
    generating process of the catalogue's ``"gamma"`` model, so
    :func:`true_positive_hyperparameters` gives what its fit should recover.

    Parameters
    ----------
    params : PositiveSimulationParameters, optional
        The parameters (default: ``PositiveSimulationParameters()``).
    rng : numpy.random.Generator, int or None
        The generator, or a seed for :func:`numpy.random.default_rng`.
        ``None`` uses ``params.seed``.
    n_datasets : int
        Number of independent data sets.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`simulate_rainfall_datasets`. ``true_intercept``
        and ``true_slope`` are on the log scale, and ``true_error`` is the
        multiplicative error ``rainfall / mean`` (Gamma with mean 1 and
        standard deviation ``1 / sqrt(shape)``), so
        ``rainfall = exp(true_intercept + true_slope * year_index) * true_error``.

    Examples
    --------
    >>> df = simulate_positive_rainfall()
    >>> len(df), bool(df["rainfall"].min() > 0)
    (510, True)
    """
    params = PositiveSimulationParameters() if params is None else params
    if not isinstance(params, PositiveSimulationParameters):
        raise TypeError(f"params must be PositiveSimulationParameters, not {type(params).__name__}")
    rng, intercept, slope = _draw_true_effects(params, rng, n_datasets)
    shape, n_years = intercept.shape, len(params.years)
    year_index = np.arange(1, n_years + 1, dtype=float)
    # Gamma(shape, scale 1 / shape) has mean 1: the year's multiplicative deviation from its state's mean.
    error = rng.gamma(params.shape, 1.0 / params.shape, (*shape, n_years))
    rainfall = np.exp(intercept[..., None] + slope[..., None] * year_index) * error
    return _long_frame(params.states, params.years, intercept, slope, rainfall, error)


def true_positive_hyperparameters(params: PositiveSimulationParameters | None = None) -> dict[str, float]:
    """The values the ``"gamma"`` model's hyperparameters should recover from positive rainfall.

    The catalogue's ``"gamma"`` model is the simulation's process itself,
    fitted to the year index 1..10 (``prepare_data``'s default), so each
    hyperparameter is a simulation parameter: ``mu_alpha`` and ``sigma_alpha``
    describe the log-scale intercepts, ``mu_beta`` and ``sigma_beta`` the
    log-scale slopes, and ``phi`` is the Gamma shape.

    Parameters
    ----------
    params : PositiveSimulationParameters, optional
        The simulation's parameters (default: ``PositiveSimulationParameters()``).

    Returns
    -------
    dict
        ``mu_alpha``, ``mu_beta``, ``sigma_alpha``, ``sigma_beta``, ``phi``.

    Examples
    --------
    >>> truth = true_positive_hyperparameters()
    >>> round(truth["mu_alpha"], 4), truth["phi"]
    (3.6889, 20.0)
    """
    params = PositiveSimulationParameters() if params is None else params
    if not isinstance(params, PositiveSimulationParameters):
        raise TypeError(f"params must be PositiveSimulationParameters, not {type(params).__name__}")
    return {
        "mu_alpha": float(params.intercept_mu),
        "mu_beta": float(params.slope_mu),
        "sigma_alpha": float(params.intercept_sigma),
        "sigma_beta": float(params.slope_sigma),
        "phi": float(params.shape),
    }


def observed(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the simulation's latent truth, leaving what an analyst would see.

    Examples
    --------
    >>> list(observed(simulate_rainfall()).columns)
    ['state', 'year', 'year_index', 'rainfall']
    """
    return df.drop(columns=[c for c in LATENT_COLUMNS if c in df.columns])


def true_hyperparameters(
    params: SimulationParameters | str = "text", centre: float = 0.0, correlation: bool = False
) -> dict[str, float]:
    """The values a correctly specified model's hyperparameters should recover.

    The model ``y = alpha_j + beta_j * x + e`` with ``e ~ N(0, sigma_y)`` cannot
    separate the error mean from the intercept, so the true ``mu_alpha`` is
    ``intercept_mu + error_mu``. If the predictor is centred at ``centre``
    (``x - centre``), the intercept moves to ``mu_alpha + mu_beta * centre``
    and its spread grows to ``sqrt(sigma_alpha**2 + (sigma_beta * centre)**2)``;
    it is then correlated with the slope, with correlation
    ``sigma_beta * centre / sqrt(sigma_alpha**2 + (sigma_beta * centre)**2)``
    (about 0.91 for the seed's text at ``centre = 5.5``), which only the
    correlated model can represent.

    Parameters
    ----------
    params : SimulationParameters or {"text", "code"}
        The simulation's parameters.
    centre : float
        The value subtracted from the predictor before fitting.
    correlation : bool
        Also return ``rho``, the correlation of intercept and slope (the
        correlated model's extra parameter).

    Returns
    -------
    dict
        ``mu_alpha``, ``mu_beta``, ``sigma_alpha``, ``sigma_beta``,
        ``sigma_y`` (and ``rho``).

    Examples
    --------
    >>> true_hyperparameters()["mu_alpha"]
    20.1
    >>> round(true_hyperparameters(centre=5.5, correlation=True)["rho"], 3)
    0.91
    """
    params = resolve_parameters(params)
    sigma_alpha = float(np.hypot(params.intercept_sigma, params.slope_sigma * centre))
    truth = {
        "mu_alpha": params.intercept_mu + params.error_mu + params.slope_mu * centre,
        "mu_beta": params.slope_mu,
        "sigma_alpha": sigma_alpha,
        "sigma_beta": params.slope_sigma,
        "sigma_y": params.error_sigma,
    }
    if correlation:
        truth["rho"] = params.slope_sigma * centre / sigma_alpha
    return truth


def true_state_effects(df: pd.DataFrame) -> pd.DataFrame:
    """Each state's true intercept and slope: one row per state, in the data's order.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of :func:`simulate_rainfall` (one data set; for
        :func:`simulate_rainfall_datasets` output, select one ``dataset`` first).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``state``, with columns ``true_intercept`` and ``true_slope``.

    Examples
    --------
    >>> effects = true_state_effects(simulate_rainfall())
    >>> effects.shape
    (51, 2)
    >>> round(float(effects.loc["AL", "true_slope"]), 3)
    4.549
    """
    missing = [c for c in ("state", "true_intercept", "true_slope") if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; pass a simulated data frame with its latent truth")
    if "dataset" in df.columns and df["dataset"].nunique() > 1:
        raise ValueError("df holds several data sets; select one with df[df['dataset'] == k] first")
    return df.groupby("state", sort=False)[["true_intercept", "true_slope"]].first()


def _draw_true_effects(params, rng, n_datasets: int):
    # Each state's true intercept and slope, for every data set, in the order both simulators draw them.
    if not isinstance(n_datasets, (int, np.integer)) or n_datasets < 1:
        raise ValueError(f"n_datasets must be a positive whole number, got {n_datasets!r}")
    rng = np.random.default_rng(params.seed if rng is None else rng)
    shape = (n_datasets, len(params.states))
    intercept = rng.normal(params.intercept_mu, params.intercept_sigma, shape)
    slope = rng.normal(params.slope_mu, params.slope_sigma, shape)
    return rng, intercept, slope


def _long_frame(states, years, intercept, slope, rainfall, error) -> pd.DataFrame:
    # One row per data set, state and year, from arrays shaped (data sets, states[, years]).
    n_datasets, n_states = intercept.shape
    n_years = len(years)
    return pd.DataFrame(
        {
            "dataset": np.repeat(np.arange(n_datasets), n_states * n_years),
            "state": np.tile(np.repeat(np.asarray(states), n_years), n_datasets),
            "year": np.tile(np.asarray(years), n_datasets * n_states),
            "year_index": np.tile(np.arange(1, n_years + 1), n_datasets * n_states),
            "rainfall": rainfall.reshape(-1),
            "true_intercept": np.repeat(intercept.reshape(-1), n_years),
            "true_slope": np.repeat(slope.reshape(-1), n_years),
            "true_error": error.reshape(-1),
        }
    )


def resolve_parameters(params: SimulationParameters | str) -> SimulationParameters:
    """Return ``params``, or the seed variant it names ("text" or "code").

    Examples
    --------
    >>> resolve_parameters("code").slope_mu
    0.05
    """
    if isinstance(params, str):
        try:
            return VARIANTS[params]
        except KeyError:
            raise ValueError(f"unknown variant {params!r}; choose one of {sorted(VARIANTS)}") from None
    if not isinstance(params, SimulationParameters):
        raise TypeError(f"params must be SimulationParameters or a variant name, not {type(params).__name__}")
    return params


__all__ = [
    "LATENT_COLUMNS",
    "OBSERVED_COLUMNS",
    "STATES",
    "VARIANTS",
    "YEARS",
    "PositiveSimulationParameters",
    "SimulationParameters",
    "observed",
    "resolve_parameters",
    "simulate_positive_rainfall",
    "simulate_rainfall",
    "simulate_rainfall_datasets",
    "true_hyperparameters",
    "true_positive_hyperparameters",
    "true_state_effects",
]
