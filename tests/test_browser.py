"""The Assets panel in a real JupyterLab, driven in Debian's chromium through Playwright.

One scenario on a copy of the quick start: run all cells, every asset fresh; edit the upstream
``orders`` cell and run it: it stays fresh (built from the editor's code, before any save) and
the downstream rows turn stale without a reload; a row click selects its cell; Export writes the module. Screenshots go
to ``tests/artifacts/`` (git-ignored); the README's copy, ``docs/images/assets-panel.png``, is
written when missing or when ``NBASSETS_UPDATE_README_IMAGE=1`` (so a test run leaves git clean).

The lineage tests (issue 11 item 5): the panel's lineage is readable at the default sidebar
width, grows when the sidebar is widened and stays open across a reload; the inline ``%lineage``
image fits its output area. With ``NBASSETS_SCREENSHOTS=1`` they write
``docs/images/lineage-panel.png`` and ``docs/images/lineage-inline.png``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``), the ``playwright`` package, and
nbassets installed with its lab and server extensions (``pip install -e .`` builds them).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.lab import ARTIFACTS, CHROMIUM, Lab, open_lab
from browser.server import LabServer, running_lab

ROOT = Path(__file__).resolve().parents[1]
README_IMAGE = ROOT / "docs" / "images" / "assets-panel.png"
NOTEBOOK = "notebooks/quickstart.ipynb"
DEFINED = ["orders", "customer_revenue", "region_revenue", "daily_revenue"]
READS = ["raw_customers", "raw_orders"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="the playwright package is missing: pip install playwright",
    ),
]


def lab_extension_installed() -> bool:
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_federated_extensions

    return "nbassets" in get_federated_extensions(jupyter_path("labextensions"))


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """A project holding the quick start notebook, with production seeded."""
    project = tmp_path / "shop"
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    for name in ("quickstart.ipynb", "seed_production.py"):
        shutil.copy(ROOT / "notebooks" / name, project / "notebooks" / name)
    subprocess.run(
        [sys.executable, str(project / "notebooks" / "seed_production.py"), str(project)],
        check=True, capture_output=True,
    )  # fmt: skip
    return project


@pytest.fixture
def lab_server(quickstart: Path, tmp_path: Path) -> Iterator[LabServer]:
    assert lab_extension_installed(), (
        "the nbassets lab extension is not installed in this environment: "
        "pip install -e . (it builds labextension/ into nbassets/labextension/)"
    )
    with running_lab(quickstart, tmp_path / "jupyter") as server:
        yield server


@pytest.fixture
def lab(lab_server: LabServer) -> Iterator[Lab]:
    with open_lab(lab_server, NOTEBOOK, height=1000) as lab:
        yield lab


def test_assets_panel_follows_the_notebook(lab: Lab, quickstart: Path) -> None:
    page = lab.page
    panel = lab.open_assets_panel()
    # before any run: the server answers (no "not enabled" message), nothing built in the sandbox
    lab.wait_for_statuses({"customer_revenue": "missing", "raw_orders": "fresh"})

    lab.run_all()
    lab.wait_for_statuses({key: "fresh" for key in DEFINED + READS})
    assert list(lab.statuses()) == DEFINED + READS  # cell order, then the assets only read
    assert panel.locator(".nbassets-ReadsList li").count() == len(READS)
    orders = lab.row("orders")
    assert "raw_orders ← prod" in orders.locator(".nbassets-AssetRow-inputs").inner_text()
    assert orders.locator(".nbassets-AssetRow-checks").get_attribute("data-failed") == "0"
    assert lab.cell("%%asset orders").locator(".nbassets-CellBadge").text_content() == "fresh"

    # edit the upstream cell and run it: its downstream turns stale, no reload
    cell = lab.cell("%%asset orders")
    edited = lab.replace_in_cell(cell, "raw_orders.amount > 0", "raw_orders.amount > 1")
    assert lab.editor_text(cell) == edited
    page.keyboard.press("Shift+Enter")
    lab.wait_for_statuses(  # 'orders' was rebuilt from the code in the editor: fresh, unsaved
        {"orders": "fresh", "customer_revenue": "stale", "daily_revenue": "stale",
         "region_revenue": "stale"}
    )  # fmt: skip
    reason = lab.row("daily_revenue").locator(".nbassets-Badge").get_attribute("title")
    assert reason is not None and "orders" in reason, reason
    # saving changes nothing: the file now holds the code 'orders' was built from
    page.keyboard.press("Control+s")
    lab.wait_for_statuses({"orders": "fresh", "customer_revenue": "stale"})
    assert (
        lab.cell("%%asset daily_revenue").locator(".nbassets-CellBadge").text_content() == "stale"
    )

    panel.locator("summary", has_text="Lineage").click()
    panel.locator("svg.nbassets-Lineage g.nbassets-Lineage-node").first.wait_for()
    assert panel.locator("svg.nbassets-Lineage g.nbassets-Lineage-node").count() == 6
    assert panel.locator("path.nbassets-Lineage-edge.nbassets-mod-prod").count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "assets-panel.png")
    if not README_IMAGE.exists() or os.environ.get("NBASSETS_UPDATE_README_IMAGE"):
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / "assets-panel.png", README_IMAGE)

    # a click on a row makes its cell the active one
    lab.row("daily_revenue").click()
    page.wait_for_function(
        """() => document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content')
                   ?.textContent.startsWith('%%asset daily_revenue')"""
    )
    assert lab.active_cell_text().startswith("%%asset daily_revenue")

    # Export writes the notebook's module into the project
    panel.locator("button.nbassets-ExportButton").click()
    page.locator(".Toastify__toast", has_text="Exported").first.wait_for()
    module = quickstart / "pipelines" / "quickstart.py"
    deadline = time.monotonic() + 10
    while not module.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert module.exists()
    assert "raw_orders.amount > 1" in module.read_text()

    # a row's run button rebuilds that asset; "Run stale" the rest, upstream first
    lab.row("daily_revenue").locator("button.nbassets-RunButton").click()
    lab.wait_for_statuses({"daily_revenue": "fresh", "customer_revenue": "stale"})
    panel.locator("button.nbassets-RunStaleButton").click()
    lab.wait_for_statuses({key: "fresh" for key in DEFINED + READS})
    assert panel.locator("button.nbassets-RunStaleButton").is_disabled()


# --- lineage (issue 11 item 5) -------------------------------------------------------------

LINEAGE_IMAGES = ROOT / "docs" / "images"
# Each node of the panel's lineage: its key, the name it shows, its hover title, whether the
# name's glyphs lie inside its box; and the drawing's width, zoom and a name's height on screen.
_PANEL_LINEAGE_JS = """
() => {
  const svg = document.querySelector('#nbassets-assets svg.nbassets-Lineage');
  const nodes = [...svg.querySelectorAll('g.nbassets-Lineage-node')].map(g => {
    const rect = g.querySelector('rect').getBBox();
    const name = g.querySelector('text.nbassets-Lineage-name');
    const box = name.getBBox();
    return {
      key: g.dataset.key, text: name.textContent, title: g.querySelector('title').textContent,
      fits: box.x >= rect.x && box.x + box.width <= rect.x + rect.width,
      height: name.getBoundingClientRect().height,
    };
  });
  const view = svg.closest('.nbassets-LineageView');
  return { nodes, width: svg.getBoundingClientRect().width, zoom: Number(view.dataset.zoom),
           viewport: view.querySelector('.nbassets-LineageViewport').clientWidth };
}
"""


def panel_lineage(lab: Lab) -> dict[str, Any]:
    facts: dict[str, Any] = lab.page.evaluate(_PANEL_LINEAGE_JS)
    return facts


def screenshots_wanted() -> bool:
    return os.environ.get("NBASSETS_SCREENSHOTS") == "1"


def test_panel_lineage_is_readable_grows_with_the_sidebar_and_stays_open(lab: Lab) -> None:
    page = lab.page
    panel = lab.open_assets_panel()
    lab.run_all()
    lab.wait_for_statuses({key: "fresh" for key in DEFINED + READS})
    section = panel.locator("details.nbassets-LineageSection")
    assert section.get_attribute("open") is None  # closed until the user opens it

    panel.locator("summary", has_text="Lineage").click()
    panel.locator("svg.nbassets-Lineage g.nbassets-Lineage-node").first.wait_for()
    panel.locator("path.nbassets-Lineage-edge.nbassets-mod-prod").first.wait_for(state="attached")
    before = panel_lineage(lab)
    assert sorted(node["key"] for node in before["nodes"]) == sorted(DEFINED + READS)
    for node in before["nodes"]:  # every name whole, inside its box, and on hover
        assert node["text"] == node["key"], node
        assert node["fits"], node
        assert node["title"].startswith(node["key"] + ": "), node
        assert node["height"] >= 9, node  # readable: 13 px names never shrink below ~10 px
    if screenshots_wanted():
        page.mouse.move(0, 0)
        panel.locator("details.nbassets-LineageSection").screenshot(
            path=LINEAGE_IMAGES / "lineage-panel.png"
        )

    # a click on a box selects its cell; a drag pans and selects nothing
    panel.locator('g.nbassets-Lineage-node[data-key="orders"]').click()
    page.wait_for_function(
        """() => document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content')
                   ?.textContent.startsWith('%%asset orders')"""
    )
    viewport = panel.locator(".nbassets-LineageViewport")
    box = viewport.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] - 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] - 10, steps=8)
    page.mouse.up()
    assert viewport.evaluate("v => v.scrollLeft") > 0  # wider than the panel: it panned
    assert lab.active_cell_text().startswith("%%asset orders")

    # widen the sidebar by dragging its edge: the drawing grows
    lab.widen_sidebar(450)
    page.wait_for_function(
        """(width) => document.querySelector('#nbassets-assets svg.nbassets-Lineage')
                       .getBoundingClientRect().width > width + 50""",
        arg=before["width"],
    )
    after = panel_lineage(lab)
    assert after["viewport"] > before["viewport"] + 300
    assert after["zoom"] > before["zoom"]

    # the section is still open after a reload, and draws again
    page.reload()
    lab.wait_for_kernel()
    panel = lab.open_assets_panel()
    panel.locator("svg.nbassets-Lineage g.nbassets-Lineage-node").first.wait_for()
    assert panel.locator("details.nbassets-LineageSection").get_attribute("open") is not None


# The inline %lineage image and the output area that holds it, on screen.
_INLINE_LINEAGE_JS = """
(img) => {
  const output = img.closest('.jp-OutputArea-output');
  const area = img.closest('.jp-OutputArea').getBoundingClientRect();
  const box = img.getBoundingClientRect();
  return { left: box.left, right: box.right, width: box.width, natural: img.naturalWidth,
           areaLeft: area.left, areaRight: area.right, room: output.clientWidth,
           outputRight: output.getBoundingClientRect().right,
           scrollable: output.scrollWidth > output.clientWidth };
}
"""


def test_inline_lineage_fits_the_output_area_with_the_sidebar_open(lab: Lab) -> None:
    page = lab.page
    page.set_viewport_size({"width": 1100, "height": 900})  # a laptop, the sidebar open
    lab.open_assets_panel()
    lab.run_all()
    output = lab.cell("%lineage").locator(".jp-OutputArea-output.jp-RenderedSVG").first
    image = output.locator("img")
    image.wait_for()
    output.scroll_into_view_if_needed()
    facts = image.evaluate(_INLINE_LINEAGE_JS)
    assert facts["natural"] > facts["room"], facts  # the drawing is wider than the output
    assert facts["areaLeft"] - 0.5 <= facts["left"], facts
    assert facts["right"] <= min(facts["areaRight"], facts["outputRight"]) + 0.5, facts
    assert not facts["scrollable"], facts
    if screenshots_wanted():
        page.mouse.move(0, 0)
        output.screenshot(path=LINEAGE_IMAGES / "lineage-inline.png")
