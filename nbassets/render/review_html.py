"""The review report as one self-contained HTML page.

One file, no scripts, no external resource of any kind (no link, font, image or URL): the CSS
is inline and fonts are the system's, so the page opens offline, from a CI artifact or a mail
attachment, and tells no server it was read. Every text is escaped; the markup is well-formed
(it parses as XML too), and a strict HTML5 parser accepts it. Code diffs of changed assets are
open; data samples and column summaries are drawn as ``%diff`` draws them.
"""

from __future__ import annotations

from html import escape

from ..diff import DataDiff
from ..provenance import KEEP, Plan
from ..review import CHANGED, DOWNSTREAM, NEW, REMOVED, AssetReview, Review
from ..store.results import CheckResult, TestResult
from .diffview import summary_line
from .diffview import to_html as diff_html
from .palette import AMBER, BACKGROUND, GREEN, GREY, LINE, OUTCOME_COLOURS, RED, TEXT
from .review import code_stats, code_versions, headline, readers_text, version_line
from .review_md import data_facts

MAX_CODE_LINES = 2_000  # lines of one code diff shown
_TITLES = {
    CHANGED: "Code changes",
    NEW: "New assets",
    DOWNSTREAM: "Downstream of a change",
    REMOVED: "Removed assets",
}
_MARKS = {"pass": "✓", "passed": "✓", "warn": "!", "fail": "✗", "failed": "✗", "error": "✗"}
_TEST_COLOURS = {"passed": GREEN, "failed": RED, "error": RED}

_CSS = f"""
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: {TEXT}; background: {BACKGROUND}; margin: 0 auto; max-width: 1100px; padding: 16px; }}
h1 {{ font-size: 22px; margin: 0 0 8px; }}
h2 {{ font-size: 18px; border-bottom: 1px solid {LINE}; padding-bottom: 4px; margin-top: 28px; }}
h3 {{ font-size: 16px; margin: 0 0 6px; }}
h4 {{ font-size: 14px; margin: 12px 0 4px; }}
h3 code {{ font-size: 16px; }}
code, pre, .nbassets-diff {{ font-family: ui-monospace, SFMono-Regular, Menlo, Consolas,
  monospace; font-size: 12px; }}
section.asset {{ border: 1px solid {LINE}; border-radius: 6px; padding: 12px 14px;
  margin: 12px 0; }}
.badge {{ font-size: 12px; font-weight: normal; border-radius: 10px; padding: 1px 8px;
  border: 1px solid {LINE}; color: {GREY}; margin-left: 6px; }}
.change-code-changed .badge, .change-new .badge {{ color: {AMBER}; border-color: {AMBER}; }}
.change-removed .badge {{ color: {RED}; border-color: {RED}; }}
.muted {{ color: {GREY}; }}
pre.diff {{ background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 8px; overflow-x: auto; margin: 4px 0; }}
pre.diff .add {{ color: {GREEN}; background: #e6ffec; }}
pre.diff .del {{ color: {RED}; background: #ffebe9; }}
pre.diff .hunk {{ color: {GREY}; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 2px 10px 2px 0; vertical-align: top; text-align: left; }}
table.plan td, table.plan th {{ border-bottom: 1px solid #d0d7de; padding: 3px 12px 3px 0; }}
ul {{ margin: 4px 0; padding-left: 20px; }}
nav a {{ margin-right: 10px; }}
summary {{ cursor: pointer; color: {GREY}; }}
"""


def to_html(review: Review) -> str:
    """The report as one self-contained page (see the module)."""
    title = f"nbassets report: {review.env} against {review.against}"
    body = [f"<h1>{escape(title)}</h1>", "<ul class='summary'>"]
    body += [f"<li>{escape(part)}</li>" for part in headline(review)]
    body += ["</ul>", f"<p class='muted'>code: {escape(review.code_origin)}</p>"]
    if review.assets:
        links = " ".join(
            f"<a href='#asset-{a.key}'>{escape(a.key)}</a>" for a in review.assets
        )  # keys are identifiers: safe in an id
        body.append(f"<nav>{links}</nav>")
    for change in (CHANGED, NEW, DOWNSTREAM, REMOVED):
        assets = review.of(change)
        if assets:
            body.append(f"<h2>{escape(_TITLES[change])}</h2>")
            body += [_asset(a, review) for a in assets]
    body.append(_plan(review.plan, review.orphaned, len(review.unchanged)))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8"/>',
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
            f"<title>{escape(title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _asset(a: AssetReview, review: Review) -> str:
    css = "change-" + a.change.replace(" ", "-")
    parts = [
        f"<section class='asset {css}' id='asset-{a.key}' data-key='{a.key}' "
        f"data-change='{escape(a.change)}'>",
        f"<h3><code>{escape(a.key)}</code><span class='badge'>{escape(a.change)}</span></h3>",
        f"<p class='muted'>{escape(a.reason)}</p>",
        "<ul class='versions'>",
        f"<li>{escape(version_line(a.old, review.against))}</li>",
    ]
    if a.change != REMOVED:
        parts.append(f"<li>{escape(version_line(a.new, review.env))}</li>")
    parts.append("</ul>")
    if a.code is not None:
        parts += _code(a)
    if a.change == REMOVED:
        parts.append(f"<p>{escape(a.data_note)}</p>")
    else:
        parts += _data(a)
        parts += ["<h4>Checks</h4>", _checks(a.checks), "<h4>Tests</h4>", _tests(a)]
    parts.append("</section>")
    return "\n".join(parts)


