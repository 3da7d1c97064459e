"""Dagster deployed (issue 15, acceptance 4): the quick start's exported package, built by a real
``dagster asset materialize`` run with the multiprocess executor and Dagster's instance on
PostgreSQL (dagster-postgres), into production on S3 (moto) with nbassets' catalog on PostgreSQL
(the same server, another database), gives the data versions and check outcomes of
``nbassets materialize --env prod`` in a local copy (a folder and SQLite), and records nbassets'
provenance. Every password and key comes from the environment, which each step process inherits.
"""

# ruff: noqa: E402  (dagster is optional: skip before importing what needs it)

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster")
if importlib.util.find_spec("dagster_postgres") is None:
    if os.environ.get("CI"):  # under CI the deployment test must run: .ci/run installs it
        raise ImportError("dagster-postgres is missing: pip install -e '.[deploy]'")
    pytest.skip("needs dagster-postgres: pip install -e '.[deploy]'", allow_module_level=True)

from click.testing import CliRunner
from helpers import ROOT, git, seed_production
from s3_server import S3Server
from servers import PASSWORD, PASSWORD_ROLE, PostgresServer

from nbassets.cli import main
from nbassets.config import Project
from nbassets.exporter import export_notebooks
from nbassets.package import load_package
from nbassets.store.catalog import Catalog
from nbassets.store.postgres_catalog import open_catalog
from nbassets.store.sqlite_catalog import SqliteCatalog

pytestmark = pytest.mark.dagster

ASSETS = ("orders", "customer_revenue", "region_revenue", "daily_revenue")
SOURCES = ("raw_customers", "raw_orders")
#: Dagster's instance: run, event log and schedule storage in PostgreSQL, the password from
#: the environment (the same variable libpq, and so nbassets' catalog, reads). The scheme names
#: psycopg2: SQLAlchemy 2.1 reads a plain postgresql:// with psycopg 3, which refuses
#: dagster-postgres' NOTIFY statement ("syntax error at or near $1").
DAGSTER_YAML = """\
storage:
  postgres:
    postgres_db:
      scheme: postgresql+psycopg2
      hostname: 127.0.0.1
      port: {port}
      username: {user}
      password:
        env: PGPASSWORD
      db_name: {database}
telemetry:
  enabled: false
"""
MULTIPROCESS = '{"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}'


def quickstart(folder: Path, **tool: str) -> Path:
    """The quick start's notebook in a project configured by ``tool`` ([tool.nbassets]),
    production seeded by ``notebooks/seed_production.py``, exported, committed on main."""
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    settings = "".join(f'{name} = "{value}"\n' for name, value in tool.items())
    (folder / "pyproject.toml").write_text(f"[tool.nbassets]\n{settings}")
    (folder / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    notebook = shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", folder / "notebooks")
    seed_production(folder)
    export_notebooks(Project.find(folder), [Path(notebook)])
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "quick start, exported")
    return folder


def role_database(server: PostgresServer) -> tuple[str, str]:
    """A fresh database that the password role may fill (public schema included): its name
    and its URL as that role, without the password."""
    name = server.new_database().rsplit("/", 1)[1]
    with server.connect(name) as conn:
        conn.execute(f"GRANT ALL ON SCHEMA public TO {PASSWORD_ROLE}")
    return name, server.url(name, PASSWORD_ROLE)


