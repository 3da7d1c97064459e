"""Garbage collection of version files (which files a store may drop, and dropping them), and
forgetting an asset (after which gc may drop all of its files).

The rule (:func:`select_removals`, pure) has two parts, applied alone or together:

- ``--keep N``: per key and partition, the newest ``N`` materializations are kept;
- ``--orphans``: the keys the caller names as orphaned (held by the store, but no code of
  the project defines or reads them) keep none of theirs.

A key forgotten from the store (``forget``: its latest event is a forget) has no latest to
keep, so every one of its versions may go under either part. In every case a file stays when

- a kept materialization points at it (several materializations may share one file: equal
  bytes, one version), including the latest of each live key;
- a kept materialization of *any* live key read it as an input. Inputs are matched by key
  and data version whatever env they were read from: the data version is the hash of the
  bytes, so this store's file of that version is the very data a kept build read, and
  keeping too much is harmless where removing too much is not. With ``--orphans`` alone,
  every materialization of a live key is kept, so everything they read stays.

Only files the catalog names, under ``data/<key>/[<partition>/]<data_version>.<ext>``,
are ever removed; catalog rows stay (history is immutable), and ``load`` of a removed
version says that ``nbassets gc`` removed it. Files no record names (a writer that died
between its rename and its catalog transaction, or one that is about to record) are
left alone.

:func:`collect` applies the rule to a store (or only lists what it would remove: a dry run,
which the CLI makes the default, DESIGN §4). Just before removing a file it asks the
catalog again whether a build recorded since the plan reuses that file (a rebuild that gave
the same bytes as an old version), and keeps it if so.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..errors import InvalidArgument, ReadOnlyError, UnknownName, did_you_mean
from .catalog import Materialization
from .stores import Store, now


@dataclass(frozen=True)
class Removal:
    """A version file that garbage collection removes (or would remove)."""

    key: str
    data_version: str
    path: str  # relative to the store root, as the catalog records it
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "data_version": self.data_version,
            "path": self.path,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class GcResult:
    """What one ``nbassets gc`` run removed (or, in a dry run, would remove).

    ``keep`` is ``None`` when only orphans were collected; ``orphans`` are the orphaned keys
    the run was given and ``forgotten`` the forgotten keys it found, sorted.
    """

    env: str
    store: str
    keep: int | None
    dry_run: bool
    removed: tuple[Removal, ...]
    orphans: tuple[str, ...] = ()
    forgotten: tuple[str, ...] = ()

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "store": self.store,
            "keep": self.keep,
            "orphans": list(self.orphans),
            "forgotten": list(self.forgotten),
            "dry_run": self.dry_run,
            "files": len(self.removed),
            "bytes": self.bytes,
            "removed": [r.to_dict() for r in self.removed],
        }


def validate_keep(keep: int) -> int:
    """``keep`` if it is at least 1: the latest version of every key always stays."""
    if keep < 1:
        raise InvalidArgument(
            f"--keep {keep}: gc keeps at least the latest version of every asset; "
            "pass --keep 1 or more."
        )
    return keep


def select_removals(
    records: Iterable[Materialization],
    keep: int | None,
    orphans: Collection[str] = (),
    forgotten: Collection[str] = (),
) -> list[Removal]:
    """The version files that may go under ``--keep keep`` and/or ``--orphans``.

    ``records`` are a store's materializations in any order (newer ones have larger ids);
    ``keep`` is ``None`` for no keep rule (every build of a live key stays); ``orphans`` and
    ``forgotten`` keys keep none of their builds. The rules are in the module docstring; the
    result is ordered by key, oldest first.
    """
    if keep is not None:
        validate_keep(keep)
    dead = set(orphans) | set(forgotten)
    groups: dict[tuple[str, str], list[tuple[int, Materialization]]] = {}
    for position, record in enumerate(records):
        age = record.id if record.id is not None else position  # hand-made records: by order
        groups.setdefault((record.key, record.partition), []).append((age, record))
    kept_paths: set[str] = set()
    kept_versions: set[tuple[str, str]] = set()
    old: list[tuple[int, Materialization]] = []
    for (key, _), group in groups.items():
        group.sort(key=lambda item: item[0], reverse=True)
        kept = 0 if key in dead else len(group) if keep is None else keep
        for _, record in group[:kept]:
            kept_paths.add(record.path)
            kept_versions.add((record.key, record.data_version))
            for up, read in record.inputs.items():
                kept_versions.add((up, read.get("data_version", "")))
        old.extend(group[kept:])
    removals: dict[str, Removal] = {}
    for _, record in sorted(old, key=lambda item: (item[1].key, item[1].partition, item[0])):
        if (
            record.path in kept_paths
            or (record.key, record.data_version) in kept_versions
            or record.path in removals
            or not is_version_file(record)
        ):
            continue
        removals[record.path] = Removal(record.key, record.data_version, record.path, record.bytes)
    return list(removals.values())


def is_version_file(record: Materialization) -> bool:
    """Whether ``record.path`` is ``data/<key>/[<partition>/]<data_version>.<ext>``."""
    path = PurePosixPath(record.path)
    parts = path.parts
    return (
        len(parts) in (3, 4)
        and parts[0] == "data"
        and parts[1] == record.key
        and not any(part in ("", ".", "..") for part in parts)
        and path.stem == record.data_version
        and path.suffix != ""
        and "tmp" not in path.name
    )


def store_records(store: Store) -> list[Materialization]:
    """Every materialization recorded in ``store``'s catalog, of forgotten keys too."""
    records: list[Materialization] = []
    for key in sorted(store.catalog.keys() | store.catalog.forgotten_before().keys()):
        records.extend(store.catalog.history(key, limit=sys.maxsize))
    return records


