"""How unit-test outcomes are shown (``%%test``, ``%test``): text/plain and escaped text/html.

A passing test is one line; a failing one (an expectation did not hold) or one that raised
something else is its line, then what went wrong: a frame difference as its lines, or the
assertion's message or the error. Colours and badges are the check badges' (``palette``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ..kernel_testing import TestRun
from ..store.results import ERROR, FAILED, PASSED, TestResult
from ..testing import FrameMismatch
from .palette import OUTCOME_BADGES, OUTCOME_COLOURS
from .preview import human_seconds

_BADGE = {PASSED: "pass", FAILED: "fail", ERROR: "error"}  # the palette's outcome names
_MARK = {PASSED: "✓", FAILED: "✗", ERROR: "✗"}
_VERB = {PASSED: "passed", FAILED: "failed", ERROR: "raised an error"}


def headline(result: TestResult) -> str:
    """``✓ test drops_refunds of orders passed in 3.1 ms``."""
    return (
        f"{_MARK[result.outcome]} test {result.name} of {result.key} {_VERB[result.outcome]} "
        f"in {human_seconds(result.seconds)}"
    )


def details(result: TestResult, raised: BaseException | None = None) -> list[str]:
    """What went wrong, as lines: a frame difference line by line, else the message."""
    if result.passed:
        return []
    if isinstance(raised, FrameMismatch):
        return ["the frames differ:", *raised.differences]
    return result.message.splitlines() or ["(no message)"]


class TestReport:
    """The outcomes of one ``%%test`` cell or one ``%test``: a line per test, details below
    each one that did not pass."""

    __test__ = False  # not a pytest test class

    def __init__(self, runs: Sequence[TestRun]) -> None:
        self.runs = list(runs)

    def to_text(self) -> str:
        lines: list[str] = []
        for run in self.runs:
            lines.append(headline(run.result))
            lines += [f"    {line}" for line in details(run.result, run.raised)]
        return "\n".join(lines) or "no tests"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        blocks = "".join(_html(run) for run in self.runs) or "<div>no tests</div>"
        return {"text/plain": self.to_text(), "text/html": f"<div>{blocks}</div>"}


def _html(run: TestRun) -> str:
    result = run.result
    outcome = _BADGE[result.outcome]
    background, border = OUTCOME_BADGES[outcome]
    badge = (
        f"<span style='display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;"
        f"background:{background};border:1px solid {border}'>{outcome}</span>"
    )
    title = escape(headline(result).partition(" ")[2])
    head = f"<div>{badge} <span style='color:{OUTCOME_COLOURS[outcome]}'>{title}</span></div>"
    lines = details(result, run.raised)
    if not lines:
        return head
    text = escape("\n".join(lines))
    return f"{head}<pre style='margin:2px 0 6px 1.5em;white-space:pre-wrap'>{text}</pre>"
