"""Unit-test results in a real JupyterLab (issue 12, "In the panel"): a notebook with a passing
and a failing recorded ``%%test`` shows a badge on each test cell and the test count on the
asset's row, the failing test named on hover.

The results are recorded straight into the sandbox catalog (as the kernel's ``%%test`` records
them), so the page needs no cell to run. Same harness as ``tests/test_browser.py`` (Debian's
chromium through Playwright); a screenshot goes to ``tests/artifacts/panel-tests.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pandas as pd
import pytest
import test_browser
from browser.lab import ARTIFACTS, Lab, open_lab
from browser.server import running_lab
from helpers import write_notebook, write_prod

from nbassets.config import Project
from nbassets.environments import store_path
from nbassets.kernel_build import run_cell
from nbassets.session import Session
from nbassets.store.results import TestResult
from nbassets.store.sqlite_catalog import SqliteCatalog

if TYPE_CHECKING:
    pass

pytestmark = test_browser.pytestmark
NOTEBOOK = "notebooks/tested.ipynb"
FAILURE = "assertion failed: assert len(result) == 3"
CELLS = {
    "c-orders": "%%asset orders\nraw_orders[raw_orders.amount > 0]",
    "c-keeps": "%%test orders --name keeps_positive\nassert True",
    "c-drops": "%%test orders --name drops_negative\nassert False",
}


@pytest.fixture
def tested(project: Path) -> Path:
    """A project whose ``orders`` is built, with one passing and one failing recorded test."""
    write_prod(project, "raw_orders", pd.DataFrame({"id": [1, 2], "amount": [5.0, -1.0]}))
    notebook = write_notebook(project / NOTEBOOK, CELLS)
    saved = nbformat.read(notebook, as_version=4)
    saved.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)"}
    nbformat.write(saved, notebook)  # no "Select Kernel" dialog over the page
    session = Session(Project.find(notebook), namespace={"__session__": str(notebook)})
    try:
        run_cell(session, "orders", "raw_orders[raw_orders.amount > 0]")
        code, env = session.built["orders"].code_version, session.env
    finally:
        session.close()
    sandbox = store_path(Project.find(notebook), env)
    catalog = SqliteCatalog(sandbox / "catalog.sqlite", writable=True)
    try:
        catalog.record_tests(
            [
                TestResult("orders", "keeps_positive", code, "passed", env=env),
                TestResult("orders", "drops_negative", code, "failed", FAILURE, env=env),
            ]
        )
    finally:
        catalog.close()
    return project


@pytest.fixture
def lab(tested: Path, tmp_path: Path) -> Iterator[Lab]:
    assert test_browser.lab_extension_installed(), "pip install -e . builds the lab extension"
    with running_lab(tested, tmp_path / "jupyter") as server, open_lab(server, NOTEBOOK) as lab:
        yield lab


def test_test_cells_carry_badges_and_the_row_its_count(lab: Lab) -> None:
    lab.open_assets_panel()
    lab.wait_for_statuses({"orders": "fresh", "raw_orders": "fresh"})

    keeps = lab.cell("%%test orders --name keeps_positive").locator(".nbassets-CellBadge")
    drops = lab.cell("%%test orders --name drops_negative").locator(".nbassets-CellBadge")
    keeps.wait_for()
    drops.wait_for()
    assert (keeps.text_content(), keeps.get_attribute("data-outcome")) == ("passed", "passed")
    assert (drops.text_content(), drops.get_attribute("data-outcome")) == ("failed", "failed")
    assert FAILURE in (drops.get_attribute("title") or "")
    assert lab.cell("%%asset orders").locator(".nbassets-CellBadge").text_content() == "fresh"

    tests = lab.row("orders").locator(".nbassets-AssetRow-tests")
    assert tests.inner_text() == "tests 1/2 ✗"
    assert tests.get_attribute("data-outcome") == "failed"
    title = tests.get_attribute("title") or ""
    assert f"✗ drops_negative: {FAILURE}" in title and "✓ keeps_positive" in title
    assert lab.row("raw_orders").locator(".nbassets-AssetRow-tests").count() == 0
    # the badges differ in colour: failed is the theme's error colour, passed its success one
    colour = "el => getComputedStyle(el).color"
    assert keeps.evaluate(colour) != drops.evaluate(colour)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lab.page.screenshot(path=ARTIFACTS / "panel-tests.png")
