"""How a data diff reads: its one-line summary, aligned text, escaped HTML and JSON.

:class:`DiffView` is what ``%diff`` returns: the notebook shows its text and HTML, and its
attributes are the diff's. The CLI and the build preview call the functions directly. An asset
the other env has no version of yet (a :class:`NewTable`) reads as new there, with its rows and
column summaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from ..diff import DataDiff, NewTable, same_figure
from ..jsonvalues import jsonable
from ..text import name_list, plural, shorten
from .tables import aligned

MAX_STATS_COLUMNS = 50  # column summaries shown, changed columns first
MAX_LISTED = 50  # names listed in one fact line
MAX_SAMPLE_COLUMNS = 20  # columns shown of a sampled row


@dataclass(frozen=True, eq=False)
class DiffView:
    """A :class:`DataDiff` (or :class:`NewTable`) for display: text, escaped HTML, or JSON.

    Reading any other attribute reads the diff's (``view.added_rows``), as the ``DataDiff``
    that ``%diff`` returned before answered them.
    """

    diff: DataDiff | NewTable

    def __getattr__(self, name: str) -> Any:
        if name == "diff":  # not set yet (copy, unpickle): no recursion
            raise AttributeError(name)
        return getattr(self.diff, name)

    def summary_line(self) -> str:
        """One line for the build preview: ``vs prod: 1,000 -> 1,020 rows (+25 added, ...)``."""
        return summary_line(self.diff)

    def to_text(self) -> str:
        return to_text(self.diff)

    def to_html(self) -> str:
        return to_html(self.diff)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-ready values, with ``identical`` and the ``summary`` line."""
        return to_dict(self.diff)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": to_text(self.diff), "text/html": to_html(self.diff)}


def summary_line(d: DataDiff | NewTable) -> str:
    """One line for the build preview: ``vs prod: 1,000 -> 1,020 rows (+25 added, ...)``."""
    if isinstance(d, NewTable):
        return new_line(d)
    if d.identical:
        return f"vs {d.old_label}: identical ({d.old_rows:,} rows)"
    parts = [_rows_phrase(d)]
    columns = _columns_phrase(d)
    if columns:
        parts.append(columns)
    if d.key and (d.old_duplicate_keys or d.new_duplicate_keys):
        parts.append(f"duplicate keys: {_duplicates_phrase(d)}")
    if not d.key:
        changed = len(d.changed_summaries)
        if changed:
            parts.append(f"{plural(changed, 'column')} with changed summaries")
        elif d.same_rows is False and not columns:
            parts.append("same summaries, but the rows differ")
    return f"vs {d.old_label}: " + "; ".join(parts)


def to_dict(d: DataDiff | NewTable) -> dict[str, Any]:
    """Everything as JSON-ready values (sample values that JSON lacks become text).

    ``new`` says whether the other env has no version yet (then ``missing_in`` names it).
    """
    result: dict[str, Any] = jsonable(d)
    result["new"] = isinstance(d, NewTable)
    result["identical"] = False if isinstance(d, NewTable) else d.identical
    result["summary"] = summary_line(d)
    return result


def new_line(t: NewTable) -> str:
    """``new in prod: sandbox dev-x has 1,000 rows, 5 columns; prod has no version yet``."""
    if t.io != "parquet":
        shape = f"a {t.io} value" + ("" if t.rows is None else f" ({plural(t.rows, 'row')})")
    else:
        shape = f"{plural(t.rows or 0, 'row')}, {plural(len(t.column_stats), 'column')}"
    return f"new in {t.missing_in}: {t.label} has {shape}; {t.missing_in} has no version yet"


def _new_stats(t: NewTable) -> tuple[list[list[str]], int]:
    """At most ``MAX_STATS_COLUMNS`` summary rows of a new table; and how many are left."""
    rows = [
        [shorten(c.name), c.type, *map(_figure, (c.nulls, c.distinct, c.min, c.max, c.mean))]
        for c in t.column_stats[:MAX_STATS_COLUMNS]
    ]
    return rows, max(0, len(t.column_stats) - MAX_STATS_COLUMNS)


