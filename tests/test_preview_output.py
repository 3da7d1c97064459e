"""Issue 11 item 11, through a real shell: the build preview and ``%assets`` as a user reads them.

The ``vs prod`` line says its label once; a failed check's badge says its outcome and why
inline; ``%assets`` names read left-aligned on one line, its build time compact with the full
stamp on hover; a wide preview's rows scroll inside their own box. Styles that matter are
inline, as sanitizers (an untrusted notebook in JupyterLab, GitHub) drop ``<style>``.
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

import pandas as pd
from helpers import TestingShell, shown, write_prod
from IPython.utils.capture import CapturedIO

from nbassets.status import AssetStatus

FRAME = "import pandas as pd\npd.DataFrame({'id': [1, 2, 3], 'amount': [5.0, 7.5, 12.0]})"
WARN_RULE = '--check \'between("amount", 0, 10, severity="warn")\''


class Element:
    """One parsed element: its tag, attributes, children and text (its own and its children's)."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def walk(self) -> list[Element]:
        return [self, *(e for child in self.children for e in child.walk())]

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.walk()
            if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())
        ]

    def style(self) -> dict[str, str]:
        declarations = (d.split(":", 1) for d in self.attrs.get("style", "").split(";") if d)
        return {name.strip(): value.strip() for name, value in declarations}


