"""Generate the student and autograder versions of every assignment with Otter Assign.

Each assignment's master notebook is a MyST Markdown file,
``assignments/<name>/<name>.md``, in the same jupytext format as the book's
chapters: it diffs line by line in review and cannot carry outputs. This script
converts it to ``<name>.ipynb`` in a scratch folder and runs ``otter assign`` on
that, writing::

    <output>/<name>/student/<name>.ipynb            hand this out
    <output>/<name>/autograder/<name>.ipynb         the solutions, for instructors
    <output>/<name>/autograder/<name>-autograder_<timestamp>.zip   for `otter run` or Gradescope

The zip is self-contained, so that a course platform can grade with it: besides
the tests it carries a copy of the ``mixedrain`` package (Otter copies it beside
each submission before grading) and, for the grading image Otter's ``setup.sh``
builds on Gradescope, the book's pinned requirements and Python version.

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
import yaml

ASSIGNMENTS = Path(__file__).resolve().parent
ROOT = ASSIGNMENTS.parent
DEFAULT_OUTPUT = ASSIGNMENTS / "_build"
#: The Python of the grading image on Gradescope: the book's (the Makefile looks for python3.11).
GRADING_PYTHON = "3.11"


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


def grading_requirements() -> list[str]:
    """The book's pinned requirements, for the grading image: ``requirements.txt`` minus the editable package.

    Examples
    --------
    >>> pins = grading_requirements()
    >>> any(pin.startswith("pystan==") for pin in pins), any(pin.startswith("-e") for pin in pins)
    (True, False)
    """
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split(" #")[0].strip() for line in lines if line.strip() and not line.lstrip().startswith(("#", "-e"))]


def _add_grading_environment(notebook, scratch: Path) -> None:
    """Make the autograder zip self-contained: the package, the pins and the Python version."""
    (config_cell,) = [c for c in notebook.cells if c.cell_type == "raw" and c.source.startswith("# ASSIGNMENT CONFIG")]
    config = yaml.safe_load(config_cell.source)
    (scratch / "requirements.txt").write_text("\n".join(grading_requirements()) + "\n")
    shutil.copytree(ROOT / "src" / "mixedrain", scratch / "mixedrain", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    config.update(requirements="requirements.txt", python_version=GRADING_PYTHON, autograder_files=["mixedrain"])
    config_cell.source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


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
        _add_grading_environment(notebook, Path(scratch))
        master = Path(scratch) / f"{name}.ipynb"
        jupytext.write(notebook, master)
        command = [sys.executable, "-m", "otter", "assign", str(master), str(target)]
        if not run_tests:
            command.append("--no-run-tests")
        subprocess.run(command, check=True, cwd=scratch)
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
