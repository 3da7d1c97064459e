"""What happened before: the records a store's catalog keeps, and the ``Catalog`` protocol.

A catalog is append-only: it records successful builds (:class:`Materialization`),
failed builds (:class:`Failure`), forgets (a key dropped from the store's view), check
results (:class:`~nbassets.store.results.CheckResult`) and unit-test results
(:class:`~nbassets.store.results.TestResult`), and never updates or deletes a row; the one
exception is an alert incident (:meth:`Catalog.record_incidents`), whose ``closed_at`` is set
when it clears.
Every materialization, failure and forget gets the next number of **one sequence**
(``seq``) shared by the three kinds, so the catalog itself says which of two records came
later, whatever the kind; a clock that steps back changes nothing (DESIGN §2). Within a
kind, "latest" is the highest id (ids grow with every insert, as ``seq`` does); check
results have ids only. Two builds within one clock tick, or on machines whose clocks
disagree, still have an order.

The core talks to a catalog only through :class:`Catalog`. Two implementations ship:
:class:`~nbassets.store.sqlite_catalog.SqliteCatalog` (``catalog.sqlite`` in the store folder,
the default, documented for users in docs/storage.md) and
:class:`~nbassets.store.postgres_catalog.PostgresCatalog` (production's ``prod_catalog`` on a
PostgreSQL server, shared by a team); the test suite runs the same contract tests against both
and an in-memory one. A catalog can also be read whole, in order and in pages (``journal``,
``all_check_results``, ``all_test_results``, ``incidents``): what ``nbassets migrate-store``
copies, in the order it was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, TypeGuard

from ..environments import PROD
from .results import CheckResult, TestResult

IncidentKey = tuple[str, str]  # an alert incident: (asset key, kind), kind check, build or late


@dataclass(frozen=True)
class Materialization:
    """One successful build of an asset, as recorded in a store's catalog."""

    key: str
    env: str
    data_version: str
    code_version: str
    path: str
    io: str
    kind: str
    bytes: int
    started_at: str
    finished_at: str
    partition: str = ""
    commit: str | None = None
    dirty: bool | None = None
    source: str | None = None
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: int | None = None
    schema: dict[str, str] | None = None
    user: str | None = None
    id: int | None = None
    seq: int | None = None  # its place in the catalog's one sequence (None: not read from one)
    code: str | None = None  # the asset function's source, as exported (None: not recorded)
    rollback_of: str | None = None  # set by `nbassets rollback`: the data version it replaced


class Head(NamedTuple):
    """The part of a materialization that status needs: cheap to load by the ten thousand."""

    key: str
    env: str
    data_version: str
    code_version: str
    inputs: dict[str, dict[str, str]]
    rows: int | None
    finished_at: str
    commit: str | None
    source: str | None
    path: str = ""  # the version file, relative to its store ("" when not known)
    bytes: int | None = None  # the recorded size of that file (None when not known)
    seq: int | None = None  # its place in its catalog's sequence (None when not known)

    @classmethod
    def of(cls, m: Materialization) -> Head:
        return cls(
            m.key,
            m.env,
            m.data_version,
            m.code_version,
            m.inputs,
            m.rows,
            m.finished_at,
            m.commit,
            m.source,
            m.path,
            m.bytes,
            m.seq,
        )


@dataclass(frozen=True)
class Failure:
    """One build of an asset that raised."""

    key: str
    env: str
    error: str
    started_at: str
    finished_at: str
    code_version: str | None = None
    source: str | None = None
    user: str | None = None
    partition: str = ""
    id: int | None = None
    seq: int | None = None  # its place in the catalog's one sequence (None: not read from one)


@dataclass(frozen=True)
class Forget:
    """One forget of a key (a tombstone: the key leaves the store's view, its history stays)."""

    key: str
    env: str
    user: str | None
    at: str  # ISO 8601, for people: the order is the sequence's
    seq: int | None = None
    id: int | None = None


JournalEntry = Materialization | Failure | Forget  # the records of the one sequence


@dataclass(frozen=True)
class RecordedCheck:
    """A check result as its catalog holds it: its id and the env that ran it."""

    id: int
    env: str
    result: CheckResult


@dataclass(frozen=True)
class Incident:
    """One alert incident: open while ``closed_at`` is None."""

    env: str
    key: str
    kind: str  # check, build or late
    message: str
    opened_at: str
    closed_at: str | None = None
    id: int | None = None


PAGE = 1000  # records per page of the whole-catalog reads


