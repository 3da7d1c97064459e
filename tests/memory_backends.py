"""In-memory implementations of the catalog and data-storage interfaces, for the contract tests.

They are written from the protocols' contracts (``nbassets.store.catalog.Catalog``,
``nbassets.store.storage.DataStorage``), not from the SQLite catalog or the local folder, so
passing the same tests shows the core depends on the interfaces only. ``MemoryStorage``
models an object store: its bytes live elsewhere (a dict), and readers get local files
from a read-through cache keyed by data version and verified by hash.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from nbassets.errors import AssetNotFound, ReadOnlyError
from nbassets.store.catalog import (
    PAGE,
    Catalog,
    Failure,
    Forget,
    Head,
    Incident,
    IncidentKey,
    JournalEntry,
    Materialization,
    RecordedCheck,
)
from nbassets.store.results import CheckResult, TestResult
from nbassets.store.storage import DataStorage, Sink, StoredFile, VersionCache, data_version_of
from nbassets.store.stores import Store

_HEX = re.compile(r"^[0-9a-fA-F]{1,64}$")


def _json_round_trip(value: Any, **options: Any) -> Any:
    """What a catalog that stores JSON gives back (a fresh object, odd values as text)."""
    return json.loads(json.dumps(value, **options))


@dataclass
class IncidentRow:
    """One alert incident (the SQLite catalog's ``incidents`` row): open while ``closed_at`` is None."""

    env: str
    key: str
    kind: str
    message: str
    opened_at: str
    closed_at: str | None = None


@dataclass
class CatalogTables:
    """The rows of one in-memory catalog, shared by every view opened on it."""

    materializations: list[Materialization] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    checks: list[tuple[int, str, CheckResult]] = field(default_factory=list)  # (id, env, result)
    forgets: list[Forget] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    incidents: list[IncidentRow] = field(default_factory=list)
    seq: int = 0  # the last number of the one sequence of materializations, failures, forgets

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def forgot(self) -> dict[str, int]:
        """Key -> seq of its latest forget."""
        return {f.key: f.seq for f in self.forgets}  # in seq order: the last one wins


class MemoryCatalog:
    """A catalog held in lists: ids are list positions + 1, so latest = last appended; one
    counter numbers materializations, failures and forgets (``seq``)."""

    def __init__(
        self,
        *,
        writable: bool,
        tables: CatalogTables | None = None,
        location: str = "memory://catalog",
    ) -> None:
        self.writable = writable
        self.tables = CatalogTables() if tables is None else tables
        self.location = location

    def ready(self) -> None:
        pass  # memory is always ready to record

    def close(self) -> None:
        pass

    # writes
    def _require_writable(self) -> None:
        if not self.writable:
            raise ReadOnlyError(f"catalog {self.location} is open read-only")

    def record(self, m: Materialization) -> Materialization:
        self._require_writable()
        rows = self.tables.materializations
        stored = replace(
            m,
            id=len(rows) + 1,
            seq=self.tables.next_seq(),
            inputs=_json_round_trip(m.inputs, sort_keys=True),
            schema=None if m.schema is None else _json_round_trip(m.schema),
        )
        rows.append(stored)
        return _copy(stored)

    def record_failure(self, f: Failure) -> None:
        self._require_writable()
        failures = self.tables.failures
        failures.append(replace(f, id=len(failures) + 1, seq=self.tables.next_seq()))

    def forget(self, key: str, env: str, user: str | None, at: str) -> None:
        self._require_writable()
        forgets = self.tables.forgets
        forgets.append(Forget(key, env, user, at, self.tables.next_seq(), len(forgets) + 1))

    def record_checks(self, results: Iterable[CheckResult], env: str) -> None:
        self._require_writable()
        rows = [
            replace(r, sample=_json_round_trip(r.sample, default=str), passed=bool(r.passed))
            for r in results
        ]  # all prepared first: either every result is recorded or none
        start = len(self.tables.checks) + 1
        self.tables.checks.extend((start + i, env, r) for i, r in enumerate(rows))

    def record_tests(self, results: Iterable[TestResult]) -> None:
        self._require_writable()
        start = len(self.tables.tests) + 1
        self.tables.tests.extend(replace(r, id=start + i) for i, r in enumerate(results))

    def record_incidents(
        self,
        env: str,
        opened: Mapping[IncidentKey, str],
        closed: Iterable[IncidentKey],
        at: str,
    ) -> None:
        self._require_writable()
        closing = set(closed)
        for row in self.tables.incidents:
            if row.env == env and row.closed_at is None and (row.key, row.kind) in closing:
                row.closed_at = at
        self.tables.incidents.extend(
            IncidentRow(env, key, kind, message, at) for (key, kind), message in opened.items()
        )

    def copy_incidents(self, incidents: Iterable[Incident]) -> None:
        self._require_writable()
        self.tables.incidents.extend(
            IncidentRow(i.env, i.key, i.kind, i.message, i.opened_at, i.closed_at)
            for i in incidents
        )

    # the whole catalog, in order and paged
    def journal(self, after_seq: int = 0, limit: int = PAGE) -> list[JournalEntry]:
        entries: list[JournalEntry] = [
            *(_copy(m) for m in self.tables.materializations),
            *(replace(f) for f in self.tables.failures),
            *self.tables.forgets,
        ]
        later = sorted((e for e in entries if (e.seq or 0) > after_seq), key=lambda e: e.seq or 0)
        return later[:limit]

    def all_check_results(self, after_id: int = 0, limit: int = PAGE) -> list[RecordedCheck]:
        return [
            RecordedCheck(id_, env, replace(r, sample=_json_round_trip(r.sample)))
            for id_, env, r in self.tables.checks
            if id_ > after_id
        ][:limit]

    def all_test_results(self, after_id: int = 0, limit: int = PAGE) -> list[TestResult]:
        return [replace(r) for r in self.tables.tests if (r.id or 0) > after_id][:limit]

    def incidents(self) -> list[Incident]:
        return [
            Incident(row.env, row.key, row.kind, row.message, row.opened_at, row.closed_at, i + 1)
            for i, row in enumerate(self.tables.incidents)
        ]

    # reads
    def open_incidents(self, env: str) -> dict[IncidentKey, str]:
        return {
            (row.key, row.kind): row.message
            for row in self.tables.incidents
            if row.env == env and row.closed_at is None
        }

    def test_results(self, keys: Iterable[str] | None = None) -> list[TestResult]:
        wanted = None if keys is None else set(keys)
        latest = {
            (r.key, r.name, r.code_version): r
            for r in self.tables.tests
            if wanted is None or r.key in wanted
        }  # later results overwrite earlier ones
        return sorted(latest.values(), key=lambda r: r.id or 0)

    def check_results(self, key: str, data_version: str) -> list[CheckResult]:
        return self._latest_checks(lambda r: r.key == key and r.data_version == data_version)

    def versions_check_results(self, data_versions: Iterable[str]) -> list[CheckResult]:
        wanted = set(data_versions)
        return self._latest_checks(lambda r: r.data_version in wanted)

    def _latest_checks(self, keep: Callable[[CheckResult], bool]) -> list[CheckResult]:
        latest: dict[tuple[str, str, str], tuple[int, CheckResult]] = {}
        for id_, _env, r in self.tables.checks:
            if keep(r):
                latest[(r.data_version, r.key, r.name)] = (id_, r)  # later ids overwrite
        return [
            replace(r, sample=_json_round_trip(r.sample))
            for _, r in sorted(latest.values(), key=lambda item: item[0])
        ]

    def latest(self, keys: Iterable[str] | None = None) -> dict[str, Materialization]:
        wanted = None if keys is None else set(keys)
        found: dict[str, Materialization] = {}
        for m in self.tables.materializations:  # in id order: the last one of a key wins
            if wanted is None or m.key in wanted:
                found[m.key] = m
        forgot = self.tables.forgot()
        return {key: _copy(m) for key, m in found.items() if _after(m.seq, forgot.get(key))}

    def heads(self) -> dict[str, Head]:
        return {key: Head.of(m) for key, m in self.latest().items()}

    def latest_of(self, key: str) -> Materialization | None:
        return self.latest([key]).get(key)

    def partition_heads(self, keys: Iterable[str] | None = None) -> dict[str, dict[str, Head]]:
        wanted = None if keys is None else set(keys)
        forgot = self.tables.forgot()
        found: dict[str, dict[str, Materialization]] = {}
        for m in self.tables.materializations:  # in id order: the last one of a partition wins
            if (wanted is None or m.key in wanted) and _after(m.seq, forgot.get(m.key)):
                found.setdefault(m.key, {})[m.partition] = m
        return {
            key: {partition: Head.of(_copy(m)) for partition, m in sorted(parts.items())}
            for key, parts in sorted(found.items())
        }

    def partition_records(self, key: str) -> dict[str, Materialization]:
        forgot = self.tables.forgot()
        found: dict[str, Materialization] = {}
        for m in self.tables.materializations:  # in id order: the last one of a partition wins
            if m.key == key and _after(m.seq, forgot.get(m.key)):
                found[m.partition] = m
        return {partition: _copy(m) for partition, m in sorted(found.items())}

    def version(self, key: str, data_version: str) -> Materialization | None:
        if not _HEX.match(data_version):
            return None
        prefix = data_version.lower()
        for m in reversed(self.tables.materializations):
            if m.key == key and m.data_version.lower().startswith(prefix):
                return _copy(m)
        return None

    def history(self, key: str, limit: int = 50) -> list[Materialization]:
        newest_first = [m for m in reversed(self.tables.materializations) if m.key == key]
        return [_copy(m) for m in newest_first[:limit]]

    def failure_history(self, key: str, limit: int = 50) -> list[Failure]:
        return [replace(f) for f in reversed(self.tables.failures) if f.key == key][:limit]

    def last_failures(self) -> dict[str, Failure]:
        latest = {f.key: f for f in self.tables.failures}  # in id order: the last one wins
        forgot = self.tables.forgot()
        return {key: f for key, f in latest.items() if _after(f.seq, forgot.get(key))}

    def partition_failures(self, keys: Iterable[str]) -> dict[str, dict[str, Failure]]:
        wanted, forgot = set(keys), self.tables.forgot()
        found: dict[str, dict[str, Failure]] = {}
        for f in self.tables.failures:  # in id order: the last one of a partition wins
            if f.key in wanted and _after(f.seq, forgot.get(f.key)):
                found.setdefault(f.key, {})[f.partition] = f
        return found

    def keys(self) -> set[str]:
        return set(self.latest()) | set(self.last_failures())

    def forgotten_before(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for record in [*self.tables.materializations, *self.tables.failures]:
            last[record.key] = max(last.get(record.key, 0), record.seq or 0)
        return {key: seq for key, seq in self.tables.forgot().items() if seq > last.get(key, 0)}


def _after(seq: int | None, forgot: int | None) -> bool:
    """Whether a record numbered ``seq`` came after its key's latest forget (if any)."""
    return forgot is None or (seq or 0) > forgot


def _copy(m: Materialization) -> Materialization:
    """A record the caller may change without changing the catalog."""
    return replace(
        m,
        inputs={k: dict(v) for k, v in m.inputs.items()},
        schema=None if m.schema is None else dict(m.schema),
    )


class MemoryStorage:
    """Version files as bytes in a dict (a stand-in for an object store).

    ``local_file`` hands out ``<cache>/<data_version>.<ext>``, fetched from the dict on a
    miss and re-verified by hash on every hit (:class:`nbassets.store.storage.VersionCache`).
    """

    def __init__(
        self,
        cache: Path,
        *,
        blobs: dict[str, bytes] | None = None,
        location: str = "memory://storage",
    ) -> None:
        self.blobs: dict[str, bytes] = {} if blobs is None else blobs
        self.cache = VersionCache(cache)
        self.location = location

    def put(
        self, folder: str, extension: str, write: Callable[[Sink], None], large: bool = False
    ) -> StoredFile:
        if large:  # the writer wants a path: a scratch file, uploaded when complete
            with tempfile.TemporaryDirectory(prefix="nbassets-upload-") as scratch:
                path = Path(scratch) / f"value.{extension}"
                write(path)
                data = path.read_bytes()
        else:
            sink = io.BytesIO()
            write(sink)
            data = sink.getvalue()
        data_version = data_version_of(data)
        relative = f"data/{folder}/{data_version}.{extension}"
        self.blobs.setdefault(relative, data)  # the same bytes are stored already
        return StoredFile(data_version, relative, len(data))

    def local_file(self, relative: str, data_version: str) -> Path:
        data = self.blobs.get(relative)
        if data is None:
            raise AssetNotFound(
                f"the file of data version {data_version[:12]} is missing: "
                f"{self.location}/{relative}"
            )

        def download(file: BinaryIO) -> None:
            file.write(data)

        extension = PurePosixPath(relative).suffix.removeprefix(".")
        return self.cache.file(data_version, extension, download)

    def exists(self, relative: str) -> bool:
        return relative in self.blobs

    def sizes(self, relatives: Iterable[str]) -> dict[str, int | None]:
        blobs = self.blobs
        return {r: (len(blobs[r]) if r in blobs else None) for r in relatives}

    def remove(self, relative: str) -> bool:
        return self.blobs.pop(relative, None) is not None

    def sweep_temporary_files(self) -> int:
        return 0  # a write is one assignment: nothing is left half-done

    def close(self) -> None:
        pass


class MemoryBackends:
    """A store opener over memory: stores opened at one root share their catalog and bytes.

    One cache folder serves every store: entries are keyed by data version, and equal
    data versions are equal bytes whichever store holds them.
    """

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.catalogs: dict[Path, CatalogTables] = {}
        self.blobs: dict[Path, dict[str, bytes]] = {}

    def __call__(self, env: str, root: Path, *, writable: bool) -> Store:
        catalog: Catalog = MemoryCatalog(
            writable=writable,
            tables=self.catalogs.setdefault(root, CatalogTables()),
            location=f"memory://{root}/catalog",
        )
        storage: DataStorage = MemoryStorage(
            self.cache, blobs=self.blobs.setdefault(root, {}), location=f"memory://{root}"
        )
        return Store(env, root, writable=writable, storage=storage, catalog=catalog)
