"""Staleness rules, as pure functions over records."""

from __future__ import annotations

from nbassets.status import compute_statuses
from nbassets.store.catalog import Failure, Head, Materialization


def record(
    key: str, dv: str, cv: str = "c1", inputs: dict | None = None, at: str = "2026-01-01T00:00:01"
) -> Materialization:
    return Materialization(
        key=key,
        env="dev",
        data_version=dv,
        code_version=cv,
        path=f"data/{key}/{dv}.parquet",
        io="parquet",
        kind="pandas",
        bytes=1,
        started_at=at,
        finished_at=at,
        inputs={k: {"data_version": v, "env": "dev"} for k, v in (inputs or {}).items()},
    )


def labels(*args, **kwargs) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: s.label for k, s in compute_statuses(*args, **kwargs).items()}


def heads(records: dict[str, Materialization]) -> dict[str, Head]:
    return {k: Head.of(m) for k, m in records.items()}


def test_fresh_stale_missing_failed() -> None:
    current = heads({"a": record("a", "v1"), "b": record("b", "w1", inputs={"a": "v1"})})
    deps = {"a": [], "b": ["a"], "c": ["b"]}
    code = {"a": "c1", "b": "c1", "c": "c1"}
    assert labels(code, deps, current) == {"a": "fresh", "b": "fresh", "c": "missing: never built"}
    assert labels({**code, "a": "c2"}, deps, current)["a"] == "stale: code changed"
    assert labels({**code, "a": "c2"}, deps, current)["b"] == "stale: upstream 'a' is stale"
    moved = {**current, "a": Head.of(record("a", "v2"))}
    assert labels(code, deps, moved)["b"] == "stale: upstream 'a' changed"
    failure = Failure(
        key="a",
        env="dev",
        error="Traceback\nValueError: boom",
        started_at="2026-01-02",
        finished_at="2026-01-02",
    )
    result = compute_statuses(code, deps, current, {"a": failure})
    assert (
        result["a"].label == "failed: last build raised" and result["a"].error == "ValueError: boom"
    )
    assert result["b"].label == "stale: upstream 'a' is failed"
    old_failure = Failure(key="a", env="dev", error="x", started_at="2025", finished_at="2025")
    assert labels(code, deps, current, {"a": old_failure})["a"] == "fresh"


def test_new_upstream_and_records_without_code() -> None:
    current = heads({"a": record("a", "v1"), "b": record("b", "w1")})
    assert labels({"b": "c1"}, {"b": ["a"]}, current)["b"] == "stale: new upstream 'a'"
    # only stores know these: upstreams come from the inputs they read
    current = heads({"a": record("a", "v2"), "b": record("b", "w1", inputs={"a": "v1"})})
    assert labels({}, {}, current) == {"a": "fresh", "b": "stale: upstream 'a' changed"}


# --- orphans (DESIGN §2) -------------------------------------------------------------------------


def test_an_orphan_is_orphaned_whatever_its_record_says_and_spreads_nothing() -> None:
    from nbassets.status import ORPHAN_REASON, ORPHANED

    current = heads({
        "a": record("a", "v1"),
        "old": record("old", "o1", cv="gone", inputs={"a": "v0"}),  # read a version since moved
        "older": record("older", "p1", inputs={"old": "o1"}),
        "raw": record("raw", "r1"),
    })  # fmt: skip
    code = {"a": "c1", "b": "c1"}
    deps = {"a": [], "b": ["raw"]}
    rows = compute_statuses(code, deps, current, orphaned={"old", "older"})
    assert {k: (r.status, r.reason) for k, r in rows.items()} == {
        "a": ("fresh", ""),
        "b": ("missing", "never built"),
        "old": (ORPHANED, ORPHAN_REASON),  # not "stale: upstream 'a' changed"
        "older": (ORPHANED, ORPHAN_REASON),  # not "stale: upstream 'old' is orphaned"
        "raw": ("fresh", ""),
    }
    assert rows["old"].data_version == "o1"  # the version the store still holds


def test_an_orphan_never_makes_a_stored_reader_stale() -> None:
    """``mid`` is read by the code but defined by none, and read an orphan: still fresh."""
    current = heads(
        {"gone": record("gone", "g1"), "mid": record("mid", "m1", inputs={"gone": "g1"})}
    )
    rows = compute_statuses({"top": "c1"}, {"top": ["mid"]}, current, orphaned={"gone"})
    assert (rows["mid"].status, rows["gone"].status) == ("fresh", "orphaned")


def test_orphans_come_last_by_key() -> None:
    from nbassets.status import in_definition_order

    current = heads({k: record(k, f"{k}1", cv="x") for k in ("z", "y", "b", "a", "s")})
    rows = compute_statuses({"b": "x", "a": "x"}, {}, current, orphaned={"z", "y"})
    ordered = [row.key for row in in_definition_order(rows, ["b", "a"])]
    assert ordered == ["b", "a", "s", "y", "z"]


def test_orphaned_keys_leave_out_what_is_defined_read_or_external() -> None:
    from nbassets.status import EXTERNAL_CODE, orphaned_keys

    held = heads({
        "defined": record("defined", "d1"),
        "read": record("read", "r1"),
        "saved": record("saved", "s1", cv=EXTERNAL_CODE),
        "renamed": record("renamed", "n1"),
    })  # fmt: skip
    found = orphaned_keys({**held, "only_failed": None}, {"defined"}, {"defined": ["read"]})
    assert found == {"renamed", "only_failed"}


def test_a_partitioned_assets_own_row_is_taken_and_spreads_downstream() -> None:
    from nbassets.status import AssetStatus

    current = heads(
        {"days": record("days", "all"), "total": record("total", "t", inputs={"days": "all"})}
    )
    deps = {"days": [], "total": ["days"], "top": ["total"]}
    code = {"days": "c1", "total": "c1", "top": "c1"}
    own = {"days": AssetStatus("days", "stale", "90 of 365 partitions, code changed")}
    assert labels(code, deps, current, partitioned=own) == {
        "days": "stale: 90 of 365 partitions, code changed",
        "total": "stale: upstream 'days' is stale",
        "top": "missing: never built",
    }
    fresh = {"days": AssetStatus("days", "fresh")}
    assert labels(code, deps, current, partitioned=fresh)["total"] == "fresh"


def test_failing_checks_per_version_later_passes_clear_and_only_defined_checks_count() -> None:
    from nbassets.status import failing_checks
    from nbassets.store.results import CheckResult

    results = [
        CheckResult("e", "not_null('id')", "error", False, "v1"),
        CheckResult("e", "unique('id')", "error", False, "v2"),
        CheckResult("e", "dropped", "error", False, "v2"),
        CheckResult("e", "not_null('id')", "error", True, "v2"),
        CheckResult("e", "unique('id')", "error", True, "v2"),  # a later store's pass
        CheckResult("e", "loose", "warn", False, "v3"),
        CheckResult("e", "not_null('id')", "error", False, "v9"),  # not asked
    ]
    names = {"e": {"not_null('id')", "unique('id')", "loose"}}
    wanted = {("e", "v1"), ("e", "v2"), ("e", "v3")}
    assert failing_checks(results, wanted, names) == {("e", "v1"): "not_null('id')"}
    assert failing_checks(results, wanted, {})[("e", "v2")] == "dropped"
