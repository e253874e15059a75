"""Simulation-based calibration (SBC) of the book's first program, the centered model.

SBC (Talts et al. 2018) checks a Stan program and its sampler over the whole
prior, not at one point of parameter space. Repeat:

1. draw the hyperparameters from the prior, then each state's intercept and
   slope from them;
2. simulate a data set from those values;
3. fit the model to the data set;
4. rank each true value among the posterior draws (thinned to roughly
   independent draws).

If the program and the sampler are right, each rank is uniform on
``0 .. n_thinned``: the true value is as likely to fall in any slot among the
draws as any other. A U-shaped rank distribution means posteriors that are
too narrow, a hump posteriors too wide, a slope a bias.

The prior that generates must be the prior that fits: :func:`study_priors`
fixes one set of prior settings (the book's default priors, scaled to the
seed's data set) for every replication.

Run the large study from the command line::

    python -m mixedrain.calibrate --replications 300 --output benchmarks/calibration/
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
from arviz.stats.ecdf_utils import ecdf_confidence_band
from scipy import stats

from mixedrain.families import get_family
from mixedrain.fit import SamplingWarning, fit_model
from mixedrain.models import get_model, resolve_priors
from mixedrain.prepare import prepare_data
from mixedrain.simulate import SimulationParameters, observed, simulate_rainfall, simulate_rainfall_numpy

#: The model under test: the book's first program (the default "integrated" model shares it).
MODEL = "centered"

#: Posterior draws kept per fit after thinning; ranks run from 0 to this number.
N_THINNED = 99

#: The quantities ranked: the five hyperparameters and the data's log-likelihood,
#: which Modrák et al. (2023) show catches errors the parameters alone miss.
QUANTITIES: tuple[str, ...] = (*get_model(MODEL).hyperparameters, "log_lik")

#: How a quantity is written in figures.
SYMBOLS: dict[str, str] = {
    "mu_alpha": r"$\mu_\alpha$",
    "mu_beta": r"$\mu_\beta$",
    "sigma_alpha": r"$\sigma_\alpha$",
    "sigma_beta": r"$\sigma_\beta$",
    "sigma_y": r"$\sigma_y$",
    "log_lik": r"$\log p(y \mid \theta)$",
}

#: Sampler settings of every SBC fit (see the appendix for why these).
SAMPLER = {"chains": 2, "draws": 500, "warmup": 500}

#: Where the repository keeps its recorded large run (the package is installed editable from ``src/``).
RECORDED_RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration"


def study_priors() -> dict[str, float]:
    """The one prior of the whole study: the main program's default priors for the seed's data.

    The default priors are scaled to the data they are fitted to
    (:func:`mixedrain.models.default_priors`), so each simulated data set would
    otherwise get a prior of its own and the prior that generated it would not
    be the prior that fits it. Fixing them once keeps the two the same.

    Examples
    --------
    >>> study_priors()["prior_mu_beta_mean"]
    0.0
    """
    return resolve_priors(MODEL, prepare_data(simulate_rainfall()))


def draw_from_prior(priors: Mapping[str, float], rng: np.random.Generator | int | None, n: int = 1) -> pd.DataFrame:
    """Draw the hyperparameters from the catalogue's priors with the settings ``priors``.

    Each hyperparameter's prior is the ``scipy.stats`` distribution the
    catalogue states (:meth:`mixedrain.models.Prior.distribution`), the same
    one :func:`mixedrain.models.prior_table` reports and Stan samples.

    Parameters
    ----------
    priors : mapping
        Prior settings, e.g. from :func:`study_priors`.
    rng : numpy.random.Generator, int or None
        The generator, or a seed for :func:`numpy.random.default_rng`.
    n : int
        Number of draws.

    Returns
    -------
    pandas.DataFrame
        One row per draw, one column per hyperparameter.

    Examples
    --------
    >>> draw_from_prior(study_priors(), rng=1, n=3).shape
    (3, 5)
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number, got {n!r}")
    spec = get_model(MODEL)
    missing = sorted(set(spec.prior_settings) - set(priors))
    if missing:
        raise ValueError(f"prior settings {missing} are missing; pass all of them, e.g. study_priors()")
    rng = np.random.default_rng(rng)
    return pd.DataFrame({prior.parameter: prior.distribution(priors).rvs(size=n, random_state=rng) for prior in spec.priors})


