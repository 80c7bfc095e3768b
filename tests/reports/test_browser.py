"""report.html opened in headless Chromium: the tables and embedded images really render."""

import os
import shutil

import pytest

from tunesmith.reports import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def chromium_path():
    if CHROMIUM is None:
        if os.environ.get("TUNESMITH_REQUIRE_BROWSER"):
            pytest.fail("Chromium is missing: `make test` installs Debian's chromium package when it can")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.mark.parametrize(("fixture", "n_tables"), [("scored_run", 5), ("embedding_run", 4)])
def test_report_renders_in_chromium(fixture, n_tables, chromium_path, request):
    """A Q&A run (category and difficulty tables) and an embedding run (dimension table, staged curves)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    page_path = write_report(request.getfixturevalue(fixture))[1]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "all => all.map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().height])"
            )
            tables = page.eval_on_selector_all("table", "all => all.map(t => [t.rows.length, t.offsetHeight])")
            heading = page.inner_text("h1")
        finally:
            browser.close()
    assert heading.startswith("tunesmith report")
    assert len(images) == 4 and all(done and width > 100 and height > 50 for done, width, height in images)
    assert len(tables) >= n_tables and all(rows >= 2 and height > 0 for rows, height in tables)
