"""The PostgreSQL catalog's schema and its migrations: the SQLite catalog's tables, in schema
``nbassets`` of the database, with the version kept in ``nbassets.catalog_info``.

The tables and columns are the SQLite catalog's (:mod:`~nbassets.store.sqlite_file`), so a
query written for one reads the other (``"user"`` and ``"commit"`` quoted). Differences, each
for a guarantee PostgreSQL gives in its own way:

- ids are identity columns and ``seq`` comes from one sequence, ``nbassets.record_seq``, shared
  by materializations, failures and forgets;
- every write transaction first takes one advisory lock (:data:`WRITE_LOCK`), so ids and ``seq``
  are handed out in commit order, as under SQLite's write lock: a record committed later always
  has the higher number, and "latest" never goes back;
- the ``heads`` tables are kept by PL/pgSQL triggers in each insert's transaction.

Migrations follow the SQLite catalog's rule: :data:`STEPS` maps a schema version to the
statements that reach it from the one before; :func:`upgrade` runs those still due and records
the version, under the write lock, in one transaction (PostgreSQL's DDL is transactional), on
a writer's first use. PostgreSQL catalogs start at version 6: the first step creates it whole.
"""

from __future__ import annotations

from typing import Any

APPLICATION_ID = 0x6E624173  # "nbAs", as the SQLite catalog's application_id
SCHEMA = "nbassets"
WRITE_LOCK = APPLICATION_ID  # pg_advisory_xact_lock key: one writer of a catalog at a time

_V6 = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"SET LOCAL search_path = {SCHEMA}",
    "CREATE TABLE catalog_info (application_id BIGINT NOT NULL, schema_version INTEGER NOT NULL)",
    "CREATE SEQUENCE record_seq",
    """CREATE TABLE materializations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    partition TEXT NOT NULL DEFAULT '',
    data_version TEXT NOT NULL,
    code_version TEXT NOT NULL,
    "commit" TEXT,
    dirty INTEGER,
    source TEXT,
    inputs TEXT NOT NULL DEFAULT '{}',
    rows BIGINT,
    schema TEXT,
    bytes BIGINT NOT NULL,
    path TEXT NOT NULL,
    io TEXT NOT NULL,
    kind TEXT NOT NULL,
    "user" TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    seq BIGINT NOT NULL DEFAULT nextval('record_seq'),
    code TEXT,
    rollback_of TEXT
)""",
    "CREATE INDEX materializations_by_key ON materializations (key, partition, id)",
    "CREATE INDEX materializations_by_version ON materializations (key, data_version)",
    "CREATE UNIQUE INDEX materializations_by_seq ON materializations (seq)",
    """CREATE TABLE failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    partition TEXT NOT NULL DEFAULT '',
    code_version TEXT,
    error TEXT NOT NULL,
    source TEXT,
    "user" TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    seq BIGINT NOT NULL DEFAULT nextval('record_seq')
)""",
    "CREATE INDEX failures_by_key ON failures (key, partition, id)",
    "CREATE UNIQUE INDEX failures_by_seq ON failures (seq)",
    """CREATE TABLE forgets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq BIGINT NOT NULL DEFAULT nextval('record_seq'),
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    "user" TEXT,
    at TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX forgets_by_seq ON forgets (seq)",
    "CREATE INDEX forgets_by_key ON forgets (key, seq)",
    """CREATE TABLE check_results (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL,
    data_version TEXT NOT NULL,
    env TEXT NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,
    passed INTEGER NOT NULL,
    failing_rows BIGINT,
    sample TEXT NOT NULL DEFAULT '[]',
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    seconds DOUBLE PRECISION NOT NULL,
    checked_at TEXT NOT NULL
)""",
    "CREATE INDEX check_results_by_version ON check_results (data_version, key, name, id)",
    """CREATE TABLE test_results (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    code_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    env TEXT NOT NULL,
    source TEXT,
    "user" TEXT,
    seconds DOUBLE PRECISION NOT NULL,
    at TEXT NOT NULL,
    test_version TEXT NOT NULL DEFAULT ''
)""",
    "CREATE INDEX test_results_by_key ON test_results (key, name, code_version, id)",
    *(
        f"""CREATE TABLE {heads} (
    key TEXT NOT NULL,
    partition TEXT NOT NULL,
    id BIGINT NOT NULL,
    PRIMARY KEY (key, partition)
)"""
        for heads in ("heads", "failure_heads")
    ),
    *(
        statement
        for table, heads in (("materializations", "heads"), ("failures", "failure_heads"))
        for statement in (
            f"""CREATE FUNCTION {table}_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {SCHEMA}.{heads} AS h (key, partition, id)
    VALUES (NEW.key, NEW.partition, NEW.id)
    ON CONFLICT (key, partition) DO UPDATE SET id = EXCLUDED.id WHERE h.id < EXCLUDED.id;
    RETURN NULL;
END
$$""",
            f"CREATE TRIGGER {table}_head AFTER INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_head()",
        )
    ),
    """CREATE TABLE incidents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    env TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    opened_at TEXT NOT NULL,
    closed_at TEXT
)""",
    "CREATE INDEX incidents_open ON incidents (env, closed_at, key, kind)",
    f"INSERT INTO catalog_info (application_id, schema_version) VALUES ({APPLICATION_ID}, 0)",
)

# version reached -> the statements that reach it from the version before (0: no catalog yet)
STEPS: dict[int, tuple[str, ...]] = {6: _V6}
SCHEMA_VERSION = max(STEPS)


def found_version(conn: Any) -> int | None:
    """The catalog's schema version: 0 when the database holds no catalog yet (no schema
    ``nbassets``, or an empty one), None when schema ``nbassets`` holds tables but no
    catalog of ours; raises nothing itself."""
    row = conn.execute(
        "SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, "
        "(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s)",
        (SCHEMA, f"{SCHEMA}.catalog_info", SCHEMA),
    ).fetchone()
    has_schema, has_info, objects = row
    if not has_schema or (not has_info and objects == 0):
        return 0
    if not has_info:
        return None
    info = conn.execute(f"SELECT application_id, schema_version FROM {SCHEMA}.catalog_info")
    info = info.fetchall()
    if len(info) != 1 or info[0][0] != APPLICATION_ID:
        return None
    return int(info[0][1])


def upgrade(conn: Any) -> int | None:
    """Bring the catalog to :data:`SCHEMA_VERSION` in one transaction, under the write lock;
    its version now (as :func:`found_version`: a damaged or newer one is left as it is, for
    the caller to refuse). Two writers racing: the second finds the new version and does
    nothing. ``conn`` is in autocommit mode, outside a transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        version = found_version(conn)
        if version is None or version >= SCHEMA_VERSION:
            return version
        for target in sorted(STEPS):
            if target > version:
                for statement in STEPS[target]:
                    conn.execute(statement)
                conn.execute(f"UPDATE {SCHEMA}.catalog_info SET schema_version = {target}")
    return SCHEMA_VERSION
