"""Grade a folder of submitted notebooks with ``otter run``, offline, several at a time.

Otter's batch command, ``otter grade``, needs Docker; this runs ``otter run``
instead, in the current environment, ``--jobs`` submissions at once::

    python assignments/grade.py simulate_and_fit submissions/simulate_and_fit --output scores.csv --jobs 4

Every ``.ipynb`` in the folder is one student's submission, named as you like.
The scores (one row per submission, one column per autograded question, then
``total`` and ``possible``, in the order of the file names) are printed as
each finishes and written to ``--output``. A submission that Otter cannot grade
at all is reported and left out of the CSV; the script then exits with status 1.
Questions graded by hand are not included.

Each job executes one notebook in its own kernel (a few hundred MB, more while
Stan samples). Fits of one Stan program wait for each other (a machine-wide
lock, ``mixedrain.build.machine_lock``), so beyond a few jobs the fits, not
the number of cores, set the pace.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import DEFAULT_OUTPUT, autograder_zip  # noqa: E402

OTTER = Path(sys.executable).parent / "otter"


def grade_notebook(submission: Path, name: str, autograder: Path) -> dict[str, float]:
    """Scores of one submission, by question, from ``otter run``."""
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        # Grade the file under the assignment's own name, as the notebook expects.
        notebook = Path(scratch) / f"{name}.ipynb"
        shutil.copy(submission, notebook)
        command = [str(OTTER), "run", "--no-logo", "-a", str(autograder), "-o", scratch, str(notebook)]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            raise RuntimeError(f"otter run failed on {submission}:\n{finished.stderr[-2000:]}")
        tests = json.loads((Path(scratch) / "results.json").read_text())["tests"]
    return {t["name"]: t["score"] for t in tests if t.get("max_score")} | {
        "possible": sum(t["max_score"] for t in tests if t.get("max_score"))
    }


def grade_folder(
    name: str, submissions: list[Path], autograder: Path, jobs: int = 1
) -> tuple[list[dict[str, object]], dict[Path, str]]:
    """Grade ``submissions``, ``jobs`` at a time; return their rows, in order, and the failures.

    Each job is an ``otter run`` subprocess, so threads are enough to keep them going.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    rows, failures = {}, {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {pool.submit(grade_notebook, s, name, autograder): s for s in submissions}
        for done in as_completed(running):
            submission = running[done]
            try:
                scores = done.result()
            except RuntimeError as error:
                failures[submission] = str(error)
                print(f"{submission.name}: NOT GRADED ({str(error).splitlines()[0]})", flush=True)
                continue
            possible = scores.pop("possible")
            rows[submission] = {"submission": submission.name, **scores, "total": sum(scores.values()), "possible": possible}
            print(f"{submission.name}: {rows[submission]['total']:g} / {possible:g}", flush=True)
    return [rows[s] for s in submissions if s in rows], failures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Grade every notebook in a folder with otter run.")
    parser.add_argument("name", help="the assignment, e.g. simulate_and_fit")
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument("--output", type=Path, default=Path("scores.csv"), help="CSV file to write (default: scores.csv)")
    parser.add_argument("--generated", type=Path, default=DEFAULT_OUTPUT, help="where `make assignments` wrote its output")
    parser.add_argument(
        "--jobs", type=int, default=1, help=f"submissions graded at once (default: 1; this machine has {os.cpu_count()} cores)"
    )
    args = parser.parse_args(argv)

    autograder = autograder_zip(args.generated, args.name)
    submissions = sorted(args.submissions.glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"no .ipynb files in {args.submissions}")
    rows, failures = grade_folder(args.name, submissions, autograder, args.jobs)
    if rows:
        with args.output.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.output}")
    if failures:
        for submission, error in failures.items():
            print(f"\n{submission} was not graded:\n{error}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
