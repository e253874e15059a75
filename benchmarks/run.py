"""Benchmark how a fit's cost grows with groups and with rows, and what compiling costs.

What it measures
----------------
1. The machine: cores, CPU, load average, Python and library versions, date.
2. Sampling, 4 chains x (1000 warm-up + 1000 draws), on four data sets from
   the seed's process: its own 51 states x 10 years
   (``prepare_data(simulate_rainfall())``), 500 x 10, 5,000 x 10 and
   51 x 100 (:func:`mixedrain.simulate.simulate_rainfall_datasets`, states
   labelled uniquely), each with four programs:

   * the book's default model (``fit_model``'s default, ``"integrated"``:
     each group's intercept and slope integrated out of a likelihood built
     from per-group sums, and drawn afterwards), with ``pointwise=False``:
     what sampling costs, without the NumPy log-likelihood and replicated
     data added after;
   * ``"centered"``: the same per-group sums, the group effects sampled;
   * ``"by_row"``: the centered model, its likelihood written row by row;
   * ``baseline``: the book's first program, frozen in
     ``benchmarks/baseline_centered.stan`` (row by row, and ``y_rep`` made in
     generated quantities, one value per row and draw shipped through httpstan),
     sampled with :func:`mixedrain.engine.sample_program` on the default model's
     data less its switches.

   For each: sampling seconds (``posterior.sample``: the chains, httpstan
   shipping their draws, PyStan parsing them), divergences, and for each
   hyperparameter (names from the catalogue) bulk and tail ESS, R-hat and
   bulk ESS per second of sampling. A row-by-row fit is skipped when the same
   program at a tenth of the groups already took more than a tenth of
   ``--max-seconds`` (its cost grows at least linearly with the rows); the
   default model is never skipped.
3. statsmodels MixedLM (REML, ``compare.fit_mixedlm``) seconds on each data set.
4. Compiling, into empty caches (``XDG_CACHE_HOME`` pointed at a new
   folder): each catalogue program alone in a fresh process
   (``mixedrain.engine.compile_code``; seconds and the compiler's peak
   memory), the first of them once more with httpstan's own compiler flags
   (which keep Python's ``-g``, where the book adds ``-g0``), then
   ``python -m mixedrain.build`` compiling them all, with
   ``--jobs 2`` and ``--jobs 3`` (wall seconds, and how many compiled
   programs the cache holds after).

Every fit really samples (``fit_model`` clears httpstan's stored fits) and
takes the fit lock of its program (``mixedrain.engine.machine_lock``). Results
go to stdout as a report and, one row per data set, program and
hyperparameter, to a CSV (``--csv``; the book's appendix *How fits scale*
reads ``benchmarks/scaling.csv``).

How to run
----------
From the repository root, on a quiet machine (about 15 minutes)::

    .venv/bin/python benchmarks/run.py --markdown --csv benchmarks/scaling.csv

``--quick`` (about 2 minutes: 51 x 10 and 51 x 100, no compiling, no CSV
unless ``--csv`` is given) is for trying changes. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline_centered.stan"
CHAINS, WARMUP, DRAWS = 4, 1000, 1000
SEED = 1234
DATA_SEED = 2026
MAX_SECONDS = 300.0
MIXEDLM_REPEATS = 3
#: ``python -m mixedrain.build --jobs N`` is timed for each N: two compiles at once, or three.
COMPILE_JOBS = (2, 3)
#: The hyperparameter the issue's targets are set on.
TARGET_PARAMETER = "sigma_beta"
CSV_COLUMNS = (
    "dataset", "groups", "years", "rows", "program", "chains", "warmup", "draws", "status", "sampling_seconds",
    "divergences", "parameter", "ess_bulk", "ess_tail", "r_hat", "ess_bulk_per_second", "load_1min", "note",
    "run_started",
)  # fmt: skip


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def default_model() -> str:
    """The catalogue model ``fit_model`` fits when none is named."""
    from mixedrain.models import DEFAULT_MODEL

    return DEFAULT_MODEL


# --- the data sets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    name: str
    groups: int
    years: int

    @property
    def rows(self) -> int:
        return self.groups * self.years

    def prepare(self):
        from mixedrain.prepare import prepare_data
        from mixedrain.simulate import STATES, YEARS, SimulationParameters, simulate_rainfall, simulate_rainfall_datasets

        if self.name == "seed":
            return prepare_data(simulate_rainfall())
        states = STATES if self.groups == len(STATES) else tuple(f"S{i:04d}" for i in range(1, self.groups + 1))
        years = tuple(range(YEARS[-1] - self.years + 1, YEARS[-1] + 1))
        frame = simulate_rainfall_datasets(SimulationParameters(states=states, years=years), rng=DATA_SEED)
        return prepare_data(frame.drop(columns="dataset"))


SEED_DATA = DataSet("seed", 51, 10)
DATA_SETS = (SEED_DATA, DataSet("51x100", 51, 100), DataSet("500x10", 500, 10), DataSet("5000x10", 5000, 10))


# --- 1. the machine -------------------------------------------------------------------------------


def machine_facts() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    facts = [
        ("date", datetime.datetime.now().astimezone().isoformat(timespec="minutes")),
        ("cores (os.cpu_count)", str(os.cpu_count())),
        ("CPU", cpu),
        ("load average at start (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("Python", platform.python_version()),
    ]
    facts += [(name, importlib.metadata.version(name)) for name in ("pystan", "httpstan", "arviz", "statsmodels")]
    return facts


# --- 2. sampling ----------------------------------------------------------------------------------


def fit_catalogue(prepared, model: str):
    """``fit_model`` as a reader calls it, without the pointwise NumPy extras."""
    from mixedrain.fit import fit_model

    return fit_model(prepared, model, chains=CHAINS, draws=DRAWS, warmup=WARMUP, seed=SEED, pointwise=False)


def fit_baseline(prepared):
    """The frozen first program on the default model's data, less the switches it does not know."""
    import arviz as az

    from mixedrain.engine import sample_program
    from mixedrain.models import get_model, program_data

    spec = get_model(default_model())
    data = {key: value for key, value in program_data(spec, prepared).items() if key not in spec.switches}
    fit, posterior, timings = sample_program(
        BASELINE.read_text(encoding="utf-8"), data, chains=CHAINS, draws=DRAWS, warmup=WARMUP, seed=SEED,
        label=BASELINE.name,
    )
    idata = az.from_pystan(posterior=fit, posterior_model=posterior)
    idata.attrs.update(timings, model=spec.name)
    return idata


