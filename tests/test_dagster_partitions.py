"""Partitioned assets through Dagster (issue 13, acceptance 2): one exported package built by
the CLI path into one env and by real Dagster runs into another gives the same data versions,
inputs and check results per (key, partition); the definitions carry the matching Dagster
partitions definitions and mappings."""

# ruff: noqa: E402  (dagster is optional: skip before importing what needs it)

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dg = pytest.importorskip("dagster")

from helpers import write_notebook

import nbassets
from nbassets.config import Project
from nbassets.dagster_assets import build_definitions
from nbassets.environments import store_path
from nbassets.errors import SpecError
from nbassets.exporter import export_notebooks
from nbassets.pipeline import materialize
from nbassets.store.sqlite_catalog import SqliteCatalog

pytestmark = pytest.mark.dagster

DAYS = [f"2024-01-{day:02d}" for day in range(1, 32)]
CELLS = {
    "lib": "# nbassets: export\nimport pandas as pd",
    "events": (
        "%%asset events --partition daily:2024-01-01 --check 'row_count(min=1)'\n"
        "day = raw_events[raw_events.day == partition.start.day]\n"
        "day.assign(date=str(partition)).reset_index(drop=True)"
    ),
    "monthly": (
        "%%asset monthly --partition monthly:2024-01\n"
        "pd.DataFrame({'month': [str(partition)], 'n': [int(events['n'].sum())], "
        "'days': [events['date'].nunique()]})"
    ),
    "total": (
        "%%asset total\n"
        "events.groupby('date', as_index=False)['n'].sum().sort_values('date')"
        ".reset_index(drop=True)"
    ),
    "check": "%%check events --name positive\nassert (events['n'] > 0).all(), 'n must be positive'",
}


def raw_events() -> pd.DataFrame:
    """The source input: two events on each day of January 2024."""
    days = [day for day in range(1, 32) for _ in range(2)]
    return pd.DataFrame({"day": days, "n": [day * 3 + i % 2 for i, day in enumerate(days)]})


@pytest.fixture(autouse=True)
def pipelines(project: Path) -> Path:
    """The notebook, exported as the package ``pipelines``; ``raw_events`` in production."""
    notebook = write_notebook(project / "notebooks" / "days.ipynb", CELLS)
    export_notebooks(Project.find(project), [notebook])
    nbassets.save("raw_events", raw_events())
    return project / "pipelines"


