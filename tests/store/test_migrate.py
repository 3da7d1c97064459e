"""``migrate-store``'s copy (``nbassets.store.migrate``): every record in its order, every file
verified, resumable, the source untouched; into a folder with SQLite and into S3 + PostgreSQL.

Small pages (3 records) so every run crosses page boundaries.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nbassets.config import Project
from nbassets.errors import InvalidArgument, StorageError
from nbassets.store.catalog import Catalog, Failure, Materialization
from nbassets.store.migrate import BUILDS, CHECKS, FAILURES, FORGETS, INCIDENTS, TESTS, migrate
from nbassets.store.migrate_ends import parallel_copies, target_store
from nbassets.store.results import CheckResult, TestResult
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now

PAGE = 3
V1 = Path(__file__).resolve().parents[1] / "resources" / "catalog_v1.sqlite"


def build_history(root: Path) -> dict[str, Any]:
    """A production store with history: versions, partitions, a failure, a forget, a rollback
    record sharing a file, check and test results, incidents open and closed, and one version
    whose file gc removed. Returns what a test needs to know about it."""
    store = Store("prod", root, writable=True)
    try:

        def write(key: str, value: Any, partition: str = "", **fields: Any) -> Any:
            return store.write(key, value, "parquet", code_version="c1", started_at=now(),
                               partition=partition, commit="abc1234", dirty=False, **fields)  # fmt: skip

        old = write("orders", pd.DataFrame({"id": [1, 2]}))
        write(
            "orders",
            pd.DataFrame({"id": [1, 2, 3]}),
            inputs={"raw": {"data_version": "f" * 32, "env": "prod"}},
        )
        for day in ("eu", "us"):
            write("regions", pd.DataFrame({"region": [day]}), partition=day)
        store.record_failure(Failure("summary", "prod", "KeyError: 'amount'", now(), now(), "c1"))
        write("summary", pd.DataFrame({"total": [6]}))
        write("scratch", pd.DataFrame({"x": [0]}))
        store.catalog.forget("scratch", "prod", "tester", now())
        write("regions", pd.DataFrame({"region": ["eu", "eu"]}), partition="eu")
        back = store.catalog.record(replace(old, id=None, seq=None, rollback_of="x" * 32))
        gone = write("stale", pd.DataFrame({"s": [1]}))
        store.storage.remove(gone.path)  # gc removed it: the record stays, as history
        store.catalog.record_checks(
            [CheckResult("orders", "not_null('id')", "error", True, back.data_version, checked_at=now()),
             CheckResult("orders", "unique('id')", "warn", False, back.data_version, 1,
                         [{"id": 1}], "1 duplicate", checked_at=now())], "prod")  # fmt: skip
        store.catalog.record_checks(
            [
                CheckResult(
                    "summary", "row_count(min=5)", "error", False, "ab" * 16, checked_at=now()
                )
            ],
            "ci-7",
        )
        store.catalog.record_tests(
            [TestResult("orders", "test_positive", "c1", "passed", env="prod", at=now(), test_version="t1")]
        )  # fmt: skip
        store.catalog.record_incidents("prod", {("summary", "build"): "summary broke", ("summary", "check"): "x"}, [], now())  # fmt: skip
        store.catalog.record_incidents("prod", {}, [("summary", "build")], now())
        return {"files": 7, "missing": gone}
    finally:
        store.close()


def contents(catalog: Catalog) -> dict[str, list[Any]]:
    """Everything a catalog holds, in order, without the numbers each catalog gives itself."""
    return {
        "journal": [replace(e, id=None, seq=None) for e in catalog.journal(0, 10_000)],
        "checks": [(c.env, c.result) for c in catalog.all_check_results(0, 10_000)],
        "tests": [replace(t, id=None) for t in catalog.all_test_results(0, 10_000)],
        "incidents": [replace(i, id=None) for i in catalog.incidents()],
    }


def tree_digest(folder: Path) -> str:
    """Names, sizes and bytes of every file below ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Store, dict[str, Any]]]:
    facts = build_history(tmp_path / "source")
    store = Store("prod", tmp_path / "source", writable=False)
    yield store, facts
    store.close()