def simulation_parameters(draw: Mapping[str, float], seed: int = 0) -> SimulationParameters:
    """The simulator's parameters for one prior draw of the hyperparameters.

    The error mean is 0, as the model assumes, so the model is correctly
    specified; the structure is the seed's, 51 states by 10 years with year
    index 1..10.

    Examples
    --------
    >>> draw = {"mu_alpha": 40.0, "mu_beta": 1.0, "sigma_alpha": 5.0, "sigma_beta": 2.0, "sigma_y": 8.0}
    >>> simulation_parameters(draw).error_mu
    0.0
    """
    return SimulationParameters(
        intercept_mu=float(draw["mu_alpha"]),
        intercept_sigma=float(draw["sigma_alpha"]),
        slope_mu=float(draw["mu_beta"]),
        slope_sigma=float(draw["sigma_beta"]),
        error_mu=0.0,
        error_sigma=float(draw["sigma_y"]),
        predictor="year_index",
        seed=int(seed),
    )


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


def _log_likelihood(y: np.ndarray, codes: np.ndarray, x: np.ndarray, alpha: np.ndarray, beta: np.ndarray, sigma_y) -> np.ndarray:
    """The data's total log-likelihood at each set of values (alpha, beta: (..., J); sigma_y: (...))."""
    eta = alpha[..., codes] + beta[..., codes] * x
    return get_family("gaussian").log_density(y, eta, np.asarray(sigma_y, dtype=float)[..., None]).sum(axis=-1)


def simulate_replication(priors: Mapping[str, float], rng: np.random.Generator) -> tuple[dict[str, float], pd.DataFrame]:
    """One prior draw and the data set simulated from it.

    Returns
    -------
    tuple
        The true hyperparameters, and the simulated rows (observed columns plus
        the true intercept and slope of each row's state).
    """
    truth = draw_from_prior(priors, rng).iloc[0].to_dict()
    data = simulate_rainfall_numpy(simulation_parameters(truth), rng=rng)
    return truth, data


@contextlib.contextmanager
def counting_sampling_warnings():
    """Count :class:`~mixedrain.fit.SamplingWarning` instead of showing them; other warnings go on as usual.

    Yields
    ------
    list
        Filled with the messages of the sampling warnings raised inside the block.

    Examples
    --------
    >>> with counting_sampling_warnings() as caught:
    ...     warnings.warn("2 of 1000 transitions diverged", SamplingWarning)
    >>> len(caught)
    1
    """
    caught: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("always", SamplingWarning)  # every fit's warning counts, not just the first
        show = warnings.showwarning

        def count_or_show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, SamplingWarning):
                caught.append(message)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = count_or_show  # catch_warnings puts the original back
        yield caught


