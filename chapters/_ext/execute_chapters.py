"""Execute the book's chapters into its execution cache, several at a time.

``make book`` runs this between compiling the Stan programs and
``jupyter-book build``, which then finds every chapter executed and only
renders. Jupyter Book 1 executes one notebook after another; a chapter spends
much of its time in imports, tables and figures on one core, while another
chapter's fit could use the other. Three at a time finished the chapters in
139-144 s against 193 s one at a time on the 2-core machine (README,
Timings). Two fits of one Stan program never overlap; fits of different
programs may (``mixedrain.engine.machine_lock``).

Each chapter's line says when it started and ended, and the last line the CPU
seconds of all chapters beside their wall seconds. On 2 cores the chapters are
CPU-bound: about 370 s of CPU, most of it in Stan's samplers (four chains
fill both cores), so no order of the chapters and no number of processes
brings them much under 190 s (benchmarks/RESULTS.md, *Build timings
history*). A chapter that takes 58 s alone takes two to three times that here
because it shares the cores; while it waits for another chapter's fit of the
same program, that fit uses them.

The cache is myst-nb's own, filled with myst-nb's own reader, so the book
build matches each chapter by its code cells and kernel and uses the outputs.
A chapter that fails here is left unexecuted in the cache: the book build then
executes it again and stops on the error with its traceback, as without this
step.

Usage::

    python chapters/_ext/execute_chapters.py [--processes 3] [--timeout 600]
"""

from __future__ import annotations

import argparse
import re
import resource
import time
from multiprocessing import Pool
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

BOOK = Path(__file__).resolve().parents[2]
CACHE = BOOK / "_build" / ".jupyter_cache"  # _config.yml leaves execution_cache_path at its default
READER = {"name": "myst_nb_md", "type": "plugin"}  # as myst-nb adds a MyST Markdown notebook


def chapters() -> list[Path]:
    """The notebooks the table of contents lists, in its order."""
    toc = (BOOK / "_toc.yml").read_text(encoding="utf-8")
    paths = [BOOK / f"{name}.md" for name in re.findall(r"file:\s*(\S+)", toc)]
    return [path for path in paths if path.exists() and "kernelspec:" in path.read_text(encoding="utf-8")[:1000]]


def execute(data: ProcessData) -> tuple[int, str, float, float]:
    """Execute one chapter into the cache: its exit code and path, and when it began and ended."""
    began = time.perf_counter()
    code, uri = ExecutionWorkerLocalMProc()(data)
    return code, uri, began, time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3, help="chapters executed at once")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may take (as _config.yml)")
    args = parser.parse_args(argv)

    cache = get_cache(str(CACHE))
    records = [cache.add_nb_to_project(str(path), read_data=READER) for path in chapters()]
    stale = [record for record in records if cache.get_cached_project_nb(record.pk) is None]
    if not stale:
        return 0
    print(f"Executing {len(stale)} chapter(s), {args.processes} at a time", flush=True)
    start = time.perf_counter()
    work = [ProcessData(record.pk, record.uri, cache, args.timeout, False) for record in stale]
    with Pool(max(1, args.processes)) as pool:
        results = []
        for code, uri, began, ended in pool.imap_unordered(execute, work, chunksize=1):
            results.append((code, uri))
            print(f"  {Path(uri).name}: {ended - began:.0f} s, from {began - start:.0f} s to {ended - start:.0f} s", flush=True)
    failed = [Path(uri).name for code, uri in results if code != 0]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, their kernels and Stan's processes
    print(
        f"Executed {len(stale) - len(failed)} chapter(s) in {time.perf_counter() - start:.0f} s"
        f" ({used.ru_utime + used.ru_stime:.0f} s of CPU)"
        + (f"; failed, to be rerun by the book build: {', '.join(failed)}" if failed else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
