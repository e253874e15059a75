"""Build the whole book exactly as `make book` does, then read the HTML as a reader would get it."""

import json
import re
from pathlib import Path

import pytest
from book_pages import HTML, chapter_files, page, toc_files

pytestmark = pytest.mark.book


def test_every_page_is_built_without_warnings(book_build):
    # -W already turns Sphinx warnings into errors; this names any that slipped through. (Jupyter's
    # "[IPKernelApp] WARNING | Kernel is running over TCP" is the kernel's log, not the book's.)
    sphinx_warnings = re.findall(r"^.*\bWARNING: .*$", book_build.stdout + book_build.stderr, re.M)
    assert not sphinx_warnings, sphinx_warnings
    for name in toc_files():
        assert (HTML / f"{name}.html").is_file(), name


def test_no_cell_failed_or_warned_about_sampling(book_build):
    for name in toc_files():
        assert "Traceback (most recent call last)" not in page(name), name
    # stderr is kept off the page, so read the executed notebooks: no fit in the book may warn.
    for name in chapter_files():
        notebook = json.loads((HTML.parent / "jupyter_execute" / f"{name}.ipynb").read_text())
        for cell in notebook["cells"]:
            for output in cell.get("outputs", []):
                if output.get("name") == "stderr":
                    assert "SamplingWarning" not in "".join(output["text"]), (name, cell["source"])


def test_math_is_bundled_not_fetched(book_build):
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    pages_with_math = 0
    for name in toc_files():
        html = page(name)
        mathjax = [s for s in re.findall(r'<script[^>]+src="([^"]+)"', html) if "mathjax" in s.lower()]
        assert all(not s.startswith(("http:", "https:", "//")) for s in mathjax), (name, mathjax)
        if 'class="math' in html:
            pages_with_math += 1
            assert mathjax, f"{name} has math but loads no MathJax"
    assert pages_with_math >= 4


def test_each_chapter_offers_its_notebook(book_build):
    for name in chapter_files():
        notebook = HTML / "_sources" / f"{name}.ipynb"
        assert notebook.is_file(), name
        assert f"{Path(name).name}.ipynb" in page(name), name


def test_each_inline_script_is_written_once(book_build):
    # Sphinx 7 wrote some extensions' inline scripts twice, and thebe's `const THEBE_JS_URL = ...`
    # then raised a JavaScript error on every page (see _ext/inline_scripts_once.py).
    for name in toc_files():
        scripts = re.findall(r"<script>(.*?)</script>", page(name), re.S)
        assert len(scripts) == len(set(scripts)), (name, sorted({s for s in scripts if scripts.count(s) > 1}))