def run_replication(
    index: int,
    priors: Mapping[str, float],
    *,
    seed: int = 2018,
    n_thinned: int = N_THINNED,
    **sampler: int,
) -> dict:
    """Simulate one data set from the prior, fit it, and rank each true value.

    Replication ``index`` of study ``seed`` is reproducible on its own: its
    random numbers come from ``numpy.random.default_rng([seed, index])``.
    Sampling warnings are counted, not shown; an error in a fit is recorded
    (column ``error``, ranks missing) instead of ending the study.

    Returns
    -------
    dict
        ``replication``; ``true_<q>`` and ``rank_<q>`` for each quantity in
        :data:`QUANTITIES`; ``divergences``, ``sampling_warnings``,
        ``max_rhat`` and ``min_ess_bulk`` over the hyperparameters;
        ``sampling_seconds``; ``error``.
    """
    settings = {**SAMPLER, **sampler}
    rng = np.random.default_rng([seed, index])
    truth, data = simulate_replication(priors, rng)
    prepared = prepare_data(observed(data))
    states = data.drop_duplicates("state")
    y = np.asarray(prepared.stan_data["y"])
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"])
    truth["log_lik"] = float(
        _log_likelihood(y, codes, x, states["true_intercept"].to_numpy(), states["true_slope"].to_numpy(), truth["sigma_y"])
    )
    row = {"replication": index, **{f"true_{q}": truth[q] for q in QUANTITIES}}
    try:
        with counting_sampling_warnings() as caught:
            idata = fit_model(
                prepared, MODEL, priors=dict(priors), pointwise=False, seed=int(rng.integers(1, 2**31 - 1)), **settings
            )
    except Exception as error:  # noqa: BLE001 - a failed fit is a result of the study, recorded below
        return {**row, **{f"rank_{q}": np.nan for q in QUANTITIES}, "error": f"{type(error).__name__}: {error}"}
    posterior = idata.posterior
    thinned = {name: thin(posterior[name].transpose("chain", "draw", ...).to_numpy(), n_thinned) for name in ("alpha", "beta", *QUANTITIES[:-1])}
    thinned["log_lik"] = _log_likelihood(y, codes, x, thinned["alpha"], thinned["beta"], thinned["sigma_y"])
    hyper = list(QUANTITIES[:-1])
    return {
        **row,
        **{f"rank_{q}": rank_statistic(thinned[q], truth[q]) for q in QUANTITIES},
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "sampling_warnings": len(caught),
        "max_rhat": float(az.rhat(posterior[hyper]).to_array().max()),
        "min_ess_bulk": float(az.ess(posterior[hyper], method="bulk").to_array().min()),
        "sampling_seconds": float(idata.attrs["sampling_seconds"]),
        "error": "",
    }


def run_calibration(
    n_replications: int,
    *,
    priors: Mapping[str, float] | None = None,
    seed: int = 2018,
    n_thinned: int = N_THINNED,
    progress: Callable[[dict], None] | None = None,
    **sampler: int,
) -> pd.DataFrame:
    """Run an SBC study of the main program: ``n_replications`` fits, each to data drawn from the prior.

    Parameters
    ----------
    n_replications : int
        Number of simulated data sets (and fits).
    priors : mapping, optional
        Prior settings, the same for generating and fitting; default
        :func:`study_priors`.
    seed : int
        The study's seed; replication ``i`` uses ``[seed, i]``.
    n_thinned : int
        Posterior draws kept per fit; ranks run from 0 to ``n_thinned``.
    progress : callable, optional
        Called with each replication's row as it finishes.
    **sampler
        ``chains``, ``draws``, ``warmup`` (default :data:`SAMPLER`).

    Returns
    -------
    pandas.DataFrame
        One row per replication (see :func:`run_replication`); ``attrs``
        record the settings.

    Examples
    --------
    >>> ranks = run_calibration(2)  # doctest: +SKIP
    >>> ranks.filter(like="rank_").shape  # doctest: +SKIP
    (2, 6)
    """
    if not isinstance(n_replications, (int, np.integer)) or isinstance(n_replications, bool) or n_replications < 1:
        raise ValueError(f"n_replications must be a positive whole number, got {n_replications!r}")
    unknown = set(sampler) - set(SAMPLER)
    if unknown:
        raise ValueError(f"unknown sampler setting(s) {sorted(unknown)}; known: {sorted(SAMPLER)}")
    settings = {**SAMPLER, **sampler}
    if n_thinned > settings["chains"] * settings["draws"]:
        raise ValueError(f"cannot keep {n_thinned} draws out of {settings['chains'] * settings['draws']}")
    priors = study_priors() if priors is None else resolve_priors(MODEL, prepare_data(simulate_rainfall()), dict(priors))
    rows = []
    for index in range(n_replications):
        row = run_replication(index, priors, seed=seed, n_thinned=n_thinned, **settings)
        rows.append(row)
        if progress is not None:
            progress(row)
    table = pd.DataFrame(rows)
    table.attrs.update(seed=seed, n_thinned=n_thinned, priors=dict(priors), **settings)
    return table


