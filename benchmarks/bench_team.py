"""Scenario ``team``: production on S3 + PostgreSQL beside local + SQLite (issue 15).

The servers are the test suite's: moto's S3 server (``tests/s3_server.py``) and a throwaway
PostgreSQL cluster from Debian's packages (``tests/servers.py``), both on loopback, started in
this scenario's process. What moto does not prove about AWS (latency, throttling) is said in
``docs/deploy.md``: the figures are the cost of nbassets' own work per object and per record.

(1) ``materialize`` per asset: the ``chain`` scenario's notebook (N assets of 100 rows, no
    rules) exported into one project and built into production ``runs`` times, each into a
    fresh production (locally a new folder; on the servers a new bucket prefix and a new
    database), so every build uploads its objects and writes its records. Production's
    overrides of a deployed runner are set (``NBASSETS_NO_GIT``, ``NBASSETS_COMMIT``). The
    median per asset of each, and their ratio (target: within 5x).
(2) status of 10,000 assets with production's catalog on PostgreSQL: the ``status``
    scenario's catalog (a random DAG, ~1 % code changed), its files in a local folder;
    ``env_model`` of production, median of runs after a warmup (target: < 200 ms).
(3) a 1M-row version (``id``, ``v``, ``name``) in S3 production read by a reader process's
    store: cold (its read-through cache empty: download, verify the hash, rename) beside
    warm (the cached file's hash verified, then read), medians.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bench_status import fill_env
from .benchlib import (
    Context,
    Result,
    catalog_counts,
    environ,
    export_chain,
    median,
    ms,
    skipped,
    temporary_project,
    timed,
)

TESTS = Path(__file__).resolve().parents[1] / "tests"
DEPLOYED = {"NBASSETS_NO_GIT": "1", "NBASSETS_COMMIT": "0" * 40}


@dataclass(frozen=True)
class Servers:
    """Where the S3 server and PostgreSQL listen; ``database()`` makes a fresh database."""

    bucket: str
    postgres: Any  # tests/servers.py PostgresServer

    def database(self) -> str:
        return str(self.postgres.new_database())


def run(ctx: Context) -> list[Result]:
    names = (
        "materialize per asset, local + SQLite",
        "materialize per asset, S3 + PostgreSQL",
        "ratio S3 + PostgreSQL / local + SQLite",
        "status of 10,000 assets, catalog on PostgreSQL",
        "read of a 1M-row version through the cache, cold",
        "the same, warm",
    )
    with ExitStack() as stack:
        servers = stack.enter_context(_servers())
        if isinstance(servers, str):
            if os.environ.get("CI"):  # .ci/run installs both: missing there is a failure
                raise RuntimeError(servers)
            return skipped(names, "ms", servers)
        with (
            environ("NBASSETS_NO_GIT", DEPLOYED["NBASSETS_NO_GIT"]),
            environ("NBASSETS_COMMIT", DEPLOYED["NBASSETS_COMMIT"]),
        ):
            results = materialize_side(ctx, servers)
            results += status_side(ctx, servers)
            results += read_side(ctx, servers)
    return results


@contextmanager
def _servers() -> Iterator[Servers | str]:
    """Both servers running, or why not (a string: the scenario is skipped, not failed)."""
    sys.path.insert(0, str(TESTS))
    try:
        import s3fs  # noqa: F401
        from s3_server import credentials_environ, moto_binary, running_moto
        from servers import PostgresServer, postgres_bin
    except ImportError as exc:
        yield f"{exc.name} is not installed: pip install -e '.[test,s3,postgres]'"
        return
    finally:
        sys.path.remove(str(TESTS))
    binary, bin_dir = moto_binary(), postgres_bin()
    if binary is None or bin_dir is None:
        yield "moto_server or PostgreSQL is missing: pip install 'moto[server]'; apt-get postgresql"
        return
    postgres = PostgresServer(bin_dir)
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-moto-") as folder:
        try:
            postgres.start()
            with running_moto(binary, Path(folder)) as s3:
                for name, value in credentials_environ(s3, Path(folder)).items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                s3.filesystem().mkdir("bench")
                yield Servers("s3://bench", postgres)
        finally:
            postgres.stop()


def _pyproject(prod: str, catalog: str | None = None) -> str:
    line = f'prod_catalog = "{catalog}"\n' if catalog else ""
    return f'[tool.nbassets]\nprod = "{prod}"\n{line}'


def materialize_side(ctx: Context, servers: Servers) -> list[Result]:
    from nbassets.config import Project
    from nbassets.pipeline import materialize

    n = ctx.size("team_chain", 40, 8)
    runs = ctx.size("team_runs", 3, 1)
    ctx.progress(f"materialize of a {n}-asset chain into production, {runs} fresh productions each")
    per_asset: dict[str, list[float]] = {"local": [], "team": []}
    built: dict[str, int] = {}
    with temporary_project("nbassets-bench-team-") as root:
        export_chain(root, n)
        for i in range(runs + 1):  # the first of each is a warmup
            for side in ("local", "team"):
                if side == "local":
                    prod = f"warehouse-{i}"
                    text = _pyproject(prod)
                else:
                    text = _pyproject(f"{servers.bucket}/run-{i}", servers.database())
                (root / "pyproject.toml").write_text(text, encoding="utf-8")
                seconds, report = timed(
                    lambda: materialize(Project.find(root), "prod", progress=False)
                )
                built[side] = len(report.built) if report.ok else -1
                if i:
                    per_asset[side].append(ms(seconds) / n)
        local_records = catalog_counts(root / f"warehouse-{runs}" / "catalog.sqlite")[1]
    local, team = median(per_asset["local"]), median(per_asset["team"])
    return [
        Result(
            "materialize per asset, local + SQLite",
            local,
            "ms",
            note=f"{n}-asset chain, median of {runs} fresh productions",
        ),
        Result(
            "materialize per asset, S3 + PostgreSQL",
            team,
            "ms",
            note="moto on loopback; every object uploaded, every record written",
        ),
        Result("ratio S3 + PostgreSQL / local + SQLite", team / local, "x", target=5.0),
        Result(
            "both builds complete",
            float(built == {"local": n, "team": n} and local_records == n),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note=f"built {built}, {local_records} local records",
        ),
    ]


def status_side(ctx: Context, servers: Servers) -> list[Result]:
    from nbassets.codebase import Code
    from nbassets.config import Project
    from nbassets.model import env_model
    from nbassets.store.workspace import Workspace

    n = ctx.size("team_status_assets", 10_000, 1_000)
    runs = ctx.size("team_status_runs", 10, 3)
    ctx.progress(f"status of {n:,} assets, production's catalog on PostgreSQL")
    with temporary_project(
        "nbassets-bench-team-status-", _pyproject("warehouse", servers.database())
    ) as root:
        code_versions, deps = fill_env(root, "prod", n)
        code = Code("bench", code_versions=dict(code_versions), deps=deps)
        times, rows = [], 0
        for i in range(runs + 1):
            workspace = Workspace(Project.find(root), "prod")
            try:
                seconds, model = timed(lambda ws=workspace: env_model(ws, code))
            finally:
                workspace.close()
            rows = len(model.rows)
            if i:
                times.append(seconds)
    return [
        Result(
            f"status of {n:,} assets, catalog on PostgreSQL",
            ms(median(times)),
            "ms",
            target=200.0,
            op="<",
            note=f"median of {runs}; {rows:,} rows",
        ),
    ]


def read_side(ctx: Context, servers: Servers) -> list[Result]:
    import numpy as np
    import pandas as pd

    from nbassets.config import Project
    from nbassets.store.workspace import Workspace

    rows = ctx.size("team_read_rows", 1_000_000, 100_000)
    runs = ctx.size("team_read_runs", 3, 1)
    ctx.progress(f"a {rows:,}-row version read through the cache, cold and warm")
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "v": np.random.default_rng(3).random(rows),
            "name": pd.Series(np.arange(rows) % 997).astype(str),
        }
    )
    pyproject = _pyproject(f"{servers.bucket}/read", servers.database())
    with temporary_project("nbassets-bench-team-read-", pyproject) as root:
        import nbassets

        project = Project.find(root)
        record = nbassets.save("big", frame, env="prod", project=project)
        cold, warm = [], []
        for _ in range(runs):
            shutil.rmtree(project.sandbox_root / ".cache", ignore_errors=True)
            for times in (cold, warm):
                workspace = Workspace(project, "dev-bench")
                try:
                    seconds, value = timed(lambda ws=workspace: ws.prod.read(record))
                finally:
                    workspace.close()
                assert len(value) == rows
                times.append(seconds)
    size = f"{record.bytes / 1024 / 1024:.1f} MB of Parquet"
    return [
        Result(
            f"read of a {rows:,}-row version through the cache, cold",
            ms(median(cold)),
            "ms",
            note=f"{size}; download, hash, rename, read",
        ),
        Result(
            "the same, warm", ms(median(warm)), "ms", note="hash check of the cached file, read"
        ),
    ]
