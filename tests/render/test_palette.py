"""Tests of ``nbassets.render.palette``: one set of status colours, in Python and in the panel's CSS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nbassets.model import LineageEdge, LineageNode
from nbassets.render import palette
from nbassets.render.display import CheckReport, StatusTable
from nbassets.render.lineage import Lineage
from nbassets.status import (
    CHECK_FAILED,
    CORRUPT,
    FAILED,
    FRESH,
    MISSING,
    ORPHANED,
    STALE,
    AssetStatus,
)
from nbassets.store.results import CheckResult

STYLE = Path(__file__).resolve().parents[2] / "labextension" / "style"
# --nbassets-<status>: var(--jp-<theme variable>, <fallback>);
STATUS_VARIABLE = re.compile(
    r"--nbassets-(?P<status>[a-z-]+)\s*:\s*var\(\s*(?P<theme>--jp-[\w-]+)\s*,\s*(?P<fallback>[^)]+?)\s*\)"
)


def css_status_colours() -> dict[str, tuple[str, str]]:
    """``{status: (theme variable, fallback)}`` from every CSS file under labextension/style."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(STYLE.glob("**/*.css")):
        text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        for match in STATUS_VARIABLE.finditer(text):
            status = match["status"]
            assert status not in found, f"--nbassets-{status} is defined twice ({path.name})"
            found[status] = (match["theme"], match["fallback"].lower())
    return found


def test_every_status_has_a_colour_and_a_fill() -> None:
    statuses = [FRESH, STALE, MISSING, FAILED, CHECK_FAILED, CORRUPT, ORPHANED]
    assert list(palette.STATUS_COLOURS) == statuses
    assert list(palette.STATUS_FILLS) == statuses
    assert (
        set(palette.OUTCOME_COLOURS)
        == set(palette.OUTCOME_BADGES)
        == {
            "pass",
            "warn",
            "fail",
            "error",
        }
    )
    assert palette.status_colour("unknown") == "inherit"


def test_the_panel_css_fallbacks_equal_the_palette() -> None:
    css = css_status_colours()
    assert set(css) == set(palette.STATUS_COLOURS), "every status has one CSS variable"
    for status, (theme, fallback) in css.items():
        assert theme.startswith("--jp-"), f"{status} keeps JupyterLab's theme variable"
        assert fallback == palette.STATUS_COLOURS[status].lower(), status


def test_the_panel_css_maps_every_status_to_its_variable() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in STYLE.glob("**/*.css"))
    for status in palette.STATUS_COLOURS:
        rule = re.search(
            rf"\[data-status='{re.escape(status)}'\]\s*\{{\s*--nbassets-status-color:\s*"
            rf"var\(--nbassets-{re.escape(status)}\)",
            text,
        )
        assert rule, status


def test_the_css_parser_sees_a_wrong_fallback() -> None:
    """The comparison above could fail: a changed fallback is read as such."""
    text = "--nbassets-fresh: var(--jp-success-color1, #388e3c);"
    match = STATUS_VARIABLE.search(text)
    assert match and match["fallback"] != palette.STATUS_COLOURS[FRESH]


@pytest.mark.parametrize("status", [FRESH, STALE, MISSING, FAILED, CHECK_FAILED, CORRUPT, ORPHANED])
def test_lineage_svg_and_status_table_draw_with_the_palette(status: str) -> None:
    svg = Lineage([LineageNode("a", status)], [LineageEdge("a", "a")]).to_svg()
    border, fill = palette.STATUS_COLOURS[status], palette.STATUS_FILLS[status]
    assert f".{status} rect{{stroke:{border};fill:{fill}}}" in svg

    html = StatusTable([AssetStatus("a", status)])._repr_mimebundle_()["text/html"]
    assert f";color:{border}'>{status}</td>" in html


def test_check_report_draws_outcomes_with_the_palette() -> None:
    results = [
        CheckResult("a", "ok", "error", True),
        CheckResult("a", "bad", "error", False),
        CheckResult("a", "meh", "warn", False),
    ]
    html = CheckReport(results)._repr_mimebundle_()["text/html"]
    for outcome in ("pass", "fail", "warn"):
        assert f"color:{palette.OUTCOME_COLOURS[outcome]};font-weight:bold" in html
