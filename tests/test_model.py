"""The project model, the check runner and the panel's overview, without a kernel or a server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import write_notebook, write_prod

from nbassets.build import BuildTask, build
from nbassets.checks.rules import parse_rule
from nbassets.checks.runner import CheckTask, run_checks
from nbassets.codebase import Code, project_code
from nbassets.config import Project
from nbassets.model import LineageEdge, LineageNode, env_model
from nbassets.overview import notebook_overview
from nbassets.policy import authorize
from nbassets.store.workspace import Workspace

ENV = "ci-model"
RAW = pd.DataFrame({"id": [1, 2, 3], "amount": [5.0, -1.0, 7.0]})


@pytest.fixture
def workspace(project: Path) -> Iterator[Workspace]:
    write_prod(project, "raw", RAW)
    ws = Workspace(Project.find(project), ENV)
    yield ws
    ws.close()


DEPS = {"orders": ("raw",), "big": ("orders",), "report": ("big",)}


def code(**versions: str) -> Code:
    return Code("test", dict(versions), {key: DEPS[key] for key in versions})


def built(ws: Workspace, key: str, code_version: str, function: Callable[..., Any]) -> None:
    task = BuildTask(key, DEPS[key], code_version, function, "test")
    outcome = build(ws, task, authorize(ws.project, ws.env, "materialize"))
    assert outcome.built, outcome.error


def test_statuses_lineage_and_prod_notes(workspace: Workspace, project: Path) -> None:
    built(workspace, "orders", "c1", lambda raw: raw[raw.amount > 0])
    built(workspace, "big", "c1", lambda orders: orders[orders.amount > 5])

    model = env_model(workspace, code(orders="c1", big="c2", report="c1"))

    assert [(r.key, r.status, r.reason) for r in model.rows] == [
        ("orders", "fresh", ""),
        ("big", "stale", "code changed"),
        ("report", "missing", "never built"),
        ("raw", "fresh", ""),  # only the stores know it: after the defined ones
    ]
    nodes, edges = model.lineage()
    assert nodes[0] == LineageNode("orders", "fresh", "fresh")
    assert edges == [
        LineageEdge("raw", "orders", "prod"),
        LineageEdge("orders", "big", "sandbox"),
        LineageEdge("big", "report", ""),  # report has no version: no origin
    ]
    assert model.origin("big", "orders") == "sandbox" and model.origin("orders", "raw") == "prod"
    assert model.prod_notes() == {}  # production holds none of the defined assets
    write_prod(project, "orders", RAW, code_version="c1")
    assert env_model(workspace, code(orders="c1")).prod_notes() == {
        "orders": "built from this code"
    }
    write_prod(project, "orders", RAW, code_version="old")
    notes = env_model(workspace, code(orders="c1")).prod_notes()
    assert notes == {"orders": "built from other code (code version old; now c1)"}
    write_prod(project, "orders", RAW, code_version="external")  # as nbassets.save records it
    notes = env_model(workspace, code(orders="c1")).prod_notes()
    assert notes == {"orders": "stored by a script (nbassets.save), not built from this code"}


def test_only_the_checks_the_code_defines_count(workspace: Workspace) -> None:
    built(workspace, "orders", "c1", lambda raw: raw)
    target = workspace.resolve("orders")
    assert target is not None
    grant = authorize(workspace.project, ENV, "check")
    run = run_checks(workspace, target, [parse_rule("row_count(max=1)")], [], grant)
    assert [r.outcome for r in run.results] == ["fail"]

    defined = Code("t", {"orders": "c1"}, {"orders": ("raw",)}, check_names={"orders": set()})
    assert env_model(workspace, defined).row("orders").status == "fresh"  # type: ignore[union-attr]
    every = Code("t", {"orders": "c1"}, {"orders": ("raw",)})  # checks unknown: all count
    assert env_model(workspace, every).row("orders").status == "check-failed"  # type: ignore[union-attr]


def test_the_check_runner_reads_stored_values_and_names_a_missing_input(
    workspace: Workspace,
) -> None:
    built(workspace, "orders", "c1", lambda raw: raw)
    target = workspace.resolve("orders")
    assert target is not None
    grant = authorize(workspace.project, ENV, "check")

    def positive(orders: pd.DataFrame) -> pd.DataFrame:
        orders.loc[:, "amount"] = 0.0  # a check may change its copy: the store keeps its own
        return orders[orders.amount < 0]

    def broken(orders: pd.DataFrame, nowhere: object) -> bool:
        return True

    run = run_checks(
        workspace,
        target,
        [],
        [
            CheckTask("orders", "positive", "error", ("orders",), positive),
            CheckTask("orders", "broken", "warn", ("orders", "nowhere"), broken),
            CheckTask("orders", "raises", "error", ("orders",), lambda orders: 1 / 0),
        ],
        grant,
    )

    outcomes = {r.name: (r.outcome, r.error) for r in run.results}
    assert outcomes["positive"] == ("pass", None)
    assert outcomes["broken"][0] == "error" and "reads 'nowhere'" in str(outcomes["broken"][1])
    assert outcomes["raises"] == ("error", "ZeroDivisionError: division by zero")
    assert isinstance(run.raised, Exception) and [r.name for r in run.blocking] == ["raises"]
    assert workspace.read(target).amount.tolist() == [5.0, -1.0, 7.0]
    recorded = workspace.own.catalog.check_results("orders", target.record.data_version)
    assert {r.name for r in recorded} == {"positive", "broken", "raises"}


def test_project_code_reads_the_notebooks_without_a_package(project: Path) -> None:
    write_notebook(
        project / "notebooks" / "shop.ipynb",
        {"a": "%%asset orders --key id\nraw[raw.amount > 0]", "b": "%%asset big\norders"},
    )
    found = project_code(Project.find(project), {"raw"})
    assert found.origin == "notebooks"
    assert list(found.code_versions) == ["orders", "big"]
    assert found.deps == {"orders": ("raw",), "big": ("orders",)}
    assert found.key_columns["orders"] == ("id",)


def test_the_overview_of_a_notebook(project: Path, workspace: Workspace) -> None:
    dev = Workspace(Project.find(project), "dev-tester-nogit")
    try:
        grant = authorize(dev.project, dev.env, "kernel")
        task = BuildTask("orders", ("raw",), "old", lambda raw: raw, "nb")
        assert build(dev, task, grant).built  # then the notebook is saved with other code
    finally:
        dev.close()
    notebook = write_notebook(
        project / "notebooks" / "shop.ipynb",
        {
            "c-orders": "%%asset orders\nraw[raw.amount > 0]",
            "c-check": "%%check orders --name positive\nassert (orders.amount > 0).all()",
            "c-big": "%%asset big\norders",
        },
    )
    saved = notebook.stat().st_mtime + 2
    os.utime(notebook, (saved, saved))

    overview = notebook_overview(Project.find(project), notebook)

    assets = {a["key"]: a for a in overview["assets"]}
    assert list(assets) == ["orders", "big", "raw"]  # cell order, then what it only reads
    assert assets["orders"]["status"] == "stale" and assets["orders"]["reason"] == "code changed"
    assert assets["orders"]["inputs"] == [
        {"key": "raw", "origin": "prod", "data_version": assets["raw"]["data_version"]}
    ]
    assert assets["orders"]["checks"] == ["positive"] and assets["orders"]["cell_id"] == "c-orders"
    assert assets["big"]["status"] == "missing" and assets["big"]["deps"] == ["orders"]
    assert assets["raw"]["defined"] is False and assets["raw"]["prod"]["same_code"] is None


# --- orphans -------------------------------------------------------------------------------------


def test_orphans_are_judged_against_every_notebook_and_the_package(
    workspace: Workspace, project: Path
) -> None:
    from nbassets.model import orphans

    for key in ("orders", "big", "report"):
        write_prod(project, key, RAW, code_version="c1")
    held = workspace.current()
    part = Code("kernel", {"orders": "c1"}, {"orders": ("raw",)})
    assert orphans(workspace.project, part, held) == set(), "no notebook, no package: nothing"
    write_notebook(project / "notebooks" / "n.ipynb", {"c1": "%%asset big\norders.head(1)"})
    assert orphans(workspace.project, part, held) == {"report"}
    package = project / "pipelines"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "old.py"
    module.write_text(  # hand-written: positional key, as tests/test_cli.py writes them
        "from nbassets.runtime import ExportedAsset\n\n"
        "def report(big):\n    return big\n\n"
        "ASSETS = (ExportedAsset('report', report, deps=('big',), code_version='c1'),)\n"
    )
    assert orphans(workspace.project, part, held) == set(), "the package still defines report"
    module.write_text("ASSETS = ()\n")
    assert orphans(workspace.project, part, held) == {"report"}
    module.write_text("ASSETS = tuple(make_assets())\n")  # not as export writes it: unknown
    assert orphans(workspace.project, part, held) == set()


def test_a_key_with_only_failed_builds_can_be_orphaned(workspace: Workspace, project: Path) -> None:
    from nbassets.model import orphans
    from nbassets.store.catalog import Failure

    write_notebook(project / "notebooks" / "n.ipynb", {"c1": "%%asset orders\nraw.head(1)"})
    failure = Failure("deleted", ENV, "ValueError: boom", "2026-01-01", "2026-01-01")
    code = project_code(workspace.project, workspace.keys())
    found = orphans(workspace.project, code, workspace.current(), {"deleted": failure})
    assert found == {"deleted"}


def test_partitioned_code_from_notebooks_and_the_package(project: Path) -> None:
    write_notebook(
        project / "notebooks" / "shop.ipynb",
        {
            "a": "%%asset days --partition daily:2024-01-01\n[str(partition)]",
            "b": "%%asset t\ndays",
        },
    )
    found = project_code(Project.find(project), set())
    assert {k: str(d) for k, d in found.partitions.items()} == {"days": "daily:2024-01-01"}
    package = project / "pipelines"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shop.py").write_text(
        "from nbassets.runtime import ExportedAsset\n\n\ndef months(partition):\n    return 1\n\n\n"
        'ASSETS = (ExportedAsset("months", months, code_version="m", partitions="monthly:2024-01"),)\n'
    )
    found = project_code(Project.find(project), set())
    assert {k: str(d) for k, d in found.partitions.items()} == {"months": "monthly:2024-01"}


def test_a_partitions_failed_check_and_missing_file_count_in_its_assets_row(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbassets.partitions import parse_definition

    monkeypatch.setenv("NBASSETS_NOW", "2024-01-04T00:00:00")  # three complete days
    daily = parse_definition("daily:2024-01-01")
    grant = authorize(workspace.project, ENV, "materialize")

    def days(partition: Any) -> pd.DataFrame:
        return pd.DataFrame({"day": [str(partition)], "n": [len(str(partition))]})

    task = BuildTask("days", (), "d1", days, "test", partitions=daily,
                     rules=(parse_rule("row_count(max=0, severity='warn')"),))  # fmt: skip
    records = {}
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        outcome = build(workspace, task, grant, partition=day)
        assert outcome.record is not None
        records[day] = outcome.record
    current = Code("t", {"days": "d1"}, {"days": ()}, partitions={"days": daily})
    assert env_model(workspace, current).row("days").label == "fresh"  # type: ignore[union-attr]
    target = workspace.resolve_partitions("days", ["2024-01-02"])["2024-01-02"]
    run_checks(workspace, target, [parse_rule("row_count(max=0)")], [], grant)
    row = env_model(workspace, current).row("days")
    assert row is not None and row.label == (
        "check-failed: 1 of 3 partitions, check row_count(max=0) failed"
    )
    (workspace.own.root / records["2024-01-03"].path).unlink()
    row = env_model(workspace, current).row("days")
    assert row is not None and row.label == (
        f"corrupt: 1 of 3 partitions, file missing: {records['2024-01-03'].path}; "
        "also 1 check-failed"
    )
