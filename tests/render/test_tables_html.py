"""Tables as JupyterLab draws them: compact build times, and, in Debian's chromium under
JupyterLab's own CSS with every ``<style>`` dropped (as its sanitizer does for an untrusted
notebook), ``%assets`` cells left-aligned on one line and a wide preview scrolling in its box.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from nbassets.render.display import StatusTable
from nbassets.render.preview import Preview, PreviewFacts
from nbassets.status import AssetStatus
from nbassets.text import compact_time

CHROMIUM = Path("/usr/bin/chromium")
NOW = datetime(2026, 11, 30, 13, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "shown"),
    [
        ("2026-11-30T12:48:03.123456+00:00", "12:48"),  # today: the time
        ("2026-11-30T00:00:00Z", "00:00"),
        ("2026-11-29T12:48:03.123456+00:00", "Nov 29 12:48"),  # this year: day and time
        ("2026-01-02T09:07:00+00:00", "Jan 2 09:07"),
        ("2025-11-30T12:48:03+00:00", "2025-11-30"),  # before: the date
        ("not a time", "not a time"),
        (None, ""),
        ("", ""),
    ],
)
def test_compact_time(stamp: str | None, shown: str) -> None:
    assert compact_time(stamp, NOW) == shown


def test_compact_time_is_in_the_readers_time_zone() -> None:
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))  # 22:05 on Nov 30 there
    assert compact_time("2026-11-30T12:48:00+00:00", tokyo) == "21:48"
    assert compact_time("2026-11-30T15:30:00+00:00", tokyo) == "Dec 1 00:30"
    assert re.fullmatch(r"\d\d:\d\d", compact_time(datetime.now(UTC).isoformat()))  # local


# -- in a browser ------------------------------------------------------------------------------


def lab_css() -> Path | None:
    """JupyterLab's own stylesheet, as nbconvert's ``lab`` template ships it."""
    from jupyter_core.paths import jupyter_path

    paths = jupyter_path("nbconvert", "templates", "lab", "static", "index.css")
    return next((Path(p) for p in paths if Path(p).is_file()), None)


def in_browser(test):  # type: ignore[no-untyped-def]
    """Marks ``test`` as a browser test, skipped without chromium or playwright."""
    test = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing")(test)
    test = pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="playwright is missing"
    )(test)
    return pytest.mark.browser(test)


# An output as JupyterLab lays it out: a prompt, then the output area of a given width.
OUTPUT = (
    "<div class='jp-OutputArea-child' style='width:{width}px'>"
    "<div class='jp-OutputPrompt jp-OutputArea-prompt' style='display:table-cell;width:64px'>"
    "[1]:</div><div id='out' class='jp-OutputArea-output jp-RenderedHTMLCommon "
    "jp-RenderedHTML'>{html}</div></div>"
)

MEASURE = """() => {
  const out = document.getElementById('out');
  const box = document.querySelector('.nba-scroll');
  const lines = td => { const r = document.createRange(); r.selectNodeContents(td);
                        return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; };
  const cells = [...out.querySelectorAll('table.nbassets-status td, table.nbassets-status th')];
  return {
    out: [out.clientWidth, out.scrollWidth],
    box: box && [box.clientWidth, box.scrollWidth],
    align: cells.map(c => getComputedStyle(c).textAlign),
    lines: cells.filter(c => c.textContent).map(lines),
  };
}"""


def measure(html: str, width: int, sanitize: bool = True) -> dict[str, list]:  # type: ignore[type-arg]
    """Lay ``html`` out in a JupyterLab output ``width`` px wide; measure it (:data:`MEASURE`).

    ``sanitize``: drop every ``<style>`` first, as JupyterLab does for an untrusted output.
    """
    from playwright.sync_api import sync_playwright

    css = lab_css()
    if css is None:
        pytest.skip("nbconvert's lab template (JupyterLab's CSS) is missing")
    if sanitize:
        html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    page_html = (
        f"<html><head><style>{css.read_text()}</style></head><body>"
        f"{OUTPUT.format(width=width, html=html)}</body></html>"
    )
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = chromium.new_page()
            page.set_content(page_html)
            result: dict[str, list] = page.evaluate(MEASURE)  # type: ignore[type-arg]
            return result
        finally:
            chromium.close()


@in_browser
@pytest.mark.parametrize("sanitize", [True, False], ids=["untrusted", "trusted"])
def test_a_wide_preview_scrolls_inside_its_box_not_the_output(sanitize: bool) -> None:
    frame = pd.DataFrame({f"column_number_{i}": [123456.789 * i] * 5 for i in range(18)})
    facts = PreviewFacts("wide", "dev-tester", "0123456789ab", None, None, 1000, 0.1)
    html = Preview(frame, facts)._repr_mimebundle_()["text/html"]
    shown = measure(html, 700, sanitize)
    out_width, out_scroll = shown["out"]
    box_width, box_scroll = shown["box"]
    assert out_scroll <= out_width  # the output area itself does not widen
    assert box_width <= out_width < box_scroll  # the rows table scrolls inside its box


@in_browser
def test_assets_cells_read_left_aligned_on_one_line_under_jupyterlab_css() -> None:
    rows = [
        AssetStatus(
            f"carrier_monthly_departure_delays_{i}",
            "stale",
            "code changed",
            env="dev-alice-feature-long-branch-name",
            data_version="0123456789",
            rows=1234567,
            built_at="2026-11-29T12:48:03.123456+00:00",
            commit="520dbc6aa",
        )
        for i in range(3)
    ]
    html = StatusTable(rows)._repr_mimebundle_()["text/html"]
    shown = measure(html, 520)  # narrower than the table: cells would wrap
    header = ["left", "left", "left", "left", "right", "left", "left"]
    assert shown["align"] == header * 4  # header and 3 rows: JupyterLab's right is overridden
    assert set(shown["lines"]) == {1}  # no cell wraps
