"""Held: every HTML (and SVG) output escapes what users wrote, so no markup of theirs runs.

Names, values, descriptions, check names, rule arguments, error messages and even the project's
folder hold ``<script>``, ``<img onerror>``, ``"``, ``'`` and ``&``. A real IPython shell
builds and shows them: the build preview, ``%%check`` and ``%check`` results, ``%assets``
(the status table), ``%nbassets``, ``%lineage`` (SVG) and ``%diff``; each output is parsed
(HTML by ``html.parser``, SVG as XML) and must hold no element or event attribute of the
user's, while the user's text reads back exactly as text. Unit tests of each renderer follow.
"""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from contextlib import suppress
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import TestingShell, unchanged, write_prod
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nbassets.diff import ChangedRow, diff_tables
from nbassets.render.diffview import DiffView
from nbassets.render.lineage import Lineage, LineageEdge, LineageNode
from nbassets.render.preview import InputFact, Preview, PreviewFacts
from nbassets.store.results import CheckResult

SVG = "{http://www.w3.org/2000/svg}"
XSS = "<img src=x onerror=alert(1)>"
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('x')</script>"
# breaks out of a double- or single-quoted attribute, then opens a script and an image
ATTACK = f"\"'>{SCRIPT}&{XSS}"
FOLDER = f"x\"'{XSS}&"  # a folder name: no slash
ALLOWED_TAGS = {"div", "span", "pre", "b", "table", "caption", "thead", "tbody", "tr", "th", "td"}
ALLOWED_TAGS |= {"style", "details", "summary", "br", "small", "code", "ul", "li", "abbr"}


class Markup(HTMLParser):
    """The elements, attribute names and text of an HTML fragment, as a browser parses them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self.text += [value or "" for _, value in attrs]  # titles are text users read too

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(html: str, *, shows: str | None = None, label: str = "") -> None:
    """``html`` holds only the renderer's own elements and no event attribute; ``shows``
    (the user's text) reads back exactly, as text."""
    markup = Markup(html)
    assert markup.tags <= ALLOWED_TAGS, (label, markup.tags - ALLOWED_TAGS)
    assert not {a for a in markup.attributes if a.startswith("on")}, (label, markup.attributes)
    if shows is not None:
        assert any(shows in text for text in markup.text), (label, shows, markup.text)


def assert_inert_svg(svg: str, *, shows: str | None = None) -> None:
    root = ET.fromstring(svg)  # well-formed XML, or escaping broke it
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "g", "rect", "text", "title", "path", "defs", "marker", "style"}, tags
    assert not {a for e in root.iter() for a in e.attrib if a.startswith("on")}
    if shows is not None:
        assert any(shows in (e.text or "") for e in root.iter()), shows


def mimebundle(shell: TestingShell, obj: Any) -> dict[str, Any]:
    """What Jupyter would send for ``obj``: its formatted mimebundle."""
    data, _ = shell.display_formatter.format(obj)
    return data


# --- a real shell, every HTML output --------------------------------------------------------


