"""Simulation-based calibration (SBC) of the catalogue's models.

SBC (Talts et al. 2018) checks a Stan program and its sampler over the whole
prior, not at one point of parameter space. Repeat:

1. draw the hyperparameters from the prior, then each state's intercept and
   slope from them;
2. simulate a data set from those values;
3. fit the model to the data set;
4. rank each true value among the posterior draws, thinned by their effective
   sample size to roughly independent draws
   (:func:`mixedrain.ranks.ranks_thinned_by_ess`).

If the program and the sampler are right, each rank is uniform on
``0 .. L``: the true value is as likely to fall in any slot among the
draws as any other. A U-shaped rank distribution means posteriors that are
too narrow, a hump posteriors too wide, a slope a bias.

This module runs the study for a catalogue model (``"centered"``,
``"integrated"``, ``"correlated_integrated"``, ``"gamma"``, ...);
:mod:`mixedrain.calibrate_formula` runs it for the formula program,
:mod:`mixedrain.ranks` ranks and tests, and :mod:`mixedrain.calibration_record`
writes and reads a run's record.

The prior that generates must be the prior that fits: :func:`study_priors`
fixes one set of prior settings (the model's default priors, scaled to the
seed's data set) for every replication.

The recorded large runs come from ``benchmarks/calibration/run.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.fit import SamplingWarning, fit_model
from mixedrain.models import Model, get_model, resolve_priors
from mixedrain.prepare import prepare_data
from mixedrain.ranks import N_THINNED, ranks_thinned_by_ess
from mixedrain.simulate import (
    STATES,
    YEARS,
    SimulationParameters,
    observed,
    simulate_positive_rainfall,
    simulate_rainfall,
    simulate_rainfall_datasets,
)

__all__ = [
    "MODEL",
    "QUANTITIES",
    "SAMPLER",
    "counting_sampling_warnings",
    "draw_from_prior",
    "quantities",
    "run_calibration",
    "run_replication",
    "simulate_from_truth",
    "simulate_replication",
    "simulation_parameters",
    "study_priors",
    "study_settings",
]

#: The model the study tests unless told otherwise: the book's first program, in its centered form.
MODEL = "centered"


def quantities(model: str | Model = MODEL) -> tuple[str, ...]:
    """The quantities a study of ``model`` ranks: its hyperparameters and the data's log-likelihood.

    Modrák et al. (2023) show that the log-likelihood catches errors the
    parameters alone miss.

    Examples
    --------
    >>> quantities("correlated_integrated")
    ('mu_alpha', 'mu_beta', 'sigma_alpha', 'sigma_beta', 'sigma_y', 'rho', 'log_lik')
    """
    return (*get_model(model).hyperparameters, "log_lik")


#: The quantities ranked in a study of :data:`MODEL`.
QUANTITIES: tuple[str, ...] = quantities(MODEL)

#: Sampler settings of every SBC fit (see the appendix for why these).
SAMPLER = {"chains": 2, "draws": 500, "warmup": 500}


def study_settings(n_replications: int, sampler: Mapping[str, int], n_thinned: int) -> dict[str, int]:
    """The sampler settings of a study (:data:`SAMPLER`, overridden by ``sampler``), once its sizes are checked.

    Shared by this module's studies and :mod:`mixedrain.calibrate_formula`'s.

    Examples
    --------
    >>> study_settings(10, {"draws": 200}, n_thinned=99)
    {'chains': 2, 'draws': 200, 'warmup': 500}
    >>> study_settings(10, {"draws": 40}, n_thinned=99)
    Traceback (most recent call last):
    ...
    ValueError: cannot keep 99 draws out of 80
    """
    if not isinstance(n_replications, (int, np.integer)) or isinstance(n_replications, bool) or n_replications < 1:
        raise ValueError(f"n_replications must be a positive whole number, got {n_replications!r}")
    unknown = set(sampler) - set(SAMPLER)
    if unknown:
        raise ValueError(f"unknown sampler setting(s) {sorted(unknown)}; known: {sorted(SAMPLER)}")
    settings = {**SAMPLER, **sampler}
    if n_thinned > settings["chains"] * settings["draws"]:
        raise ValueError(f"cannot keep {n_thinned} draws out of {settings['chains'] * settings['draws']}")
    return settings


def study_priors(model: str | Model = MODEL) -> dict[str, float]:
    """The one prior of a whole study: the model's default priors for the seed's data.

    The default priors are scaled to the data they are fitted to
    (:func:`mixedrain.models.default_priors`), so each simulated data set would
    otherwise get a prior of its own and the prior that generated it would not
    be the prior that fits it. Fixing them once keeps the two the same. A
    Gamma model's priors are scaled to the seed's positive rainfall
    (:func:`mixedrain.simulate.simulate_positive_rainfall`).

    Examples
    --------
    >>> study_priors()["prior_mu_beta_mean"]
    0.0
    >>> study_priors("gamma")["prior_phi_shape"]
    2.0
    """
    spec = get_model(model)
    return resolve_priors(spec, _reference(spec))


def draw_from_prior(
    priors: Mapping[str, float], rng: np.random.Generator | int | None, n: int = 1, model: str | Model = MODEL
) -> pd.DataFrame:
    """Draw the hyperparameters from the catalogue's priors with the settings ``priors``.

    Each hyperparameter's prior is the ``scipy.stats`` distribution the
    catalogue states (:meth:`mixedrain.models.Prior.distribution`), the same
    one :func:`mixedrain.models.prior_table` reports and Stan samples (a
    correlation ``rho`` from the LKJ prior's Beta distribution).

    Parameters
    ----------
    priors : mapping
        Prior settings, e.g. from :func:`study_priors`.
    rng : numpy.random.Generator, int or None
        The generator, or a seed for :func:`numpy.random.default_rng`.
    n : int
        Number of draws.
    model : str or Model
        The catalogue model whose priors these are.

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
    spec = get_model(model)
    missing = sorted(set(spec.prior_settings) - set(priors))
    if missing:
        raise ValueError(f"prior settings {missing} are missing; pass all of them, e.g. study_priors({spec.name!r})")
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


def simulate_from_truth(
    model: str | Model, truth: Mapping[str, float], rng: np.random.Generator, n_states: int = len(STATES)
) -> pd.DataFrame:
    """A data set of the seed's shape (``n_states`` states, 51 by default, by ten years, year index 1..10) drawn from the model at ``truth``.

    Each state's effects are ``(alpha, beta) = mu + S w`` with ``w ~ N(0, I)``
    and ``S`` the Cholesky factor of their covariance (``rho`` is 0 for an
    uncorrelated model); each year's outcome comes from the model's family
    around ``alpha + beta * year_index`` on its link scale.

    Returns
    -------
    pandas.DataFrame
        Columns ``state``, ``year``, ``year_index``, ``rainfall``, and the
        latent ``true_intercept`` and ``true_slope``.

    Examples
    --------
    >>> truth = {"mu_alpha": 3.7, "mu_beta": 0.03, "sigma_alpha": 0.25, "sigma_beta": 0.02, "phi": 20.0}
    >>> data = simulate_from_truth("gamma", truth, np.random.default_rng(0))
    >>> data.shape, bool(data["rainfall"].min() > 0)
    ((510, 6), True)
    """
    spec = get_model(model)
    family = spec.outcome_family
    rho = float(truth.get("rho", 0.0))
    states = _states(n_states)
    w = rng.standard_normal((2, len(states)))
    intercept = truth["mu_alpha"] + truth["sigma_alpha"] * w[0]
    slope = truth["mu_beta"] + truth["sigma_beta"] * (rho * w[0] + np.sqrt(1 - rho**2) * w[1])
    year_index = np.arange(1, len(YEARS) + 1, dtype=float)
    eta = intercept[:, None] + slope[:, None] * year_index
    outcome = family.draw(rng, eta, np.full(eta.shape, float(truth[family.dispersion])))
    n_years = len(YEARS)
    return pd.DataFrame(
        {
            "state": np.repeat(np.asarray(states), n_years),
            "year": np.tile(np.asarray(YEARS), len(states)),
            "year_index": np.tile(np.arange(1, n_years + 1), len(states)),
            "rainfall": outcome.reshape(-1),
            "true_intercept": np.repeat(intercept, n_years),
            "true_slope": np.repeat(slope, n_years),
        }
    )


def _states(n_states: int) -> tuple[str, ...]:
    if not isinstance(n_states, (int, np.integer)) or isinstance(n_states, bool) or not 2 <= n_states <= len(STATES):
        raise ValueError(f"n_states must be a whole number from 2 to {len(STATES)}, got {n_states!r}")
    return STATES[:n_states]


def simulate_replication(
    priors: Mapping[str, float], rng: np.random.Generator, model: str | Model = MODEL, n_states: int = len(STATES)
) -> tuple[dict[str, float], pd.DataFrame]:
    """One prior draw and the data set simulated from it, with the first ``n_states`` of the seed's states.

    An uncorrelated Gaussian model's data come from the seed's vectorised
    simulator (:func:`mixedrain.simulate.simulate_rainfall_datasets`), so that
    ``"centered"`` and ``"integrated"`` studies with one seed fit the very same
    data sets; the others from :func:`simulate_from_truth`.

    Returns
    -------
    tuple
        The true hyperparameters, and the simulated rows (observed columns plus
        the true intercept and slope of each row's state).
    """
    spec = get_model(model)
    truth = draw_from_prior(priors, rng, model=spec).iloc[0].to_dict()
    if spec.family == "gaussian" and not spec.correlated:
        params = dataclasses.replace(simulation_parameters(truth), states=_states(n_states))
        data = simulate_rainfall_datasets(params, rng=rng)
    else:
        data = simulate_from_truth(spec, truth, rng, n_states)
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
    model: str | Model = MODEL,
    seed: int = 2018,
    n_thinned: int = N_THINNED,
    n_states: int = len(STATES),
    **sampler: int,
) -> dict:
    """Simulate one data set from the prior, fit it, and rank each true value.

    Replication ``index`` of study ``seed`` is reproducible on its own: its
    data and its fit's seed come from ``numpy.random.default_rng([seed,
    index])``, so studies of two models with one seed see the same truths
    (and, for ``"centered"`` and ``"integrated"``, the same data sets); the
    ranks' tie-breaking draws come from ``[seed, index, 1]``. Each quantity is
    ranked among its draws thinned by its ESS
    (:func:`mixedrain.ranks.ranks_thinned_by_ess`). Every fit is ranked,
    divergent or not; sampling warnings are counted, not shown; an error in a
    fit is recorded (column ``error``, ranks missing) instead of ending the study.

    Returns
    -------
    dict
        ``replication``; ``true_<q>``, ``rank_<q>``, ``ess_bulk_<q>`` and
        ``ess_tail_<q>`` for each quantity in :func:`quantities`;
        ``divergences``, ``sampling_warnings``, ``max_rhat`` (over the
        hyperparameters), ``min_ess_bulk`` and ``min_ess_tail`` (over the
        ranked quantities); ``sampling_seconds``; ``fit_seconds`` (the wall
        clock of the whole fit, waits for the machine's Stan lock included);
        ``error``.
    """
    spec = get_model(model)
    settings = {**SAMPLER, **sampler}
    ranked = quantities(spec)
    rng = np.random.default_rng([seed, index])
    truth, data = simulate_replication(priors, rng, spec, n_states)
    prepared = prepare_data(observed(data))
    states = data.drop_duplicates("state")
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    eta = states["true_intercept"].to_numpy()[codes] + states["true_slope"].to_numpy()[codes] * x
    family = spec.outcome_family
    truth["log_lik"] = float(family.log_density(np.asarray(prepared.stan_data["y"]), eta, truth[family.dispersion]).sum())
    row = {"replication": index, **{f"true_{q}": truth[q] for q in ranked}}
    clock = time.perf_counter()
    try:
        with counting_sampling_warnings() as caught:
            idata = fit_model(prepared, spec.name, priors=dict(priors), seed=int(rng.integers(1, 2**31 - 1)), **settings)
    except Exception as error:  # noqa: BLE001 - a failed fit is a result of the study, recorded below
        return {**row, **{f"rank_{q}": np.nan for q in ranked}, "error": f"{type(error).__name__}: {error}"}
    fit_seconds = time.perf_counter() - clock
    posterior = idata.posterior
    draws = {q: posterior[q].transpose("chain", "draw").to_numpy() for q in spec.hyperparameters}
    draws["log_lik"] = idata.log_likelihood["y"].sum("obs").transpose("chain", "draw").to_numpy()
    ranks = ranks_thinned_by_ess(draws, truth, np.random.default_rng([seed, index, 1]), n_thinned)
    return {
        **row,
        **ranks,
        **_diagnostics(idata, list(spec.hyperparameters), ranks, len(caught)),
        "sampling_seconds": float(idata.attrs["sampling_seconds"]),
        "fit_seconds": fit_seconds,
        "error": "",
    }


