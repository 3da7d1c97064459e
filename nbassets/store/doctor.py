"""Is a store whole, and a lost catalog rebuilt from its data files (``nbassets doctor``).

- :func:`examine` only reads: the catalog (present, an nbassets catalog, passing SQLite's
  ``PRAGMA integrity_check``) and every recorded file (a regular file at
  ``data/<key>/[<partition>/]<data_version>.<ext>`` of the recorded size whose xxh3-128, the
  store's own hash, is its data version). An older version's missing file that ``gc --keep 1``
  may remove is history, not damage; version files no record names are listed.
- :func:`reindex` records, in a store open for writing, one materialization per version file no
  record names (oldest file first), provenance marked unknown: :data:`UNKNOWN_CODE`,
  :data:`REINDEX_SOURCE`, no commit, ``dirty`` and inputs unknown, the file's modification time
  as its build time. A damaged catalog is first moved aside (:func:`move_aside`).

Nothing here deletes a file or follows a link: a linked key folder or version file is reported,
never hashed or indexed, so a re-index records no file outside its store. Files whose name holds
``tmp`` (temporary files) are ignored.
"""

from __future__ import annotations

import functools
import json
import keyword
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import CatalogDamagedError, CatalogTooNew, ReadOnlyError
from ..policy import refuse_catalog_links
from . import sqlite_file
from .catalog import Materialization
from .gc import is_version_file, select_removals, store_records
from .serializers import EXTENSIONS, frame_problem
from .storage import file_data_version
from .stores import CATALOG_FILE, Store

Progress = Callable[[str, int, int], None]  # (asset key, files done, files in all)

UNKNOWN_CODE = "unknown"  # the code version of a re-indexed record: no one knows what built it
REINDEX_SOURCE = "nbassets doctor: re-indexed from its data file, provenance unknown"
OK, LOST, DAMAGED, NEWER, LINKED, NONE = "ok", "lost", "damaged", "newer", "link", "none"
MISSING, WRONG_SIZE, MISMATCH, LINK, NOT_VERSION, UNREADABLE = (
    "missing", "wrong size", "hash mismatch", "link", "not a version path", "unreadable",
)  # fmt: skip
CATALOG_DAMAGED, CATALOG_NEWER = "catalog damaged", "catalog newer"

