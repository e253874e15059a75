"""The end-of-chapter exercises: difficulty marks, and the Stan programs readers write.

Every exercise's title starts with one of three difficulty marks, which the
instructor page explains. Exercises whose solutions fit a new Stan program do
not run in the book build (a new program costs a compilation): their solutions
show the program from ``src/mixedrain/stan/exercises/`` and a Python block that
the tests below extract from the chapter and run on the chapter's data, checking
what the solution says about the result.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import arviz as az
import numpy as np
import pytest
import yaml
from scipy import stats

from mixedrain.checks import loo_verdict
from mixedrain.data import load_sleepstudy
from mixedrain.fit import fit_model
from mixedrain.models import get_model, program_data
from mixedrain.prepare import prepare_data

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
EXERCISE_PROGRAMS = ROOT / "src" / "mixedrain" / "stan" / "exercises"



def _load(path: Path):
    # The no-solutions extension lives outside the package; load it under its own name.
    spec = importlib.util.spec_from_file_location(f"exercises_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


strip_solutions_from_text = _load(ROOT / "no_solutions" / "hide_gated_solutions.py").strip_solutions_from_text

#: The difficulty marks and their names on the instructor page.
MARKS = {"★☆☆": "practice", "★★☆": "extension", "★★★": "challenge"}
STARS = "★☆"

_OPENING = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise|solution)\}[ \t]*(?P<argument>.*)$", re.M)
_LABEL = re.compile(r"^:label:\s*(?P<label>\S+)", re.M)
_INCLUDE = re.compile(r"^`{3,}\{literalinclude\}\s*(?P<path>\S+)", re.M)
_PYTHON = re.compile(r"^```python\n(?P<code>.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Directive:
    chapter: Path
    name: str  # "exercise" or "solution"
    argument: str  # an exercise's title, a solution's label
    body: str  # the text between the opening and the closing fence


def _directives(chapter: Path) -> list[Directive]:
    text = chapter.read_text(encoding="utf-8")
    found = []
    for opening in _OPENING.finditer(text):
        fence = opening["fence"]
        closing = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$", re.M).search(text, opening.end())
        assert closing, f"{chapter.name}: a {{{opening['name']}}} directive is never closed"
        found.append(Directive(chapter, opening["name"], opening["argument"].strip(), text[opening.end() : closing.start()]))
    return found


def _book_chapters() -> list[Path]:
    chapters = sorted(CHAPTERS.glob("*.md"))
    assert len(chapters) >= 10, chapters
    return chapters


def _exercises() -> list[Directive]:
    return [d for chapter in _book_chapters() for d in _directives(chapter) if d.name == "exercise"]


def _label(exercise: Directive) -> str:
    match = _LABEL.search(exercise.body)
    assert match, f"{exercise.chapter.name}: exercise {exercise.argument!r} has no :label:"
    return match["label"]


def _mark(title: str) -> str | None:
    return next((mark for mark in MARKS if title.startswith(mark + " ")), None)


def test_every_exercise_carries_exactly_one_difficulty_mark():
    exercises = _exercises()
    assert len(exercises) >= 30, "the parser lost exercises"
    problems = []
    for exercise in exercises:
        title = exercise.argument
        mark = _mark(title)
        if mark is None:
            problems.append(f"{exercise.chapter.name}: {title!r} does not start with one of {list(MARKS)} and a space")
        elif any(star in title[len(mark) :] for star in STARS):
            problems.append(f"{exercise.chapter.name}: {title!r} carries more than one mark")
        elif not title[len(mark) :].strip():
            problems.append(f"{exercise.chapter.name}: {title!r} has a mark but no title")
    assert not problems, "\n".join(problems)
    labels = [_label(exercise) for exercise in exercises]
    assert len(labels) == len(set(labels)), "exercise labels must be unique"
    assert {_mark(exercise.argument) for exercise in exercises} == set(MARKS), "every level is used"


def test_the_marks_survive_the_edition_without_solutions():
    """The no-solutions build drops solutions, never an exercise or its mark."""
    for chapter in _book_chapters():
        text = chapter.read_text(encoding="utf-8")
        titles = [d.argument for d in _directives(chapter) if d.name == "exercise"]
        stripped = strip_solutions_from_text(text)
        assert [m["argument"].strip() for m in _OPENING.finditer(stripped) if m["name"] == "exercise"] == titles


def test_the_instructor_page_explains_each_mark():
    page = (CHAPTERS / "instructors.md").read_text(encoding="utf-8")
    section = re.search(r"^## Exercise difficulty\n(?P<body>.*?)(?=^## |\Z)", page, re.M | re.S)
    assert section, "chapters/instructors.md needs a section '## Exercise difficulty'"
    rows = {line.split("|")[1].strip(): line for line in section["body"].splitlines() if line.startswith("| ★")}
    assert set(rows) == set(MARKS), f"one table row per mark, got {sorted(rows)}"
    for mark, level in MARKS.items():
        assert f"| {level} |" in rows[mark], f"the row of {mark} should name its level, {level!r}"


def _parts() -> dict[str, list[Path]]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return {
        part["caption"].split(":")[0]: [ROOT / f"{entry['file']}.md" for entry in part["chapters"]]
        for part in toc["parts"]
        if part["caption"].startswith("Part ")
    }


def _solutions_showing_programs() -> dict[str, tuple[Directive, Path]]:
    """Solution label -> (the solution, the exercise program it shows)."""
    shown = {}
    for chapter in _book_chapters():
        for directive in _directives(chapter):
            for include in _INCLUDE.finditer(directive.body):
                path = (chapter.parent / include["path"]).resolve()
                if path.parent == EXERCISE_PROGRAMS:
                    assert directive.name == "solution", f"{chapter.name}: {path.name} is the answer; show it in a solution"
                    shown[directive.argument] = (directive, path)
    return shown


def test_each_part_has_an_exercise_that_writes_stan():
    chapters_with_programs = {directive.chapter for directive, _ in _solutions_showing_programs().values()}
    parts = _parts()
    for part in ("Part I", "Part II", "Part III"):
        assert chapters_with_programs & set(parts[part]), f"{part} has no exercise whose solution shows a Stan program"


def test_every_exercise_program_is_shown_once_and_tested():
    shown = _solutions_showing_programs()
    programs = sorted(EXERCISE_PROGRAMS.glob("*.stan"))
    assert sorted(path for _, path in shown.values()) == programs, "each program in stan/exercises is shown by one solution"
    assert set(shown) == set(SOLUTION_CHECKS), "each solution that shows a program has its check below"


def _run_solution(label: str, namespace: dict, directory: Path, monkeypatch) -> dict:
    """Run the Python block of solution ``label`` where the reader's program file sits, as a reader would."""
    directive, program = _solutions_showing_programs()[label]
    blocks = _PYTHON.findall(directive.body)
    assert len(blocks) == 1, f"solution {label} should show one Python block"
    shutil.copy(program, directory / program.name)
    assert f'open("{program.name}")' in blocks[0], "the solution reads the program the reader saved"
    monkeypatch.chdir(directory)
    exec(compile(blocks[0], f"{directive.chapter.name}, solution {label}", "exec"), namespace)
    return namespace


