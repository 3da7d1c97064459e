"""The HTML review report in Debian's chromium (acceptance 4, browser half): opened from a file,
it asks nothing of any network, and the changed assets' sections are visible.

The screenshot goes to ``tests/artifacts/report.png`` on every run, and to
``docs/images/report.png`` (the docs' copy) with ``NBASSETS_SCREENSHOTS=1``, as the other
browser tests do. Needs ``/usr/bin/chromium`` and the ``playwright`` package.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import test_browser
from browser.lab import CHROMIUM, CHROMIUM_ARGS
from click.testing import CliRunner
from helpers import ROOT
from test_review import CI, scripted_change

from nbassets.cli import main

ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_IMAGE = ROOT / "docs" / "images" / "report.png"

pytestmark = test_browser.pytestmark  # chromium and playwright, or a clear skip


@pytest.fixture(autouse=True)
def _fresh_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def test_the_html_report_is_self_contained_and_shows_the_changed_assets(project: Path) -> None:
    from playwright.sync_api import sync_playwright

    scripted_change(project)
    page_file = project / "report.html"
    made = CliRunner().invoke(
        main, ["report", "--env", CI, "--against", "prod", "--format", "html", "-o", str(page_file)]
    )
    assert made.exit_code == 0, made.output
    url = page_file.resolve().as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(url, wait_until="networkidle")
            assert requests == [url]  # the file itself, and nothing else

            assert page.title() == f"nbassets report: {CI} against prod"
            sections = page.locator("section.asset")
            assert sections.evaluate_all("all => all.map(s => s.dataset.key)") == [
                "orders",
                "customer_revenue",
            ]
            orders = page.locator("#asset-orders")
            revenue = page.locator("#asset-customer_revenue")
            for section in (orders, revenue):
                assert section.is_visible()
                assert section.locator("h3").is_visible()
            assert orders.locator("pre.diff").is_visible()  # the code diff is open
            assert "code changed" in orders.locator(".badge").inner_text()
            facts = orders.locator("ul.data-facts").inner_text()
            assert "key (order_id): 0 added, 1 removed, 2 changed, 2 unchanged" in facts
            assert "columns added: amount_cents" in facts
            revenue_facts = revenue.locator("ul.data-facts").inner_text()
            assert "key (customer_id): 0 added, 0 removed, 2 changed, 1 unchanged" in revenue_facts
            added = orders.locator("pre.diff span.add").first
            assert added.evaluate("e => getComputedStyle(e).color") == "rgb(26, 127, 55)"  # GREEN

            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
            assert requests == [url]  # still nothing else after rendering everything
        finally:
            browser.close()
    if os.environ.get("NBASSETS_SCREENSHOTS") == "1":
        shutil.copy(ARTIFACTS / "report.png", DOCS_IMAGE)
