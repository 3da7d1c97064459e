"""What the user sees after a build: a bounded, escaped preview of the value and its provenance.

``Preview(value, facts)`` renders as ``text/plain`` and static, escaped HTML (no script, no
event attributes), so it shows in JupyterLab, VS Code, nbconvert and on GitHub. What the value
looks like comes from ``summary.py``, whose cost does not grow with the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING, Any

from ..environments import PROD
from ..store.results import CheckResult
from ..text import plural
from .palette import OUTCOME_BADGES
from .stats import AT_LEAST, ESTIMATE, STANDARD_ERROR
from .summary import (
    PREVIEW_COLUMNS,
    PREVIEW_ROWS,
    ColumnStats,
    TableBody,
    ValueBody,
    cell_text,
    human_bytes,
    summarize,
)
from .tables import aligned

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["InputFact", "Preview", "PreviewFacts", "preview_widget"]


@dataclass(frozen=True)
class InputFact:
    """One input of the build and where it was read from."""

    key: str
    origin: str  # "kernel" | "sandbox" | "prod"
    env: str
    data_version: str  # of the partitions read: their combined version
    partition: str = ""  # the partition read, or the partitions (``2024-01-01..2024-01-31``)


@dataclass(frozen=True)
class PreviewFacts:
    """What the build knows beyond the value: where it went, its size, lineage and checks."""

    key: str
    env: str
    data_version: str
    rows: int | None
    columns: int | None
    bytes: int
    seconds: float
    inputs: tuple[InputFact, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    diff_summary: str | None = None
    description: str | None = None
    partition: str = ""  # the partition built ("" for an unpartitioned asset)


def human_seconds(seconds: float) -> str:
    """``6.1 ms``, ``2.35 s``, ``3 min 12 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def _input_label(fact: InputFact) -> str:
    """``raw_orders ← prod @ 2c4f8e2`` or ``raw_orders ← sandbox dev-alice-main @ 2c4f8e2``;
    partitions read in brackets: ``daily_sales[2024-01-01..2024-01-31] ← prod @ 7c0e1d2``."""
    where = fact.origin if fact.origin in (PROD, fact.env) else f"{fact.origin} {fact.env}"
    return f"{fact.key}{_bracket(fact.partition)} ← {where} @ {fact.data_version[:7]}"


def _bracket(partition: str) -> str:
    """``[2024-01-09]`` after a partitioned asset's key; nothing for an unpartitioned one."""
    return f"[{partition}]" if partition else ""


def _check_note(check: CheckResult) -> str:
    """The check's error or message (which name the failing rows), bounded."""
    why = check.error if check.error is not None else check.message
    if not why and check.failing_rows:
        why = plural(check.failing_rows, "failing row")
    return cell_text(why, 300)


def _versus(summary: str) -> tuple[str, list[str]]:
    """``vs prod: 3 rows added`` as the label ``vs prod`` and ``3 rows added``, said once."""
    label, sep, rest = summary.partition(": ")
    if sep and label.startswith("vs ") and rest:
        return label, [rest]
    return "vs prod", [summary]


_MARKS = {"pass": "✓", "fail": "✗", "warn": "!", "error": "‼"}


# -- the preview -------------------------------------------------------------------------------


