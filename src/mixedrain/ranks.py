"""Are the ranks of a simulation-based calibration uniform?

Each replication of an SBC study (:mod:`mixedrain.calibrate`) ranks a true
value among thinned posterior draws. If the program and the sampler are right,
each rank is uniform on ``0 .. n_thinned``; this module computes the ranks and
tests them against ArviZ's simultaneous ECDF band (Säilynoja et al. 2022).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd
from arviz.stats.ecdf_utils import ecdf_confidence_band
from scipy import stats

__all__ = [
    "MIN_SUBSET",
    "N_THINNED",
    "band_counts",
    "band_probability",
    "calibration_verdict",
    "effective_sizes",
    "rank_cdf",
    "rank_columns",
    "rank_statistic",
    "ranks_thinned_by_ess",
    "rescale_rank",
    "thin",
    "thin_by_ess",
    "uniformity_test",
    "uniformity_verdict",
]

#: Posterior draws kept per fit after thinning; ranks run from 0 to this number.
N_THINNED = 99


def thin(draws: np.ndarray, n_thinned: int = N_THINNED) -> np.ndarray:
    """Keep ``n_thinned`` draws evenly spaced over all chains (chains laid end to end).

    Ranks are uniform only among independent draws (Talts et al. 2018): with
    2 x 500 draws and 99 kept, consecutive kept draws are about 10 iterations
    apart, which is not enough when the chains mix slowly; :func:`thin_by_ess`
    chooses the number of draws from the effective sample size instead.

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


def effective_sizes(draws: np.ndarray) -> tuple[float, float]:
    """Bulk and tail effective sample sizes of one quantity's draws, shape ``(chain, draw)`` (ArviZ's estimators).

    An ESS ArviZ cannot estimate (not a number), or one below 1, counts as 1: one draw's worth of information.

    Examples
    --------
    >>> bulk, tail = effective_sizes(np.random.default_rng(0).normal(size=(2, 500)))
    >>> bool(800 < bulk < 1200 and 700 < tail < 1300)
    True
    """
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2:
        raise ValueError(f"draws must have shape (chain, draw), got {draws.shape}")
    sizes = []
    for method in ("bulk", "tail"):
        with np.errstate(invalid="ignore", divide="ignore"):
            value = float(az.ess(draws, method=method))
        sizes.append(value if math.isfinite(value) and value > 1 else 1.0)
    return sizes[0], sizes[1]


def thin_by_ess(draws: np.ndarray, ess: float, n_ranks: int = N_THINNED) -> np.ndarray:
    """Keep ``min(n_ranks, floor(ess))`` draws (at least one), evenly spaced over all chains.

    Spaced ``chain * draw / ess`` iterations apart or more, the kept draws are
    roughly independent, as the rank argument needs (Talts et al. 2018): a
    fixed step keeps autocorrelated draws whenever the ESS is below the number
    of draws kept.

    Parameters
    ----------
    draws : numpy.ndarray
        Shape ``(chain, draw, ...)``.
    ess : float
        The effective sample size to thin to, e.g. the smaller of the bulk and
        tail ESS (:func:`effective_sizes`).
    n_ranks : int
        The most draws to keep (the study's number of ranks ``L``).

    Examples
    --------
    >>> thin_by_ess(np.arange(20.0).reshape(2, 10), ess=4.7, n_ranks=10).tolist()
    [0.0, 6.0, 13.0, 19.0]
    >>> thin_by_ess(np.arange(20.0).reshape(2, 10), ess=300.0, n_ranks=5).size
    5
    """
    if not ess > 0:
        raise ValueError(f"ess must be positive, got {ess!r}")
    return thin(draws, int(min(n_ranks, max(1, math.floor(ess)))))


def rescale_rank(rank: int, n_kept: int, n_ranks: int, rng: np.random.Generator) -> int:
    """Move a rank among ``n_kept`` draws onto the scale ``0 .. n_ranks``, uniform if it was.

    A rank ``r`` uniform on ``0 .. n_kept`` plus an independent uniform on
    ``[0, 1)`` is uniform on ``[0, n_kept + 1)``; cutting that interval into
    ``n_ranks + 1`` equal slots gives a rank uniform on ``0 .. n_ranks``. So
    fits thinned to different numbers of draws share one rank scale, and one
    ECDF band tests them all. With ``n_kept == n_ranks`` the rank is unchanged.

    Examples
    --------
    >>> rescale_rank(7, 99, 99, np.random.default_rng(0))
    7
    >>> rescale_rank(0, 9, 99, np.random.default_rng(0)) < 10  # the lowest tenth of 0..99
    True
    """
    if not 0 <= rank <= n_kept:
        raise ValueError(f"rank must lie in 0..{n_kept}, got {rank!r}")
    if n_kept == n_ranks:
        return int(rank)
    position = (rank + rng.uniform()) / (n_kept + 1)
    return min(int(position * (n_ranks + 1)), n_ranks)


