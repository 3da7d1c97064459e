"""What the user sees from the magics: plain text plus escaped, static HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..diff import DataDiff
from ..kernel_build import BuildResult
from ..status import ORPHANED, AssetStatus
from ..store.results import CheckResult
from ..text import compact_time, plural
from .diffview import summary_line
from .palette import OUTCOME_COLOURS, STATUS_COLOURS, status_colour
from .preview import InputFact, Preview, PreviewFacts
from .summary import PREVIEW_ROWS
from .tables import aligned, table


def build_preview(result: BuildResult, max_rows: int = PREVIEW_ROWS) -> Preview:
    """The preview of one build, from what the session knows about it."""
    record = result.record
    facts = PreviewFacts(
        key=record.key,
        env=record.env,
        data_version=record.data_version,
        rows=record.rows,
        columns=len(record.schema) if record.schema is not None else None,
        bytes=record.bytes,
        seconds=result.seconds,
        inputs=tuple(
            InputFact(i.key, i.origin, i.record.env, i.record.data_version, i.record.partition)
            for i in result.inputs
        ),
        checks=result.checks,
        upstream=tuple(i.key for i in result.inputs),
        downstream=result.downstream,
        diff_summary=_versus_line(result.versus_prod),
        description=result.spec.description,
        partition=record.partition,
    )
    return Preview(result.value, facts, max_rows=max_rows)


def _versus_line(versus: DataDiff | str | None) -> str | None:
    """The preview's ``vs prod`` line: the diff's summary, or the line the build gave instead."""
    return summary_line(versus) if isinstance(versus, DataDiff) else versus


class StatusTable:
    """``%assets``: one row per asset with status, reason, env, rows, build time and commit.

    Orphans (DESIGN §2) come apart, under a line that counts them, after the other assets;
    :meth:`summary` counts each status (the HTML shows it; the CLI prints it) with orphans
    apart. The text is the table alone, one line per asset, when there is no orphan and no
    ``footer`` (a line under the table: :func:`scope_note`).
    """

    def __init__(
        self,
        rows: Sequence[AssetStatus],
        prod_notes: Mapping[str, str] | None = None,
        footer: str = "",
    ) -> None:
        self.rows = list(rows)
        self.prod_notes = {k: v for k, v in (prod_notes or {}).items() if v}
        self.footer = footer
        self.columns: tuple[str, ...] = (
            "asset",
            "status",
            "env",
            "version",
            "rows",
            "built",
            "commit",
        )
        if self.prod_notes:
            self.columns += ("prod",)

    def cells(self, rows: Sequence[AssetStatus] | None = None) -> list[tuple[str, ...]]:
        return [
            (
                row.key,
                row.status if row.status == ORPHANED else row.label,
                row.env or "",
                (row.data_version or "")[:7],
                "" if row.rows is None else f"{row.rows:,}",
                short_time(row.built_at),
                (row.commit or "")[:7],
            )
            + ((self.prod_notes.get(row.key, ""),) if self.prod_notes else ())
            for row in (self.rows if rows is None else rows)
        ]

    def split(self) -> tuple[list[AssetStatus], list[AssetStatus]]:
        """The project's assets, and the orphans."""
        orphans = [row for row in self.rows if row.status == ORPHANED]
        if not orphans:
            return self.rows, []
        return [row for row in self.rows if row.status != ORPHANED], orphans

    def to_text(self) -> str:
        if not self.rows:
            return "\n\n".join(filter(None, ["no assets yet: run an %%asset cell", self.footer]))
        assets, orphans = self.split()
        parts = [table(self.columns, self.cells(assets))] if assets else []
        if orphans:
            parts += ["", orphans_title(len(orphans)), table(self.columns, self.cells(orphans))]
        if self.footer:
            parts += ["", self.footer]
        return "\n".join(parts)

    def summary(self) -> str:
        """``3 fresh, 1 stale; 2 orphaned (nbassets gc --orphans)``: orphans counted apart."""
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        orphaned = counts.pop(ORPHANED, 0)
        order = [*STATUS_COLOURS, *sorted(counts.keys() - STATUS_COLOURS.keys())]
        text = ", ".join(f"{counts[s]} {s}" for s in order if s in counts) or "no assets defined"
        return text + (f"; {orphaned} {ORPHANED} (nbassets gc --orphans)" if orphaned else "")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        head = "".join(f"<th style='{_cell_style(c)}'>{escape(c)}</th>" for c in self.columns)
        assets, orphans = self.split()
        body = self._html_rows(assets)
        if orphans:
            title = f"<th colspan='{len(self.columns)}' style='text-align:left'>"
            body.append(f"<tr>{title}{escape(orphans_title(len(orphans)))}</th></tr>")
            body += self._html_rows(orphans)
        html = f"<table class='nbassets-status'><tr>{head}</tr>{''.join(body)}</table>"
        if self.rows:
            html += f"<div class='nbassets-status-summary'>{escape(self.summary())}</div>"
        if self.footer:
            lines = "<br>".join(escape(line) for line in self.footer.splitlines())
            html += f"<div class='nbassets-status-scope'>{lines}</div>"
        return {"text/plain": self.to_text(), "text/html": html}

    def _html_rows(self, rows: Sequence[AssetStatus]) -> list[str]:
        """One line per asset (no cell wraps); the build time compact, in full on hover."""
        html = []
        for row, cells in zip(rows, self.cells(rows), strict=True):
            styles = [_cell_style(c) for c in self.columns]
            styles[1] += f";color:{status_colour(row.status)}"
            tds = [
                f"<td style='{style}'>{escape(c)}</td>"
                for style, c in zip(styles, cells, strict=True)
            ]
            built = f"<td style='{styles[5]}' title='{escape(cells[5])}'>"
            tds[5] = built + f"{escape(compact_time(row.built_at))}</td>"
            html.append(f"<tr>{''.join(tds)}</tr>")
        return html


