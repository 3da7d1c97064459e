"""Issue 10, finding 10: ``nbassets doctor [--env E]`` (DESIGN §6).

It checks a store's catalog (an nbassets database that passes ``PRAGMA integrity_check``) and
that every recorded file exists and hashes to its data version; when the catalog is lost it
re-indexes the data files into a new one, provenance marked unknown; it never deletes anything.

Real stores built by real builds (``nbassets.save``, ``nbassets materialize`` through click's
runner, ``%%asset`` in the session's IPython shell), real damage (files removed, truncated,
overwritten; catalog pages overwritten; catalogs deleted or replaced by garbage; symlinks into
production), real git repositories for the production policy (``tests/test_policy.py``'s project).
Every read-only run must leave the store byte-identical (every file's SHA-256 before and after).

Re-indexed records (the encoding this suite pins): one materialization per data file, oldest file
first, with the file's key, partition, data version (verified by hashing), io, bytes and path,
rows and schema from a Parquet footer (JSON: the length of a list or object; pickle: not read,
``None``), ``code_version = "unknown"``, no commit, ``dirty`` unknown, no inputs, ``source``
naming ``nbassets doctor`` and the words "provenance unknown", the current user, and the file's
modification time as ``started_at``/``finished_at``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result
from helpers import TestingShell, tree_digest
from test_policy import (  # the production policy's project: real git, seeded stores
    CLEAN,
    DIRTY,
    SANDBOX,
    _fresh_package,  # noqa: F401  (autouse: each test imports its own project's package)
    arrange,
    prod_state,
)

import nbassets
from nbassets.cli import main
from nbassets.errors import VersionDamaged
from nbassets.store.gc import collect
from nbassets.store.stores import Store, now

ENV = "ci-doctor"
DAY = 86_400 * 10**9


# --- helpers ------------------------------------------------------------------------------------


def doctor(*args: str, code: int | None = None) -> Result:
    result = CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def report(*args: str, code: int) -> dict[str, Any]:
    result = doctor(*args, "--json", code=code)
    return json.loads(result.stdout)


def store_of(project: Path, env: str = ENV) -> Path:
    return project / "warehouse" if env == "prod" else project / ".nbassets" / env


def rows_of(root: Path) -> list[dict[str, Any]]:
    """Every materialization of a store's catalog, read with plain sqlite3, oldest first."""
    conn = sqlite3.connect(f"{(root / 'catalog.sqlite').as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM materializations ORDER BY id")]
    finally:
        conn.close()


