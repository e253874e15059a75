"""Outcome families: how the linear predictor becomes a distribution for each row.

A model's Stan program states its likelihood for sampling. The same distribution
is written here once more in NumPy, draw by draw, for what is cheapest outside
Stan: each row's log-likelihood (for PSIS-LOO) and replicated data (for
predictive checks and forecasts). Shipping those through httpstan for every draw
costs more than the sampling itself on small data; computing them here costs
milliseconds. ``tests/test_families.py`` checks both statements agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Family:
    """An outcome distribution with its link.

    Attributes
    ----------
    name : str
        ``"gaussian"`` or ``"gamma"``.
    link : str
        How the mean relates to the linear predictor ``eta``: ``"identity"``
        (mean = eta) or ``"log"`` (mean = exp(eta)).
    dispersion : str
        The posterior variable that sets the spread around the mean:
        ``sigma_y`` (a standard deviation) or ``phi`` (a Gamma shape).
    positive : bool
        Whether the outcome must be strictly positive.
    """

    name: str
    link: str
    dispersion: str
    positive: bool
    _log_density: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    _draw: Callable[[np.random.Generator, np.ndarray, np.ndarray], np.ndarray]

    def mean(self, eta: np.ndarray) -> np.ndarray:
        """The outcome's expected value for linear predictor ``eta``."""
        return np.exp(eta) if self.link == "log" else np.asarray(eta, dtype=float)

    def log_density(self, y: np.ndarray, eta: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
        """Pointwise log density of ``y`` (arrays broadcast together).

        Examples
        --------
        >>> import numpy as np
        >>> round(float(FAMILIES["gaussian"].log_density(np.array(0.0), np.array(0.0), np.array(1.0))), 4)
        -0.9189
        """
        return self._log_density(np.asarray(y, dtype=float), self.mean(eta), np.asarray(dispersion, dtype=float))

    def draw(self, rng: np.random.Generator, eta: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
        """One random outcome per element of the broadcast ``eta`` and ``dispersion``.

        Examples
        --------
        >>> import numpy as np
        >>> draws = FAMILIES["gamma"].draw(np.random.default_rng(0), np.zeros(10_000), np.full(10_000, 4.0))
        >>> bool(draws.min() > 0), round(float(draws.mean()), 1)
        (True, 1.0)
        """
        return self._draw(rng, self.mean(eta), np.asarray(dispersion, dtype=float))


def _gaussian_log_density(y, mean, sigma):
    return stats.norm.logpdf(y, loc=mean, scale=sigma)


def _gaussian_draw(rng, mean, sigma):
    return rng.normal(mean, sigma)


# Shape phi and rate phi / mean (as brms writes it): mean `mean`, sd mean / sqrt(phi).
def _gamma_log_density(y, mean, phi):
    return stats.gamma.logpdf(y, a=phi, scale=mean / phi)


def _gamma_draw(rng, mean, phi):
    return rng.gamma(phi, mean / phi)


#: The families the package's programs use, by name.
FAMILIES: dict[str, Family] = {
    "gaussian": Family("gaussian", "identity", "sigma_y", False, _gaussian_log_density, _gaussian_draw),
    "gamma": Family("gamma", "log", "phi", True, _gamma_log_density, _gamma_draw),
}


def get_family(name: str) -> Family:
    """The family called ``name``, with a clear error for an unknown one.

    Examples
    --------
    >>> get_family("gamma").link
    'log'
    """
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown family {name!r}; choose one of {sorted(FAMILIES)}") from None
