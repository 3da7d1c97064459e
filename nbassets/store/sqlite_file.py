"""The catalog's SQLite file: its schema, its creation in one piece, opening a checked
connection to it (``connect``, ``stamp``: when to reopen), and what its failures mean.

A new catalog is created complete under a temporary name (``catalog.sqlite.tmp-…``) and
linked into place, so a crash of the first write never leaves a 0-byte or schema-less
``catalog.sqlite``; it is created at the latest schema (``SCHEMA_VERSION``, in ``PRAGMA
user_version``), and an older one is migrated when a writer first opens it
(:mod:`~nbassets.store.migrations`). SQLite's and the operating system's failures are
translated into the precise nbassets error (a full disk, a read-only filesystem, missing
permissions, a lock held past the busy timeout, a catalog from a newer nbassets); only real
damage is reported as damaged.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import (
    CatalogDamagedError,
    CatalogLocked,
    CatalogTooNew,
    NbAssetsError,
    ReadOnlyFilesystem,
    StorageError,
    StoreFull,
    StorePermissionDenied,
    current_os_user,
    os_error,
)
from . import migrations

APPLICATION_ID = 0x6E624173  # "nbAs"
SCHEMA_VERSION = 6  # 1 + len(migrations.MIGRATIONS)
BUSY_TIMEOUT_SECONDS = 30.0
BUSY_TIMEOUT_ENV = "NBASSETS_BUSY_TIMEOUT"
# SQLite primary result codes (the low byte of an extended code)
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _AUTH, _NOTADB = (
    3, 5, 6, 8, 10, 11, 13, 14, 23, 26,
)  # fmt: skip
NEXT_SEQ = (  # the next number of the one sequence of materializations, failures, forgets
    "(SELECT 1 + max(coalesce((SELECT max(seq) FROM materializations), 0), "
    "coalesce((SELECT max(seq) FROM failures), 0), coalesce((SELECT max(seq) FROM forgets), 0)))"
)
# Unit-test outcomes (`%%test` cells, exported tests), added in schema 3 (migrations.py too)
TEST_RESULTS_TABLE = """CREATE TABLE test_results (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    code_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    env TEXT NOT NULL,
    source TEXT,
    user TEXT,
    seconds REAL NOT NULL,
    at TEXT NOT NULL,
    test_version TEXT NOT NULL DEFAULT ''
)"""
TEST_RESULTS_INDEX = (
    "CREATE INDEX test_results_by_key ON test_results (key, name, code_version, id)"
)
# The latest schema, whole. A column added by a migration is written as SQLite's ALTER TABLE
# leaves it (", seq INTEGER)" on its own line), so new and migrated catalogs have the same
# sqlite_master (tests/store/test_migrations.py compares them).
_SCHEMA = (
    """CREATE TABLE materializations (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    partition TEXT NOT NULL DEFAULT '',
    data_version TEXT NOT NULL,
    code_version TEXT NOT NULL,
    "commit" TEXT,
    dirty INTEGER,
    source TEXT,
    inputs TEXT NOT NULL DEFAULT '{}',
    rows INTEGER,
    schema TEXT,
    bytes INTEGER NOT NULL,
    path TEXT NOT NULL,
    io TEXT NOT NULL,
    kind TEXT NOT NULL,
    user TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
, seq INTEGER, code TEXT, rollback_of TEXT)""",
    "CREATE INDEX materializations_by_key ON materializations (key, partition, id)",
    "CREATE INDEX materializations_by_version ON materializations (key, data_version)",
    """CREATE TABLE failures (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    partition TEXT NOT NULL DEFAULT '',
    code_version TEXT,
    error TEXT NOT NULL,
    source TEXT,
    user TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
, seq INTEGER)""",
    "CREATE INDEX failures_by_key ON failures (key, partition, id)",
    """CREATE TABLE check_results (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    data_version TEXT NOT NULL,
    env TEXT NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,
    passed INTEGER NOT NULL,
    failing_rows INTEGER,
    sample TEXT NOT NULL DEFAULT '[]',
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    seconds REAL NOT NULL,
    checked_at TEXT NOT NULL
)""",
    "CREATE INDEX check_results_by_version ON check_results (data_version, key, name, id)",
    "CREATE UNIQUE INDEX materializations_by_seq ON materializations (seq)",
    "CREATE UNIQUE INDEX failures_by_seq ON failures (seq)",
    """CREATE TABLE forgets (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    user TEXT,
    at TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX forgets_by_seq ON forgets (seq)",
    "CREATE INDEX forgets_by_key ON forgets (key, seq)",
    "CREATE TRIGGER materializations_seq AFTER INSERT ON materializations WHEN NEW.seq IS NULL "
    f"BEGIN UPDATE materializations SET seq = {NEXT_SEQ} WHERE id = NEW.id; END",
    "CREATE TRIGGER failures_seq AFTER INSERT ON failures WHEN NEW.seq IS NULL "
    f"BEGIN UPDATE failures SET seq = {NEXT_SEQ} WHERE id = NEW.id; END",
    TEST_RESULTS_TABLE,
    TEST_RESULTS_INDEX,
    *migrations.V4_OBJECTS,  # the latest record of each key and partition (schema 4)
    *migrations.V6_OBJECTS,  # alert incidents (schema 6)
)