def test_every_html_output_of_the_magics_is_inert(
    shell: TestingShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / FOLDER / "project"  # the project's own path is hostile too
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    shell.run_cell("%unload_ext nbassets")
    monkeypatch.chdir(project)
    shell.run_cell("%load_ext nbassets")
    write_prod(project, "evil", pd.DataFrame({"id": [1, 2], ATTACK: [ATTACK, "b"]}))
    shell.user_ns["ATTACK"] = ATTACK
    rule = f"accepted_values({ATTACK!r}, [{ATTACK!r}])"
    cells = {
        "preview": f"%%asset evil --key id --desc {shlex.quote(ATTACK)} --check {shlex.quote(rule)}"
        "\nimport pandas as pd\npd.DataFrame({'id': [1, 3], ATTACK: [ATTACK, 'c']})",
        "%%check failing": f"%%check evil --name {shlex.quote(ATTACK)} --severity warn"
        "\nassert False, ATTACK",
        "%%check broken": "%%check evil --name broken --severity warn\nraise KeyError(ATTACK)",
    }
    outputs: dict[str, dict[str, Any]] = {}
    with unchanged(project / "warehouse"):
        for name, cell in cells.items():
            with capture_output() as captured, suppress(UsageError, KeyError):
                shell.run_cell(cell)  # the rule fails (an error check) after the preview; the
                # broken check re-raises its KeyError after its result is shown
            (outputs[name],) = [output.data for output in captured.outputs]
        with pytest.raises(ValueError, match="invalid literal"):  # a failed build, recorded
            shell.run_cell("%%asset broken --no-preview\nbroken = int(ATTACK)")
        for line in ("%assets", "%nbassets", "%lineage", "%diff evil --key id"):
            outputs[line] = mimebundle(shell, shell.run_cell(line).result)
        with capture_output() as captured, suppress(KeyError):
            shell.run_cell("%check evil")  # shows every result, then re-raises the KeyError
        (outputs["%check evil"],) = [output.data for output in captured.outputs]

    shows = {  # where the user's text must read back whole (elsewhere it may be shortened)
        "preview": ATTACK,
        "%%check failing": ATTACK,
        "%%check broken": XSS,  # inside the KeyError's repr
        "%check evil": ATTACK,
        "%nbassets": FOLDER,
        "%diff evil --key id": ATTACK,
    }
    for name, data in outputs.items():
        assert "text/html" in data or "image/svg+xml" in data, name
        if "text/html" in data:
            assert_inert(data["text/html"], shows=shows.get(name), label=name)
        else:
            assert_inert_svg(data["image/svg+xml"])
    assert "failed" in outputs["%assets"]["text/plain"]  # the failed build is listed


# --- each renderer --------------------------------------------------------------------------


def test_preview_is_text_and_escaped_html(shell: TestingShell) -> None:
    out = shell.capture(
        "%%asset evil\nimport pandas as pd\npd.DataFrame({'<b>x</b>': ['<img src=x onerror=alert(1)>']})"
    )
    bundle = out.outputs[0].data
    assert "text/plain" in bundle
    assert "<img src=x" not in bundle["text/html"] and "&lt;img src=x" in bundle["text/html"]


def test_everything_user_supplied_is_escaped() -> None:
    frame = pd.DataFrame({XSS: [XSS, "ok"]}, index=pd.Index([XSS, "b"], name=XSS))
    failing = CheckResult(XSS, XSS, "error", passed=False, failing_rows=1, message=XSS)
    broken = CheckResult("k", "c", "error", passed=False, error=XSS)
    hostile = PreviewFacts(
        key=XSS,
        env=XSS,
        data_version="3f2a9c1d8e7f",
        rows=None,
        columns=None,
        bytes=53_555,
        seconds=0.0061,
        checks=(failing, broken),
        diff_summary=XSS,
        description=XSS,
        inputs=(InputFact(XSS, "sandbox", XSS, XSS),),
        upstream=(XSS,),
        downstream=(XSS,),
    )
    for value in (frame, pl.DataFrame({XSS: [XSS]}), pa.table({XSS: [XSS]}), {XSS: XSS}, XSS):
        preview = Preview(value, hostile)
        html = preview.to_html()
        assert XSS not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert XSS in preview.to_text()
        assert_inert(html, shows=XSS)


def test_hostile_text_is_escaped() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    nodes = [LineageNode("a&b<c>", "fresh", hostile + "\x00\x1b"), LineageNode("b", "weird<s>")]
    edges = [LineageEdge("a&b<c>", "b", '"><script>alert(1)</script>')]
    svg = Lineage(nodes, edges).to_svg()

    assert "<img" not in svg and "<script" not in svg and "<s>" not in svg
    root = ET.fromstring(svg)
    assert root.find(f".//{SVG}script") is None
    texts = [el.text or "" for el in root.iter(f"{SVG}text")]
    assert "a&b<c>" in texts
    [group] = [
        g
        for g in root.iter(f"{SVG}g")
        if "node" in (g.get("class") or "").split() and g.findtext(f"{SVG}text") == "a&b<c>"
    ]
    assert group.findtext(f"{SVG}title") == f"a&b<c>: {hostile}\ufffd\ufffd"
    assert "weird<s>" in texts
    assert_inert_svg(svg, shows="a&b<c>")


def parquet(path: Path, columns: dict[str, list[Any]]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def hostile_pair(tmp_path: Path) -> tuple[Path, Path]:
    columns = {"id": [1, 2], HOSTILE: ["a", "b"], 'say "hi" now': [1, 2]}
    old = parquet(tmp_path / "old.parquet", {**columns, f"old {HOSTILE}": [HOSTILE, "x"]})
    new = parquet(
        tmp_path / "new.parquet",
        {
            "id": [1, 3],
            HOSTILE: [HOSTILE, "b"],
            'say "hi" now': [5, 2],
            f"new {HOSTILE}": [HOSTILE] * 2,
        },
    )
    return old, new


def test_hostile_names_and_values_are_quoted_in_sql_and_escaped_in_html(tmp_path: Path) -> None:
    script = '<script>alert("x")</script>'
    d = diff_tables(*hostile_pair(tmp_path), key=["id"], old_label=HOSTILE, new_label=script)

    assert d.changed_by_column == {HOSTILE: 1, 'say "hi" now': 1}
    assert d.changed_sample == [
        ChangedRow({"id": 1}, {HOSTILE: ("a", HOSTILE), 'say "hi" now': (1, 5)})
    ]
    html = DiffView(d)._repr_mimebundle_()["text/html"]
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert HOSTILE in DiffView(d)._repr_mimebundle_()["text/plain"]
    assert_inert(html, shows=HOSTILE)
