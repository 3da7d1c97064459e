"""Building and checking a kernel's cells through the shared operations.

A cell becomes a :class:`~nbassets.build.BuildTask` (its body compiled as a function over
the notebook's namespace) or a :class:`~nbassets.checks.runner.CheckTask`; the production
policy is asked on every build (a kernel writes only its sandbox); ``%materialize`` runs
the kernel's cells through the same loop as ``nbassets materialize``; ``%forget`` drops an
asset from the sandbox through the same operation as ``nbassets forget``. Free of IPython.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .batch import MaterializeReport, Progress, build_in_order
from .build import BuildOutcome, BuildTask, build, read_mappings
from .checks.cells import CheckCell, define_check
from .checks.runner import CheckRun, CheckTask, run_checks
from .definitions import AssetDefinition
from .diff import DataDiff
from .environments import current_user
from .errors import ProductionWriteError, UnknownName
from .exporter import asset_function_text
from .graph import AssetGraph
from .kernel_views import current_version, versus_prod
from .model import env_model
from .notebookfile import CHECK, magic_cell
from .partitions import RESERVED_KEY
from .policy import KERNEL as KERNEL_COMMAND
from .policy import authorize
from .runtime import sql_asset
from .session import Session
from .source import compile_function
from .spec import AssetSpec
from .status import FRESH
from .store.catalog import Materialization
from .store.gc import Forgotten, only_in
from .store.gc import forget as forget_key
from .store.results import CheckResult
from .store.workspace import KERNEL, ResolvedInput

_MISSING_HINT = "run the cell of {dep!r} first (or `%materialize +{key}`)"


@dataclass(frozen=True)
class BuildResult:
    """A successful build: its record, the inputs it read, the value, and how long it took."""

    record: Materialization
    inputs: tuple[ResolvedInput, ...]
    value: Any
    seconds: float
    spec: AssetSpec
    downstream: tuple[str, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    check_error: BaseException | None = None  # a check cell raised something unrelated
    versus_prod: DataDiff | str | None = None  # production's version: its diff, or a line


def run_cell(session: Session, line: str, body: str, filename: str = "<asset>") -> BuildResult:
    """Declare, register and build one ``%%asset`` cell."""
    definition = session.declare(line, body)
    session.cells[definition.key] = definition
    session.run_at[definition.key] = time.time()
    return build_cell(session, definition, filename)


def build_cell(
    session: Session, definition: AssetDefinition, filename: str = "<asset>"
) -> BuildResult:
    """Run ``definition`` on its resolved inputs and store the value in the sandbox.

    The user's exception propagates with its traceback once its failure is recorded.
    """
    outcome = _build(session, definition, filename)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.record is not None
    built = ResolvedInput(definition.key, outcome.record, KERNEL, session.workspace.own)
    downstream = AssetGraph({k: d.deps for k, d in session.definitions().items()}).downstream
    return BuildResult(
        outcome.record,
        outcome.inputs,
        outcome.value,
        outcome.seconds,
        definition.spec,
        tuple(sorted(downstream.get(definition.key, ()))),
        outcome.checks.results,
        outcome.checks.raised,
        versus_prod(session.workspace, built, definition.spec.key_columns),
    )


def select(session: Session, selection: str | None, stale: bool) -> list[str]:
    """The kernel's asset cells a ``%materialize`` selection names, in build order."""
    if not session.cells:
        raise UnknownName(
            "no asset cells have run in this kernel yet: run an %%asset cell first; "
            "%materialize re-runs the asset cells of this kernel."
        )
    graph = AssetGraph({key: d.deps for key, d in session.cells.items()})
    chosen = graph.select(selection) if selection else graph.order()
    chosen = [key for key in chosen if key in session.cells]
    if stale:
        rows = env_model(session.workspace, session.code(), session.built).rows
        status = {row.key: row.status for row in rows}
        chosen = [key for key in chosen if status.get(key) != FRESH]
    return chosen


def materialize(
    session: Session,
    keys: list[str],
    filename: Callable[[AssetDefinition], str] = lambda d: f"<asset {d.key}>",
    progress: Progress | None = None,
) -> MaterializeReport:
    """``%materialize``: build the kernel's cells ``keys`` in order, as the CLI does (a
    partitioned cell builds its ``--partition-key``, else its latest complete partition).

    Downstream of a failed build or of a failed error-severity check is skipped.
    """
    deps = {key: d.deps for key, d in session.cells.items()}
    return build_in_order(
        session.env,
        keys,
        deps,
        lambda step: _build(session, session.cells[step.key], filename(session.cells[step.key])),
        progress,
    )