@pytest.fixture(params=["local", "s3+postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path, project: Path) -> Iterator[Any]:
    """Opens the migration's target (a new view each time, as a second run would)."""
    if request.param == "local":
        to, catalog = str(tmp_path / "target"), None
    else:
        to = f"{request.getfixturevalue('s3_bucket')}/warehouse"
        catalog = request.getfixturevalue("postgres_url")
    with ExitStack() as stack:

        def open_(source: Store) -> Store:
            return stack.enter_context(target_store(Project.find(project), to, catalog, source))

        yield open_


def test_everything_is_copied_in_order_and_a_second_run_copies_nothing(
    source: tuple[Store, dict[str, Any]], target: Any
) -> None:
    store, facts = source
    before = tree_digest(store.root)
    copied = target(store)
    first = migrate(store, copied, page=PAGE, workers=parallel_copies(copied))  # 8 into S3
    assert contents(copied.catalog) == contents(store.catalog)
    assert dict(first.written) == {
        BUILDS: 9, FAILURES: 1, FORGETS: 1, CHECKS: 3, TESTS: 1, INCIDENTS: 2,
    }  # fmt: skip
    assert (first.objects, first.present) == (facts["files"], 0)  # the rollback shares a file
    assert first.missing == [f"stale {facts['missing'].data_version}"]
    files = {m.path: m for m in store.catalog.journal(0, 100) if isinstance(m, Materialization)}
    del files[facts["missing"].path]
    assert first.bytes == sum(m.bytes for m in files.values())
    for m in files.values():
        assert copied.storage.sizes([m.path])[m.path] == m.bytes
        assert copied.read(m).equals(store.read(m))

    def latest(catalog: Catalog) -> dict[str, Any]:
        return {k: replace(m, id=None, seq=None) for k, m in catalog.latest().items()}

    assert latest(copied.catalog) == latest(store.catalog) and "scratch" not in latest(
        store.catalog
    )
    assert copied.catalog.last_failures().keys() == store.catalog.last_failures().keys()
    assert copied.catalog.open_incidents("prod") == {("summary", "check"): "x"}
    again = migrate(store, target(store), page=PAGE)
    assert (again.records, again.objects, again.bytes) == (0, 0, 0)
    assert sum(again.recognised.values()) == 17 and again.present == 0  # nothing even looked up
    assert contents(target(store).catalog) == contents(store.catalog)
    assert tree_digest(store.root) == before and not list(store.root.glob("catalog.sqlite-*"))


def test_an_interrupted_run_resumes_where_it_stopped(
    source: tuple[Store, dict[str, Any]], target: Any
) -> None:
    store, facts = source

    class Interrupted(Exception):
        pass

    def stop_after_three_files(run: Any) -> None:
        if run.objects == 3:  # the third file is in place, its record not written yet
            raise Interrupted

    with pytest.raises(Interrupted):
        migrate(store, target(store), stop_after_three_files, page=PAGE)
    half = contents(target(store).catalog)
    assert 0 < len(half["journal"]) < len(contents(store.catalog)["journal"])
    assert half["checks"] == [] and half["incidents"] == []
    rest = migrate(store, target(store), page=PAGE)
    assert rest.objects == facts["files"] - 3  # the third file is not sent again:
    assert rest.present == 2  # it and the file the rollback record shares were in place
    assert sum(rest.recognised.values()) == len(half["journal"])
    assert contents(target(store).catalog) == contents(store.catalog)


def test_a_damaged_source_file_is_refused_naming_its_record(
    source: tuple[Store, dict[str, Any]], target: Any
) -> None:
    store, _ = source
    summary = store.catalog.latest_of("summary")
    assert summary is not None
    path = store.root / summary.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the same size: only its hash tells
    path.write_bytes(bytes(data))
    before = tree_digest(store.root)
    into = target(store)
    with pytest.raises(StorageError) as info:  # 8 uploads at once into S3: still in order
        migrate(store, into, page=PAGE, workers=parallel_copies(into))
    message = str(info.value)
    assert f"summary version {summary.data_version[:12]}" in message and summary.path in message
    assert "damaged" in message and "resumes" in message
    copied = contents(target(store).catalog)["journal"]
    assert copied == contents(store.catalog)["journal"][: len(copied)]  # those before it
    assert all(e.key != "summary" or isinstance(e, Failure) for e in copied)
    assert not target(store).storage.exists(summary.path)  # nothing of it reached the target
    assert tree_digest(store.root) == before


def test_a_target_holding_other_records_is_refused(
    source: tuple[Store, dict[str, Any]], target: Any
) -> None:
    store, _ = source
    other = target(store)
    other.write("something_else", pd.DataFrame({"a": [1]}), "parquet", code_version="c9",
                started_at=now())  # fmt: skip
    with pytest.raises(StorageError, match="holds records that are not this store's") as info:
        migrate(store, target(store), page=PAGE)
    assert "something_else" in str(info.value) and "choose an empty target" in str(info.value)
    assert [e.key for e in target(store).catalog.journal()] == ["something_else"]


def test_the_source_itself_or_a_url_without_a_catalog_is_refused(
    source: tuple[Store, dict[str, Any]], project: Path
) -> None:
    store, _ = source
    found = Project.find(project)
    for to, catalog, refusal in [
        (str(store.root), None, "is the source store itself"),
        ("s3://bucket/warehouse", None, "add --catalog postgresql://"),
        ("s3://bucket/w", "postgresql://u:s3cret@db/x", "PGPASSWORD"),
        (str(project.parent), None, "is or contains the project"),
    ]:
        with (
            pytest.raises(InvalidArgument, match=refusal) as info,
            target_store(found, to, catalog, store),
        ):
            pass
    assert "s3cret" not in str(info.value)


def test_a_catalog_without_a_sequence_is_refused_until_a_writer_migrated_it(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    shutil.copyfile(V1, old / "catalog.sqlite")  # schema 1: records have no seq yet
    before = tree_digest(old)
    with (
        closing(Store("prod", old, writable=False)) as store,
        closing(Store("prod", tmp_path / "new", writable=True)) as new,
    ):
        with pytest.raises(StorageError, match="schema 1: its records have no sequence yet"):
            migrate(store, new)
        assert tree_digest(old) == before and new.catalog.journal() == []
    with closing(SqliteCatalog(old / "catalog.sqlite", writable=True)) as writer:
        writer.ready()  # a writer's first open migrates it
    with (
        closing(Store("prod", old, writable=False)) as store,
        closing(Store("prod", tmp_path / "new", writable=True)) as new,
    ):
        run = migrate(store, new)
        assert run.records > 0 and contents(new.catalog) == contents(store.catalog)