def ranks_thinned_by_ess(
    draws: Mapping[str, np.ndarray], truth: Mapping[str, float], rng: np.random.Generator, n_ranks: int = N_THINNED
) -> dict[str, float]:
    """Each quantity's SBC rank among its draws thinned by ESS, and the ESS it was thinned by.

    For each quantity: its bulk and tail ESS (:func:`effective_sizes`); its
    draws thinned to ``min(n_ranks, floor(min(bulk, tail)))``
    (:func:`thin_by_ess`); the truth's rank among them, put on the scale
    ``0 .. n_ranks`` (:func:`rescale_rank`).

    Parameters
    ----------
    draws : mapping
        Each quantity's draws, shape ``(chain, draw)``.
    truth : mapping
        Each quantity's true value.
    rng : numpy.random.Generator
        For :func:`rescale_rank`.
    n_ranks : int
        The study's largest rank ``L``.

    Returns
    -------
    dict
        ``rank_<q>``, ``ess_bulk_<q>`` and ``ess_tail_<q>`` for each quantity.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> row = ranks_thinned_by_ess({"theta": rng.normal(size=(2, 500))}, {"theta": 0.0}, rng)
    >>> sorted(row), 0 <= row["rank_theta"] <= 99
    (['ess_bulk_theta', 'ess_tail_theta', 'rank_theta'], True)
    """
    row: dict[str, float] = {}
    for quantity, values in draws.items():
        bulk, tail = effective_sizes(values)
        kept = thin_by_ess(np.asarray(values, dtype=float), min(bulk, tail), n_ranks)
        row[f"rank_{quantity}"] = rescale_rank(rank_statistic(kept, float(truth[quantity])), kept.size, n_ranks, rng)
        row[f"ess_bulk_{quantity}"] = bulk
        row[f"ess_tail_{quantity}"] = tail
    return row


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


