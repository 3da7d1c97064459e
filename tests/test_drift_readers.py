"""Schema drift that names its readers (issue 14, acceptance 3): a column removed in a CI
build is reported by ``plan --env prod --against ci-x`` with the downstream assets that read
it, a pandas asset and a SQL asset, and with none that does not. Real builds through the CLI
into production (a git repository on main) and into ``ci-x``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import git

from nbassets.cli import main

MODULE = textwrap.dedent(
    """
    import pandas as pd

    from nbassets.runtime import ExportedAsset, sql_asset


    def orders():
        return pd.DataFrame({{"id": {ids}, "region": ["n", "s", "n"], {amount}}})


    def revenue(orders):
        return pd.DataFrame({{"total": [float(orders["amount"].sum())]}})


    def by_region(orders):
        return sql_asset(
            "by_region",
            "SELECT region, sum(amount) AS total FROM orders GROUP BY region",
            orders=orders,
        )


    def counted(orders):
        column = "{counted}"
        return pd.DataFrame({{"n": [len(orders[column])]}})


    def ids(orders):
        return orders[["id"]]


    ASSETS = (
        ExportedAsset("orders", orders, code_version="{version}"),
        ExportedAsset("revenue", revenue, deps=("orders",), code_version="r1"),
        ExportedAsset("by_region", by_region, deps=("orders",), code_version="b1", sql=True),
        ExportedAsset("counted", counted, deps=("orders",), code_version="c1"),
        ExportedAsset("ids", ids, deps=("orders",), code_version="i1"),
    )
    """
)


def write_module(project: Path, amount: bool, counted: str = "id", ids: str = "[1, 2, 3]") -> None:
    folder = project / "pipelines"
    folder.mkdir(exist_ok=True)
    (folder / "__init__.py").write_text("")
    text = MODULE.format(
        amount='"amount": [1.5, 2.0, 4.0]' if amount else "",
        version="o1" if amount else "o2",
        counted=counted,
        ids=ids,
    )
    (folder / "shop.py").write_text(text)


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def repo(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Production built from main with ``orders.amount``; the working tree drops it and CI
    builds ``orders`` alone into ``ci-x``: no reader has failed, only their code names them."""
    monkeypatch.delenv("NBASSETS_ENV", raising=False)
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_module(project, amount=True)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "v1")
    cli(project, "materialize", "--env", "prod", "--no-progress")
    write_module(project, amount=False)
    cli(project, "materialize", "--env", "ci-x", "--select", "orders", "--no-progress")
    return project


def test_plan_against_a_ci_build_names_the_readers_of_a_removed_column(repo: Path) -> None:
    plan = json.loads(cli(repo, "plan", "--env", "prod", "--against", "ci-x", "--json"))
    assert plan["against"] == "ci-x"
    [drift] = plan["schema_drift"]
    assert drift["key"] == "orders" and list(drift["removed"]) == ["amount"]
    # the pandas and the SQL reader; not counted (reads "id" through a variable), not ids
    assert drift["readers"] == {"amount": ["by_region", "revenue"]}
    text = cli(repo, "plan", "--env", "prod", "--against", "ci-x")
    assert "schema drift of ci-x against prod:" in text
    assert "readers of removed or retyped columns:" in text
    [line] = [line for line in text.splitlines() if line.startswith("orders.amount")]
    assert line.split()[1:] == ["by_region,", "revenue"]


def test_a_reader_static_analysis_misses_is_named_by_its_failure(repo: Path) -> None:
    """``counted`` reads the column through a variable: only its failed CI build names it."""
    write_module(repo, amount=False, counted="amount")
    out = json.loads(cli(repo, "materialize", "--env", "ci-x", "--no-progress", "--json", code=1))
    assert sorted(out["failed"]) == ["by_region", "counted", "revenue"]
    assert "KeyError: 'amount'" in out["failed"]["counted"]
    assert "Binder Error" in out["failed"]["by_region"]
    plan = json.loads(cli(repo, "plan", "--env", "prod", "--against", "ci-x", "--json"))
    assert plan["schema_drift"][0]["readers"] == {"amount": ["by_region", "counted", "revenue"]}


def test_a_retyped_column_names_its_readers(repo: Path) -> None:
    write_module(repo, amount=True, ids='["1", "2", "3"]')
    cli(repo, "materialize", "--env", "ci-y", "--select", "orders", "--no-progress")
    [drift] = json.loads(cli(repo, "plan", "--env", "prod", "--against", "ci-y", "--json"))[
        "schema_drift"
    ]
    assert list(drift["retyped"]) == ["id"] and drift["removed"] == {}
    assert drift["readers"] == {"id": ["ids"]}  # counted reads "id" through a variable


def test_no_drift_no_readers(repo: Path) -> None:
    plan = json.loads(cli(repo, "plan", "--env", "prod", "--against", "prod-copy", "--json"))
    assert plan["schema_drift"] == []
    assert "nothing to compare (prod-copy has no versions)" in cli(
        repo, "plan", "--env", "prod", "--against", "prod-copy"
    )
