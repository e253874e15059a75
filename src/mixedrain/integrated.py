"""A group's intercept and slope integrated out of a Gaussian likelihood: the maths, in NumPy.

The integrated models (``"integrated"``, ``"correlated_integrated"``) sample
the hyperparameters only. Their Stan programs compute the likelihood from each
group's sums with the functions in ``stan/integrated_gaussian.stanfunctions``;
this module is the same arithmetic in NumPy, for drawing the effects after
sampling (:func:`mixedrain.fit.draw_integrated_effects`). ``tests/test_integrated.py``
checks the two against each other and against SciPy's multivariate normal.

A group's effects are ``(mu_alpha, mu_beta) + S w`` with ``w ~ N(0, I)`` a
priori and ``S = [[a, 0], [b, c]]`` the Cholesky factor of their covariance:
``a = sigma_alpha``, ``b = sigma_beta * rho``, ``c = sigma_beta * sqrt(1 -
rho^2)`` (``rho = 0`` when uncorrelated). With ``X = [1, x]`` the group's
design and ``r`` its residuals from the population line, ``M = I + S'X'X S /
sigma_y^2`` and ``v = S'X'r / sigma_y^2``; given its rows, ``w`` is normal with
precision ``M`` and mean ``M^-1 v``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["GroupSums", "Conditional", "group_sums", "conditional", "log_likelihood"]


class GroupSums(NamedTuple):
    """Each group's number of rows and its sums of ``x``, ``x^2``, ``y`` and ``x y``, and ``sum(y^2)`` over all rows."""

    n: np.ndarray
    sum_x: np.ndarray
    sum_xx: np.ndarray
    sum_y: np.ndarray
    sum_xy: np.ndarray
    sum_yy: float


class Conditional(NamedTuple):
    """A group's ``M = [[m11, m12], [m12, m22]]`` and ``v = (v1, v2)``, one value per group (and draw)."""

    m11: np.ndarray
    m12: np.ndarray
    m22: np.ndarray
    v1: np.ndarray
    v2: np.ndarray

    @property
    def det(self) -> np.ndarray:
        """The determinant of ``M``."""
        return self.m11 * self.m22 - self.m12**2


def group_sums(codes: np.ndarray, x: np.ndarray, y: np.ndarray, groups: int) -> GroupSums:
    """The sums a group's Gaussian likelihood depends on, for 0-based group ``codes``.

    Examples
    --------
    >>> import numpy as np
    >>> sums = group_sums(np.array([0, 0, 1]), np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]), 2)
    >>> sums.n.tolist(), sums.sum_xy.tolist(), sums.sum_yy
    ([2.0, 1.0], [10.0, 18.0], 56.0)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n, sum_x, sum_xx, sum_y, sum_xy = (np.bincount(codes, weights=w, minlength=groups) for w in (np.ones_like(x), x, x * x, y, x * y))
    return GroupSums(n, sum_x, sum_xx, sum_y, sum_xy, float(y @ y))


def conditional(sums: GroupSums, mu_alpha, mu_beta, a, b, c, sigma_y) -> Conditional:
    """Each group's ``M`` and ``v`` (arrays broadcast: e.g. hyperparameters of shape ``(chains, draws, 1)``).

    Examples
    --------
    >>> import numpy as np
    >>> sums = group_sums(np.array([0, 0]), np.array([0.0, 1.0]), np.array([1.0, 3.0]), 1)
    >>> m = conditional(sums, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0)
    >>> float(m.m11[0]), float(m.m12[0]), float(m.m22[0]), float(m.v1[0]), float(m.v2[0])
    (3.0, 1.0, 2.0, 4.0, 3.0)
    """
    variance = sigma_y**2
    residual = sums.sum_y - sums.n * mu_alpha - sums.sum_x * mu_beta
    x_residual = sums.sum_xy - sums.sum_x * mu_alpha - sums.sum_xx * mu_beta
    return Conditional(
        m11=1 + (a**2 * sums.n + 2 * a * b * sums.sum_x + b**2 * sums.sum_xx) / variance,
        m12=c * (a * sums.sum_x + b * sums.sum_xx) / variance,
        m22=1 + c**2 * sums.sum_xx / variance,
        v1=(a * residual + b * x_residual) / variance,
        v2=c * x_residual / variance,
    )


def log_likelihood(sums: GroupSums, mu_alpha, mu_beta, a, b, c, sigma_y) -> float:
    """The integrated log-likelihood of all groups, up to ``-N/2 log(2 pi)``: what the Stan function adds to ``target``.

    ``-N log sigma_y - 1/2 sum_j log det M_j - 1/2 (r'r / sigma_y^2 - sum_j v_j' M_j^-1 v_j)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> sums = group_sums(np.array([0]), np.array([0.0]), np.array([1.0]), 1)
    >>> # one row: y ~ N(0, sqrt(1 + 1)) once the intercept N(0, 1) is integrated out
    >>> value = log_likelihood(sums, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0) - 0.5 * np.log(2 * np.pi)
    >>> bool(np.isclose(value, stats.norm(0, np.sqrt(2)).logpdf(1.0)))
    True
    """
    m = conditional(sums, mu_alpha, mu_beta, a, b, c, sigma_y)
    rows = float(sums.n.sum())
    squared_residuals = (
        sums.sum_yy - 2 * mu_alpha * sums.sum_y.sum() - 2 * mu_beta * sums.sum_xy.sum() + mu_alpha**2 * rows
        + 2 * mu_alpha * mu_beta * sums.sum_x.sum() + mu_beta**2 * sums.sum_xx.sum()
    )  # fmt: skip
    explained = np.sum((m.m22 * m.v1**2 - 2 * m.m12 * m.v1 * m.v2 + m.m11 * m.v2**2) / m.det)
    return float(-rows * np.log(sigma_y) - 0.5 * np.sum(np.log(m.det)) - 0.5 * (squared_residuals / sigma_y**2 - explained))
