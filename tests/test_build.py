"""Tests for mixedrain.build: compiling ahead and counting the compiles of a build.

None of these compiles a Stan program: the cache is an empty folder and a compile is faked by
writing an extension module where httpstan would.
"""

from __future__ import annotations

import sys
from importlib.machinery import EXTENSION_SUFFIXES

import pytest

from mixedrain import build
from mixedrain.models import PROGRAMS, load_program


def fake_compile(cache, model_id: str) -> None:
    """What a finished compile leaves: the model's folder with its extension module."""
    folder = cache / "models" / model_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"model_{model_id}.cpp").write_text("// C++")
    (folder / f"stan_services_model_{model_id}{EXTENSION_SUFFIXES[0]}").write_bytes(b"\0")


def test_an_empty_cache_holds_no_compiled_program(empty_cache):
    assert build.compiled_modules() == {}
    assert not build.is_compiled(PROGRAMS[0])


def test_only_folders_with_an_extension_module_count_as_compiled(empty_cache):
    fake_compile(empty_cache, "done1234")
    failed = empty_cache / "models" / "failed12"  # a compile that stopped before linking
    failed.mkdir(parents=True)
    (failed / "model_failed12.cpp").write_text("// C++")
    assert set(build.compiled_modules()) == {"done1234"}


def test_count_compiled_counts_new_and_rebuilt_programs_only():
    before = {"kept": 1, "rebuilt": 2}
    assert build.count_compiled(before, before) == 0
    assert build.count_compiled(before, {"kept": 1, "rebuilt": 5, "new": 7}) == 2
    assert build.count_compiled({}, {"a": 1, "b": 1}) == 2


def test_compile_all_is_silent_when_everything_is_compiled(monkeypatch, capsys):
    monkeypatch.setattr(build, "is_compiled", lambda program: True)
    assert build.compile_all() == []
    assert capsys.readouterr().out == ""


def run_then(monkeypatch, empty_cache, *, compiled_by_build: int, command: str) -> int:
    """``python -m mixedrain.build --then COMMAND`` with ``compiled_by_build`` faked compiles first."""

    def compile_all(jobs: int = 2):
        for number in range(compiled_by_build):
            fake_compile(empty_cache, f"prog{number:04d}")
        return list(range(compiled_by_build))

    monkeypatch.setattr(build, "compile_all", compile_all)
    return build.main(["--then", sys.executable, "-c", command])


def test_then_counts_the_compiles_of_the_build_and_of_the_command(monkeypatch, empty_cache, capsys):
    # The command compiles one more program, as a chapter with a program of its own would.
    folder = empty_cache / "models" / "chapter1"
    module = folder / f"stan_services_model_chapter1{EXTENSION_SUFFIXES[0]}"
    command = f"import pathlib; p = pathlib.Path({str(folder)!r}); p.mkdir(parents=True); pathlib.Path({str(module)!r}).write_bytes(b'0')"
    assert run_then(monkeypatch, empty_cache, compiled_by_build=3, command=command) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Stan programs compiled during this build: 4"


def test_then_on_a_warm_cache_counts_none_and_passes_on_the_command_status(monkeypatch, empty_cache, capsys):
    fake_compile(empty_cache, "already1")
    assert run_then(monkeypatch, empty_cache, compiled_by_build=0, command="raise SystemExit(3)") == 3
    assert capsys.readouterr().out == "Stan programs compiled during this build: 0\n"



def test_the_longest_program_compiles_first():
    lengths = [len(load_program(program)) for program in build.compile_order(list(PROGRAMS))]
    assert lengths == sorted(lengths, reverse=True)
