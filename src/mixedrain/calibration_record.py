"""The record of a calibration run: its ranks and a README that says how and where it ran.

:func:`mixedrain.calibrate.main` writes a record; the appendix on calibration
reads the repository's recorded large run from :data:`RECORDED_RUN`.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pandas as pd

from mixedrain.ranks import N_THINNED, uniformity_test, uniformity_verdict

__all__ = ["RECORDED_RUN", "load_average", "read_record", "write_record"]

#: Where the repository keeps its recorded large run (the package is installed editable from ``src/``).
RECORDED_RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration"


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as text ("unavailable" where the system has none)."""
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
        f"- Load average (1, 5, 15 min) at start: {load_start}; at end: {load_end or load_average()}",
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
        uniformity_verdict(test),
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