def versions(project: Path, env: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(key, partition) -> what its latest record says: data version, inputs (without the
    env they came from), code version, and the check results of that version."""
    catalog = SqliteCatalog(
        store_path(Project.find(project), env) / "catalog.sqlite", writable=False
    )
    try:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for key in ("events", "monthly", "total"):
            records = catalog.partition_records(key)
            checks = catalog.versions_check_results([m.data_version for m in records.values()])
            for partition, record in records.items():
                found[key, partition] = {
                    "data_version": record.data_version,
                    "code_version": record.code_version,
                    "inputs": {
                        dep: {k: v for k, v in read.items() if k != "env"}
                        for dep, read in record.inputs.items()
                    },
                    "checks": sorted(
                        (r.name, r.passed) for r in checks
                        if r.key == key and r.data_version == record.data_version
                    ),
                }  # fmt: skip
        return found
    finally:
        catalog.close()


def dagster_run(defs: Any, selection: list[str], partition: str | None = None, **tags: str) -> Any:
    """One Dagster run of ``selection`` in this process (a partition, or a range by tags)."""
    result = dg.materialize(
        list(defs.assets or []) + list(defs.asset_checks or []),
        resources=defs.resources,
        selection=selection,
        partition_key=partition,
        tags=tags or None,
        raise_on_error=False,
    )
    assert result.success, [
        str(e.step_failure_data.error) for e in result.get_step_failure_events()
    ]
    return result


def test_the_cli_and_dagster_give_the_same_versions_per_partition(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = materialize(
        Project.find(project),
        "ci-cli",
        [f"events[{DAYS[0]}..{DAYS[-1]}]", "monthly[2024-01]", "total"],
    )
    assert report.ok and len(report.built) == 33, report.failed

    monkeypatch.setenv("NBASSETS_ENV", "ci-dagster")
    defs = build_definitions("pipelines", project)
    for day in DAYS[:3]:  # one run per partition, as a Dagster schedule or backfill runs them
        dagster_run(defs, ["events"], day)
    dagster_run(  # the rest in one run over a range of partitions
        defs, ["events"],
        **{"dagster/asset_partition_range_start": DAYS[3],
           "dagster/asset_partition_range_end": DAYS[-1]},
    )  # fmt: skip
    dagster_run(defs, ["monthly"], "2024-01")
    dagster_run(defs, ["total"])

    cli, dagster = versions(project, "ci-cli"), versions(project, "ci-dagster")
    assert set(cli) == {("events", d) for d in DAYS} | {("monthly", "2024-01"), ("total", "")}
    assert dagster == cli  # data versions, inputs, code versions and checks, per partition
    assert len({cli["events", d]["data_version"] for d in DAYS}) == 31
    assert cli["events", DAYS[0]]["checks"] == [("positive", True), ("row_count(min=1)", True)]
    assert cli["monthly", "2024-01"]["inputs"]["events"]["partitions"] == "31"
    assert cli["total", ""]["inputs"]["events"]["partitions"] == "31"
    monthly = nbassets.load("monthly", env="ci-dagster")
    assert monthly.to_dict("records") == [
        {"month": "2024-01", "n": int(raw_events()["n"].sum()), "days": 31}
    ]
    assert nbassets.load("total", env="ci-dagster")["date"].tolist() == DAYS


def test_the_definitions_carry_the_matching_partitions_and_mappings(project: Path) -> None:
    defs = build_definitions("pipelines", project)

    events = defs.resolve_assets_def("events")
    daily = events.partitions_def
    assert isinstance(daily, dg.DailyPartitionsDefinition)
    assert (daily.start.isoformat(), daily.timezone, daily.fmt) == (
        "2024-01-01T00:00:00+00:00", "UTC", "%Y-%m-%d",
    )  # fmt: skip
    monthly = defs.resolve_assets_def("monthly")
    assert isinstance(monthly.partitions_def, dg.MonthlyPartitionsDefinition)
    assert monthly.partitions_def.get_partition_keys()[0] == "2024-01"
    key = dg.AssetKey("events")
    assert isinstance(monthly.get_partition_mapping(key), dg.TimeWindowPartitionMapping)
    total = defs.resolve_assets_def("total")
    assert total.partitions_def is None
    assert isinstance(total.get_partition_mapping(key), dg.AllPartitionMapping)
    checks = {k.name: k for k in defs.resolve_asset_graph().asset_check_keys}
    assert set(checks) == {"row_count_min_1", "positive"}
    # like nbassets, Dagster lists only complete partitions: today's is not one
    now = pd.Timestamp("2024-03-02T05:00:00Z").to_pydatetime()
    assert daily.get_partition_keys(current_time=now)[-1] == "2024-03-01"
    assert monthly.partitions_def.get_partition_keys(current_time=now) == ["2024-01", "2024-02"]


def test_hourly_and_static_partitions_and_their_mappings(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = {
        "lib": "# nbassets: export\nimport pandas as pd",
        "days": "%%asset days --partition daily:2024-01-01\npd.DataFrame({'d': [str(partition)]})",
        "hours": (
            "%%asset hours --partition hourly:2024-01-02\n"
            "days.assign(h=str(partition))"
        ),
        "regions": "%%asset regions --partition static:eu,us,asia\npd.DataFrame({'r': [str(partition)]})",
        "west": "%%asset west --partition static:eu,us\nregions",
    }  # fmt: skip
    notebook = write_notebook(project / "notebooks" / "more.ipynb", cells)
    export_notebooks(Project.find(project), [notebook])
    defs = build_definitions("pipelines", project)

    hours = defs.resolve_assets_def("hours")
    assert isinstance(hours.partitions_def, dg.HourlyPartitionsDefinition)
    assert hours.partitions_def.get_partition_keys()[:2] == ["2024-01-02T00", "2024-01-02T01"]
    days = dg.AssetKey("days")
    assert isinstance(hours.get_partition_mapping(days), dg.TimeWindowPartitionMapping)
    west = defs.resolve_assets_def("west")
    assert west.partitions_def == dg.StaticPartitionsDefinition(["eu", "us"])
    mapping = west.get_partition_mapping(dg.AssetKey("regions"))
    assert isinstance(mapping, dg.StaticPartitionMapping)

    monkeypatch.setenv("NBASSETS_ENV", "ci-more")
    dagster_run(defs, ["days"], "2024-01-02")
    dagster_run(defs, ["hours"], "2024-01-02T05")  # an hour reads the day that contains it
    hour = nbassets.load("hours", env="ci-more")  # the latest version: that hour's
    assert hour.to_dict("records") == [{"d": "2024-01-02", "h": "2024-01-02T05"}]


def test_a_mapping_nbassets_cannot_read_is_refused_before_dagster_sees_it(project: Path) -> None:
    lib = "# nbassets: export\nimport pandas as pd"
    regions = "%%asset regions --partition static:eu,us\npd.DataFrame({'r': [str(partition)]})"
    daily = "%%asset daily_regions --partition daily:2024-01-01\nregions"
    for name, cell in (("regions", regions), ("daily", daily)):  # exported one at a time
        notebook = write_notebook(project / "notebooks" / f"{name}.ipynb", {"lib": lib, "a": cell})
        export_notebooks(Project.find(project), [notebook])
    with pytest.raises(
        SpecError, match="daily asset 'daily_regions' cannot read static asset 'regions'"
    ):
        build_definitions("pipelines", project)


def test_the_dagster_cli_validates_and_builds_one_partition(project: Path) -> None:
    home = project.parent / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environ = {
        **os.environ, "PYTHONPATH": str(project), "DAGSTER_HOME": str(home),
        "NBASSETS_ENV": "ci-cli-dagster", "NBASSETS_USER": "tester",
    }  # fmt: skip
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "--select", "events",
               "--partition", "2024-01-02", "-m", "pipelines.definitions"]  # fmt: skip
    done = subprocess.run(
        command, cwd=project, env=environ, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    built = versions(project, "ci-cli-dagster")
    assert list(built) == [("events", "2024-01-02")]
    assert built["events", "2024-01-02"]["checks"] == [
        ("positive", True),
        ("row_count(min=1)", True),
    ]


def test_another_dagster_asset_reads_partitions_through_the_io_manager(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = materialize(Project.find(project), "ci-io", [f"events[{DAYS[0]}..{DAYS[-1]}]"])
    assert report.ok, report.failed
    monkeypatch.setenv("NBASSETS_ENV", "ci-io")
    defs = build_definitions("pipelines", project)
    events = defs.resolve_assets_def("events")
    seen: dict[str, Any] = {}

    @dg.asset(
        partitions_def=dg.MonthlyPartitionsDefinition(start_date="2024-01", fmt="%Y-%m"),
        ins={"events": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping())},
        io_manager_key="memory",
    )
    def month_rows(events: pd.DataFrame) -> int:
        seen["month"] = events
        return len(events)

    @dg.asset(partitions_def=events.partitions_def, io_manager_key="memory")
    def day_rows(events: pd.DataFrame) -> int:
        seen["day"] = events
        return len(events)

    resources = {**defs.resources, "memory": dg.InMemoryIOManager()}
    for asset, partition in ((month_rows, "2024-01"), (day_rows, "2024-01-05")):
        result = dg.materialize([events, asset], resources=resources, partition_key=partition,
                                selection=[asset.key])  # fmt: skip
        assert result.success
    assert len(seen["month"]) == 62 and seen["month"]["date"].nunique() == 31
    assert list(seen["month"].index) == list(range(62))  # one table, as a build reads it
    assert seen["day"]["date"].tolist() == ["2024-01-05", "2024-01-05"]  # that day's
