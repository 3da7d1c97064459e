"""``nbassets doctor`` on a shared production: a PostgreSQL catalog, objects at a URL, or both.

:func:`examine` is the one dispatch. A local folder with ``catalog.sqlite`` goes to
:func:`nbassets.store.doctor.examine` unchanged. A PostgreSQL catalog is checked by the database
(:func:`~nbassets.store.postgres_health.catalog_health`), then its records are read through the
Catalog protocol; local version files beside it are walked as the local doctor walks them.
Objects at a URL are listed once: each recorded one must be there with its recorded size, and
is then fetched into a scratch cache through ``local_file`` (which verifies its hash) and
dropped, so the bucket's bytes are checked, never a cached copy. Objects no record names are
listed (problems beside a sound catalog: doctor cannot record them into a shared catalog).

Nothing is written to the catalog or the bucket and nothing is deleted. A shared catalog is
never re-indexed from its objects (:func:`reindex_refusal` says what to do instead): its records
hold provenance and history that exist nowhere else.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..errors import AssetNotFound, CatalogTooNew, NbAssetsError, ObjectDamaged, StorageError
from . import postgres_health as health
from .catalog import Materialization
from .doctor import (
    _IO,
    _NAME,
    _PARTITION,
    CATALOG_DAMAGED,
    CATALOG_NEWER,
    DAMAGED,
    LOST,
    MISMATCH,
    MISSING,
    NEWER,
    NONE,
    NOT_VERSION,
    OK,
    UNREADABLE,
    WRONG_SIZE,
    CatalogState,
    Problem,
    Progress,
    Report,
    _valid_key,
)
from .doctor import examine as examine_local
from .gc import is_version_file, select_removals, store_records
from .object_storage import ObjectStorage
from .postgres_catalog import PostgresCatalog
from .remote_errors import remote, scrubbed
from .sqlite_catalog import SqliteCatalog
from .storage import LocalFolder
from .stores import Store

UNREACHABLE = health.UNREACHABLE  # the catalog's server cannot be reached, logged in to or read
CATALOG_LOST, CATALOG_UNREACHABLE = "catalog lost", "catalog unreachable"
STORAGE_UNREACHABLE, UNRECORDED = "storage unreachable", "unrecorded"


def is_remote(store: Store) -> bool:
    """Whether ``store``'s catalog or storage is shared infrastructure, not a local folder."""
    return not (isinstance(store.catalog, SqliteCatalog) and isinstance(store.storage, LocalFolder))


def examine(
    store: Store, *, forbidden: Path | None = None, progress: Progress | None = None
) -> Report:
    """Check ``store`` (reads only), wherever its catalog and files live."""
    state = postgres_state if isinstance(store.catalog, PostgresCatalog) else None
    if isinstance(store.storage, LocalFolder):
        return examine_local(store, forbidden=forbidden, progress=progress, catalog_state=state)
    return _examine_objects(store, state or _protocol_state, progress)


def reindex_refusal(store: Store) -> str | None:
    """Why doctor will not re-index ``store``'s catalog, and what to do instead (None: it may)."""
    if not is_remote(store):
        return None
    return (
        f"--reindex rebuilds a local catalog.sqlite from its data files; env {store.env!r} keeps "
        f"its catalog in {_catalog_name(store)} and its files in {store.storage.location}, and "
        "doctor never writes or replaces a shared catalog. Run `nbassets doctor --env "
        f"{store.env}` without --reindex to see what is wrong. {_instead(store)}"
    )


def postgres_state(
    store: Store, forbidden: Path | None = None
) -> tuple[str, str, list[Problem], list[Materialization]]:
    """``(state, detail, problems, every record)`` of a PostgreSQL catalog (a
    :data:`~nbassets.store.doctor.CatalogState`)."""
    found = health.catalog_health(store.catalog.location)
    if found.state == OK:
        try:
            return OK, found.detail, [], store_records(store)
        except CatalogTooNew as exc:  # migrated by a newer writer since the check
            found = health.CatalogHealth(NEWER, str(exc))
        except NbAssetsError as exc:
            found = health.CatalogHealth(UNREACHABLE, str(exc))
    return found.state, found.detail, [_catalog_problem(store, found)], []


def _protocol_state(
    store: Store, forbidden: Path | None = None
) -> tuple[str, str, list[Problem], list[Materialization]]:
    """Any other catalog: read through the Catalog protocol, as it can tell."""
    try:
        return OK, "read through the catalog protocol", [], store_records(store)
    except NbAssetsError as exc:
        problem = Problem(CATALOG_UNREACHABLE, str(exc), _instead(store), store.catalog.location)
        return UNREACHABLE, str(exc), [problem], []