def run_check_cell(session: Session, line: str, body: str, filename: str = "<check>") -> CheckRun:
    """Declare and register a ``%%check`` cell, then run it on its asset's current version."""
    parsed = magic_cell(CHECK, line, body)
    cell = define_check(parsed.line, parsed.body, session.known_keys())
    session.check_cells.setdefault(cell.asset, {})[cell.name] = cell
    target = current_version(session, cell.asset)
    grant = authorize(session.project, session.env, KERNEL_COMMAND)
    task = check_task(session, cell, filename)
    return run_checks(session.workspace, target, (), [task], grant, session.built)


def recheck(session: Session, key: str) -> CheckRun:
    """``%check NAME``: run NAME's checks again on its current version, without a rebuild."""
    target = current_version(session, key)
    definition = session.definitions().get(key)
    rules = definition.spec.checks if definition is not None else ()
    tasks = [check_task(session, cell) for cell in session.check_cells.get(key, {}).values()]
    grant = authorize(session.project, session.env, KERNEL_COMMAND)
    return run_checks(session.workspace, target, rules, tasks, grant, session.built)


def forget(session: Session, key: str) -> Forgotten:
    """``%forget NAME``: drop ``key`` from the kernel's sandbox, and the kernel's own state of it.

    Never production: a key only production holds, or a sandbox that resolves into
    production, is refused with the command that does it from a terminal.
    """
    workspace, env = session.workspace, session.env
    prod_hint = (
        f" To drop {key!r} from production, run `nbassets forget {key} --env prod` in a "
        f"terminal, on a clean {session.project.config.main_branch}."
    )
    if workspace.own is not workspace.prod and only_in(workspace.prod, workspace.own, key):
        raise ProductionWriteError(
            f"asset {key!r} is in production, not in sandbox {env!r}; a notebook never "
            f"changes production.{prod_hint}"
        )
    try:
        grant = authorize(session.project, env, KERNEL_COMMAND)
    except ProductionWriteError as exc:
        raise ProductionWriteError(f"{exc}{prod_hint}") from None
    forgotten = forget_key(workspace.writer(grant), key, current_user(), f"sandbox {env!r}")
    session.drop(key)
    return forgotten


def cell_task(session: Session, definition: AssetDefinition, filename: str) -> BuildTask:
    """A cell as the build operation runs it: its body compiled as a function (of its
    upstreams, and of ``partition`` when it is partitioned)."""
    spec = definition.spec
    if spec.sql:
        function: Callable[..., Any] = functools.partial(sql_asset, definition.key, definition.body)
    else:
        params = (*definition.deps, RESERVED_KEY) if spec.partitions else definition.deps
        function = compile_function(
            definition.key, definition.body, params, filename, session.namespace
        )
    definitions = session.definitions()
    upstream = {dep: definitions[dep].spec.partitions for dep in definition.deps
                if dep in definitions}  # fmt: skip
    cells = session.check_cells.get(definition.key, {}).values()
    return BuildTask(
        key=definition.key,
        deps=definition.deps,
        code_version=definition.code_version,
        function=function,
        source=_source_text(definition),
        io=definition.spec.io,
        sql=definition.spec.sql,
        rules=definition.spec.checks,
        checks=tuple(check_task(session, cell) for cell in cells),
        code=asset_function_text(definition),
        partitions=spec.partitions,
        mappings=read_mappings(definition.key, spec.partitions, upstream),
    )


def check_task(session: Session, cell: CheckCell, filename: str | None = None) -> CheckTask:
    """A ``%%check`` cell as the check runner runs it."""
    function = compile_function(
        cell.asset, cell.body, cell.deps, filename or f"<check {cell.name}>", session.namespace,
        cell.function_name,
    )  # fmt: skip
    return CheckTask(cell.asset, cell.name, cell.severity, cell.deps, function)


def _build(session: Session, definition: AssetDefinition, filename: str) -> BuildOutcome:
    """The shared build operation, on a kernel's cell; binds the value when it built."""
    grant = authorize(session.project, session.env, KERNEL_COMMAND)  # asked on every build
    task = cell_task(session, definition, filename)
    partitions, partition = definition.spec.partitions, ""
    if partitions is not None:  # --partition-key, else the latest complete partition
        partition = partitions.complete(definition.spec.partition_key or
                                        partitions.default_key()).key  # fmt: skip
    outcome = build(session.workspace, task, grant, session.built, _MISSING_HINT, partition)
    if outcome.record is not None:
        session.built[definition.key] = outcome.record
        session.namespace[definition.key] = outcome.value
    return outcome


def _source_text(definition: AssetDefinition) -> str:
    """``notebooks/x.ipynb#<cell id>``, or ``<notebook>::<key>`` when the cell id is unknown."""
    notebook = definition.notebook or "<kernel>"
    if definition.cell_id:
        return f"{notebook}#{definition.cell_id}"
    return f"{notebook}::{definition.key}"
