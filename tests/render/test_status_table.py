"""Tests of ``nbassets.render.display.StatusTable``: orphans apart, and the status counts."""

from __future__ import annotations

from nbassets.render.display import StatusTable
from nbassets.status import ORPHAN_REASON, ORPHANED, AssetStatus

ROWS = [
    AssetStatus("a", "fresh", env="dev", data_version="0123456789"),
    AssetStatus("b", "stale", "code changed"),
    AssetStatus("c", "fresh"),
    AssetStatus("old", ORPHANED, ORPHAN_REASON, env="dev", data_version="abcdef0123"),
]


def test_orphans_come_apart_under_a_line_that_counts_them() -> None:
    lines = StatusTable(ROWS).to_text().splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["asset", "a", "b", "c"]
    assert lines[4:6] == [
        "",
        "orphaned: 1 asset no notebook or module of the project defines any more "
        "(nbassets gc --orphans)",
    ]
    assert lines[6].split() == lines[0].split()  # the same columns, aligned on their own
    assert lines[7].split()[:4] == ["old", "orphaned", "dev", "abcdef0"]
    assert "stale: code changed" in lines[2]  # other rows keep their reason


def test_the_summary_counts_orphans_apart_and_never_as_fresh() -> None:
    assert StatusTable(ROWS).summary() == "2 fresh, 1 stale; 1 orphaned (nbassets gc --orphans)"
    assert StatusTable(ROWS[:3]).summary() == "2 fresh, 1 stale"
    assert (
        StatusTable(ROWS[3:]).summary() == "no assets defined; 1 orphaned (nbassets gc --orphans)"
    )


def test_without_orphans_the_text_is_one_line_per_asset() -> None:
    assert len(StatusTable(ROWS[:3]).to_text().splitlines()) == 4  # the benchmark counts on it


def test_the_html_shows_the_orphans_apart_and_the_summary() -> None:
    html = StatusTable(ROWS)._repr_mimebundle_()["text/html"]
    title = html.index("orphaned: 1 asset")
    assert html.index(">c<") < title < html.index(">old<")
    assert html.endswith(
        "<div class='nbassets-status-summary'>2 fresh, 1 stale; 1 orphaned "
        "(nbassets gc --orphans)</div>"
    )