def failed_since(failure: Failure | None, record: Head | None) -> TypeGuard[Failure]:
    """Whether ``failure`` is the last thing that happened to its key, after ``record``.

    ``failure`` is a failure of the env's own store; ``record`` the version its key resolves
    to. Which came later is the catalog's order (``seq``), never the clocks. Production's
    version beside a failure of another env's store: two catalogs, no common order, and the
    failure is that env's latest word on the key, so it counts until the env builds the key.
    ``finished_at`` decides only when a record has no ``seq``: a catalog of schema 1 read
    read-only (nothing may migrate it), or a record made by hand.
    """
    if failure is None:
        return False
    if record is None or record.env == PROD != failure.env:
        return True
    if failure.seq is not None and record.seq is not None:
        return failure.seq > record.seq
    return failure.finished_at > record.finished_at


class Catalog(Protocol):
    """A store's record of builds, failures and check results.

    Contract, for every implementation:

    - **Order is insertion order.** Ids of materializations (and of failures, and of
      check results) increase with every insert; "latest" is the highest id, never
      the latest timestamp. Materializations, failures and forgets also share one
      sequence: each gets a ``seq`` higher than every record before it, of any kind
      (a catalog read before its schema has the sequence gives ``seq`` None).
    - **A forget hides a key, never its history.** After :meth:`forget` of a key,
      :meth:`latest`, :meth:`heads`, :meth:`latest_of`, :meth:`partition_heads`,
      :meth:`partition_records`, :meth:`last_failures` and :meth:`keys` do not report it,
      until a materialization or failure of that key is recorded after the forget, which
      brings it back with only what came after (a failure alone brings back the key and
      that failure, not the builds before the forget). :meth:`history`,
      :meth:`failure_history` and :meth:`version` still return every record.
    - **Read-only catalogs refuse writes** with :class:`~nbassets.errors.ReadOnlyError`
      (also a ``PermissionError``) and change nothing; reading a catalog that holds
      nothing yet gives empty answers.
    - **A writable catalog that cannot record says so on first use**, whatever the
      method: damaged (:class:`~nbassets.errors.CatalogDamagedError`), newer
      (:class:`~nbassets.errors.CatalogTooNew`), locked, on a read-only or full disk, or
      not permitted (the other :class:`~nbassets.errors.StorageError` subclasses). A
      store reads it before writing a data file, so a refusal leaves no file behind.
    - **What comes out is what went in**, as new objects: a recorded materialization
      reads back equal to the one :meth:`record` returned.
    - **Partitions** are recorded as given; "latest of a key" is the newest build of
      any of its partitions.
    - **"Latest" costs the keys and partitions, not the history.** :meth:`latest`,
      :meth:`heads`, :meth:`latest_of`, :meth:`partition_heads`, :meth:`last_failures`
      and :meth:`keys` stay flat as rebuilds pile up (the SQLite catalog reads them from
      ``heads`` tables its triggers keep in each insert's transaction).
    """

    @property
    def location(self) -> str:
        """Where the catalog lives (a file, a URL), for error messages."""
        ...

    @property
    def writable(self) -> bool:
        """Whether this catalog was opened for writing."""
        ...

    # writes
    def record(self, m: Materialization) -> Materialization:
        """Append one materialization atomically; return it with its new, highest id."""
        ...

    def record_failure(self, f: Failure) -> None:
        """Append one failed build."""
        ...

    def record_checks(self, results: Iterable[CheckResult], env: str) -> None:
        """Append check results (of any store's versions) all at once, run in ``env``."""
        ...

    def record_tests(self, results: Iterable[TestResult]) -> None:
        """Append unit-test results all at once (each names the env it ran in)."""
        ...

    def forget(self, key: str, env: str, user: str | None, at: str) -> None:
        """Append a tombstone: ``key`` is dropped from this store's view (its history stays).

        ``env`` and ``user`` say who forgot it, ``at`` when (ISO 8601, for people: the
        order is the sequence's).
        """
        ...

    # reads
    def check_results(self, key: str, data_version: str) -> list[CheckResult]:
        """The latest result of each check (by name) of one version of ``key``, oldest first."""
        ...

    def versions_check_results(self, data_versions: Iterable[str]) -> list[CheckResult]:
        """The latest result per (data version, key, check name) of the given versions."""
        ...

    def test_results(self, keys: Iterable[str] | None = None) -> list[TestResult]:
        """The latest result of each (key, test name, code version), oldest first; of the
        given keys only, unless ``keys`` is None. Forgets do not hide them."""
        ...

    def latest(self, keys: Iterable[str] | None = None) -> dict[str, Materialization]:
        """The latest materialization of each key (of every key when ``keys`` is None)."""
        ...

    def heads(self) -> dict[str, Head]:
        """:meth:`latest` of every key as a :class:`Head`; meant to be cheap for many keys."""
        ...

    def latest_of(self, key: str) -> Materialization | None:
        """The latest materialization of one key, or None when it has none."""
        ...

    def partition_heads(self, keys: Iterable[str] | None = None) -> dict[str, dict[str, Head]]:
        """Key -> partition -> the :class:`Head` of that partition's latest materialization,
        of each key with one (of every key when ``keys`` is None), sorted by key and partition;
        an unpartitioned key's only partition is ``""``. A forget hides the partitions built
        before it. Meant to be cheap for many partitions."""
        ...

    def partition_records(self, key: str) -> dict[str, Materialization]:
        """Partition -> the latest materialization of each partition of ``key`` (what a build
        reads), sorted by partition; a forget hides the partitions built before it."""
        ...

    def version(self, key: str, data_version: str) -> Materialization | None:
        """The latest record of ``key`` whose data version starts with ``data_version``.

        The prefix is hex, 1 to 64 digits, in any case; anything else finds nothing.
        """
        ...

    def history(self, key: str, limit: int = 50) -> list[Materialization]:
        """At most ``limit`` materializations of ``key``, newest first."""
        ...

    def failure_history(self, key: str, limit: int = 50) -> list[Failure]:
        """At most ``limit`` failed builds of ``key``, newest first (forgotten or not)."""
        ...

    def last_failures(self) -> dict[str, Failure]:
        """The latest failure of each key that ever failed (a later success does not clear it)."""
        ...

    def partition_failures(self, keys: Iterable[str]) -> dict[str, dict[str, Failure]]:
        """Key -> partition -> the latest failure of that partition (a later success does not
        clear it), of the given keys with any; a forget hides the failures before it."""
        ...

    def keys(self) -> set[str]:
        """Every key with at least one materialization or failure (not forgotten since)."""
        ...

    def forgotten_before(self) -> dict[str, int]:
        """Key -> ``seq`` of its latest forget, for each key whose latest record is a forget.

        Every materialization of such a key has a lower ``seq``: none is in this store's
        view any more (gc may let their files go).
        """
        ...

    # alert incidents (nbassets.alerts): the one kind of row that changes (closed_at set once)
    def open_incidents(self, env: str) -> dict[IncidentKey, str]:
        """The incidents open in ``env``: ``{(key, kind): message}``, oldest first (empty in a
        catalog that keeps none yet)."""
        ...

    def record_incidents(
        self,
        env: str,
        opened: Mapping[IncidentKey, str],
        closed: Iterable[IncidentKey],
        at: str,
    ) -> None:
        """Open the incidents ``opened`` (key, kind -> message) and close those of ``closed``
        still open, in ``env``, at ``at`` (ISO 8601), in one transaction."""
        ...

    # the whole catalog, in order and paged (`nbassets migrate-store`)
    def journal(self, after_seq: int = 0, limit: int = PAGE) -> list[JournalEntry]:
        """At most ``limit`` materializations, failures and forgets whose ``seq`` is above
        ``after_seq``, in ``seq`` order. A catalog whose records have no sequence yet (schema 1,
        read-only) raises :class:`~nbassets.errors.StorageError`."""
        ...

    def all_check_results(self, after_id: int = 0, limit: int = PAGE) -> list[RecordedCheck]:
        """At most ``limit`` check results whose id is above ``after_id``, in id order."""
        ...

    def all_test_results(self, after_id: int = 0, limit: int = PAGE) -> list[TestResult]:
        """At most ``limit`` unit-test results whose id is above ``after_id``, in id order."""
        ...

    def incidents(self) -> list[Incident]:
        """Every alert incident, open and closed, in id order (few: one per problem seen)."""
        ...

    def copy_incidents(self, incidents: Iterable[Incident]) -> None:
        """Append incidents as they were (env, key, kind, message, opened and closed times),
        in one transaction; their ids are new."""
        ...

    def ready(self) -> None:
        """A writable catalog: raise now what recording would raise (damaged, newer, locked,
        read-only filesystem, full, not permitted), so a store refuses before it writes a
        data file. Cheap once open; a read-only catalog has nothing to check."""
        ...

    def close(self) -> None:
        """Release what the catalog holds open; it may be used again afterwards (it reopens)."""
        ...