def rank_columns(ranks: pd.DataFrame) -> pd.DataFrame:
    """The ranks alone, one column per quantity (named without ``rank_``), failed fits left out."""
    columns = [name for name in ranks.columns if str(name).startswith("rank_")]
    if not columns:
        raise ValueError("no rank_<quantity> columns: pass the table run_calibration returns")
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
    lower, upper = ecdf_confidence_band(n, eval_points, _rank_cdf(n_thinned)(eval_points), prob=prob, method="optimized")
    return np.round(lower * n).astype(int), np.round(upper * n).astype(int)


def _rank_cdf(n_thinned: int) -> Callable[[np.ndarray], np.ndarray]:
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
        The table of :func:`run_calibration` (or any with ``rank_<q>`` columns).
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
    uniform = _rank_cdf(n_thinned)(eval_points)
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


def verdict(test: pd.DataFrame) -> str:
    """One plain sentence saying what :func:`uniformity_test` found, whatever it found.

    Examples
    --------
    >>> fake = pd.DataFrame({"rank_mu_alpha": np.arange(100) % 100, "rank_sigma_y": np.zeros(100, int)})
    >>> verdict(uniformity_test(fake))
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


def plot_rank_ecdf(
    ranks: pd.DataFrame,
    n_thinned: int = N_THINNED,
    family_level: float = 0.95,
    axes: np.ndarray | None = None,
):
    """Draw each quantity's rank ECDF minus the uniform CDF, inside ArviZ's simultaneous band.

    One panel per quantity. A calibrated program keeps every line inside its
    grey band (all together with probability ``family_level``); a line above
    the band means too many low ranks (the truth sits below the posterior), a
    line below it too many high ranks.

    Returns
    -------
    numpy.ndarray
        The axes, one per quantity.
    """
    import matplotlib.pyplot as plt

    table = rank_columns(ranks)
    prob = band_probability(table.shape[1], family_level)
    if axes is None:
        n_columns = 3
        n_rows = math.ceil(table.shape[1] / n_columns)
        _, axes = plt.subplots(n_rows, n_columns, figsize=(9, 2.8 * n_rows), sharey=True, layout="constrained")
    axes = np.ravel(axes)
    for ax, (quantity, values) in zip(axes, table.items()):
        az.plot_ecdf(
            values.to_numpy().copy(),  # ArviZ sorts it in place
            cdf=_rank_cdf(n_thinned),
            eval_points=np.arange(n_thinned + 1),
            difference=True,
            confidence_bands="optimized",
            ci_prob=prob,
            ax=ax,
        )
        ax.set_title(SYMBOLS.get(quantity, quantity))
        ax.set_xlabel(f"rank of the true value (0 to {n_thinned})")
        ax.axhline(0, color="grey", linewidth=0.5)
    for ax in axes[: table.shape[1]]:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("ECDF minus uniform CDF")
    for ax in axes[table.shape[1] :]:
        ax.remove()
    return axes[: table.shape[1]]


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unavailable"


def write_record(
    ranks: pd.DataFrame,
    output: Path,
    *,
    command: str,
    started: str,
    load_start: str,
    seconds: float,
    load_end: str | None = None,
) -> None:
    """Write ``ranks.csv`` and ``README.md`` (command, date, machine, load, runtime, verdict) to ``output``.

    ``load_end`` defaults to the load average now, at the end of the run.
    """
    output.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(output / "ranks.csv", index=False)
    test = uniformity_test(ranks, ranks.attrs.get("n_thinned", N_THINNED))
    failed = ranks["error"].astype(bool)
    fitted = ranks[~failed]
    lines = [
        "# Simulation-based calibration of the centered program: recorded large run",
        "",
        "Written by `python -m mixedrain.calibrate`; the appendix chapter `chapters/appendix_calibration.md`",
        "reads `ranks.csv` from here.",
        "",
        "```",
        command,
        "```",
        "",
        f"- Started: {started}",
        f"- Machine: {platform.node() or 'unknown'}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        f"- Load average (1, 5, 15 min) at start: {load_start}; at end: {load_end or _load_average()}",
        f"- Runtime: {seconds / 60:.1f} min (wall clock, while other work shared the machine)",
        f"- Replications: {len(ranks)} ({int(failed.sum())} fits failed and have no ranks)",
        f"- Sampler per fit: {ranks.attrs.get('chains')} chains x {ranks.attrs.get('draws')} draws after "
        f"{ranks.attrs.get('warmup')} warm-up; ranks among {ranks.attrs.get('n_thinned')} thinned draws; study seed "
        f"{ranks.attrs.get('seed')}",
        f"- Prior settings, the same for simulating and fitting: {ranks.attrs.get('priors')}",
        f"- Fits with any divergent transition: {int((fitted['divergences'] > 0).sum())} "
        f"(total divergent transitions {int(fitted['divergences'].sum())}); fits with a SamplingWarning: "
        f"{int((fitted['sampling_warnings'] > 0).sum())}; fits with a hyperparameter's bulk ESS below "
        f"{ranks.attrs.get('n_thinned')}: {int((fitted['min_ess_bulk'] < ranks.attrs.get('n_thinned', N_THINNED)).sum())}",
        f"- Sampling time per fit: median {fitted['sampling_seconds'].median():.1f} s",
        "",
        "## Verdict",
        "",
        verdict(test),
        "",
        "## Uniformity test (each ECDF against ArviZ's simultaneous band; all bands together at 95%)",
        "",
        "```",
        test.to_string(),
        "```",
        "",
    ]
    (output / "README.md").write_text("\n".join(lines), encoding="utf-8")


def read_record(folder: str | Path = RECORDED_RUN) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a run recorded by :func:`write_record`: its table of ranks and the facts in its README.

    The default is the repository's recorded large run, :data:`RECORDED_RUN`.

    Returns
    -------
    tuple
        The table (as :func:`run_calibration` returned it, ``error`` as
        text) and ``{"Command": ..., "Started": ..., "Runtime": ..., ...}``
        from the README's command block and its ``- Key: value`` lines.
    """
    folder = Path(folder)
    if not (folder / "ranks.csv").is_file():
        raise FileNotFoundError(f"no recorded run in {folder}: run `python -m mixedrain.calibrate --output {folder}`")
    ranks = pd.read_csv(folder / "ranks.csv", keep_default_na=False)  # an empty error is no error, not NaN
    for column in ranks.columns.drop("error"):
        ranks[column] = pd.to_numeric(ranks[column], errors="coerce")  # a failed fit has no ranks
    lines = (folder / "README.md").read_text(encoding="utf-8").splitlines()
    facts = {"Command": lines[lines.index("```") + 1]}
    for line in lines:
        if line.startswith("- ") and ": " in line:
            key, value = line[2:].split(": ", 1)
            facts[key] = value
    return ranks, facts