def _hyperparameters_clean(idata: az.InferenceData, names: list[str]) -> None:
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert float(az.rhat(idata, var_names=names).to_array().max()) < 1.01


@pytest.mark.stan
def test_book_priors_solution_fits_the_centered_model(prepared, centered_fit, tmp_path, monkeypatch):
    """Chapter 3: Part 2's program edited to the book's priors is the catalogue's centered model."""
    names = list(get_model("centered").hyperparameters)
    namespace = {"prepared": prepared, "idata": centered_fit, "program_data": program_data, "HYPERPARAMETERS": names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = _run_solution("ch3-ex-book-priors", namespace, tmp_path, monkeypatch)
    _hyperparameters_clean(result["mine"], names)
    # Two fits of one posterior differ by about one MCSE of the difference; 4 is a miss.
    differences = result["same_model"]["difference (MCSEs)"]
    assert list(differences.index) == names
    assert float(differences.abs().max()) < 4, differences
    assert "predicted_rainfall" not in result["mine"].posterior, "the predictions must not be saved with the draws"


@pytest.mark.stan
def test_student_t_solution_says_what_its_fit_shows(tmp_path, monkeypatch):
    """Chapter 6: the reader's Student-t program samples the posterior of the chapter's fit_formula fit."""
    from mixedrain.glmm_fit import fit_formula

    sleep = load_sleepstudy()
    prepared = prepare_data(sleep, group="Subject", predictor="Days", outcome="Reaction")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # As the chapter fits it:
        fit_t = fit_formula("Reaction ~ Days + (Days | Subject)", sleep, family="student_t", centered=True)
        loo_t = az.loo(fit_t, pointwise=True)
        result = _run_solution("ch6-ex-student-t", {"prepared": prepared, "fit_t": fit_t, "loo_t": loo_t}, tmp_path, monkeypatch)
    mine, same_model = result["mine"], result["same_model"]
    _hyperparameters_clean(mine, ["nu", *get_model("correlated").hyperparameters])
    # "Each posterior mean lies within a few Monte Carlo standard errors of fit_t's": two fits of one
    # posterior differ by about one MCSE of the difference; 4 is a miss.
    assert list(same_model.index) == ["nu", "mu_beta", "sigma_y"]
    assert float(same_model["difference (MCSEs)"].abs().max()) < 4, same_model
    # "The two elpd values agree to within a point": PSIS-LOO's Monte Carlo error on 180 rows, with every
    # Pareto k below the threshold, is a few tenths.
    assert abs(float(result["loo_mine"].elpd_loo) - float(loo_t.elpd_loo)) < 1


#: Cells a reader does not copy (see tests/test_chapters_copy.py).
HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}


