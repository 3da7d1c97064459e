"""``prod_catalog``: production's catalog on PostgreSQL, configured in ``[tool.nbassets]``.

A password written in ``pyproject.toml`` is refused; a URL ``prod`` needs ``prod_catalog``; with
it set, production's records go to the database while its data files stay in ``prod``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import git, write_notebook

if not os.environ.get("CI"):  # under CI a missing psycopg fails
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need pip install -e '.[postgres]'")
import psycopg

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.environments import PROD
from nbassets.errors import ConfigError
from nbassets.store.postgres_catalog import PostgresCatalog
from nbassets.store.workspace import Workspace


def configure(project: Path, *lines: str) -> None:
    (project / "pyproject.toml").write_text("\n".join(["[tool.nbassets]", *lines]) + "\n")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:hunter2-pw@db.example.com:5432/nbassets",
        "postgresql://alice@db.example.com/nbassets?sslmode=require&password=hunter2-pw",
        "postgres://alice:hunter2-pw@db.example.com/nbassets",
    ],
)
def test_a_password_in_pyproject_is_refused_without_printing_it(project: Path, url: str) -> None:
    configure(project, f'prod_catalog = "{url}"')
    with pytest.raises(ConfigError, match="writes a password") as info:
        Project.find(project)
    message = str(info.value)
    assert "PGPASSWORD" in message and "~/.pgpass" in message and "hunter2" not in message
    assert str(project / "pyproject.toml") in message


@pytest.mark.parametrize("value", ["mysql://db/x", "sqlite:///tmp/c.sqlite", "", "42"])
def test_prod_catalog_must_be_a_postgresql_url(project: Path, value: str) -> None:
    configure(project, f"prod_catalog = {value if value == '42' else repr(value)}")
    with pytest.raises(ConfigError, match="prod_catalog must be a PostgreSQL URL, e.g."):
        Project.find(project)


def test_a_url_prod_needs_prod_catalog(project: Path) -> None:
    configure(project, 'prod = "s3://bucket/warehouse"')
    with pytest.raises(ConfigError, match='is a URL.*add prod_catalog = "postgresql://'):
        Project.find(project)
    configure(project, 'prod = "s3://bucket/warehouse"', 'prod_catalog = "postgresql://db/nb"')
    found = Project.find(project)
    assert (found.prod_url, found.prod_catalog) == ("s3://bucket/warehouse", "postgresql://db/nb")
    digest = hashlib.sha256(b"s3://bucket/warehouse").hexdigest()[:16]
    assert found.prod_path == project / ".nbassets" / ".cache" / digest  # its local cache
    configure(project)
    plain = Project.find(project)
    assert (plain.prod_url, plain.prod_catalog) == (None, None)
    assert plain.prod_path == project / "warehouse"


def test_production_records_go_to_postgresql_and_data_files_to_prod(
    project: Path, postgres_url: str
) -> None:
    configure(project, 'prod = "warehouse"', f'prod_catalog = "{postgres_url}"')
    frame = pd.DataFrame({"id": [1, 2, 3]})
    record = nbassets.save("raw", frame)
    scratch = nbassets.save("scratch", {"x": 1}, env="dev-tester-nogit")
    assert record.env == PROD and record.seq == 1 and scratch.env == "dev-tester-nogit"
    assert not (project / "warehouse" / "catalog.sqlite").exists()
    assert (project / "warehouse" / record.path).stat().st_size == record.bytes
    assert (project / ".nbassets" / "dev-tester-nogit" / "catalog.sqlite").is_file()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT key, data_version FROM nbassets.materializations").fetchall()
    assert rows == [("raw", record.data_version)]
    workspace = Workspace(Project.find(project), "dev-tester-nogit")
    try:
        assert isinstance(workspace.prod.catalog, PostgresCatalog)
        catalog = workspace.prod.catalog
        assert not catalog.writable and catalog.keys() == {"raw"}
        resolved = workspace.resolve("raw")
        assert resolved is not None and resolved.origin == PROD
        pd.testing.assert_frame_equal(workspace.read(resolved), frame)
    finally:
        workspace.close()


CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": "%%asset orders --key id\nraw_orders[raw_orders.amount > 0]",
    "c2": "%%asset summary --check 'row_count(min=5)'\n"  # fails: one row
    "pd.DataFrame({'total': [orders.amount.sum()]})",
}


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.stdout


def test_the_cli_builds_production_into_postgresql_and_keeps_its_incidents_there(
    project: Path, postgres_url: str
) -> None:
    received = project.parent / "alerts.jsonl"
    writer = f"import sys; open({str(received)!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')"
    configure(
        project,
        'prod = "warehouse"',
        f'prod_catalog = "{postgres_url}"',
        "[tool.nbassets.alerts]",
        f"command = {json.dumps(f'{sys.executable} -c {json.dumps(writer)}')}",
    )
    raw = pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0]})
    nbassets.save("raw_orders", raw)
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_notebook(project / "notebooks" / "shop.ipynb", CELLS)
    git(project, "init", "-q", "-b", "main")
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "shop")
    cli(project, "materialize", "--no-progress", code=1)  # summary's check fails
    cli(project, "check", "--env", "prod", code=1)
    assert not (project / "warehouse" / "catalog.sqlite").exists()
    catalog = PostgresCatalog(postgres_url, writable=False)
    try:
        built = catalog.latest()
        assert set(built) == {"raw_orders", "orders", "summary"}
        assert (
            built["orders"].inputs["raw_orders"]["data_version"] == built["raw_orders"].data_version
        )
        assert built["orders"].rows == 2 and built["summary"].commit
        assert [
            r.passed for r in catalog.check_results("summary", built["summary"].data_version)
        ] == [False]
        assert catalog.open_incidents("prod") == {
            ("summary", "check"): "summary: an error-severity check failed"
        }
    finally:
        catalog.close()
    alerts = [json.loads(line) for line in received.read_text().splitlines()]
    assert [(a["event"], a["key"], a["kind"]) for a in alerts] == [("incident", "summary", "check")]
    status = cli(project, "status", "--env", "prod")
    assert "orders" in status and "summary" in status
