"""``why`` as a pure function: one version's provenance from its record, checks and inputs today."""

from __future__ import annotations

from nbassets.provenance import EXTERNAL_CODE, explain, latest_checks
from nbassets.store.catalog import Materialization
from nbassets.store.results import CheckResult


def record(**changes: object) -> Materialization:
    fields: dict[str, object] = {
        "key": "orders",
        "env": "prod",
        "data_version": "a" * 32,
        "code_version": "c1",
        "path": "data/orders/a.parquet",
        "io": "parquet",
        "kind": "pandas",
        "bytes": 10,
        "started_at": "2026-11-30T10:00:00+00:00",
        "finished_at": "2026-11-30T10:00:01+00:00",
        "commit": "4f2c1a9",
        "dirty": False,
        "source": "pipelines.shop:orders | notebooks/shop.ipynb :: orders",
        "inputs": {"raw": {"data_version": "b" * 32, "env": "prod"}},
    }
    fields.update(changes)
    return Materialization(**fields)  # type: ignore[arg-type]


def why(m: Materialization, current: str | None = "c1", now: str | None = "b" * 32) -> dict:  # type: ignore[type-arg]
    checks = [
        CheckResult("orders", "unique('id')", "error", False, m.data_version, checked_at="1"),
        CheckResult("orders", "unique('id')", "error", True, m.data_version, checked_at="2"),
    ]
    return explain(
        m, store_env="prod", checks=checks, inputs_now={"raw": now},
        current_code_version=current, code_origin="package pipelines",
        file="/w/data/orders/a.parquet", file_present=True,
    ).to_dict()  # fmt: skip


def test_a_version_built_from_the_current_code_on_current_inputs() -> None:
    found = why(record())
    assert found["built_from_current_code"] is True
    assert found["code"] == "built from this code (package pipelines)"
    assert found["source_parts"]["module"] == "pipelines.shop"
    assert found["source_parts"]["cell_key"] == "orders"
    assert found["inputs"] == {"raw": {"data_version": "b" * 32, "env": "prod", "now": "b" * 32}}
    assert [c["outcome"] for c in found["checks"]] == ["pass"]  # the latest run of each check
    assert found["built_at"] == found["finished_at"] and found["commit"] == "4f2c1a9"


def test_other_code_a_changed_input_and_external_versions() -> None:
    found = why(record(), current="c2", now="c" * 32)
    assert found["built_from_current_code"] is False
    assert "code version c1; package pipelines now has c2" in found["code"]
    assert found["inputs"]["raw"]["now"] == "c" * 32
    assert why(record(), current=None)["code"].startswith("no current code defines it")
    external = why(record(code_version=EXTERNAL_CODE))
    assert external["built_from_current_code"] is None
    assert external["code"].startswith("stored by a script")


def test_latest_checks_keeps_the_last_result_of_each_name() -> None:
    results = [
        CheckResult("o", "a", "error", False, "v"),
        CheckResult("o", "b", "warn", False, "v"),
        CheckResult("o", "a", "error", True, "v"),
    ]
    assert [(r.name, r.passed) for r in latest_checks(results)] == [("a", True), ("b", False)]


def test_the_plan_of_partitioned_assets_lists_ranges_and_what_a_backfill_builds() -> None:
    from datetime import UTC, datetime

    from nbassets.partition_status import evaluate, partitioned_assets, reader_heads
    from nbassets.partitions import combined_version, parse_definition
    from nbassets.provenance import Plan, plan_partitions
    from nbassets.store.catalog import Head

    daily, monthly = parse_definition("daily:2024-01-01"), parse_definition("monthly:2024-01")
    days = [f"2024-01-{d:02d}" for d in range(1, 32)] + ["2024-02-01", "2024-02-02"]

    def head(key: str, partition: str, dv: str, cv: str, **inputs: str) -> Head:
        read = {k: {"data_version": v, "env": "prod"} for k, v in inputs.items()}
        folder = f"data/{key}/{partition}/" if partition else f"data/{key}/"
        return Head(key, "prod", dv, cv, read, 1, "t", None, None, f"{folder}{dv}.parquet", 1, 1)

    parts = {"e": {d: head("e", d, f"v{d}", "e1") for d in days}}
    january = combined_version({d: f"v{d}" for d in days[:31]}).version
    parts["m"] = {"2024-01": head("m", "2024-01", "m1", "m1", e=january)}
    current = reader_heads({"e": parts["e"][days[-1]]}, parts)
    current["t"] = head("t", "", "t1", "t1", e=current["e"].data_version)
    versions = {"e": "e2", "m": "m1", "t": "t1"}  # e's code changed
    deps = {"e": (), "m": ("e",), "t": ("e",)}
    assets = partitioned_assets(versions, deps, {"e": daily, "m": monthly})
    now = datetime(2024, 2, 3, tzinfo=UTC)
    reports = evaluate(assets, parts, current, now=now)
    steps, plans = plan_partitions(versions, deps, current, {}, assets, reports, "4f2c1a9e")
    plan = Plan("prod", tuple(steps), partitions=tuple(plans))
    assert [(s.key, s.action, s.reason) for s in steps] == [
        ("e", "rebuild", "33 of 33 partitions, code changed at 4f2c1a9"),
        ("m", "downstream", "upstream 'e' is rebuilt (1 partition)"),
        ("t", "downstream", "upstream 'e' is rebuilt"),
    ]
    assert plan.to_dict()["partitions"] == [
        {"key": "e", "definition": "daily:2024-01-01", "complete": 33, "count": 33,
         "ranges": [{"first": "2024-01-01", "last": "2024-02-02", "count": 33,
                     "reason": "code changed at 4f2c1a9"}]},
        {"key": "m", "definition": "monthly:2024-01", "complete": 1, "count": 1,
         "ranges": [{"first": "2024-01", "last": "2024-01", "count": 1,
                     "reason": "upstream 'e' is rebuilt"}]},
    ]  # fmt: skip
    builds = plan.builds()
    assert builds.partitions == {"e": days, "m": ["2024-01"]} and builds.keys == ["t"]
