"""Partition status, pure: each complete partition judged, rows with counts, reader versions,
and the ranges a deploy rebuilds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nbassets.partition_status import (
    PartitionedAsset,
    evaluate,
    is_partition_head,
    partition_plan,
    partitioned_assets,
    reader_heads,
    undefined_rows,
)
from nbassets.partitions import combined_version, parse_definition, partition_mapping
from nbassets.store.catalog import Failure, Head

NOW = datetime(2024, 1, 6, tzinfo=UTC)  # days 2024-01-01..05 are complete
DAILY = parse_definition("daily:2024-01-01")
MONTHLY = parse_definition("monthly:2024-01")
DAYS = [f"2024-01-0{d}" for d in range(1, 6)]


def head(key: str, partition: str, dv: str, cv: str = "c1", seq: int = 1, **inputs: str) -> Head:
    folder = f"data/{key}/{partition}/" if partition else f"data/{key}/"
    read = {up: {"data_version": v, "env": "dev"} for up, v in inputs.items()}
    return Head(key, "dev", dv, cv, read, 1, "2024-01-06", None, "test", f"{folder}{dv}.parquet",
                1, seq)  # fmt: skip


def one(partition: str, version: str) -> str:
    """What a build records reading one partition of an upstream."""
    return combined_version({partition: version}).version


def daily(code_version: str = "c1", **reads: object) -> PartitionedAsset:
    return PartitionedAsset(DAILY, code_version, reads)  # type: ignore[arg-type]


def test_every_complete_partition_judged_worst_first_with_counts() -> None:
    parts = {"e": {day: head("e", day, f"v{day[-1]}") for day in DAYS[:4]}}
    parts["e"]["2024-01-02"] = head("e", "2024-01-02", "v2", cv="old")
    reports = evaluate(
        {"e": daily()},
        parts,
        {},
        failed_checks={("e", "v3"): "not_null('id')"},
        corrupt={("e", "2024-01-04"): "file missing: data/e/2024-01-04/v4.parquet"},
        now=NOW,
    )
    report = reports["e"]
    assert report.groups == {
        ("stale", "code changed"): ["2024-01-02"],
        ("check-failed", "check not_null('id') failed"): ["2024-01-03"],
        ("corrupt", "file missing: data/e/2024-01-04/v4.parquet"): ["2024-01-04"],
        ("missing", "never built"): ["2024-01-05"],
    }
    assert report.row(None).label == (
        "corrupt: 1 of 5 partitions, file missing: data/e/2024-01-04/v4.parquet; "
        "also 1 check-failed, 1 missing, 1 stale"
    )
    del report.groups[("corrupt", "file missing: data/e/2024-01-04/v4.parquet")]
    assert report.row(None).label.startswith("check-failed: 1 of 5 partitions, check not_null")
    assert report.row(None).label.endswith("; also 1 missing, 1 stale")


def test_a_partition_failed_after_its_record_is_failed_not_before() -> None:
    parts = {"e": {day: head("e", day, "v", seq=10) for day in DAYS}}
    failure = Failure("e", "dev", "Traceback\nValueError: boom", "t", "t", partition="2024-01-03",
                      seq=11)  # fmt: skip
    report = evaluate({"e": daily()}, parts, {}, {"e": failure}, now=NOW)["e"]
    row = report.row(parts["e"]["2024-01-05"])
    assert (row.label, row.error) == (
        "failed: 1 of 5 partitions, last build raised",
        "ValueError: boom",
    )
    earlier = Failure("e", "dev", "ValueError: boom", "t", "t", partition="2024-01-03", seq=9)
    assert evaluate({"e": daily()}, parts, {}, {"e": earlier}, now=NOW)["e"].groups == {}
    whole = Failure("e", "dev", "InvalidArgument: no key", "t", "t", partition="", seq=11)
    current = {"e": parts["e"]["2024-01-05"]}
    row = evaluate({"e": daily()}, parts, current, {"e": whole}, now=NOW)["e"].row(current["e"])
    assert (row.status, row.reason) == ("failed", "last build raised")


def test_nothing_built_is_missing_and_nothing_complete_says_so() -> None:
    row = evaluate({"e": daily()}, {}, {}, now=NOW)["e"].row(None)
    assert row.label == "missing: 5 of 5 partitions, never built"
    early = datetime(2024, 1, 1, 5, tzinfo=UTC)
    row = evaluate({"e": daily()}, {}, {}, now=early)["e"].row(None)
    assert row.label == "missing: no partition is complete yet"


def test_upstream_changes_through_each_mapping_as_a_build_records_them() -> None:
    """same: the day itself; covered: a month reads its days; whole: an unpartitioned
    upstream's version; an unpartitioned reader of all days sees their combined version."""
    january = [f"2024-01-{d:02d}" for d in range(1, 32)]
    ups = {day: head("up", day, f"u{day[-1]}") for day in january}
    month = all_days = combined_version({d: h.data_version for d, h in ups.items()}).version
    raw = head("raw", "", "r1")
    parts = {
        "up": dict(ups),
        "same": {d: head("same", d, "s", up=one(d, f"u{d[-1]}"), raw="r1") for d in DAYS},
        "months": {"2024-01": head("months", "2024-01", "m", up=month)},
    }
    assets = {
        "same": daily(up=partition_mapping(DAILY, DAILY), raw=None),
        "months": PartitionedAsset(MONTHLY, "c1", {"up": partition_mapping(MONTHLY, DAILY)}),
    }
    current = {"raw": raw, "up": ups["2024-01-31"]}
    now = datetime(2024, 2, 1, tzinfo=UTC)  # all of January: 31 days of up, 5 of same
    reports = evaluate(assets, parts, reader_heads(current, parts), now=now)
    assert reports["same"].groups[("missing", "never built")][0] == "2024-01-06"
    assert ("stale", "upstream 'up' changed") not in reports["same"].groups
    assert reports["months"].groups == {}  # its days read as built: nothing changed
    del parts["up"]["2024-01-31"]  # the month's build would fail, not rebuild: never stale
    assert evaluate(assets, parts, current, now=now)["months"].groups == {}
    parts["up"] = dict(ups)
    assert reader_heads(current, parts)["up"].data_version == all_days

    parts["up"] = {**ups, "2024-01-03": head("up", "2024-01-03", "changed", seq=2)}
    current["raw"] = head("raw", "", "r2")
    reports = evaluate(assets, parts, reader_heads(current, parts), now=now)
    stale = {k: v for k, v in reports["same"].groups.items() if k[0] == "stale"}
    assert stale == {
        ("stale", "upstream 'up' changed"): ["2024-01-03"],
        ("stale", "upstream 'raw' changed"): ["2024-01-01", "2024-01-02", "2024-01-04",
                                               "2024-01-05"],
    }  # fmt: skip
    assert reports["months"].groups == {("stale", "upstream 'up' changed"): ["2024-01"]}
    assert (
        reports["same"]
        .row(None)
        .label.startswith("missing: 26 of 31 partitions, never built; also 5 stale")
    )


