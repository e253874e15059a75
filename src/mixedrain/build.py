"""Compile the catalogue's Stan programs ahead of time, two at a time.

A Stan program compiles to C++ and then to a Python extension: about 40 seconds
and 2 GB of memory each, on one core. httpstan caches the result under
``~/.cache/httpstan``, keyed by the program's text and the Python executable,
so this is paid once per machine. ``make book`` runs the book build under
``python -m mixedrain.build --then ...``, so the programs compile side by side
instead of one after another inside the chapters, and the chapters start at
once: a fit waits only for its own program (each program is locked while it
compiles). A program already compiled costs nothing and prints nothing.

Usage::

    python -m mixedrain.build            # every program in the catalogue
    python -m mixedrain.build --jobs 1   # one at a time, to save memory
    python -m mixedrain.build --then jupyter-book build .
        # run the command while compiling, then say how many Stan programs
        # were compiled in all (``make book`` does this)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.machinery import EXTENSION_SUFFIXES

from mixedrain.models import PROGRAMS, load_program

#: About how long one compile takes on a 2-core machine, for the message a first compile prints.
TYPICAL_SECONDS = 40


def is_compiled(program: str) -> bool:
    """Whether httpstan already holds the compiled ``program`` (a catalogue program's name) for this Python.

    Examples
    --------
    >>> is_compiled("uncorrelated") in (True, False)
    True
    """
    return is_compiled_text(load_program(program))


def is_compiled_text(code: str) -> bool:
    """Whether httpstan already holds the compiled Stan program ``code`` for this Python."""
    import httpstan.cache
    import httpstan.models

    name = httpstan.models.calculate_model_name(code)
    directory = httpstan.cache.model_directory(name)
    try:
        httpstan.models.import_services_extension_module(name)
    except KeyError:
        return False
    return (directory / "stderr.log").exists()


def compile_program(program: str) -> float:
    """Compile one program into httpstan's cache, as ``stan.build`` would; return the seconds taken."""
    import httpstan.cache
    import httpstan.compile
    import httpstan.models

    start = time.perf_counter()
    code = load_program(program)
    name = httpstan.models.calculate_model_name(code)
    # The same steps, in the same order, as httpstan's own create-model handler, so that stan.build
    # later finds everything it looks for in the cache.
    httpstan.cache.delete_model_directory(name)
    _, stanc_warnings = httpstan.compile.compile(code, f"model_{name.split('/')[1]}")
    httpstan.cache.dump_stanc_warnings(stanc_warnings, name)
    compiler_output = asyncio.run(httpstan.models.build_services_extension_module(code))
    httpstan.cache.dump_services_extension_module_compiler_output(compiler_output, name)
    return time.perf_counter() - start


@contextlib.contextmanager
def machine_lock():
    """A machine-wide lock for Stan fits: fits never overlap, so no process touches another's
    stored fit, and a fit's timing is its own."""
    from httpstan.cache import cache_directory

    cache_directory().mkdir(parents=True, exist_ok=True)
    with open(cache_directory() / "mixedrain.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _program_lock_file(code: str):
    import httpstan.cache
    import httpstan.models

    httpstan.cache.cache_directory().mkdir(parents=True, exist_ok=True)
    model_id = httpstan.models.calculate_model_name(code).split("/")[1]
    return open(httpstan.cache.cache_directory() / f"mixedrain-compile-{model_id}.lock", "w")


@contextlib.contextmanager
def program_lock(code: str):
    """Hold the lock of one Stan program (its text): a fit of it waits while a build step compiles it,
    and no two processes compile it at once."""
    with _program_lock_file(code) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def compiling(programs: tuple[str, ...] = PROGRAMS, jobs: int = 2, out=sys.stdout):
    """Compile every program not yet in the cache, ``jobs`` at a time, while the body runs.

    Yields the programs being compiled. Each stays locked (:func:`program_lock`)
    until its own compile ends, so the body may start fitting at once: a fit of
    a program waits for that program only. Leaving the block waits for every
    compile. Each first compile announces itself in one line; when nothing
    needs compiling, nothing is printed.
    """
    locks, missing = {}, []
    try:
        for program in programs:  # always in catalogue order, so two builders cannot deadlock
            lock = _program_lock_file(load_program(program))
            fcntl.flock(lock, fcntl.LOCK_EX)
            if is_compiled(program):  # perhaps just compiled by another process
                lock.close()
            else:
                locks[program] = lock
                missing.append(program)
        if not missing:
            yield []
            return
        print(
            f"Compiling {len(missing)} Stan program(s) ({', '.join(missing)}), {min(jobs, len(missing))} at a time: "
            f"about {TYPICAL_SECONDS} s and 2 GB each, once per machine; httpstan caches them for later runs.",
            file=out,
            flush=True,
        )

        def finished(program):
            def release(future):
                fcntl.flock(locks[program], fcntl.LOCK_UN)  # explicit: forked workers share the descriptor
                if future.exception() is None:
                    print(f"  compiled {program}.stan in {future.result():.0f} s", file=out, flush=True)

            return release

        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(compile_program, program) for program in missing]
            for program, future in zip(missing, futures):
                future.add_done_callback(finished(program))
            yield missing
            for future in futures:
                future.result()  # raise a failed compile here
        print(f"Compiled {len(missing)} program(s).", file=out, flush=True)
    finally:
        for lock in locks.values():
            lock.close()


def compile_all(programs: tuple[str, ...] = PROGRAMS, jobs: int = 2, out=sys.stdout) -> list[str]:
    """Compile every program not yet in the cache, ``jobs`` at a time; return the ones compiled."""
    with compiling(programs, jobs, out) as missing:
        pass
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
        help="run COMMAND (e.g. the book build) while compiling, then print how many Stan programs were "
        "compiled by either (by any process sharing httpstan's cache meanwhile); exit with COMMAND's status",
    )
    args = parser.parse_args(argv)
    before = compiled_modules()
    with contextlib.suppress(KeyboardInterrupt):
        # The command starts while the programs compile: on 2 cores a lone last compile leaves one idle,
        # and a chapter has imports and data to prepare before its first fit waits for its program.
        with compiling(jobs=args.jobs):
            status = subprocess.run(args.then).returncode if args.then else 0
        if not args.then:
            return 0
        print(f"Stan programs compiled during this build: {count_compiled(before, compiled_modules())}", flush=True)
        return status
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
