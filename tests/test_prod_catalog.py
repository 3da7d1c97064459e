"""``prod_catalog``: production's catalog on PostgreSQL, configured in ``[tool.nbassets]``.

A password written in ``pyproject.toml`` is refused; a URL ``prod`` needs ``prod_catalog``; with
it set, production's records go to the database while its data files stay in ``prod``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

if not os.environ.get("CI"):  # under CI a missing psycopg fails
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need pip install -e '.[postgres]'")
import psycopg

import nbassets
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
    with pytest.raises(ConfigError, match="not supported yet"):  # a folder, asked of a URL
        _ = found.prod_path
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
