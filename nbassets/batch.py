"""Building a selection of assets in dependency order, under one blocking rule, into one report.

``%materialize`` and ``nbassets materialize`` both run :func:`build_in_order` over
:class:`Step` s: an asset, or one partition of a partitioned asset. A step downstream of a
failed build or of a failed error-severity check is skipped (DESIGN §3): for a partitioned
reader, only the partitions that read a failed upstream partition. Everything else still
builds, and the :class:`MaterializeReport` says what happened. Consecutive steps of one key
(its partitions, which never read each other) go to the runner together, so a runner may
build them in parallel; a partition that is already fresh is left alone (a backfill resumes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby

from .build import BuildOutcome
from .partitions import ALL, PartitionMapping
from .store.results import CheckResult

#: told after each step of a run: (label, how many are done, how many in all); edges draw a bar
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Step:
    """One build of a run: ``key``, or its ``partition`` when it is partitioned."""

    key: str
    partition: str = ""

    @property
    def label(self) -> str:
        """``orders``, or ``orders[2024-01-03]``."""
        return f"{self.key}[{self.partition}]" if self.partition else self.key


#: builds one key's steps (its partitions, or the one unpartitioned step), yielding outcomes
Runner = Callable[[list[Step]], Iterator[tuple[Step, BuildOutcome]]]
#: the steps of one key that are fresh already and need no build (a resumed backfill)
FreshFilter = Callable[[list[Step]], set[Step]]


@dataclass
class MaterializeReport:
    """What one ``materialize`` did, for the magic and the CLI to present (steps by label)."""

    env: str
    built: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # label -> "Type: message"
    errors: dict[str, BaseException] = field(default_factory=dict)  # label -> the exception
    skipped: list[str] = field(default_factory=list)  # downstream of a failure
    check_failed: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)  # partitions fresh already: not rebuilt

    @property
    def ok(self) -> bool:
        return not (self.failed or self.check_failed)

    def add(self, outcome: BuildOutcome) -> None:
        """Count one build's outcome."""
        label = Step(outcome.key, outcome.partition).label
        if outcome.error is not None:
            self.failed[label] = outcome.error_text
            self.errors[label] = outcome.error
            return
        self.checks += outcome.checks.results
        if outcome.checks.blocking:
            self.check_failed.append(label)
        else:
            self.built.append(label)


def build_in_order(
    env: str,
    steps: Iterable[Step | str],
    deps: Mapping[str, Iterable[str]],
    build_one: Callable[[Step], BuildOutcome] | None = None,
    progress: Progress | None = None,
    *,
    mappings: Mapping[str, Mapping[str, PartitionMapping]] | None = None,
    runner: Runner | None = None,
    fresh: FreshFilter | None = None,
) -> MaterializeReport:
    """Build ``steps`` (in build order) with ``build_one`` (or ``runner``, a key's steps at
    once); skip what a failure blocks, and (``fresh``) what needs no build.

    ``mappings`` (key -> dep -> how a partition of key reads dep) narrow the blocking to the
    partitions that read a failed one; without one, any failure of a dep blocks every step.
    """
    if runner is None:
        assert build_one is not None, "build_in_order needs build_one or runner"
        one = build_one
        runner = lambda group: ((step, one(step)) for step in group)  # noqa: E731
    report = MaterializeReport(env)
    failed: dict[str, set[str]] = {}  # key -> its failed (or blocked) partitions ("" if whole)
    ordered = [Step(step) if isinstance(step, str) else step for step in steps]
    done = 0

    def tick(step: Step) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(step.label, done, len(ordered))

    for key, grouped in groupby(ordered, key=lambda step: step.key):
        group = list(grouped)
        reads = (mappings or {}).get(key, {})
        blocked = [s for s in group if _blocked(s, deps.get(key, ()), failed, reads)]
        for step in blocked:
            report.skipped.append(step.label)
            failed.setdefault(key, set()).add(step.partition)
            tick(step)
        todo = [step for step in group if step not in set(blocked)]
        skip = fresh(todo) if fresh and todo else set()
        for step in [s for s in todo if s in skip]:
            report.fresh.append(step.label)
            tick(step)
        building = [step for step in todo if step not in skip]
        for step, outcome in runner(building) if building else ():
            report.add(outcome)
            if outcome.error is not None or outcome.checks.blocking:
                failed.setdefault(key, set()).add(step.partition)
            tick(step)
    return report


def _blocked(
    step: Step,
    deps: Iterable[str],
    failed: Mapping[str, set[str]],
    reads: Mapping[str, PartitionMapping],
) -> bool:
    """Whether ``step`` reads a partition (or a whole asset) that failed or was skipped."""
    for dep in deps:
        bad = failed.get(dep)
        if not bad:
            continue
        mapping = reads.get(dep)
        if mapping is None or mapping.kind == "whole" or not step.partition:
            return True  # read whole, or all of its partitions
        wanted = mapping.upstream_keys(step.partition)
        if wanted is ALL or bad.intersection(wanted):
            return True
    return False
