"""PyStan and httpstan, in one place: compile, lock, sample.

httpstan (PyStan's engine) compiles a Stan program once per machine and
caches it under ``~/.cache/httpstan``, keyed by the program's text. This
module owns everything the package does with that engine: the compiler flags,
the cache checks, the machine-wide locks, clearing httpstan's stored fits,
running PyStan's event loop inside Jupyter's, keeping PyStan's messages out of
the output, and :func:`sample_program`, which builds and samples any program
text. It knows nothing of the model catalogue: :mod:`mixedrain.fit` and
:mod:`mixedrain.build` call it with a program's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "COMPILE_ARGS",
    "TYPICAL_SECONDS",
    "compile_code",
    "ensure_compiled",
    "forget_stored_fits",
    "is_compiled_text",
    "machine_lock",
    "model_name",
    "sample_program",
]

#: About how long one compile takes on a 2-core machine, for the message a first compile prints.
TYPICAL_SECONDS = 30

#: httpstan's own C++ flags, then ``-g0`` and a larger inlining budget.
#:
#: ``-g0``: the extension is built with Python's CFLAGS, which carry ``-g``; debug information for
#: Stan's templates took a quarter to a third of each compile (46.8 s against 35.4 s,
#: benchmarks/RESULTS.md) and half of a 57 MB module that no reader will debug.
#:
#: ``--param=inline-unit-growth=100`` (GCC's default is 40): a Stan program is one translation unit of
#: Stan Math's templates, and GCC stops inlining once the unit has grown by that percentage. Which calls
#: miss out depends on the whole program text: after the Gaussian likelihood moved into a function
#: (``integrated_gaussian.stanfunctions``), the vectorised operations' per-element autodiff
#: bookkeeping (allocating each result's node, pushing it on the autodiff stack) became out-of-line
#: calls, and a gradient of the default model took 116 us instead of 79 us at 500 groups, with the same
#: arithmetic and bit-identical results. With 100 it takes 82 us, glmm.stan's gradients take 7-10% less
#: than before, and compiling costs the same CPU time (within 3%) and 50-100 MB more memory.
COMPILE_ARGS = ["-O3", "-std=c++14", "-Wno-sign-compare", "-g0", "--param=inline-unit-growth=100"]


def model_name(code: str) -> str:
    """httpstan's name for the Stan program ``code`` (``"models/<id>"``), the key of its cache.

    Examples
    --------
    >>> model_name("parameters { real x; }").startswith("models/")
    True
    """
    import httpstan.models

    return httpstan.models.calculate_model_name(code)


def _model_directory(code: str) -> Path:
    import httpstan.cache

    return httpstan.cache.model_directory(model_name(code))


def is_compiled_text(code: str) -> bool:
    """Whether httpstan already holds the compiled Stan program ``code`` for this Python."""
    import httpstan.models

    try:
        httpstan.models.import_services_extension_module(model_name(code))
    except KeyError:
        return False
    return (_model_directory(code) / "stderr.log").exists()


def compile_code(code: str, compile_args: list[str] | None = COMPILE_ARGS) -> float:
    """Compile the Stan program ``code`` into httpstan's cache; return the seconds taken.

    The same steps, in the same order, as httpstan's own create-model handler,
    so that ``stan.build`` later finds everything it looks for in the cache;
    only the compiler flags differ (:data:`COMPILE_ARGS`; ``None`` for
    httpstan's own, as the benchmark compares).
    """
    import httpstan.cache
    import httpstan.compile
    import httpstan.models

    start = time.perf_counter()
    name = model_name(code)
    httpstan.cache.delete_model_directory(name)
    with _patient_stanc():
        _, stanc_warnings = httpstan.compile.compile(code, f"model_{name.split('/')[1]}")
        httpstan.cache.dump_stanc_warnings(stanc_warnings, name)
        # httpstan keeps the compiler's messages (pages of template warnings, saved as stderr.log) by pointing
        # file descriptor 2 at a file, but only if sys.stderr has a descriptor; under Jupyter or pytest it may
        # not, and the messages would reach the reader. The process's own stderr has one.
        with contextlib.redirect_stderr(sys.__stderr__ or sys.stderr):
            compiler_output = asyncio.run(
                httpstan.models.build_services_extension_module(code, extra_compile_args=compile_args)
            )
    httpstan.cache.dump_services_extension_module_compiler_output(compiler_output, name)
    return time.perf_counter() - start


def ensure_compiled(code: str) -> float:
    """Compile ``code`` with the book's flags unless httpstan holds it; return the seconds spent (0 if cached).

    Under the program's lock (:func:`machine_lock`), like a fit: a process that
    finds another one compiling the program waits for that compile and then
    finds it done, instead of compiling it a second time beside it.

    Examples
    --------
    >>> ensure_compiled(program_text)  # doctest: +SKIP
    0.0
    """
    with machine_lock(code):
        return 0.0 if is_compiled_text(code) else compile_code(code)


#: Seconds stanc (Stan to C++) may take. httpstan allows it 1 s, which a busy machine can exceed (seen
#: once for glmm.stan at load 10, where it normally takes 0.2 s): the compile then fails for nothing.
STANC_SECONDS = 60


@contextlib.contextmanager
def _patient_stanc() -> Iterator[None]:
    """Let httpstan's stanc run for :data:`STANC_SECONDS` rather than 1 s, within this block."""
    import httpstan.compile

    run = subprocess.run

    def run_with_patience(*args, **kwargs):
        kwargs["timeout"] = max(kwargs.get("timeout") or 0, STANC_SECONDS)
        return run(*args, **kwargs)

    httpstan.compile.subprocess = types.SimpleNamespace(run=run_with_patience)
    try:
        yield
    finally:
        httpstan.compile.subprocess = subprocess


@contextlib.contextmanager
def machine_lock(program: str | None = None) -> Iterator[None]:
    """A machine-wide lock for Stan work.

    Without ``program`` it is exclusive: nothing else of ours runs Stan meanwhile
    (``build.compile_all`` takes it, so no fit starts beside two compiles of 2 GB
    each). With a program's text it is shared between programs and exclusive
    within one: two fits of one program never overlap, so neither removes the
    other's stored fit nor compiles it twice, while fits of different programs
    may run side by side.
    """
    from httpstan.cache import cache_directory

    cache_directory().mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        machine = stack.enter_context(open(cache_directory() / "mixedrain.lock", "w"))
        fcntl.flock(machine, fcntl.LOCK_SH if program else fcntl.LOCK_EX)
        stack.callback(fcntl.flock, machine, fcntl.LOCK_UN)
        if program:
            model = model_name(program).split("/")[-1]
            own = stack.enter_context(open(cache_directory() / f"mixedrain-{model}.lock", "w"))
            fcntl.flock(own, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, own, fcntl.LOCK_UN)
        yield


def sample_program(
    program: str,
    data: dict,
    *,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 1234,
    quiet: bool = True,
    label: str = "a Stan program",
    **sampler_options,
):
    """Build (or load from httpstan's cache) and sample any Stan program text.

    One fit of a program at a time on the machine (fits of different programs may
    overlap), never replayed from httpstan's stored fits. A first compile is
    announced in one line and uses :data:`COMPILE_ARGS`.
    :func:`mixedrain.fit.fit_model` calls it with a catalogue program; the
    benchmark calls it directly to time a program that is not in the
    catalogue (the book's first program, frozen as a baseline).

    Returns
    -------
    tuple
        PyStan's fit, its model, and ``{"build_seconds": ..., "sampling_seconds": ...}``.

    Examples
    --------
    >>> fit, model, seconds = sample_program("parameters { real x; } model { x ~ std_normal(); }", {})  # doctest: +SKIP
    >>> fit["x"].shape  # doctest: +SKIP
    (1, 4000)
    """
    import stan  # imported here so the rest of the package works without a compiler

    # No progress messages: httpstan parses them from socket reads, and a read that splits one in two
    # makes it fail the whole fit ("pop from empty list"), more often the faster a program samples.
    sampler_options.setdefault("refresh", 0)
    _allow_nested_event_loop()
    messages = io.StringIO()
    with machine_lock(program), _no_stored_fits(program):
        start = time.perf_counter()
        # Checked under the program's lock: a fit that waited for another process compiling it finds it done.
        if not is_compiled_text(program):
            _announce_first_compile(label)
            compile_code(program)  # with the book's compiler flags; stan.build then finds it in the cache
        with _maybe_silenced(messages, quiet):
            try:
                posterior = stan.build(program, data=data, random_seed=int(seed))
                built = time.perf_counter()
                fit = posterior.sample(num_chains=chains, num_samples=draws, num_warmup=warmup, **sampler_options)
                sampled = time.perf_counter()
            except Exception as error:
                error.add_note(f"PyStan said:\n{messages.getvalue()}")
                raise
    return fit, posterior, {"build_seconds": built - start, "sampling_seconds": sampled - built}


def forget_stored_fits(program: str) -> int:
    """Delete the fits httpstan has stored on disk for the Stan program ``program``; return how many.

    httpstan keeps every seeded fit (one file per chain, megabytes each) in
    its cache and never deletes it, so a program sampled with ``stan.build(...,
    random_seed=...)`` fills the disk, fit after fit. Call this once the
    draws are in memory (in a ``Fit`` or an InferenceData). The compiled
    program stays cached. Waits for any fit of the same program that
    :func:`sample_program` is running.

    Examples
    --------
    >>> forget_stored_fits("parameters { real x; } model { x ~ std_normal(); }")
    0
    """
    with machine_lock(program):
        return _forget_fits(program)


def _forget_fits(program: str) -> int:
    paths = list((_model_directory(program) / "fits").glob("*.jsonlines.gz"))
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


@contextlib.contextmanager
def _no_stored_fits(program: str) -> Iterator[None]:
    # httpstan stores every seeded fit on disk (about 13 MB each) and silently replays it when the same
    # call is repeated: the disk fills up and sampling times become meaningless. So every call really
    # samples, and leaves nothing behind. Compiled programs stay cached.
    _forget_fits(program)
    try:
        yield
    finally:
        _forget_fits(program)


def _announce_first_compile(label: str) -> None:
    print(
        f"Compiling {label}, the first use of this Stan program on this machine: about "
        f"{TYPICAL_SECONDS} s and 2 GB of memory; httpstan caches it, so later fits start at once.",
        file=sys.stderr,
        flush=True,
    )


def _allow_nested_event_loop() -> None:
    # PyStan runs its own asyncio loop; Jupyter already runs one, so nest it there.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    import nest_asyncio

    nest_asyncio.apply()


@contextlib.contextmanager
def _maybe_silenced(buffer: io.StringIO, quiet: bool) -> Iterator[None]:
    if not quiet:
        yield
        return
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield
