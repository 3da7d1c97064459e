"""JupyterLab driven through Playwright: Debian's chromium, the notebook, and the Assets panel."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .server import LabServer

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # git-ignored
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
PANEL = "#nbassets-assets"
TIMEOUT_MS = 60_000

# Reads {key: status} from the panel's rows, in the order shown.
_STATUSES_JS = """
() => Object.fromEntries(
  [...document.querySelectorAll('#nbassets-assets li.nbassets-AssetRow')]
    .map(row => [row.dataset.key, row.dataset.status]))
"""

# True once every expected {key: status} is shown.
_SHOWS_JS = """
(expected) => {
  const rows = document.querySelectorAll('#nbassets-assets li.nbassets-AssetRow');
  const shown = Object.fromEntries([...rows].map(row => [row.dataset.key, row.dataset.status]));
  return Object.entries(expected).every(([key, status]) => shown[key] === status);
}
"""


class Lab:
    """One JupyterLab page with a notebook open."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.set_default_timeout(TIMEOUT_MS)

    def wait_for_kernel(self) -> None:
        """Wait until the kernel exists and is idle (the toolbar says "idle" earlier than that)."""
        self.page.locator(".jp-StatusBar-Item", has_text=KERNEL_IDLE).first.wait_for()

    def run_all(self) -> None:
        """Run → Run All Cells, then wait for every code cell to have an execution count."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        self.page.wait_for_function(
            """() => {
              const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
              return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""",
            timeout=120_000,
        )
        self.wait_for_kernel()

    def open_assets_panel(self) -> Locator:
        """Click the Assets tab of the left sidebar (unless it is open) and return the panel."""
        panel = self.page.locator(PANEL)
        if not panel.is_visible():
            self.page.locator('.jp-SideBar [data-id="nbassets-assets"]').click()
        panel.wait_for(state="visible")
        return panel

    def statuses(self) -> dict[str, str]:
        """``{asset: status}`` as the panel shows them."""
        result: dict[str, str] = self.page.evaluate(_STATUSES_JS)
        return result

    def wait_for_statuses(self, expected: dict[str, str], timeout: float = 30_000) -> None:
        """Wait until the panel shows each asset of ``expected`` with its status."""
        try:
            self.page.wait_for_function(_SHOWS_JS, arg=expected, timeout=timeout)
        except Exception as exc:
            message = self.page.locator(f"{PANEL} .nbassets-Message").text_content()
            raise AssertionError(
                f"expected {expected}, the panel shows {self.statuses()} {message or ''}".strip()
            ) from exc

    def row(self, key: str) -> Locator:
        return self.page.locator(f'{PANEL} li.nbassets-AssetRow[data-key="{key}"]')

    def cell(self, first_line: str) -> Locator:
        """The code cell whose source starts with ``first_line``."""
        return self.page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=first_line)
        )

    def editor_text(self, cell: Locator) -> str:
        """The text of a cell's editor, line by line as CodeMirror holds it."""
        cell.scroll_into_view_if_needed()
        lines = cell.locator(".cm-content .cm-line").all_text_contents()
        return "\n".join(lines)

    def replace_in_cell(self, cell: Locator, old: str, new: str) -> str:
        """Edit a cell's source in its editor (select all, type the new source); return it."""
        source = self.editor_text(cell)
        assert old in source, f"{old!r} is not in the cell:\n{source}"
        edited = source.replace(old, new, 1)
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(edited)
        return edited

    def widen_sidebar(self, by: float, steps: int = 10) -> None:
        """Drag the edge between the left sidebar and the main area ``by`` pixels right."""
        handle = self.page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
        box = handle.bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        self.page.mouse.move(box["x"] + box["width"] / 2, y)
        self.page.mouse.down()
        self.page.mouse.move(box["x"] + by, y, steps=steps)
        self.page.mouse.up()

    def active_cell_text(self) -> str:
        active = self.page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
        return self.editor_text(active)


@contextmanager
def open_lab(server: LabServer, notebook: str, height: int = 900) -> Iterator[Lab]:
    """Debian's chromium on ``notebook`` in ``server``'s JupyterLab, once its kernel is idle.

    On the way out, the evidence for a failure goes to ``tests/artifacts/``: the page as the
    test left it (``last-page.png``) and the server's log (``jupyter-lab.log``).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": height})
        try:
            page.goto(server.url(f"lab/tree/{notebook}"))
            lab = Lab(page)
            lab.wait_for_kernel()
            yield lab
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "last-page.png")
            shutil.copy(server.log, ARTIFACTS / "jupyter-lab.log")
            browser.close()
