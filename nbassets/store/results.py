"""Outcomes a catalog records beside builds: data checks of versions, unit tests of code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR, WARN = "error", "warn"
SEVERITIES = (ERROR, WARN)
SAMPLE_ROWS = 5  # failing rows kept with a result, by rules and check cells alike
PASSED, FAILED = "passed", "failed"  # and ERROR: a test's outcomes
TEST_OUTCOMES = (PASSED, FAILED, ERROR)


@dataclass(frozen=True)
class CheckResult:
    """One check run against one data version of an asset.

    ``passed`` is false when the data failed the check; ``error`` is set (and
    ``passed`` false) when the check itself raised something other than a
    failed expectation. ``failing_rows`` counts the offending rows where that
    means something, and ``sample`` holds a few of them.
    """

    key: str
    name: str
    severity: str
    passed: bool
    data_version: str = ""
    failing_rows: int | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    error: str | None = None
    seconds: float = 0.0
    checked_at: str = ""

    @property
    def blocking(self) -> bool:
        """A failed (or broken) error-severity check: the asset is check-failed."""
        return not self.passed and self.severity == ERROR

    @property
    def outcome(self) -> str:
        """``pass``, ``fail``, ``warn`` (a failed warn-severity check) or ``error``."""
        if self.error is not None:
            return "error"
        if self.passed:
            return "pass"
        return "fail" if self.severity == ERROR else "warn"


@dataclass(frozen=True)
class TestResult:
    """One run of one unit test (a ``%%test`` cell, or its exported pytest test) of an asset's code.

    ``outcome`` is ``passed``, ``failed`` (an expectation did not hold: an ``AssertionError``)
    or ``error`` (the test or the asset's code raised something else). ``code_version`` is the
    asset's code the test ran, so a result counts only while that code is current.
    """

    __test__ = False  # not a pytest test class

    key: str
    name: str
    code_version: str
    outcome: str
    message: str = ""
    source: str | None = None  # the test cell (``notebooks/x.ipynb :: key :: name``) or test id
    at: str = ""  # ISO 8601, UTC
    env: str = ""  # the env whose catalog recorded it
    seconds: float = 0.0
    user: str | None = None
    test_version: str = ""  # the test's own code (its normalized body; "" when unknown)
    id: int | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED
