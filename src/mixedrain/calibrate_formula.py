"""Simulation-based calibration of the formula program, ``glmm.stan``, on fixed designs.

The same study as :mod:`mixedrain.calibrate`, for Part III's general program:
a design (a formula evaluated on a real data set: its fixed-effect matrix,
grouping terms and, for a binomial, its trials) is kept, and each replication

1. draws the program's parameters from the design's default priors (fixed once,
   scaled to the real data, the same for simulating and fitting);
2. draws each level's effects and a new outcome for every row;
3. fits the formula to the simulated outcome with :func:`mixedrain.glmm_fit.fit_design`,
   in its default form (non-centered, where the effects are sampled);
4. ranks each true fixed effect, group SD, correlation, dispersion and the
   data's log-likelihood among the draws thinned by ESS
   (:func:`mixedrain.ranks.ranks_thinned_by_ess`).

The truth is named by the same code that names the fit's draws
(:func:`mixedrain.glmm_fit.name_draws`), so a truth and its draws cannot be
matched up wrongly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from mixedrain.calibrate import SAMPLER, counting_sampling_warnings, study_settings
from mixedrain.data import load_cbpp, load_penicillin
from mixedrain.families import get_family
from mixedrain.glmm import lkj_cpc_shapes, resolve_glmm_priors, term_slices
from mixedrain.glmm_fit import fit_design, groupings, linear_predictor, name_draws
from mixedrain.ranks import N_THINNED, ranks_thinned_by_ess

if TYPE_CHECKING:
    from mixedrain.formula import Design

__all__ = [
    "STUDIES",
    "FormulaStudy",
    "draw_glmm_prior",
    "named_quantities",
    "run_formula_calibration",
    "run_formula_replication",
    "simulate_from_prior",
    "with_outcome",
]


@dataclass(frozen=True)
class FormulaStudy:
    """A design to calibrate the formula program on: a formula, its family, and the data set that fixes its shape."""

    formula: str
    family: str
    load: Callable[[], pd.DataFrame]
    dataset: str

    def design(self) -> Design:
        """The formula evaluated on the real data set."""
        from mixedrain.formula import parse_formula  # the formula front end, imported late as glmm_fit does

        return parse_formula(self.formula, self.load(), family=self.family)

    def data_description(self) -> str:
        """One line for a record: rows, and levels of each grouping factor."""
        design = self.design()
        levels = ", ".join(f"{len(g.levels)} levels of `{g.label}`" for g in groupings(design))
        return f"the {len(design.y)} rows of lme4's `{self.dataset}` ({levels}), outcome simulated"


#: The designs the book calibrates the formula program on: a binomial one and a crossed one.
STUDIES: dict[str, FormulaStudy] = {
    "glmm_binomial": FormulaStudy("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", load_cbpp, "cbpp"),
    "glmm_crossed": FormulaStudy("diameter ~ 1 + (1 | plate) + (1 | sample)", "gaussian", load_penicillin, "Penicillin"),
}


def draw_glmm_prior(design: Design, priors: Mapping[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One draw of ``glmm.stan``'s parameters from the priors it states, shaped as its draws are ``(1, 1, ...)``.

    ``beta ~ N(prior_fixed_mean, prior_fixed_sd)``; each SD ``tau`` half-normal
    with its ``prior_sd_scale``; a correlated term's partial correlations
    ``(cpc + 1) / 2 ~ Beta`` with the LKJ shapes (:func:`mixedrain.glmm.lkj_cpc_shapes`);
    ``sigma`` half-normal, ``phi`` Gamma; ``z``, the standardised effects,
    standard normal. The program reads the same settings as data.

    Examples
    --------
    >>> from mixedrain.glmm import _example_design
    >>> design = _example_design()
    >>> raw = draw_glmm_prior(design, resolve_glmm_priors(design), np.random.default_rng(1))
    >>> raw["beta"].shape, raw["tau"].shape, raw["cpc"].shape
    ((1, 1, 2), (1, 1, 2), (1, 1, 1))
    """
    slices = term_slices(design)
    cpc = []
    for term, where, eta in zip(design.terms, slices, np.atleast_1d(priors["prior_lkj_eta"])):
        if where.cpc.stop > where.cpc.start:
            shapes = lkj_cpc_shapes(float(eta), len(term.columns))
            cpc.append(2 * rng.beta(shapes, shapes) - 1)
    family = get_family(design.family)
    raw = {
        "beta": rng.normal(priors["prior_fixed_mean"], priors["prior_fixed_sd"]),
        "tau": np.abs(rng.normal(0.0, priors["prior_sd_scale"])),
        "cpc": np.concatenate(cpc) if cpc else np.zeros(0),
        "sigma": np.abs(rng.normal(0.0, [priors["prior_sigma_sd"]])) if family.dispersion == "sigma_y" else np.zeros(0),
        "phi": rng.gamma(priors["prior_phi_shape"], 1 / priors["prior_phi_rate"], 1) if family.dispersion == "phi" else np.zeros(0),
        "z": rng.standard_normal(slices[-1].effects.stop if slices else 0),
    }
    return {name: np.asarray(value, dtype=float).reshape(1, 1, -1) for name, value in raw.items()}