def orders(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": range(n), "name": [f"n{i}" for i in range(n)]})


def seed(project: Path) -> dict[str, Any]:
    """Versions saved in ENV (two of orders), each file dated one day after the one before."""
    values: dict[str, Any] = {
        "orders_v1": orders(3),
        "orders": orders(5),
        "model": {"weights": list(range(500))},
        "config": ["a", "b", "c"],
        "events": pa.table({"t": [1, 2, 3, 4], "kind": ["x", "y", "x", "z"]}),
    }
    records = {}
    for day, (name, value) in enumerate(values.items()):
        io = "json" if name == "config" else None
        record = nbassets.save(name.removesuffix("_v1"), value, env=ENV, io=io)
        stamp = (day + 1) * DAY
        os.utime(store_of(project) / record.path, ns=(stamp, stamp))
        records[name] = record
    return {"records": records, "values": values}


def lose_catalog(root: Path) -> None:
    for end in ("", "-wal", "-shm"):
        Path(f"{root / 'catalog.sqlite'}{end}").unlink(missing_ok=True)


# --- a healthy store ----------------------------------------------------------------------------


def test_a_healthy_store_passes_and_says_what_it_checked(project: Path) -> None:
    arrange(project, CLEAN)
    built = CliRunner().invoke(main, ["materialize", "--env", SANDBOX, "--no-progress"])
    assert built.exit_code == 0, built.output
    root = store_of(project, SANDBOX)
    records = rows_of(root)
    files = {r["path"]: r["bytes"] for r in records}
    before = tree_digest(project)

    text = doctor("--env", SANDBOX, code=0).stdout
    got = report("--env", SANDBOX, code=0)

    assert "1 catalog" in text and f"{len(records)} records" in text
    assert f"{len(files)} files" in text and "hashed" in text
    assert got["ok"] is True and got["problems"] == []
    assert got["catalog"] == "ok" and got["catalogs"] == 1
    assert (got["records"], got["files"]) == (len(records), len(files))
    assert got["bytes_hashed"] == sum(files.values())
    assert report("--env", "prod", code=0)["ok"] is True
    assert tree_digest(project) == before  # read only: not even a -wal or -shm beside a catalog


# --- damaged version files ----------------------------------------------------------------------


def test_damaged_version_files_are_each_listed_with_the_fix(project: Path) -> None:
    records = seed(project)["records"]
    root = store_of(project)
    current, model, config = (root / records[k].path for k in ("orders", "model", "config"))
    current.unlink()
    os.truncate(model, model.stat().st_size // 2)
    config.write_bytes(config.read_bytes().replace(b'"a"', b'"z"'))  # same size, other bytes
    before = tree_digest(root)

    got = report("--env", ENV, code=1)
    text = doctor("--env", ENV, code=1).stdout

    problems = {(p["key"], p["data_version"], p["path"], p["problem"]) for p in got["problems"]}
    assert problems == {
        ("orders", records["orders"].data_version, records["orders"].path, "missing"),
        ("model", records["model"].data_version, records["model"].path, "wrong size"),
        ("config", records["config"].data_version, records["config"].path, "hash mismatch"),
    }
    for problem in got["problems"]:
        assert problem["key"] in problem["fix"] and problem["detail"]
    assert "nbassets materialize --env ci-doctor --select orders" in text
    for name in ("orders", "model", "config"):
        assert records[name].path in text
    for word in ("missing", "wrong size", "hash mismatch"):
        assert word in text
    assert got["ok"] is False
    assert tree_digest(root) == before  # nothing deleted, moved or changed
    with pytest.raises(VersionDamaged, match="nbassets doctor"):
        nbassets.load("model", env=ENV)


def test_old_files_gc_removed_are_history_but_files_a_current_build_read_are_not(
    project: Path,
) -> None:
    records = seed(project)["records"]
    root = store_of(project)
    store = Store(ENV, root, writable=True)
    try:
        assert [r.path for r in collect(store, 1).removed] == [records["orders_v1"].path]
    finally:
        store.close()

    got = report("--env", ENV, code=0)
    assert got["removed"] == 1 and got["problems"] == []

    store = Store(ENV, root, writable=True)  # a current build that read the removed version
    try:
        read = {"orders": {"data_version": records["orders_v1"].data_version, "env": ENV}}
        store.write("report", {"n": 3}, "pickle", code_version="c", started_at=now(), inputs=read)
    finally:
        store.close()
    got = report("--env", ENV, code=1)
    assert [(p["key"], p["problem"]) for p in got["problems"]] == [("orders", "missing")]


def test_the_files_of_a_forgotten_asset_gc_removed_are_history(project: Path) -> None:
    """``nbassets forget`` then ``gc --yes`` removes even the latest file of a key: not damage."""
    seed(project)
    forgot = CliRunner().invoke(main, ["forget", "model", "--env", ENV])
    assert forgot.exit_code == 0, forgot.output
    store = Store(ENV, store_of(project), writable=True)
    try:
        removed = collect(store, 1).removed  # a forgotten key keeps none of its files
    finally:
        store.close()
    assert "model" in {r.key for r in removed}
    got = report("--env", ENV, code=0)
    assert got["problems"] == [] and got["removed"] == len(removed)


# --- a damaged catalog --------------------------------------------------------------------------


def test_a_catalog_with_corrupted_pages_is_reported_damaged(project: Path) -> None:
    seed(project)
    for i in range(40):  # enough records for a catalog of several pages
        nbassets.save(f"k{i}", {"i": i}, env=ENV)
    root = store_of(project)
    catalog = root / "catalog.sqlite"
    data = bytearray(catalog.read_bytes())
    page = 4096
    assert len(data) >= 4 * page
    for start in range(page, len(data), page):  # every page but the header's, mid-page
        data[start + 8 : start + 200] = b"\xa5" * 192
    catalog.write_bytes(bytes(data))
    before = tree_digest(root)

    got = report("--env", ENV, code=1)

    assert got["catalog"] == "damaged" and not got["ok"]
    (problem,) = [p for p in got["problems"] if p["problem"] == "catalog damaged"]
    assert problem["path"] == "catalog.sqlite"
    assert f"nbassets doctor --env {ENV} --reindex" in problem["fix"]
    assert tree_digest(root) == before


@pytest.mark.parametrize("garbage", ["empty", "not sqlite", "foreign tables"])
def test_a_garbage_catalog_is_moved_aside_only_with_reindex(project: Path, garbage: str) -> None:
    saved = seed(project)
    root = store_of(project)
    catalog = root / "catalog.sqlite"
    lose_catalog(root)
    if garbage == "foreign tables":
        conn = sqlite3.connect(catalog)
        conn.execute("CREATE TABLE other (x)")
        conn.commit()
        conn.close()
    else:
        catalog.write_bytes(b"" if garbage == "empty" else b"not a database " * 100)
    original = catalog.read_bytes()
    before = tree_digest(root)

    status = CliRunner().invoke(main, ["status", "--env", ENV])  # the error names the recovery
    assert status.exit_code == 1 and "nbassets doctor --env" in status.stderr
    assert "--reindex" in status.stderr
    got = report("--env", ENV, code=1)
    assert got["catalog"] == "damaged"
    assert "--reindex" in doctor("--env", ENV, code=1).stdout
    assert tree_digest(root) == before  # reported, never moved without the flag

    got = report("--env", ENV, "--reindex", code=0)

    moved = sorted(root.glob("catalog.sqlite.damaged-*"))
    assert [p.name for p in moved] == [Path(got["moved_to"]).name]
    assert moved[0].read_bytes() == original  # kept, byte for byte
    assert moved[0].name[len("catalog.sqlite.damaged-") :].endswith("Z")
    assert {r["path"] for r in rows_of(root)} == {r.path for r in saved["records"].values()}
    pd.testing.assert_frame_equal(nbassets.load("orders", env=ENV), saved["values"]["orders"])


# --- a lost catalog -----------------------------------------------------------------------------


def test_a_lost_catalog_is_reindexed_from_the_data_files(project: Path) -> None:
    saved = seed(project)
    records, values = saved["records"], saved["values"]
    root = store_of(project)
    lose_catalog(root)
    files_before = tree_digest(root / "data")

    got = report("--env", ENV, code=0)

    assert got["catalog"] == "lost" and got["ok"] is True
    assert len(got["indexed"]) == len(records)
    assert tree_digest(root / "data") == files_before
    rows = rows_of(root)
    assert [r["path"] for r in rows] == [r.path for r in records.values()]  # oldest file first
    for row, original in zip(rows, records.values(), strict=True):
        for field in ("key", "data_version", "bytes", "path", "io", "kind", "schema"):
            assert row[field] == getattr(original, field) or (
                field == "schema" and json.loads(row[field] or "null") == original.schema
            ), field
        assert row["rows"] == (None if original.io == "pickle" else original.rows)
        assert (row["code_version"], row["commit"], row["dirty"]) == ("unknown", None, None)
        assert row["source"].startswith("nbassets doctor") and "provenance unknown" in row["source"]
        assert (row["user"], row["env"], json.loads(row["inputs"])) == ("tester", ENV, {})
        assert row["partition"] == ""

    status = CliRunner().invoke(main, ["status", "--env", ENV])
    assert status.exit_code == 0 and "orders" in status.stdout, status.output
    why = CliRunner().invoke(main, ["why", "orders", "--env", ENV])
    assert why.exit_code == 0 and "nbassets doctor" in why.stdout, why.output
    assert "provenance unknown: re-indexed from its data file by nbassets doctor" in why.stdout
    assert records["orders"].data_version in why.stdout  # the newer file is the latest
    pd.testing.assert_frame_equal(nbassets.load("orders", env=ENV), values["orders"])
    assert nbassets.load("config", env=ENV) == values["config"]
    assert nbassets.load("model", env=ENV) == values["model"]
    assert nbassets.load("events", env=ENV).equals(values["events"])

    again = report("--env", ENV, code=0)  # idempotent: checks, records nothing new
    assert again["catalog"] == "ok" and again["indexed"] == []
    assert rows_of(root) == rows


def test_reindex_skips_temporary_files_and_reports_misnamed_ones(project: Path) -> None:
    records = seed(project)["records"]
    root = store_of(project)
    lose_catalog(root)
    folder = root / "data" / "orders"
    misnamed = folder / f"{'0' * 32}.parquet"
    shutil.copyfile(root / records["orders"].path, misnamed)
    (folder / "notes.txt").write_text("not a version file\n")
    temporary = folder / "tmp-999999-abcdef.parquet"
    temporary.write_bytes((root / records["orders"].path).read_bytes())
    with temporary.open("rb") as held:  # a live writer holds its temporary file
        fcntl.flock(held, fcntl.LOCK_EX)

        got = report("--env", ENV, code=1)

        assert temporary.exists()
    (problem,) = got["problems"]
    assert (problem["path"], problem["problem"]) == (
        misnamed.relative_to(root).as_posix(),
        "hash mismatch",
    )
    assert "not indexed" in problem["detail"]
    assert {r["path"] for r in rows_of(root)} == {r.path for r in records.values()}
    assert misnamed.exists() and (folder / "notes.txt").exists()

    rows = rows_of(root)
    report("--env", ENV, code=0)  # the catalog is back: the stray files are only listed
    assert rows_of(root) == rows


def test_a_kernel_reads_a_reindexed_version_as_an_upstream(
    shell: TestingShell, project: Path
) -> None:
    shell.run_cell(
        "%%asset orders --no-preview\nimport pandas as pd\norders = pd.DataFrame({'x': [1, 2, 3]})"
    )
    env = "dev-tester-nogit"  # the kernel's sandbox in a project without git
    lose_catalog(store_of(project, env))
    shell.run_cell("%unload_ext nbassets")
    shell.reset(new_session=False)
    shell.run_cell("%load_ext nbassets")

    assert report("--env", env, code=0)["catalog"] == "lost"
    shell.run_cell("%%asset total --no-preview\ntotal = orders[['x']].sum()")

    assert int(shell.user_ns["total"]["x"]) == 6
    inputs = rows_of(store_of(project, env))[-1]["inputs"]
    assert "orders" in json.loads(inputs)


# --- production ---------------------------------------------------------------------------------


def test_checking_prod_needs_no_grant(project: Path) -> None:
    arrange(project, DIRTY)
    before = prod_state(project)

    assert report("--env", "prod", code=0)["ok"] is True
    assert prod_state(project) == before


def test_reindexing_prod_follows_the_production_policy(project: Path) -> None:
    arrange(project, DIRTY)
    prod = store_of(project, "prod")
    lose_catalog(prod)
    before = tree_digest(prod)

    refused = doctor("--env", "prod", code=1)

    assert refused.stderr.startswith("error: ") and "dirty tree" in refused.stderr
    assert tree_digest(prod) == before
    (prod / "catalog.sqlite").write_bytes(b"garbage " * 64)
    before = tree_digest(prod)
    assert "dirty tree" in doctor("--env", "prod", "--reindex", code=1).stderr
    assert tree_digest(prod) == before  # the garbage is not even moved aside


def test_reindexing_prod_from_an_ipython_shell_is_refused(
    project: Path, _shell: TestingShell
) -> None:
    arrange(project, CLEAN)
    prod = store_of(project, "prod")
    lose_catalog(prod)
    before = tree_digest(prod)

    refused = doctor("--env", "prod", code=1)

    assert "from a process running an IPython shell" in refused.stderr
    assert tree_digest(prod) == before


def test_reindexing_prod_on_a_clean_main(project: Path) -> None:
    arrange(project, CLEAN)
    prod = store_of(project, "prod")
    paths = {r["path"] for r in rows_of(prod)}
    lose_catalog(prod)

    got = report("--env", "prod", code=0)

    assert got["catalog"] == "lost" and {r["path"] for r in rows_of(prod)} == paths


# --- links --------------------------------------------------------------------------------------


def test_a_reindex_never_indexes_a_link_into_production(project: Path) -> None:
    arrange(project, CLEAN)
    prod, sandbox = store_of(project, "prod"), store_of(project, SANDBOX)
    own = {r["path"] for r in rows_of(sandbox)}
    prod_orders = next(r["path"] for r in rows_of(prod) if r["key"] == "orders")
    lose_catalog(sandbox)
    (sandbox / "data" / "orders").symlink_to(prod / "data" / "orders")  # a key folder
    linked_file = sandbox / "data" / "raw_orders" / Path(prod_orders).name  # one file
    linked_file.symlink_to(prod / prod_orders)
    before = prod_state(project)

    got = report("--env", SANDBOX, code=1)

    links = {p["path"]: p for p in got["problems"]}
    assert set(links) == {"data/orders", linked_file.relative_to(sandbox).as_posix()}
    for problem in links.values():
        assert problem["problem"] == "link" and "production" in problem["detail"]
    assert {r["path"] for r in rows_of(sandbox)} == own  # only the sandbox's own files
    assert prod_state(project) == before


def test_a_recorded_file_replaced_by_a_link_is_reported(project: Path) -> None:
    arrange(project, CLEAN)
    prod, sandbox = store_of(project, "prod"), store_of(project, SANDBOX)
    record = rows_of(sandbox)[-1]
    assert (prod / record["path"]).exists()  # production holds the same bytes
    (sandbox / record["path"]).unlink()
    (sandbox / record["path"]).symlink_to(prod / record["path"])
    before = prod_state(project)

    got = report("--env", SANDBOX, code=1)

    (problem,) = got["problems"]
    assert (problem["key"], problem["path"], problem["problem"]) == (
        record["key"],
        record["path"],
        "link",
    )
    assert "production" in problem["detail"]
    assert prod_state(project) == before
