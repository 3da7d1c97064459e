"""``nbassets rollback KEY --to VERSION`` (issue 13, acceptance 4): production goes back to an
earlier version without a rebuild; the rolled-back asset loads the earlier value, its downstream
turns stale, and ``why`` names the rollback. Real git repository, real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import git, write_notebook, write_prod

import nbassets
from nbassets.cli import main
from nbassets.store.sqlite_catalog import SqliteCatalog

CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": "%%asset orders --key id\nraw_orders[raw_orders.amount > 0]",
    "c2": "%%asset summary\npd.DataFrame({'total': [orders.amount.sum()]})",
}


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.output


def commit(project: Path, message: str) -> None:
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


@pytest.fixture
def deployed(project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """Production built on main twice: orders v1 (amount > 0), then v2 (amount > 5)."""
    monkeypatch.delenv("NBASSETS_ENV", raising=False)
    (project / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_prod(project, "raw_orders", pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0]}))
    write_notebook(project / "notebooks" / "shop.ipynb", CELLS)
    git(project, "init", "-q", "-b", "main")
    commit(project, "v1")
    cli(project, "materialize", "--no-progress")
    v1 = prod_catalog(project).latest_of("orders")
    write_notebook(
        project / "notebooks" / "shop.ipynb", {**CELLS, "c1": CELLS["c1"].replace("> 0", "> 5")}
    )
    commit(project, "v2")
    cli(project, "materialize", "--no-progress")
    v2 = prod_catalog(project).latest_of("orders")
    assert v1 is not None and v2 is not None and v1.data_version != v2.data_version
    return project, v1.data_version, v2.data_version


def prod_catalog(project: Path) -> SqliteCatalog:
    return SqliteCatalog(project / "warehouse" / "catalog.sqlite", writable=False)


def test_a_rolled_back_asset_loads_the_earlier_value_and_its_downstream_is_stale(
    deployed: tuple[Path, str, str],
) -> None:
    project, v1, v2 = deployed
    assert list(nbassets.load("orders", project=nbassets.Project.find(project)).id) == [2]

    out = cli(project, "rollback", "orders", "--to", v1[:8])

    assert f"rolled back orders in env 'prod': {v2[:12]} -> {v1[:12]}" in out
    assert "now stale downstream: summary" in out
    found = nbassets.Project.find(project)
    assert list(nbassets.load("orders", project=found).id) == [1, 2]  # the earlier value
    latest = prod_catalog(project).latest_of("orders")
    assert latest is not None and latest.data_version == v1 and latest.rollback_of == v2
    assert latest.commit == git(project, "rev-parse", "HEAD") and latest.dirty is False
    assert len(prod_catalog(project).history("orders")) == 3  # nothing rewritten, one added
    status = json.loads(cli(project, "status", "--env", "prod", "--json"))
    rows = {row["key"]: row for row in status}
    assert rows["summary"]["status"] == "stale"
    assert "orders" in rows["summary"]["reason"]
    assert rows["orders"]["status"] == "stale"  # prod now holds data of older code
    assert rows["orders"]["reason"] == "code changed"


def test_why_names_the_rollback(deployed: tuple[Path, str, str]) -> None:
    project, v1, v2 = deployed
    cli(project, "rollback", "orders", "--to", v1[:8])

    text = cli(project, "why", "orders", "--env", "prod")
    line = next(line for line in text.splitlines() if "rolled back" in line)
    assert f"from {v2[:12]} by " in line and "nbassets rollback" in line
    data = json.loads(cli(project, "why", "orders", "--env", "prod", "--json"))
    assert (data["data_version"], data["rollback_of"]) == (v1, v2)
    older = json.loads(cli(project, "why", "orders", "--env", "prod", "--version", v2, "--json"))
    assert older["rollback_of"] is None


def test_rolling_back_to_the_latest_records_nothing(deployed: tuple[Path, str, str]) -> None:
    project, _, v2 = deployed
    out = cli(project, "rollback", "orders", "--to", v2[:10])
    assert f"already at {v2[:12]}: nothing recorded" in out
    assert len(prod_catalog(project).history("orders")) == 2


def test_unknown_versions_and_keys_are_usage_errors(deployed: tuple[Path, str, str]) -> None:
    project, v1, v2 = deployed
    out = cli(project, "rollback", "orders", "--to", "ffffffff", code=2)
    assert "'orders' has no version 'ffffffff' in env 'prod'" in out
    assert v1[:12] in out and v2[:12] in out  # the versions there are
    assert "holds no version of 'nope'" in cli(project, "rollback", "nope", "--to", v1, code=2)


def test_production_follows_the_production_policy(deployed: tuple[Path, str, str]) -> None:
    project, v1, _ = deployed
    (project / "scratch.py").write_text("x = 1\n")
    out = cli(project, "rollback", "orders", "--to", v1, code=1)
    assert "dirty" in out
    assert len(prod_catalog(project).history("orders")) == 2  # nothing recorded
    cli(project, "rollback", "orders", "--to", v1, "--allow-dirty")
    latest = prod_catalog(project).latest_of("orders")
    assert latest is not None and latest.dirty is True and latest.rollback_of is not None


def test_a_version_whose_file_gc_removed_cannot_be_restored(
    deployed: tuple[Path, str, str],
) -> None:
    project, v1, _ = deployed
    record = prod_catalog(project).version("orders", v1)
    assert record is not None
    (project / "warehouse" / record.path).unlink()
    out = cli(project, "rollback", "orders", "--to", v1, code=1)
    assert "cannot be restored" in out and "is gone" in out
    assert len(prod_catalog(project).history("orders")) == 2
