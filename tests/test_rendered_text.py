"""What the built pages say, read from _build/html without a browser: no raw LaTeX in tables, no
NumPy reprs or literal backticks in the text, tables numbered as tables, each page's exercises
counted from 1, one interval level (90%), and no output that changes from build to build (a time stamp)."""

import re

import pytest
from bs4 import BeautifulSoup

from book_pages import page, toc_files

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def soups(book_build):
    return {name: BeautifulSoup(page(name), "html.parser").find("main") for name in toc_files()}


def _without_math(element):
    """A copy of ``element`` with its math (typeset by MathJax, so TeX in the HTML is right) removed."""
    copy = BeautifulSoup(str(element), "html.parser")
    for math in copy.select(".math"):
        math.decompose()
    return copy


@pytest.mark.parametrize("name", toc_files())
def test_no_raw_latex_in_tables(soups, name):
    cells = [td.get_text() for td in _without_math(soups[name]).find_all(["td", "th"])]
    raw = [text for text in cells if re.search(r"\\(sim|mathrm|mu_|sigma_)", text)]
    assert not raw, raw[:3]


@pytest.mark.parametrize("name", toc_files())
def test_no_numpy_scalar_reprs(soups, name):
    text = soups[name].get_text()
    assert "np.float64(" not in text and "np.int64(" not in text


@pytest.mark.parametrize("name", toc_files())
def test_no_literal_backticks_in_prose(soups, name):
    # A backtick left in a paragraph is Markdown that was never rendered (e.g. glued as plain text).
    paragraphs = [p.get_text(" ", strip=True) for p in _without_math(soups[name]).find_all("p")]
    assert not [text for text in paragraphs if "`" in text]


@pytest.mark.parametrize("name", toc_files())
def test_tables_are_not_captioned_as_figures(soups, name):
    figures_holding_tables = [
        figure.get_text(" ", strip=True)[:80] for figure in soups[name].find_all("figure") if figure.find("table")
    ]
    assert not figures_holding_tables


@pytest.mark.parametrize("name", toc_files())
def test_exercises_are_counted_from_1_on_each_page(soups, name):
    titles = [title.get_text(" ", strip=True) for title in soups[name].select("div.exercise > p.admonition-title")]
    numbers = [int(re.match(r"Exercise (?:\d+\.)?(\d+)", title).group(1)) for title in titles]
    assert numbers == list(range(1, len(numbers) + 1)), titles


@pytest.mark.parametrize("name", toc_files())
def test_no_output_carries_a_time_stamp_or_six_zero_decimals(soups, name):
    text = soups[name].get_text()
    assert "created_at" not in text  # an xarray dump: it differs between two builds
    assert not re.findall(r"\b\d+\.000000\b", text)  # a whole number printed as a float


@pytest.mark.parametrize("name", toc_files())
def test_summaries_use_the_books_one_interval_level(soups, name):
    # The book states one level, 90%; ArviZ's default 94% HDI prints its columns as hdi_3% and hdi_97%.
    text = soups[name].get_text()
    assert "hdi_3%" not in text and "hdi_97%" not in text
