"""Scenario ``history``: status and the catalog's ``heads()`` stay flat in history length.

Two sandbox catalogs side by side in one process: 10,000 assets with one version each, and
the same 10,000 assets with 20 versions each (200,000 records, recorded round by round as
rebuilds would be; the latest versions alike in both, each with its 100-byte file). Timed,
the two catalogs alternately, medians after a warmup: status (``env_model`` over a fresh
``Workspace``, as in scenario ``status``; 10 runs) and ``heads()`` alone of an open
catalog (30 runs, each after a full collection).
Target: 20 versions within 20 % of one version (ratio <= 1.20), for both.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from .benchlib import Context, Result, median, ms, temporary_project

ENVS = {1: "dev-bench-history-1", 20: "dev-bench-history-20"}  # versions per asset -> env
TARGET_RATIO = 1.20


def run(ctx: Context) -> list[Result]:
    from nbassets.codebase import Code
    from nbassets.config import Project
    from nbassets.environments import store_path
    from nbassets.model import env_model
    from nbassets.store.sqlite_catalog import SqliteCatalog
    from nbassets.store.workspace import Workspace

    n = ctx.size("n_assets", 10_000, 1_000)
    deep = ctx.size("versions_per_asset", 20, 20)
    runs = ctx.size("runs", 10, 3)
    depths = (1, deep)
    with temporary_project("nbassets-bench-history-") as root:
        code_versions, deps = {}, {}
        fills = {}
        for depth in depths:
            ctx.progress(f"a catalog of {n:,} assets x {depth} version{'s' * (depth > 1)}")
            start = time.perf_counter()
            code_versions, deps = fill(root, ENVS[depth], n, depth)
            fills[depth] = time.perf_counter() - start
        code = Code("bench", code_versions=dict(code_versions), deps=deps)
        project = Project.find(root)
        catalogs = {
            d: SqliteCatalog(store_path(project, ENVS[d]) / "catalog.sqlite", writable=False)
            for d in depths
        }
        status: dict[int, list[float]] = {d: [] for d in depths}
        heads: dict[int, list[float]] = {d: [] for d in depths}
        counts: dict[int, dict[str, int]] = {}
        found: dict[int, int] = {}
        ctx.progress(f"timing, {runs} runs")
        for i in range(runs + 1):  # the first run is a warmup
            for depth in depths if i % 2 else depths[::-1]:  # alternate which goes first
                start = time.perf_counter()
                workspace = Workspace(project, ENVS[depth])
                try:
                    rows = env_model(workspace, code).rows
                finally:
                    workspace.close()
                if i:
                    status[depth].append(time.perf_counter() - start)
                counts[depth] = _counts(rows)
        for i in range(3 * runs + 1):  # heads() alone: cheaper, so more runs against the noise
            for depth in depths if i % 2 else depths[::-1]:
                gc.collect()
                start = time.perf_counter()
                found[depth] = len(catalogs[depth].heads())
                if i:
                    heads[depth].append(time.perf_counter() - start)
        for catalog in catalogs.values():
            catalog.close()
    return [
        *_pair(f"status of {n:,} assets", status, depths, n, "env_model"),
        *_pair(f"catalog heads() of {n:,} assets", heads, depths, n, "SqliteCatalog"),
        Result(
            "the same statuses and heads at both depths",
            float(counts[1] == counts[deep] and found[1] == found[deep] == n),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note=", ".join(f"{k} {v}" for k, v in sorted(counts[deep].items()))
            + f"; {found[deep]:,} heads",
        ),
        Result(
            f"fill the catalogs ({n:,} and {n * deep:,} records)",
            ms(sum(fills.values())),
            "ms",
            note="not timed above",
        ),
    ]


def _pair(
    name: str, times: dict[int, list[float]], depths: tuple[int, int], n: int, how: str
) -> list[Result]:
    one, deep = (median(times[d]) for d in depths)
    return [
        Result(f"{name}, 1 version each ({how}), median", ms(one), "ms", note=f"n={len(times[1])}"),
        Result(
            f"{name}, {depths[1]} versions each ({n * depths[1]:,} records), median",
            ms(deep),
            "ms",
            note=f"n={len(times[depths[1]])}",
        ),
        Result(
            f"{name}: {depths[1]} versions / 1 version",
            deep / one,
            "x",
            target=TARGET_RATIO,
            op="<=",
            note="flat in history length",
        ),
    ]


def _counts(rows: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def fill(
    root: Path, env: str, n: int, depth: int
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Record ``depth`` rounds of builds of ``n`` assets (a random DAG, the same for every
    ``depth``) in ``env``'s catalog, in one transaction; the last round's files exist.

    The rows are inserted by plain SQL (200,000 ``record`` calls would take minutes); the
    catalog itself was created by nbassets, so its triggers and indexes are the real ones.
    Return the code versions of the last round, ~1 % changed, and the deps.
    """
    from nbassets.config import Project
    from nbassets.environments import store_path
    from nbassets.store.stores import Store, now

    rng = np.random.default_rng(7)
    store = Store(env, store_path(Project.find(root), env), writable=True)
    store.catalog.ready()  # creates the catalog at the latest schema
    store.close()
    deps: dict[str, tuple[str, ...]] = {}
    for i in range(n):
        count = int(rng.integers(1, 4))
        ups = () if i == 0 else tuple(sorted({f"a{j:05d}" for j in rng.integers(0, i, count)}))
        deps[f"a{i:05d}"] = ups
    changed = rng.random(n) < 0.01
    stamp = now()
    schema = json.dumps({"a": "int64", "b": "float64"})
    rows = []
    seq = 0
    for round_ in range(depth - 1, -1, -1):  # round 0 is the last: alike at every depth
        data_versions = [f"{round_:016x}{i:016x}" for i in range(n)]
        for i in range(n):
            key, dv = f"a{i:05d}", data_versions[i]
            inputs = {up: {"data_version": data_versions[int(up[1:])], "env": env}
                      for up in deps[key]}  # fmt: skip
            seq += 1
            rows.append((key, env, dv, f"{round_}-{i:016x}", json.dumps(inputs, sort_keys=True),
                         100, schema, 100, f"data/{key}/{dv}.parquet", stamp, stamp,
                         f"notebooks/n.ipynb#{key}", seq))  # fmt: skip
    with closing(sqlite3.connect(store.root / "catalog.sqlite")) as conn:
        conn.executemany(
            "INSERT INTO materializations (key, env, data_version, code_version, inputs, rows, "
            "schema, bytes, path, io, kind, user, started_at, finished_at, source, seq) "
            "VALUES (?,?,?,?,?,?,?,?,?,'parquet','pandas','bench',?,?,?,?)",
            rows,
        )
        conn.commit()
    payload = bytes(100)
    for key, *_ in rows[-n:]:
        folder = store.root / "data" / key
        folder.mkdir(parents=True, exist_ok=True)
    for row in rows[-n:]:
        (store.root / row[8]).write_bytes(payload)  # status checks its size
    code_versions = {f"a{i:05d}": "changed" if changed[i] else f"0-{i:016x}" for i in range(n)}
    return code_versions, deps