def _code(a: AssetReview) -> list[str]:
    code = a.code
    assert code is not None
    versions = code_versions(code)
    if code.diff is None:
        return [f"<h4>Code</h4><p>{escape(versions)}: no code diff, {escape(code.note)}</p>"]
    added, removed = code_stats(code.diff)
    lines = code.diff.splitlines()
    shown = [_diff_line(line) for line in lines[:MAX_CODE_LINES]]
    if len(lines) > MAX_CODE_LINES:
        shown.append(f"<span class='hunk'>... {len(lines) - MAX_CODE_LINES:,} more lines</span>")
    note = f"<p class='muted'>{escape(code.note)}</p>" if code.note else ""
    summary = f"code diff: +{added} -{removed} lines, {versions}"
    return [
        "<h4>Code</h4>",
        f"<details open='open'><summary>{escape(summary)}</summary>",
        f"<pre class='diff'>{chr(10).join(shown)}</pre>",
        "</details>",
        note,
    ]


def _diff_line(line: str) -> str:
    if line.startswith(("+++", "---", "@@")):
        css = "hunk"
    elif line.startswith("+"):
        css = "add"
    elif line.startswith("-"):
        css = "del"
    else:
        return escape(line)
    return f"<span class='{css}'>{escape(line)}</span>"


def _data(a: AssetReview) -> list[str]:
    d = a.data
    parts = ["<h4>Data</h4>"]
    if d is None:
        return [*parts, f"<p>{escape(a.data_note)}</p>"]
    note = f" <span class='muted'>({escape(a.data_note)})</span>" if a.data_note else ""
    parts.append(f"<p class='data-summary'><b>{escape(summary_line(d))}</b>{note}</p>")
    if isinstance(d, DataDiff):
        parts.append("<ul class='data-facts'>")
        parts += [f"<li>{escape(fact)}</li>" for fact in data_facts(d)]
        parts.append("</ul>")
    parts += [
        "<details open='open'><summary>column summaries and sample rows</summary>",
        diff_html(d),
        "</details>",
    ]
    return parts


def _checks(results: tuple[CheckResult, ...]) -> str:
    if not results:
        return "<p class='muted'>none recorded</p>"
    items = []
    for r in results:
        detail = r.error or r.message
        items.append(
            f"<li class='check outcome-{r.outcome}'>"
            f"<span style='color:{OUTCOME_COLOURS[r.outcome]};font-weight:bold'>"
            f"{_MARKS[r.outcome]} {escape(r.outcome)}</span> <code>{escape(r.name)}</code>"
            + (f" <span class='muted'>{escape(detail)}</span>" if detail else "")
            + "</li>"
        )
    return "<ul class='checks'>" + "".join(items) + "</ul>"


def _tests(a: AssetReview) -> str:
    version = escape((a.test_code_version or "none")[:12])
    if not a.tests:
        return f"<p class='muted'>none recorded for code version {version}</p>"
    return (
        f"<p class='muted'>code version {version}</p><ul class='tests'>"
        + "".join(_test(t) for t in a.tests)
        + "</ul>"
    )


def _test(t: TestResult) -> str:
    colour = _TEST_COLOURS.get(t.outcome, GREY)
    detail = (
        f" <span class='muted'>{escape(t.message)}</span>" if t.message and not t.passed else ""
    )
    mark = _MARKS.get(t.outcome, "?")
    return (
        f"<li class='test outcome-{escape(t.outcome)}'><span style='color:{colour};"
        f"font-weight:bold'>{mark} {escape(t.outcome)}</span> <code>{escape(t.name)}</code>"
        f"{detail}</li>"
    )


def _plan(plan: Plan, orphaned: tuple[str, ...], unchanged: int) -> str:
    parts = [f"<h2 id='plan'>What a deploy to {escape(plan.env)} rebuilds</h2>"]
    moving = [s for s in plan.steps if s.action != KEEP]
    if moving:
        rows = "".join(
            f"<tr><td><code>{escape(s.key)}</code></td><td>{escape(s.action)}</td>"
            f"<td>{escape(s.reason)}</td></tr>"
            for s in moving
        )
        parts.append(
            "<table class='plan'><thead><tr><th>asset</th><th>action</th><th>reason</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    else:
        parts.append("<p>Nothing: every asset is fresh there.</p>")
    fresh = len(plan.of(KEEP))
    parts.append(
        f"<p class='muted'>{fresh:,} fresh, kept; {unchanged:,} unchanged by this change.</p>"
    )
    if plan.drift:
        rows = "".join(
            f"<tr><td><code>{escape(d.key)}</code></td>"
            f"<td>{escape(', '.join(f'{c} {t}' for c, t in d.added.items()))}</td>"
            f"<td>{escape(', '.join(f'{c} {t}' for c, t in d.removed.items()))}</td>"
            f"<td>{escape(', '.join(f'{c} {o} -> {n}' for c, (o, n) in d.retyped.items()))}"
            f"</td><td>{escape(readers_text(d.readers))}</td></tr>"
            for d in plan.drift
        )
        parts += [
            f"<h4>Schema drift of {escape(str(plan.against))} against {escape(plan.env)}</h4>",
            "<table class='plan'><thead><tr><th>asset</th><th>added</th><th>removed</th>"
            f"<th>retyped</th><th>read by</th></tr></thead><tbody>{rows}</tbody></table>",
        ]
    if orphaned:
        parts.append(
            f"<p>Orphaned in {escape(plan.env)} (no code defines them; never rebuilt, "
            f"<code>nbassets gc --orphans</code> lists their files): "
            f"{escape(', '.join(orphaned))}</p>"
        )
    return "\n".join(parts)
