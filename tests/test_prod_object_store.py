"""Production on S3 + PostgreSQL end to end: the CLI builds it, a notebook reads it and cannot write it.

``prod = "s3://<bucket>/warehouse"`` (moto's server, ``tests/s3_server.py``) and ``prod_catalog``
on a throwaway PostgreSQL server; credentials and the endpoint only in the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import TestingShell, git, write_notebook
from s3_server import S3Server

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.environments import PROD
from nbassets.errors import ProductionWriteError
from nbassets.store.stores import project_store_opener

CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": "%%asset orders --key id\nraw_orders[raw_orders.amount > 0]",
    "c2": "%%asset summary\npd.DataFrame({'total': [orders.amount.sum()]})",
}
SEED = (
    "import pandas as pd, nbassets\n"
    "nbassets.save('raw_orders', pd.DataFrame({'id': [1, 2, 3], 'amount': [4.0, 9.0, -1.0]}))\n"
)


def configure(project: Path, bucket: str, catalog: str) -> str:
    prod = f"{bucket}/warehouse"
    (project / "pyproject.toml").write_text(
        f'[tool.nbassets]\nprod = "{prod}"\nprod_catalog = "{catalog}"\n'
    )
    return prod


def objects(server: S3Server, prod: str) -> dict[str, str]:
    """Every object under production's prefix, with its ETag."""
    found = server.filesystem().find(prod.removeprefix("s3://"), detail=True)
    return {name: info["ETag"] for name, info in found.items()}


def seed(project: Path) -> None:
    """An ingest script (its own process, no IPython) saves ``raw_orders`` into production."""
    subprocess.run([sys.executable, "-c", SEED], cwd=project, check=True, env=os.environ)


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.stdout


def test_the_cli_builds_production_into_the_bucket_and_the_catalog(
    project: Path, s3_server: S3Server, s3_bucket: str, postgres_url: str
) -> None:
    prod = configure(project, s3_bucket, postgres_url)
    seed(project)
    (project / ".gitignore").write_text(".nbassets/\n__pycache__/\n")
    write_notebook(project / "notebooks" / "shop.ipynb", CELLS)
    git(project, "init", "-q", "-b", "main")
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "shop")
    cli(project, "materialize", "--no-progress")
    stored = objects(s3_server, prod)
    folders = sorted({name.split("/data/")[1].split("/")[0] for name in stored})
    assert folders == ["orders", "raw_orders", "summary"] and len(stored) == 3
    assert not [name for name in stored if "catalog" in name or "tmp" in name]
    status = cli(project, "status", "--env", "prod")
    assert "fresh" in status and "orders" in status and "summary" in status
    cli(project, "materialize", "--no-progress")  # nothing changed: nothing uploaded again
    assert objects(s3_server, prod) == stored
    assert nbassets.load("summary", project=Project.find(project))["total"].tolist() == [13.0]
    catalog = catalog_text(postgres_url)
    assert "data/orders/" in catalog  # the records are there, their paths relative to prod
    for secret in (s3_server.secret_key, s3_server.access_key, s3_server.endpoint, "127.0.0.1:"):
        assert secret not in catalog and secret not in status


def catalog_text(url: str) -> str:
    """Every row of every table of production's PostgreSQL catalog, as text."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'nbassets'"
        ).fetchall()
        return "\n".join(
            str(row)
            for (table,) in tables
            for row in conn.execute(f'SELECT t::text FROM nbassets."{table}" t').fetchall()
        )


def test_a_notebook_reads_production_on_s3_and_cannot_write_it(
    shell: TestingShell, project: Path, s3_server: S3Server, s3_bucket: str, postgres_url: str
) -> None:
    prod = configure(project, s3_bucket, postgres_url)
    seed(project)
    before = objects(s3_server, prod)
    shell.run_cell("%unload_ext nbassets")  # the extension reads the new configuration
    shell.run_cell("%load_ext nbassets")
    shell.run_cell("%%asset orders --no-preview\nraw_orders[raw_orders.amount > 0]")
    assert shell.user_ns["orders"]["id"].tolist() == [1, 2]
    cache = list((project / ".nbassets" / ".cache").glob("*/*.parquet"))
    assert len(cache) == 1  # production's version, downloaded once and verified
    with pytest.raises(ProductionWriteError, match="IPython"):
        nbassets.save("raw_orders", [1], env="prod")
    assert objects(s3_server, prod) == before
    facts = shell.run_cell("%nbassets").result.facts  # production where it is, not its cache
    assert facts["prod"] == f"{prod} (read-only)", facts


def test_a_kernel_cannot_open_productions_shared_catalog_for_writing(
    shell: TestingShell, project: Path, postgres_url: str
) -> None:
    (project / "pyproject.toml").write_text(
        f'[tool.nbassets]\nprod = "warehouse"\nprod_catalog = "{postgres_url}"\n'
    )
    project_ = Project.find(project)
    opener = project_store_opener(project_)
    with pytest.raises(ProductionWriteError, match="production's catalog, and this process runs"):
        opener(PROD, project_.prod_path, writable=True)
    opener(PROD, project_.prod_path, writable=False).close()  # reading it is fine