def create(path: Path) -> None:
    """Create the catalog ``path`` complete under a temporary name, then link it into place.

    SQLite creates a file before it writes the schema; doing that at the real name
    would let a crash (or a full disk) leave a 0-byte ``catalog.sqlite``, which must
    then be refused as damage. When two first writers race, the first link wins and
    the other uses its catalog.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        finally:
            conn.close()  # checkpoints: the whole catalog is in the temporary file
        try:
            os.link(temp, path)
        except FileExistsError:
            return  # another first writer linked its catalog first
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            leftover.unlink(missing_ok=True)


def check(conn: sqlite3.Connection, path: Path, writable: bool) -> int:
    """Check that ``conn`` is an nbassets catalog this nbassets understands; its schema version.

    A writable catalog of an older schema is migrated to the latest first, in one
    transaction (:mod:`nbassets.store.migrations`); a read-only one is read as it is.
    """
    if _application_id(conn) != APPLICATION_ID:
        detail = "it holds no tables" if not _has_tables(conn) else "foreign tables"
        raise CatalogDamagedError(path, f"it is not an nbassets catalog: {detail}")
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise CatalogTooNew(path, version, SCHEMA_VERSION)
    if writable:
        conn.execute("PRAGMA synchronous=NORMAL")
        if version < SCHEMA_VERSION:
            version = _upgrade(conn, path, version)
    return version


def _upgrade(conn: sqlite3.Connection, path: Path, version: int) -> int:
    """Migrate ``conn``'s catalog to :data:`SCHEMA_VERSION`; on failure it is left as it was."""
    try:
        return migrations.upgrade(conn, SCHEMA_VERSION)
    except sqlite3.Error as exc:
        error = sqlite_error(path, exc, "write", True)
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if isinstance(error, CatalogDamagedError) and code not in (_CORRUPT, _NOTADB):
            raise StorageError(
                f"cannot upgrade the catalog {path} from schema version {version} to "
                f"{SCHEMA_VERSION}: {exc}. Nothing was changed: it is still version {version} "
                "and reads as before. A table, index or trigger added to it by hand may clash "
                f"with nbassets' own (see `sqlite3 '{path}' .schema`): rename or drop it, "
                "then retry."
            ) from exc
        raise error from exc


Stamp = tuple[bool, int, int]  # what, when it changes, means a connection must be reopened


