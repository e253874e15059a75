"""The record of a calibration run: its ranks and a README that says how and where it ran.

``benchmarks/calibration/run.py`` writes one record per model into
``benchmarks/calibration/<model>/``; the appendix on calibration reads them
from :data:`RECORDED_RUNS`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mixedrain.models import STAN_FOLDER
from mixedrain.ranks import N_THINNED, calibration_verdict, uniformity_test

__all__ = [
    "RECORDED_RUNS",
    "changed_programs",
    "current_commit",
    "git_blob_hash",
    "load_average",
    "read_record",
    "record_folder",
    "run_counts",
    "stan_code",
    "write_record",
]

#: Where the repository keeps its recorded large runs, one folder per model (the package is installed
#: editable from ``src/``).
RECORDED_RUNS = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration"


def record_folder(name: str) -> Path:
    """The folder of the recorded run called ``name`` (``"centered"``, ``"glmm_crossed"``, ...)."""
    return RECORDED_RUNS / name


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as text ("unavailable" where the system has none)."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unavailable"


def git_blob_hash(path: str | Path) -> str:
    """The hash git gives a file's content (``git hash-object``), so a record names the exact program text it tested.

    Examples
    --------
    >>> git_blob_hash(STAN_FOLDER / "glmm.stan") == git_blob_hash(STAN_FOLDER / "glmm.stan")
    True
    """
    content = Path(path).read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


#: The pieces of a Stan program's text: a string literal, a comment (// or /* */), whitespace, or one other character.
_STAN_PIECES = re.compile(r'(?P<string>"[^"]*")|(?P<gap>//[^\n]*|/\*.*?\*/|\s+)|(?P<code>.)', re.DOTALL)


def stan_code(text: str) -> str:
    """A Stan program's text as the compiler reads it: comments dropped, whitespace only where it separates words.

    Two texts with the same ``stan_code`` are the same program, so a run that
    tested one has tested the other. String literals (``print("// ...")``)
    are kept as they are.

    Examples
    --------
    >>> stan_code("real y;  // the outcome\\n/* a\\n   note */ y ~ normal(0, 1);")
    'real y;y~normal(0,1);'
    """
    pieces: list[str] = []
    gap = False
    for match in _STAN_PIECES.finditer(text):
        if match.lastgroup == "gap":
            gap = True
            continue
        piece = match.group()
        # A gap matters only between two characters of words or numbers ("real y"), not around "~".
        if gap and pieces and re.match(r"[\w.]", piece) and re.search(r"[\w.]$", pieces[-1]):
            pieces.append(" ")
        pieces.append(piece)
        gap = False
    return "".join(pieces)


def changed_programs(facts: Mapping[str, str], folder: str | Path = STAN_FOLDER) -> list[str]:
    """The Stan programs a record names whose code has changed since the run (comments and layout aside).

    The record's ``Stan programs`` fact names each program's git blob; the
    text of that blob comes from the repository (``git cat-file``) and is
    compared with the program in ``folder`` by :func:`stan_code`, so a run
    stays current when only a program's comments changed. A program whose
    recorded text git cannot find counts as changed.

    Parameters
    ----------
    facts : mapping
        A record's facts, as :func:`read_record` returns them.
    folder : str or Path
        Where the programs are now, inside the git repository that holds their recorded texts.

    Examples
    --------
    >>> blob = git_blob_hash(STAN_FOLDER / "glmm.stan")[:12]
    >>> changed_programs({"Stan programs": f"`glmm.stan` (git blob {blob})"})
    []
    """
    changed = []
    for program, blob in re.findall(r"`([\w.]+)` \(git blob ([0-9a-f]+)\)", facts["Stan programs"]):
        path = Path(folder) / program
        if git_blob_hash(path).startswith(blob):
            continue
        try:
            recorded = subprocess.run(["git", "cat-file", "blob", blob], cwd=folder, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            recorded = None  # no git, or a text it does not hold: nothing to compare with
        if recorded is None or stan_code(recorded) != stan_code(path.read_text(encoding="utf-8")):
            changed.append(program)
    return changed


def current_commit() -> str:
    """The repository's commit (short hash), marked if tracked files differ from it; "unknown" outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=STAN_FOLDER, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=STAN_FOLDER, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def run_counts(ranks: pd.DataFrame, n_ranks: int = N_THINNED) -> dict[str, float]:
    """The counts a record reports: replications, failed fits, divergent fits, fits with a low ESS.

    A fit has a low ESS if the bulk or the tail ESS of some ranked quantity is
    below ``n_ranks``: its ranks were taken among fewer than ``n_ranks`` draws.

    Examples
    --------
    >>> table = pd.DataFrame({"divergences": [0, 3], "sampling_warnings": [0, 1], "min_ess_bulk": [500.0, 80.0],
    ...                       "min_ess_tail": [300.0, 200.0], "sampling_seconds": [1.0, 2.0], "error": ["", ""]})
    >>> counts = run_counts(table)
    >>> counts["divergent_fits"], counts["low_ess_fits"], counts["low_bulk_fits"], counts["low_tail_fits"]
    (1, 1, 1, 0)
    """
    failed = ranks["error"].astype(str) != ""
    fitted = ranks[~failed]
    low_bulk = fitted["min_ess_bulk"] < n_ranks
    low_tail = fitted["min_ess_tail"] < n_ranks
    return {
        "replications": len(ranks),
        "failed": int(failed.sum()),
        "fitted": len(fitted),
        "divergent_fits": int((fitted["divergences"] > 0).sum()),
        "divergent_share": float((fitted["divergences"] > 0).mean()),
        "divergences": int(fitted["divergences"].sum()),
        "warned_fits": int((fitted["sampling_warnings"] > 0).sum()),
        "low_ess_fits": int((low_bulk | low_tail).sum()),
        "low_ess_share": float((low_bulk | low_tail).mean()),
        "low_bulk_fits": int(low_bulk.sum()),
        "low_tail_fits": int(low_tail.sum()),
        "median_sampling_seconds": float(fitted["sampling_seconds"].median()),
    }


