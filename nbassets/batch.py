"""Building a selection of assets in dependency order, under one blocking rule, into one report.

``%materialize`` and ``nbassets materialize`` both run :func:`build_in_order`: an asset
downstream of a failed build or of a failed error-severity check is skipped (DESIGN §3),
everything else still builds, and the :class:`MaterializeReport` says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .build import BuildOutcome
from .store.results import CheckResult

#: told after each key of a run: (key, how many are done, how many in all); edges draw a bar
Progress = Callable[[str, int, int], None]


@dataclass
class MaterializeReport:
    """What one ``materialize`` did, for the magic and the CLI to present."""

    env: str
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key -> "Type: message"
    errors: dict[str, BaseException] = field(default_factory=dict)  # key -> the exception
    skipped: list[str] = field(default_factory=list)  # downstream of a failure
    check_failed: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.check_failed)

    def add(self, outcome: BuildOutcome) -> None:
        """Count one build's outcome."""
        if outcome.error is not None:
            self.failed[outcome.key] = outcome.error_text
            self.errors[outcome.key] = outcome.error
            return
        self.checks += outcome.checks.results
        if outcome.checks.blocking:
            self.check_failed.append(outcome.key)
        else:
            self.built.append(outcome.key)


def build_in_order(
    env: str,
    keys: Iterable[str],
    deps: Mapping[str, Iterable[str]],
    build_one: Callable[[str], BuildOutcome],
    progress: Progress | None = None,
) -> MaterializeReport:
    """Build ``keys`` (in build order) with ``build_one``; skip what a failure blocks."""
    report = MaterializeReport(env)
    blocked: set[str] = set()
    ordered = list(keys)
    for done, key in enumerate(ordered, 1):
        if any(dep in blocked for dep in deps.get(key, ())):
            report.skipped.append(key)
            blocked.add(key)
        else:
            outcome = build_one(key)
            report.add(outcome)
            if outcome.error is not None or outcome.checks.blocking:
                blocked.add(key)
        if progress:
            progress(key, done, len(ordered))
    return report
