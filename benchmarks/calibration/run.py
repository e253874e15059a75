"""Run a large simulation-based calibration study of one model and record it in ``benchmarks/calibration/<model>/``.

Usage, from the repository root (one run at a time, at low priority beside other work)::

    nice -n 10 python benchmarks/calibration/run.py --model integrated --reps 300

Models: the catalogue's ``centered``, ``integrated``, ``correlated_integrated`` and
``gamma`` (:mod:`mixedrain.calibrate`), and the formula program's designs
``glmm_binomial`` and ``glmm_crossed`` (:mod:`mixedrain.calibrate_formula`). Each
replication's ranks are written to ``ranks.partial.csv`` as it finishes, so a crash
keeps what was done; at the end ``ranks.csv`` and ``README.md`` (the command, times,
counts and verdict, :func:`mixedrain.calibration_record.write_record`) replace it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd

from mixedrain import calibrate, calibrate_formula
from mixedrain.calibration_record import current_commit, load_average, record_folder, write_record
from mixedrain.models import STAN_FOLDER, get_model

#: How each study's record names what it calibrated.
NAMES = {
    "centered": "the centered program (catalogue model `centered`)",
    "integrated": "the integrated form (catalogue model `integrated`, the book's default)",
    "correlated_integrated": "the correlated integrated form (catalogue model `correlated_integrated`)",
    "gamma": "the Gamma model (catalogue model `gamma`)",
    **{name: f"the formula program on `{study.formula}` ({study.family})" for name, study in calibrate_formula.STUDIES.items()},
}

_INCLUDE = re.compile(r"^\s*#include\s+<?([\w.-]+)>?\s*$", re.M)


def program_files(program: str) -> list[str]:
    """A program's ``.stan`` file and the files it includes, as named in :data:`mixedrain.models.STAN_FOLDER`."""
    files = [f"{program}.stan"]
    for name in files:
        files.extend(f for f in _INCLUDE.findall((STAN_FOLDER / name).read_text(encoding="utf-8")) if f not in files)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, choices=sorted(NAMES), help="the model or design to calibrate")
    parser.add_argument("--reps", type=int, default=200, help="simulated data sets, one fit each")
    parser.add_argument("--seed", type=int, default=2018, help="the study's seed (2018: the recorded runs')")
    parser.add_argument("--states", type=int, default=51, help="states per data set (catalogue models only)")
    parser.add_argument("--output", type=Path, default=None, help="the record's folder (default benchmarks/calibration/<model>)")
    args = parser.parse_args(argv)
    output = args.output or record_folder(args.model)
    output.mkdir(parents=True, exist_ok=True)
    partial = output / "ranks.partial.csv"
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_start = load_average()
    commit = current_commit()
    clock = time.perf_counter()
    done: list[dict] = []

    def report(row: dict) -> None:
        done.append(row)
        pd.DataFrame(done).to_csv(partial, index=False)
        print(
            f"[{datetime.datetime.now():%H:%M:%S}] replication {row['replication']}: divergences "
            f"{row.get('divergences', '-')}, min ESS bulk {row.get('min_ess_bulk', float('nan')):.0f} tail "
            f"{row.get('min_ess_tail', float('nan')):.0f}{'  ERROR ' + row['error'] if row['error'] else ''}",
            flush=True,
        )

    if args.model in calibrate_formula.STUDIES:
        study = calibrate_formula.STUDIES[args.model]
        ranks = calibrate_formula.run_formula_calibration(args.reps, args.model, seed=args.seed, progress=report)
        programs, data = program_files("glmm"), study.data_description()
    else:
        ranks = calibrate.run_calibration(args.reps, model=args.model, seed=args.seed, n_states=args.states, progress=report)
        programs, data = program_files(get_model(args.model).program), f"{args.states} states x 10 years (year index 1..10)"
    command = "python benchmarks/calibration/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_record(
        ranks, output, name=NAMES[args.model], command=command.strip(), started=started, load_start=load_start,
        seconds=time.perf_counter() - clock, programs=programs, data=data, commit=commit,
        notes=[f"Launched from the repository root with niceness {os.nice(0)} (one process, beside other work)"],
    )
    partial.unlink(missing_ok=True)
    print((output / "README.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
