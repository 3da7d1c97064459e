"""The backend contracts: every catalog and every data storage passes the same tests.

Catalogs: the SQLite catalog, the PostgreSQL one (a throwaway server, ``tests/servers.py``)
and an in-memory one (``memory_backends``); storages: the
local folder, an in-memory object-store stand-in with a read-through cache, and objects on
an S3 server (``ObjectStorage`` on moto's server, ``tests/s3_server.py``). The store
(write, read, gc) is run over each combination, so the core is shown to use the
interfaces only.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pytest
import xxhash
from memory_backends import CatalogTables, MemoryBackends, MemoryCatalog, MemoryStorage

import nbassets
from nbassets.errors import AssetNotFound, StorageError
from nbassets.store.catalog import (
    Catalog,
    Failure,
    Head,
    Incident,
    Materialization,
    failed_since,
)
from nbassets.store.gc import collect
from nbassets.store.object_storage import ObjectStorage
from nbassets.store.postgres_catalog import PostgresCatalog
from nbassets.store.results import CheckResult, TestResult
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.storage import DataStorage, LocalFolder
from nbassets.store.stores import Store, StoreOpener, now, open_local_store

OpenCatalog = Callable[[bool], Catalog]  # writable -> a view of one catalog
CATALOGS = ["sqlite", "memory", "postgres"]
STORAGES = ["local", "memory", "s3"]


@pytest.fixture(params=CATALOGS)
def open_catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenCatalog]:
    """Opens views (writable or read-only) of one fresh catalog; all are closed afterwards."""
    opened: list[Catalog] = []
    tables = CatalogTables()
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""

    def open_(writable: bool) -> Catalog:
        catalog: Catalog
        if request.param == "sqlite":
            catalog = SqliteCatalog(tmp_path / "catalog.sqlite", writable=writable)
        elif request.param == "postgres":
            catalog = PostgresCatalog(url, writable=writable)
        else:
            catalog = MemoryCatalog(writable=writable, tables=tables)
        opened.append(catalog)
        return catalog

    yield open_
    for catalog in opened:
        catalog.close()


def open_storage(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> DataStorage:
    """A fresh storage of ``kind``; a local one in ``tmp_path / "store"``."""
    if kind == "local":
        return LocalFolder(tmp_path / "store")
    if kind == "memory":
        return MemoryStorage(tmp_path / "cache")
    bucket = request.getfixturevalue("s3_bucket")
    return ObjectStorage(f"{bucket}/store", tmp_path / "cache", writable=True)


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DataStorage]:
    backend = open_storage(request.param, request, tmp_path)
    yield backend
    backend.close()


def build(key: str, data_version: str, **fields: object) -> Materialization:
    defaults: dict[str, object] = {
        "env": "dev",
        "code_version": "c1",
        "path": f"data/{key}/{data_version}.parquet",
        "io": "parquet",
        "kind": "pandas",
        "bytes": 10,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:01+00:00",
    }
    return Materialization(key=key, data_version=data_version, **{**defaults, **fields})


def failure(key: str, error: str) -> Failure:
    return Failure(key, "dev", error, "2026-01-01T00:00:00", "2026-01-01T00:00:01", "c1")


def check(key: str, version: str, name: str, passed: bool, **fields: object) -> CheckResult:
    return CheckResult(
        key=key, name=name, severity="error", passed=passed, data_version=version,
        checked_at=now(), **fields,
    )  # fmt: skip


def hexdigest(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


# --- catalogs -----------------------------------------------------------------------------------


def test_ids_increase_and_records_read_back_equal(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    full = build(
        "a", "aa01", commit="abc", dirty=True, source="n.ipynb#c1", rows=2, user="u",
        schema={"id": "int64"}, inputs={"up": {"data_version": "ff", "env": "prod"}},
        code="def a(up):\n    return up  # é\n", rollback_of="bb02",
    )  # fmt: skip
    recorded = [catalog.record(full), catalog.record(build("b", "bb01")),
                catalog.record(build("a", "aa02", dirty=False))]  # fmt: skip
    ids = [m.id for m in recorded]
    assert all(isinstance(i, int) for i in ids) and ids == sorted({i or 0 for i in ids})
    assert recorded[0] == replace(full, id=ids[0], seq=recorded[0].seq)
    assert catalog.history("a") == [recorded[2], recorded[0]]  # newest first, all fields
    assert catalog.history("a", limit=1) == [recorded[2]]
    assert catalog.history("nothing") == []
    assert catalog.latest_of("b") == recorded[1] and catalog.latest_of("c") is None


def test_read_back_records_are_the_callers_to_change(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    inputs = {"up": {"data_version": "ff", "env": "prod"}}
    catalog.record(build("a", "aa01", inputs=inputs))
    inputs["up"]["data_version"] = "changed"
    first = catalog.latest_of("a")
    assert first is not None and first.inputs == {"up": {"data_version": "ff", "env": "prod"}}
    first.inputs.clear()
    assert catalog.history("a")[0].inputs == {"up": {"data_version": "ff", "env": "prod"}}


def test_latest_is_the_last_recorded_not_the_newest_clock(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    catalog.record(build("a", "aa01", finished_at="2030-01-01T00:00:00+00:00"))
    second = catalog.record(build("a", "aa02", finished_at="2020-01-01T00:00:00+00:00"))
    other = catalog.record(build("b", "bb01"))
    assert catalog.latest() == {"a": second, "b": other}
    assert catalog.latest(["a", "zz"]) == {"a": second}
    assert catalog.latest_of("a") == second
    assert catalog.heads() == {"a": Head.of(second), "b": Head.of(other)}
    assert (catalog.heads()["a"].path, catalog.heads()["a"].bytes) == (second.path, second.bytes)


def test_latest_of_a_key_is_its_newest_build_of_any_partition(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    catalog.record(build("a", "aa01", partition="p1"))
    catalog.record(build("a", "aa02", partition="p2"))
    p1_again = catalog.record(build("a", "aa03", partition="p1"))
    assert catalog.latest()["a"] == p1_again == catalog.latest_of("a")
    assert catalog.heads()["a"] == Head.of(p1_again)
    p2_again = catalog.record(build("a", "aa04", partition="p2"))
    assert catalog.latest()["a"] == p2_again and catalog.heads()["a"] == Head.of(p2_again)


def test_a_forgotten_key_comes_back_with_only_the_partitions_built_since(
    open_catalog: OpenCatalog,
) -> None:
    catalog = open_catalog(True)
    catalog.record(build("a", "aa01", partition="p1"))
    catalog.record(build("a", "aa02", partition="p2"))
    catalog.record_failure(replace(failure("a", "p2 broke"), partition="p2"))
    catalog.forget("a", "dev", None, "2026-01-01T00:00:02+00:00")
    assert catalog.latest_of("a") is None and catalog.keys() == set()
    p3 = catalog.record(build("a", "aa03", partition="p3"))
    reader = open_catalog(False)
    for view in (catalog, reader):
        assert view.latest() == {"a": p3} == {"a": view.latest_of("a")}
        assert view.heads() == {"a": Head.of(p3)} and view.last_failures() == {}
        assert view.keys() == {"a"} and view.forgotten_before() == {}
    p1 = catalog.record(build("a", "aa04", partition="p1"))  # an older partition, rebuilt
    assert catalog.latest_of("a") == p1 == reader.latest()["a"]


def test_the_head_of_each_partition(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    assert catalog.partition_heads() == {}
    day2 = catalog.record(build("a", "aa01", partition="2024-01-02"))
    day1 = catalog.record(build("a", "aa02", partition="2024-01-01", inputs={"u": {"x": "1"}}))
    plain = catalog.record(build("b", "bb01"))
    day2_again = catalog.record(build("a", "aa03", partition="2024-01-02"))
    reader = open_catalog(False)
    for view in (catalog, reader):
        found = view.partition_heads()
        assert found == {
            "a": {"2024-01-01": Head.of(day1), "2024-01-02": Head.of(day2_again)},
            "b": {"": Head.of(plain)},
        }
        assert [list(parts) for parts in found.values()] == [["2024-01-01", "2024-01-02"], [""]]
        assert view.partition_heads(["b", "zz"]) == {"b": {"": Head.of(plain)}}
        assert view.partition_heads([]) == {}
    assert day2_again.data_version != day2.data_version
    catalog.partition_heads()["a"]["2024-01-01"].inputs["u"]["x"] = "changed"  # a new object
    assert catalog.partition_heads()["a"]["2024-01-01"].inputs == {"u": {"x": "1"}}
    catalog.forget("a", "dev", None, "2026-01-01T00:00:02+00:00")
    assert catalog.partition_heads(["a"]) == {}
    day3 = catalog.record(build("a", "aa04", partition="2024-01-03"))  # back: only what came after
    assert catalog.partition_heads() == {
        "a": {"2024-01-03": Head.of(day3)},
        "b": {"": Head.of(plain)},
    }


def test_the_record_of_each_partition_of_one_key(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    assert catalog.partition_records("a") == {}
    catalog.record(build("a", "aa01", partition="2024-01-02"))
    day1 = catalog.record(build("a", "aa02", partition="2024-01-01"))
    catalog.record(build("b", "bb01", partition="2024-01-01"))
    day2 = catalog.record(build("a", "aa03", partition="2024-01-02"))
    for view in (catalog, open_catalog(False)):
        found = view.partition_records("a")
        assert found == {"2024-01-01": day1, "2024-01-02": day2}
        assert list(found) == ["2024-01-01", "2024-01-02"]
    catalog.forget("a", "dev", None, "2026-01-01T00:00:02+00:00")
    assert catalog.partition_records("a") == {}
    day3 = catalog.record(build("a", "aa04", partition="2024-01-03"))
    assert catalog.partition_records("a") == {"2024-01-03": day3}


def test_the_latest_failure_of_each_partition(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    assert catalog.partition_failures(["a"]) == {}
    at = "2026-01-01T00:00:00+00:00"

    def fail(key: str, partition: str, error: str) -> None:
        catalog.record_failure(Failure(key, "dev", error, at, at, partition=partition))

    fail("a", "2024-01-01", "E: one")
    fail("a", "2024-01-02", "E: two")
    fail("a", "2024-01-01", "E: one again")
    fail("b", "", "E: whole")
    for view in (catalog, open_catalog(False)):
        found = view.partition_failures(["a", "b", "zz"])
        assert {k: {p: f.error for p, f in parts.items()} for k, parts in found.items()} == {
            "a": {"2024-01-01": "E: one again", "2024-01-02": "E: two"},
            "b": {"": "E: whole"},
        }
        assert view.partition_failures([]) == {}
    catalog.forget("a", "dev", None, at)
    assert catalog.partition_failures(["a"]) == {}


def test_version_by_prefix(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    old = catalog.record(build("a", "abcd01"))
    catalog.record(build("a", "ef0102"))
    again = catalog.record(build("a", "abcd01", code_version="c2"))  # same bytes, rebuilt
    catalog.record(build("b", "abcd99"))
    assert catalog.version("a", "abcd01") == again != old  # the latest record of that version
    assert catalog.version("a", "ef") == catalog.history("a")[1]
    assert catalog.version("a", "EF01") == catalog.history("a")[1]  # any case
    for missing in ("abcd99", "0", "zz%", "", "%", "ab_d", "a" * 65):
        assert catalog.version("a", missing) is None, missing


def test_keys_and_last_failures(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    catalog.record(build("a", "aa01"))
    catalog.record_failure(failure("b", "first"))
    catalog.record_failure(failure("a", "a broke"))
    catalog.record_failure(failure("b", "second"))
    assert catalog.keys() == {"a", "b"}
    failures = catalog.last_failures()
    assert set(failures) == {"a", "b"}
    assert failures["b"].error == "second" and failures["a"].error == "a broke"
    assert replace(failures["b"], id=None, seq=None) == failure("b", "second")
    assert failures["a"].id is not None and failures["b"].id is not None
    assert failures["a"].id < failures["b"].id


def test_failure_history_newest_first_forgotten_or_not(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    assert catalog.failure_history("a") == []
    catalog.record_failure(failure("a", "first"))
    catalog.record(build("a", "aa01"))  # a success between them changes nothing here
    catalog.record_failure(failure("b", "other key"))
    catalog.record_failure(replace(failure("a", "second"), partition="2024-01-01"))
    catalog.forget("a", "dev", None, "2026-01-01T00:00:02+00:00")
    for view in (catalog, open_catalog(False)):
        found = view.failure_history("a")
        assert [(f.error, f.partition) for f in found] == [("second", "2024-01-01"), ("first", "")]
        assert replace(found[1], id=None, seq=None) == failure("a", "first")
        assert found[0].seq is not None and found[1].seq is not None
        assert found[0].seq > found[1].seq  # the one sequence, shared with materializations
        assert [f.error for f in view.failure_history("a", limit=1)] == ["second"]
        assert view.failure_history("zz") == []


def test_check_results_latest_per_name(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    sample = [{"id": 1, "when": pd.Timestamp("2026-01-02")}]
    catalog.record_checks([check("a", "v1", "n1", False, failing_rows=1, sample=sample),
                           check("a", "v1", "n2", False, message="bad")], "dev")  # fmt: skip
    catalog.record_checks([check("a", "v1", "n1", True), check("a", "v2", "n1", False),
                           check("b", "v1", "n1", True)], "ci")  # fmt: skip
    results = catalog.check_results("a", "v1")
    assert [(r.name, r.passed) for r in results] == [("n2", False), ("n1", True)]  # id order
    assert results[0].message == "bad" and results[0].failing_rows is None
    assert catalog.check_results("a", "v3") == [] and catalog.check_results("c", "v1") == []
    both = catalog.versions_check_results(["v1", "v2", "v9"])
    assert sorted((r.key, r.data_version, r.name, r.passed) for r in both) == [
        ("a", "v1", "n1", True), ("a", "v1", "n2", False), ("a", "v2", "n1", False),
        ("b", "v1", "n1", True),
    ]  # fmt: skip
    assert catalog.versions_check_results([]) == []
    catalog.record_checks([check("a", "v2", "n1", False, failing_rows=3, sample=sample)], "dev")
    [v2] = catalog.versions_check_results(["v2"])
    assert v2.failing_rows == 3 and v2.sample == [{"id": 1, "when": "2026-01-02 00:00:00"}]


def unit_test(key: str, name: str, code: str, outcome: str, **fields: object) -> TestResult:
    return TestResult(key, name, code, outcome, env="dev", at=now(), **fields)  # type: ignore[arg-type]


def test_test_results_latest_per_key_name_and_code_version(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    assert catalog.test_results() == []
    catalog.record_tests([unit_test("a", "t1", "c1", "failed", message="1 row differs"),
                          unit_test("a", "t2", "c1", "passed", seconds=0.5, user="u",
                                    test_version="tv2")])  # fmt: skip
    catalog.record_tests([unit_test("a", "t1", "c1", "passed"),
                          unit_test("a", "t1", "c2", "error", message="KeyError: 'x'",
                                    source="notebooks/x.ipynb :: a :: t1"),
                          unit_test("b", "t1", "c1", "passed")])  # fmt: skip
    results = catalog.test_results()
    assert [(r.key, r.name, r.code_version, r.outcome) for r in results] == [
        ("a", "t2", "c1", "passed"),
        ("a", "t1", "c1", "passed"),
        ("a", "t1", "c2", "error"),
        ("b", "t1", "c1", "passed"),
    ]  # fmt: skip  (id order; the failed run of a/t1/c1 was replaced by its later pass)
    assert results[0].seconds == 0.5 and results[0].user == "u" and results[0].env == "dev"
    assert results[0].test_version == "tv2" and results[1].test_version == ""
    assert results[2].message == "KeyError: 'x'" and results[2].source.endswith(":: t1")
    assert all(isinstance(r.id, int) for r in results) and not results[2].passed
    assert [r.key for r in catalog.test_results(["b", "zz"])] == ["b"]
    assert catalog.test_results([]) == []
    reader = open_catalog(False)
    assert reader.test_results() == results
    with pytest.raises(PermissionError):
        reader.record_tests([unit_test("a", "t1", "c1", "passed")])


def test_a_read_only_catalog_refuses_writes_and_sees_the_writer(
    open_catalog: OpenCatalog,
) -> None:
    reader = open_catalog(False)
    assert not reader.writable and reader.location
    assert (reader.latest(), reader.heads(), reader.latest_of("a"), reader.history("a")) == (
        {}, {}, None, []
    )  # fmt: skip
    assert (reader.keys(), reader.last_failures(), reader.check_results("a", "v")) == (
        set(), {}, []
    )  # fmt: skip
    assert reader.version("a", "aa") is None and reader.versions_check_results(["v"]) == []
    with pytest.raises(PermissionError, match="read-only"):
        reader.record(build("a", "aa01"))
    with pytest.raises(PermissionError, match="read-only"):
        reader.record_failure(failure("a", "x"))
    with pytest.raises(PermissionError, match="read-only"):
        reader.record_checks([check("a", "aa01", "n", True)], "dev")
    writer = open_catalog(True)
    assert writer.writable and writer.keys() == set()  # the refused writes left nothing
    recorded = writer.record(build("a", "aa01"))
    assert reader.latest_of("a") == recorded and reader.keys() == {"a"}


def test_one_sequence_orders_every_kind_of_record(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    first = catalog.record(build("a", "aa01"))
    catalog.record_failure(failure("a", "broke"))
    catalog.forget("b", "dev", "u", "2026-01-01T00:00:02+00:00")
    second = catalog.record(build("b", "bb01"))
    broke = catalog.last_failures()["a"]
    assert isinstance(first.seq, int) and isinstance(broke.seq, int)
    assert isinstance(second.seq, int) and first.seq < broke.seq < second.seq - 1  # forget between
    assert catalog.forgotten_before() == {}  # b was built after its forget
    assert catalog.latest_of("a") == first and catalog.heads()["b"].seq == second.seq
    assert [m.seq for m in catalog.history("a")] == [first.seq]


def test_which_came_later_is_the_sequence_not_the_clock(open_catalog: OpenCatalog) -> None:
    """A clock one hour behind on the later record changes nothing (issue 10, finding 6)."""
    catalog = open_catalog(True)
    catalog.record(build("a", "aa01", finished_at="2026-01-01T12:00:00+00:00"))
    late = Failure("a", "dev", "boom", "2026-01-01T11:00:00", "2026-01-01T11:00:01")
    catalog.record_failure(late)
    assert failed_since(catalog.last_failures()["a"], catalog.heads()["a"])
    catalog.record(build("a", "aa02", finished_at="2026-01-01T10:00:00+00:00"))
    assert not failed_since(catalog.last_failures()["a"], catalog.heads()["a"])


def test_a_failure_beside_productions_version_counts_until_the_env_builds_the_key() -> None:
    """Production's head and a sandbox's failure come from two catalogs: no common order."""
    failure = Failure("a", "dev-x", "boom", "2020-01-01", "2020-01-01", seq=1)
    prod = Head("a", "prod", "d1", "c1", {}, 1, "2030-01-01", None, None, seq=100)
    assert failed_since(failure, prod) and failed_since(replace(failure, seq=None), prod)
    own = prod._replace(env="dev-x", seq=2)  # the sandbox built it after the failure
    assert not failed_since(failure, own) and failed_since(failure, own._replace(seq=0))
    on_prod = replace(failure, env="prod")  # production's own failure: one catalog, one order
    assert not failed_since(on_prod, prod)
    unnumbered = own._replace(seq=None)  # a catalog of schema 1 read read-only: the clocks
    assert not failed_since(failure, unnumbered)
    assert failed_since(replace(failure, finished_at="2031-01-01"), unnumbered)
    assert not failed_since(None, own) and failed_since(failure, None)


def test_a_forget_hides_the_key_but_never_its_history(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    old = catalog.record(build("a", "aa01"))
    catalog.record_failure(failure("a", "a broke"))
    kept = catalog.record(build("b", "bb01"))
    reader = open_catalog(False)
    with pytest.raises(PermissionError, match="read-only"):
        reader.forget("a", "dev", "u", "2026-01-01T00:00:02+00:00")
    assert reader.keys() == {"a", "b"}  # the refused forget left nothing
    catalog.forget("a", "dev", "u", "2026-01-01T00:00:02+00:00")
    for view in (catalog, reader):
        assert view.latest() == {"b": kept} and view.latest(["a"]) == {}
        assert view.heads() == {"b": Head.of(kept)} and view.latest_of("a") is None
        assert view.last_failures() == {} and view.keys() == {"b"}
        assert view.history("a") == [old] and view.version("a", "aa01") == old
        forgot = view.forgotten_before()
        assert list(forgot) == ["a"] and (old.seq or 0) < forgot["a"]
    catalog.record_failure(failure("a", "broke again"))  # back, with only what came after
    assert catalog.keys() == {"a", "b"} and catalog.latest_of("a") is None
    assert catalog.last_failures()["a"].error == "broke again" and "a" not in catalog.heads()
    assert catalog.forgotten_before() == {}
    new = catalog.record(build("a", "aa02"))
    assert catalog.latest() == {"a": new, "b": kept} and catalog.heads()["a"] == Head.of(new)
    assert catalog.history("a") == [new, old]
    catalog.forget("a", "dev", None, "2026-01-01T00:00:03+00:00")
    catalog.forget("a", "dev", None, "2026-01-01T00:00:04+00:00")  # twice: the latest counts
    forgot = catalog.forgotten_before()
    assert list(forgot) == ["a"] and (new.seq or 0) + 1 < forgot["a"]
    assert catalog.keys() == {"b"} and catalog.latest_of("a") is None


def test_incidents_open_once_and_close_once_per_env(open_catalog: OpenCatalog) -> None:
    reader = open_catalog(False)
    assert reader.open_incidents("prod") == {}
    with pytest.raises(PermissionError, match="read-only"):
        reader.record_incidents("prod", {("a", "late"): "a: late"}, [], "t0")
    catalog = open_catalog(True)
    catalog.record_incidents(
        "prod", {("a", "late"): "a: late by 1h", ("b", "check"): "b"}, [], "t1"
    )
    catalog.record_incidents("dev", {("a", "late"): "dev's own"}, [], "t1")
    assert catalog.open_incidents("prod") == {("a", "late"): "a: late by 1h", ("b", "check"): "b"}
    assert list(reader.open_incidents("prod")) == [("a", "late"), ("b", "check")]  # oldest first
    catalog.record_incidents("prod", {("c", "build"): "c broke"}, [("a", "late"), ("z", "x")], "t2")
    for view in (catalog, reader):
        assert view.open_incidents("prod") == {("b", "check"): "b", ("c", "build"): "c broke"}
        assert view.open_incidents("dev") == {("a", "late"): "dev's own"}
    catalog.record_incidents("prod", {("a", "late"): "late again"}, [], "t3")  # a new incident
    assert catalog.open_incidents("prod")[("a", "late")] == "late again"


def test_the_journal_is_every_build_failure_and_forget_in_seq_order(
    open_catalog: OpenCatalog,
) -> None:
    reader = open_catalog(False)
    assert reader.journal() == []  # nothing recorded yet (no catalog at all)
    catalog = open_catalog(True)
    first = catalog.record(build("a", "aa01", inputs={"u": {"data_version": "ff"}}, code="x"))
    catalog.record_failure(replace(failure("a", "a broke"), partition="p1", user="u"))
    day = catalog.record(build("b", "bb01", partition="2024-01-01", schema={"id": "int64"}))
    catalog.forget("a", "dev", "u", "2026-01-01T00:00:02+00:00")
    again = catalog.record(build("a", "aa02", rollback_of="aa01"))
    for view in (catalog, reader):
        entries = view.journal()
        assert [type(e).__name__ for e in entries] == [
            "Materialization", "Failure", "Materialization", "Forget", "Materialization",
        ]  # fmt: skip
        seqs = [e.seq or 0 for e in entries]
        assert seqs == sorted(set(seqs)) and all(e.id for e in entries)
        assert [entries[0], entries[2], entries[4]] == [first, day, again]  # whole records
        broke, forgot = entries[1], entries[3]
        assert broke == view.failure_history("a")[0] and broke.partition == "p1"
        assert (forgot.key, forgot.env, forgot.user, forgot.at) == (
            "a", "dev", "u", "2026-01-01T00:00:02+00:00",
        )  # fmt: skip
        assert view.journal(after_seq=seqs[1], limit=2) == entries[2:4]  # a page
        assert view.journal(after_seq=seqs[-1]) == [] and view.journal(limit=1) == entries[:1]


def test_check_and_test_results_read_whole_in_id_order(open_catalog: OpenCatalog) -> None:
    reader = open_catalog(False)
    assert reader.all_check_results() == [] and reader.all_test_results() == []
    catalog = open_catalog(True)
    ran = [check("a", "aa01", "n1", False, failing_rows=2, sample=[{"id": 1}], message="m"),
           check("a", "aa01", "n2", True, seconds=0.25)]  # fmt: skip
    catalog.record_checks(ran, "dev")
    catalog.record_checks([check("a", "aa01", "n1", True)], "ci")  # a later result, another env
    catalog.record_tests(
        [unit_test("a", "t1", "c1", "passed"), unit_test("a", "t2", "c1", "failed")]
    )
    catalog.record_tests([replace(unit_test("a", "t1", "c1", "error"), env="ci")])
    for view in (catalog, reader):
        checks = view.all_check_results()
        ids = [c.id for c in checks]
        assert ids == sorted(set(ids)) and [c.env for c in checks] == ["dev", "dev", "ci"]
        assert [c.result for c in checks[:2]] == ran and checks[2].result.passed
        assert view.all_check_results(after_id=ids[0], limit=1) == checks[1:2]
        tests = view.all_test_results()
        assert [(t.name, t.outcome, t.env) for t in tests] == [
            ("t1", "passed", "dev"), ("t2", "failed", "dev"), ("t1", "error", "ci"),
        ]  # fmt: skip
        test_ids = [t.id or 0 for t in tests]
        assert test_ids == sorted(set(test_ids))
        assert view.all_test_results(after_id=test_ids[1]) == tests[2:]


def test_incidents_are_read_whole_and_copied_as_they_were(open_catalog: OpenCatalog) -> None:
    reader = open_catalog(False)
    assert reader.incidents() == []
    catalog = open_catalog(True)
    catalog.record_incidents(
        "prod", {("a", "check"): "a failed", ("b", "late"): "b late"}, [], "t1"
    )
    catalog.record_incidents("prod", {}, [("a", "check")], "t2")
    found = reader.incidents()
    assert [replace(i, id=None) for i in found] == [
        Incident("prod", "a", "check", "a failed", "t1", "t2"),
        Incident("prod", "b", "late", "b late", "t1", None),
    ]
    assert found[0].id and found[1].id and found[0].id < found[1].id
    with pytest.raises(PermissionError, match="read-only"):
        reader.copy_incidents(found)
    copied = [replace(i, env="prod2") for i in found]
    catalog.copy_incidents(copied)
    assert [replace(i, id=None) for i in catalog.incidents()[2:]] == [
        replace(i, id=None) for i in copied
    ]  # the times as they were, new ids
    assert catalog.open_incidents("prod2") == {("b", "late"): "b late"}
    assert len(reader.incidents()) == 4


def test_a_closed_catalog_opens_again(open_catalog: OpenCatalog) -> None:
    catalog = open_catalog(True)
    first = catalog.record(build("a", "aa01"))
    catalog.close()
    second = catalog.record(build("a", "aa02"))
    assert catalog.history("a") == [second, first]


# --- data storages ------------------------------------------------------------------------------


def put_bytes(storage: DataStorage, data: bytes, large: bool = False, key: str = "k") -> str:
    def write(sink: Path | BinaryIO) -> None:
        if isinstance(sink, Path):
            sink.write_bytes(data)
        else:
            sink.write(data)

    stored = storage.put(key, "bin", write, large=large)
    assert stored.data_version == hexdigest(data) and stored.bytes == len(data)
    assert stored.path == f"data/{key}/{stored.data_version}.bin"
    return stored.path


@pytest.mark.parametrize("large", [False, True])
def test_the_data_version_is_the_hash_of_the_bytes(storage: DataStorage, large: bool) -> None:
    data = b"hello" * 1000
    relative = put_bytes(storage, data, large=large)
    assert storage.exists(relative)
    local = storage.local_file(relative, hexdigest(data))
    assert local.read_bytes() == data
    assert put_bytes(storage, b"world") != relative


def test_equal_bytes_are_one_file(storage: DataStorage) -> None:
    first = put_bytes(storage, b"same")
    assert put_bytes(storage, b"same", large=True) == first
    assert storage.remove(first)
    assert not storage.exists(first)
    assert not storage.remove(first)  # there was only one


def test_a_removed_or_unknown_file_is_not_found(storage: DataStorage) -> None:
    relative = put_bytes(storage, b"gone soon")
    kept = put_bytes(storage, b"kept", key="other")
    assert storage.remove(relative) and not storage.exists(relative)
    for missing in (relative, "data/k/0123.bin"):
        with pytest.raises(AssetNotFound, match="missing"):
            storage.local_file(missing, hexdigest(b"gone soon"))
    assert storage.local_file(kept, hexdigest(b"kept")).read_bytes() == b"kept"


def test_sizes_are_the_stored_sizes_and_none_for_a_missing_file(storage: DataStorage) -> None:
    small = put_bytes(storage, b"x" * 10)
    large = put_bytes(storage, b"y" * 5000, large=True, key="other")
    gone = put_bytes(storage, b"gone soon", key="third")
    assert storage.remove(gone)
    assert storage.sizes([small, large, gone, "data/nokey/0123.bin", "x/y"]) == {
        small: 10,
        large: 5000,
        gone: None,
        "data/nokey/0123.bin": None,
        "x/y": None,
    }
    assert storage.sizes([]) == {}


@pytest.mark.parametrize("large", [False, True])
def test_a_failing_writer_stores_nothing(storage: DataStorage, large: bool) -> None:
    def write(sink: Path | BinaryIO) -> None:
        if isinstance(sink, Path):
            sink.write_bytes(b"partial")
        else:
            sink.write(b"partial")
        raise RuntimeError("the writer broke")

    with pytest.raises(RuntimeError, match="the writer broke"):
        storage.put("k", "bin", write, large=large)
    assert not storage.exists(f"data/k/{hexdigest(b'partial')}.bin")
    assert storage.sweep_temporary_files() == 0


# --- the read-through cache (memory storage) ----------------------------------------------------


def test_the_cache_hands_out_a_verified_copy_and_keeps_a_good_one(tmp_path: Path) -> None:
    storage = MemoryStorage(tmp_path / "cache")
    relative = put_bytes(storage, b"cached bytes")
    version = hexdigest(b"cached bytes")
    local = storage.local_file(relative, version)
    assert local == tmp_path / "cache" / f"{version}.bin" and local.read_bytes() == b"cached bytes"
    inode = local.stat().st_ino
    assert storage.local_file(relative, version) == local
    assert local.stat().st_ino == inode  # a good copy is not fetched again
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [local.name]  # no leftovers


@pytest.mark.parametrize("damage", ["same size", "truncated", "deleted"])
def test_a_damaged_cache_file_is_detected_and_replaced(tmp_path: Path, damage: str) -> None:
    storage = MemoryStorage(tmp_path / "cache")
    relative = put_bytes(storage, b"the real bytes")
    version = hexdigest(b"the real bytes")
    local = storage.local_file(relative, version)
    if damage == "same size":
        local.write_bytes(b"THE REAL BYTES")
    elif damage == "truncated":
        local.write_bytes(b"the real")
    else:
        local.unlink()
    again = storage.local_file(relative, version)
    assert again == local and again.read_bytes() == b"the real bytes"
    assert hexdigest(again.read_bytes()) == version


def test_a_damaged_remote_copy_is_refused_not_cached(tmp_path: Path) -> None:
    storage = MemoryStorage(tmp_path / "cache")
    relative = put_bytes(storage, b"original")
    storage.blobs[relative] = b"bit rot!"
    with pytest.raises(StorageError, match="damaged"):
        storage.local_file(relative, hexdigest(b"original"))
    assert list((tmp_path / "cache").iterdir()) == []


# --- stores over every combination --------------------------------------------------------------


@pytest.fixture(params=[(c, s) for c in CATALOGS for s in STORAGES], ids="-".join)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    catalog_kind, storage_kind = request.param
    root = tmp_path / "store"
    catalog: Catalog = (
        SqliteCatalog(root / "catalog.sqlite", writable=True)
        if catalog_kind == "sqlite"
        else PostgresCatalog(request.getfixturevalue("postgres_url"), writable=True)
        if catalog_kind == "postgres"
        else MemoryCatalog(writable=True)
    )
    storage = open_storage(storage_kind, request, tmp_path)
    opened = Store("dev", root, writable=True, storage=storage, catalog=catalog)
    yield opened
    opened.close()


def frame(value: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "value": [value, value * 2, value * 3]})


def test_store_write_and_read_a_frame(store: Store) -> None:
    record = store.write("t", frame(1), "parquet", code_version="c", started_at=now())
    assert store.catalog.latest_of("t") == record
    assert record.rows == 3 and record.kind == "pandas" and record.schema == {
        "id": "int64", "value": "int64"
    }  # fmt: skip
    pd.testing.assert_frame_equal(store.read(record), frame(1))
    local = store.storage.local_file(record.path, record.data_version)
    assert hexdigest(local.read_bytes()) == record.data_version
    assert local.stat().st_size == record.bytes
    again = store.write("t", frame(1), "parquet", code_version="c2", started_at=now())
    assert again.data_version == record.data_version and again.path == record.path
    assert again.id is not None and record.id is not None and again.id > record.id


def test_store_gc_and_reading_a_removed_version(store: Store) -> None:
    records = [
        store.write("t", frame(i), "parquet", code_version="c", started_at=now()) for i in (1, 2, 3)
    ]
    result = collect(store, 1)
    assert [r.data_version for r in result.removed] == [m.data_version for m in records[:2]]
    assert not store.storage.exists(records[0].path) and store.storage.exists(records[2].path)
    with pytest.raises(AssetNotFound, match="removed by `nbassets gc`") as info:
        store.read(records[0])
    assert store.catalog.location in str(info.value) and records[0].path in str(info.value)
    pd.testing.assert_frame_equal(store.read(records[2]), frame(3))
    assert collect(store, 1).removed == ()


def test_a_store_refuses_a_catalog_opened_otherwise(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="read-only"):
        Store("dev", tmp_path, writable=True, catalog=MemoryCatalog(writable=False))
    reader = Store("dev", tmp_path, writable=False, catalog=MemoryCatalog(writable=False))
    with pytest.raises(StorageError, match="read-only"):
        reader.write("t", frame(1), "parquet", code_version="c", started_at=now())


@pytest.fixture(params=["local", "memory"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    return open_local_store if request.param == "local" else MemoryBackends(tmp_path / "cache")


def test_an_opener_reopens_what_it_stored(opener: StoreOpener, tmp_path: Path) -> None:
    root = tmp_path / "stores" / "dev"
    writer = opener("dev", root, writable=True)
    record = writer.write("t", frame(5), "parquet", code_version="c", started_at=now())
    writer.close()
    reader = opener("dev", root, writable=False)
    try:
        assert reader.env == "dev" and not reader.writable
        assert reader.catalog.latest_of("t") == record
        pd.testing.assert_frame_equal(reader.read(record), frame(5))
        assert opener("prod", tmp_path / "stores" / "prod", writable=False).catalog.keys() == set()
    finally:
        reader.close()


# --- no core module reaches around the interfaces -----------------------------------------------

IMPLEMENTATIONS = {
    "sqlite_catalog.py",
    "sqlite_file.py",
    "sqlite_results.py",  # the SQLite catalog's check, test results and incidents
    "migrations.py",
    "object_storage.py",
    "postgres_catalog.py",  # the PostgreSQL catalog, its schema and what its failures mean
    "postgres_schema.py",
    "postgres_errors.py",
    "storage.py",
    "stores.py",
    "migrate_ends.py",  # migrate-store opens a target: a folder, or objects at a URL
    "doctor_remote.py",  # doctor examines each kind of store the way it can be examined
    "postgres_health.py",  # what the PostgreSQL catalog's own tables say of its health
}
BACKEND_NAMES = {
    "sqlite3", "SqliteCatalog", "LocalFolder", "VersionCache", "sqlite_catalog", "ObjectStorage",
    "object_storage", "psycopg", "PostgresCatalog", "postgres_catalog", "postgres_schema",
}  # fmt: skip


def test_only_the_store_module_names_the_backends() -> None:
    package = Path(nbassets.__file__).parent
    offenders = []
    for module in sorted(package.rglob("*.py")):
        if module.name in IMPLEMENTATIONS and module.parent == package / "store":
            continue
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Name | ast.Attribute):
                names = [node.id if isinstance(node, ast.Name) else node.attr]
            hits = {part for name in names for part in name.split(".")} & BACKEND_NAMES
            if hits:
                offenders.append(f"{module.relative_to(package)}:{node.lineno} {sorted(hits)}")
    assert offenders == []