def _label(text: str) -> str:
    return re.sub(r"\W+", "_", str(text)).strip("_")


def named_quantities(design: Design, draws: xr.Dataset) -> dict[str, np.ndarray]:
    """The quantities a study ranks, each shaped ``(chain, draw)``, from named draws (a fit's, or the truth's).

    ``fixed_<column>``, ``sd_<grouping>`` (``sd_<grouping>_<column>`` beside
    a slope), ``corr_<grouping>_<a>_<b>``, and ``sigma_y`` or ``phi``.
    """
    out = {f"fixed_{_label(c)}": draws["fixed"].sel(fixed_term=c).transpose("chain", "draw").to_numpy() for c in design.fixed}
    for grouping in groupings(design):
        for column in grouping.columns:
            name = f"sd_{grouping.name}" if grouping.columns == ("Intercept",) else f"sd_{grouping.name}_{_label(column)}"
            out[name] = draws[f"sd_{grouping.name}"].sel({grouping.effect_dim: column}).transpose("chain", "draw").to_numpy()
        if f"corr_{grouping.name}" in draws:
            for pair in draws[grouping.pair_dim].to_numpy():
                values = draws[f"corr_{grouping.name}"].sel({grouping.pair_dim: pair})
                out[f"corr_{grouping.name}_{_label(pair)}"] = values.transpose("chain", "draw").to_numpy()
    dispersion = get_family(design.family).dispersion
    if dispersion:
        out[dispersion] = draws[dispersion].transpose("chain", "draw").to_numpy()
    return out


def simulate_from_prior(
    design: Design, priors: Mapping[str, Any], rng: np.random.Generator
) -> tuple[dict[str, float], np.ndarray]:
    """Draw the parameters and effects from the prior, then an outcome for every row of ``design``.

    Returns
    -------
    tuple
        The true value of each quantity (:func:`named_quantities`, and
        ``log_lik``, the simulated outcome's log-likelihood at the truth), and
        the outcome (successes for a binomial, out of the design's trials).

    Examples
    --------
    >>> from mixedrain.glmm import _example_design
    >>> design = _example_design()
    >>> truth, y = simulate_from_prior(design, resolve_glmm_priors(design), np.random.default_rng(2))
    >>> sorted(truth), y.shape == design.y.shape
    (['corr_g_Intercept_x', 'fixed_Intercept', 'fixed_x', 'log_lik', 'sd_g_Intercept', 'sd_g_x', 'sigma_y'], True)
    """
    raw = draw_glmm_prior(design, priors, rng)
    named = name_draws(design, raw, {"integrated": 0, "centered": [0] * len(design.terms)})
    eta = linear_predictor(design, named)[0, 0]
    family = get_family(design.family)
    dispersion = named[family.dispersion].item() if family.dispersion else None
    trials = None if design.trials is None else np.asarray(design.trials, dtype=float)
    y = family.draw(rng, eta, dispersion, trials)
    truth = {name: float(value[0, 0]) for name, value in named_quantities(design, named).items()}
    truth["log_lik"] = float(family.log_density(y, eta, dispersion, trials).sum())
    return truth, y


