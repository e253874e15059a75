"""Open the built book in a real browser, offline, and check what a reader sees.

Needs Debian's `chromium` (apt-get install chromium); skipped, with the reason, where it is missing,
except in CI (CI=true), where .ci/run installs it and a missing browser fails the tests instead.
Playwright drives it; it never downloads a browser of its own.

Every page a test opens is also checked for what a reader would not see but would suffer from:
a JavaScript error, or one of the book's own (file:) resources failing to load.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from book_pages import HTML, chapter_files, toc_files

CHROMIUM = shutil.which("chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(
        CHROMIUM is None and not IN_CI, reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail("CI=true but Debian's chromium is not installed: .ci/run should have installed it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


@contextmanager
def open_page(browser, name):
    """Open a built page; yield (page, remote requests); on leaving, fail on any page error.

    A page error is an uncaught JavaScript exception, or a request for one of the book's own (file:)
    resources that fails or answers with an HTTP error status.
    """
    page = browser.new_page()
    remote, errors = [], []
    page.on("pageerror", lambda error: errors.append(f"JavaScript error: {error}"))
    page.on(
        "requestfailed",
        lambda request: request.url.startswith("file:")
        and errors.append(f"failed to load {request.url}: {request.failure}"),
    )
    page.on(
        "response",
        lambda response: response.url.startswith("file:")
        and response.status >= 400
        and errors.append(f"HTTP {response.status} for {response.url}"),
    )
    # The book must work offline: refuse (and record) any request that leaves the machine.
    page.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith("file:") else (remote.append(route.request.url), route.abort()),
    )
    page.goto((HTML / f"{name}.html").as_uri(), wait_until="load")
    try:
        yield page, remote
        page.wait_for_load_state("networkidle")  # let late scripts (MathJax, async loads) finish or fail
    finally:
        page.close()
    assert not errors, f"{name}: " + "\n".join(errors)


def test_every_page_opens_without_errors(book_build, browser):
    for name in [*toc_files(), "genindex", "search"]:
        with open_page(browser, name) as (_, remote):
            pass
        assert not remote, (name, remote)


def test_math_renders_offline(book_build, browser):
    with open_page(browser, "chapters/02_the_model") as (page, remote):
        page.wait_for_selector("mjx-container", timeout=20_000)
        assert page.locator("mjx-container").count() > 5
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
        assert not remote, remote


def test_internal_links_resolve(book_build, browser):
    for name in toc_files():
        with open_page(browser, name) as (page, _):
            hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
            for href in hrefs:
                if href.startswith("file:"):
                    target = Path(href.split("#")[0].removeprefix("file://"))
                    assert target.exists(), f"{name} links to missing {target}"


def test_figures_have_captions(book_build, browser):
    for name in chapter_files():
        with open_page(browser, name) as (page, _):
            figures = page.locator("figure")
            for i in range(figures.count()):
                assert figures.nth(i).locator("figcaption").count() == 1, f"{name}: figure {i} has no caption"
