"""Every visible cell runs when copied, in order, into a fresh notebook.

A reader copies the code a page shows, not the cells it hides (tagged ``remove-cell``, or behind
``remove-input``, ``hide-input`` or ``hide-cell``), so each chapter is executed without those cells,
in a clean kernel, with myst-nb's ``glue`` replaced by a no-op (outside Jupyter Book it has nothing
to glue into). Any error fails: a NameError means a visible cell uses a name only a hidden cell made.
This costs a full execution of every chapter, two at a time, so it belongs to the book tests.
"""

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from book_pages import ROOT, chapter_files, toc_files

pytestmark = pytest.mark.book

HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
STUB_GLUE = "import myst_nb\nmyst_nb.glue = lambda *args, **kwargs: None  # the book's glue, stubbed"
CHAPTERS = [name for name in toc_files() if name in chapter_files() or Path(name).name.startswith("appendix")]


def run_visible_cells(name: str) -> str | None:
    """Execute chapter ``name`` without its hidden cells; return the error, or None if it ran."""
    import jupytext
    import nbclient
    import nbformat
    from nbclient.exceptions import CellExecutionError

    path = ROOT / f"{name}.md"
    notebook = jupytext.read(path)
    notebook.cells = [nbformat.v4.new_code_cell(STUB_GLUE)] + [
        cell for cell in notebook.cells
        if cell.cell_type == "code" and not HIDDEN & set(cell.metadata.get("tags", []))
    ]
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        return str(error)[-3000:]
    return None


@pytest.fixture(scope="module")
def copy_errors():
    with ProcessPoolExecutor(max_workers=2) as pool:
        return dict(zip(CHAPTERS, pool.map(run_visible_cells, CHAPTERS)))


@pytest.mark.parametrize("name", CHAPTERS)
def test_visible_cells_run_in_a_fresh_notebook(copy_errors, name):
    assert copy_errors[name] is None, copy_errors[name]
