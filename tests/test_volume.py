"""The ``volume`` rule (issue 14, acceptance 2, its volume half): real builds into a sandbox
store, each checked by the one check runner against the catalog's history of the key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import TestingShell
from IPython.core.error import UsageError

from nbassets.build import BuildTask, build
from nbassets.checks.rules import parse_rule
from nbassets.checks.runner import run_checks
from nbassets.config import Project
from nbassets.errors import SpecError
from nbassets.partitions import parse_definition
from nbassets.policy import authorize
from nbassets.store.results import CheckResult
from nbassets.store.workspace import Workspace

ENV = "ci-volume"


@pytest.fixture
def workspace(project: Path) -> Iterator[Workspace]:
    ws = Workspace(Project.find(project), ENV)
    yield ws
    ws.close()


def build_rows(ws: Workspace, n: int, rule: str = "volume()", partition: str = "") -> CheckResult:
    """Build ``orders`` with ``n`` rows (a partition of ``days`` if given): its volume result."""

    def function(partition: Any = None) -> pd.DataFrame:
        return pd.DataFrame({"id": range(n)})

    key = "days" if partition else "orders"
    daily = parse_definition("daily:2024-01-01") if partition else None
    task = BuildTask(key, (), "c1", function, "test", rules=(parse_rule(rule),), partitions=daily)
    outcome = build(ws, task, authorize(ws.project, ENV, "materialize"), partition=partition)
    assert outcome.record is not None and outcome.record.rows == n
    (result,) = outcome.checks.results
    return result


def test_too_short_a_history_passes_and_says_so(workspace: Workspace) -> None:
    first = build_rows(workspace, 100)
    assert (
        first.passed and first.message == "100 rows; 0 earlier versions to compare with (needs 3)"
    )
    build_rows(workspace, 5)
    third = build_rows(workspace, 1000)  # a jump, but only two builds before it
    assert third.passed
    assert third.message == "1,000 rows; 2 earlier versions to compare with (needs 3)"


def test_a_jump_and_a_drop_fail_and_a_count_within_tolerance_passes(workspace: Workspace) -> None:
    for n in (100, 90, 110, 100):
        build_rows(workspace, n)
    within = build_rows(workspace, 149)  # median 100 of 4: 50 to 150
    assert within.passed and within.outcome == "pass"
    assert within.message == "149 rows, expected 50 to 150 (median 100 of 4 earlier versions ±50%)"
    jump = build_rows(workspace, 400)  # median of 100, 90, 110, 100, 149: 100
    assert not jump.passed and jump.blocking and jump.failing_rows == 1
    assert jump.name == "volume()"
    assert jump.message == (
        "400 rows: a jump (+300%), expected 50 to 150 (median 100 of 5 earlier versions ±50%)"
    )
    drop = build_rows(workspace, 20)  # median of the six before: 105 (one jump moves it little)
    assert drop.outcome == "fail"
    assert drop.message == (
        "20 rows: a drop (-81%), expected 52 to 158 (median 105 of 6 earlier versions ±50%)"
    )


def test_window_and_tolerance_bound_the_comparison(workspace: Workspace) -> None:
    for n in (10, 10, 10, 100, 100, 100):
        build_rows(workspace, n)
    # the last three only (median 100): 10 x as many as the first builds, yet within range
    assert build_rows(workspace, 120, "volume(window=3)").passed
    tight = build_rows(workspace, 120, "volume(tolerance=0.1, window=3)")
    assert tight.message == (
        "120 rows: a jump (+20%), expected 90 to 110 (median 100 of 3 earlier versions ±10%)"
    )
    warned = build_rows(workspace, 1, "volume(severity='warn')")  # severity as for any rule
    assert warned.outcome == "warn" and not warned.blocking


def test_a_partition_is_compared_with_its_peers(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBASSETS_NOW", "2024-02-01T00:00:00")
    assert build_rows(workspace, 50, partition="2024-01-01").message == (
        "50 rows; 0 other partitions to compare with (needs 3)"
    )
    for day, n in (("2024-01-02", 1000), ("2024-01-03", 1000), ("2024-01-04", 1100)):
        build_rows(workspace, n, partition=day)
    # the 2nd..4th are its nearest peers with window=3 (the 1st, with 50 rows, is left out)
    late = build_rows(workspace, 40, "volume(window=3)", partition="2024-01-05")
    assert late.message == (
        "40 rows: a drop (-96%), expected 500 to 1,500 (median 1,000 of 3 other partitions ±50%)"
    )
    # a rebuild of a partition compares it with the others, never its own earlier versions
    again = build_rows(workspace, 1000, partition="2024-01-01")
    assert again.passed and "(median 1,000 of 4 other partitions ±50%)" in again.message


def test_rebuilding_checks_the_current_version_against_the_ones_before(
    workspace: Workspace,
) -> None:
    for n in (100, 100, 100, 1000):
        build_rows(workspace, n)
    target = workspace.resolve("orders")
    assert target is not None
    grant = authorize(workspace.project, ENV, "check")
    run = run_checks(workspace, target, [parse_rule("volume()")], [], grant)  # as `check` does
    assert [r.outcome for r in run.results] == ["fail"]
    assert "a jump (+900%)" in run.results[0].message
    recorded = workspace.own.catalog.check_results("orders", target.record.data_version)
    assert [r.outcome for r in recorded] == ["fail"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("volume(window=2)", "window must be a whole number of versions, 3 or more"),
        ("volume(window=4.5)", "window must be a whole number of versions, 3 or more"),
        ("volume(tolerance=-0.1)", "tolerance must be a number of 0 or more"),
        ("volume(tolerance='10%')", "tolerance must be a number of 0 or more"),
        ("volume('orders')", "use volume(tolerance=0.5, window=10)"),
        ("volume(limit=3)", "use volume(tolerance=0.5, window=10)"),
    ],
)
def test_bad_volume_arguments_are_refused_when_parsed(text: str, why: str) -> None:
    with pytest.raises(SpecError, match="is not a valid rule") as refused:
        parse_rule(text)
    assert why in str(refused.value)


def test_volume_parses_to_its_canonical_text() -> None:
    rule = parse_rule("volume(window=5, tolerance=0.25, severity='warn')")
    assert rule.text == "volume(tolerance=0.25, window=5, severity='warn')"
    assert parse_rule(rule.text) == rule


MODULE = """
import pandas as pd

