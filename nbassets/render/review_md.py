"""The review report as GitHub-flavoured markdown that fits a pull-request comment.

A comment holds at most 65,536 characters; the report keeps under :data:`LIMIT`. When the
whole report is longer, it is drawn again with fewer sample rows and shorter code diffs, then
without samples; if it still does not fit, the asset sections that fit are kept, in order,
and a last line says how many were left out and that ``--format html`` (or ``json``) shows
everything. Every cut is said where it happens.
"""

from __future__ import annotations

import dataclasses
import re

from ..diff import DataDiff, NewTable
from ..provenance import KEEP, Plan
from ..review import CHANGED, DOWNSTREAM, NEW, REMOVED, AssetReview, Review
from ..store.results import CheckResult, TestResult
from ..text import name_list, plural, shorten
from .diffview import summary_line, to_text
from .review import code_stats, code_versions, headline, readers_text, version_line

LIMIT = 60_000  # characters: GitHub's comment limit is 65,536, and a bot may add a line or two
_LEVELS = ((5, 300), (2, 60), (0, 15))  # (sample rows, code diff lines) tried in turn
MAX_PLAN_ROWS = 100
_CHECK_ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "❌"}
_TEST_ICONS = {"passed": "✅", "failed": "❌", "error": "❌"}
_SPECIAL = re.compile(r"([\\`*_\[\]~|#])")
_TITLES = {
    CHANGED: "Code changes",
    NEW: "New assets",
    DOWNSTREAM: "Downstream of a change",
    REMOVED: "Removed assets",
}


def to_markdown(review: Review, limit: int = LIMIT) -> str:
    """The report in at most ``limit`` characters (see the module for what is cut first)."""
    head = _head(review)
    tail = _plan(review.plan, review.orphaned, len(review.unchanged))
    text = ""
    for level, (samples, code_lines) in enumerate(_LEVELS):
        sections = _sections(review, samples, code_lines)
        shortened = [] if level == 0 else [_note(samples, code_lines)]
        text = "\n\n".join([head, *shortened, *sections, tail]) + "\n"
        if len(text) <= limit:
            return text
    note = _note(0, _LEVELS[-1][1])
    fixed = len("\n\n".join([head, note, _cut(review, len(sections)), tail])) + 1
    budget = limit - fixed
    kept: list[str] = []
    for section in sections:
        if len(section) + 2 > budget:
            break
        kept.append(section)
        budget -= len(section) + 2
    cut = _cut(review, len(sections) - len(kept))
    text = "\n\n".join([head, note, *kept, cut, tail]) + "\n"
    return text if len(text) <= limit else text[: limit - 2] + "…\n"


def _cut(review: Review, left: int) -> str:
    return (
        f"_… {plural(left, 'more asset section')} left out to fit a pull-request comment: "
        f"`nbassets report --env {review.env} --against {review.against} --format html` "
        "shows everything._"
    )


def _note(samples: int, code_lines: int) -> str:
    rows = f"at most {plural(samples, 'sample row')}" if samples else "no sample rows"
    return (
        f"_Shortened to fit a pull-request comment: {rows} per kind of change, code diffs cut "
        f"after {code_lines} lines; `--format html` or `--format json` has everything._"
    )


def _head(review: Review) -> str:
    lines = [f"## nbassets report: `{review.env}` against `{review.against}`", ""]
    lines += [f"- {md(part)}" for part in headline(review)]
    lines += ["", f"Code: {md(review.code_origin)}."]
    return "\n".join(lines)


def _sections(review: Review, samples: int, code_lines: int) -> list[str]:
    """One section per listed asset, each group (changed, new, downstream, removed) titled."""
    sections = []
    for change in (CHANGED, NEW, DOWNSTREAM, REMOVED):
        for i, asset in enumerate(review.of(change)):
            title = f"### {_TITLES[change]}\n\n" if i == 0 else ""
            sections.append(title + _asset(asset, review, samples, code_lines))
    return sections


def _asset(a: AssetReview, review: Review, samples: int, code_lines: int) -> str:
    lines = [f"#### `{a.key}`: {md(a.change)}", "", md(a.reason) + "  "]
    lines.append(md(version_line(a.old, review.against)) + "  ")
    if a.change != REMOVED:
        lines.append(md(version_line(a.new, review.env)))
    if a.code is not None:
        lines += ["", *_code(a, code_lines)]
    if a.change != REMOVED:
        lines += ["", *_data(a, samples), "", _checks(a.checks), _tests(a)]
    else:
        lines += ["", md(a.data_note)]
    return "\n".join(lines)


def _code(a: AssetReview, max_lines: int) -> list[str]:
    code = a.code
    assert code is not None
    versions = code_versions(code)
    if code.diff is None:
        return [f"{md(versions)}: no code diff, {md(code.note)}"]
    added, removed = code_stats(code.diff)
    lines = code.diff.splitlines()
    shown = lines[:max_lines]
    if len(lines) > max_lines:
        shown.append(f"... {len(lines) - max_lines:,} more lines")
    note = f" ({md(code.note)})" if code.note else ""
    return [
        f"<details><summary>code diff: +{added} -{removed} lines, {versions}</summary>{note}",
        "",
        *fenced("\n".join(shown), "diff"),
        "",
        "</details>",
    ]


