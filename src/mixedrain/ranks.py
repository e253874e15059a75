"""Are the ranks of a simulation-based calibration uniform?

Each replication of an SBC study (:mod:`mixedrain.calibrate`) ranks a true
value among thinned posterior draws. If the program and the sampler are right,
each rank is uniform on ``0 .. n_thinned``; this module computes the ranks and
tests them against ArviZ's simultaneous ECDF band (Säilynoja et al. 2022).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from arviz.stats.ecdf_utils import ecdf_confidence_band
from scipy import stats

__all__ = [
    "N_THINNED",
    "band_probability",
    "rank_cdf",
    "rank_columns",
    "rank_statistic",
    "thin",
    "uniformity_test",
    "uniformity_verdict",
]

#: Posterior draws kept per fit after thinning; ranks run from 0 to this number.
N_THINNED = 99


def thin(draws: np.ndarray, n_thinned: int = N_THINNED) -> np.ndarray:
    """Keep ``n_thinned`` draws evenly spaced over all chains (chains laid end to end).

    Ranks are uniform only among independent draws (Talts et al. 2018): with
    2 x 500 draws and 99 kept, consecutive kept draws are about 10 iterations
    apart, and the study records each fit's bulk ESS to show when that is not
    enough.

    Parameters
    ----------
    draws : numpy.ndarray
        Shape ``(chain, draw, ...)``.
    n_thinned : int
        Draws to keep; at most ``chain * draw``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_thinned, ...)``.

    Examples
    --------
    >>> thin(np.arange(20.0).reshape(2, 10), 4).tolist()
    [0.0, 6.0, 13.0, 19.0]
    """
    draws = np.asarray(draws, dtype=float)
    flat = draws.reshape(draws.shape[0] * draws.shape[1], *draws.shape[2:])
    if not 1 <= n_thinned <= len(flat):
        raise ValueError(f"n_thinned must be between 1 and the {len(flat)} draws, got {n_thinned!r}")
    return flat[np.round(np.linspace(0, len(flat) - 1, n_thinned)).astype(int)]


def rank_statistic(draws: np.ndarray, truth: float) -> int:
    """The number of draws below the true value: the SBC rank, from 0 to ``len(draws)``.

    For a continuous parameter a draw equals the truth with probability 0, so
    ties are not broken.

    Examples
    --------
    >>> rank_statistic(np.array([0.1, 0.5, 0.9]), 0.6)
    2
    """
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 1 or draws.size == 0:
        raise ValueError("draws must be a non-empty one-dimensional array")
    if not math.isfinite(truth):
        raise ValueError(f"the true value must be finite, got {truth!r}")
    return int(np.sum(draws < truth))


def rank_columns(ranks: pd.DataFrame) -> pd.DataFrame:
    """The ranks alone, one column per quantity (named without ``rank_``), failed fits left out."""
    columns = [name for name in ranks.columns if str(name).startswith("rank_")]
    if not columns:
        raise ValueError("no rank_<quantity> columns: pass the table mixedrain.calibrate.run_calibration returns")
    return ranks[columns].dropna().astype(int).rename(columns=lambda name: name.removeprefix("rank_"))


def band_probability(n_quantities: int, family_level: float = 0.95) -> float:
    """Each quantity's band probability so that all of them hold together with ``family_level``.

    With several quantities, one ECDF leaving its 95% band is more likely than
    5% even when all are calibrated; Bonferroni's correction gives each band
    ``1 - (1 - family_level) / n_quantities``.

    Examples
    --------
    >>> round(band_probability(5), 4)
    0.99
    """
    if not 0 < family_level < 1 or n_quantities < 1:
        raise ValueError("family_level must be in (0, 1) and n_quantities at least 1")
    return 1 - (1 - family_level) / n_quantities


@functools.lru_cache(maxsize=32)
def _band_counts(n: int, n_thinned: int, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's simultaneous band (Säilynoja et al. 2022) for ``n`` uniform ranks, as counts of ranks <= k."""
    eval_points = np.arange(n_thinned + 1)
    lower, upper = ecdf_confidence_band(n, eval_points, rank_cdf(n_thinned)(eval_points), prob=prob, method="optimized")
    return np.round(lower * n).astype(int), np.round(upper * n).astype(int)


def rank_cdf(n_thinned: int) -> Callable[[np.ndarray], np.ndarray]:
    """The CDF of a uniform rank on ``0 .. n_thinned``, what a calibrated program's ranks follow.

    Examples
    --------
    >>> rank_cdf(99)(np.array([0, 49, 99])).round(2).tolist()
    [0.01, 0.5, 1.0]
    """
    return stats.randint(0, n_thinned + 1).cdf