def _diagnostics(idata: az.InferenceData, hyper: list[str], ranks: Mapping[str, float], n_warnings: int) -> dict:
    """Divergences, warnings, the largest R-hat of ``hyper`` and the smallest ESS among the ranked quantities."""
    rhat = az.rhat(idata.posterior[hyper]).to_array()
    return {
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "sampling_warnings": n_warnings,
        "max_rhat": float(rhat.max()),
        "min_ess_bulk": min(v for k, v in ranks.items() if k.startswith("ess_bulk_")),
        "min_ess_tail": min(v for k, v in ranks.items() if k.startswith("ess_tail_")),
    }


def run_calibration(
    n_replications: int,
    *,
    model: str | Model = MODEL,
    priors: Mapping[str, float] | None = None,
    seed: int = 2018,
    n_thinned: int = N_THINNED,
    n_states: int = len(STATES),
    progress: Callable[[dict], None] | None = None,
    **sampler: int,
) -> pd.DataFrame:
    """Run an SBC study of a catalogue model: ``n_replications`` fits, each to data drawn from the prior.

    Parameters
    ----------
    n_replications : int
        Number of simulated data sets (and fits).
    model : str or Model
        The catalogue model under test (default :data:`MODEL`).
    priors : mapping, optional
        Prior settings, the same for generating and fitting; default
        :func:`study_priors`.
    seed : int
        The study's seed; replication ``i`` uses ``[seed, i]``.
    n_thinned : int
        The largest rank ``L``: each quantity keeps at most this many draws.
    n_states : int
        States per simulated data set (the seed's first ``n_states``), each
        with ten years; fewer make each fit cheaper.
    progress : callable, optional
        Called with each replication's row as it finishes.
    **sampler
        ``chains``, ``draws``, ``warmup`` (default :data:`SAMPLER`).

    Returns
    -------
    pandas.DataFrame
        One row per replication (see :func:`run_replication`); ``attrs``
        record the model and the settings.

    Examples
    --------
    >>> ranks = run_calibration(2, model="integrated")  # doctest: +SKIP
    >>> ranks.filter(like="rank_").shape  # doctest: +SKIP
    (2, 6)
    """
    settings = study_settings(n_replications, sampler, n_thinned)
    spec = get_model(model)
    _states(n_states)  # a bad number fails here, not in every replication
    priors = study_priors(spec) if priors is None else resolve_priors(spec, _reference(spec), dict(priors))
    rows = []
    for index in range(n_replications):
        row = run_replication(index, priors, model=spec, seed=seed, n_thinned=n_thinned, n_states=n_states, **settings)
        rows.append(row)
        if progress is not None:
            progress(row)
    table = pd.DataFrame(rows)
    table.attrs.update(model=spec.name, seed=seed, n_thinned=n_thinned, n_states=n_states, priors=dict(priors), **settings)
    return table


def _reference(spec: Model):
    """The seed's data set the study's priors are scaled to."""
    return prepare_data(simulate_positive_rainfall() if spec.outcome_family.positive else simulate_rainfall())
