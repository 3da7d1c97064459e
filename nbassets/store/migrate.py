"""A store copied with all its history onto another storage and catalog (``migrate-store``).

What is copied: every record of the source's catalog in the order it was recorded (the journal
of materializations, failures and forgets in ``seq`` order, so "latest" and forgets mean the same
in the target; check and unit-test results in id order; alert incidents, open and closed, with
their times), and the version file each materialization names. Each file is hashed before it is
written, and the target's :meth:`~nbassets.store.storage.DataStorage.put` names it by the hash
of the bytes it stored, so a file that is not its recorded version is refused, naming the
record. A record is written only after its file is in place.

Re-runnable and resumable: the target's records must be the beginning of the source's, compared
record by record (all fields but ids and ``seq``, which the target numbers itself in the same
order); those are recognised and skipped, the rest copied. A file already in the target (same
name, so same bytes, and the recorded size) is not copied again. A target holding records that
are not the source's is refused. The source is opened read-only and never changes.
"""

from __future__ import annotations

import functools
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import TypeVar

from ..errors import StorageError
from .catalog import PAGE, Failure, Incident, JournalEntry, Materialization, RecordedCheck
from .results import TestResult
from .storage import Sink, StoredFile, file_data_version
from .stores import LARGE_WRITE_BYTES, Store

BUILDS, FAILURES, FORGETS = "builds", "failures", "forgets"
CHECKS, TESTS, INCIDENTS = "check results", "test results", "incidents"
KINDS = (BUILDS, FAILURES, FORGETS, CHECKS, TESTS, INCIDENTS)
_KIND = {"Materialization": BUILDS, "Failure": FAILURES, "Forget": FORGETS}
T = TypeVar("T")


@dataclass
class Migration:
    """What one run of a migration did (it grows while the run goes on)."""

    objects: int = 0  # version files copied into the target
    bytes: int = 0  # their size
    present: int = 0  # files the target held already: not copied again
    missing: list[str] = field(default_factory=list)  # versions whose file the source lacks
    written: Counter[str] = field(default_factory=Counter)  # records written, per kind
    recognised: Counter[str] = field(default_factory=Counter)  # records the target held already
    closed: int = 0  # incidents copied open earlier, closed in the source since: closed now

    @property
    def records(self) -> int:
        return sum(self.written.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "objects": self.objects,
            "bytes": self.bytes,
            "objects_present": self.present,
            "objects_missing": list(self.missing),
            "records_written": self.records,
            "records_present": sum(self.recognised.values()),
            "written": {kind: self.written[kind] for kind in KINDS},
            "present": {kind: self.recognised[kind] for kind in KINDS},
            "incidents_closed": self.closed,
        }


Progress = Callable[[Migration], None]


def migrate(
    source: Store,
    target: Store,
    progress: Progress | None = None,
    page: int = PAGE,
    workers: int = 1,
) -> Migration:
    """Copy ``source`` (open read-only) into ``target`` (open for writing), or resume a copy.

    ``progress(run)`` is called after each file copied and each record written. ``workers``
    files are copied at once (for a remote target: uploads wait on the network); each record
    still waits for its own file.
    """
    if source.writable or not target.writable:
        raise StorageError("a migration reads a read-only source store into a writable target")
    run = Migration()
    report = progress or (lambda run: None)
    _copy_journal(source, target, run, report, page, workers)
    _copy_checks(source, target, run, report, page)
    _copy_tests(source, target, run, report, page)
    _copy_incidents(source, target, run, report)
    return run


# --- the journal and the files -----------------------------------------------------------------


def _copy_journal(
    source: Store, target: Store, run: Migration, report: Progress, page: int, workers: int
) -> None:
    copied = _pages(lambda after, n: target.catalog.journal(after, n), lambda e: e.seq, page)
    placed: set[str] = set()  # files in the target, seen in this run
    pool = ThreadPoolExecutor(workers, "nbassets-migrate") if workers > 1 else None
    try:
        after = 0
        while entries := source.catalog.journal(after, page):
            after = entries[-1].seq or 0
            todo = [e for e in entries if not _recognised(e, next(copied, None), target, run)]
            copies = _copies(source, target, todo, placed, run, pool)
            for entry in todo:
                if isinstance(entry, Materialization):
                    if entry.path in copies:  # in place before its record is written
                        stored = copies.pop(entry.path)()
                        run.objects += 1
                        run.bytes += stored.bytes
                        report(run)
                    target.catalog.record(replace(entry, id=None, seq=None))
                elif isinstance(entry, Failure):
                    target.catalog.record_failure(entry)
                else:
                    target.catalog.forget(entry.key, entry.env, entry.user, entry.at)
                run.written[_KIND[type(entry).__name__]] += 1
                report(run)
    finally:
        if pool is not None:  # uploads under way finish; those not started never start
            pool.shutdown(wait=True, cancel_futures=True)
    _refuse_extra(next(copied, None), target, "builds, failures or forgets")


