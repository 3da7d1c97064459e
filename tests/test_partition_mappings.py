"""Issue 13, acceptance 3: a monthly asset reads its days, an unpartitioned asset reads all of
them; changing one day's data makes exactly its month and the unpartitioned reader stale, in
status and in the plan. Real builds (``build.build``) into a real sandbox store; the plan also
through the CLI, in a real git repository, against a hand-written exported package."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import TestingShell, git, shown

from nbassets.build import BuildTask, build, read_mappings
from nbassets.cli import main
from nbassets.codebase import Code
from nbassets.config import Project
from nbassets.model import deploy_plan, env_model, planned_builds
from nbassets.partitions import parse_definition
from nbassets.policy import authorize
from nbassets.store.workspace import Workspace

ENV = "ci-map"
DAILY, MONTHLY = parse_definition("daily:2024-01-01"), parse_definition("monthly:2024-01")
DEPS = {"days": (), "months": ("days",), "total": ("days",)}
ALL_DAYS = DAILY.keys(datetime(2024, 3, 1, tzinfo=UTC))  # Jan 1..Feb 29, as NBASSETS_NOW pins


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBASSETS_NOW", "2024-03-01T00:00:00")  # Jan 1..Feb 29, two months


@pytest.fixture
def workspace(project: Path) -> Iterator[Workspace]:
    ws = Workspace(Project.find(project), ENV)
    yield ws
    ws.close()


def tasks(amounts: dict[str, int], days_code: str = "d1") -> dict[str, BuildTask]:
    def days(partition: object) -> pd.DataFrame:
        return pd.DataFrame({"day": [str(partition)], "n": [amounts.get(str(partition), 1)]})

    def months(days: pd.DataFrame, partition: object) -> pd.DataFrame:
        return pd.DataFrame({"month": [str(partition)], "n": [int(days["n"].sum())]})

    def total(days: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"n": [int(days["n"].sum())], "days": [len(days)]})

    return {
        "days": BuildTask("days", (), days_code, days, "test:days", partitions=DAILY),
        "months": BuildTask("months", ("days",), "m1", months, "test:months", partitions=MONTHLY,
                            mappings=read_mappings("months", MONTHLY, {"days": DAILY})),
        "total": BuildTask("total", ("days",), "t1", total, "test:total",
                           mappings=read_mappings("total", None, {"days": DAILY})),
    }  # fmt: skip


def code(days_code: str = "d1") -> Code:
    versions = {"days": days_code, "months": "m1", "total": "t1"}
    return Code("test", versions, DEPS, partitions={"days": DAILY, "months": MONTHLY})


def build_all(workspace: Workspace, built: dict[str, BuildTask], days: list[str]) -> None:
    grant = authorize(workspace.project, ENV, "materialize")
    for day in days:
        assert build(workspace, built["days"], grant, partition=day).built
    for month in ("2024-01", "2024-02"):
        assert build(workspace, built["months"], grant, partition=month).built
    assert build(workspace, built["total"], grant).built


def labels(workspace: Workspace, current: Code) -> dict[str, str]:
    return {row.key: row.label for row in env_model(workspace, current).rows}


def test_one_changed_day_makes_exactly_its_month_and_the_reader_stale(
    workspace: Workspace,
) -> None:
    amounts: dict[str, int] = {}
    built = tasks(amounts)
    build_all(workspace, built, ALL_DAYS)
    assert labels(workspace, code()) == {"days": "fresh", "months": "fresh", "total": "fresh"}
    days_only = Code("test", {"days": "d1"}, {"days": ()}, partitions={"days": DAILY})
    assert labels(workspace, days_only) == {"days": "fresh", "months": "fresh", "total": "fresh"}

    amounts["2024-02-10"] = 5  # one day's data changes; the code does not
    grant = authorize(workspace.project, ENV, "materialize")
    assert build(workspace, built["days"], grant, partition="2024-02-10").built
    assert labels(workspace, code()) == {
        "days": "fresh",
        "months": "stale: 1 of 2 partitions, upstream 'days' changed",
        "total": "stale: upstream 'days' changed",
    }

    plan = deploy_plan(workspace.project, workspace, code(), workspace.other_env("dev-none")).plan
    steps = {step.key: (step.action, step.reason) for step in plan.steps}
    assert steps == {
        "days": ("keep", "fresh"),
        "months": ("rebuild", "1 of 2 partitions, upstream 'days' changed"),
        "total": ("rebuild", "upstream 'days' changed"),
    }
    assert [(p.key, [str(r) for r in p.ranges]) for p in plan.partitions] == [
        ("months", ["2024-02: upstream 'days' changed"])
    ]
    todo = planned_builds(workspace, code())
    assert (todo.partitions, todo.keys) == ({"months": ["2024-02"]}, ["total"])

    # rebuilt as planned, each record reads what status expects a build to read: all fresh
    assert build(workspace, built["months"], grant, partition="2024-02").built
    assert build(workspace, built["total"], grant).built
    assert set(labels(workspace, code()).values()) == {"fresh"}
    assert planned_builds(workspace, code()) == type(todo)({}, [])


def test_a_day_never_built_is_missing_and_its_month_cannot_read_it(workspace: Workspace) -> None:
    built = tasks({})
    grant = authorize(workspace.project, ENV, "materialize")
    days = DAILY.keys()
    for day in days:
        if day != "2024-02-10":
            assert build(workspace, built["days"], grant, partition=day).built
    assert build(workspace, built["months"], grant, partition="2024-01").built
    assert not build(workspace, built["months"], grant, partition="2024-02").built
    rows = {row.key: row for row in env_model(workspace, code()).rows}
    assert rows["days"].label == "missing: 1 of 60 partitions, never built"
    assert rows["months"].status == "failed"  # February's build could not read 2024-02-10
    assert rows["months"].label == "failed: 1 of 2 partitions, last build raised"
    assert "DependencyError: partition 2024-02 of asset 'months'" in (rows["months"].error or "")
    plan = deploy_plan(workspace.project, workspace, code(), workspace.other_env("dev-none")).plan
    ranges = {p.key: [str(r) for r in p.ranges] for p in plan.partitions}
    assert ranges["days"] == ["2024-02-10: missing"]
    assert ranges["months"] == ["2024-02: last build failed"]


def test_a_code_change_upstream_plans_every_day_and_what_reads_them(
    workspace: Workspace,
) -> None:
    build_all(workspace, tasks({}), DAILY.keys())
    assert labels(workspace, code("d2")) == {
        "days": "stale: 60 of 60 partitions, code changed",
        "months": "stale: upstream 'days' is stale",
        "total": "stale: upstream 'days' is stale",
    }
    plan = deploy_plan(workspace.project, workspace, code("d2"), workspace.other_env("x")).plan
    assert [(s.key, s.action) for s in plan.steps] == [
        ("days", "rebuild"), ("months", "downstream"), ("total", "downstream"),
    ]  # fmt: skip
    assert {p.key: [str(r) for r in p.ranges] for p in plan.partitions} == {
        "days": ["2024-01-01..2024-02-29: code changed"],  # no git here: no commit to name
        "months": ["2024-01..2024-02: upstream 'days' is rebuilt"],
    }
    todo = planned_builds(workspace, code("d2"))
    assert len(todo.partitions["days"]) == 60 and todo.partitions["months"] == MONTHLY.keys()
    assert todo.keys == ["total"]


MODULE = textwrap.dedent(
    """
    import pandas as pd

    from nbassets.runtime import ExportedAsset


    def days(partition):
        return pd.DataFrame({{"day": [str(partition)], "n": [1]}})


    def months(days, partition):
        return pd.DataFrame({{"month": [str(partition)], "n": [int(days["n"].sum())]}})


    def total(days):
        return pd.DataFrame({{"n": [int(days["n"].sum())], "days": [len(days)]}})


    ASSETS = (
        ExportedAsset("days", days, code_version="{days}", partitions="daily:2024-01-01"),
        ExportedAsset("months", months, deps=("days",), code_version="m1",
                      partitions="monthly:2024-01"),
        ExportedAsset("total", total, deps=("days",), code_version="t1"),
    )
    """
)


def test_plan_through_the_cli_names_the_ranges_and_head_commit(
    project: Path, workspace: Workspace
) -> None:
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(MODULE.format(days="d1"))
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    grant = authorize(workspace.project, ENV, "materialize")
    for day in DAILY.keys()[:-9]:  # Feb 21..29 never built
        assert build(workspace, tasks({})["days"], grant, partition=day).built
    (project / "pipelines" / "shop.py").write_text(MODULE.format(days="d2"))
    git(project, "commit", "-qam", "v2")
    head = git(project, "rev-parse", "HEAD").strip()[:7]

    args = ["--project", str(project), "plan", "--env", ENV, "--against", "ci-none"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "days (daily:2024-01-01): 60 of 60 partitions to rebuild" in out.output
    assert f"  2024-01-01..2024-02-20: code changed at {head}" in out.output
    assert "  2024-02-21..2024-02-29: missing" in out.output

    data = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    days = next(p for p in data["partitions"] if p["key"] == "days")
    assert days["ranges"] == [
        {"first": "2024-01-01", "last": "2024-02-20", "count": 51,
         "reason": f"code changed at {head}"},
        {"first": "2024-02-21", "last": "2024-02-29", "count": 9, "reason": "missing"},
    ]  # fmt: skip
    assert {"key": "days", "reason": days_reason(head)} in data["rebuild"]

    out = CliRunner().invoke(main, ["--project", str(project), "status", "--env", ENV, "--json"])
    rows = {row["key"]: row for row in json.loads(out.output)}
    assert (rows["days"]["status"], rows["days"]["reason"]) == (
        "missing", "9 of 60 partitions, never built; also 51 stale"
    )  # fmt: skip
    assert rows["total"]["reason"] == "never built"


def days_reason(head: str) -> str:
    return f"60 of 60 partitions, code changed at {head} (51), missing (9)"


def test_assets_in_a_kernel_show_the_month_and_the_reader_stale(
    shell: TestingShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same in a notebook: %assets (the kernel's cells, its sandbox) after one day of an
    input the code reads changes."""
    monkeypatch.setenv("NBASSETS_NOW", "2024-02-03T00:00:00")  # January and two days of February
    shell.user_ns["amounts"] = {}
    day = (
        "%%asset days --partition daily:2024-01-01 --partition-key {key}\n"
        "import pandas as pd\n"
        "pd.DataFrame({{'day': [str(partition)], 'n': [amounts.get(str(partition), 1)]}})"
    )
    for key in [f"2024-01-{d:02d}" for d in range(1, 32)] + ["2024-02-01", "2024-02-02"]:
        shell.run_cell(day.format(key=key), silent=True).raise_error()
    shell.run_cell(
        "%%asset months --partition monthly:2024-01 --partition-key 2024-01\n"
        "days.assign(month=str(partition)).groupby('month', as_index=False)['n'].sum()",
        silent=True,
    ).raise_error()
    shell.run_cell("%%asset total\nint(days['n'].sum())", silent=True).raise_error()
    assert shell.user_ns["total"] == 33
    rows = status_lines(shell)
    assert [rows[key].split()[0] for key in ("days", "months", "total")] == ["fresh"] * 3

    shell.user_ns["amounts"]["2024-01-20"] = 7
    shell.run_cell(day.format(key="2024-01-20"), silent=True).raise_error()
    rows = status_lines(shell)
    assert rows["days"].startswith("fresh")
    assert rows["months"].startswith("stale: 1 of 1 partition, upstream 'days' changed")
    assert rows["total"].startswith("stale: upstream 'days' changed")