_IO = {extension: io for io, extension in EXTENSIONS.items()}
_NAME = re.compile(r"^(?P<version>[0-9a-f]{32})\.(?P<ext>[a-z]+)\Z")
_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,63}\Z")
_PARTITION = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.:=-]{0,63}\Z")  # no "." first
_SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's files beside a catalog
_INDEXED = ("key", "partition", "data_version", "path", "bytes", "rows", "schema", "io", "kind")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store: what (``problem``), where, and how to fix it."""

    problem: str
    detail: str
    fix: str
    path: str  # relative to the store root
    key: str | None = None
    data_version: str | None = None


@dataclass(frozen=True)
class Report:
    """What ``nbassets doctor`` checked in one store, what it found and what it did."""

    env: str
    store: str
    catalog: str  # ok | lost | damaged | newer | link | none: the state the catalog was found in
    catalog_detail: str
    catalogs: int = 0  # catalogs checked (0 when there was none to check)
    records: int = 0
    files: int = 0  # distinct files checked (or, for a lost catalog, version files found)
    bytes_hashed: int = 0
    seconds: float = 0.0
    problems: tuple[Problem, ...] = ()
    removed: int = 0  # older versions whose files are gone (gc removes those, records stay)
    unrecorded: tuple[str, ...] = ()  # version files no record names
    strays: tuple[str, ...] = ()  # files below data/ that are not version files, left alone
    indexed: tuple[Materialization, ...] = ()  # records a re-index added
    moved_to: str | None = None  # where a damaged catalog was moved aside

    @property
    def ok(self) -> bool:
        """A catalog was checked (or made) and nothing is wrong."""
        return not self.problems and self.catalogs > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k not in ("problems", "indexed")},
            "ok": self.ok,
            "problems": [asdict(p) for p in self.problems],
            "indexed": [{k: getattr(m, k) for k in _INDEXED} for m in self.indexed],
        }


CatalogState = Callable[[Store, Path | None], tuple[str, str, list[Problem], list[Materialization]]]


def examine(
    store: Store, *, forbidden: Path | None = None, progress: Progress | None = None,
    catalog_state: CatalogState | None = None,
) -> Report:  # fmt: skip
    """Check ``store`` (reads only); ``forbidden``: production's real path, for a sandbox;
    ``catalog_state``: how its catalog is checked (SQLite's file by default)."""
    started = time.perf_counter()
    walk = _Walk(store.root, forbidden)
    state, detail, problems, records = (catalog_state or _catalog_state)(store, forbidden)
    if state != OK:
        if state == LOST and not walk.versions:
            state = NONE
        return Report(
            store.env, str(store.root), state, detail, files=len(walk.versions),
            seconds=time.perf_counter() - started, problems=(*problems, *walk.link_problems()),
            unrecorded=tuple(walk.versions), strays=tuple(walk.strays),
        )  # fmt: skip
    check = _FileCheck(store, walk, records)
    by_path: dict[str, list[Materialization]] = {}
    for record in records:
        by_path.setdefault(record.path, []).append(record)
    for done, (path, same) in enumerate(sorted(by_path.items())):
        if progress is not None:
            progress(same[0].key, done, len(by_path))
        check.file(path, same)
    return Report(
        store.env, str(store.root), OK, detail, catalogs=1, records=len(records),
        files=len(by_path), bytes_hashed=check.hashed, seconds=time.perf_counter() - started,
        problems=(*check.problems, *walk.link_problems(skip=check.linked)), removed=check.removed,
        unrecorded=tuple(p for p in walk.versions if p not in by_path), strays=tuple(walk.strays),
    )  # fmt: skip


def wants_reindex(report: Report, asked: bool) -> bool:
    """Whether doctor writes: a lost catalog always; a damaged one, or files no record names
    beside a sound one, only when asked (``--reindex``). A newer or linked catalog never."""
    fixable = report.catalog == DAMAGED or (report.catalog == OK and bool(report.unrecorded))
    return report.catalog == LOST or (asked and fixable)


def reindex(
    store: Store, found: Report, *, user: str, forbidden: Path | None = None,
    progress: Progress | None = None,
) -> Report:  # fmt: skip
    """Index ``store``'s (open for writing) version files that no record names into its catalog.

    ``found`` is what :func:`examine` found: a damaged catalog is moved aside first, and the
    problems found in a sound one's files stay in the report. Each file is hashed; one that
    does not hash to its name, or cannot be read, is reported and not indexed.
    """
    if not store.writable:
        raise ReadOnlyError(f"{store!r} is open read-only; a re-index records into its catalog.")
    started = time.perf_counter()
    moved = move_aside(store, forbidden) if found.catalog == DAMAGED else None
    walk = _Walk(store.root, forbidden)
    recorded = {r.path for r in store_records(store)}
    todo = sorted(
        (f for p, f in walk.versions.items() if p not in recorded),
        key=lambda f: (f.mtime_ns, f.path),
    )
    indexed: list[Materialization] = []
    problems = [p for p in found.problems if p.problem not in (CATALOG_DAMAGED, LINK)]
    hashed = found.bytes_hashed if found.catalog == OK else 0
    for done, file in enumerate(todo):
        if progress is not None:
            progress(file.key, done, len(todo))
        outcome, size = _index(store, file, user, forbidden)
        hashed += size
        if isinstance(outcome, Problem):
            problems.append(outcome)
        else:
            indexed.append(outcome)
    checked = found.files if found.catalog == OK else 0
    return Report(
        store.env, str(store.root), found.catalog, found.catalog_detail, catalogs=1,
        records=len(recorded) + len(indexed), files=len(todo) + checked,
        bytes_hashed=hashed, seconds=found.seconds + time.perf_counter() - started,
        problems=(*problems, *walk.link_problems()), removed=found.removed,
        strays=tuple(walk.strays), indexed=tuple(indexed),
        moved_to=None if moved is None else str(moved),
    )  # fmt: skip


def _index(
    store: Store, file: _Found, user: str, forbidden: Path | None
) -> tuple[Materialization | Problem, int]:
    """Record one version file (or say why not), and how many bytes were hashed."""
    path = store.root / file.path
    try:
        size, version = file_data_version(path)
        if not _same_file(path, file):  # a link swapped in since the walk: not followed
            problem = _link_problem(file.path, os.path.realpath(path), forbidden)
            return problem, size
        if version != file.data_version:
            return Problem(
                MISMATCH, f"hashes to {version}, not to its name: not indexed",
                "it changed after it was written: restore it from a backup, or move it out of "
                "the store (doctor deletes nothing)", file.path, file.key, file.data_version,
            ), size  # fmt: skip
        kind, rows, schema = _describe(path, file.io)
    except Exception as exc:  # an OSError, a JSON or pyarrow error: not what its name says
        return Problem(
            UNREADABLE, f"cannot be read as {file.io} ({exc}): not indexed",
            "restore it from a backup, or move it out of the store (doctor deletes nothing)",
            file.path, file.key, file.data_version,
        ), 0  # fmt: skip
    when = datetime.fromtimestamp(file.mtime_ns / 1e9, UTC).isoformat(timespec="microseconds")
    record = Materialization(
        key=file.key, env=store.env, data_version=version, code_version=UNKNOWN_CODE,
        path=file.path, io=file.io, kind=kind, bytes=size, started_at=when, finished_at=when,
        partition=file.partition, source=REINDEX_SOURCE, rows=rows, schema=schema, user=user,
    )  # fmt: skip
    return store.catalog.record(record), size


def move_aside(store: Store, forbidden: Path | None = None) -> Path:
    """Rename ``store``'s damaged catalog (and SQLite's files beside it) to
    ``catalog.sqlite.damaged-<UTC time>``; return the new path. Nothing is deleted.

    The side files go first: a ``catalog.sqlite`` never stays behind without its ``-wal``
    while a stale ``-wal`` would be left beside a new catalog.
    """
    catalog = store.root / CATALOG_FILE
    refuse_catalog_links(catalog, forbidden)  # a sandbox's catalog is its own file
    store.catalog.close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = catalog.with_name(f"{CATALOG_FILE}.damaged-{stamp}")
    count = 1
    while any(os.path.lexists(f"{target}{end}") for end in ("", *_SIDE_FILES)):
        count += 1
        target = catalog.with_name(f"{CATALOG_FILE}.damaged-{stamp}-{count}")
    for end in (*_SIDE_FILES, ""):
        if os.path.lexists(f"{catalog}{end}"):
            os.rename(f"{catalog}{end}", f"{target}{end}")
    fd = os.open(store.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


# --- the catalog --------------------------------------------------------------------------------


def _catalog_state(
    store: Store, forbidden: Path | None
) -> tuple[str, str, list[Problem], list[Materialization]]:
    """``(state, detail, problems, every record)`` of the store's catalog."""
    path: Path | None = (store.root / CATALOG_FILE).absolute()  # None: not a catalog.sqlite
    path = path if Path(store.catalog.location) == path else None
    if path is not None and not os.path.lexists(path):
        return LOST, f"{path} does not exist", [], []
    if path is not None and path.is_symlink():
        problem = _link_problem(CATALOG_FILE, os.path.realpath(path), forbidden)
        return LINKED, problem.detail, [problem], []
    records: list[Materialization] = []
    try:
        damage = sqlite_file.integrity(path) if path is not None else None
        records = store_records(store) if damage is None else []
    except CatalogDamagedError as exc:
        damage = exc.detail
    except CatalogTooNew as exc:
        fix = "upgrade nbassets (pip install -U nbassets); the catalog is fine: keep it"
        detail = f"is from a newer nbassets: {exc}"
        return NEWER, str(exc), [Problem(CATALOG_NEWER, detail, fix, CATALOG_FILE)], []
    if damage is None:
        return OK, "integrity ok", [], records
    fix = (
        f"`nbassets doctor --env {store.env} --reindex` moves it aside to {CATALOG_FILE}"
        ".damaged-<UTC time> (nothing is deleted) and re-indexes the data files into a new "
        "catalog, provenance marked unknown"
    )
    detail = f"is damaged: {damage}"
    return DAMAGED, damage, [Problem(CATALOG_DAMAGED, detail, fix, CATALOG_FILE)], []


# --- the files ----------------------------------------------------------------------------------


class _Found(NamedTuple):
    """A version file found below ``data/``, as its place and name describe it."""

    path: str
    key: str
    partition: str
    data_version: str
    io: str
    ident: tuple[int, int]  # (device, inode): the file the walk saw
    mtime_ns: int


@dataclass
class _Walk:
    """What is below a store's ``data/``, links not followed."""

    root: Path
    forbidden: Path | None
    versions: dict[str, _Found] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # store-relative -> real path
    strays: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        data = self.root / "data"
        if data.is_symlink():  # data/ elsewhere (a bigger disk) is fine, production is not
            self._link(data, "data")
        if data.is_dir() and "data" not in self.links:
            self._folder(data, ())

    def _folder(self, folder: Path, parts: tuple[str, ...]) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = "/".join(("data", *parts, entry.name))
                if entry.is_symlink():
                    self._link(Path(entry.path), relative)
                elif entry.is_dir(follow_symlinks=False):
                    if (len(parts) == 0 and _valid_key(entry.name)) or (
                        len(parts) == 1 and _PARTITION.match(entry.name)
                    ):
                        self._folder(Path(entry.path), (*parts, entry.name))
                    else:
                        self.strays.append(relative + "/")
                elif "tmp" in entry.name:
                    continue  # a temporary file: a live writer's, or swept by the next writer
                else:
                    self._file(entry, relative, parts)

    def _file(self, entry: os.DirEntry[str], relative: str, parts: tuple[str, ...]) -> None:
        name = _NAME.match(entry.name)
        if not (name and name["ext"] in _IO and parts and entry.is_file(follow_symlinks=False)):
            self.strays.append(relative)
            return
        stat = entry.stat(follow_symlinks=False)
        self.versions[relative] = _Found(
            relative, parts[0], parts[1] if len(parts) > 1 else "", name["version"],
            _IO[name["ext"]], (stat.st_dev, stat.st_ino), stat.st_mtime_ns,
        )  # fmt: skip

    def _link(self, path: Path, relative: str) -> None:
        real = os.path.realpath(path)
        into = self.forbidden is not None and Path(real).is_relative_to(self.forbidden)
        if relative != "data" or into:
            self.links[relative] = real

    def linked(self, path: str) -> str | None:
        """The linked part of ``path`` (itself or a folder above it), if any."""
        parts = path.split("/")
        above = ("/".join(parts[:end]) for end in range(1, len(parts) + 1))
        return next((part for part in above if part in self.links), None)

    def link_problems(self, skip: Sequence[str] = ()) -> list[Problem]:
        return [
            _link_problem(relative, real, self.forbidden)
            for relative, real in self.links.items()
            if relative not in skip
        ]


class _FileCheck:
    """Checks recorded files against their records: place, size, then hash."""

    def __init__(self, store: Store, walk: _Walk, records: list[Materialization]) -> None:
        self.store, self.walk = store, walk
        forgotten = store.catalog.forgotten_before()  # gc may remove all of a forgotten key's files
        self.history = {r.path for r in select_removals(records, 1, forgotten=forgotten)}
        self.problems: list[Problem] = []
        self.linked: list[str] = []
        self.hashed = self.removed = 0

    def file(self, path: str, records: list[Materialization]) -> None:
        record, env = records[-1], self.store.env
        if not is_version_file(record):  # not read from there: nbassets wrote no such record
            detail = "is not data/<key>/[<partition>/]<data_version>.<ext>"
            self._add(NOT_VERSION, record, detail, _rebuild(record.key, env))
            return
        link = self.walk.linked(path)
        if link is not None:
            self.linked.append(link)
            problem = _link_problem(link, self.walk.links[link], self.walk.forbidden)
            self._add(LINK, record, problem.detail, problem.fix)
            return
        full = self.store.root / path
        try:
            size = os.lstat(full).st_size
        except FileNotFoundError:
            if path in self.history:
                self.removed += 1
            else:
                self._add(MISSING, record, "is missing", _rebuild(record.key, env))
            return
        if size != record.bytes:
            detail = _framed(f"is {size:,} bytes, not the {record.bytes:,} recorded", full, record)
            self._add(WRONG_SIZE, record, detail, _restore(record, env))
            return
        try:
            size, version = file_data_version(full)
        except OSError as exc:
            self._add(UNREADABLE, record, f"cannot be read ({exc})", _restore(record, env))
            return
        self.hashed += size
        for each in records:
            if version != each.data_version:
                detail = _framed(f"hashes to {version[:12]}, not to its data version", full, each)
                self._add(MISMATCH, each, detail, _restore(each, env))

    def _add(self, problem: str, m: Materialization, detail: str, fix: str) -> None:
        self.problems.append(Problem(problem, detail, fix, m.path, m.key, m.data_version))


def _framed(detail: str, path: Path, record: Materialization) -> str:
    """``detail``, and what the format's own frame says (a cut-short Parquet, a pickle)."""
    frame = frame_problem(path, record.io, path.stat().st_size)
    return detail if frame is None else f"{detail}; it {frame}"


def _rebuild(key: str, env: str) -> str:
    return (
        f"rebuild {key}: `nbassets materialize --env {env} --select {key}` (or run its cell); "
        "or restore the file from a backup"
    )


def _restore(record: Materialization, env: str) -> str:
    return (
        f"restore the file of {record.key} from a backup, or rebuild {record.key} for a good "
        f"current version (`nbassets materialize --env {env} --select {record.key}`); until "
        "then this version is not the data built (nbassets never rewrites a version file)"
    )


def _link_problem(relative: str, real: str, forbidden: Path | None) -> Problem:
    """A link at ``relative`` (store-relative) that resolves to ``real``."""
    into = forbidden is not None and Path(real).is_relative_to(forbidden)
    where = "inside the production store" if into else "outside the store"
    detail = f"is a symbolic link to {real}, {where}: not followed, not indexed"
    fix = "remove it: nothing below a sandbox leads into production" if into else (
        "replace it with a copy (a store's files are its own)"
    )  # fmt: skip
    return Problem(LINK, detail, fix, relative)


def _same_file(path: Path, file: _Found) -> bool:
    """Whether ``path`` is still the regular file the walk found (no link swapped in)."""
    stat = os.lstat(path)
    return not os.path.islink(path) and (stat.st_dev, stat.st_ino) == file.ident


def _describe(path: Path, io: str) -> tuple[str, int | None, dict[str, str] | None]:
    """``(kind, rows, schema)`` of a version file, as a build would have recorded them.

    Parquet: from its footer alone (pandas dtypes when pandas wrote it, else Arrow types);
    JSON: the length of a list or object; pickle: not read (unpickling runs code), ``None``.
    """
    if io == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as file:
            rows, schema = file.metadata.num_rows, file.schema_arrow
        if schema.pandas_metadata is not None:  # versions of a key share a schema: cached
            return "pandas", rows, dict(_pandas_dtypes(schema.serialize().to_pybytes()))
        return "arrow", rows, {f.name: str(f.type) for f in schema}
    if io == "json":
        value = json.loads(path.read_text(encoding="utf-8"))
        return "json", len(value) if isinstance(value, list | dict) else None, None
    return "pickle", None, None


@functools.lru_cache(maxsize=64)
def _pandas_dtypes(schema: bytes) -> dict[str, str]:
    """The dtypes pandas reads an Arrow schema (serialized, with its pandas metadata) back as."""
    import pyarrow as pa

    frame = pa.ipc.read_schema(pa.py_buffer(schema)).empty_table().to_pandas()
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


def _valid_key(name: str) -> bool:
    return bool(_KEY.match(name)) and not keyword.iskeyword(name)