def _recognised(
    entry: JournalEntry, copied: JournalEntry | None, target: Store, run: Migration
) -> bool:
    """Whether the target's record at this place is ``entry`` (None: the target ends before)."""
    if copied is None:
        return False
    if type(copied) is not type(entry) or replace(copied, id=None, seq=None) != replace(
        entry, id=None, seq=None
    ):
        raise _foreign(target, _describe(copied), _describe(entry))
    run.recognised[_KIND[type(entry).__name__]] += 1
    return True


def _copies(
    source: Store,
    target: Store,
    todo: list[JournalEntry],
    placed: set[str],
    run: Migration,
    pool: ThreadPoolExecutor | None,
) -> dict[str, Callable[[], StoredFile]]:
    """Path -> how to wait for the copy of that file, for the files of ``todo``'s builds that
    the target lacks: started now on ``pool`` (else copied when waited for). Files the target
    holds already, or the source no longer holds, are counted and left out."""
    first = {e.path: e for e in reversed(todo) if isinstance(e, Materialization)}
    paths = sorted(set(first) - placed)
    placed.update(paths)
    in_target = target.storage.sizes(paths) if paths else {}
    in_source = source.storage.sizes(paths) if paths else {}
    copies: dict[str, Callable[[], StoredFile]] = {}
    for path in sorted(paths, key=lambda p: first[p].seq or 0):
        m, size = first[path], in_target.get(path)
        if size == m.bytes:
            run.present += 1
        elif size is not None:
            raise StorageError(
                f"{_label(m)}: the target holds {target.storage.location}/{m.path} with "
                f"{size:,} bytes, but the record says {m.bytes:,}: it is not this version. "
                "Remove that file from the target and run again."
            )
        elif in_source.get(path) is None:  # gc removed it: its record is history, copied alone
            partition = f"[{m.partition}]" if m.partition else ""
            run.missing.append(f"{m.key}{partition} {m.data_version}")
        elif pool is None:
            copies[path] = functools.partial(_copy_file, source, target, m)
        else:
            copies[path] = pool.submit(_copy_file, source, target, m).result
    return copies


def _copy_file(source: Store, target: Store, m: Materialization) -> StoredFile:
    """The file of ``m``, hashed, then put in the target under the name of its hash."""
    local = _source_file(source, m)
    got = file_data_version(local)[1]
    if got != m.data_version:
        raise _damaged(source, m, got)
    folder, extension = _folder(m)

    def write(sink: Sink) -> None:
        if isinstance(sink, Path):
            shutil.copyfile(local, sink)
        else:
            with open(local, "rb") as file:
                shutil.copyfileobj(file, sink, 8 * 1024 * 1024)

    stored = target.storage.put(folder, extension, write, large=m.bytes >= LARGE_WRITE_BYTES)
    if stored.data_version != m.data_version or stored.path != m.path:
        raise _damaged(source, m, stored.data_version)
    return stored


def _source_file(source: Store, m: Materialization) -> Path:
    try:
        return source.storage.local_file(m.path, m.data_version)
    except StorageError as exc:  # a remote object that is not its version
        raise StorageError(f"{_label(m)} cannot be copied: {exc}") from None


def _folder(m: Materialization) -> tuple[str, str]:
    """``data/<folder>/<data_version>.<ext>`` -> (folder, ext), or refused."""
    path = PurePosixPath(m.path)
    if path.parts[:1] != ("data",) or len(path.parts) < 3 or path.stem != m.data_version:
        raise StorageError(
            f"{_label(m)} names the file {m.path!r}, not data/<key>/<data version>.<ext>: "
            "it cannot be copied under its content-addressed name."
        )
    return str(path.parent.relative_to("data")), path.suffix.removeprefix(".")


def _damaged(source: Store, m: Materialization, got: str) -> StorageError:
    return StorageError(
        f"{_label(m)}: its file {source.storage.location}/{m.path} hashes to {got[:12]}, not to "
        "its data version: the source's file is damaged, and it was not copied (the records "
        "before it were). Check the source (`nbassets doctor`), rebuild or remove that version, "
        "then run again: the copy resumes there."
    )


