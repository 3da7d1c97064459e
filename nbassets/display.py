"""What the user sees after a build and in ``%assets``: plain text plus escaped, static HTML."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from html import escape
from typing import Any

from .checkresult import CheckResult
from .serializers import table_kind
from .session import BuildResult
from .status import AssetStatus

HEAD_ROWS = 5
MAX_COLUMNS = 12
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 200
_OUTCOME_COLOURS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e", "error": "#cf222e"}
_STATUS_COLOURS = {
    "fresh": "#1a7f37",
    "stale": "#9a6700",
    "missing": "#57606a",
    "failed": "#cf222e",
    "check-failed": "#cf222e",
}


class BuildSummary:
    """The inline summary of one build: what, where, which version, from which inputs."""

    def __init__(self, result: BuildResult, preview_rows: int = HEAD_ROWS) -> None:
        self.result = result
        self.preview_rows = preview_rows

    def lines(self) -> list[str]:
        r = self.result.record
        shape = describe_value(self.result.value, r.rows, r.schema)
        head = (
            f"{r.key} -> {r.env} @ {r.data_version[:7]}  |  {shape}  |  "
            f"{human_bytes(r.bytes)}  |  {self.result.seconds * 1000:.1f} ms"
        )
        lines = [head]
        lines += [f"  input  {i.label}" for i in self.result.inputs] or ["  input  (none)"]
        if self.result.downstream:
            lines.append(f"  feeds  {', '.join(self.result.downstream)}")
        lines += [f"  check  {check_line(c)}" for c in self.result.checks]
        return lines

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = "\n".join(self.lines())
        preview_text, preview_html = head_of(self.result.value, self.preview_rows)
        lines = self.lines()
        html = [
            '<div class="nbassets-build" style="font-family:monospace;font-size:12px">',
            f"<div><b>{escape(lines[0])}</b></div>",
            *(f"<div>{escape(line)}</div>" for line in lines[1:]),
        ]
        if preview_html:
            html.append(f'<div style="margin-top:4px">{preview_html}</div>')
        html.append("</div>")
        return {
            "text/plain": f"{text}\n{preview_text}" if preview_text else text,
            "text/html": "\n".join(html),
        }


class StatusTable:
    """``%assets``: one row per asset with status, reason, env, rows, build time and commit."""

    columns = ("asset", "status", "env", "version", "rows", "built", "commit")

    def __init__(self, rows: Sequence[AssetStatus]) -> None:
        self.rows = list(rows)

    def cells(self) -> list[tuple[str, ...]]:
        return [
            (
                row.key,
                row.label,
                row.env or "",
                (row.data_version or "")[:7],
                "" if row.rows is None else f"{row.rows:,}",
                short_time(row.built_at),
                (row.commit or "")[:7],
            )
            for row in self.rows
        ]

    def to_text(self) -> str:
        cells = self.cells()
        if not cells:
            return "no assets yet: run an %%asset cell"
        widths = [max(len(c[i]) for c in [self.columns, *cells]) for i in range(len(self.columns))]
        lines = ["  ".join(h.ljust(w) for h, w in zip(self.columns, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in self.columns)
        body = []
        for row, cells in zip(self.rows, self.cells(), strict=True):
            colour = _STATUS_COLOURS.get(row.status, "inherit")
            tds = [f"<td>{escape(c)}</td>" for c in cells]
            tds[1] = f"<td style='color:{colour}'>{escape(cells[1])}</td>"
            body.append(f"<tr>{''.join(tds)}</tr>")
        html = f"<table class='nbassets-status'><tr>{head}</tr>{''.join(body)}</table>"
        return {"text/plain": self.to_text(), "text/html": html}


class CheckReport:
    """The results of ``%%check`` or ``%check``: one line per check."""

    def __init__(self, results: Sequence[CheckResult]) -> None:
        self.results = list(results)

    def to_text(self) -> str:
        return "\n".join(check_line(r) for r in self.results) or "no checks defined"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = []
        for r in self.results:
            colour = _OUTCOME_COLOURS[r.outcome]
            rows.append(
                f"<tr><td style='color:{colour};font-weight:bold'>{escape(r.outcome.upper())}</td>"
                f"<td>{escape(r.key)}</td><td>{escape(r.name)}</td>"
                f"<td>{escape(r.error or r.message)}</td></tr>"
            )
        body = "".join(rows) or "<tr><td>no checks defined</td></tr>"
        return {"text/plain": self.to_text(), "text/html": f"<table>{body}</table>"}


def check_line(result: CheckResult) -> str:
    """``FAIL  orders: not_null('id')  (3 rows with nulls)``."""
    detail = result.error or result.message
    return f"{result.outcome.upper():5} {result.key}: {result.name}" + (
        f"  ({detail})" if detail else ""
    )


class KeyValues:
    """``%nbassets``: a small table of facts."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts

    def to_text(self) -> str:
        width = max(len(k) for k in self.facts)
        return "\n".join(f"{k.ljust(width)}  {_fact(v)}" for k, v in self.facts.items())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(_fact(v))}</td></tr>"
            for k, v in self.facts.items()
        )
        return {"text/plain": self.to_text(), "text/html": f"<table>{rows}</table>"}


def describe_value(value: Any, rows: int | None, schema: dict[str, str] | None) -> str:
    """``DataFrame 100 rows x 5 cols`` or ``dict of 3``."""
    name = type(value).__name__
    if schema is not None:
        return f"{name} {rows:,} rows x {len(schema)} cols"
    if rows is not None:
        return f"{name} of {rows:,}"
    return name


def head_of(value: Any, rows: int) -> tuple[str, str]:
    """The first ``rows`` rows of a table (text, escaped HTML), or a short repr."""
    if rows <= 0:
        return "", ""
    kind = table_kind(value)
    if kind == "arrow":
        value, kind = value.slice(0, rows).to_pandas(), "pandas"
    if kind == "pandas":
        head = value.head(rows)
        return (
            head.to_string(max_cols=MAX_COLUMNS, max_colwidth=40),
            head.to_html(max_cols=MAX_COLUMNS, escape=True, border=0),
        )
    if kind == "polars":
        head = value.head(rows)
        return str(head), f"<pre>{escape(str(head))}</pre>"
    text = _SHORT_REPR.repr(value)
    return text, f"<pre>{escape(text)}</pre>"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def short_time(stamp: str | None) -> str:
    """``2026-11-28 06:12:01Z`` from an ISO 8601 UTC timestamp."""
    return "" if not stamp else stamp[:19].replace("T", " ") + "Z"


def _fact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)