def with_outcome(design: Design, y: np.ndarray) -> Design:
    """The design with a new outcome: its data with the outcome's column replaced, evaluated again.

    The outcome's first expression (the successes of a ``cbind``) must be a column of the data.
    """
    from mixedrain.formula import parse_formula

    column = design.outcome_parts[0] if design.outcome_parts else design.outcome
    if column not in design.frame.columns:
        raise ValueError(f"the outcome {column!r} is not a column of the data, so it cannot be replaced by a simulated one")
    frame = design.frame.copy()
    frame[column] = np.asarray(y, dtype=int if design.family in ("binomial", "poisson") else float)
    return parse_formula(design.formula, frame, family=design.family)


def run_formula_replication(
    index: int,
    design: Design,
    priors: Mapping[str, Any],
    *,
    seed: int = 2018,
    n_thinned: int = N_THINNED,
    **sampler: int,
) -> dict:
    """Simulate one outcome from the prior on ``design``, fit it, and rank each true value.

    As :func:`mixedrain.calibrate.run_replication`: replication ``index`` draws
    from ``numpy.random.default_rng([seed, index])``, every fit is ranked,
    warnings are counted, and a failed fit is recorded in ``error``.

    Returns
    -------
    dict
        The columns of :func:`mixedrain.calibrate.run_replication`, for this
        design's quantities.
    """
    settings = {**SAMPLER, **sampler}
    rng = np.random.default_rng([seed, index])
    truth, y = simulate_from_prior(design, priors, rng)
    row = {"replication": index, **{f"true_{q}": value for q, value in truth.items()}}
    clock = time.perf_counter()
    try:
        simulated = with_outcome(design, y)
        with counting_sampling_warnings() as caught:
            idata = fit_design(simulated, priors=dict(priors), seed=int(rng.integers(1, 2**31 - 1)), **settings)
    except Exception as error:  # noqa: BLE001 - a failed fit is a result of the study, recorded below
        return {**row, **{f"rank_{q}": np.nan for q in truth}, "error": f"{type(error).__name__}: {error}"}
    fit_seconds = time.perf_counter() - clock
    draws = named_quantities(design, idata.posterior)
    draws["log_lik"] = idata.log_likelihood["y"].sum("obs").transpose("chain", "draw").to_numpy()
    ranks = ranks_thinned_by_ess(draws, truth, np.random.default_rng([seed, index, 1]), n_thinned)
    hyper = [q for q in draws if q != "log_lik"]
    return {
        **row,
        **ranks,
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "sampling_warnings": len(caught),
        "max_rhat": max(float(az.rhat(draws[q])) for q in hyper),
        "min_ess_bulk": min(v for k, v in ranks.items() if k.startswith("ess_bulk_")),
        "min_ess_tail": min(v for k, v in ranks.items() if k.startswith("ess_tail_")),
        "sampling_seconds": float(idata.attrs["sampling_seconds"]),
        "fit_seconds": fit_seconds,
        "error": "",
    }


def run_formula_calibration(
    n_replications: int,
    study: str,
    *,
    seed: int = 2018,
    n_thinned: int = N_THINNED,
    progress: Callable[[dict], None] | None = None,
    **sampler: int,
) -> pd.DataFrame:
    """Run an SBC study of the formula program on one of :data:`STUDIES`' designs.

    Parameters
    ----------
    n_replications : int
        Number of simulated outcomes (and fits).
    study : str
        A key of :data:`STUDIES`.
    seed, n_thinned, progress, **sampler :
        As :func:`mixedrain.calibrate.run_calibration`.

    Returns
    -------
    pandas.DataFrame
        One row per replication; ``attrs`` record the study and the settings.
    """
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose one of {sorted(STUDIES)}")
    settings = study_settings(n_replications, sampler, n_thinned)
    design = STUDIES[study].design()
    priors = resolve_glmm_priors(design)
    rows = []
    for index in range(n_replications):
        row = run_formula_replication(index, design, priors, seed=seed, n_thinned=n_thinned, **settings)
        rows.append(row)
        if progress is not None:
            progress(row)
    table = pd.DataFrame(rows)
    shown = {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in priors.items()}
    table.attrs.update(model=study, formula=STUDIES[study].formula, seed=seed, n_thinned=n_thinned, priors=shown, **settings)
    return table
