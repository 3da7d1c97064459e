"""The errors nbassets raises, one hierarchy so callers can catch what they mean.

    NbAssetsError
    ├── ConfigError            pyproject [tool.nbassets] or an env name is wrong
    ├── SpecError              an %%asset line or body is wrong (bad key, option, no value)
    │   └── InvalidAssetKey
    ├── DependencyError        unknown dependency, cycle, input with no stored version
    │   └── CycleError
    ├── InvalidArgument        a command's argument or option value is not allowed
    │   └── UnknownName        it names an asset, column or env that does not exist
    ├── ProductionWriteError   the production policy refuses a write (DESIGN §2)
    ├── CatalogDamagedError    a catalog.sqlite is not a valid nbassets database (or is empty)
    ├── StorageError           a value cannot be serialized, read back or written
    │   ├── ReadOnlyError      a write to a store or catalog opened read-only
    │   ├── ReadOnlyFilesystem the store's folder is on a filesystem mounted read-only
    │   ├── StorePermissionDenied  this user may not read or write a store file or folder
    │   ├── StoreFull          the disk holding the store has no space left
    │   ├── CatalogLocked      another process held the catalog's write lock past the busy timeout
    │   ├── CatalogTooNew      the catalog was written by a newer nbassets (newer schema version)
    │   └── VersionDamaged     a version's file is not the file recorded (wrong size, cut short)
    ├── AssetNotFound          no such asset or version in a store
    ├── CheckFailed            an error-severity check failed (the asset is check-failed)
    └── MaterializeFailed      a %materialize built some assets, and some failed or were skipped

Edges map them in one place each: the magics turn them into ``UsageError`` (no traceback)
unless the user's own code raised them; the CLI exits 2 for ``ConfigError``, ``SpecError``
and ``InvalidArgument`` (what was typed is wrong) and 1 for the rest (something failed).

Every message names the thing, says what was wrong, and how to fix it.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable, Mapping
from typing import Any


class NbAssetsError(Exception):
    """Base class of every error nbassets raises on purpose."""


class ConfigError(NbAssetsError):
    """The project's configuration or an environment name is invalid."""


class SpecError(NbAssetsError):
    """An asset declaration (magic line or cell body) is invalid."""


class InvalidAssetKey(SpecError):
    """An asset key does not match ``[a-z_][a-z0-9_]{0,63}`` or is a Python keyword."""


class DependencyError(NbAssetsError):
    """A dependency is unknown or cannot be resolved to a stored version."""


class CycleError(DependencyError):
    """The dependency graph has a cycle."""

    def __init__(self, cycle: list[str]) -> None:
        """``cycle`` lists keys in data-flow order (each feeds the next, the last the first)."""
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        self.cycle = cycle
        path = " -> ".join([*cycle, cycle[0]])
        super().__init__(
            f"dependency cycle: {path}. An asset cannot (indirectly) read itself: "
            "remove one of these references or rename the value it reads."
        )


class InvalidArgument(NbAssetsError):
    """A command's argument or option value is not allowed (``--keep 0``, a bad age)."""


class UnknownName(InvalidArgument):
    """A command names an asset, column or env that does not exist."""


class ProductionWriteError(NbAssetsError):
    """The production policy refuses a write (from a notebook, a dirty tree, another branch)."""


class CatalogDamagedError(NbAssetsError):
    """A catalog file exists but is not a valid nbassets database; the recovery it names is
    ``nbassets doctor --env ENV --reindex``."""

    def __init__(self, path: object, detail: str) -> None:
        self.path = path
        self.detail = detail
        folder = os.path.dirname(str(path)) or "."
        super().__init__(
            f"the catalog {path} is damaged ({detail}); nbassets will not repair or replace it "
            "silently. Recover with `nbassets doctor --env ENV --reindex` (ENV: the env whose "
            f"store is {folder}): it moves the file aside to catalog.sqlite.damaged-<UTC time> "
            "(deleting nothing) and re-indexes the data files beside it into a new catalog, "
            f"provenance marked unknown. By hand: mv '{path}' '{path}.damaged' (and its -wal "
            "and -shm files, if any), then `nbassets doctor --env ENV` re-indexes."
        )


class StorageError(NbAssetsError):
    """A value could not be written to, or read from, a store."""


class ReadOnlyError(StorageError, PermissionError):
    """A write to a store or catalog that was opened read-only (also a ``PermissionError``)."""


class ReadOnlyFilesystem(StorageError):
    """The store's folder is on a filesystem mounted read-only (``EROFS``)."""

    def __init__(self, path: object) -> None:
        self.path = path
        super().__init__(
            f"cannot write {path}: it is on a read-only file system. Nothing was written and "
            "the store is intact (reads still work). Remount that filesystem read-write, or "
            "write elsewhere: another env, or point prod / sandbox_root in [tool.nbassets] at "
            "a writable folder."
        )