def _rows_phrase(d: DataDiff) -> str:
    rows = (
        f"{d.old_rows:,} rows"
        if d.old_rows == d.new_rows
        else f"{d.old_rows:,} -> {d.new_rows:,} rows"
    )
    if not d.key:
        return rows
    return (
        f"{rows} (+{d.added_rows or 0:,} added, -{d.removed_rows or 0:,} removed, "
        f"{d.changed_rows or 0:,} changed)"
    )


def _columns_phrase(d: DataDiff) -> str:
    parts = []
    if d.added_columns:
        parts.append(f"+{plural(len(d.added_columns), 'column')} ({name_list(d.added_columns, 3)})")
    if d.removed_columns:
        parts.append(
            f"-{plural(len(d.removed_columns), 'column')} ({name_list(d.removed_columns, 3)})"
        )
    if d.retyped_columns:
        retyped = _retyped(d)
        parts.append(f"{len(retyped):,} retyped ({name_list(retyped, 3)})")
    return ", ".join(parts)


def _retyped(d: DataDiff) -> list[str]:
    """``name: OLD -> NEW`` of each retyped column, long names cut to 40 characters."""
    return [f"{shorten(name, 40)}: {old} -> {new}" for name, old, new in d.retyped_columns]


def _duplicates_phrase(d: DataDiff) -> str:
    """``1 in prod, 2 in sandbox (7 rows not compared)``: key values that repeat, per version."""
    return (
        f"{d.old_duplicate_keys:,} in {d.old_label}, "
        f"{d.new_duplicate_keys:,} in {d.new_label} "
        f"({d.ambiguous_old_rows + d.ambiguous_new_rows:,} rows not compared)"
    )


# --- display: text/plain and escaped, bounded text/html ------------------------------------------


def _value(value: Any) -> str:
    """A sample value: ``null``, strings quoted (so spaces show), the rest as ``str``."""
    if value is None:
        return "null"
    return shorten(repr(value) if isinstance(value, str) else str(value))


def _figure(value: Any) -> str:
    """A summary figure: counts with separators, means to 10 digits, text as is."""
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.10g}"
    return shorten(str(value))


def _change(old: Any, new: Any) -> str:
    """``old`` when both are the same, else ``old -> new`` (``n/a`` standing for nothing)."""
    if same_figure(old, new):
        return _figure(old)
    return f"{_figure(old) or 'n/a'} -> {_figure(new) or 'n/a'}"


def _facts(d: DataDiff) -> list[tuple[str, str]]:
    """``(label, text)`` lines: rows, key counts, duplicates, columns, changed-by-column."""
    facts = [("rows", f"{d.old_label} {d.old_rows:,}, {d.new_label} {d.new_rows:,}")]
    if d.key:
        facts.append(
            (
                f"key ({name_list(list(d.key), 5)})",
                f"+{d.added_rows or 0:,} added, -{d.removed_rows or 0:,} removed, "
                f"{d.changed_rows or 0:,} changed, {d.unchanged_rows or 0:,} unchanged",
            )
        )
        if d.old_duplicate_keys or d.new_duplicate_keys:
            facts.append(("duplicate keys", _duplicates_phrase(d)))
    for label, names in (
        ("added columns", d.added_columns),
        ("removed columns", d.removed_columns),
    ):
        if names:
            facts.append((label, name_list(names, MAX_LISTED)))
    if d.retyped_columns:
        retyped = _retyped(d)
        facts.append(("retyped columns", name_list(retyped, MAX_LISTED)))
    by_column = sorted(
        ((n, name) for name, n in d.changed_by_column.items() if n), key=lambda t: -t[0]
    )
    if by_column:
        counts = [f"{name} {n:,}" for n, name in by_column]
        facts.append(("changed by column", name_list(counts, MAX_LISTED)))
    return [(shorten(label), text) for label, text in facts]


_STATS_HEADER = ["column", "type", "nulls", "distinct", "min", "max", "mean"]


def _stats_rows(d: DataDiff) -> tuple[list[list[str]], int]:
    """At most ``MAX_STATS_COLUMNS`` summary rows, changed columns first; and how many are left."""
    ordered = d.changed_summaries + [c for c in d.column_stats if not c.changed]
    rows = [
        [shorten(c.name), *(_change(old, new) for old, new in c.pairs().values())]
        for c in ordered[:MAX_STATS_COLUMNS]
    ]
    return rows, max(0, len(ordered) - MAX_STATS_COLUMNS)