def _catalog_problem(store: Store, found: health.CatalogHealth) -> Problem:
    where = store.catalog.location  # no password: redacted
    if found.state == LOST:
        detail = f"{found.detail}, but production's files are stored"
        fix = f"check that prod_catalog names the right database. {_instead(store)}"
        return Problem(CATALOG_LOST, detail, fix, where)
    if found.state == DAMAGED:
        fix = (
            f"doctor never repairs, moves or replaces a shared catalog. Look at it with "
            f"`psql '{where}' -c '\\dt {health.schema.SCHEMA}.*'`. {_instead(store)}"
        )
        return Problem(CATALOG_DAMAGED, f"is damaged: {found.detail}", fix, where)
    if found.state == NEWER:
        fix = (
            "upgrade nbassets on this machine (pip install -U nbassets): a newer nbassets "
            "wrote this catalog; it is fine, keep it"
        )
        return Problem(CATALOG_NEWER, f"is from a newer nbassets: {found.detail}", fix, where)
    fix = (
        f"nothing in the catalog was checked: fix what the message says, then run "
        f"`nbassets doctor --env {store.env}` again"
    )
    return Problem(CATALOG_UNREACHABLE, found.detail, fix, where)


def _catalog_name(store: Store) -> str:
    if isinstance(store.catalog, PostgresCatalog):
        return f"the PostgreSQL database {store.catalog.location} (prod_catalog)"
    return f"the catalog {store.catalog.location}"


def _instead(store: Store) -> str:
    """What rebuilds a shared catalog honestly: its backup, or a copy holding its history."""
    return (
        "A shared catalog's records (provenance, history, check results) exist nowhere "
        "else: a catalog rebuilt from the files would hold none of them. Instead, restore the "
        "database from its backup (pg_restore, or your provider's point-in-time recovery), or copy "
        "production again from a store that still holds its history (a folder with its "
        "catalog.sqlite) into an empty database: `nbassets migrate-store --from FOLDER --to "
        f"{store.storage.location} --catalog postgresql://USER@HOST:5432/EMPTY_DATABASE`, then "
        "point prod_catalog at that database (it verifies every object and resumes where it "
        "stopped)."
    )


# --- objects at a URL ---------------------------------------------------------------------------


def _examine_objects(store: Store, state_of: CatalogState, progress: Progress | None) -> Report:
    started = time.perf_counter()
    location = store.storage.location
    state, detail, problems, records = state_of(store, None)
    try:
        listed = _listing(store, [r.path for r in records])
    except StorageError as exc:
        fix = "check the bucket and the credentials in use, then run doctor again"
        problem = Problem(STORAGE_UNREACHABLE, scrubbed(str(exc)), fix, "data/")
        return Report(
            store.env, location, state, detail, catalogs=int(state == OK), records=len(records),
            seconds=time.perf_counter() - started, problems=(*problems, problem),
        )  # fmt: skip
    versions = {path: parts for path in listed if (parts := _version_parts(path)) is not None}
    strays = tuple(path for path in listed if path not in versions and listed[path] is not None)
    if state != OK:
        state = NONE if state == LOST and not versions else state
        return Report(
            store.env, location, state, detail, files=len(versions),
            seconds=time.perf_counter() - started, problems=tuple(problems),
            unrecorded=tuple(sorted(versions)), strays=strays,
        )  # fmt: skip
    check = _ObjectCheck(store, listed, records)
    by_path: dict[str, list[Materialization]] = {}
    for record in records:
        by_path.setdefault(record.path, []).append(record)
    with tempfile.TemporaryDirectory(prefix="nbassets-doctor-") as scratch:
        check.reader = _reader(store, Path(scratch))
        for done, (path, same) in enumerate(sorted(by_path.items())):
            if progress is not None:
                progress(same[0].key, done, len(by_path))
            check.file(path, same)
    unrecorded = tuple(sorted(p for p in versions if p not in by_path))
    check.problems += [_unrecorded(path, versions[path], location) for path in unrecorded]
    return Report(
        store.env, location, OK, detail, catalogs=1, records=len(records), files=len(by_path),
        bytes_hashed=check.hashed, seconds=time.perf_counter() - started,
        problems=tuple(check.problems), removed=check.removed, unrecorded=unrecorded,
        strays=strays,
    )  # fmt: skip


