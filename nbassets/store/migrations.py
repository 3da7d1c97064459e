"""The catalog's schema migrations: version N to N + 1, all applied in one transaction.

``MIGRATIONS[i]`` takes a catalog from schema version ``i + 1`` (``PRAGMA user_version``) to
``i + 2``. :func:`upgrade` takes the write lock (``BEGIN IMMEDIATE``), reads the version
again under it (two writers racing to migrate: the second finds the new version and does
nothing), runs every migration still due and sets the new version, in one transaction: a
failure anywhere (a full disk, a clash with a table added by hand) rolls everything back
and leaves the catalog exactly as it was. Only a writable catalog migrates, when it is
first used; a read-only open never writes, so a catalog read from a notebook keeps its
version until a writer opens it.

A released migration never changes: it is what that version added. New catalogs are
created whole at the latest schema (``sqlite_file``), written so that a migrated catalog
has exactly the same ``sqlite_master`` (a test compares them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]

# -- 1 -> 2: one sequence for materializations, failures and forgets (DESIGN §2: the catalog's
# own order decides which record is newer, never clocks), and the forgets table.
_NEXT_SEQ_V2 = (
    "(SELECT 1 + max(coalesce((SELECT max(seq) FROM materializations), 0), "
    "coalesce((SELECT max(seq) FROM failures), 0), coalesce((SELECT max(seq) FROM forgets), 0)))"
)
_V2_OBJECTS = (
    "CREATE UNIQUE INDEX materializations_by_seq ON materializations (seq)",
    "CREATE UNIQUE INDEX failures_by_seq ON failures (seq)",
    """CREATE TABLE forgets (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    env TEXT NOT NULL,
    user TEXT,
    at TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX forgets_by_seq ON forgets (seq)",
    "CREATE INDEX forgets_by_key ON forgets (key, seq)",
    # a row inserted without a seq (an older nbassets whose connection predates this
    # migration) still gets the next one
    "CREATE TRIGGER materializations_seq AFTER INSERT ON materializations WHEN NEW.seq IS NULL "
    f"BEGIN UPDATE materializations SET seq = {_NEXT_SEQ_V2} WHERE id = NEW.id; END",
    "CREATE TRIGGER failures_seq AFTER INSERT ON failures WHEN NEW.seq IS NULL "
    f"BEGIN UPDATE failures SET seq = {_NEXT_SEQ_V2} WHERE id = NEW.id; END",
)


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE materializations ADD COLUMN seq INTEGER")
    conn.execute("ALTER TABLE failures ADD COLUMN seq INTEGER")
    built = conn.execute("SELECT id, finished_at FROM materializations ORDER BY id").fetchall()
    failed = conn.execute("SELECT id, finished_at FROM failures ORDER BY id").fetchall()
    built_seqs, failed_seqs = interleave(built, failed)
    conn.executemany("UPDATE materializations SET seq = ? WHERE id = ?", built_seqs)
    conn.executemany("UPDATE failures SET seq = ? WHERE id = ?", failed_seqs)
    for statement in _V2_OBJECTS:
        conn.execute(statement)