def measure(prepared, program: str) -> dict:
    from mixedrain.diagnostics import sampling_efficiency
    from mixedrain.models import get_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = fit_baseline(prepared) if program == "baseline" else fit_catalogue(prepared, program)
    efficiency = sampling_efficiency(idata, get_model(default_model()).hyperparameters)
    sampling_warnings = [str(w.message) for w in caught if w.category.__name__ == "SamplingWarning"]
    return {
        "status": "ok",
        "sampling_seconds": float(idata.attrs["sampling_seconds"]),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "efficiency": efficiency,
        "load_1min": os.getloadavg()[0],
        "note": " / ".join(sampling_warnings),
    }


def skip_reason(program: str, data: DataSet, results: dict, max_seconds: float) -> str | None:
    """Why a slow program's fit at ``data`` is not run, or None to run it."""
    if program == default_model():
        return None
    smaller = [
        (other, result) for (other, name), result in results.items()
        if name == program and other.years == data.years and other.groups * 10 <= data.groups and result["status"] == "ok"
    ]  # fmt: skip
    for other, result in smaller:
        if result["sampling_seconds"] * data.groups / other.groups > max_seconds:
            return (
                f"skipped: {result['sampling_seconds']:.0f} s at {other.groups} groups, so at least "
                f"{result['sampling_seconds'] * data.groups / other.groups:.0f} s here (limit {max_seconds:.0f} s)"
            )
    return None


