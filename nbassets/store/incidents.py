"""Alert incidents of an env's catalog: which (key, kind) problems are open.

An incident opens when a problem is first seen and closes when a later run finds it gone;
the alert and the recovery notice go out on those two transitions only
(:mod:`nbassets.alerts`). Every catalog keeps them (:meth:`Catalog.open_incidents`,
:meth:`Catalog.record_incidents`); these two functions are the callers' door to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import ReadOnlyError
from .catalog import Catalog, IncidentKey

__all__ = ["IncidentKey", "open_incidents", "record_incidents"]


def open_incidents(catalog: Catalog, env: str) -> dict[IncidentKey, str]:
    """The incidents open in ``env``: ``{(key, kind): message}`` (empty before schema 6)."""
    return catalog.open_incidents(env)


def record_incidents(
    catalog: Catalog,
    env: str,
    opened: Mapping[IncidentKey, str],
    closed: Iterable[IncidentKey],
    at: str,
) -> None:
    """Open the incidents ``opened`` and close ``closed``, in one transaction.

    Only a writable catalog (a write grant's store) records.
    """
    if not catalog.writable:
        raise ReadOnlyError(f"catalog {catalog.location} is open read-only")
    catalog.record_incidents(env, opened, closed, at)
