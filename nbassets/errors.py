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
    ├── CatalogDamagedError    a catalog.sqlite is not a valid nbassets database
    ├── StorageError           a value cannot be serialized or read back
    │   └── ReadOnlyError      a write to a store or catalog opened read-only
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
    """A catalog file exists but is not a valid nbassets database."""

    def __init__(self, path: object, detail: str) -> None:
        self.path = path
        super().__init__(
            f"the catalog {path} is damaged ({detail}); nbassets will not repair or replace it "
            f"silently. To start a fresh catalog while keeping the data files, move it aside: "
            f"mv '{path}' '{path}.damaged'"
        )


class StorageError(NbAssetsError):
    """A value could not be written to, or read from, a store."""


class ReadOnlyError(StorageError, PermissionError):
    """A write to a store or catalog that was opened read-only (also a ``PermissionError``)."""


class AssetNotFound(NbAssetsError):
    """The requested asset or version does not exist in the store."""


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
        super().__init__(
            f"{len(self.results)} error-severity check(s) failed: {names}. The asset is "
            "check-failed until its data or the check changes; severity='warn' only warns."
        )


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
        super().__init__(f"%materialize: {'; '.join(parts)}.{skip}")
