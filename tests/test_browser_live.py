"""The Assets panel follows what the user sees (issue 11 item 12), in a real JupyterLab.

The panel sends the editor's current cells with its requests: a cell edited and neither run
nor saved shows ``stale: code changed`` at once, while the file on disk still holds the old
code. It shows the kernel's env after ``%nbassets env NAME`` (the ``nbassets`` comm,
``nbassets/comm.py``), also after a reload of the page. Same harness and fixtures as ``tests/test_browser.py`` (Debian's chromium through
Playwright, a copy of the quick start with production seeded).
"""

from __future__ import annotations

from pathlib import Path

import test_browser
from browser.lab import Lab

pytestmark = test_browser.pytestmark
quickstart, lab_server, lab = test_browser.quickstart, test_browser.lab_server, test_browser.lab
NOTEBOOK, DEFINED, READS = test_browser.NOTEBOOK, test_browser.DEFINED, test_browser.READS


def badge_title(lab: Lab, key: str) -> str:
    return lab.row(key).locator(".nbassets-Badge").get_attribute("title") or ""


def test_an_edited_unsaved_cell_shows_code_changed(lab: Lab, quickstart: Path) -> None:
    lab.open_assets_panel()
    lab.run_all()
    lab.wait_for_statuses({key: "fresh" for key in DEFINED + READS})
    saved = (quickstart / NOTEBOOK).read_text()

    cell = lab.cell("%%asset orders")
    edited = lab.replace_in_cell(cell, "raw_orders.amount > 0", "raw_orders.amount > 1")
    assert lab.editor_text(cell) == edited
    # neither run nor saved: the panel reads the editor, so 'orders' is stale at once
    lab.wait_for_statuses({"orders": "stale", "customer_revenue": "stale"})
    assert "code changed" in badge_title(lab, "orders"), badge_title(lab, "orders")
    assert lab.cell("%%asset orders").locator(".nbassets-CellBadge").text_content() == "stale"
    assert (quickstart / NOTEBOOK).read_text() == saved  # the file still holds the old code

    # undo the edit (still unsaved): fresh again
    lab.replace_in_cell(cell, "raw_orders.amount > 1", "raw_orders.amount > 0")
    lab.wait_for_statuses({key: "fresh" for key in DEFINED + READS})


def panel_env(lab: Lab) -> str:
    return lab.page.locator("#nbassets-assets .nbassets-Env").inner_text()


def run_new_cell(lab: Lab, source: str) -> None:
    """Add a code cell below the last one, type ``source`` and run it."""
    page = lab.page
    last = page.locator(".jp-Notebook .jp-CodeCell").last
    last.locator(".cm-content").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(source)
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
    assert lab.editor_text(active) == source
    page.keyboard.press("Shift+Enter")
    lab.wait_for_kernel()


def test_the_panel_shows_the_kernels_env(lab: Lab, quickstart: Path) -> None:
    lab.open_assets_panel()
    lab.run_all()
    lab.wait_for_statuses({key: "fresh" for key in DEFINED + READS})
    assert panel_env(lab) == "env dev-tester-nogit"

    run_new_cell(lab, "%nbassets env ci-x")
    page = lab.page
    page.locator("#nbassets-assets .nbassets-Env", has_text="env ci-x").wait_for()
    # nothing built in ci-x yet: what production lacks is missing there (the sandbox's builds
    # are not seen), prod's inputs stay fresh
    in_ci_x = {"customer_revenue": "missing", "region_revenue": "missing", "raw_orders": "fresh"}
    lab.wait_for_statuses(in_ci_x)

    # a reload: the panel asks the running kernel (its comm) and shows ci-x again
    page.reload()
    lab.wait_for_kernel()
    lab.open_assets_panel()
    page.locator("#nbassets-assets .nbassets-Env", has_text="env ci-x").wait_for()
    lab.wait_for_statuses(in_ci_x)
