"""Partitioned assets through the exporter and the exported package (issue 13): the function
takes ``partition`` last, the registry keeps the definition, the package reads each upstream
by its mapping, and impossible mappings are refused when the package loads."""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from helpers import TestingShell, write_notebook

from nbassets.build import build
from nbassets.config import Project
from nbassets.definitions import define
from nbassets.errors import SpecError
from nbassets.exporter import asset_function_text, export_notebooks, module_text
from nbassets.package import load_package
from nbassets.partitions import parse_definition
from nbassets.pipeline import materialize
from nbassets.policy import authorize
from nbassets.spec import parse_asset_line
from nbassets.store.workspace import Workspace

CELLS = {
    "imports": "# nbassets: export\nimport pandas as pd",
    "events": (
        "%%asset events --partition daily:2024-01-01\n"
        "pd.DataFrame({'day': [str(partition)], 'n': [partition.start.day * 10]})"
    ),
    "monthly": (
        "%%asset monthly --partition monthly:2024-01\n"
        "pd.DataFrame({'month': [partition.key], 'n': [int(events['n'].sum())], "
        "'days': [len(events)]})"
    ),
    "total": "%%asset total\npd.DataFrame({'n': [int(events['n'].sum())], 'days': [len(events)]})",
    "by_sql": (
        "%%asset events_sql --sql --partition daily:2024-01-02\n"
        "SELECT getvariable('partition') AS part, n FROM events"
    ),
}


def export(project: Path, cells: dict[str, str] = CELLS) -> Path:
    notebook = write_notebook(project / "notebooks" / "days.ipynb", cells)
    export_notebooks(Project.find(project), [notebook])
    return notebook


def test_a_partitioned_asset_exports_with_partition_as_its_last_parameter(project: Path) -> None:
    notebook = export(project)
    text = (project / "pipelines" / "days.py").read_text()

    assert "def events(partition):\n    return pd.DataFrame(" in text
    assert "def monthly(events, partition):\n" in text
    assert "def total(events):\n" in text
    assert (
        'def events_sql(events, partition):\n    return sql_asset(\n        "events_sql",\n'
        "        \"SELECT getvariable('partition') AS part, n FROM events\",\n"
        "        events=events,\n        partition=partition,\n    )\n"
    ) in text
    assert 'partitions="daily:2024-01-01",' in text
    assert 'partitions="monthly:2024-01",' in text
    assert text.count("partitions=") == 3  # total is built whole
    assert module_text(Project.find(project), notebook) == text  # deterministic

    package = load_package(Project.find(project))
    assert {key: a.deps for key, a in package.assets.items()} == {
        "events": (), "monthly": ("events",), "total": ("events",), "events_sql": ("events",),
    }  # fmt: skip
    for cell, key in (("events", "events"), ("monthly", "monthly"), ("by_sql", "events_sql")):
        line, _, body = CELLS[cell].partition("\n")
        definition = define(parse_asset_line(line[len("%%asset ") :]), body, package.assets)
        # what a kernel records of the cell is the exported function's source, byte for byte
        assert asset_function_text(definition) == inspect.getsource(package.assets[key].function)
        # and export leaves the code version as the cell's (the definition is in it)
        assert package.assets[key].code_version == definition.code_version


def test_the_package_reads_each_upstream_by_its_mapping(project: Path) -> None:
    export(project)
    package = load_package(Project.find(project))

    partitions = package.partitions()
    assert {k: str(d) if d else None for k, d in partitions.items()} == {
        "events": "daily:2024-01-01", "monthly": "monthly:2024-01", "total": None,
        "events_sql": "daily:2024-01-02",
    }  # fmt: skip
    tasks = {key: package.task(key) for key in package.assets}
    assert tasks["events"].partitions == parse_definition("daily:2024-01-01")
    assert tasks["events"].mappings == {}
    assert {k: t.mappings["events"].kind for k, t in tasks.items() if k != "events"} == {
        "monthly": "covered", "total": "all", "events_sql": "same",
    }  # fmt: skip
    assert tasks["total"].partitions is None


def test_exported_partitions_build_through_the_shared_build(project: Path) -> None:
    export(project)
    package = load_package(Project.find(project))
    env = "ci-parts"
    report = materialize(
        Project.find(project),
        env,
        ["events[2024-01-01..2024-01-31]", "monthly[2024-01]", "total", "events_sql[2024-01-03]"],
    )
    assert report.ok, report.failed
    workspace = Workspace(Project.find(project), env)
    try:
        days = workspace.resolve_partitions("events")
        assert len(days) == 31
        third = workspace.read(days["2024-01-03"])
        assert third.to_dict("records") == [{"day": "2024-01-03", "n": 30}]
        month = workspace.read(workspace.resolve_partitions("monthly")["2024-01"])
        assert month.to_dict("records") == [{"month": "2024-01", "n": 4960, "days": 31}]
        total = workspace.resolve("total")
        assert total is not None and total.record.inputs["events"]["partitions"] == "31"
        sql = workspace.read(workspace.resolve_partitions("events_sql")["2024-01-03"])
        assert sql.to_dict("records") == [{"part": "2024-01-03", "n": 30}]
        # building one partition by hand gives the same version the batch recorded
        grant = authorize(Project.find(project), env, "materialize")
        again = build(workspace, package.task("events"), grant, partition="2024-01-03")
        assert again.record is not None
        assert again.record.data_version == days["2024-01-03"].record.data_version
        assert again.record.partition == "2024-01-03"
    finally:
        workspace.close()


