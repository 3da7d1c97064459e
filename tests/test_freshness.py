"""Freshness (issue 14, acceptance 2's freshness half): ``--fresh 'max_age=DURATION'`` parsed,
exported, and an asset (or a time partition) late or not on crafted histories, with
``NBASSETS_NOW`` pinning now. Real SQLite catalogs, real exported modules, the real CLI."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import TestingShell, write_notebook

from nbassets.cli import main
from nbassets.config import Project
from nbassets.errors import InvalidArgument, SpecError
from nbassets.freshness import Freshness, age_text, lateness, parse_fresh
from nbassets.package import load_package
from nbassets.partitions import parse_definition
from nbassets.pipeline import late_assets
from nbassets.store.stores import Store, now

DAY = parse_fresh("max_age=1d")
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1d", "write 'max_age=DURATION'"),
        ("age=1d", "write 'max_age=DURATION'"),
        ("max_age=1", "'1' is not a duration"),
        ("max_age=1w", "weeks: use days"),
        ("max_age=-1d", "'-1d' is not a duration"),
        ("max_age=0s", "more than 0"),
    ],
)
def test_a_wrong_freshness_says_what_to_write(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as raised:
        parse_fresh(text)
    assert "e.g. --fresh 'max_age=1d'" in str(raised.value)


def test_a_freshness_keeps_its_canonical_text() -> None:
    assert parse_fresh("max_age=12h") == Freshness(timedelta(hours=12), "12h")
    assert str(parse_fresh("max_age = 2.5d")) == "max_age=2.5d"
    assert (age_text(timedelta(days=3, hours=4, minutes=5)), age_text(timedelta(seconds=40))) == (
        "3d 4h",
        "40s",
    )


# --- lateness, pure ---------------------------------------------------------------------------


def test_an_unpartitioned_asset_is_late_once_its_latest_build_is_older_than_max_age() -> None:
    built = {"": at(0).isoformat()}
    assert lateness("orders", DAY, built, at(24)) is None  # exactly max_age: not yet late
    late = lateness("orders", DAY, built, at(26.5))
    assert late is not None and late.late_by == timedelta(hours=2.5)
    assert late.built_at == at(0) and late.partitions == ()
    assert late.describe() == "orders: late by 2h 30m (max_age=1d; last built 2024-06-01T00:00Z)"
    assert late.as_dict()["late_by_seconds"] == 9000.0


def test_a_never_built_asset_is_late_and_a_naive_time_is_utc() -> None:
    late = lateness("orders", DAY, {}, at(0))
    assert late is not None and late.late_by is None and late.built_at is None
    assert late.describe() == "orders: never built (max_age=1d)"
    assert lateness("orders", DAY, {"": "2024-06-01T00:00:00"}, at(23)) is None


def test_a_daily_partition_is_late_a_max_age_after_it_ends_without_a_version() -> None:
    daily = parse_definition("daily:2024-05-28")
    built = {day: at(-100).isoformat() for day in ("2024-05-28", "2024-05-29", "2024-05-30")}
    # 05-31 ends at T0: at T0 + 23h it is missing but within its day of grace
    assert lateness("events", DAY, built, at(23), daily) is None
    late = lateness("events", DAY, built, at(36), daily)
    assert late is not None and late.partitions == ("2024-05-31",)  # 06-01 ended 12h ago only
    assert late.late_by == timedelta(hours=12)  # the oldest late partition's lateness
    assert late.describe().startswith("events[2024-05-31]: late by 12h ")
    # old builds do not make a time-partitioned asset late: only missing partitions do
    everything = {**built, "2024-05-31": at(-100).isoformat()}
    assert lateness("events", DAY, everything, at(36), daily) is None
    gap = {"2024-05-28": at(0).isoformat()}
    late = lateness("events", DAY, gap, at(60), daily)
    assert late is not None and late.partitions == ("2024-05-29..2024-06-01",)


def test_a_static_partitioned_asset_is_judged_by_its_newest_partition() -> None:
    regions = parse_definition("static:eu,us")
    built = {"eu": at(0).isoformat(), "us": at(-50).isoformat()}
    assert lateness("sales", DAY, built, at(20), regions) is None
    late = lateness("sales", DAY, built, at(30), regions)
    assert late is not None and late.late_by == timedelta(hours=6) and late.partitions == ()


# --- crafted histories in a real catalog ------------------------------------------------------

MODULE = textwrap.dedent(
    """
    import pandas as pd

    from nbassets.runtime import ExportedAsset


    def orders():
        return pd.DataFrame({"id": [1, 2]})


    def events(partition):
        return pd.DataFrame({"day": [str(partition)]})


    def plain():
        return pd.DataFrame({"id": [1]})


    ASSETS = (
        ExportedAsset("orders", orders, code_version="o1", fresh="max_age=1d"),
        ExportedAsset("events", events, code_version="e1", partitions="daily:2024-05-30",
                      fresh="max_age=12h"),
        ExportedAsset("plain", plain, code_version="p1"),
    )
    """
)


def craft(project: Path, key: str, finished_at: datetime, partition: str = "") -> None:
    """A production version of ``key`` whose build finished at ``finished_at``."""
    store = Store("prod", project / "warehouse", writable=True)
    try:
        value = pd.DataFrame({"id": [1, 2]})
        record = store.write(key, value, "parquet", code_version="x", started_at=now(),
                             partition=partition)  # fmt: skip
        store.catalog.record(
            dataclasses.replace(record, finished_at=finished_at.isoformat(), id=None, seq=None)
        )
    finally:
        store.close()


@pytest.fixture
def package(project: Path) -> Path:
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(MODULE)
    return project


def test_late_assets_read_the_fresh_of_the_package_and_the_env_versions(package: Path) -> None:
    found = Project.find(package)
    craft(package, "orders", at(-30))
    craft(package, "plain", at(-1000))  # no --fresh: never late
    craft(package, "events", at(-10), "2024-05-30")  # 05-31 ends at T0: 12h later it is late
    assert load_package(found).assets["orders"].fresh == "max_age=1d"

    assert late_assets(found, "prod", now=at(-7)) == []
    late = {item.key: item for item in late_assets(found, "prod", now=at(13))}
    assert set(late) == {"orders", "events"}
    assert late["orders"].late_by == timedelta(hours=19)
    assert late["events"].partitions == ("2024-05-31",)
    assert late["events"].late_by == timedelta(hours=1)
    assert [i.key for i in late_assets(found, "prod", ["orders"], now=at(13))] == ["orders"]

    craft(package, "orders", at(12))  # a new build: fresh again
    assert [i.key for i in late_assets(found, "prod", now=at(13))] == ["events"]


def test_status_shows_late_assets_with_now_pinned(package: Path) -> None:
    craft(package, "orders", at(0))
    for day in ("2024-05-30", "2024-05-31"):
        craft(package, "events", at(0), day)

    def status(pinned: datetime, *args: str) -> str:
        env = {"NBASSETS_NOW": pinned.isoformat()}
        result = CliRunner(env=env).invoke(main, ["status", "--env", "prod", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert "late" not in status(at(11))
    rows = {row["key"]: row["late"] for row in json.loads(status(at(11), "--json"))}
    assert rows == {"orders": None, "events": None, "plain": None}

    text = status(at(40))  # 06-01 ended at T0 + 24h
    assert "late  orders: late by 16h (max_age=1d; last built 2024-06-01T00:00Z)" in text
    assert "late  events[2024-06-01]: late by 4h (max_age=12h;" in text
    rows = {row["key"]: row["late"] for row in json.loads(status(at(40), "--json"))}
    assert rows["plain"] is None and rows["events"]["partitions"] == ["2024-06-01"]
    assert rows["orders"] == {
        "key": "orders",
        "fresh": "max_age=1d",
        "built_at": "2024-06-01T00:00:00+00:00",
        "late_by_seconds": 16 * 3600.0,
        "partitions": [],
    }


# --- from the notebook to the registry --------------------------------------------------------


def test_fresh_is_exported_into_the_registry_and_read_from_notebooks(project: Path) -> None:
    imports = "# nbassets: export\nimport pandas as pd"
    asset = "%%asset orders --fresh 'max_age=6h'\npd.DataFrame({'id': [1]})"
    notebook = project / "notebooks" / "shop.ipynb"
    write_notebook(notebook, {"i": imports, "c0": asset})
    found = Project.find(project)
    craft(project, "orders", at(0))
    # no package yet: the notebook's --fresh counts
    assert [i.key for i in late_assets(found, "prod", now=at(7))] == ["orders"]

    result = CliRunner().invoke(main, ["export", "notebooks/shop.ipynb"])
    assert result.exit_code == 0, result.output
    text = (project / "pipelines" / "shop.py").read_text()
    assert "fresh='max_age=6h'," in text.replace('"', "'")
    exported = load_package(found).assets["orders"]
    assert exported.fresh == "max_age=6h"

    write_notebook(notebook, {"i": imports, "c0": asset.replace(" --fresh 'max_age=6h'", "")})
    assert CliRunner().invoke(main, ["export", "notebooks/shop.ipynb"]).exit_code == 0
    plain = load_package(found).assets["orders"]
    assert plain.fresh is None and "fresh=" not in (project / "pipelines" / "shop.py").read_text()
    assert plain.code_version == exported.code_version  # --fresh changes no data
    assert late_assets(found, "prod", now=at(7)) == []


def test_a_wrong_fresh_in_a_module_names_the_asset_and_the_module(package: Path) -> None:
    module = package / "pipelines" / "shop.py"
    module.write_text(MODULE.replace('fresh="max_age=1d"', 'fresh="max_age=soon"'))
    with pytest.raises(SpecError, match="asset 'orders' of pipelines.shop: --fresh 'max_age=soon'"):
        late_assets(Project.find(package), "prod", now=at(0))


def test_assets_in_a_kernel_lists_late_assets(
    shell: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """%assets says which assets with --fresh are late, as nbassets status does."""
    shell.run_cell("%%asset orders --fresh 'max_age=1h'\n[1, 2]", silent=True).raise_error()
    shell.run_cell("%%asset plain\n[3]", silent=True).raise_error()
    text = shell.run_cell("%assets").result.to_text()
    assert "late" not in text  # just built
    monkeypatch.setenv("NBASSETS_NOW", "2999-01-01T00:00:00")
    text = shell.run_cell("%assets").result.to_text()
    late = [line for line in text.splitlines() if line.startswith("late")]
    assert len(late) == 1 and late[0].startswith("late  orders: late by"), text
    assert "max_age=1h" in late[0]
    html = shell.run_cell("%assets").result._repr_mimebundle_()["text/html"]
    assert "late  orders: late by" in html