def _data(a: AssetReview, samples: int) -> list[str]:
    d = a.data
    if d is None:
        return [f"**data**: {md(a.data_note)}"]
    lines = [f"**data**: {md(summary_line(d))}"]
    if a.data_note:
        lines[0] += f" ({md(a.data_note)})"
    if isinstance(d, DataDiff):
        lines += [f"- {md(fact)}" for fact in data_facts(d)]
    if samples:
        detail = _trimmed(d, samples)
        lines += [
            "",
            "<details><summary>column summaries and sample rows</summary>",
            "",
            *fenced(to_text(detail), "text"),
            "",
            "</details>",
        ]
    return lines


def data_facts(d: DataDiff) -> list[str]:
    """Rows on the key, columns added, removed and retyped, changes per column."""
    facts = [f"rows: {d.old_label} {d.old_rows:,}, {d.new_label} {d.new_rows:,}"]
    if d.key:
        facts.append(
            f"key ({', '.join(d.key)}): {d.added_rows or 0:,} added, {d.removed_rows or 0:,} "
            f"removed, {d.changed_rows or 0:,} changed, {d.unchanged_rows or 0:,} unchanged"
        )
    if d.added_columns:
        facts.append(f"columns added: {name_list(d.added_columns, 20)}")
    if d.removed_columns:
        facts.append(f"columns removed: {name_list(d.removed_columns, 20)}")
    if d.retyped_columns:
        retyped = [f"{n} {old} -> {new}" for n, old, new in d.retyped_columns]
        facts.append(f"columns retyped: {name_list(retyped, 20)}")
    by_column = [f"{name} {n:,}" for name, n in d.changed_by_column.items() if n]
    if by_column:
        facts.append(f"changed values by column: {name_list(by_column, 20)}")
    return facts


def _trimmed(d: DataDiff | NewTable, samples: int) -> DataDiff | NewTable:
    if isinstance(d, NewTable):
        return d
    return dataclasses.replace(
        d,
        added_sample=d.added_sample[:samples],
        removed_sample=d.removed_sample[:samples],
        changed_sample=d.changed_sample[:samples],
    )


def _checks(results: tuple[CheckResult, ...]) -> str:
    if not results:
        return "**checks**: none recorded  "
    parts = []
    for r in results:
        detail = r.error or r.message
        parts.append(
            f"{_CHECK_ICONS[r.outcome]} {r.outcome} {code_span(r.name)}"
            + (f" ({md(shorten(detail, 200))})" if detail else "")
        )
    return "**checks**: " + " · ".join(parts) + "  "


def _tests(a: AssetReview) -> str:
    version = (a.test_code_version or "none")[:12]
    if not a.tests:
        return f"**tests** (code {version}): none recorded"
    return f"**tests** (code {version}): " + " · ".join(_test(t) for t in a.tests)


def _test(t: TestResult) -> str:
    detail = f" ({md(shorten(t.message, 200))})" if t.message and not t.passed else ""
    return f"{_TEST_ICONS.get(t.outcome, '❔')} {t.outcome} {code_span(t.name)}{detail}"


def _plan(plan: Plan, orphaned: tuple[str, ...], unchanged: int) -> str:
    lines = [f"### What a deploy to {md(plan.env)} rebuilds", ""]
    moving = [s for s in plan.steps if s.action != KEEP]
    if moving:
        lines += ["| asset | action | reason |", "| --- | --- | --- |"]
        lines += [f"| `{s.key}` | {s.action} | {md(s.reason)} |" for s in moving[:MAX_PLAN_ROWS]]
        if len(moving) > MAX_PLAN_ROWS:
            lines.append(f"| … | {len(moving) - MAX_PLAN_ROWS:,} more | |")
    else:
        lines.append("Nothing: every asset is fresh there.")
    fresh = len(plan.of(KEEP))
    lines += ["", f"{plural(fresh, 'asset')} fresh, kept; {unchanged:,} unchanged by this change."]
    if plan.drift:
        lines += ["", f"Schema drift of `{plan.against}` against `{plan.env}`:", ""]
        lines += [
            "| asset | added | removed | retyped | read by |",
            "| --- | --- | --- | --- | --- |",
        ]
        for d in plan.drift[:MAX_PLAN_ROWS]:
            added = ", ".join(f"{c} {t}" for c, t in d.added.items())
            removed = ", ".join(f"{c} {t}" for c, t in d.removed.items())
            retyped = ", ".join(f"{c} {o} -> {n}" for c, (o, n) in d.retyped.items())
            read = md(readers_text(d.readers))
            lines.append(f"| `{d.key}` | {md(added)} | {md(removed)} | {md(retyped)} | {read} |")
    if orphaned:
        lines += [
            "",
            f"Orphaned in {md(plan.env)} (no code defines them; never rebuilt, "
            f"`nbassets gc --orphans` lists their files): {md(name_list(list(orphaned), 50))}",
        ]
    return "\n".join(lines)


# --- markdown text ------------------------------------------------------------------------------


def md(text: str) -> str:
    """``text`` as literal markdown on one line: markdown punctuation, ``&``, ``<`` (HTML) and
    a leading ``>`` (a quote) escaped."""
    text = " ".join(text.split())
    text = _SPECIAL.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;"))
    return "\\" + text if text.startswith(">") else text


def code_span(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds (on one line)."""
    text = " ".join(shorten(text, 200).split())
    ticks = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or ticks else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, language: str) -> list[str]:
    """A fenced code block of ``text``, its fence longer than any backtick run inside."""
    ticks = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, ticks + 1)
    return [f"{fence}{language}", text, fence]