def uniformity_test(ranks: pd.DataFrame, n_thinned: int = N_THINNED, family_level: float = 0.95) -> pd.DataFrame:
    """Does each quantity's rank ECDF stay inside its simultaneous band?

    The band is the one ArviZ draws (``az.plot_ecdf(..., confidence_bands=
    "optimized")``, Säilynoja et al. 2022): if the ranks are uniform, the whole
    ECDF lies inside it with probability ``prob``. Each band gets
    :func:`band_probability`, so a calibrated program fails any quantity with
    probability at most ``1 - family_level``.

    Parameters
    ----------
    ranks : pandas.DataFrame
        The table of :func:`mixedrain.calibrate.run_calibration` (or any with ``rank_<q>`` columns).
    n_thinned : int
        The largest possible rank.
    family_level : float
        Probability that a calibrated program passes on every quantity.

    Returns
    -------
    pandas.DataFrame
        Indexed by quantity: ``n`` ranks, ``inside`` (bool), ``worst_rank``
        (where the ECDF is most extreme: the smallest binomial tail
        probability of its count, the scale the band is built on),
        ``ecdf_minus_uniform`` there, ``direction`` (where the ECDF leaves
        the band: "too many low ranks", "too few high ranks", "too few low
        ranks", "too many high ranks", two of them joined by "and" (a U shape
        is "too many low ranks and too many high ranks"), or "" inside) and the
        band's ``prob``.

    Examples
    --------
    >>> fake = pd.DataFrame({"rank_mu_alpha": np.arange(100) % 100})
    >>> bool(uniformity_test(fake).loc["mu_alpha", "inside"])
    True
    """
    table = rank_columns(ranks)
    if ((table < 0) | (table > n_thinned)).any().any():
        raise ValueError(f"ranks must lie in 0..{n_thinned}")
    prob = band_probability(table.shape[1], family_level)
    eval_points = np.arange(n_thinned + 1)
    uniform = rank_cdf(n_thinned)(eval_points)
    rows = {}
    for quantity, values in table.items():
        n = len(values)
        lower, upper = _band_counts(n, n_thinned, prob)
        counts = np.searchsorted(np.sort(values.to_numpy()), eval_points, side="right")
        inside = bool(np.all((lower <= counts) & (counts <= upper)))
        # The most extreme point is the one with the smallest binomial tail probability, the scale on
        # which the band is built (a common pointwise level); the last rank, where the ECDF is 1, cannot be.
        p, c = uniform[:-1], counts[:-1]
        tail = np.minimum(stats.binom.cdf(c, n, p), stats.binom.sf(c - 1, n, p))
        worst = int(np.argmin(tail))
        rows[quantity] = {
            "n": n,
            "inside": inside,
            "worst_rank": worst,
            "ecdf_minus_uniform": float(counts[worst] / n - uniform[worst]),
            "direction": _direction(counts - upper, lower - counts, n_thinned),
            "prob": prob,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quantity")


def _direction(above: np.ndarray, below: np.ndarray, n_thinned: int) -> str:
    """Say where an ECDF leaves its band: above it at rank k means too many ranks <= k, below it too few."""
    phrases = []  # (rank, phrase), told from low ranks to high
    if above.max() > 0:
        k = int(np.argmax(above))
        phrases.append((k, "too many low ranks" if k < n_thinned / 2 else "too few high ranks"))
    if below.max() > 0:
        k = int(np.argmax(below))
        phrases.append((k, "too few low ranks" if k < n_thinned / 2 else "too many high ranks"))
    return " and ".join(phrase for _, phrase in sorted(phrases))


def uniformity_verdict(test: pd.DataFrame) -> str:
    """One plain sentence saying what :func:`uniformity_test` found, whatever it found.

    Examples
    --------
    >>> fake = pd.DataFrame({"rank_mu_alpha": np.arange(100) % 100, "rank_sigma_y": np.zeros(100, int)})
    >>> uniformity_verdict(uniformity_test(fake))
    "`sigma_y`'s ranks leave the band (too many low ranks); `mu_alpha`'s ranks stay inside it."
    """
    failed = test.index[~test["inside"]].tolist()
    passed = test.index[test["inside"]].tolist()

    def listed(names: Sequence[str]) -> str:
        names = [f"`{name}`'s" for name in names]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    if not failed:
        return (
            f"The ranks of all {len(passed)} quantities stay inside their simultaneous bands: "
            f"they are consistent with uniform, so these {int(test['n'].min())} replications find no miscalibration."
        )
    reasons = "; ".join(f"`{name}`'s ranks leave the band ({test.loc[name, 'direction']})" for name in failed)
    if passed:
        return f"{reasons}; {listed(passed)} ranks stay inside it."
    return f"{reasons}."