def stamp(path: Path, writable: bool) -> Stamp | None:
    """The catalog file's :data:`Stamp` (None: no file): a writer's is the file itself (device,
    inode); a reader's whether a writer is at work and the file's mtime and size."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    if writable:  # the same file, still there
        return (True, stat.st_dev, stat.st_ino)
    try:  # an empty -wal holds nothing the file does not: read it as if no writer were at work
        writer_active = os.stat(f"{path}-wal").st_size > 0
    except FileNotFoundError:
        writer_active = False
    return (writer_active, stat.st_mtime_ns, stat.st_size)


def connect(path: Path, writable: bool, found: Stamp | None) -> tuple[sqlite3.Connection, int]:
    """A new connection to the catalog file and its schema version, checked (and, writable, able
    to record: created when ``found`` is None). A reader with no writer at work opens it
    ``immutable``, so reading creates no file beside it."""
    with translated(path, "write" if writable else "read", writable):
        if found is not None and os.stat(path).st_size == 0:
            raise CatalogDamagedError(
                path,
                "it is empty (0 bytes): the records it held are lost and the data files "
                "beside it are no longer indexed",
            )
        if writable:
            if found is None:
                create(path)
            target, uri = str(path), False
        else:
            mode = "mode=ro" if found and found[0] else "mode=ro&immutable=1"
            target, uri = f"{path.as_uri()}?{mode}", True
        conn = sqlite3.connect(
            target, uri=uri, timeout=busy_timeout(), isolation_level=None, check_same_thread=False
        )
        try:
            version = check(conn, path, writable)
            if writable:  # refuse now, before a store writes a data file
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
        except BaseException:
            conn.close()
            raise
    return conn, version


def busy_timeout() -> float:
    """Seconds to wait for another writer's lock: ``NBASSETS_BUSY_TIMEOUT``, else 30."""
    try:
        return float(os.environ.get(BUSY_TIMEOUT_ENV, BUSY_TIMEOUT_SECONDS))
    except ValueError:
        return BUSY_TIMEOUT_SECONDS


@contextmanager
def translated(path: Path, action: str, writable: bool) -> Iterator[None]:
    """Turn SQLite's and the OS's errors into the precise nbassets error for ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc, action, writable) from exc
    except OSError as exc:
        precise = os_error(exc.filename or path, exc, action)
        if precise is None:
            raise
        raise precise from exc


def sqlite_error(path: Path, exc: sqlite3.Error, action: str, writable: bool) -> NbAssetsError:
    """The nbassets error for a failure SQLite reported while ``action``-ing ``path``."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (_BUSY, _LOCKED):
        return CatalogLocked(path, busy_timeout())
    if code == _FULL:
        return StoreFull(path)
    if code in (_CORRUPT, _NOTADB):
        return CatalogDamagedError(path, str(exc))
    if code in (_PERM, _READONLY, _IOERR, _CANTOPEN, _AUTH):
        return environment_error(path, action, writable) or StorageError(
            f"cannot {action} the catalog {path}: {exc} (SQLite "
            f"{getattr(exc, 'sqlite_errorname', code)}). Check the disk and the folder, "
            "then retry; the catalog was not changed."
        )
    return CatalogDamagedError(path, str(exc))


def environment_error(path: Path, action: str, writable: bool) -> StorageError | None:
    """What about the file's folder or filesystem keeps SQLite from opening or writing it."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    stat = os.statvfs(folder)
    if writable and stat.f_flag & os.ST_RDONLY:
        return ReadOnlyFilesystem(folder)
    file_mode = os.R_OK | (os.W_OK if writable else 0)
    if path.exists() and not os.access(path, file_mode):
        return StorePermissionDenied(path, current_os_user(), action)
    if not os.access(folder, os.X_OK | (os.W_OK if writable else 0)):
        return StorePermissionDenied(folder, current_os_user(), action)
    if writable and stat.f_bavail == 0:
        return StoreFull(folder)
    return None


def _application_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def integrity(path: Path) -> str | None:
    """What ``PRAGMA integrity_check`` finds wrong, or ``None``; ``immutable`` (no file made
    beside it) when no writer is at work (no ``-wal``)."""
    mode = "mode=ro" if os.path.exists(f"{path}-wal") else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?{mode}", uri=True)
        try:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_CORRUPT, _NOTADB):
            return str(exc)
        raise StorageError(
            f"cannot check the catalog {path}: {exc}. Nothing was changed; retry."
        ) from exc
    return None if found == ["ok"] else "; ".join(found)


SHM_REGION_BYTES = 32 * 1024  # SQLite sizes a live connection's -shm in regions of 32 KiB


def drop_unusable_wal(path: Path) -> None:
    """After a writable open failed on a full disk: remove the empty ``-wal`` and the ``-shm``
    SQLite could not size, which would make every reader of the catalog fail until space is
    freed. They hold no record (an empty log); a live connection's ``-shm`` is never smaller
    than one region, so no other connection's files are touched.
    """
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    try:
        if wal.stat().st_size != 0:
            return
        if shm.exists() and shm.stat().st_size >= SHM_REGION_BYTES:
            return
    except FileNotFoundError:
        return
    shm.unlink(missing_ok=True)
    wal.unlink(missing_ok=True)
