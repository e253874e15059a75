"""Open the built book in a real browser, offline, and check what a reader sees.

Needs Debian's `chromium` (apt-get install chromium); skipped, with the reason, where it is missing.
Playwright drives it; it never downloads a browser of its own.
"""

import shutil
from pathlib import Path

import pytest

from book_pages import HTML, chapter_files, toc_files

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


def open_page(browser, name):
    page = browser.new_page()
    remote = []
    # The book must work offline: refuse (and record) any request that leaves the machine.
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else (remote.append(route.request.url), route.abort()),
    )
    page.goto((HTML / f"{name}.html").as_uri(), wait_until="load")
    return page, remote


def test_math_renders_offline(book_build, browser):
    page, remote = open_page(browser, "chapters/02_the_model")
    page.wait_for_selector("mjx-container", timeout=20_000)
    assert page.locator("mjx-container").count() > 5
    assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    assert not remote, remote


def test_internal_links_resolve(book_build, browser):
    for name in toc_files():
        page, _ = open_page(browser, name)
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        for href in hrefs:
            if href.startswith("file:"):
                target = Path(href.split("#")[0].removeprefix("file://"))
                assert target.exists(), f"{name} links to missing {target}"
        page.close()


def test_figures_have_captions(book_build, browser):
    for name in chapter_files():
        page, _ = open_page(browser, name)
        figures = page.locator("figure")
        for i in range(figures.count()):
            assert figures.nth(i).locator("figcaption").count() == 1, f"{name}: figure {i} has no caption"
        page.close()