@functools.lru_cache(maxsize=64)
def band_counts(n: int, n_thinned: int, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's simultaneous band (Säilynoja et al. 2022) for ``n`` uniform ranks, as counts of ranks <= k.

    The band ``az.plot_ecdf(..., confidence_bands="optimized")`` draws, computed
    once for each ``n`` and ``prob`` (it takes about a second) and reused by
    :func:`uniformity_test` and :func:`mixedrain.plot.plot_rank_ecdf`.

    Examples
    --------
    >>> lower, upper = band_counts(100, 99, 0.95)
    >>> bool(lower[49] < 50 < upper[49]), int(upper[-1])
    (True, 100)
    """
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
        lower, upper = band_counts(n, n_thinned, prob)
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


#: The fewest fits with divergent transitions that :func:`calibration_verdict` tests on their own: fewer
#: ranks give a band so wide that only a gross failure could leave it.
MIN_SUBSET = 20


def _departure(row: pd.Series, n_thinned: int) -> str:
    """Where an ECDF departs most from uniform, in shares of ranks: "7.8% of ranks at 0, 1.0% expected".

    Low ranks are counted from 0 up to the worst rank, high ranks from above it to the top.
    """
    worst = int(row["worst_rank"])
    expected = (worst + 1) / (n_thinned + 1)
    observed = float(row["ecdf_minus_uniform"]) + expected
    if worst < n_thinned / 2:
        where = "at 0" if worst == 0 else f"at or below {worst}"
        return f"{observed:.1%} of ranks {where}, {expected:.1%} expected"
    where = f"at {n_thinned}" if worst == n_thinned - 1 else f"above {worst}"
    return f"{1 - observed:.1%} of ranks {where}, {1 - expected:.1%} expected"


def _reasons(test: pd.DataFrame, n_thinned: int) -> str:
    failed = test.index[~test["inside"]]
    return "; ".join(
        f"`{q}`'s ranks leave the band ({test.loc[q, 'direction']}: {_departure(test.loc[q], n_thinned)})" for q in failed
    )


def calibration_verdict(
    study: pd.DataFrame,
    n_thinned: int = N_THINNED,
    *,
    name: str = "The program",
    control: pd.DataFrame | None = None,
    control_name: str = "the control",
    family_level: float = 0.95,
) -> str:
    """What an SBC study says about a program, in plain sentences, from its ranks and its divergences.

    Three verdicts. *Miscalibrated* if some quantity's ranks over all fits
    leave their band (:func:`uniformity_test`). *Miscalibrated where its
    sampler diverged* if they stay inside, but at least :data:`MIN_SUBSET`
    fits had divergent transitions and on those fits some quantity's ranks
    leave the band: the fits without divergences can dilute a failure
    confined to some data sets until the whole study hides it. Otherwise *no
    miscalibration shows*, with the divergent fits' share and, where the
    study records ESS (``min_ess_bulk``, ``min_ess_tail``), how many of them
    were ranked among fewer than ``n_thinned`` draws. Choosing fits by
    what the sampler did can bend ranks by itself, so a ``control`` study, a
    second program fitted to the same data sets (the same study seed), is
    tested on the same replications and its result told beside.

    Parameters
    ----------
    study : pandas.DataFrame
        A study's table: ``rank_<q>`` columns, ``divergences``, ``replication``
        and ``error`` (as :func:`mixedrain.calibrate.run_calibration` returns it).
    n_thinned : int
        The largest rank.
    name : str
        How the sentence names the program, capitalised: ``"The centered program"``.
    control : pandas.DataFrame, optional
        A study of another program on the same replications.
    control_name : str
        How the sentence names the control: ``"the integrated form"``.
    family_level : float
        As :func:`uniformity_test`.

    Returns
    -------
    str

    Examples
    --------
    >>> clean = pd.DataFrame({"replication": range(100), "rank_mu_alpha": np.arange(100), "divergences": 0, "error": ""})
    >>> calibration_verdict(clean, name="The integrated form")
    'No miscalibration shows in 100 replications: the ranks of its one quantity stay inside their simultaneous bands, and no fit had a divergent transition.'
    >>> stuck = clean.assign(rank_mu_alpha=np.r_[np.zeros(30, int), np.arange(1, 71)], divergences=np.arange(100) < 30)
    >>> print(calibration_verdict(stuck, name="The centered program"))  # doctest: +NORMALIZE_WHITESPACE
    The centered program is miscalibrated: `mu_alpha`'s ranks leave the band (too many low ranks: 30.0% of ranks at 0,
    1.0% expected). 30 of 100 fits (30%) had divergent transitions.
    """
    fitted = study[study["error"].astype(str) == ""] if "error" in study else study
    n = len(fitted)
    if n == 0:
        raise ValueError("the study has no fitted replications")
    overall = uniformity_test(fitted, n_thinned, family_level)
    divergent = fitted[fitted["divergences"] > 0]
    n_div = len(divergent)
    divergence = f"{n_div} of {n} fits ({n_div / n:.0%}) had divergent transitions"
    if not overall["inside"].all():
        return f"{name} is miscalibrated: {_reasons(overall, n_thinned)}. {divergence}."
    subset = uniformity_test(divergent, n_thinned, family_level) if n_div >= MIN_SUBSET else None
    if subset is not None and not subset["inside"].all():
        text = f"{name} is miscalibrated where its sampler diverged: {divergence}, and on those data sets {_reasons(subset, n_thinned)}"
        if control is not None:
            same = control[control["replication"].isin(divergent["replication"])]
            same = same[same["error"].astype(str) == ""] if "error" in same else same
            checked = uniformity_test(same, n_thinned, family_level)
            if checked["inside"].all():
                text += f". Fitted to the same {len(same)} data sets, {control_name}'s ranks stay inside their bands"
            else:
                text += (
                    f". Fitted to the same {len(same)} data sets, {control_name}'s ranks leave their bands too "
                    f"({_reasons(checked, n_thinned)}), so choosing fits by divergence bends ranks by itself"
                )
        return text + ". Over all fits the ranks stay inside their bands: the fits without divergences dilute the failure."
    text = (
        f"No miscalibration shows in {n} replications: the ranks of "
        f"{'its one quantity' if len(overall) == 1 else f'all {len(overall)} quantities'} stay inside their simultaneous bands"
    )
    if n_div == 0:
        return text + ", and no fit had a divergent transition."
    if subset is None:
        return text + f"; {divergence}, too few to test on their own."
    text += f", also on the {n_div} fits ({n_div / n:.0%}) with divergent transitions"
    if {"min_ess_bulk", "min_ess_tail"} <= set(divergent.columns):
        coarse = int((divergent[["min_ess_bulk", "min_ess_tail"]].min(axis=1) < n_thinned).sum())
        if coarse:
            text += (
                f"; {coarse} of those had a bulk or tail ESS below {n_thinned}, so their ranks were taken among "
                "fewer draws, a coarser test"
            )
    return text + "."
