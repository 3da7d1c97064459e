"""One asset's partitions built in worker processes (``nbassets materialize -j N``).

Partitions of one asset never read each other, so the batch hands a key's partitions to a
:class:`PartitionPool` at once. Each worker is a fresh (spawned) interpreter that loads the
exported package and opens the env's stores once, then runs the same :func:`~nbassets.build.build`
as a one-process run, under the grant the parent was given (the policy was asked there). Each
build records itself in the catalog (SQLite takes writers from many processes), so what the
parent learns is only the outcome. Workers ignore Ctrl-C: the parent stops handing out
partitions and waits for the ones being built, so none is left half-built or built twice.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import ModuleType

from .build import BuildOutcome, BuildTask, build, describe_error, upstream_partitions
from .checks.runner import CheckRun
from .config import Project
from .package import Package, load_package
from .policy import WriteGrant
from .store.workspace import ResolvedInput, Workspace


class PartitionPool:
    """``jobs`` worker processes that build partitions of the package's assets into ``env``."""

    def __init__(self, project: Project, env: str, grant: WriteGrant, jobs: int, hint: str):
        self._pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(project, env, grant, hint),
        )

    def build(self, key: str, partitions: Iterable[str]) -> Iterator[BuildOutcome]:
        """Build ``key``'s ``partitions``; outcomes in the order they finish."""
        with plain_main():  # the workers start with the first submit
            pending: set[Future[BuildOutcome]] = {
                self._pool.submit(_build, key, partition) for partition in partitions
            }
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:  # Ctrl-C: no new partition starts; the running ones finish
            for future in pending:
                future.cancel()
            wait(pending)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def plain_main() -> Iterator[None]:
    """An empty ``__main__`` while workers spawn: a spawned worker re-imports the parent's
    ``__main__``, which need not be importable (IPython's, a console script's) and has
    nothing a worker needs."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@dataclass
class _Worker:
    workspace: Workspace
    package: Package
    grant: WriteGrant
    hint: str
    tasks: dict[str, tuple[BuildTask, dict[str, dict[str, ResolvedInput]]]]


_WORKER: _Worker | None = None


def _start(project: Project, env: str, grant: WriteGrant, hint: str) -> None:
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _WORKER = _Worker(Workspace(project, env), load_package(project), grant, hint, {})


def _build(key: str, partition: str) -> BuildOutcome:
    worker = _WORKER
    assert worker is not None, "a worker process is started by PartitionPool"
    if key not in worker.tasks:  # a key's partitions come together, after its upstreams
        task = worker.package.task(key)
        worker.tasks = {key: (task, upstream_partitions(worker.workspace, task))}
    task, upstream = worker.tasks[key]
    outcome = build(
        worker.workspace, task, worker.grant, None, worker.hint, partition, upstream=upstream
    )
    return _portable(outcome)


def _portable(outcome: BuildOutcome) -> BuildOutcome:
    """The outcome without what cannot cross processes (the value, open stores); an
    exception that does not pickle becomes a RuntimeError with its text."""
    checks = outcome.checks
    return replace(
        outcome,
        inputs=(),
        value=None,
        error=_picklable(outcome.error),
        checks=CheckRun(checks.results, _picklable(checks.raised)),
    )


def _picklable(error: BaseException | None) -> BaseException | None:
    if error is None:
        return None
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(describe_error(error))
    return error