def interleave(
    built: Sequence[tuple[int, str]], failed: Sequence[tuple[int, str]]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Sequence numbers ``(seq, id)`` for materializations and failures that predate the
    sequence, from their ``(id, finished_at)`` in id order.

    Each table keeps its id order (the order it was recorded in). Between the two tables
    the catalog recorded no order: the earlier ``finished_at`` goes first, a failure first
    on a tie (a tie never read as "failed since"). Those clocks are the best information
    such records have; every record made after the migration is ordered by the sequence.
    """
    built_seqs: list[tuple[int, int]] = []
    failed_seqs: list[tuple[int, int]] = []
    i = j = 0
    while i < len(built) or j < len(failed):
        seq = i + j + 1
        if j < len(failed) and (i == len(built) or failed[j][1] <= built[i][1]):
            failed_seqs.append((seq, failed[j][0]))
            j += 1
        else:
            built_seqs.append((seq, built[i][0]))
            i += 1
    return built_seqs, failed_seqs


# -- 2 -> 3: the verify phase: each materialization's function source (a review's code diff needs
# no git history) and the outcomes of unit tests.
_V3_OBJECTS = (
    "ALTER TABLE materializations ADD COLUMN code TEXT",
    """CREATE TABLE test_results (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    code_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    env TEXT NOT NULL,
    source TEXT,
    user TEXT,
    seconds REAL NOT NULL,
    at TEXT NOT NULL,
    test_version TEXT NOT NULL DEFAULT ''
)""",
    "CREATE INDEX test_results_by_key ON test_results (key, name, code_version, id)",
)


def _v2_to_v3(conn: sqlite3.Connection) -> None:
    for statement in _V3_OBJECTS:
        conn.execute(statement)


# -- 3 -> 4: the latest record of each key and partition, kept by triggers in the transaction of
# each insert (whoever inserts, an older nbassets too), so "latest" never scans the history.
# Only ids: the record's other columns (``seq`` too, which a trigger may set after this one)
# are one rowid look-up away. A row with a lower id than the head never replaces it.
V4_OBJECTS = (
    """CREATE TABLE heads (
    key TEXT NOT NULL,
    partition TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (key, partition)
) WITHOUT ROWID""",
    """CREATE TABLE failure_heads (
    key TEXT NOT NULL,
    partition TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (key, partition)
) WITHOUT ROWID""",
    "CREATE TRIGGER materializations_head AFTER INSERT ON materializations BEGIN "
    "INSERT OR REPLACE INTO heads (key, partition, id) SELECT NEW.key, NEW.partition, NEW.id "
    "WHERE NEW.id > coalesce((SELECT id FROM heads WHERE key = NEW.key "
    "AND partition = NEW.partition), 0); END",
    "CREATE TRIGGER failures_head AFTER INSERT ON failures BEGIN "
    "INSERT OR REPLACE INTO failure_heads (key, partition, id) SELECT NEW.key, NEW.partition, "
    "NEW.id WHERE NEW.id > coalesce((SELECT id FROM failure_heads WHERE key = NEW.key "
    "AND partition = NEW.partition), 0); END",
)


def _v3_to_v4(conn: sqlite3.Connection) -> None:
    for statement in V4_OBJECTS:
        conn.execute(statement)
    for heads, table in (("heads", "materializations"), ("failure_heads", "failures")):
        conn.execute(  # the (key, partition, id) index: one pass, in the migration's transaction
            f"INSERT INTO {heads} (key, partition, id) "
            f"SELECT key, partition, max(id) FROM {table} GROUP BY key, partition"
        )


# -- 4 -> 5: `nbassets rollback` records an earlier version as the latest, naming the one replaced.


def _v4_to_v5(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE materializations ADD COLUMN rollback_of TEXT")


# -- 5 -> 6: alert incidents (issue 14): one row per (env, key, kind) incident, open while
# ``closed_at`` is NULL, so an alert goes out once per incident and once on its recovery.
V6_OBJECTS = (
    """CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    env TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    opened_at TEXT NOT NULL,
    closed_at TEXT
)""",
    "CREATE INDEX incidents_open ON incidents (env, closed_at, key, kind)",
)


def _v5_to_v6(conn: sqlite3.Connection) -> None:
    for statement in V6_OBJECTS:
        conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (_v1_to_v2, _v2_to_v3, _v3_to_v4, _v4_to_v5, _v5_to_v6)


def upgrade(conn: sqlite3.Connection, latest: int) -> int:
    """Bring ``conn``'s catalog to schema ``latest`` in one transaction; its version now.

    ``conn`` is in autocommit mode (``isolation_level=None``), outside a transaction.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version < latest:
            for migration in MIGRATIONS[version - 1 : latest - 1]:
                migration(conn)
            conn.execute(f"PRAGMA user_version={int(latest)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
            conn.execute("ROLLBACK")
        raise
    return max(version, latest)
