"""Benchmark the book's workflow: compiling, sampling and the REML baseline.

What it measures
----------------
1. The machine: cores, CPU, load average, Python and library versions, date.
2. Compile time of each Stan program (``centered``, ``noncentered``):

   * cold - ``stan.build`` in a fresh Python process whose ``XDG_CACHE_HOME``
     points at an empty temporary directory (httpstan finds its cache with
     ``appdirs.user_cache_dir``, which honours ``XDG_CACHE_HOME``), so the C++
     is really compiled; the size the directory grows to is shown as proof.
     Peak memory: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` inside that
     process gives the largest single compiler process exactly; ``psutil``
     (if installed) polls the whole process tree every 0.1 s for its summed RSS.
   * cached - the same in a fresh process against the normal cache.
3. Sampling time (4 chains x 1000 warmup + 1000 draws) of each program on the
   seed's data (``prepare_data(simulate_rainfall())``) with
   :func:`mixedrain.fit.fit_model`: ``idata.attrs["sampling_seconds"]`` and
   the wall time of the whole call.
4. Bulk ESS, tail ESS and bulk ESS per second of sampling for each
   hyperparameter, centered vs non-centered; ratio = non-centered / centered.
   Seeds 1234, 1, 2, 3 (median and min-max of the ratios over the seeds).
5. statsmodels MixedLM (REML) time on the same data, median of 5 runs.

httpstan would replay a repeated seeded fit from its disk cache; ``fit_model``
clears that store around every call, so every fit timed here really samples.

How to run
----------
From the repository root::

    .venv/bin/python benchmarks/run.py             # full run: 14 minutes on a busy 2-core machine
    .venv/bin/python benchmarks/run.py --quick     # seed 1234 only, no cold compile: about 2 minutes
    .venv/bin/python benchmarks/run.py --markdown  # tables as Markdown, for pasting

Progress goes to stderr; the report goes to stdout at the end.
"""

from __future__ import annotations

import argparse
import contextlib
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
import threading
import time
import warnings
from pathlib import Path

CHAINS, WARMUP, DRAWS = 4, 1000, 1000
MAIN_SEED = 1234
EXTRA_SEEDS = (1, 2, 3)
MIXEDLM_REPEATS = 5


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seed_data():
    from mixedrain.prepare import prepare_data
    from mixedrain.simulate import simulate_rainfall

    return prepare_data(simulate_rainfall())


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


# --- 2. compile time ------------------------------------------------------------------------------


def build_child(model: str) -> None:
    """Run inside the subprocess: build one program and print the timings as JSON."""
    import stan

    from mixedrain.models import DEFAULT_PRIORS, load_program

    data = {**seed_data().stan_data, **DEFAULT_PRIORS, "prior_only": 0}
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON line
        stan.build(load_program(model), data=data)
    seconds = time.perf_counter() - start
    kib = 1024  # ru_maxrss is in KiB on Linux
    print(
        json.dumps(
            {
                "seconds": seconds,
                "largest_child_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib,
                "self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
            }
        )
    )


def tree_rss_mib(pid: int) -> float:
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total / 2**20