def sample_all(data_sets, programs, max_seconds: float) -> dict:
    results = {}
    for data in data_sets:
        prepared = data.prepare()
        for program in programs:
            reason = skip_reason(program, data, results, max_seconds)
            if reason:
                progress(f"{program} on {data.name}: {reason}")
                results[data, program] = {"status": "skipped", "note": reason}
                continue
            progress(f"sampling {program} on {data.name} ({data.groups} groups x {data.years} years)")
            results[data, program] = measure(prepared, program)
            progress(f"  {results[data, program]['sampling_seconds']:.1f} s")
    return results


# --- 3. statsmodels -------------------------------------------------------------------------------


def mixedlm_seconds(data_sets) -> dict:
    from mixedrain.reml import fit_mixedlm

    seconds = {}
    for data in data_sets:
        prepared = data.prepare()
        progress(f"statsmodels MixedLM on {data.name}")
        runs = []
        while len(runs) < MIXEDLM_REPEATS and sum(runs) < 10:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_mixedlm(prepared)
            runs.append(time.perf_counter() - start)
        seconds[data] = runs
    return seconds


# --- 4. compiling ---------------------------------------------------------------------------------


def compile_child(program: str, httpstan_flags: bool = False) -> None:
    """Run inside the subprocess: compile one program and print seconds and peak memory as JSON."""
    from mixedrain.engine import COMPILE_ARGS, compile_code
    from mixedrain.models import load_program

    with contextlib.redirect_stdout(sys.stderr):
        seconds = compile_code(load_program(program), None if httpstan_flags else COMPILE_ARGS)
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "largest_process_mib": largest}))


def compiled_modules(cache_home: Path) -> list[Path]:
    return [path for path in cache_home.rglob("*.so") if "models" in path.parts]


def compile_times() -> dict:
    from mixedrain.models import PROGRAMS

    env = dict(os.environ)
    results = {"alone": {}}
    runs = [(f"{program}.stan alone", [program]) for program in PROGRAMS]
    runs.append((f"{PROGRAMS[0]}.stan alone, httpstan's own flags (-g)", [PROGRAMS[0], "--httpstan-flags"]))
    for label, arguments in runs:
        with tempfile.TemporaryDirectory(prefix="bench-httpstan-") as empty:
            progress(f"cold compile: {label} (empty cache in {empty})")
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--compile-child", *arguments],
                env={**env, "XDG_CACHE_HOME": empty}, capture_output=True, text=True, check=True,
            )
            results["alone"][label] = json.loads(out.stdout.strip().splitlines()[-1])
            results["alone"][label]["modules"] = len(compiled_modules(Path(empty)))
    results["all"] = {}
    for jobs in COMPILE_JOBS:
        with tempfile.TemporaryDirectory(prefix="bench-httpstan-") as empty:
            progress(f"python -m mixedrain.build --jobs {jobs} into an empty cache ({empty})")
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "mixedrain.build", "--jobs", str(jobs)], env={**env, "XDG_CACHE_HOME": empty},
                capture_output=True, text=True, check=True,
            )
            results["all"][jobs] = {
                "seconds": time.perf_counter() - start,
                "modules": len(compiled_modules(Path(empty))),
                "output": out.stdout.strip(),
            }
    return results


# --- the report -----------------------------------------------------------------------------------


def table(headers, rows, markdown: bool) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in cells]
        lines.insert(1, "|" + "|".join("---" for _ in headers) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    fmt = lambda row: "  ".join(c.rjust(w) if is_number(c) else c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(cells[0]), "  ".join("-" * w for w in widths), *map(fmt, cells[1:])])


def is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def heading(text: str, markdown: bool) -> str:
    return f"\n## {text}\n" if markdown else f"\n{text}\n{'=' * len(text)}\n"


def describe(data: DataSet) -> str:
    return f"{data.groups:,} x {data.years}" + (" (the seed's data)" if data.name == "seed" else "")