class Preview:
    """The inline preview of one build: ``text/plain`` and escaped, static ``text/html``."""

    def __init__(
        self,
        value: Any,
        facts: PreviewFacts,
        *,
        max_rows: int = PREVIEW_ROWS,
        max_columns: int = PREVIEW_COLUMNS,
    ) -> None:
        self.value = value
        self.facts = facts
        self.max_rows = max_rows
        self.max_columns = max_columns

    @cached_property
    def body(self) -> TableBody | ValueBody:
        """The bounded view of the value, computed once."""
        return summarize(self.value, self.max_rows, self.max_columns)

    def headline(self) -> str:
        """``orders → dev-alice-main @ 3f2a9c1 · DataFrame 2,978 rows × 4 cols · 52.3 KB · …``;
        a partition built in brackets: ``events[2024-01-09] → …``."""
        f, body = self.facts, self.body
        shape = body.summary if isinstance(body, ValueBody) else self._shape(body)
        size = f"{human_bytes(f.bytes)} · {human_seconds(f.seconds)}"
        built = f"{f.key}{_bracket(f.partition)}"
        return f"{built} → {f.env} @ {f.data_version[:7]} · {shape} · {size}"

    def _shape(self, body: TableBody) -> str:
        rows = body.rows if self.facts.rows is None else self.facts.rows
        columns = body.columns if self.facts.columns is None else self.facts.columns
        return f"{body.kind} {rows:,} rows × {columns:,} cols"

    def _description(self) -> str:
        return cell_text(self.facts.description or "", 300)

    def _lineage(self) -> list[tuple[str, list[str]]]:
        """Labelled lines: inputs and their origin, other upstream, downstream, diff to prod."""
        f = self.facts
        lines = [("inputs", [_input_label(i) for i in f.inputs] or ["(none)"])]
        if set(f.upstream) - {i.key for i in f.inputs}:
            lines.append(("upstream", [", ".join(f.upstream)]))
        if f.downstream:
            lines.append(("feeds", [", ".join(f.downstream)]))
        if f.diff_summary:
            lines.append(_versus(cell_text(f.diff_summary, 300)))
        return lines

    def to_text(self) -> str:
        """The same facts as aligned plain text."""
        body = self.body
        if isinstance(body, ValueBody):
            return "\n".join([*self._text_facts(), "", _indent(body.text)])
        right = {j for j, numeric in enumerate(body.numeric) if numeric}
        head = aligned([body.header, *body.cells], right=right)
        schema = aligned([_SCHEMA, *(_schema_row(s) for s in body.stats)], right={2, 3})
        tables = [*head, _rows_note(body), "", *schema, *_schema_notes(body)]
        return "\n".join([*self._text_facts(), "", _indent("\n".join(tables))])

    def _text_facts(self) -> list[str]:
        """Headline, description, then labelled lineage and check lines."""
        lines = [self.headline()]
        if self.facts.description:
            lines.append(f"  {self._description()}")
        checks = aligned(
            [
                (f"{_MARKS[c.outcome]} {c.outcome:<5}", c.name, _check_note(c))
                for c in self.facts.checks
            ]
        )
        for label, items in [*self._lineage(), ("checks", checks)]:
            lines += [f"  {'' if n else label:<9} {item}".rstrip() for n, item in enumerate(items)]
        return lines

    def sections(self) -> dict[str, str]:
        """HTML fragments by title: Rows, Schema, Inputs & lineage, Checks."""
        body = self.body
        if isinstance(body, ValueBody):
            rows, schema = f"<pre>{escape(body.text)}</pre>", ""
        else:
            notes = " · ".join(_schema_notes(body))
            stats = [_schema_row(s) for s in body.stats]
            rows = _html_table(
                body.header, body.cells, body.index_width, body.numeric, _rows_note(body)
            )
            schema = _html_table(_SCHEMA, stats, 0, (False, False, True, True), notes)
        lineage = "".join(
            f'<div><span class="nba-label">{escape(label)}</span>{escape(" · ".join(items))}</div>'
            for label, items in self._lineage()
        )
        checks = "".join(map(_html_badge, self.facts.checks))
        return {"Rows": rows, "Schema": schema, "Inputs & lineage": lineage, "Checks": checks}

    def to_html(self) -> str:
        """One compact block: headline, badges, lineage, then the rows and schema tables."""
        parts, description = self.sections(), self._description()
        return _wrap(
            f'<div class="nba-head">{escape(self.headline())}</div>'
            + (f'<div class="nba-muted">{escape(description)}</div>' if description else "")
            + (f"<div>{parts['Checks']}</div>" if parts["Checks"] else "")
            + parts["Inputs & lineage"]
            + f'<div class="nba-tables"><div class="nba-scroll" style="{_SCROLL}">'
            + f"{parts['Rows']}</div>"
            + (f"<div>{parts['Schema']}</div></div>" if parts["Schema"] else "</div>")
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.to_text(), "text/html": self.to_html()}


def preview_widget(preview: Preview) -> ipywidgets.Tab:
    """The opt-in form: a ``Tab`` of Rows, Schema, Inputs & lineage, and Checks."""
    import ipywidgets

    sections = preview.sections()
    head = f'<div class="nba-head">{escape(preview.headline())}</div>'
    empty = '<span class="nba-muted">none</span>'
    pages = [head + sections.pop("Rows"), *(html or empty for html in sections.values())]
    tab = ipywidgets.Tab(children=[ipywidgets.HTML(_wrap(page)) for page in pages])
    tab.titles = ("Rows", *sections)
    return tab


# -- rendering ---------------------------------------------------------------------------------

_SCHEMA = ("column", "dtype", "nulls", "distinct")


def _schema_row(stats: ColumnStats) -> tuple[str, str, str, str]:
    """Exact null count; distinct count with its mark (none when exact, ``~`` or ``≥``)."""
    nulls = "?" if stats.nulls is None else f"{stats.nulls:,}"
    distinct = "?" if stats.distinct is None else f"{stats.distinct_mark}{stats.distinct:,}"
    return stats.name, stats.dtype, nulls, distinct


