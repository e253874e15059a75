"""Generate the student and autograder versions of every assignment with Otter Assign.

Each assignment's master notebook is a MyST Markdown file,
``assignments/<name>/<name>.md``, in the same jupytext format as the book's
chapters: it diffs line by line in review and cannot carry outputs. This script
converts it to ``<name>.ipynb`` in a scratch folder and runs ``otter assign`` on
that, writing::

    <output>/<name>/student/<name>.ipynb            hand this out
    <output>/<name>/autograder/<name>.ipynb         the solutions, for instructors
    <output>/<name>/autograder/<name>-autograder_<timestamp>.zip   for `otter run`

Usage (``make assignments`` runs the first form)::

    python assignments/generate.py                       # all assignments into assignments/_build
    python assignments/generate.py simulate_and_fit      # one assignment
    python assignments/generate.py --output DIR --no-run-tests

By default ``otter assign`` also grades the solution notebook and fails unless
it scores full marks (one cheap Stan fit per assignment). Nothing is downloaded:
no PDFs are made and no packages are installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext

ASSIGNMENTS = Path(__file__).resolve().parent
DEFAULT_OUTPUT = ASSIGNMENTS / "_build"


def assignment_names() -> list[str]:
    """Names of the assignments: folders holding a master ``<name>/<name>.md``."""
    return sorted(p.parent.name for p in ASSIGNMENTS.glob("*/*.md") if p.stem == p.parent.name)


def master_path(name: str) -> Path:
    """The master MyST Markdown notebook of assignment ``name``."""
    path = ASSIGNMENTS / name / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(f"no assignment {name!r}: {path} does not exist; known: {assignment_names()}")
    return path


def autograder_zip(output: Path, name: str) -> Path:
    """The newest autograder zip of assignment ``name`` under ``output``."""
    zips = sorted((output / name / "autograder").glob(f"{name}-autograder_*.zip"))
    if not zips:
        raise FileNotFoundError(f"no autograder zip for {name!r} under {output}: run `make assignments` first")
    return zips[-1]


def generate(name: str, output: Path = DEFAULT_OUTPUT, *, run_tests: bool = True) -> Path:
    """Run Otter Assign on assignment ``name``; return its output folder.

    The folder ``output / name`` is replaced.
    """
    notebook = jupytext.read(master_path(name))
    notebook.metadata.pop("jupytext", None)  # the handed-out notebook is a plain .ipynb
    target = (output / name).resolve()
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-master-") as scratch:
        master = Path(scratch) / f"{name}.ipynb"
        jupytext.write(notebook, master)
        command = [sys.executable, "-m", "otter", "assign", str(master), str(target)]
        if not run_tests:
            command.append("--no-run-tests")
        subprocess.run(command, check=True)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate student and autograder versions with Otter Assign.")
    parser.add_argument("names", nargs="*", help="assignments to generate (default: all)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default: assignments/_build)")
    parser.add_argument(
        "--no-run-tests", action="store_true", help="skip grading the solution notebook (saves one Stan fit each)"
    )
    args = parser.parse_args(argv)
    for name in args.names or assignment_names():
        print(f"== {name}", flush=True)
        target = generate(name, args.output, run_tests=not args.no_run_tests)
        print(f"   student:    {target / 'student' / (name + '.ipynb')}")
        print(f"   autograder: {autograder_zip(args.output, name)}", flush=True)


if __name__ == "__main__":
    main()