def _label(m: Materialization) -> str:
    partition = f"[{m.partition}]" if m.partition else ""
    return f"the record of {m.key}{partition} version {m.data_version[:12]} (seq {m.seq})"


# --- results and incidents ---------------------------------------------------------------------


def _copy_checks(source: Store, target: Store, run: Migration, report: Progress, page: int) -> None:
    copied = _pages(lambda after, n: target.catalog.all_check_results(after, n), _id, page)
    after = 0
    while rows := source.catalog.all_check_results(after, page):
        after = rows[-1].id
        todo = [r for r in rows if not _same(r, next(copied, None), target, run, CHECKS)]
        for env, group in groupby(todo, key=lambda r: r.env):  # a transaction per env's run
            batch = [r.result for r in group]
            target.catalog.record_checks(batch, env)
            run.written[CHECKS] += len(batch)
            report(run)
    _refuse_extra(next(copied, None), target, CHECKS)


def _copy_tests(source: Store, target: Store, run: Migration, report: Progress, page: int) -> None:
    copied = _pages(lambda after, n: target.catalog.all_test_results(after, n), _id, page)
    after = 0
    while rows := source.catalog.all_test_results(after, page):
        after = rows[-1].id or 0
        todo = [r for r in rows if not _same(r, next(copied, None), target, run, TESTS)]
        if todo:
            target.catalog.record_tests(todo)
            run.written[TESTS] += len(todo)
            report(run)
    _refuse_extra(next(copied, None), target, TESTS)


def _copy_incidents(source: Store, target: Store, run: Migration, report: Progress) -> None:
    theirs = target.catalog.incidents()
    ours = source.catalog.incidents()
    for mine, copied in zip(ours, theirs, strict=False):
        if replace(copied, id=None, closed_at=None) != replace(mine, id=None, closed_at=None):
            raise _foreign(target, _describe(copied), _describe(mine))
        run.recognised[INCIDENTS] += 1
        if copied.closed_at is None and mine.closed_at is not None:  # closed since it was copied
            target.catalog.record_incidents(mine.env, {}, [(mine.key, mine.kind)], mine.closed_at)
            run.closed += 1
    _refuse_extra(theirs[len(ours)] if len(theirs) > len(ours) else None, target, INCIDENTS)
    if len(ours) > len(theirs):
        target.catalog.copy_incidents(ours[len(theirs) :])
        run.written[INCIDENTS] += len(ours) - len(theirs)
        report(run)


def _same(
    mine: RecordedCheck | TestResult,
    copied: RecordedCheck | TestResult | None,
    target: Store,
    run: Migration,
    kind: str,
) -> bool:
    if copied is None:
        return False
    if replace(copied, id=0) != replace(mine, id=0):
        raise _foreign(target, _describe(copied), _describe(mine))
    run.recognised[kind] += 1
    return True


# --- helpers -----------------------------------------------------------------------------------


def _pages(
    read: Callable[[int, int], Sequence[T]], number: Callable[[T], int | None], page: int
) -> Iterator[T]:
    """Every row ``read(after, limit)`` gives, page after page, until a short page."""
    after = 0
    while True:
        rows = read(after, page)
        yield from rows
        if len(rows) < page:
            return
        after = number(rows[-1]) or 0


def _id(row: RecordedCheck | TestResult) -> int | None:
    return row.id


def _refuse_extra(extra: object | None, target: Store, what: str) -> None:
    if extra is not None:
        raise _foreign(target, _describe(extra), f"nothing (it has no more {what})")


def _foreign(target: Store, theirs: str, ours: str) -> StorageError:
    return StorageError(
        f"the target catalog {target.catalog.location} holds records that are not this store's: "
        f"it has {theirs} where the source has {ours}. migrate-store copies into an empty "
        "catalog or resumes its own copy: choose an empty target (another --to folder or "
        "--catalog database)."
    )


def _describe(row: object) -> str:
    if isinstance(row, Materialization):
        return f"the build of {row.key} version {row.data_version[:12]} at {row.finished_at}"
    if isinstance(row, RecordedCheck):
        return f"the check result {row.result.name} of {row.result.key} at {row.result.checked_at}"
    if isinstance(row, TestResult):
        return f"the test result {row.name} of {row.key} at {row.at}"
    if isinstance(row, Incident):
        return f"the incident {row.kind} of {row.key} in {row.env} opened at {row.opened_at}"
    kind = type(row).__name__.lower()
    key, at = getattr(row, "key", "?"), getattr(row, "finished_at", getattr(row, "at", "?"))
    return f"a {kind} of {key} at {at}"