from nbassets.runtime import ExportedAsset


def orders():
    return pd.DataFrame({{"id": range({n})}})


ASSETS = (ExportedAsset("orders", orders, code_version="{version}", rules=("volume(window=5)",)),)
"""


def test_materialize_check_and_history_through_the_cli(project: Path) -> None:
    """The exported rule, run by ``materialize`` and by ``check`` on current data."""
    from click.testing import CliRunner

    from nbassets.cli import main

    def cli(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*args, "--env", "ci-cli"])
        assert result.exit_code == code, result.output
        return result.output

    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    for version, n, code in (("v1", 100, 0), ("v2", 90, 0), ("v3", 110, 0), ("v4", 1000, 1)):
        (project / "pipelines" / "shop.py").write_text(MODULE.format(n=n, version=version))
        cli("materialize", "--no-progress", code=code)
    failed = [
        r for r in json.loads(cli("check", "--json", code=1)) if r["name"] == "volume(window=5)"
    ]
    assert failed[0]["outcome"] == "fail"
    assert failed[0]["message"] == (
        "1,000 rows: a jump (+900%), expected 50 to 150 (median 100 of 3 earlier versions ±50%)"
    )
    top = json.loads(cli("history", "orders", "--json"))[0]
    assert top["rows"] == 1000 and top["checks"]["failing"] == ["volume(window=5)"]
    (project / "pipelines" / "shop.py").write_text(MODULE.format(n=120, version="v5"))
    cli("materialize", "--no-progress")  # median of 100, 90, 110, 1000: 105
    assert [r["outcome"] for r in json.loads(cli("check", "--json"))] == ["pass"]


def test_in_the_kernel_a_jump_makes_the_asset_check_failed(shell: TestingShell) -> None:
    def cell(n: int) -> str:
        return f"%%asset orders --check 'volume()'\nimport pandas as pd\npd.DataFrame({{'id': range({n})}})"

    for n in (100, 90, 110):
        shell.run_cell(cell(n))
    with pytest.raises(UsageError, match=r"orders: volume\(\) \(1,000 rows: a jump \(\+900%\)"):
        shell.run_cell(cell(1000))
    (row,) = shell.run_cell("%assets").result.rows
    assert row.key == "orders" and row.label.startswith("check-failed")


@pytest.mark.dagster
def test_in_dagster_a_drop_fails_the_rule(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dagster")
    import nbassets
    from nbassets.dagster_assets import build_definitions

    package = project / "pipelines"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "dgvolume.py").write_text(MODULE.format(n=10, version="d1"))
    for n in (100, 90, 110):  # the history: stored by a script into the same env's store
        nbassets.save("orders", pd.DataFrame({"id": range(n)}), env="ci-dg")
    monkeypatch.setenv("NBASSETS_ENV", "ci-dg")
    job = build_definitions("pipelines", project).resolve_implicit_global_asset_job_def()
    assert not job.execute_in_process(raise_on_error=False).success
    ws = Workspace(Project.find(project), "ci-dg")
    try:
        target = ws.resolve("orders")
        assert target is not None and target.record.rows == 10
        (result,) = ws.own.catalog.check_results("orders", target.record.data_version)
    finally:
        ws.close()
    assert result.name == "volume(window=5)" and result.outcome == "fail"
    assert result.message.startswith("10 rows: a drop (-90%), expected 50 to 150")
