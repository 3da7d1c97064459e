"""The errors nbassets raises, one hierarchy so callers can catch what they mean.

    NbAssetsError
    ├── ConfigError            pyproject [tool.nbassets] or an env name is wrong
    ├── SpecError              an %%asset line or body is wrong (bad key, option, no value)
    │   └── InvalidAssetKey
    ├── DependencyError        unknown dependency, cycle, input with no stored version
    │   └── CycleError
    ├── ProductionWriteError   something tried to write production from a notebook
    ├── CatalogDamagedError    a catalog.sqlite is not a valid nbassets database
    ├── StorageError           a value cannot be serialized or read back
    └── AssetNotFound          no such asset or version in a store

Every message names the thing, says what was wrong, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class ProductionWriteError(NbAssetsError):
    """A write to the production store was attempted from a notebook kernel."""


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


class AssetNotFound(NbAssetsError):
    """The requested asset or version does not exist in the store."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
