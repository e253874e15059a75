"""Grade a folder of submitted notebooks with ``otter run``, one after another, offline.

Otter's batch command, ``otter grade``, needs Docker; this loops ``otter run``
instead, in the current environment::

    python assignments/grade.py simulate_and_fit submissions/simulate_and_fit --output scores.csv

Every ``.ipynb`` in the folder is one student's submission, named as you like.
The scores (one row per submission, one column per autograded question, then
``total`` and ``possible``) are printed and written to ``--output``.
Questions graded by hand are not included.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Grade every notebook in a folder with otter run.")
    parser.add_argument("name", help="the assignment, e.g. simulate_and_fit")
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument("--output", type=Path, default=Path("scores.csv"), help="CSV file to write (default: scores.csv)")
    parser.add_argument("--generated", type=Path, default=DEFAULT_OUTPUT, help="where `make assignments` wrote its output")
    args = parser.parse_args(argv)

    autograder = autograder_zip(args.generated, args.name)
    submissions = sorted(args.submissions.glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"no .ipynb files in {args.submissions}")
    rows = []
    for submission in submissions:
        scores = grade_notebook(submission, args.name, autograder)
        possible = scores.pop("possible")
        rows.append({"submission": submission.name, **scores, "total": sum(scores.values()), "possible": possible})
        print(f"{submission.name}: {rows[-1]['total']:g} / {possible:g}", flush=True)
    with args.output.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