def test_reader_heads_combine_every_built_partition_and_leave_the_rest() -> None:
    parts = {"e": {"": head("e", "", "old"), "2024-01-01": head("e", "2024-01-01", "a"),
                   "2024-01-02": head("e", "2024-01-02", "b")}}  # fmt: skip
    whole = head("w", "", "w1")
    current = {"e": parts["e"]["2024-01-02"], "w": whole}
    seen = reader_heads(current, parts)
    expected = combined_version({"2024-01-01": "a", "2024-01-02": "b"}).version
    assert (seen["e"].data_version, seen["e"].rows, seen["e"].path) == (expected, 2, "")
    assert seen["w"] is whole
    assert is_partition_head(parts["e"]["2024-01-01"]) and not is_partition_head(whole)


def test_a_mapping_no_build_can_use_is_left_to_the_build() -> None:
    static = parse_definition("static:eu,us")
    assets = partitioned_assets(
        {"m": "c1", "d": "c2"}, {"m": ("d", "raw"), "d": ()}, {"m": MONTHLY, "d": static}
    )
    assert assets["m"].reads == {"d": None, "raw": None}
    assert assets["d"].reads == {}


@pytest.mark.parametrize("commit, reason", [("4f2c1a9e0", "code changed at 4f2c1a9"),
                                            (None, "code changed")])  # fmt: skip
