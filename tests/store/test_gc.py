"""Garbage collection of old versions: the pure rule, then against a real store."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd
import pytest

import nbassets
from nbassets.errors import AssetNotFound, NbAssetsError
from nbassets.store import gc as collect_module
from nbassets.store.catalog import Materialization
from nbassets.store.gc import collect, is_version_file, select_removals, store_records
from nbassets.store.stores import Store, now


def record(
    key: str,
    dv: str,
    id_: int,
    inputs: dict[str, str] | None = None,
    path: str | None = None,
    partition: str = "",
) -> Materialization:
    return Materialization(
        key=key,
        env="prod",
        data_version=dv,
        code_version="c1",
        path=path or f"data/{key}/{dv}.parquet",
        io="parquet",
        kind="pandas",
        bytes=10,
        started_at="2026-01-01T00:00:00",
        finished_at="2026-01-01T00:00:00",
        inputs={k: {"data_version": v, "env": "prod"} for k, v in (inputs or {}).items()},
        partition=partition,
        id=id_,
    )


def removed(
    records: list[Materialization],
    keep: int | None,
    orphans: Collection[str] = (),
    forgotten: Collection[str] = (),
) -> list[str]:
    return [r.data_version for r in select_removals(records, keep, orphans, forgotten)]


# --- the rule -----------------------------------------------------------------------------------


def test_keeps_the_newest_n_builds_of_each_key() -> None:
    records = [record("a", f"a{i}", i) for i in range(1, 5)] + [record("b", "b1", 5)]
    assert removed(records, 1) == ["a1", "a2", "a3"]
    assert removed(records, 2) == ["a1", "a2"]
    assert removed(records, 4) == []
    assert removed(list(reversed(records)), 2) == ["a1", "a2"]  # by id, not by list order


def test_keeps_versions_a_kept_build_read() -> None:
    records = [
        record("a", "a1", 1),
        record("a", "a2", 2),
        record("b", "b1", 3, inputs={"a": "a1"}),
        record("a", "a3", 4),
    ]
    assert removed(records, 1) == ["a2"]  # a1 is b1's input, a3 the latest
    old_reader = [*records, record("b", "b2", 5, inputs={"a": "a3"})]
    assert removed(old_reader, 1) == ["a1", "a2", "b1"]  # b1 is not kept: its input may go


def test_a_file_shared_with_a_kept_build_stays() -> None:
    records = [record("a", "a1", 1), record("a", "a2", 2), record("a", "a1", 3)]
    assert removed(records, 1) == ["a2"]  # the newest build made a1's bytes again


def test_partitions_are_kept_apart() -> None:
    records = [
        record("a", "p1v1", 1, path="data/a/2024-01-01/p1v1.parquet", partition="2024-01-01"),
        record("a", "p2v1", 2, path="data/a/2024-01-02/p2v1.parquet", partition="2024-01-02"),
        record("a", "p1v2", 3, path="data/a/2024-01-01/p1v2.parquet", partition="2024-01-01"),
    ]
    assert removed(records, 1) == ["p1v1"]


def test_only_version_files_under_data_are_removed() -> None:
    assert is_version_file(record("a", "a1", 1))
    for path in ("elsewhere/a/a1.parquet", "data/b/a1.parquet", "data/a/other.parquet",
                 "data/a/tmp-1-x.parquet", "data/a/../../catalog.sqlite", "a1.parquet"):  # fmt: skip
        assert not is_version_file(record("a", "a1", 1, path=path)), path
    records = [record("a", "a1", 1, path="../outside/a1.parquet"), record("a", "a2", 2)]
    assert removed(records, 1) == []


def test_orphans_lose_every_version_but_those_a_live_build_read() -> None:
    records = [
        record("a", "a1", 1),
        record("o", "o1", 2),
        record("o", "o2", 3),
        record("a", "a2", 4, inputs={"o": "o1"}),  # an old build of a read o1
        record("p", "p1", 5, inputs={"o": "o2"}),  # an orphan's read protects nothing
    ]
    assert removed(records, None, orphans={"o", "p"}) == ["o2", "p1"]  # a's builds all stay
    assert removed(records, 1, orphans={"o", "p"}) == ["a1", "o2", "p1"]
    assert removed(records, 1, orphans={"o"}) == ["a1"]  # p's kept build read o2
    assert removed(records, None) == []


def test_a_forgotten_key_has_no_latest_to_keep() -> None:
    records = [
        record("s", "s1", 1),
        record("s", "s2", 2),
        record("a", "a1", 3, inputs={"s": "s1"}),
    ]
    assert removed(records, 1, forgotten={"s"}) == ["s2"]  # s1 is a kept build's input
    assert removed(records, None, forgotten={"s"}) == ["s2"]
    assert removed(records, 1, forgotten={"a"}) == ["a1", "s1"]  # a's read protects no more


def test_keep_must_be_at_least_one() -> None:
    with pytest.raises(NbAssetsError, match="--keep 1 or more"):
        select_removals([record("a", "a1", 1)], 0)


# --- a real store -------------------------------------------------------------------------------


def frame(value: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2], "value": [value, value + 1]})


@pytest.fixture
def store(project: Path) -> Store:
    """Production with a1, a2, a3 and b1 (which read a1)."""
    prod = Store("prod", project / "warehouse", writable=True)
    a1 = prod.write("a", frame(1), "parquet", code_version="c", started_at=now())
    prod.write("a", frame(2), "parquet", code_version="c", started_at=now())
    inputs = {"a": {"data_version": a1.data_version, "env": "prod"}}
    prod.write("b", frame(9), "parquet", code_version="c", started_at=now(), inputs=inputs)
    prod.write("a", frame(3), "parquet", code_version="c", started_at=now())
    return prod


def versions(store: Store, key: str) -> list[str]:
    return [m.data_version for m in reversed(store.catalog.history(key))]


def test_dry_run_removes_nothing(store: Store) -> None:
    _, a2, _ = versions(store, "a")
    before = sorted(p.name for p in (store.root / "data").rglob("*.parquet"))
    result = collect(store, 1, dry_run=True)
    assert [r.data_version for r in result.removed] == [a2]
    assert result.bytes == (store.root / "data" / "a" / f"{a2}.parquet").stat().st_size > 0
    assert sorted(p.name for p in (store.root / "data").rglob("*.parquet")) == before


def test_gc_removes_files_keeps_history_and_load_explains(store: Store) -> None:
    a1, a2, a3 = versions(store, "a")
    size = (store.root / "data" / "a" / f"{a2}.parquet").stat().st_size
    result = collect(store, 1)
    assert [(r.key, r.data_version, r.bytes) for r in result.removed] == [("a", a2, size)]
    assert result.to_dict()["files"] == 1 and result.to_dict()["bytes"] == size
    assert not (store.root / "data" / "a" / f"{a2}.parquet").exists()
    assert versions(store, "a") == [a1, a2, a3]  # the catalog keeps the history
    with pytest.raises(AssetNotFound, match="removed by `nbassets gc`"):
        nbassets.load("a", env="prod", version=a2[:10])
    assert nbassets.load("a", env="prod", version=a1)["value"].tolist() == [1, 2]
    assert nbassets.load("a", env="prod")["value"].tolist() == [3, 4]
    assert collect(store, 1).removed == ()  # already gone: nothing counted twice


def test_keep_two_keeps_more(store: Store) -> None:
    assert collect(store, 2).removed == ()  # a2 and a3 are the newest two, a1 is b1's input
    assert collect(store, 3, dry_run=True).removed == ()


def test_a_build_recorded_meanwhile_keeps_its_file(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, a2, _ = versions(store, "a")
    planned = store_records(store)  # gc plans from this snapshot ...
    again = store.write("a", frame(2), "parquet", code_version="c", started_at=now())
    assert again.data_version == a2  # ... while a rebuild reuses a2's file
    monkeypatch.setattr(collect_module, "store_records", lambda _store: planned)
    assert collect(store, 1).removed == ()
    assert (store.root / again.path).exists()


def test_orphans_on_a_real_store(store: Store) -> None:
    a1, a2, _ = versions(store, "a")
    [b1] = versions(store, "b")
    listed = collect(store, None, orphans={"b"}, dry_run=True)
    assert [r.data_version for r in listed.removed] == [b1]
    assert listed.to_dict()["orphans"] == ["b"] and listed.to_dict()["keep"] is None
    both = collect(store, 1, orphans={"b"})
    assert [r.data_version for r in both.removed] == [a1, a2, b1]  # b1 kept nothing
    assert not (store.root / "data" / "b" / f"{b1}.parquet").exists()
    assert versions(store, "b") == [b1]  # the record stays


def test_gc_needs_a_writable_store(store: Store, project: Path) -> None:
    reader = Store("prod", project / "warehouse", writable=False)
    with pytest.raises(NbAssetsError, match="read-only"):
        collect(reader, 1)
    assert len(collect(reader, 1, dry_run=True).removed) == 1
