"""Build the whole book exactly as `make book` does, then read the HTML as a reader would get it."""

import re
from pathlib import Path

import pytest
from book_pages import HTML, chapter_files, page, toc_files

pytestmark = pytest.mark.book


def test_every_page_is_built_without_warnings(book_build):
    assert "warning" not in book_build.stderr.lower().replace("kernel is running over tcp without encryption", "")
    for name in toc_files():
        assert (HTML / f"{name}.html").is_file(), name


def test_no_cell_failed_or_leaked_errors(book_build):
    for name in toc_files():
        html = page(name)
        assert "Traceback (most recent call last)" not in html, name
        assert "SamplingWarning" not in html, name


def test_math_is_bundled_not_fetched(book_build):
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for name in toc_files():
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', page(name))
        mathjax = [s for s in scripts if "mathjax" in s.lower()]
        assert mathjax and all(not s.startswith(("http:", "https:", "//")) for s in mathjax), (name, mathjax)


def test_each_chapter_offers_its_notebook(book_build):
    for name in chapter_files():
        notebook = HTML / "_sources" / f"{name}.ipynb"
        assert notebook.is_file(), name
        assert f"{Path(name).name}.ipynb" in page(name), name
