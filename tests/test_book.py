"""Build the whole book exactly as `make book` does, then read the HTML as a reader would get it."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

pytestmark = pytest.mark.book


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [entry["file"] for entry in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def build():
    result = subprocess.run(["make", "book"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result


def page(name):
    return (HTML / f"{name}.html").read_text(encoding="utf-8")


def test_every_page_is_built_without_warnings(build):
    assert "warning" not in build.stderr.lower().replace("kernel is running over tcp without encryption", "")
    for name in toc_files():
        assert (HTML / f"{name}.html").is_file(), name


def test_no_cell_failed_or_leaked_errors(build):
    for name in toc_files():
        html = page(name)
        assert "Traceback (most recent call last)" not in html, name
        assert "SamplingWarning" not in html, name


def test_math_is_bundled_not_fetched(build):
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for name in toc_files():
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', page(name))
        mathjax = [s for s in scripts if "mathjax" in s.lower()]
        assert mathjax and all(not s.startswith(("http:", "https:", "//")) for s in mathjax), (name, mathjax)


def test_each_chapter_offers_its_notebook(build):
    for name in toc_files():
        if name.split("/")[-1][:2].isdigit():
            notebook = HTML / "_sources" / f"{name}.ipynb"
            assert notebook.is_file(), name
            assert f"{Path(name).name}.ipynb" in page(name), name
