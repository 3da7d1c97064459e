"""The Assets panel's production view in a real JupyterLab (issue 14, acceptance 4).

Production is built by the real CLI (``tests/health_project.py``): a late asset, a failed error
check and a daily asset with stale, built and missing partitions; ``NBASSETS_NOW`` pins the
server's "now". The view shows each, keeps being shown across a reload, and gives way to the
sandbox view again. Its screenshot is the README's ``docs/images/production-view.png``
(written when missing, or with ``NBASSETS_UPDATE_README_IMAGE=1``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_browser
from browser.lab import ARTIFACTS, PANEL, Lab, open_lab
from browser.server import running_lab
from health_project import HealthProject, build_health_project

pytestmark = test_browser.pytestmark
README_IMAGE = test_browser.ROOT / "docs" / "images" / "production-view.png"
NOTEBOOK = "notebooks/shop.ipynb"


@pytest.fixture
def health(project: Path, monkeypatch: pytest.MonkeyPatch) -> HealthProject:
    built = build_health_project(project)
    monkeypatch.setenv("NBASSETS_NOW", built.now.isoformat())  # the server's and kernel's now
    return built


@pytest.fixture
def lab(health: HealthProject, tmp_path: Path) -> Iterator[Lab]:
    assert test_browser.lab_extension_installed(), "pip install -e . builds the lab extension"
    with (
        running_lab(health.root, tmp_path / "jupyter") as server,
        open_lab(server, NOTEBOOK) as lab,
    ):
        yield lab


def production_row(lab: Lab, key: str):
    return lab.page.locator(f'{PANEL} .nbassets-ProductionList li[data-key="{key}"]')


def test_the_production_view_shows_lateness_failed_checks_and_partition_gaps(
    lab: Lab, health: HealthProject
) -> None:
    page = lab.page
    panel = lab.open_assets_panel()
    # the sandbox view first: its rows read production's versions (nothing built in the sandbox)
    lab.wait_for_statuses({"orders": "fresh", "summary": "check-failed"})
    panel.locator('button.nbassets-ViewTab[data-view="production"]').click()
    production_row(lab, "events").locator(".nbassets-Strip").wait_for()
    assert panel.locator(".nbassets-DefinedList").is_hidden()
    summary = panel.locator(".nbassets-ProductionSummary").inner_text()
    assert summary == "env prod · 4 assets · 1 late · 1 failing check · code: package pipelines"

    orders = production_row(lab, "orders")
    assert orders.get_attribute("data-status") == "fresh"
    assert orders.get_attribute("data-late") == "true"
    assert orders.locator(".nbassets-LateBadge").inner_text() == "late"
    assert orders.locator(".nbassets-HealthRow-late").inner_text().startswith("late by 1d ")
    assert "(max_age=1h)" in orders.locator(".nbassets-HealthRow-late").inner_text()

    summary_row = production_row(lab, "summary")
    assert summary_row.get_attribute("data-status") == "check-failed"
    checks = summary_row.locator(".nbassets-AssetRow-checks")
    assert checks.get_attribute("data-failed") == "1"
    assert "row_count(min=5)" in (checks.get_attribute("title") or "")

    events = production_row(lab, "events")
    runs = events.locator(".nbassets-Strip-run")
    assert [
        (runs.nth(i).get_attribute("data-state"), runs.nth(i).get_attribute("data-count"))
        for i in range(runs.count())
    ] == [("stale", "3"), ("built", "3"), ("missing", "3")]
    assert runs.nth(2).get_attribute("title") == f"{health.day(6)}..{health.day(8)}: missing (3)"
    legend = events.locator(".nbassets-Strip-legend").inner_text()
    assert legend == "9 partitions: 3 built, 3 stale, 3 missing"
    widths = [runs.nth(i).bounding_box()["width"] for i in range(3)]  # type: ignore[index]
    assert max(widths) - min(widths) < 2, widths  # equal counts, equal widths

    # the README's picture: the sidebar a little wider, the panel beside its notebook
    lab.widen_sidebar(110, steps=5)
    page.mouse.move(0, 0)
    bottom = production_row(lab, "raw_orders").bounding_box()
    assert bottom is not None
    clip = {"x": 0, "y": 0, "width": 1000, "height": bottom["y"] + bottom["height"] + 12}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "production-view.png", clip=clip)
    if not README_IMAGE.exists() or os.environ.get("NBASSETS_UPDATE_README_IMAGE"):
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / "production-view.png", README_IMAGE)

    # the view chosen stays across a reload; the sandbox view comes back on its tab
    page.reload()
    lab.wait_for_kernel()
    panel = lab.open_assets_panel()
    production_row(lab, "events").locator(".nbassets-Strip").wait_for()
    panel.locator('button.nbassets-ViewTab[data-view="sandbox"]').click()
    lab.wait_for_statuses({"orders": "fresh", "summary": "check-failed"})
    assert panel.locator(".nbassets-Production").is_hidden()
