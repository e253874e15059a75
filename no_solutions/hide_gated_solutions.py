"""Leave exercise solutions out of the book, gated ones and downloads included.

sphinx-exercise's ``hide_solutions = True`` drops ``{solution}`` blocks, but for
*gated* solutions (``{solution-start}`` ... ``{solution-end}``, the form whose
code cells run at build time) it drops only the start directive: the answer's
prose and code cells stay on the page, and the orphaned end marker crashes the
HTML writer (sphinx-exercise issue #89, open for version 1.2.1). This extension,
loaded only by the no-solutions build (see ``make_config.py``), fixes both:

1. ``{solution-start}`` leaves a marker node when solutions are hidden, and a
   transform removes everything from that marker to its ``{solution-end}``.
2. When the build finishes, the downloadable page sources in ``_sources/``
   (the ``.md`` file and the executed ``.ipynb``) have their solutions cut out
   too, so "download this page" does not hand the answers back.

With ``hide_solutions = False`` it changes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node

# An opening fence of a solution directive: ```{solution} or :::{solution-start} ...
_OPENING = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>solution|solution-start|solution-end)\}")


class hidden_solution_marker(nodes.Element):
    """Where a hidden gated solution starts; removed with the solution before writing."""


class HidingSolutionStartDirective(SolutionStartDirective):
    """``{solution-start}`` that leaves a marker behind when solutions are hidden."""

    def run(self):
        result = super().run()  # registers the gated structure, which sphinx-exercise checks
        if self.env.app.config.hide_solutions:
            return [hidden_solution_marker()]
        return result


class RemoveHiddenGatedSolutions(SphinxTransform):
    """Remove each hidden gated solution: its marker, its body and its end node."""

    default_priority = 9  # after the structure check (1), before the merge (10)

    def apply(self, **kwargs) -> None:
        for marker in list(self.document.findall(hidden_solution_marker)):
            parent = marker.parent
            start = parent.index(marker)
            end = next(
                (i for i in range(start + 1, len(parent.children)) if isinstance(parent[i], solution_end_node)),
                None,
            )
            if end is None:
                raise ExtensionError(f"{self.env.docname}: a {{solution-start}} has no {{solution-end}} at its level")
            for child in parent.children[start : end + 1]:
                parent.remove(child)


@dataclass
class _Stripper:
    """Line-by-line state machine that drops solution blocks from MyST text.

    The state survives from one call to the next, so a notebook can be fed
    cell by cell: a gated solution starts in one Markdown cell, spans code
    cells and ends in a later Markdown cell.
    """

    closing: str | None = None  # the fence that ends the block being dropped
    in_gated: bool = False  # between {solution-start} and {solution-end}

    @property
    def dropping(self) -> bool:
        return self.in_gated or self.closing is not None

    def feed(self, lines: list[str]) -> list[str]:
        kept = []
        for line in lines:
            if self.closing is not None:  # inside a {solution} or {solution-end} directive
                if _closes(line, self.closing):
                    self.closing = None
                continue
            opening = _OPENING.match(line)
            if opening and opening["name"] == "solution-end":
                self.in_gated = False
                self.closing = opening["fence"]  # its own closing fence follows
                continue
            if self.in_gated:
                continue
            if opening and opening["name"] == "solution-start":
                self.in_gated = True
                continue
            if opening:  # a plain {solution} block: drop up to its closing fence
                self.closing = opening["fence"]
                continue
            kept.append(line)
        return kept


def _closes(line: str, fence: str) -> bool:
    # A closing fence uses the opening's character at least as many times, and nothing else.
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def strip_solutions_from_text(text: str) -> str:
    """Remove every solution block from MyST Markdown text.

    Examples
    --------
    >>> page = "Q?\\n```{solution-start} ex\\n```\\nAnswer.\\n```{solution-end}\\n```\\nNext.\\n"
    >>> strip_solutions_from_text(page)
    'Q?\\nNext.\\n'
    """
    return "".join(_Stripper().feed(text.splitlines(keepends=True)))


def strip_solutions_from_notebook(notebook: dict) -> dict:
    """Remove solution blocks, and the code cells inside gated ones, from a notebook dict.

    Examples
    --------
    >>> cell = lambda kind, text: {"cell_type": kind, "source": text, "metadata": {}}
    >>> nb = {"cells": [cell("markdown", "Q?\\n```{solution-start} ex\\n```\\n"), cell("code", "answer = 42"),
    ...                 cell("markdown", "```{solution-end}\\n```\\nNext.")]}
    >>> [c["source"] for c in strip_solutions_from_notebook(nb)["cells"]]
    ['Q?\\n', 'Next.']
    """
    stripper = _Stripper()
    cells = []
    for cell in notebook["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] != "markdown":
            if not stripper.dropping:
                cells.append(cell)
            continue
        kept = "".join(stripper.feed(source.splitlines(keepends=True)))
        if kept.strip() or not source.strip():
            cells.append({**cell, "source": kept})
    return {**notebook, "cells": cells}


def _strip_downloads(app, exception) -> None:
    if exception is not None or not app.config.hide_solutions or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for path in sorted(sources.rglob("*")):
        if path.suffix == ".ipynb":
            notebook = json.loads(path.read_text(encoding="utf-8"))
            path.write_text(json.dumps(strip_solutions_from_notebook(notebook), indent=1), encoding="utf-8")
        elif path.suffix in (".md", ".txt"):
            path.write_text(strip_solutions_from_text(path.read_text(encoding="utf-8")), encoding="utf-8")


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_node(hidden_solution_marker)
    app.add_directive("solution-start", HidingSolutionStartDirective, override=True)
    app.add_transform(RemoveHiddenGatedSolutions)
    app.connect("build-finished", _strip_downloads)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