def timed_build(model: str, cache_home: Path | None) -> dict:
    """Build ``model`` in a fresh process; ``cache_home`` None means the normal cache."""
    env = dict(os.environ)
    if cache_home is not None:
        env["XDG_CACHE_HOME"] = str(cache_home)
    command = [sys.executable, str(Path(__file__).resolve()), "--build-child", model]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"tree_mib": None}
    try:
        import psutil  # noqa: F401  # optional: the tree poll is skipped without it

        def poll() -> None:
            peak["tree_mib"] = 0.0
            while child.poll() is None:
                peak["tree_mib"] = max(peak["tree_mib"], tree_rss_mib(child.pid))
                time.sleep(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
    except ImportError:
        poller = None
    out, err = child.communicate()
    if poller is not None:
        poller.join()
    if child.returncode != 0:
        raise RuntimeError(f"building {model} failed:\n{err}")
    result = json.loads(out.strip().splitlines()[-1])
    result["tree_mib"] = peak["tree_mib"]
    if cache_home is not None:
        files = [p for p in cache_home.rglob("*") if p.is_file()]
        result["cache_mib"] = sum(p.stat().st_size for p in files) / 2**20
        result["compiled_module"] = any(p.suffix == ".so" for p in files)
    return result


def compile_times(models, cold: bool) -> dict[str, dict]:
    times = {}
    for model in models:
        times[model] = {}
        if cold:
            with tempfile.TemporaryDirectory(prefix="bench-httpstan-") as empty:
                progress(f"cold build of {model} (empty cache in {empty})")
                times[model]["cold"] = timed_build(model, Path(empty))
        progress(f"cached build of {model}")
        times[model]["cached"] = timed_build(model, None)
    return times


# --- 3 and 4. sampling and ESS --------------------------------------------------------------------


def one_fit(prepared, model: str, seed: int) -> dict:
    from mixedrain.compare import sampling_efficiency
    from mixedrain.fit import fit_model

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = fit_model(prepared, model, chains=CHAINS, draws=DRAWS, warmup=WARMUP, seed=seed)
    wall = time.perf_counter() - start
    efficiency = sampling_efficiency(idata)  # the hyperparameters, as chapter 3 reports them
    return {
        "sampling_seconds": idata.attrs["sampling_seconds"],
        "build_seconds": idata.attrs["build_seconds"],
        "wall_seconds": wall,
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "max_rhat": float(efficiency["r_hat"].max()),
        "load_after": os.getloadavg()[0],
        "warnings": len([w for w in caught if w.category.__name__ == "SamplingWarning"]),
        "bulk": efficiency["ess_bulk"].to_dict(),
        "tail": efficiency["ess_tail"].to_dict(),
        "bulk_per_s": efficiency["ess_bulk_per_second"].to_dict(),
    }


def sample_all(models, seeds) -> dict:
    """Fit every model with every seed."""
    prepared = seed_data()
    fits = {}
    for seed in seeds:
        for model in models:
            progress(f"sampling {model}, seed {seed}")
            fits[seed, model] = one_fit(prepared, model, seed)
    return fits


def mixedlm_seconds(repeats: int) -> list[float]:
    from mixedrain.compare import fit_mixedlm

    prepared = seed_data()
    progress(f"statsmodels MixedLM x {repeats}")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit_mixedlm(prepared)
        seconds.append(time.perf_counter() - start)
    return seconds


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


def spread(values) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def mib(value) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def report(facts, compiles, fits, mixedlm, seeds, models, markdown: bool) -> str:
    from mixedrain.fit import HYPERPARAMETERS

    out = [("# " if markdown else "") + "mixedrain benchmark"]
    out.append(heading("1. Machine", markdown))
    out.append(table(["fact", "value"], facts, markdown))

    out.append(heading("2. Compile time (stan.build in a fresh process)", markdown))
    headers, rows = ["program", "cache", "seconds"], []
    any_cold = any("cold" in compiles[m] for m in models)
    if any_cold:
        headers += ["cache dir MiB", "compiled .so", "peak RSS largest process MiB", "peak RSS process tree MiB"]
    for model in models:
        cold, cached = compiles[model].get("cold"), compiles[model]["cached"]
        if cold:
            rows.append(
                [model, "cold", f"{cold['seconds']:.1f}", f"{cold['cache_mib']:.1f}", "yes" if cold["compiled_module"] else "NO",
                 mib(cold["largest_child_mib"]), mib(cold["tree_mib"])]
            )
        rows.append([model, "cached", f"{cached['seconds']:.2f}"] + [""] * (len(headers) - 3))
    out.append(table(headers, rows, markdown))
    if any_cold:
        out.append(
            "\nLargest process: getrusage(RUSAGE_CHILDREN).ru_maxrss in the building process (the C++ compiler). "
            "Process tree: psutil, summed RSS polled every 0.1 s (a lower bound of the true peak)."
        )

    out.append(heading(f"3. Sampling ({CHAINS} chains x {WARMUP} warmup + {DRAWS} draws), seconds", markdown))
    rows = []
    for seed in seeds:
        for model in models:
            f = fits[seed, model]
            rows.append([seed, model, f"{f['sampling_seconds']:.1f}", f"{f['build_seconds']:.2f}", f"{f['wall_seconds']:.1f}",
                         f["divergences"], f"{f['max_rhat']:.3f}", f"{f['load_after']:.1f}"])
    out.append(table(["seed", "program", "sampling", "build", "fit_model wall", "divergences", "max R-hat (hyper)", "load (1 min) after"], rows, markdown))
    out.append(
        "\nsampling = idata.attrs['sampling_seconds'] (warmup + draws); build = the cached stan.build inside fit_model; "
        "wall = the whole fit_model call (build + sampling + conversion to InferenceData)."
    )

    centered, noncentered = models
    out.append(heading(f"4a. Effective sample size, seed {seeds[0]} (ratio = {noncentered} / {centered})", markdown))
    rows = []
    first = {m: fits[seeds[0], m] for m in models}
    for name in HYPERPARAMETERS:
        row = [name]
        for kind, digits in (("bulk", 0), ("tail", 0), ("bulk_per_s", 1)):
            c, n = first[centered][kind][name], first[noncentered][kind][name]
            row += [f"{c:.{digits}f}", f"{n:.{digits}f}", f"{n / c:.2f}"]
        rows.append(row)
    out.append(
        table(["parameter", "bulk C", "bulk NC", "ratio", "tail C", "tail NC", "ratio", "bulk/s C", "bulk/s NC", "ratio"], rows, markdown)
    )
    if len(seeds) > 1:
        out.append(heading(f"4b. Ratio {noncentered} / {centered} over seeds {', '.join(map(str, seeds))}: median (min-max)", markdown))
        rows = []
        for name in HYPERPARAMETERS:
            row = [name]
            for kind in ("bulk", "tail", "bulk_per_s"):
                row.append(spread([fits[s, noncentered][kind][name] / fits[s, centered][kind][name] for s in seeds]))
            rows.append(row)
        sampling_ratio = [fits[s, noncentered]["sampling_seconds"] / fits[s, centered]["sampling_seconds"] for s in seeds]
        out.append(table(["parameter", "bulk ESS ratio", "tail ESS ratio", "bulk ESS/s ratio"], rows, markdown))
        out.append(f"\nSampling-time ratio {noncentered} / {centered}: {spread(sampling_ratio)}.")

    out.append(heading(f"5. statsmodels MixedLM (REML), {len(mixedlm)} runs", markdown))
    out.append(f"median {statistics.median(mixedlm):.3f} s (min {min(mixedlm):.3f}, max {max(mixedlm):.3f})")
    out.append(f"\nLoad average at end (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"seed {MAIN_SEED} only, skip the cold compiles")
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    parser.add_argument("--build-child", metavar="MODEL", help=argparse.SUPPRESS)  # internal: one timed build
    args = parser.parse_args()
    # ArviZ announces its coming 1.0 refactor on import; it says nothing about these numbers.
    warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing", category=FutureWarning)
    if args.build_child:
        build_child(args.build_child)
        return

    from mixedrain.models import MODEL_NAMES

    models = list(MODEL_NAMES)
    seeds = [MAIN_SEED] if args.quick else [MAIN_SEED, *EXTRA_SEEDS]
    facts = machine_facts()
    compiles = compile_times(models, cold=not args.quick)
    fits = sample_all(models, seeds)
    mixedlm = mixedlm_seconds(MIXEDLM_REPEATS)
    print(report(facts, compiles, fits, mixedlm, seeds, models, args.markdown))


if __name__ == "__main__":
    main()