class Tree(HTMLParser):
    """An HTML fragment as :class:`Element` s, as a browser parses it."""

    VOID = frozenset({"br", "img", "col", "hr", "input", "meta", "link"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#root", {}, None)
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        element: Element | None = self.current
        while element is not None and element.tag != tag:
            element = element.parent
        if element is not None and element.parent is not None:
            self.current = element.parent

    def handle_data(self, data: str) -> None:
        element: Element | None = self.current
        while element is not None:
            element.parts.append(data)
            element = element.parent


def preview_of(out: CapturedIO) -> tuple[str, Tree]:
    """The text and the parsed HTML of the build preview a cell displayed."""
    [bundle] = [o.data for o in out.outputs if "nba-preview" in o.data.get("text/html", "")]
    return bundle["text/plain"], Tree(bundle["text/html"])


def assets_html(shell: TestingShell) -> Tree:
    return Tree(shell.run_cell("%assets").result._repr_mimebundle_()["text/html"])


def test_the_vs_prod_line_says_vs_prod_once(shell: TestingShell, project) -> None:  # type: ignore[no-untyped-def]
    write_prod(project, "orders", pd.DataFrame({"id": [1, 2], "amount": [5.0, 7.5]}))
    text, html = preview_of(shell.capture(f"%%asset orders --key id\n{FRAME}"))
    [line] = [line for line in text.splitlines() if "vs prod" in line]
    assert line.count("vs prod") == 1, line
    assert re.fullmatch(r"  vs prod +2 -> 3 rows.*", line), line
    [div] = [d for d in html.root.find("div") if d.text.startswith("vs prod")]
    assert div.text.count("vs prod") == 1, div.text
    assert div.find("span", **{"class": "nba-label"})[0].text == "vs prod"


def test_a_warn_badge_says_how_many_rows_inline(shell: TestingShell) -> None:
    out = shell.capture(f"%%asset orders {WARN_RULE}\n{FRAME}")
    text, html = preview_of(out)
    assert "! warn   between('amount', 0, 10)  1 row out of range" in text
    [badge] = html.root.find("span", **{"class": "nba-badge nba-warn"})
    assert badge.text == "! warn between('amount', 0, 10) 1 row out of range"  # not only a title
    assert "1 row out of range" in badge.attrs["title"]  # and on hover, with the severity
    [passed] = html.root.find("span", **{"class": "nba-badge nba-pass"}) or [None]
    assert passed is None  # the only check did not pass
    assert shown(out).count("1 row out of range") == 1  # the text says it once


def test_a_passing_badge_stays_short(shell: TestingShell) -> None:
    _, html = preview_of(shell.capture(f"%%asset orders --check 'not_null(\"id\")'\n{FRAME}"))
    [badge] = html.root.find("span", **{"class": "nba-badge nba-pass"})
    assert badge.text == "✓ not_null('id')"


def test_assets_names_are_left_aligned_on_one_line_with_a_compact_time(
    shell: TestingShell,
) -> None:
    shell.run_cell("%%asset a_rather_long_asset_name --no-preview\n[1, 2]")
    table = assets_html(shell)
    [row] = [tr for tr in table.root.find("tr") if tr.find("td")]
    cells = row.find("td")
    for cell in cells:  # JupyterLab's own CSS right-aligns and wraps table cells
        assert cell.style()["white-space"] == "nowrap", cell.attrs
    assert [c.style()["text-align"] for c in cells] == [
        "right" if name == "rows" else "left" for name in shell.run_cell("%assets").result.columns
    ]
    for th in table.root.find("th"):
        assert th.style()["white-space"] == "nowrap"
    name, built = cells[0], cells[5]
    assert name.text == "a_rather_long_asset_name"
    stamp = built.attrs["title"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", stamp), stamp
    local = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone()
    assert built.text == local.strftime("%H:%M")  # built just now: today, hours and minutes


def test_assets_times_before_today_show_the_day(shell: TestingShell) -> None:
    shell.run_cell("%%asset a --no-preview\n1")
    table = shell.run_cell("%assets").result
    old = AssetStatus("old", "fresh", built_at="2001-02-03T04:05:06.000000+00:00")
    table.rows.append(old)
    [cell] = [
        tr.find("td")[5]
        for tr in Tree(table._repr_mimebundle_()["text/html"]).root.find("tr")
        if tr.find("td") and tr.find("td")[0].text == "old"
    ]
    assert (cell.text, cell.attrs["title"]) == ("2001-02-03", "2001-02-03 04:05:06Z")
    assert "2001-02-03 04:05:06Z" in table.to_text()  # the text (and the CLI) keeps it in full


def test_a_wide_preview_scrolls_in_its_own_box(shell: TestingShell) -> None:
    columns = ", ".join(f"'column_number_{i}': [123456.789 * {i}] * 3" for i in range(18))
    _, html = preview_of(
        shell.capture(f"%%asset wide\nimport pandas as pd\npd.DataFrame({{{columns}}})")
    )
    [rows] = [
        t for t in html.root.find("table") if "column_number_17" in t.text and "first" in t.text
    ]
    boxes = []
    element = rows.parent
    while element is not None:
        boxes.append(element)
        element = element.parent
    [box] = [e for e in boxes if e.style().get("overflow-x") == "auto"]  # inline: no <style> needed
    assert box.tag == "div" and box.style()["max-width"] == "100%"
    assert box.find("table") == [rows]  # the schema table (18 rows, narrow) is not in it
    assert not html.root.find("script") and "<script" not in str(html)


def test_a_partitioned_build_names_its_partition_and_the_partitions_it_read() -> None:
    """The headline names the partition built; an input read from partitions, their range and
    combined version; text and HTML alike (DESIGN §3)."""
    from nbassets.render.preview import InputFact, Preview, PreviewFacts

    january = "2024-01-01..2024-01-31"  # the compressed range a build recorded
    facts = PreviewFacts(
        key="monthly_sales",
        env="dev-alice-main",
        data_version="e9b33e3" + "0" * 25,
        rows=1,
        columns=2,
        bytes=2048,
        seconds=0.01,
        inputs=(
            InputFact("daily_sales", "prod", "prod", "7c0e1d2" + "1" * 25, january),
            InputFact("fx_rates", "prod", "prod", "a1b2c3d" + "2" * 25),
        ),
        partition="2024-01",
    )
    preview = Preview(pd.DataFrame({"month": ["2024-01"], "amount": [31]}), facts)
    text = preview.to_text()
    assert text.startswith("monthly_sales[2024-01] → dev-alice-main @ e9b33e3 · DataFrame 1 rows")
    assert "daily_sales[2024-01-01..2024-01-31] ← prod @ 7c0e1d2" in text
    assert "fx_rates ← prod @ a1b2c3d" in text  # unpartitioned: no brackets
    html = preview.to_html()
    assert "monthly_sales[2024-01] → dev-alice-main @ e9b33e3" in html
    assert "daily_sales[2024-01-01..2024-01-31] ← prod @ 7c0e1d2" in html
