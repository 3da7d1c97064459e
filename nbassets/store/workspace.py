"""What one env sees: its own store layered over production, and where each input comes from.

Reads go to the env's store first and fall back to production, which is only
ever opened read-only for reading. Writes go to the store a production-policy
grant (:mod:`nbassets.policy`) names, which every writer asks for first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Project
from ..environments import PROD, store_path
from ..errors import StorageError
from ..policy import WriteGrant, refuse_production_path
from .catalog import Failure, Head, Materialization
from .results import CheckResult
from .serializers import share
from .stores import Store, StoreOpener, project_store_opener

KERNEL, SANDBOX = "kernel", "sandbox"


@dataclass(frozen=True)
class ResolvedInput:
    """An upstream version an asset reads, and where it was found (kernel, sandbox or prod)."""

    key: str
    record: Materialization
    origin: str
    store: Store

    @property
    def label(self) -> str:
        """``flights <- prod @ 3f2a9c1``; a partition, or the partitions read, in brackets:
        ``daily_sales[2024-01-01..2024-01-31] <- prod @ 7c0e1d2`` (their combined version)."""
        where = PROD if self.origin == PROD else f"{self.origin} {self.store.env}"
        part = f"[{self.record.partition}]" if self.record.partition else ""
        return f"{self.key}{part} <- {where} @ {self.record.data_version[:7]}"


class Workspace:
    """The stores a kernel or command working in ``env`` sees."""

    def __init__(self, project: Project, env: str, open_store: StoreOpener | None = None) -> None:
        self.project = project
        self.env = env
        self.open_store = open_store = open_store or project_store_opener(project)  # backends
        self.prod = open_store(PROD, project.prod_path, writable=False)
        self.own = (
            self.prod if env == PROD else open_store(env, store_path(project, env), writable=False)
        )
        self._writer: Store | None = None
        self._others: dict[str, Store] = {}
        self._duckdb: Any = None
        self._values: dict[tuple[str, str], tuple[str, Any]] = {}

    def close(self) -> None:
        readers = {self.prod, self.own, *self._others.values()} - {self._writer}
        for store in [*readers, self._writer]:  # the writer last: it checkpoints the WAL and
            if store is not None:  # removes -wal/-shm, which a reader still open would keep
                store.close()
        if self._duckdb is not None:
            self._duckdb.close()
            self._duckdb = None

    def duckdb(self) -> Any:
        """An in-memory DuckDB connection kept for this workspace (opening one costs ~12 ms)."""
        if self._duckdb is None:
            import duckdb

            self._duckdb = duckdb.connect()
        return self._duckdb

    # writing
    def writer(self, grant: WriteGrant) -> Store:
        """The store ``grant`` allows writing: this env's sandbox, or production's own."""
        if grant.env != self.env:
            raise StorageError(
                f"a write grant for env {grant.env!r} cannot write env {self.env!r}'s store."
            )
        if self._writer is None or self._writer.root != grant.root:
            if self._writer is not None:
                self._writer.close()
            self._writer = _open_confined(self.open_store, self.env, grant)
        return self._writer

    def other_env(self, env: str) -> Store:
        """Another env's store, read-only (production's or this env's own when named)."""
        if env == PROD:
            return self.prod
        if env == self.env:
            return self.own
        store = self._others.get(env)
        if store is None:
            root = store_path(self.project, env)
            store = self._others[env] = self.open_store(env, root, writable=False)
        return store

    # reading
    def keys(self) -> set[str]:
        """Every asset key recorded in the env's store or in production."""
        keys = self.own.catalog.keys()
        if self.own is not self.prod:
            keys |= self.prod.catalog.keys()
        return keys

    def resolve(
        self, key: str, kernel_versions: Mapping[str, Materialization] | None = None
    ) -> ResolvedInput | None:
        """The version an input ``key`` reads: the kernel's build, else the env's, else prod's."""
        built = (kernel_versions or {}).get(key)
        if built is not None and built.env == self.env:
            return ResolvedInput(key, built, KERNEL, self.own)
        record = self.own.catalog.latest_of(key)
        if record is not None:
            return ResolvedInput(
                key, record, SANDBOX if self.own is not self.prod else PROD, self.own
            )
        if self.own is not self.prod:
            record = self.prod.catalog.latest_of(key)
            if record is not None:
                return ResolvedInput(key, record, PROD, self.prod)
        return None

    def resolve_partitions(
        self, key: str, wanted: Iterable[str] | None = None
    ) -> dict[str, ResolvedInput]:
        """Partition -> the version of that partition of ``key`` an input reads, by partition:
        the env's own, else production's, partition by partition. ``wanted`` None: every
        partition built (never the unpartitioned ``""`` of an asset partitioned since)."""
        found: dict[str, ResolvedInput] = {}
        if self.own is not self.prod:
            for partition, record in self.prod.catalog.partition_records(key).items():
                found[partition] = ResolvedInput(key, record, PROD, self.prod)
        origin = SANDBOX if self.own is not self.prod else PROD
        for partition, record in self.own.catalog.partition_records(key).items():
            found[partition] = ResolvedInput(key, record, origin, self.own)
        if wanted is None:
            return {p: found[p] for p in sorted(found) if p}
        return {p: found[p] for p in wanted if p in found}

    def built_at(self, key: str, partitioned: bool) -> dict[str, str]:
        """Partition (``""`` unpartitioned) -> when the version an input of it resolves to
        finished building (ISO 8601): what lateness is judged on."""
        if partitioned:
            return {p: i.record.finished_at for p, i in self.resolve_partitions(key).items()}
        resolved = self.resolve(key)
        return {} if resolved is None else {"": resolved.record.finished_at}

    def current_partitions(self, keys: Iterable[str]) -> dict[str, dict[str, Head]]:
        """Key -> partition -> the version an input of that partition resolves to now (the
        env's own, else production's), for the given keys; by partition."""
        keys = list(keys)
        if not keys:
            return {}
        found = {} if self.own is self.prod else self.prod.catalog.partition_heads(keys)
        for key, parts in self.own.catalog.partition_heads(keys).items():
            found[key] = {**found.get(key, {}), **parts}
        return {key: dict(sorted(parts.items())) for key, parts in found.items()}

    def current(
        self,
        kernel_versions: Mapping[str, Materialization] | None = None,
        prod_heads: Mapping[str, Head] | None = None,
    ) -> dict[str, Head]:
        """For every key, the version an input of it resolves to now.

        ``prod_heads`` are production's heads when the caller has read them already.
        """
        if self.own is self.prod:
            current: dict[str, Head] = {}
        else:
            current = dict(self.prod.catalog.heads() if prod_heads is None else prod_heads)
        current.update(self.own.catalog.heads())
        for key, record in (kernel_versions or {}).items():
            if record.env == self.env:
                current[key] = Head.of(record)
        return current

    def damaged(self, current: Mapping[str, Head]) -> dict[str, str]:
        """Key -> what is wrong with the file of its current version: missing, or not the
        recorded size (DESIGN §2 ``corrupt``). One ``stat`` per version, no reads.

        A version recorded in production is looked for there, any other in the env's own store.
        """
        own: list[Head] = []
        prod: list[Head] = []
        split = self.own is not self.prod
        for head in current.values():
            if head.bytes is not None and head.path:  # else the record does not say
                (prod if split and head.env == PROD else own).append(head)
        damaged: dict[str, str] = {}
        for store, heads in ((self.own, own), (self.prod, prod)):
            if not heads:
                continue
            sizes = store.storage.sizes([head.path for head in heads])
            for head in heads:
                size = sizes[head.path]
                if size != head.bytes:
                    damaged[head.key] = (
                        f"file missing: {head.path}"
                        if size is None
                        else f"file size {size:,} bytes, not the recorded {head.bytes:,}"
                    )
        return damaged

    def check_results(
        self, key: str, data_version: str, defined: Collection[str] | None = None
    ) -> list[CheckResult]:
        """The latest result of each check of one version of ``key``, recorded in production
        or in the env's own store (a notebook checking a production version records it in its
        sandbox); only the checks ``defined`` when given."""
        found: dict[str, CheckResult] = {}
        stores = [self.own] if self.own is self.prod else [self.prod, self.own]
        for store in stores:
            for result in store.catalog.check_results(key, data_version):
                if defined is None or result.name in defined:
                    found[result.name] = result
        return list(found.values())

    def failures(self) -> dict[str, Failure]:
        """The latest failed build of each key in the env's own store."""
        return self.own.catalog.last_failures()

    def partition_failures(self, keys: Iterable[str]) -> dict[str, dict[str, Failure]]:
        """Key -> partition -> its latest failed build in the env's own store."""
        keys = list(keys)
        return self.own.catalog.partition_failures(keys) if keys else {}

    def table_path(self, resolved: ResolvedInput) -> Path:
        """The Parquet file of a resolved input; other kinds of values are refused."""
        if resolved.record.io != "parquet":
            raise StorageError(
                f"asset {resolved.key!r} is stored as {resolved.record.io}, not as a table; "
                "SQL and --check rules need a table (a pandas, polars or pyarrow frame)."
            )
        return resolved.store.storage.local_file(resolved.record.path, resolved.record.data_version)

    def read(self, resolved: ResolvedInput) -> Any:
        """The value of a resolved input, as the stored file gives it back.

        Decoded values are cached (one version per key); each caller gets a copy
        it may change freely.
        """
        record = resolved.record
        cache_key = (str(resolved.store.root), record.key)
        hit = self._values.get(cache_key)
        if hit is not None and hit[0] == record.data_version and record.io == "parquet":
            return share(hit[1], record.kind)
        value = resolved.store.read(record)
        if record.io == "parquet":
            self._values[cache_key] = (record.data_version, value)
            return share(value, record.kind)
        return value


def _open_confined(open_store: StoreOpener, env: str, grant: WriteGrant) -> Store:
    """Open ``grant``'s store for writing, kept out of production (DESIGN §2).

    A sandbox's grant names production's real path: the store folder and its ``data/`` are
    checked before opening (opening sweeps ``data/``), and the store is handed the path to
    check each folder and catalog file right before it creates or opens one (``Store.confine``).
    """
    for path in (grant.root, grant.root / "data"):
        refuse_production_path(path, grant.forbidden)
    store = open_store(env, grant.root, writable=True)
    store.confine(grant.forbidden)
    return store
