"""Alert incidents in an env's catalog (schema 6): which (key, kind) problems are open.

An incident opens when a problem is first seen and closes when a later run finds it gone;
the alert and the recovery notice go out on those two transitions only
(:mod:`nbassets.alerts`). This is the one table of the catalog whose rows change: a
closed incident gets its ``closed_at``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from pathlib import Path

from ..errors import ReadOnlyError, StorageError
from . import sqlite_file
from .catalog import Catalog

IncidentKey = tuple[str, str]  # (asset key, kind): kind is check, build or late


def _path(catalog: Catalog) -> Path:
    return Path(catalog.location)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=sqlite_file.busy_timeout())


def open_incidents(catalog: Catalog, env: str) -> dict[IncidentKey, str]:
    """The incidents open in ``env``: ``{(key, kind): message}`` (empty before schema 6)."""
    path = _path(catalog)
    if not path.exists():
        return {}
    with sqlite_file.translated(path, "read", catalog.writable), closing(_connect(path)) as conn:
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) < 6:
            return {}
        rows = conn.execute(
            "SELECT key, kind, message FROM incidents WHERE env = ? AND closed_at IS NULL "
            "ORDER BY id",
            (env,),
        ).fetchall()
    return {(key, kind): message for key, kind, message in rows}


def record_incidents(
    catalog: Catalog,
    env: str,
    opened: Mapping[IncidentKey, str],
    closed: Iterable[IncidentKey],
    at: str,
) -> None:
    """Open the incidents ``opened`` and close ``closed``, in one transaction.

    Only a writable catalog (a write grant's store) records; ``ready()`` brings it to schema 6.
    """
    if not catalog.writable:
        raise ReadOnlyError(f"catalog {catalog.location} is open read-only")
    catalog.ready()
    path = _path(catalog)
    if not path.is_file():
        raise StorageError(
            f"the catalog {catalog.location} keeps no alert incidents (only a SQLite catalog "
            "does); configure [tool.nbassets.alerts] for a store with catalog.sqlite."
        )
    with sqlite_file.translated(path, "write", True), closing(_connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "UPDATE incidents SET closed_at = ? WHERE env = ? AND key = ? AND kind = ? "
                "AND closed_at IS NULL",
                [(at, env, key, kind) for key, kind in closed],
            )
            conn.executemany(
                "INSERT INTO incidents (env, key, kind, message, opened_at) VALUES (?,?,?,?,?)",
                [(env, key, kind, message, at) for (key, kind), message in opened.items()],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