def targets(results: dict, data_sets) -> list[list[str]]:
    """The issue's targets, each with the value measured in this run."""
    by_name = {data.name: data for data in data_sets}
    default = default_model()

    def ess_per_second(name: str, program: str) -> float | None:
        result = results.get((by_name.get(name), program), {})
        if result.get("status") != "ok":
            return None
        return float(result["efficiency"].loc[TARGET_PARAMETER, "ess_bulk_per_second"])

    def seconds(name: str) -> float | None:
        result = results.get((by_name.get(name), default), {})
        return result.get("sampling_seconds")

    rows = []

    def add(what: str, value: float | None, goal: float, at_most: bool = False, digits: int = 0) -> None:
        met = "n/a" if value is None else ("yes" if (value <= goal if at_most else value >= goal) else "NO")
        shown = "not run" if value is None else f"{value:,.{digits}f}"
        rows.append([what, shown, f"{'<=' if at_most else '>='} {goal:,.{digits if digits else 0}f}", met])

    seed_rate, baseline_rate = ess_per_second("seed", default), ess_per_second("seed", "baseline")
    add(f"{TARGET_PARAMETER} bulk ESS/s, {default}, 51 x 10", seed_rate, 2000)
    add(
        f"{default} / baseline {TARGET_PARAMETER} ESS/s, 51 x 10",
        None if seed_rate is None or baseline_rate is None else seed_rate / baseline_rate, 1.5, digits=2,
    )
    add(f"{TARGET_PARAMETER} bulk ESS/s, {default}, 500 x 10", ess_per_second("500x10", default), 500)
    rows.append([f"{default} at 5,000 x 10 present", "yes" if seconds("5000x10") else "no", "yes", "yes" if seconds("5000x10") else "NO"])
    long, short = seconds("51x100"), seconds("seed")
    add(f"sampling seconds 51 x 100 / 51 x 10, {default}", None if not long or not short else long / short, 1.5, at_most=True, digits=2)
    return rows


