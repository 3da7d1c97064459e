"""Scenario ``status``: the status of 10,000 assets (catalog read and staleness, no drawing).

A sandbox catalog holds 10,000 records forming a random DAG (1-3 upstreams each among
earlier assets), with a schema, user and source like the ones a build records; about 1 %
of the code versions differ from the recorded ones. Each record's file exists (100 bytes:
status compares its size with the record's). Timed: the project model of that env
(``nbassets.model.env_model`` over a fresh ``Workspace``, the code given as versions and
deps), median of 10 runs after a warmup. Target: < 100 ms. Drawing the rows as the text
table of ``%assets`` is reported for information.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nbassets.store.stores import Store

from .benchlib import Context, Result, median, ms, p90, temporary_project

ENV = "dev-bench-status"


def run(ctx: Context) -> list[Result]:
    from nbassets.codebase import Code
    from nbassets.config import Project
    from nbassets.model import env_model
    from nbassets.render.display import StatusTable
    from nbassets.store.workspace import Workspace

    n = ctx.size("n_assets", 10_000, 1_000)
    runs = ctx.size("status_runs", 10, 3)
    ctx.progress(f"a catalog of {n:,} assets")
    with temporary_project("nbassets-bench-status-") as root:
        start = time.perf_counter()
        code_versions, deps = fill_env(root, ENV, n)
        fill_s = time.perf_counter() - start
        code = Code("bench", code_versions=dict(code_versions), deps=deps)
        status_times, render_times = [], []
        rows: list[Any] = []
        text = ""
        for i in range(runs + 1):  # the first run is a warmup
            start = time.perf_counter()
            workspace = Workspace(Project.find(root), ENV)
            try:
                rows = env_model(workspace, code).rows
            finally:
                workspace.close()
            middle = time.perf_counter()
            text = StatusTable(rows).to_text()
            end = time.perf_counter()
            if i:
                status_times.append(middle - start)
                render_times.append(end - middle)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    total = [a + b for a, b in zip(status_times, render_times, strict=True)]
    return [
        Result(
            f"status of {n:,} assets (env_model), median",
            ms(median(status_times)),
            "ms",
            target=100.0,
            op="<",
            note=f"p90 {ms(p90(status_times)):.1f} ms, n={runs}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            data={"counts": counts},
        ),
        Result(
            "drawn as text (StatusTable.to_text), median",
            ms(median(render_times)),
            "ms",
            note=f"status + text {ms(median(total)):.1f} ms",
        ),
        Result(
            "status rows and text lines, one per asset",
            float(len(rows) == n and len(text.splitlines()) == n + 1),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note=f"{len(rows)} rows, {len(text.splitlines())} lines with the header",
        ),
        Result(f"fill a catalog with {n:,} records", ms(fill_s), "ms", note="not timed above"),
    ]


def fill_env(root: Path, env: str, n: int) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Record ``n`` assets in a random DAG in ``env``'s store of the project at ``root`` (its
    catalog wherever the project puts it); return (code versions with ~1 % changed, deps)."""
    from nbassets.config import Project
    from nbassets.environments import store_path
    from nbassets.store.stores import project_store_opener

    project = Project.find(root)
    store = project_store_opener(project)(env, store_path(project, env), writable=True)
    try:
        return fill_store(store, n)
    finally:
        store.close()


def fill_store(store: Store, n: int) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """:func:`fill_env` into an open store whose data files are in a local folder."""
    from nbassets.store.catalog import Materialization
    from nbassets.store.stores import now

    rng = np.random.default_rng(7)
    env = store.env
    code_versions: dict[str, str] = {}
    deps: dict[str, tuple[str, ...]] = {}
    data_versions: list[str] = []
    stamp = now()
    payload = bytes(100)
    for i in range(n):
        key = f"a{i:05d}"
        count = int(rng.integers(1, 4))
        ups = () if i == 0 else tuple(sorted({f"a{j:05d}" for j in rng.integers(0, i, count)}))
        dv = f"{rng.integers(0, 2**63):016x}{i:016x}"
        cv = f"{i:016x}"
        data_versions.append(dv)
        inputs = {up: {"data_version": data_versions[int(up[1:])], "env": env} for up in ups}
        folder = store.root / "data" / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dv}.parquet").write_bytes(payload)  # status checks its size
        store.catalog.record(
            Materialization(
                key=key,
                env=env,
                data_version=dv,
                code_version=cv,
                path=f"data/{key}/{dv}.parquet",
                io="parquet",
                kind="pandas",
                bytes=100,
                started_at=stamp,
                finished_at=stamp,
                inputs=inputs,
                rows=100,
                schema={"a": "int64", "b": "float64"},
                user="bench",
                source=f"notebooks/n.ipynb#{key}",
            )
        )
        deps[key] = ups
        code_versions[key] = cv if rng.random() >= 0.01 else "changed"
    return code_versions, deps