def collect(
    store: Store,
    keep: int | None,
    *,
    orphans: Collection[str] = (),
    dry_run: bool = False,
) -> GcResult:
    """Remove the version files :func:`select_removals` lets go from ``store`` (none in a dry
    run, which only lists them).

    Files already gone (an earlier gc) are not counted; the sizes reported are the
    sizes the catalog recorded (the files' sizes: a version's bytes never change).
    """
    if keep is not None:
        validate_keep(keep)
    if not dry_run and not store.writable:
        raise ReadOnlyError(f"{store!r} is open read-only; gc needs it opened for writing.")
    forgotten = sorted(store.catalog.forgotten_before())
    records = store_records(store)
    newest: dict[tuple[str, str], int] = {}
    for r in records:
        version = (r.key, r.data_version)
        newest[version] = max(newest.get(version, 0), r.id or 0)
    removed: list[Removal] = []
    for removal in select_removals(records, keep, orphans, forgotten):
        if dry_run:
            if not store.storage.exists(removal.path):
                continue  # removed by an earlier gc
        elif _reused_since(store, removal, newest) or not store.storage.remove(removal.path):
            continue  # reused by a build since the plan, or removed by an earlier gc
        removed.append(removal)
    return GcResult(
        store.env,
        str(store.root),
        keep,
        dry_run,
        tuple(removed),
        tuple(sorted(orphans)),
        tuple(forgotten),
    )


def _reused_since(store: Store, removal: Removal, newest: dict[tuple[str, str], int]) -> bool:
    """Whether a build recorded after the plan points at this version (same bytes again)."""
    latest = store.catalog.version(removal.key, removal.data_version)
    planned = newest.get((removal.key, removal.data_version), 0)
    return latest is not None and (latest.id or 0) > planned


# --- forget -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forgotten:
    """An asset ``forget`` dropped from a store, and the version files it leaves to gc."""

    env: str
    store: str
    key: str
    versions: int  # its recorded builds: the history that stays
    files: tuple[Removal, ...]  # its version files still present

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "store": self.store,
            "key": self.key,
            "versions": self.versions,
            "files": [r.to_dict() for r in self.files],
            "bytes": self.bytes,
        }


def require_held(store: Store, key: str, where: str) -> None:
    """Refuse ``key`` (:class:`UnknownName`) unless ``store`` holds it now; ``where`` names
    the store for people (``env 'ci-1'``, ``sandbox 'dev-ann-main'``)."""
    held = store.catalog.keys()
    if key in held:
        return
    if key in store.catalog.forgotten_before():
        raise UnknownName(
            f"asset {key!r} was forgotten in {where} already: it holds no current version. "
            f"Its history stays (`nbassets history {key} --env {store.env}`); a new build "
            "brings it back."
        )
    raise UnknownName(
        f"asset {key!r} is not in {where} ({store.root}).{did_you_mean(key, held)} "
        f"`nbassets status --env {store.env}` lists the assets the env sees."
    )


def only_in(store: Store, other: Store, key: str) -> bool:
    """Whether ``store`` holds ``key`` and ``other`` does not (a key only production holds)."""
    held, elsewhere = store.catalog.keys(), other.catalog.keys()
    return key in held and key not in elsewhere


def forget(store: Store, key: str, user: str | None, where: str) -> Forgotten:
    """Drop ``key`` from ``store`` (DESIGN §3 ``%forget``): a tombstone in its catalog.

    From then on status, lineage and input resolution do not see it (an env over production
    reads production's again); its records stay as history, and its files stay until gc (a
    forgotten key has no latest to keep). A later build brings it back.
    """
    if not store.writable:
        raise ReadOnlyError(f"{store!r} is open read-only; forget needs it opened for writing.")
    require_held(store, key, where)
    records = store.catalog.history(key, limit=sys.maxsize)
    store.catalog.forget(key, store.env, user, now())
    versions = [r for r in records if is_version_file(r)]
    sizes = store.storage.sizes(r.path for r in versions)
    files: dict[str, Removal] = {}
    for r in reversed(versions):  # oldest first
        if sizes.get(r.path) is not None and r.path not in files:
            files[r.path] = Removal(r.key, r.data_version, r.path, r.bytes)
    return Forgotten(store.env, str(store.root), key, len(records), tuple(files.values()))