def dagster_materialize(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``dagster asset materialize --select '*'`` of the package, multiprocess, into prod."""
    environ = {**os.environ, "PYTHONPATH": str(project), "DAGSTER_HOME": str(home)}
    environ.pop("NBASSETS_ENV", None)  # production
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "--select", "*",
               "-m", "pipelines.definitions", "--config-json", MULTIPROCESS]  # fmt: skip
    return subprocess.run(
        command, cwd=project, env=environ, capture_output=True, text=True, timeout=900
    )


def dagster_tables(server: PostgresServer, database: str) -> tuple[list[str], list[dict[str, Any]]]:
    """From Dagster's instance database: the status of every run, and the events of them all."""
    with server.connect(database) as conn:
        runs = [status for (status,) in conn.execute("SELECT status FROM runs").fetchall()]
        rows = conn.execute("SELECT event FROM event_logs ORDER BY id").fetchall()
    return runs, [json.loads(event) for (event,) in rows]


def successful_multiprocess_run(
    server: PostgresServer, database: str, secrets: tuple[str, ...]
) -> dict[str, str]:
    """Assert that Dagster's instance database holds one successful run, its steps each in a
    process of its own, and none of ``secrets``; the JSON of each asset step's materialization."""
    statuses, events = dagster_tables(server, database)
    assert statuses == ["SUCCESS"]
    found = [e["dagster_event"] for e in events if e.get("dagster_event")]
    kinds = [dg.DagsterEventType(e["event_type_value"]) for e in found]
    assert kinds.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == len(ASSETS)
    assert kinds.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == 4
    assert kinds[-1] == dg.DagsterEventType.RUN_SUCCESS
    assert any("multiprocess executor" in (e.get("user_message") or "") for e in events)
    pids = {kind: {e["pid"] for e, k in zip(found, kinds, strict=True) if k == kind}
            for kind in (dg.DagsterEventType.RUN_START, dg.DagsterEventType.STEP_START)}  # fmt: skip
    run, steps = pids[dg.DagsterEventType.RUN_START], pids[dg.DagsterEventType.STEP_START]
    assert len(run) == 1 and not run & steps and len(steps) >= 2  # own processes
    text = json.dumps(events)
    assert not [secret for secret in secrets if secret in text]
    return {e["step_key"]: json.dumps(e) for e, k in zip(found, kinds, strict=True)
            if k == dg.DagsterEventType.ASSET_MATERIALIZATION}  # fmt: skip


def built(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Each asset's latest version: data version and check outcomes by check name."""
    latest = catalog.latest(ASSETS)
    results = catalog.versions_check_results([m.data_version for m in latest.values()])
    found: dict[str, dict[str, Any]] = {k: {"data_version": m.data_version, "checks": {}}
                                        for k, m in latest.items()}  # fmt: skip
    for result in results:
        found[result.key]["checks"][result.name] = result.outcome
    return found


def test_a_multiprocess_dagster_run_on_postgres_builds_the_quickstart_into_s3_and_postgres(
    project: Path,
    tmp_path: Path,
    postgres_server: PostgresServer,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # for nbassets (libpq) and for Dagster
    _, catalog_url = role_database(postgres_server)
    dagster_db, _ = role_database(postgres_server)
    prod = f"{s3_bucket}/prod"
    quickstart(project, prod=prod, prod_catalog=catalog_url)
    local = quickstart(tmp_path / "local", prod="warehouse")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        DAGSTER_YAML.format(port=postgres_server.port, user=PASSWORD_ROLE, database=dagster_db)
    )

    started = time.monotonic()
    run = dagster_materialize(project, home)
    seconds = time.monotonic() - started

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    print(f"dagster asset materialize, multiprocess, S3 + PostgreSQL: {seconds:.1f} s")
    cli = CliRunner().invoke(
        main, ["--project", str(local), "materialize", "--env", "prod", "--no-progress"]
    )
    assert cli.exit_code == 0, cli.output

    secrets = (PASSWORD, s3_server.secret_key, s3_server.access_key)
    materialized = successful_multiprocess_run(postgres_server, dagster_db, secrets)

    # nbassets' catalog on PostgreSQL: one Dagster record per asset, with its provenance
    head = git(project, "rev-parse", "HEAD")
    package = load_package(Project.find(project), "pipelines")
    catalog = open_catalog(catalog_url, writable=False)
    try:
        records = {key: catalog.history(key) for key in ASSETS}
        deployed = built(catalog)
        sources = catalog.latest(SOURCES)
    finally:
        catalog.close()
    # the seed's older orders, then one record per asset from the run
    assert [m.source for m in records["orders"]][1:] == ["deploy of 2024-09-01"]
    assert {key: len(found) for key, found in records.items()} == {
        **dict.fromkeys(ASSETS, 1),
        "orders": 2,
    }
    latest = {key: found[0] for key, found in records.items()}
    for key, record in latest.items():
        assert (record.env, record.commit, record.dirty) == ("prod", head, False)
        assert record.code_version == package.assets[key].code_version
        where = f"pipelines.quickstart:{key} | notebooks/quickstart.ipynb :: {key}"
        assert record.source == f"dagster | {where}"
        assert {entry["env"] for entry in record.inputs.values()} == {"prod"}
        assert record.data_version in materialized[key]  # Dagster shows nbassets' version
    assert latest["orders"].inputs == {
        "raw_orders": {"data_version": sources["raw_orders"].data_version, "env": "prod"}
    }
    assert latest["region_revenue"].inputs["customer_revenue"]["data_version"] == (
        latest["customer_revenue"].data_version
    )
    assert deployed["orders"]["checks"] == {
        "not_null('order_id', 'customer_id')": "pass",
        "unique('order_id')": "pass",
        "between('amount', 0, 250)": "warn",
    }
    assert deployed["customer_revenue"]["checks"] == {"one_row_per_customer": "pass"}

    # the objects are in the bucket, whole
    bucket = s3_server.filesystem()
    for record in latest.values():
        assert bucket.size(f"{prod.removeprefix('s3://')}/{record.path}") == record.bytes

    # what a local run of the same package builds and checks
    local_catalog = SqliteCatalog(local / "warehouse" / "catalog.sqlite", writable=False)
    try:
        assert built(local_catalog) == deployed
    finally:
        local_catalog.close()
