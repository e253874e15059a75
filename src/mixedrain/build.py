"""Compile the catalogue's Stan programs ahead of time, two at a time, longest first.

A Stan program compiles to C++ and then to a Python extension: about 30 seconds
(``glmm.stan`` about 100) and 1.7-3 GB of memory each, on one core. httpstan
caches the result under ``~/.cache/httpstan``, keyed by the program's text and
the Python executable, so this is paid once per machine. ``make book`` runs
``python -m mixedrain.build`` before the chapters execute, so the programs
compile side by side instead of one after another inside the chapters. A
program already compiled costs nothing and prints nothing. How to compile, and
the locks, live in :mod:`mixedrain.engine`; this module is the command line
over the catalogue.

Compiling while the chapters execute was tried and measured slower (README,
Timings): the chapters' kernels run in sessions of their own, so Linux gives
them an equal share of the cores whatever their niceness, and ``glmm.stan``'s
compile, which four chapters wait for, took 230 s instead of 97 s.

Usage::

    python -m mixedrain.build            # every program in the catalogue
    python -m mixedrain.build --jobs 1   # one at a time, to save memory
    python -m mixedrain.build --then jupyter-book build .
        # compile, run the command, then say how many Stan programs were
        # compiled in all (``make book`` does this)
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from importlib.machinery import EXTENSION_SUFFIXES

from mixedrain.engine import TYPICAL_SECONDS, ensure_compiled, is_compiled_text
from mixedrain.models import PROGRAMS, load_program


def is_compiled(program: str) -> bool:
    """Whether httpstan already holds the compiled ``program`` (a catalogue program's name) for this Python.

    Examples
    --------
    >>> is_compiled("uncorrelated") in (True, False)
    True
    """
    return is_compiled_text(load_program(program))


def compile_program(program: str) -> float:
    """Compile one catalogue program into httpstan's cache, as ``stan.build`` would; return the seconds taken.

    0 when another process (another build, or a fit) compiled it meanwhile.
    """
    return ensure_compiled(load_program(program))


def compile_order(programs: list[str]) -> list[str]:
    """The order to compile in: the longest program first, so that its compile does not start last.

    With two at a time, ``glmm.stan`` (97 s) beside the four others one after another (127 s) ends
    all five compiles 17 s sooner than the catalogue's order (144 s). A program's length stands in
    for its compile time.

    Examples
    --------
    >>> compile_order(["examples/orange_growth", "glmm", "uncorrelated"])[0]
    'glmm'
    """
    return sorted(programs, key=lambda program: -len(load_program(program)))


def compile_all(programs: tuple[str, ...] = PROGRAMS, jobs: int = 2, out=sys.stdout) -> list[str]:
    """Compile every program not yet in the cache, ``jobs`` at a time; return the ones compiled.

    Each first compile announces itself in one line; when nothing needs
    compiling, nothing is printed.
    """
    missing = compile_order([program for program in programs if not is_compiled(program)])
    if not missing:
        return []
    print(
        f"Compiling {len(missing)} Stan program(s) ({', '.join(missing)}), {min(jobs, len(missing))} at a time: "
        f"about {TYPICAL_SECONDS} s and 2 GB each, once per machine; httpstan caches them for later runs.",
        file=out,
        flush=True,
    )
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for program, seconds in zip(missing, pool.map(compile_program, missing)):
            if seconds:
                print(f"  compiled {program}.stan in {seconds:.0f} s", file=out, flush=True)
            else:
                print(f"  {program}.stan: compiled meanwhile by another process", file=out, flush=True)
    print(f"Compiled {len(missing)} program(s).", file=out, flush=True)
    return missing


def compiled_modules() -> dict[str, int]:
    """Every compiled program in httpstan's cache: model id -> modification time (ns) of its extension module.

    The cache is shared by every Python on the machine (each compiles its own
    copy of a program), so this sees them all.

    Examples
    --------
    >>> all(isinstance(stamp, int) for stamp in compiled_modules().values())
    True
    """
    import httpstan.cache

    models = httpstan.cache.cache_directory() / "models"
    if not models.is_dir():
        return {}
    return {
        module.parent.name: module.stat().st_mtime_ns
        for module in models.glob("*/*")
        if module.suffix in EXTENSION_SUFFIXES and module.is_file()
    }


def count_compiled(before: dict[str, int], after: dict[str, int]) -> int:
    """How many programs were compiled between two :func:`compiled_modules` snapshots (new, or built anew).

    Examples
    --------
    >>> count_compiled({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4})
    2
    """
    return sum(1 for model, stamp in after.items() if before.get(model) != stamp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="compiles at once (each takes one core and 2 GB)")
    parser.add_argument(
        "--then",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="after compiling, run COMMAND (e.g. the book build), then print how many Stan programs were "
        "compiled by either (by any process sharing httpstan's cache meanwhile); exit with COMMAND's status",
    )
    args = parser.parse_args(argv)
    before = compiled_modules()
    with contextlib.suppress(KeyboardInterrupt):
        compile_all(jobs=args.jobs)
        if not args.then:
            return 0
        status = subprocess.run(args.then).returncode
        print(f"Stan programs compiled during this build: {count_compiled(before, compiled_modules())}", flush=True)
        return status
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
