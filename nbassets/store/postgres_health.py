"""Is a PostgreSQL catalog whole, as the database itself can tell (``nbassets doctor``).

:func:`catalog_health` opens its own read-only session and checks, without writing anything:
the schema version in ``nbassets.catalog_info`` (none, ours, newer), that every table and the
sequence the schema's migrations create are there and readable, and that the ``heads`` tables
the triggers keep agree with the newest record of each key and partition. The URL is the
catalog's ``location`` (no password: ``PGPASSWORD`` or ``~/.pgpass`` give it, as for the
catalog itself); every failure is said as :mod:`~nbassets.store.postgres_errors` says it.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ..errors import NbAssetsError
from . import postgres_schema as schema
from .postgres_errors import PostgresCatalogDamaged, translated

OK, LOST, DAMAGED, NEWER, UNREACHABLE = "ok", "lost", "damaged", "newer", "unreachable"
_CREATED = re.compile(r"^\s*CREATE (TABLE|SEQUENCE) (\w+)")
_HEADS = {"heads": "materializations", "failure_heads": "failures"}
_CONNECT_TIMEOUT = 10  # seconds


class CatalogHealth(NamedTuple):
    """What the database says about its catalog: a state (:data:`OK`, :data:`LOST`: no
    catalog in it, :data:`DAMAGED`, :data:`NEWER`, :data:`UNREACHABLE`) and what was found."""

    state: str
    detail: str


def expected_relations() -> list[str]:
    """The tables and sequences the schema's migrations create, in order."""
    found = (_CREATED.match(statement) for step in schema.STEPS.values() for statement in step)
    return [match[2] for match in found if match]


def catalog_health(location: str) -> CatalogHealth:
    """Check the catalog in the database ``location`` (read-only, its own session)."""
    import psycopg

    try:
        with translated(location, "read"):
            conn = psycopg.connect(
                location,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT,
                options="-c default_transaction_read_only=on",
                application_name="nbassets doctor",
            )
    except NbAssetsError as exc:
        return CatalogHealth(UNREACHABLE, str(exc))
    try:
        with translated(location, "read"):
            return _health(conn)
    except PostgresCatalogDamaged as exc:  # a table or column gone while reading
        return CatalogHealth(DAMAGED, exc.detail)
    except NbAssetsError as exc:  # a privilege refused, the connection lost
        return CatalogHealth(UNREACHABLE, str(exc))
    finally:
        conn.close()


def _health(conn: Any) -> CatalogHealth:
    version = schema.found_version(conn)
    if version == 0:
        return CatalogHealth(LOST, f"the database holds no nbassets catalog (no {schema.SCHEMA}."
                             "catalog_info)")  # fmt: skip
    if version is None:
        detail = f"schema {schema.SCHEMA} holds tables but no nbassets catalog_info"
        return CatalogHealth(DAMAGED, detail)
    if version > schema.SCHEMA_VERSION:
        detail = (
            f"schema version {version}, newer than this nbassets reads ({schema.SCHEMA_VERSION})"
        )
        return CatalogHealth(NEWER, detail)
    relations = expected_relations()
    missing = [name for name in relations if not _exists(conn, name)]
    if missing:
        return CatalogHealth(DAMAGED, f"missing from schema {schema.SCHEMA}: {', '.join(missing)}")
    tables = [name for name in relations if _is_table(conn, name)]
    for table in tables:  # readable: a privilege refused raises here
        conn.execute(f"SELECT 1 FROM {schema.SCHEMA}.{table} LIMIT 1")
    for heads, records in _HEADS.items():
        wrong = _heads_disagreeing(conn, heads, records)
        if wrong:
            return CatalogHealth(
                DAMAGED,
                f"{heads} disagrees with {records} for {wrong} key/partition pair(s) (the "
                "newest record of each is not the one it names)",
            )
    older = " (the next build migrates it)" if version < schema.SCHEMA_VERSION else ""
    return CatalogHealth(
        OK,
        f"PostgreSQL schema version {version}{older}, {len(tables)} tables readable, heads agree",
    )


def _exists(conn: Any, name: str) -> bool:
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{schema.SCHEMA}.{name}",)
    ).fetchone()
    return bool(row[0])


def _is_table(conn: Any, name: str) -> bool:
    row = conn.execute(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (f"{schema.SCHEMA}.{name}",)
    ).fetchone()
    return row is not None and row[0] == "r"


def _heads_disagreeing(conn: Any, heads: str, records: str) -> int:
    """How many (key, partition) pairs ``heads`` names another row than their newest record."""
    row = conn.execute(
        f"SELECT count(*) FROM (SELECT key, partition, max(id) AS id FROM {schema.SCHEMA}."
        f"{records} GROUP BY key, partition) m FULL JOIN {schema.SCHEMA}.{heads} h "
        "USING (key, partition) WHERE m.id IS DISTINCT FROM h.id"
    ).fetchone()
    return int(row[0])