def status_lines(shell: TestingShell) -> dict[str, str]:
    """Asset key -> the rest of its line in the last table %assets printed."""
    lines = shown(shell.capture("%assets")).splitlines()
    header = max(i for i, line in enumerate(lines) if line.startswith("asset   status"))
    rows = [line.split(None, 1) for line in lines[header + 1 :] if line.strip()]
    return {parts[0]: parts[1] for parts in rows if len(parts) == 2}


def test_a_day_reads_its_month_and_a_static_partition_its_namesake(
    workspace: Workspace,
) -> None:
    """containing (a day reads the month it is in) and same (static values), as built."""
    amounts: dict[str, int] = {}
    static = parse_definition("static:eu,us")

    def monthly(partition: object) -> pd.DataFrame:
        return pd.DataFrame({"month": [str(partition)], "n": [amounts.get(str(partition), 1)]})

    def daily(rates: pd.DataFrame, partition: object) -> pd.DataFrame:
        return rates.assign(day=str(partition))

    def region(partition: object) -> pd.DataFrame:
        return pd.DataFrame({"region": [str(partition)], "n": [amounts.get(str(partition), 2)]})

    def report(region: pd.DataFrame, partition: object) -> pd.DataFrame:
        return region.assign(seen=str(partition))

    built = {
        "rates": BuildTask("rates", (), "r1", monthly, "t", partitions=MONTHLY),
        "days": BuildTask("days", ("rates",), "d1", daily, "t", partitions=DAILY,
                          mappings=read_mappings("days", DAILY, {"rates": MONTHLY})),
        "region": BuildTask("region", (), "g1", region, "t", partitions=static),
        "report": BuildTask("report", ("region",), "p1", report, "t", partitions=static,
                            mappings=read_mappings("report", static, {"region": static})),
    }  # fmt: skip
    current = Code(
        "test",
        {"rates": "r1", "days": "d1", "region": "g1", "report": "p1"},
        {"rates": (), "days": ("rates",), "region": (), "report": ("region",)},
        partitions={"rates": MONTHLY, "days": DAILY, "region": static, "report": static},
    )
    grant = authorize(workspace.project, ENV, "materialize")
    steps = [("rates", m) for m in ("2024-01", "2024-02")] + [("days", d) for d in ALL_DAYS]
    steps += [(k, v) for k in ("region", "report") for v in ("eu", "us")]
    for key, partition in steps:
        assert build(workspace, built[key], grant, partition=partition).built
    assert set(labels(workspace, current).values()) == {"fresh"}

    amounts.update({"2024-02": 9, "us": 5})
    assert build(workspace, built["rates"], grant, partition="2024-02").built
    assert build(workspace, built["region"], grant, partition="us").built
    found = labels(workspace, current)
    assert found["days"] == "stale: 29 of 60 partitions, upstream 'rates' changed"
    assert found["report"] == "stale: 1 of 2 partitions, upstream 'region' changed"
    todo = planned_builds(workspace, current)
    assert todo.partitions == {"days": [d for d in ALL_DAYS if d >= "2024-02"],
                               "report": ["us"]}  # fmt: skip