def _listing(store: Store, recorded: list[str]) -> dict[str, int | None]:
    """Every object below ``data/`` with its size (one listing); for a storage that cannot
    list, the recorded paths' sizes."""
    storage = store.storage
    if isinstance(storage, ObjectStorage):
        with remote(f"list the objects under {storage.location}/data", storage.location):
            return dict(storage.listing())
    return storage.sizes(recorded)


def _reader(store: Store, scratch: Path) -> ObjectStorage | None:
    """A read-only storage on the same objects whose cache is ``scratch``: every read fetches
    the object and hashes it (the store's own cache may hold a good copy of a bad object)."""
    if isinstance(store.storage, ObjectStorage):
        return ObjectStorage(store.storage.location, scratch, writable=False)
    return None


def _version_parts(path: str) -> tuple[str, str, str] | None:
    """``(key, partition, data_version)`` of ``data/<key>/[<partition>/]<version>.<ext>``."""
    parts = path.split("/")
    name = _NAME.match(parts[-1])
    if not (name and name["ext"] in _IO and len(parts) in (3, 4) and parts[0] == "data"):
        return None
    if not _valid_key(parts[1]) or (len(parts) == 4 and not _PARTITION.match(parts[2])):
        return None
    return parts[1], parts[2] if len(parts) == 4 else "", name["version"]


def _unrecorded(path: str, parts: tuple[str, str, str], location: str) -> Problem:
    return Problem(
        UNRECORDED,
        "is stored but no record names it: a writer that died between its upload and its "
        "record (or one recording right now)",
        "harmless, nothing reads it: a build giving the same bytes records it without "
        "uploading again. doctor cannot record it into a shared catalog and deletes nothing; "
        f"remove {location}/{path} yourself if no build needs it",
        path, parts[0], parts[2],
    )  # fmt: skip


class _ObjectCheck:
    """Checks recorded objects against their records: listed, size, then hash."""

    def __init__(
        self, store: Store, listed: dict[str, int | None], records: list[Materialization]
    ) -> None:
        self.store, self.listed = store, listed
        forgotten = store.catalog.forgotten_before()  # gc may remove all of a forgotten key's files
        self.history = {r.path for r in select_removals(records, 1, forgotten=forgotten)}
        self.reader: ObjectStorage | None = None
        self.problems: list[Problem] = []
        self.hashed = self.removed = 0

    def file(self, path: str, records: list[Materialization]) -> None:
        record, env = records[-1], self.store.env
        if not is_version_file(record):
            detail = "is not data/<key>/[<partition>/]<data_version>.<ext>"
            self._add(NOT_VERSION, record, detail, _rebuild(record.key, env))
            return
        size = self.listed.get(path)
        if size is None:
            if path in self.history:
                self.removed += 1
            else:
                self._add(MISSING, record, "is missing from the bucket", _rebuild(record.key, env))
            return
        if size != record.bytes:
            detail = f"is {size:,} bytes, not the {record.bytes:,} recorded"
            self._add(WRONG_SIZE, record, detail, _restore(record, env))
            return
        if self.reader is None:
            return  # a storage that cannot be read apart from its cache: size checked only
        try:
            self.reader.local_file(path, record.data_version).unlink()
        except AssetNotFound:
            self._add(MISSING, record, "is missing from the bucket", _rebuild(record.key, env))
            return
        except ObjectDamaged:
            detail = "was fetched and does not hash to its data version: its bytes changed"
            for each in records:
                self._add(MISMATCH, each, detail, _restore(each, env))
            return
        except StorageError as exc:
            detail = f"cannot be read ({scrubbed(str(exc))})"
            self._add(UNREADABLE, record, detail, _restore(record, env))
            return
        self.hashed += size

    def _add(self, problem: str, m: Materialization, detail: str, fix: str) -> None:
        self.problems.append(Problem(problem, detail, fix, m.path, m.key, m.data_version))


def _rebuild(key: str, env: str) -> str:
    return (
        f"rebuild {key}: `nbassets materialize --env {env} --select {key}`; or restore the "
        "object from a backup (the bucket's versioning)"
    )


def _restore(record: Materialization, env: str) -> str:
    return (
        f"restore the object of {record.key} from a backup (the bucket's versioning), or "
        f"rebuild {record.key} for a good current version (`nbassets materialize --env {env} "
        f"--select {record.key}`); until then this version is not the data built (nbassets "
        "never rewrites an object)"
    )