class StorePermissionDenied(StorageError):
    """This user may not read or write a store's file or folder (``EACCES``/``EPERM``)."""

    def __init__(self, path: object, user: str, action: str) -> None:
        self.path = path
        super().__init__(
            f"permission denied: user {user!r} may not {action} {path}. Nothing was written "
            "and the store is intact. Run as the store's owner, or have its owner grant "
            f"access (chmod/chown the store folder and its files; ls -l '{path}' shows them)."
        )


class StoreFull(StorageError):
    """The disk holding a store has no space left (``ENOSPC``, ``SQLITE_FULL``)."""

    def __init__(self, path: object) -> None:
        self.path = path
        super().__init__(
            f"cannot write {path}: no space left on its disk. Nothing was recorded and the "
            "store's history is intact; free space on that disk (`nbassets gc --keep N "
            "--env E` lists old version files and `--yes` removes them, keeping their "
            "records; `df -h` shows the disk), then retry."
        )


class ObjectDamaged(StorageError):
    """A version's bytes, fetched from remote storage, do not hash to the data version they are
    named by: the remote object (not the local copy) is damaged."""


class VersionDamaged(StorageError):
    """A version's file is not the file its record describes: another size, or its format's
    own frame (the Parquet footer, the pickle STOP) is cut short or broken."""

    def __init__(self, key: str, data_version: str, path: object, detail: str) -> None:
        self.path = path
        super().__init__(
            f"version {data_version[:12]} of asset {key!r} is damaged: its file {path} "
            f"{detail}. nbassets never rewrites a version file, so something outside it "
            "(a disk error, a copy cut short, an edit) changed it: rebuild the asset to store "
            f"a good version (`nbassets materialize --select {key}`, or run its cell), or "
            "restore the file from a backup; `nbassets gc --keep N` never removes a current "
            "version (only `gc --orphans` and a forgotten asset's versions do), "
            "and other versions stay readable. `nbassets doctor --env ENV` checks every version "
            "of a store."
        )


class CatalogLocked(StorageError):
    """Another process held the catalog's write lock for longer than the busy timeout."""

    def __init__(self, path: object, timeout: float) -> None:
        self.path = path
        super().__init__(
            f"the catalog {path} is locked: another process held its write lock for more "
            f"than {timeout:g} s. Nothing was written and the catalog itself is fine. Retry once "
            f"it finishes, or find it (`fuser '{path}'`) and end it; NBASSETS_BUSY_TIMEOUT "
            "(seconds) sets how long to wait."
        )


class CatalogTooNew(StorageError):
    """The catalog's schema version is newer than this nbassets understands."""

    def __init__(self, path: object, version: int, supported: int) -> None:
        self.path = path
        super().__init__(
            f"the catalog {path} has schema version {version}, written by a newer nbassets; "
            f"this nbassets understands version {supported} at most. Nothing was written; "
            "upgrade nbassets (pip install -U nbassets) to use it. The catalog itself is "
            "fine: keep it where it is."
        )


class AssetNotFound(NbAssetsError):
    """The requested asset or version does not exist in the store."""


def os_error(path: object, exc: OSError, action: str = "write") -> StorageError | None:
    """The precise error for an ``OSError`` met while trying to ``action`` ``path``, if one fits."""
    if exc.errno == errno.EROFS:
        return ReadOnlyFilesystem(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StorePermissionDenied(path, current_os_user(), action)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StoreFull(path)
    return None


def current_os_user() -> str:
    """The name of the operating-system user this process runs as (for permission errors)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # no pwd module (Windows) or no passwd entry
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class CheckFailed(NbAssetsError):
    """An error-severity check failed: shown, then raised so that Run All stops."""

    def __init__(self, results: Iterable[Any]) -> None:
        """``results`` are check results; only the blocking ones are kept and named."""
        self.results = [r for r in results if r.blocking]
        names = ", ".join(
            f"{r.key}: {r.name}" + (f" ({r.error or r.message})" if r.error or r.message else "")
            for r in self.results
        )
        broken = all(r.error is not None for r in self.results)  # the check could not run
        advice = (
            "Fix the check: the asset is check-failed until it runs."
            if broken
            else "The asset is check-failed until its data or the check changes; "
            "severity='warn' only warns."
        )
        super().__init__(f"{len(self.results)} error-severity check(s) failed: {names}. {advice}")


class MaterializeFailed(NbAssetsError):
    """A ``%materialize`` had failed builds or failed error checks (their downstream skipped)."""

    def __init__(
        self, failed: Mapping[str, str], check_failed: Iterable[str], skipped: Iterable[str]
    ) -> None:
        self.failed, self.check_failed, self.skipped = (
            dict(failed),
            list(check_failed),
            list(skipped),
        )
        parts = []
        if self.failed:
            detail = "; ".join(f"{key}: {error}" for key, error in self.failed.items())
            parts.append(f"{len(self.failed)} failed ({detail})")
        if self.check_failed:
            parts.append(f"error-severity checks failed on {', '.join(self.check_failed)}")
        skip = f" Skipped downstream: {', '.join(self.skipped)}." if self.skipped else ""
        super().__init__(
            f"%materialize: {'; '.join(parts)}.{skip} Fix those assets (or their checks), "
            "then run `%materialize --stale` to build what is left."
        )