def _samples(d: DataDiff) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, header, rows)`` of each non-empty sample, at most ``MAX_SAMPLE_COLUMNS`` wide."""
    sections = []
    for kind, total, sample in (
        ("added", d.added_rows, d.added_sample),
        ("removed", d.removed_rows, d.removed_sample),
    ):
        if sample:
            names = list(sample[0])
            header = [shorten(n) for n in names[:MAX_SAMPLE_COLUMNS]]
            if len(names) > MAX_SAMPLE_COLUMNS:
                header.append(f"(+{len(names) - MAX_SAMPLE_COLUMNS:,} more columns)")
            rows = [[_value(row[n]) for n in names[:MAX_SAMPLE_COLUMNS]] for row in sample]
            sections.append((f"{kind} rows ({len(sample)} of {total or 0:,})", header, rows))
    if d.changed_sample:
        header = [
            *(shorten(k) for k in d.key),
            "column",
            shorten(d.old_label),
            shorten(d.new_label),
        ]
        rows = []
        for changed in d.changed_sample:
            key = [_value(v) for v in changed.key.values()]
            for i, (name, (old, new)) in enumerate(changed.changes.items()):
                if i == MAX_SAMPLE_COLUMNS:
                    rest = len(changed.changes) - MAX_SAMPLE_COLUMNS
                    rows.append([""] * len(key) + [f"(+{rest:,} more columns)", "", ""])
                    break
                rows.append(
                    [*(key if i == 0 else [""] * len(key)), shorten(name), _value(old), _value(new)]
                )
        title = f"changed rows ({len(d.changed_sample)} of {d.changed_rows or 0:,})"
        sections.append((title, header, rows))
    return sections


def to_text(d: DataDiff | NewTable) -> str:
    """The summary line, the facts, the column summaries and the samples, aligned."""
    if isinstance(d, NewTable):
        stats, left = _new_stats(d)
        lines = [new_line(d)]
        if stats:
            lines += ["", "column summaries", *aligned([_STATS_HEADER, *stats], indent="  ")]
        if left:
            lines.append(f"  and {left:,} more columns")
        return "\n".join(lines)
    lines = [summary_line(d), "", *aligned(_facts(d))]
    stats, left = _stats_rows(d)
    if stats:
        lines += ["", "column summaries (old -> new where they differ, changed first)"]
        lines += aligned([_STATS_HEADER, *stats], indent="  ")
        if left:
            lines.append(f"  and {left:,} more columns")
    for title, header, rows in _samples(d):
        lines += ["", title, *aligned([header, *rows], indent="  ")]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table border='0'><tr>{head}</tr>{body}</table>"


def to_html(d: DataDiff | NewTable) -> str:
    """The same as :func:`to_text`, as escaped, static HTML tables."""
    if isinstance(d, NewTable):
        stats, left = _new_stats(d)
        return "\n".join(
            [
                '<div class="nbassets-diff" style="font-family:monospace;font-size:12px">',
                f"<div><b>{escape(new_line(d))}</b></div>",
                _html_table(_STATS_HEADER, stats) if stats else "",
                f"<div>and {left:,} more columns</div>" if left else "",
                "</div>",
            ]
        )
    facts = "".join(
        f"<tr><th style='text-align:left'>{escape(label)}</th><td>{escape(text)}</td></tr>"
        for label, text in _facts(d)
    )
    html = [
        '<div class="nbassets-diff" style="font-family:monospace;font-size:12px">',
        f"<div><b>{escape(summary_line(d))}</b></div>",
        f"<table border='0'>{facts}</table>",
    ]
    stats, left = _stats_rows(d)
    if stats:
        html.append("<div><b>column summaries</b> (old -&gt; new where they differ)</div>")
        html.append(_html_table(_STATS_HEADER, stats))
        if left:
            html.append(f"<div>and {left:,} more columns</div>")
    for title, header, rows in _samples(d):
        html.append(f"<div><b>{escape(title)}</b></div>{_html_table(header, rows)}")
    html.append("</div>")
    return "\n".join(html)
