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

This module runs the study; :mod:`mixedrain.ranks` ranks and tests, and
:mod:`mixedrain.calibration_record` writes and reads a run's record.

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
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.calibration_record import load_average, write_record
from mixedrain.families import get_family
from mixedrain.fit import SamplingWarning, fit_model
from mixedrain.models import get_model, resolve_priors
from mixedrain.prepare import prepare_data
from mixedrain.ranks import N_THINNED, rank_statistic, thin, uniformity_test, uniformity_verdict
from mixedrain.simulate import SimulationParameters, observed, simulate_rainfall, simulate_rainfall_datasets

__all__ = [
    "MODEL",
    "QUANTITIES",
    "SAMPLER",
    "counting_sampling_warnings",
    "draw_from_prior",
    "main",
    "run_calibration",
    "run_replication",
    "simulate_replication",
    "simulation_parameters",
    "study_priors",
]

#: The model under test: the book's first program (the default "integrated" model shares it).
MODEL = "centered"

#: The quantities ranked: the five hyperparameters and the data's log-likelihood,
#: which Modrák et al. (2023) show catches errors the parameters alone miss.
QUANTITIES: tuple[str, ...] = (*get_model(MODEL).hyperparameters, "log_lik")

#: Sampler settings of every SBC fit (see the appendix for why these).
SAMPLER = {"chains": 2, "draws": 500, "warmup": 500}


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
    data = simulate_rainfall_datasets(simulation_parameters(truth), rng=rng)
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
    load_start = load_average()
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
    print(uniformity_verdict(uniformity_test(ranks, N_THINNED)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