def report(facts, results, mixedlm, compiles, data_sets, programs, markdown: bool) -> str:
    from mixedrain.models import get_model

    names = get_model(default_model()).hyperparameters
    out = [("# " if markdown else "") + "mixedrain benchmark: how fits scale"]
    out.append(heading("1. Machine", markdown))
    out.append(table(["fact", "value"], facts, markdown))

    out.append(heading(f"2. Sampling, {CHAINS} chains x ({WARMUP} warm-up + {DRAWS} draws), seed {SEED}", markdown))
    rows = []
    for data in data_sets:
        for program in programs:
            result = results[data, program]
            if result["status"] != "ok":
                rows.append([describe(data), f"{data.rows:,}", program, result["note"], "", "", "", ""])
                continue
            efficiency = result["efficiency"]
            rows.append([
                describe(data), f"{data.rows:,}", program, f"{result['sampling_seconds']:.1f}", result["divergences"],
                f"{efficiency['r_hat'].max():.3f}", f"{efficiency.loc[TARGET_PARAMETER, 'ess_bulk_per_second']:,.0f}",
                f"{result['load_1min']:.1f}",
            ])  # fmt: skip
    out.append(table(["groups x years", "rows", "program", "sampling s", "divergences", "max R-hat (hyper)",
                      f"{TARGET_PARAMETER} bulk ESS/s", "load (1 min) after"], rows, markdown))  # fmt: skip
    out.append(
        "\nsampling s: PyStan's posterior.sample (the chains, httpstan shipping every draw as JSON, PyStan parsing it); "
        f"{default_model()}, centered and by_row are fitted with fit_model(..., pointwise=False)."
    )

    out.append(heading("3. Bulk ESS (and per second of sampling) of each hyperparameter", markdown))
    rows = []
    for data in data_sets:
        for program in programs:
            result = results[data, program]
            if result["status"] != "ok":
                continue
            efficiency = result["efficiency"]
            rows.append([describe(data), program] + [
                f"{efficiency.loc[name, 'ess_bulk']:,.0f} ({efficiency.loc[name, 'ess_bulk_per_second']:,.0f}/s)" for name in names
            ])  # fmt: skip
    out.append(table(["groups x years", "program", *names], rows, markdown))

    out.append(heading("4. statsmodels MixedLM (REML) on the same data, seconds", markdown))
    out.append(table(
        ["groups x years", "rows", "median s", "runs"],
        [[describe(d), f"{d.rows:,}", f"{statistics.median(s):.2f}", len(s)] for d, s in mixedlm.items()], markdown,
    ))  # fmt: skip

    if compiles:
        out.append(heading("5. Compiling into an empty cache", markdown))
        rows = [
            [label, f"{c['seconds']:.1f}", f"{c['largest_process_mib']:,.0f}", c["modules"]]
            for label, c in compiles["alone"].items()
        ]
        for jobs, everything in compiles["all"].items():
            rows.append([f"python -m mixedrain.build --jobs {jobs} (all)", f"{everything['seconds']:.1f}", "", everything["modules"]])
        out.append(table(["what", "wall s", "peak memory of the compiler MiB", "compiled modules in the cache after"], rows, markdown))
        for jobs, everything in compiles["all"].items():
            out.append(f"\npython -m mixedrain.build --jobs {jobs} printed:\n\n```\n" + everything["output"] + "\n```")

    out.append(heading("6. The issue's targets, measured in this run", markdown))
    out.append(table(["target", "measured", "goal", "met"], targets(results, data_sets), markdown))
    out.append(f"\nLoad average at end (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    out.append(f"Peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    return "\n".join(out)


def write_csv(path: Path, results, mixedlm, data_sets, programs, started: str) -> None:
    from mixedrain.models import get_model

    names = get_model(default_model()).hyperparameters
    rows = []
    for data in data_sets:
        base = {"dataset": data.name, "groups": data.groups, "years": data.years, "rows": data.rows, "run_started": started}
        for program in programs:
            result = results[data, program]
            common = {**base, "program": program, "chains": CHAINS, "warmup": WARMUP, "draws": DRAWS,
                      "status": result["status"], "note": result["note"]}  # fmt: skip
            if result["status"] != "ok":
                rows.append(common)
                continue
            for name in names:
                efficiency = result["efficiency"].loc[name]
                rows.append({
                    **common, "sampling_seconds": round(result["sampling_seconds"], 3), "divergences": result["divergences"],
                    "parameter": name, "ess_bulk": round(float(efficiency["ess_bulk"]), 1),
                    "ess_tail": round(float(efficiency["ess_tail"]), 1), "r_hat": round(float(efficiency["r_hat"]), 4),
                    "ess_bulk_per_second": round(float(efficiency["ess_bulk_per_second"]), 1),
                    "load_1min": round(result["load_1min"], 2),
                })  # fmt: skip
        if data in mixedlm:
            rows.append({**base, "program": "mixedlm", "status": "ok", "sampling_seconds": round(statistics.median(mixedlm[data]), 3),
                         "note": f"REML, median of {len(mixedlm[data])} run(s); seconds of the whole fit"})  # fmt: skip
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="51 x 10 and 51 x 100 only, no compiling")
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    parser.add_argument("--csv", type=Path, help="write the results, one row per data set, program and parameter")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="skip a row-by-row fit projected to take longer")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile measurements")
    parser.add_argument("--compile-child", metavar="PROGRAM", help=argparse.SUPPRESS)  # internal: one timed compile
    parser.add_argument("--httpstan-flags", action="store_true", help=argparse.SUPPRESS)  # internal: ... with -g
    args = parser.parse_args()
    # ArviZ announces its coming 1.0 refactor on import; it says nothing about these numbers.
    warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing", category=FutureWarning)
    if args.compile_child:
        compile_child(args.compile_child, args.httpstan_flags)
        return

    data_sets = DATA_SETS[:2] if args.quick else DATA_SETS
    programs = (default_model(), "centered", "by_row", "baseline")
    facts = machine_facts()
    results = sample_all(data_sets, programs, args.max_seconds)
    mixedlm = mixedlm_seconds(data_sets)
    compiles = None if args.quick or args.no_compile else compile_times()
    if args.csv:
        write_csv(args.csv, results, mixedlm, data_sets, programs, dict(facts)["date"])
        progress(f"wrote {args.csv}")
    print(report(facts, results, mixedlm, compiles, data_sets, programs, args.markdown))


if __name__ == "__main__":
    main()