def main(argv: Sequence[str] | None = None) -> int:
    """Run an SBC study from the command line and record it (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m mixedrain.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=300, help="simulated data sets, one fit each")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/calibration"), help="folder for ranks.csv and README.md")
    parser.add_argument("--seed", type=int, default=2018, help="the study's seed")
    for name, value in SAMPLER.items():
        parser.add_argument(f"--{name}", type=int, default=value, help=f"sampler {name} per fit (default {value})")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_start = _load_average()
    clock = time.perf_counter()

    done: list[dict] = []
    partial = args.output / "ranks.partial.csv"
    args.output.mkdir(parents=True, exist_ok=True)

    def report(row: dict) -> None:
        done.append(row)
        pd.DataFrame(done).to_csv(partial, index=False)  # a crash keeps what was done
        print(
            f"[{datetime.datetime.now():%H:%M:%S}] replication {row['replication']}: divergences {row.get('divergences', '-')}, "
            f"min ESS {row.get('min_ess_bulk', float('nan')):.0f}{'  ERROR ' + row['error'] if row['error'] else ''}",
            flush=True,
        )

    ranks = run_calibration(
        args.replications, seed=args.seed, progress=report, chains=args.chains, draws=args.draws, warmup=args.warmup
    )
    command = "python -m mixedrain.calibrate " + " ".join(sys.argv[1:] if argv is None else argv)
    write_record(ranks, args.output, command=command.strip(), started=started, load_start=load_start, seconds=time.perf_counter() - clock)
    partial.unlink(missing_ok=True)
    print(verdict(uniformity_test(ranks, N_THINNED)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
