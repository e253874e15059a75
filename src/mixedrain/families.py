"""Outcome families: how the linear predictor becomes a distribution for each row.

A model's Stan program states its likelihood for sampling. The same distribution
is written here once more in NumPy, draw by draw, for what is cheapest outside
Stan: each row's log-likelihood (for PSIS-LOO) and replicated data (for
predictive checks and forecasts). Shipping those through httpstan for every draw
costs more than the sampling itself on small data; computing them here costs
milliseconds. ``tests/test_families.py`` (the catalogue's programs) and
``tests/test_glmm.py`` (the formula program) check both statements agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special, stats


@dataclass(frozen=True)
class Family:
    """An outcome distribution with its link.

    Attributes
    ----------
    name : str
        ``"gaussian"``, ``"student_t"``, ``"gamma"``, ``"binomial"`` or ``"poisson"``.
    link : str
        How the mean relates to the linear predictor ``eta``: ``"identity"``
        (mean = eta), ``"log"`` (mean = exp(eta)) or ``"logit"`` (the
        probability of a success = 1 / (1 + exp(-eta))).
    dispersion : str or None
        The posterior variable that sets the spread around the mean:
        ``sigma_y`` (a standard deviation), ``phi`` (a Gamma shape), or
        ``None`` where the mean fixes the spread (binomial, Poisson). For the
        Student-t, ``sigma_y`` is the scale, not the standard deviation.
    positive : bool
        Whether the outcome must be strictly positive.
    tail : str or None
        The posterior variable that sets how heavy the tails are: ``nu``, the
        Student-t's degrees of freedom; ``None`` for the other families.
    """

    name: str
    link: str
    dispersion: str | None
    positive: bool
    _log_density: Callable[..., np.ndarray]
    _draw: Callable[..., np.ndarray]
    tail: str | None = None

    def mean(self, eta: np.ndarray) -> np.ndarray:
        """The outcome's expected value for linear predictor ``eta`` (for a binomial, per trial: the probability)."""
        if self.link == "log":
            return np.exp(eta)
        if self.link == "logit":
            return special.expit(eta)
        return np.asarray(eta, dtype=float)

    def log_density(
        self,
        y: np.ndarray,
        eta: np.ndarray,
        dispersion: np.ndarray | None = None,
        trials: np.ndarray | None = None,
        tail: np.ndarray | None = None,
    ) -> np.ndarray:
        """Pointwise log density (or probability) of ``y`` (arrays broadcast together); ``trials`` for a
        binomial, ``tail`` (the degrees of freedom ``nu``) for a Student-t.

        Examples
        --------
        >>> import numpy as np
        >>> round(float(FAMILIES["gaussian"].log_density(np.array(0.0), np.array(0.0), np.array(1.0))), 4)
        -0.9189
        >>> round(float(FAMILIES["student_t"].log_density(np.array(0.0), np.array(0.0), np.array(1.0), tail=np.array(1.0))), 4)
        -1.1447
        """
        self._check_tail(tail)
        return self._log_density(
            np.asarray(y, dtype=float), self.mean(eta), _as_float(dispersion), _as_float(trials), *self._tail_args(tail)
        )

    def draw(
        self,
        rng: np.random.Generator,
        eta: np.ndarray,
        dispersion: np.ndarray | None = None,
        trials: np.ndarray | None = None,
        tail: np.ndarray | None = None,
    ) -> np.ndarray:
        """One random outcome per element of the broadcast ``eta`` and ``dispersion`` (or ``trials``, and ``tail``).

        Examples
        --------
        >>> import numpy as np
        >>> draws = FAMILIES["gamma"].draw(np.random.default_rng(0), np.zeros(10_000), np.full(10_000, 4.0))
        >>> bool(draws.min() > 0), round(float(draws.mean()), 1)
        (True, 1.0)
        """
        self._check_tail(tail)
        return self._draw(rng, self.mean(eta), _as_float(dispersion), _as_float(trials), *self._tail_args(tail))

    def _check_tail(self, tail) -> None:
        if self.tail is not None and tail is None:
            raise ValueError(f"the {self.name} family needs its {self.tail} (tail=...)")

    def _tail_args(self, tail) -> tuple:
        return () if self.tail is None else (_as_float(tail),)


def _as_float(values):
    return None if values is None else np.asarray(values, dtype=float)


def _gaussian_log_density(y, mean, sigma, trials=None):
    return stats.norm.logpdf(y, loc=mean, scale=sigma)


def _gaussian_draw(rng, mean, sigma, trials=None):
    return rng.normal(mean, sigma)


# Shape phi and rate phi / mean (as brms writes it): mean `mean`, sd mean / sqrt(phi).
def _gamma_log_density(y, mean, phi, trials=None):
    return stats.gamma.logpdf(y, a=phi, scale=mean / phi)


def _gamma_draw(rng, mean, phi, trials=None):
    return rng.gamma(phi, mean / phi)


# A Student-t with nu degrees of freedom around `mean`, scaled by sigma (its sd is sigma sqrt(nu / (nu - 2))
# for nu > 2): the normal's heavy-tailed sibling, which expects an occasional large deviation.
def _student_t_log_density(y, mean, sigma, trials, nu):
    return stats.t.logpdf(y, df=nu, loc=mean, scale=sigma)


def _student_t_draw(rng, mean, sigma, trials, nu):
    return mean + sigma * rng.standard_t(nu, size=np.broadcast_shapes(np.shape(mean), np.shape(sigma), np.shape(nu)))


#: The families the package's programs use, by name.
FAMILIES: dict[str, Family] = {
    "gaussian": Family("gaussian", "identity", "sigma_y", False, _gaussian_log_density, _gaussian_draw),
    "student_t": Family("student_t", "identity", "sigma_y", False, _student_t_log_density, _student_t_draw, tail="nu"),
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


# The count families of the general program (glmm.stan): binomial successes out of `trials` with a logit
# link, and Poisson counts with a log link. Neither has a dispersion parameter: the mean fixes the spread.
def _binomial_log_density(y, probability, dispersion, trials):
    return stats.binom.logpmf(y, trials, probability)


def _binomial_draw(rng, probability, dispersion, trials):
    return rng.binomial(np.broadcast_to(trials, np.shape(probability)).astype(np.int64), probability).astype(float)


def _poisson_log_density(y, mean, dispersion, trials=None):
    return stats.poisson.logpmf(y, mean)


def _poisson_draw(rng, mean, dispersion, trials=None):
    return rng.poisson(mean).astype(float)


FAMILIES["binomial"] = Family("binomial", "logit", None, False, _binomial_log_density, _binomial_draw)
FAMILIES["poisson"] = Family("poisson", "log", None, False, _poisson_log_density, _poisson_draw)
