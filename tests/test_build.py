"""The one build operation and its loop, on either backend (local folder + SQLite, or memory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from memory_backends import MemoryBackends

from nbassets.batch import Step, build_in_order
from nbassets.build import BuildOutcome, BuildTask, build
from nbassets.checks.rules import parse_rule
from nbassets.checks.runner import CheckRun, CheckTask
from nbassets.cli import main
from nbassets.config import Project
from nbassets.errors import DependencyError, SpecError
from nbassets.policy import WriteGrant, authorize
from nbassets.runtime import sql_asset
from nbassets.store.results import CheckResult
from nbassets.store.stores import StoreOpener, open_local_store
from nbassets.store.workspace import Workspace

ENV = "ci-build"


@pytest.fixture(params=["local", "memory"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    return open_local_store if request.param == "local" else MemoryBackends(tmp_path / "cache")


@pytest.fixture
def workspace(project: Path, opener: StoreOpener) -> Iterator[Workspace]:
    ws = Workspace(Project.find(project), ENV, open_store=opener)
    yield ws
    ws.close()


def grant_for(workspace: Workspace) -> WriteGrant:
    return authorize(workspace.project, workspace.env, "materialize")


def raw() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "amount": [5.0, -1.0, 7.5]})


def positive(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders.amount <= 0]  # failing rows


TASKS = {
    "raw": BuildTask("raw", (), "c-raw", raw, "test:raw"),
    "orders": BuildTask(
        "orders",
        ("raw",),
        "c-orders",
        lambda raw: raw.assign(amount=raw.amount.abs()),
        "test:orders",
        rules=(parse_rule("not_null('id')"), parse_rule("row_count(min=10, severity='warn')")),
        checks=(CheckTask("orders", "positive", "error", ("orders",), positive),),
    ),
    "big": BuildTask(
        "big",
        ("orders",),
        "c-big",
        lambda orders: sql_asset("big", "SELECT id FROM orders WHERE amount > 4", orders=orders),
        "test:big",
        sql=True,
        rules=(parse_rule("row_count(min=5)"),),
    ),
    "broken": BuildTask("broken", ("raw",), "c-broken", lambda raw: 1 / 0, "test:broken"),
}


def test_one_build_reads_writes_records_and_checks(workspace: Workspace) -> None:
    grant = grant_for(workspace)
    first = build(workspace, TASKS["raw"], grant)
    orders = build(workspace, TASKS["orders"], grant)

    assert first.built and orders.built and orders.error is None
    assert orders.record is not None and first.record is not None
    assert orders.record.inputs == {"raw": {"data_version": first.record.data_version, "env": ENV}}
    assert orders.record.source == "test:orders" and orders.record.code_version == "c-orders"
    assert [i.key for i in orders.inputs] == ["raw"]
    outcomes = {r.name: r.outcome for r in orders.checks.results}
    assert outcomes == {"not_null('id')": "pass", "row_count(min=10)": "warn", "positive": "pass"}
    assert orders.checks.blocking == ()
    recorded = workspace.own.catalog.check_results("orders", orders.record.data_version)
    assert {r.name for r in recorded} == set(outcomes)  # recorded where the grant allows
    assert workspace.read(workspace.resolve("orders")).amount.tolist() == [5.0, 1.0, 7.5]  # type: ignore[arg-type]


def test_sql_runs_on_the_inputs_parquet_files_and_a_failed_error_check_blocks(
    workspace: Workspace,
) -> None:
    grant = grant_for(workspace)
    for key in ("raw", "orders"):
        build(workspace, TASKS[key], grant)
    big = build(workspace, TASKS["big"], grant)

    assert big.built and big.value["id"].tolist() == [1, 3]
    assert [r.name for r in big.checks.blocking] == ["row_count(min=5)"]


def test_a_failure_is_recorded_and_returned_not_raised(workspace: Workspace) -> None:
    grant = grant_for(workspace)
    build(workspace, TASKS["raw"], grant)
    broken = build(workspace, TASKS["broken"], grant)
    missing = build(workspace, TASKS["big"], grant)  # its input 'orders' was never built

    assert not broken.built and isinstance(broken.error, ZeroDivisionError)
    assert broken.error_text == "ZeroDivisionError: division by zero"
    assert isinstance(missing.error, DependencyError)
    assert "reads 'orders', which has no version in env 'ci-build'" in missing.error_text
    failures = workspace.failures()
    assert failures["broken"].error == "ZeroDivisionError: division by zero"
    assert failures["broken"].source == "test:broken" and "big" in failures


def test_a_value_of_none_is_refused_and_recorded_as_a_failed_build(workspace: Workspace) -> None:
    grant = grant_for(workspace)
    outcome = build(workspace, BuildTask("nothing", (), "c-n", lambda: None, "test:n"), grant)

    assert not outcome.built and isinstance(outcome.error, SpecError)
    assert "asset 'nothing' has no value: its code returned None" in outcome.error_text
    assert "last expression" in outcome.error_text and "return" in outcome.error_text
    assert workspace.own.catalog.latest_of("nothing") is None  # nothing stored
    assert "returned None" in workspace.failures()["nothing"].error


def test_the_cli_refuses_a_function_that_returns_none(project: Path) -> None:
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(
        "from nbassets.runtime import ExportedAsset\n\n\n"
        "def shown():\n    print('hello')\n\n\n"
        "ASSETS = (ExportedAsset('shown', shown, code_version='c1'),)\n"
    )
    result = CliRunner().invoke(main, ["materialize", "--env", "ci-none", "--no-progress"])

    assert result.exit_code == 1, result.output
    assert "failed        shown: " in result.stdout
    assert "SpecError: asset 'shown' has no value: its code returned None" in result.stdout
    store = project / ".nbassets" / "ci-none"
    assert not list(store.glob("data/shown/*")), "nothing is written for a None value"


def test_both_backends_give_the_same_data_versions(project: Path, tmp_path: Path) -> None:
    versions = []
    for opener in (open_local_store, MemoryBackends(tmp_path / "cache")):
        ws = Workspace(Project.find(project), f"ci-{len(versions)}", open_store=opener)
        grant = grant_for(ws)
        outcomes = [build(ws, TASKS[key], grant) for key in ("raw", "orders", "big")]
        versions.append([o.record.data_version for o in outcomes if o.record is not None])
        ws.close()
    assert len(versions[0]) == 3 and versions[0] == versions[1]
    assert not (project / ".nbassets" / "ci-1").exists()  # the memory backend wrote no file


def outcome(key: str, error: bool = False, blocking: bool = False) -> BuildOutcome:
    result = CheckResult(key, "rule", "error", passed=not blocking)
    return BuildOutcome(
        key,
        error=ZeroDivisionError("x") if error else None,
        checks=CheckRun((result,)),
    )


@pytest.mark.parametrize(
    ("failing", "kind", "skipped"),
    [
        ("a", "error", ["b", "c"]),
        ("a", "blocking", ["b", "c"]),
        ("b", "error", ["c"]),
        ("side", "error", []),
    ],
)
def test_the_blocking_rule(failing: str, kind: str, skipped: list[str]) -> None:
    deps = {"a": (), "b": ("a",), "c": ("b",), "side": ()}
    calls: list[str] = []

    def build_one(step: Step) -> Any:
        calls.append(step.key)
        return outcome(step.key, error=step.key == failing and kind == "error",
                       blocking=step.key == failing and kind == "blocking")  # fmt: skip

    report = build_in_order("ci", ["a", "side", "b", "c"], deps, build_one, progress=False)

    assert report.skipped == skipped and not report.ok
    assert calls == [k for k in ["a", "side", "b", "c"] if k not in skipped]
    assert (list(report.failed), report.check_failed) == (
        ([failing], []) if kind == "error" else ([], [failing])
    )
    assert set(report.built) == set(calls) - {failing}
