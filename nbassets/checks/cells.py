"""``%%check`` cells: their declaration, and how a check's outcome is read from its value.

A check passes when its code raises nothing and its last value is truthy (or
absent), or is an empty DataFrame/Series of failing rows. An
``AssertionError`` is a failed check; any other exception is an error in the
check itself, reported as such rather than as bad data.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import DependencyError, SpecError, did_you_mean
from ..jsonvalues import jsonable
from ..source import CellAnalysis, analyze_check_body
from ..spec import MagicLineParser, validate_key
from ..store.results import ERROR, SAMPLE_ROWS, SEVERITIES, CheckResult
from ..text import plural, shorten


@dataclass(frozen=True)
class CheckCell:
    """A ``%%check NAME`` cell: the asset it checks, its name, severity, body and inputs."""

    asset: str
    name: str
    severity: str
    body: str
    analysis: CellAnalysis
    deps: tuple[str, ...]

    @property
    def function_name(self) -> str:
        return f"check_{self.asset}"


def check_parser() -> argparse.ArgumentParser:
    """The ``%%check`` line's grammar; its help is the magic's help."""
    parser = MagicLineParser(
        prog="%%check",
        description="A data check of asset NAME: passes when the cell raises nothing and its "
        "last value is truthy (or absent), or is an empty frame of failing rows. An "
        "error-severity failure marks the asset check-failed and stops Run All.",
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument("name", help="the asset this cell checks")
    parser.add_argument("--name", dest="check_name", metavar="CHECK", help="the check's name")
    parser.add_argument("--severity", choices=SEVERITIES, default=ERROR)
    return parser


_PARSER = check_parser()


@dataclass(frozen=True)
class CheckLine:
    """What a ``%%check`` line says: the asset checked, the check's name (if given), severity."""

    asset: str
    name: str | None
    severity: str


def parse_check_line(line: str) -> CheckLine:
    """Parse the text after ``%%check``; the asset must be a valid key."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise SpecError(f"%%check {line.strip()}: {exc} (check the quotes).") from exc
    if not words:
        raise SpecError("%%check needs the asset it checks: %%check NAME [--name CHECK]")
    args = _PARSER.parse_args(words)
    return CheckLine(validate_key(args.name), args.check_name, args.severity)


def define_check(line: str, body: str, known_keys: Iterable[str]) -> CheckCell:
    """Parse a ``%%check`` cell; its inputs are the asset keys its body reads, plus NAME."""
    parsed = parse_check_line(line)
    asset = parsed.asset
    known = set(known_keys)
    if asset not in known:
        raise DependencyError(
            f"%%check {asset}: no asset {asset!r} is known.{did_you_mean(asset, known)} "
            "Run its %%asset cell first."
        )
    analysis = analyze_check_body(asset, body)
    name = parsed.name or f"check_{hashlib.sha256(analysis.normalized.encode()).hexdigest()[:6]}"
    if not name.strip() or len(name) > 100:
        raise SpecError(f"%%check --name {name!r}: give a short, non-empty name.")
    deps = tuple(dict.fromkeys([asset, *sorted(analysis.free_names & known)]))
    return CheckCell(asset, name, parsed.severity, body, analysis, deps)


class NamedCheck(Protocol):
    """What running a check needs to know of it (a ``CheckCell`` or an exported check)."""

    @property
    def asset(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def severity(self) -> str: ...


def run_check(
    check: NamedCheck, function: Callable[..., Any], arguments: dict[str, Any], data_version: str
) -> tuple[CheckResult, BaseException | None]:
    """Run a check cell's function; return its result and the unrelated exception, if any."""
    start = time.perf_counter()
    raised: BaseException | None = None
    try:
        passed, failing, sample, message = read_outcome(function(**arguments))
        error = None
    except AssertionError as exc:
        passed, failing, sample, error = False, None, [], None
        message = assertion_text(exc)
    except Exception as exc:
        passed, failing, sample, message = False, None, [], ""
        error, raised = f"{type(exc).__name__}: {exc}", exc
    result = CheckResult(
        key=check.asset,
        name=check.name,
        severity=check.severity,
        passed=passed,
        data_version=data_version,
        failing_rows=failing,
        sample=sample,
        message=message,
        error=error,
        seconds=time.perf_counter() - start,
    )
    return result, raised


def read_outcome(value: Any) -> tuple[bool, int | None, list[dict[str, Any]], str]:
    """``(passed, failing rows, sample, message)`` from a check's last value."""
    module = type(value).__module__.split(".")[0]
    if module in ("pandas", "polars") and type(value).__name__ in ("DataFrame", "Series"):
        count = len(value)
        if not count:
            return True, 0, [], ""
        return False, count, _sample(value, module), plural(count, "failing row")
    if value is None or bool(value):
        return True, None, [], ""
    return False, None, [], f"the check's value is {shorten(repr(value))}"


def _sample(value: Any, module: str) -> list[dict[str, Any]]:
    head = value.head(SAMPLE_ROWS)
    if module == "polars":
        frame = head.to_frame() if type(head).__name__ == "Series" else head
        rows = frame.to_dicts()
    else:
        frame = head.to_frame() if type(head).__name__ == "Series" else head
        rows = frame.reset_index().to_dict("records")
    return [{str(k): jsonable(v) for k, v in row.items()} for row in rows]


def assertion_text(exc: AssertionError) -> str:
    """A failed expectation in words: its message, else the ``assert`` line that failed."""
    if str(exc):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    if last is None or not last.line:
        return "assertion failed"
    return f"assertion failed: {last.line}"