def _rows_note(body: TableBody) -> str:
    note = f"first {len(body.cells):,} of {body.rows:,} rows" if body.rows else "no rows"
    hidden = body.columns - len(body.stats)
    return note + (f" · … and {hidden:,} more columns" if hidden else "")


def _schema_notes(body: TableBody) -> list[str]:
    """What each mark in the distinct column means, then any columns left out."""
    marks = {stats.distinct_mark for stats in body.stats if stats.distinct is not None}
    notes = []
    if ESTIMATE in marks:
        notes.append(f"~ HyperLogLog estimate over all rows (standard error {STANDARD_ERROR:.1%})")
    if AT_LEAST in marks:
        notes.append(f"≥ at least: distinct in {body.sample_rows:,} evenly spaced rows")
    hidden = body.columns - len(body.stats)
    return notes + ([f"… and {hidden:,} more columns"] if hidden else [])


def _indent(text: str) -> str:
    return "\n".join(f"  {line}".rstrip() for line in text.splitlines())


def _html_table(
    header: Any, rows: Any, index_width: int, numeric: tuple[bool, ...], caption: str
) -> str:
    """A table whose first ``index_width`` cells of a row are row headers."""

    def cell(tag: str, j: int, text: str) -> str:
        tag = "th" if j < index_width else tag
        return f"<{tag}{_NUM if numeric[j] else ''}>{escape(text)}</{tag}>"

    head = "".join(cell("th", j, name) for j, name in enumerate(header))
    body = "".join(f"<tr>{''.join(cell('td', j, c) for j, c in enumerate(r))}</tr>" for r in rows)
    return (
        f'<table class="nba-table"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


_NUM = ' class="nba-num"'


def _html_badge(check: CheckResult) -> str:
    """A pill: ``✓ name`` for a pass, else ``! warn name 5 rows out of range`` (the outcome and
    why, inline); the tooltip says the same with the check's severity."""
    note = _check_note(check)
    title = escape(f"{check.outcome} ({check.severity} check)" + (f" — {note}" if note else ""))
    mark = _MARKS[check.outcome] + ("" if check.outcome == "pass" else f" {check.outcome}")
    label = escape(f"{mark} {check.name}")
    if note:
        label += f' <span class="nba-note">{escape(note)}</span>'
    return f'<span class="nba-badge nba-{check.outcome}" title="{title}">{label}</span>'


# Inline, as sanitizers (JupyterLab's for an untrusted notebook, GitHub's) drop ``<style>``: a
# wide rows table scrolls in its own box rather than widening the output.
_SCROLL = "overflow-x:auto;max-width:100%;min-width:0"


def _wrap(inner: str) -> str:
    return f'<div class="nba-preview"><style>{_CSS}</style>{inner}</div>'


_CSS = """
.nba-preview{font-family:var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,monospace);
font-size:12px;line-height:1.5;color:inherit}
.nba-preview .nba-head{font-weight:600}
.nba-preview .nba-muted,.nba-preview caption,.nba-preview .nba-label{opacity:.7}
.nba-preview .nba-label{display:inline-block;min-width:5.5em}
.nba-preview .nba-badge{display:inline-block;margin:2px 4px 2px 0;padding:0 7px;border-radius:9px;
border:1px solid transparent;font-size:11px;line-height:17px;cursor:default}
{badges}
.nba-preview .nba-tables{display:flex;flex-wrap:wrap;gap:8px 28px;align-items:flex-start;
margin-top:6px}
.nba-preview .nba-note{font-weight:600}
.nba-preview table.nba-table{border-collapse:collapse;font-size:12px;margin:0;color:inherit}
.nba-preview table.nba-table th,.nba-preview table.nba-table td{padding:2px 8px;text-align:left;
white-space:nowrap;vertical-align:top;border:none;background:transparent;
border-bottom:1px solid rgba(127,127,127,.25)}
.nba-preview table.nba-table thead th{border-bottom:1px solid rgba(127,127,127,.6)}
.nba-preview table.nba-table tbody th{font-weight:normal;opacity:.75}
.nba-preview table.nba-table .nba-num{text-align:right;font-variant-numeric:tabular-nums}
.nba-preview caption{caption-side:bottom;text-align:left;padding-top:3px;white-space:nowrap}
.nba-preview pre{margin:4px 0;padding:4px 8px;background:rgba(127,127,127,.1);white-space:pre-wrap}
""".replace("\n", "").replace(
    "{badges}",
    "".join(
        f".nba-preview .nba-{outcome}{{background:{background};border-color:{border}}}"
        for outcome, (background, border) in OUTCOME_BADGES.items()
    ),
)