def test_the_plan_compresses_partitions_into_ranges_with_reasons(
    commit: str | None, reason: str
) -> None:
    parts = {"e": {d: head("e", d, "v", cv="old") for d in DAYS[:3]}}
    report = evaluate({"e": daily()}, parts, {}, now=NOW)["e"]
    plan = partition_plan(report, daily(), (), {}, commit)
    assert [str(r) for r in plan.ranges] == [
        f"2024-01-01..2024-01-03: {reason}",
        "2024-01-04..2024-01-05: missing",
    ]
    assert plan.partitions() == DAYS and plan.count == 5
    assert plan.to_dict()["ranges"][1] == {"first": "2024-01-04", "last": "2024-01-05",
                                           "count": 2, "reason": "missing"}  # fmt: skip


def test_the_plan_rebuilds_what_reads_a_partition_rebuilt_upstream() -> None:
    """A month whose days are rebuilt; a day whose unpartitioned upstream is rebuilt."""
    months = PartitionedAsset(MONTHLY, "c1", {"e": partition_mapping(MONTHLY, DAILY)})
    parts = {"m": {f"2024-0{n}": head("m", f"2024-0{n}", "m", e="x") for n in (1, 2, 3)}}
    now = datetime(2024, 4, 1, tzinfo=UTC)
    report = evaluate({"m": months}, parts, {}, now=now)["m"]
    plan = partition_plan(report, months, ("e",), {"e": {"2024-02-03", "2024-02-04"}}, None)
    assert [str(r) for r in plan.ranges] == ["2024-02: upstream 'e' is rebuilt"]
    days = daily(raw=None)
    report = evaluate({"d": days}, {"d": {d: head("d", d, "v", raw="r") for d in DAYS}}, {},
                      now=NOW)["d"]  # fmt: skip
    plan = partition_plan(report, days, ("raw",), {}, None)
    assert [str(r) for r in plan.ranges] == ["2024-01-01..2024-01-05: upstream 'raw' is rebuilt"]


def test_failures_known_per_partition_count_each_failed_partition() -> None:
    parts = {"e": {day: head("e", day, "v", seq=10) for day in DAYS[:3]}}
    failed = {
        day: Failure("e", "dev", f"KeyError: {day}", "t", "t", partition=day, seq=seq)
        for day, seq in (("2024-01-01", 11), ("2024-01-02", 9), ("2024-01-05", 12))
    }  # 01-02 failed before its record was made: built since
    report = evaluate({"e": daily()}, parts, {}, {"e": failed["2024-01-05"]}, now=NOW,
                      partition_failures={"e": failed})["e"]  # fmt: skip
    assert report.groups == {
        ("failed", "last build raised"): ["2024-01-01", "2024-01-05"],
        ("missing", "never built"): ["2024-01-04"],
    }
    assert report.row(None).label == "failed: 2 of 5 partitions, last build raised; also 1 missing"


def test_a_partitioned_asset_no_code_defines_is_judged_by_its_latest_build() -> None:
    latest = head("m", "2024-01", "m1", seq=5, up="read-long-ago")
    boom = Failure("m", "dev", "ValueError: boom", "t", "t", partition="2024-02", seq=6)
    rows = undefined_rows(["m", "gone"], {"m": latest}, {})
    assert [(r.key, r.label, r.data_version) for r in rows.values()] == [("m", "fresh", "m1")]
    row = undefined_rows(["m"], {"m": latest}, {"m": boom})["m"]
    assert (row.label, row.error) == ("failed: last build raised", "ValueError: boom")