def write_record(
    ranks: pd.DataFrame,
    output: Path,
    *,
    name: str,
    command: str,
    started: str,
    load_start: str,
    seconds: float,
    programs: Sequence[str] = (),
    data: str = "",
    priors: Mapping | None = None,
    commit: str | None = None,
    load_end: str | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Write ``ranks.csv`` and ``README.md`` (command, date, machine, load, times, counts, verdict) to ``output``.

    Parameters
    ----------
    ranks : pandas.DataFrame
        The study's table (``run_calibration``'s); its ``attrs`` give the sampler settings.
    output : Path
        The record's folder.
    name : str
        What was calibrated, as a sentence names it: ``"the integrated form"``.
    command, started, load_start, seconds :
        How the run was launched, when, the load average then, and its wall-clock seconds.
    programs : sequence of str
        The ``.stan`` files (in :data:`mixedrain.models.STAN_FOLDER`) the fits compiled, recorded with their git hashes.
    data : str
        What one replication's data set is, e.g. ``"51 states x 10 years"``.
    priors : mapping, optional
        The prior settings, the same for simulating and fitting.
    commit : str, optional
        The repository's commit when the run started (default: now, :func:`current_commit`).
    load_end : str, optional
        The load average at the end (default: now).
    notes : sequence of str
        More ``- Key: value`` lines.
    """
    output.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(output / "ranks.csv", index=False)
    n_ranks = ranks.attrs.get("n_thinned", N_THINNED)
    counts = run_counts(ranks, n_ranks)
    fitted = ranks[ranks["error"].astype(str) == ""]
    test = uniformity_test(fitted, n_ranks)
    waiting = (fitted["fit_seconds"] - fitted["sampling_seconds"]).sum()
    program_lines = ", ".join(f"`{name}` (git blob {git_blob_hash(STAN_FOLDER / name)[:12]})" for name in programs)
    lines = [
        f"# Simulation-based calibration of {name}: recorded large run",
        "",
        "Written by `benchmarks/calibration/run.py`; the appendix `chapters/appendix_calibration.md` reads",
        "`ranks.csv` and this file from here.",
        "",
        "```",
        command,
        "```",
        "",
        f"- Started: {started}",
        f"- Machine: {platform.node() or 'unknown'}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        f"- Repository commit at the start: {commit or current_commit()}",
        f"- Stan programs: {program_lines}",
        f"- Load average (1, 5, 15 min) at start: {load_start}; at end: {load_end or load_average()}",
        f"- Runtime: {seconds / 60:.1f} min (wall clock, while other work shared the machine)",
        f"- Of which sampling: {fitted['sampling_seconds'].sum() / 60:.1f} min; loading the compiled program and "
        f"waiting for the machine's one-fit-at-a-time Stan lock (other sessions' fits of the same program): "
        f"{waiting / 60:.1f} min",
        f"- Replications: {counts['replications']} ({counts['failed']} fits failed and have no ranks)",
        f"- Data per replication: {data}",
        f"- Sampler per fit: {ranks.attrs.get('chains')} chains x {ranks.attrs.get('draws')} draws after "
        f"{ranks.attrs.get('warmup')} warm-up; study seed {ranks.attrs.get('seed')}",
        f"- Ranks: 0 to {n_ranks}; each quantity's draws thinned by its ESS, to min({n_ranks}, floor(min(bulk ESS, "
        f"tail ESS))) evenly spaced draws, and a rank among fewer than {n_ranks} draws spread onto 0..{n_ranks} "
        "with a uniform tie-break (mixedrain.ranks.ranks_thinned_by_ess)",
        "- Counting: every fitted replication is ranked and tested; none is dropped for divergences, R-hat or low ESS",
        f"- Fits with any divergent transition: {counts['divergent_fits']} "
        f"(total divergent transitions {counts['divergences']}); fits with a SamplingWarning "
        f"(divergences, or an R-hat above 1.01): {counts['warned_fits']}",
        f"- Fits with a bulk or tail ESS below {n_ranks} for some ranked quantity: {counts['low_ess_fits']} "
        f"(bulk: {counts['low_bulk_fits']}, tail: {counts['low_tail_fits']})",
        f"- Sampling time per fit: median {counts['median_sampling_seconds']:.1f} s",
        f"- Prior settings, the same for simulating and fitting: {dict(priors or ranks.attrs.get('priors', {}))}",
        *(f"- {note}" for note in notes),
        "",
        "## Verdict",
        "",
        calibration_verdict(ranks, n_ranks, name=name[:1].upper() + name[1:]),
        "",
        "## Uniformity test (each ECDF against ArviZ's simultaneous band; all bands together at 95%)",
        "",
        "```",
        test.to_string(),
        "```",
        "",
    ]
    (output / "README.md").write_text("\n".join(lines), encoding="utf-8")


def read_record(folder: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a run recorded by :func:`write_record`: its table of ranks and the facts in its README.

    ``folder`` is a record's folder, or the name of one of the repository's
    recorded runs (:func:`record_folder`).

    Returns
    -------
    tuple
        The table (as :func:`run_calibration` returned it, ``error`` as
        text) and ``{"Command": ..., "Started": ..., "Runtime": ..., ...}``
        from the README's command block and its ``- Key: value`` lines.
    """
    folder = record_folder(folder) if isinstance(folder, str) and "/" not in folder else Path(folder)
    if not (folder / "ranks.csv").is_file():
        raise FileNotFoundError(f"no recorded run in {folder}: run `benchmarks/calibration/run.py --model NAME`")
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
