"""The outcome of one data check on one asset version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR, WARN = "error", "warn"
SEVERITIES = (ERROR, WARN)
SAMPLE_ROWS = 5  # failing rows kept with a result, by rules and check cells alike


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
