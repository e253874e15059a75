"""Tests for mixedrain.engine: compiler flags, locks and a first compile.

Only the last test compiles a (tiny) Stan program, into an empty cache of its own; the others fake
the compiler or need none.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mixedrain import engine


def test_model_name_is_httpstans_cache_key():
    import httpstan.models

    code = "parameters { real x; }"
    assert engine.model_name(code) == httpstan.models.calculate_model_name(code)
    assert engine.model_name(code) != engine.model_name(code + " ")


def test_an_empty_cache_holds_no_compiled_program(empty_cache):
    assert not engine.is_compiled_text("parameters { real x; }")


def test_forget_stored_fits_deletes_one_programs_fits_and_keeps_the_program(empty_cache):
    code, other = "parameters { real x; }", "parameters { real y; }"
    for program, names in ((code, ["aaaa1111", "bbbb2222"]), (other, ["cccc3333"])):
        folder = empty_cache / engine.model_name(program) / "fits"
        folder.mkdir(parents=True)
        for name in names:
            (folder / f"{name}.jsonlines.gz").write_bytes(b"\0")
    compiled = empty_cache / engine.model_name(code) / "stan_services_model.so"
    compiled.write_bytes(b"\0")
    assert engine.forget_stored_fits(code) == 2
    assert not list((empty_cache / engine.model_name(code) / "fits").iterdir()) and compiled.exists()
    assert len(list((empty_cache / engine.model_name(other) / "fits").iterdir())) == 1
    assert engine.forget_stored_fits(code) == 0


def test_compile_turns_debug_information_off_and_widens_inlining(monkeypatch, empty_cache):
    # Python's CFLAGS carry -g; the last -g flag on the command line wins, and COMPILE_ARGS come last.
    import httpstan.compile
    import httpstan.models

    seen = {}

    async def build_module(code, extra_compile_args=None):
        seen["args"] = extra_compile_args
        return ""

    monkeypatch.setattr(httpstan.models, "build_services_extension_module", build_module)
    monkeypatch.setattr(httpstan.compile, "compile", lambda code, name: ("// C++", ""))
    engine.compile_code("parameters { real x; } model { x ~ std_normal(); }")
    debug_flags = [flag for flag in seen["args"] if flag.startswith("-g")]
    assert debug_flags[-1] == "-g0"
    assert "-O3" in seen["args"]  # httpstan's optimisation level, kept
    # GCC's default budget (40) left the default model's gradient 1.5 times slower (engine.COMPILE_ARGS)
    assert "--param=inline-unit-growth=100" in seen["args"]


def acquires(lock_factory, seconds: float = 1.0):
    """Try ``with lock_factory():`` in another thread: whether it got in within ``seconds``, and the thread,
    which holds the lock until ``thread.leave`` is set."""
    import threading

    entered, leave = threading.Event(), threading.Event()

    def hold():
        with lock_factory():
            entered.set()
            leave.wait()

    thread = threading.Thread(target=hold)
    thread.leave = leave
    thread.start()
    return entered.wait(seconds), thread


def test_fits_of_different_programs_may_overlap_but_not_of_one_program(empty_cache):
    # flock treats two open() calls as two holders even in one process, as two processes would be.
    with engine.machine_lock("parameters { real a; }"):
        other_program, other = acquires(lambda: engine.machine_lock("parameters { real b; }"))
        same_program, same = acquires(lambda: engine.machine_lock("parameters { real a; }"))
        everything, exclusive = acquires(engine.machine_lock)
        for thread in (other, same, exclusive):
            thread.leave.set()  # each leaves as soon as it gets in
    for thread in (other, same, exclusive):
        thread.join(10)
        assert not thread.is_alive()
    assert other_program
    assert not same_program
    assert not everything


@pytest.mark.stan
def test_a_first_compile_announces_itself_in_one_line_and_nothing_else(tmp_path):
    # The compiler's own messages (pages of template warnings) go to httpstan's stderr.log, not the
    # reader, even where sys.stderr has no file descriptor, as in a notebook. A fresh process with an
    # empty cache: httpstan's sampling workers keep the cache directory they started with.
    script = """
import io, sys, warnings
warnings.simplefilter("ignore")
class NotebookStream(io.TextIOBase):  # text out, no file descriptor
    def write(self, text):
        return sys.__stderr__.write(text)
sys.stderr = NotebookStream()
from mixedrain.engine import sample_program
for _ in range(2):
    sample_program("parameters { real x; } model { x ~ std_normal(); }", {}, chains=1, draws=10, warmup=10, label="tiny.stan")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Compiling tiny.stan, the first use"), lines[:5]


def test_stanc_gets_a_minute_not_httpstans_one_second(monkeypatch):
    import subprocess
    import types

    import httpstan.compile

    from mixedrain import engine

    seen = {}

    def fake_run(*args, **kwargs):
        seen.update(kwargs)
        return types.SimpleNamespace(returncode=0, stdout=b"// C++", stderr=b"")

    monkeypatch.setattr(subprocess, "run", fake_run)
    with engine._patient_stanc():
        httpstan.compile.compile("parameters { real x; } model { x ~ std_normal(); }", "model_x")
    assert seen["timeout"] == engine.STANC_SECONDS >= 30
    assert httpstan.compile.subprocess is subprocess  # httpstan's own behaviour outside the block