def _cell_style(column: str) -> str:
    """Inline (sanitizers drop ``<style>``): counts right-aligned, the rest left; no wrapping."""
    return f"text-align:{'right' if column == 'rows' else 'left'};white-space:nowrap"


def scope_note(
    others: int,
    everything: bool,
    show_all: str,
    forget: str,
    where: str = "this sandbox and prod",
) -> str:
    """The line under a table scoped to one notebook, about the ``others`` rows outside it.

    Scoped: how many ``where`` holds besides and ``show_all``, the command that lists them;
    with ``--all`` (``everything``): how many are listed and ``forget``, the command that
    drops a scratch asset. Empty when there are none.
    """
    if not others:
        return ""
    if everything:
        return (
            f"{plural(others, 'asset')} from other notebooks or scratch: "
            f"`{forget}` drops a scratch asset from this sandbox"
        )
    return (
        f"{plural(others, 'more asset')} from other notebooks or scratch in {where}: "
        f"`{show_all}` lists them"
    )


def orphans_title(count: int) -> str:
    """The line over the orphans: ``orphaned: 2 assets no notebook or module ... defines``."""
    return (
        f"{ORPHANED}: {plural(count, 'asset')} no notebook or module of the project defines "
        "any more (nbassets gc --orphans)"
    )


class CheckReport:
    """The results of ``%%check`` or ``%check``: one line per check; the asset named with the
    partition checked (``events[2024-01-09]``) when the version checked is one partition's."""

    def __init__(self, results: Sequence[CheckResult], partition: str = "") -> None:
        self.results = list(results)
        self.partition = partition

    def to_text(self) -> str:
        lines = (check_line(r, self.partition) for r in self.results)
        return "\n".join(lines) or "no checks defined"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = []
        for r in self.results:
            colour = OUTCOME_COLOURS[r.outcome]
            rows.append(
                f"<tr><td style='color:{colour};font-weight:bold'>{escape(r.outcome.upper())}</td>"
                f"<td>{escape(_asset(r.key, self.partition))}</td><td>{escape(r.name)}</td>"
                f"<td>{escape(r.error or r.message)}</td></tr>"
            )
        body = "".join(rows) or "<tr><td>no checks defined</td></tr>"
        return {"text/plain": self.to_text(), "text/html": f"<table>{body}</table>"}


def check_line(result: CheckResult, partition: str = "") -> str:
    """``FAIL  orders: not_null('id')  (3 rows with nulls)``; ``partition``, the partition
    of the version checked: ``PASS  events[2024-01-09]: not_null('id')``."""
    detail = result.error or result.message
    return f"{result.outcome.upper():5} {_asset(result.key, partition)}: {result.name}" + (
        f"  ({detail})" if detail else ""
    )


def _asset(key: str, partition: str) -> str:
    return f"{key}[{partition}]" if partition else key


class KeyValues:
    """``%nbassets``: a small table of facts."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts

    def to_text(self) -> str:
        return "\n".join(aligned([(k, _fact(v)) for k, v in self.facts.items()]))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(_fact(v))}</td></tr>"
            for k, v in self.facts.items()
        )
        return {"text/plain": self.to_text(), "text/html": f"<table>{rows}</table>"}


def short_time(stamp: str | None) -> str:
    """``2026-11-28 06:12:01Z`` from an ISO 8601 UTC timestamp."""
    return "" if not stamp else stamp[:19].replace("T", " ") + "Z"


def _fact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)
