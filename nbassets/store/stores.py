"""A store: one env's data files and catalog, opened for reading or for writing.

A :class:`Store` holds a :class:`~nbassets.store.storage.DataStorage` (where the bytes go)
and a :class:`~nbassets.store.catalog.Catalog` (what was built) and reaches them only through
those interfaces; both are injectable. A :class:`StoreOpener` opens the store of an env
at a root: :func:`open_local_store` (a folder with ``catalog.sqlite``) is the default.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..config import Project
from ..environments import PROD
from ..errors import AssetNotFound, StorageError, VersionDamaged, os_error
from ..policy import refuse_production_catalog
from .catalog import Catalog, Failure, Materialization
from .serializers import (
    EXTENSIONS,
    ValueInfo,
    approximate_bytes,
    frame_problem,
    is_damaged_bytes_error,
    read_value,
    write_value,
)
from .sqlite_catalog import SqliteCatalog
from .storage import DataStorage, LocalFolder

CATALOG_FILE = "catalog.sqlite"
_PARTITION_FOLDER = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\Z", re.ASCII)
LARGE_WRITE_BYTES = 32 * 1024 * 1024  # hash and flush while writing from this size on


class Store:
    """The store of env ``env`` at ``root``: ``catalog.sqlite`` and ``data/<key>/<version>.<ext>``.

    A read-only store never creates or changes a file. Opening one for writing
    removes the temporary files that dead writers left behind. ``storage`` and
    ``catalog`` default to :class:`LocalFolder` ``(root)`` and :class:`SqliteCatalog`
    at ``root / catalog.sqlite``; a given catalog must be open the same way as the store.
    """

    def __init__(
        self,
        env: str,
        root: Path,
        *,
        writable: bool,
        storage: DataStorage | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        if catalog is not None and catalog.writable != writable:
            modes = {True: "for writing", False: "read-only"}
            raise StorageError(
                f"the store of env {env!r} is opened {modes[writable]} but its catalog "
                f"{catalog.location} is open {modes[catalog.writable]}"
            )
        self.env = env
        self.root = root
        self.writable = writable
        if storage is None:
            storage = LocalFolder(root)
        if catalog is None:
            catalog = SqliteCatalog(root / CATALOG_FILE, writable=writable)
        self.storage: DataStorage = storage
        self.catalog: Catalog = catalog
        if writable:
            self.storage.sweep_temporary_files()

    def __repr__(self) -> str:
        mode = "rw" if self.writable else "ro"
        return f"Store({self.env!r}, {str(self.root)!r}, {mode})"

    def write(
        self,
        key: str,
        value: Any,
        io: str,
        *,
        code_version: str,
        started_at: str,
        inputs: dict[str, dict[str, str]] | None = None,
        source: str | None = None,
        commit: str | None = None,
        dirty: bool | None = None,
        user: str | None = None,
        code: str | None = None,
        partition: str = "",
    ) -> Materialization:
        """Store ``value`` as a new immutable version of ``key`` (of its ``partition``, in
        ``data/<key>/<partition>/``) and record it (``code``: the function's source, kept for
        reviews).

        The file is complete and renamed into place before the catalog records
        it in one transaction, so a failure at any point leaves the previous
        state intact. The catalog is used first: a writable catalog that cannot record
        (damaged, newer, locked, read-only, full, not permitted) says so on first use
        (the :class:`~nbassets.store.catalog.Catalog` contract), before any data file is
        written. A full disk, a read-only filesystem or missing permissions met while
        writing the file raise the matching :class:`~nbassets.errors.StorageError`.
        """
        if not self.writable:
            raise StorageError(f"{self!r} is open read-only; it cannot store {key!r}.")
        if partition and not _PARTITION_FOLDER.match(partition):
            raise StorageError(
                f"partition {partition!r} of asset {key!r} cannot name a folder: partition keys "
                "use letters, digits, '_' and '-' (at most 64) and do not start with '.'."
            )
        self.catalog.ready()  # refuse before a data file is written when it cannot record
        info: list[ValueInfo] = []
        try:
            stored = self.storage.put(
                f"{key}/{partition}" if partition else key,
                EXTENSIONS[io],
                lambda sink: info.append(write_value(key, value, io, sink)),
                large=approximate_bytes(value) >= LARGE_WRITE_BYTES,
            )
        except OSError as exc:
            precise = os_error(f"{self.storage.location}/data/{key}", exc)
            if precise is None:
                raise
            raise precise from exc
        record = Materialization(
            key=key,
            env=self.env,
            data_version=stored.data_version,
            code_version=code_version,
            path=stored.path,
            io=io,
            kind=info[0].kind,
            bytes=stored.bytes,
            started_at=started_at,
            finished_at=now(),
            commit=commit,
            dirty=dirty,
            source=source,
            inputs=inputs or {},
            rows=info[0].rows,
            schema=info[0].schema,
            user=user,
            code=code,
            partition=partition,
        )
        return self.catalog.record(record)

    def record_failure(self, failure: Failure) -> None:
        self.catalog.record_failure(failure)

    def read(self, record: Materialization) -> Any:
        """The value of one recorded version.

        The file is checked against its record first: its size, then its format's own frame
        (:func:`~nbassets.store.serializers.frame_problem`); a file that fails either, or
        that its decoder refuses, raises :class:`~nbassets.errors.VersionDamaged`.
        """
        try:
            path = self.storage.local_file(record.path, record.data_version)
        except AssetNotFound:
            raise AssetNotFound(
                f"version {record.data_version[:12]} of asset {record.key!r} is recorded in "
                f"{self.catalog.location} but its file {self.where(record)} is missing; "
                "rebuild the asset (versions removed by `nbassets gc` cannot be read)."
            ) from None
        where = self.where(record)
        size = path.stat().st_size
        if size != record.bytes:
            detail = f"is {size:,} bytes, but {record.bytes:,} were recorded"
            raise VersionDamaged(record.key, record.data_version, where, detail)
        problem = frame_problem(path, record.io, size)
        if problem is not None:
            raise VersionDamaged(record.key, record.data_version, where, problem)
        try:
            return read_value(path, record.io, record.kind)
        except Exception as exc:
            if not is_damaged_bytes_error(exc):
                raise
            raise VersionDamaged(
                record.key, record.data_version, where, f"cannot be decoded ({exc})"
            ) from exc

    def where(self, record: Materialization) -> str:
        """Where the file of ``record`` is stored, for messages."""
        return f"{self.storage.location}/{record.path}"

    def confine(self, forbidden: Path | None) -> None:
        """Keep this writer out of ``forbidden`` (production's real path, for a sandbox).

        The local storage and the SQLite catalog check the real path of each folder and
        catalog file right before they create or open it for writing (DESIGN §2: links below
        a sandbox never lead a write into production).
        """
        for part in (self.storage, self.catalog):
            if isinstance(part, LocalFolder | SqliteCatalog):
                part.forbidden_root = forbidden

    def close(self) -> None:
        self.catalog.close()
        self.storage.close()


class StoreOpener(Protocol):
    """How a workspace opens the store of an env: a backend choice, injected."""

    def __call__(self, env: str, root: Path, *, writable: bool) -> Store: ...


def open_local_store(env: str, root: Path, *, writable: bool) -> Store:
    """The store of ``env`` in the folder ``root``: data files and ``catalog.sqlite``."""
    return Store(env, root, writable=writable)


def project_store_opener(project: Project) -> StoreOpener:
    """How ``project``'s stores open: local folders and SQLite, but production's catalog on
    PostgreSQL when ``prod_catalog`` is set (a sandbox's catalog stays SQLite), and its data
    files as objects at ``prod`` when it is a URL (read through a cache in the sandbox root)."""
    url = project.prod_catalog
    if url is None:
        return open_local_store

    def open_store(env: str, root: Path, *, writable: bool) -> Store:
        if env != PROD:
            return Store(env, root, writable=writable)
        from .object_storage import open_object_storage
        from .postgres_catalog import open_catalog
        from .postgres_errors import redact

        if writable:
            refuse_production_catalog(redact(url))
        storage = open_object_storage(project.prod_url, project.sandbox_root, writable=writable)
        catalog = open_catalog(url, writable=writable)
        return Store(env, root, writable=writable, catalog=catalog, storage=storage)

    return open_store


def now() -> str:
    """The current time as ISO 8601 in UTC, with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")