def _chapter_namespace(name: str) -> dict:
    """Run a chapter's visible code up to its exercises, as a reader would, and return the names it made."""
    import jupytext
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {}
    for cell in jupytext.read(CHAPTERS / name).cells:
        if cell.cell_type == "markdown" and re.search(r"^## Exercises$", cell.source, re.M):
            break
        if cell.cell_type == "code" and not HIDDEN & set(cell.metadata.get("tags", [])):
            exec(compile(cell.source, f"{name}, visible cell", "exec"), namespace)
    return namespace


@pytest.mark.stan
def test_midpoint_per_tree_solution_says_what_its_fit_shows(tmp_path, monkeypatch):
    """Chapter 11: each statement of the midpoint-per-tree solution holds for a fit of its program."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        chapter = _chapter_namespace("11_raw_pystan.md")
        result = _run_solution("ch11-ex-xmid", chapter, tmp_path, monkeypatch)
    mine, theirs = result["idata_xmid"], chapter["idata"]
    names = ["asym", "xmid", "scal", "sd_asym", "sd_xmid", "sigma", "xmid_tree"]
    _hyperparameters_clean(mine, names)
    post = mine.posterior
    # "Its posterior median lies below half of the prior's (about 135 days for a half-normal of scale 200),
    # yet its 95th percentile lies beyond 100 days."
    prior_median = 200 * stats.halfnorm.median()
    assert round(prior_median) == 135
    assert float(post["sd_xmid"].median()) < 0.5 * prior_median
    assert float(post["sd_xmid"].quantile(0.95)) > 100
    # "The posterior means of sd_A, A and sigma stay within half a posterior sd of the chapter's fit."
    for name in ("sd_asym", "asym", "sigma"):
        shift = abs(float(post[name].mean() - theirs.posterior[name].mean()))
        assert shift < 0.5 * float(theirs.posterior[name].std()), name
    # "The difference in elpd is smaller than 4": PSIS-LOO finds no evidence to prefer either.
    midpoints = result["midpoints"]
    assert float(midpoints["elpd_diff"].iloc[1]) < 4
    assert loo_verdict(midpoints).startswith("no evidence to prefer either model")


SOLUTION_CHECKS = {
    "ch3-ex-book-priors": test_book_priors_solution_fits_the_centered_model,
    "ch6-ex-student-t": test_student_t_solution_says_what_its_fit_shows,
    "ch11-ex-xmid": test_midpoint_per_tree_solution_says_what_its_fit_shows,
}