def test_a_cell_without_partitions_that_reads_partition_is_refused_at_export(
    project: Path,
) -> None:
    cells = {**CELLS, "total": "%%asset total\npd.DataFrame({'p': [str(partition)]})"}
    with pytest.raises(
        SpecError, match=r"asset 'total' \(cell 4\), it reads 'partition'.*Add --partition"
    ):
        export(project, cells)
    sql = {"one": "%%asset one --sql\nSELECT * FROM partition"}
    with pytest.raises(SpecError, match=r"getvariable\('partition'\)"):
        export(project, sql)
    check = {**CELLS, "check": "%%check events\nassert str(partition) in events['day'].tolist()"}
    with pytest.raises(SpecError, match=r"check \(cell 6\), it reads 'partition'"):
        export(project, check)
    assert not (project / "pipelines" / "days.py").exists()  # nothing written


MODULE = """
import pandas as pd

from nbassets.runtime import ExportedAsset


def up(partition):
    return pd.DataFrame({{"p": [str(partition)]}})


def down(up, partition):
    return up


ASSETS = (
    ExportedAsset("up", up, code_version="u", partitions={up!r}),
    ExportedAsset("down", down, deps=("up",), code_version="d", partitions={down!r}),
)
"""


@pytest.mark.parametrize(
    ("up", "down", "message"),
    [
        ("static:eu,us", "daily:2024-01-01",
         "daily asset 'down' cannot read static asset 'up': static and time partitions"),
        ("daily:2024-02-01", "daily:2024-01-01",
         r"'down' \(daily:2024-01-01\) starts before 'up' \(daily:2024-02-01\).*daily:2024-02-01"),
        ("daily:2024-01-01", "weekly:2024-01-01",
         r"asset 'down' of pipelines.mod: --partition 'weekly:2024-01-01'"),
    ],
)  # fmt: skip
def test_an_impossible_mapping_is_refused_when_the_package_loads(
    project: Path, up: str, down: str, message: str
) -> None:
    folder = project / "pipelines"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "mod.py").write_text(textwrap.dedent(MODULE.format(up=up, down=down)))
    with pytest.raises(SpecError, match=message):
        load_package(Project.find(project))


def test_a_partitioned_function_gets_the_partition_object(project: Path) -> None:
    export(project)
    package = load_package(Project.find(project))
    partition = parse_definition("daily:2024-01-01").partition("2024-01-03")
    frame = package.assets["events"].function(partition)
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == [{"day": "2024-01-03", "n": 30}]
    with pytest.raises(AttributeError):  # a key alone is not enough: the cell reads .start
        package.assets["events"].function("2024-01-03")


def test_a_kernel_and_the_exported_package_agree_per_partition(
    shell: TestingShell, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function text a kernel records of a partitioned cell is the exported function's
    source, and the kernel and the CLI give the same data version for each partition."""
    monkeypatch.setenv("NBASSETS_NOW", "2024-01-05T00:00:00")
    lines = {"events": "%%asset events --partition daily:2024-01-01", "total": "%%asset total"}
    bodies = {
        "events": "pd.DataFrame({'day': [str(partition)], 'n': [partition.start.day * 10]})",
        "total": "events.sort_values('day').reset_index(drop=True)",
    }
    shell.run_cell("# nbassets: export\nimport pandas as pd", silent=True).raise_error()
    for day in ("2024-01-02", "2024-01-03"):
        cell = f"{lines['events']} --partition-key {day}\n{bodies['events']}"
        shell.run_cell(cell, silent=True).raise_error()
    shell.run_cell(f"{lines['total']}\n{bodies['total']}", silent=True).raise_error()
    sandbox = Workspace(Project.find(project), "dev-tester-nogit")
    kernel = {day: m.record for day, m in sandbox.resolve_partitions("events").items()}
    kernel_total = sandbox.resolve("total")
    sandbox.close()
    assert list(kernel) == ["2024-01-02", "2024-01-03"] and kernel_total is not None

    cells = {"imports": "# nbassets: export\nimport pandas as pd"}
    cells.update({key: f"{lines[key]}\n{bodies[key]}" for key in lines})
    export(project, cells)
    package = load_package(Project.find(project))
    report = materialize(
        Project.find(project), "ci-same", ["events[2024-01-02..2024-01-03]", "total"]
    )
    assert report.ok, report.failed
    cli = Workspace(Project.find(project), "ci-same")
    try:
        built = {day: m.record for day, m in cli.resolve_partitions("events").items()}
        total = cli.resolve("total")
    finally:
        cli.close()
    assert total is not None
    assert {d: m.data_version for d, m in built.items()} == {
        d: m.data_version for d, m in kernel.items()
    }
    assert total.record.data_version == kernel_total.record.data_version
    assert (
        total.record.inputs["events"]["data_version"]
        == (kernel_total.record.inputs["events"]["data_version"])
    )
    for key, record in (("events", kernel["2024-01-03"]), ("total", kernel_total.record)):
        assert record.code == inspect.getsource(package.assets[key].function)
        assert record.code_version == package.assets[key].code_version
    assert kernel["2024-01-03"].code.startswith("def events(partition):\n")  # type: ignore[union-attr]


def test_an_impossible_mapping_is_refused_at_export(project: Path) -> None:
    cells = {
        "imports": "# nbassets: export\nimport pandas as pd",
        "regions": "%%asset regions --partition static:eu,us\npd.DataFrame({'r': [partition.key]})",
        "late": "%%asset early --partition monthly:2023-12\nregions",
    }
    with pytest.raises(SpecError, match="monthly asset 'early' cannot read static asset 'regions'"):
        export(project, cells)
    cells["late"] = "%%asset days --partition daily:2024-01-01\npd.DataFrame({'d': [1]})"
    cells["early"] = "%%asset early --partition monthly:2023-12\ndays"
    with pytest.raises(SpecError, match=r"'early' \(monthly:2023-12\) starts before 'days'"):
        export(project, cells)
    assert not (project / "pipelines").exists()  # refused before anything is written
