"""Scenario ``plan``: the plan and the status of 10 daily assets of 3,650 partitions each.

A sandbox catalog holds 36,500 partition records (ten years of days for each of 10 assets, a
chain ``p0 <- p1 <- ... <- p9``, each day reading the same day upstream), inserted by plain SQL
in one transaction (the catalog itself, its triggers and indexes, made by nbassets); each
record's inputs are the combined versions a build records. The plan has work to find: ``p4``'s
code changed (every partition, and everything downstream), 30 days of ``p2`` were rebuilt with
other data (30 days of ``p3`` read old data), and ``p9``'s last 10 days were never built.
Timed, medians after a warmup: the deploy plan (``model.deploy_plan``, as ``nbassets plan``
without the printing) and the status (``model.env_model``, every partition's file checked),
each over a fresh ``Workspace``, and the catalog read both start with (every partition's
latest record). Target: plan < 1 s (issue 13).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from .benchlib import Context, Result, median, ms, temporary_project

ENV = "dev-bench-plan"
START = "2014-01-01"
PLAN_TARGET_MS = 1000.0


def run(ctx: Context) -> list[Result]:
    from datetime import date, timedelta

    from nbassets.codebase import Code
    from nbassets.config import Project
    from nbassets.model import deploy_plan, env_model
    from nbassets.partitions import parse_definition
    from nbassets.store.workspace import Workspace

    n_assets = ctx.size("assets", 10, 10)
    days = ctx.size("partitions_per_asset", 3650, 365)
    runs = ctx.size("runs", 5, 2)
    now = date.fromisoformat(START) + timedelta(days=days)
    os.environ["NBASSETS_NOW"] = f"{now.isoformat()}T00:00:00"
    definition = parse_definition(f"daily:{START}")
    with temporary_project("nbassets-bench-plan-") as root:
        ctx.progress(f"a catalog of {n_assets} assets x {days:,} daily partitions")
        start = time.perf_counter()
        keys = fill(root, n_assets, definition.keys())
        fill_s = time.perf_counter() - start
        code = Code(
            "bench",
            code_versions={k: "changed" if k == "p4" else f"c-{k}" for k in keys},
            deps={k: (keys[i - 1],) if i else () for i, k in enumerate(keys)},
            partitions=dict.fromkeys(keys, definition),
        )
        project = Project.find(root)
        plans: list[float] = []
        statuses: list[float] = []
        reads: list[float] = []
        plan: Any = None
        rows: list[Any] = []
        ctx.progress(f"timing, {runs} runs")
        for i in range(runs + 1):  # the first run is a warmup
            start = time.perf_counter()
            with closing(Workspace(project, ENV)) as workspace:
                plan = deploy_plan(project, workspace, code, workspace.other_env("dev-none")).plan
            middle = time.perf_counter()
            with closing(Workspace(project, ENV)) as workspace:
                rows = env_model(workspace, code).rows
            end = time.perf_counter()
            with closing(Workspace(project, ENV)) as workspace:
                workspace.current_partitions(keys)
            if i:
                plans.append(middle - start)
                statuses.append(end - middle)
                reads.append(time.perf_counter() - end)
    ranges = {p.key: [str(r) for r in p.ranges] for p in plan.partitions}
    last = definition.keys()[-1]
    expected = {
        "p3": [f"{_day(days - 40)}..{_day(days - 11)}: upstream 'p2' changed"],
        "p4": [f"{START}..{last}: code changed"],
        **{
            f"p{i}": [f"{START}..{last}: upstream 'p{i - 1}' is rebuilt"]
            for i in range(5, n_assets - 1)
        },
        f"p{n_assets - 1}": [
            f"{START}..{_day(days - 11)}: upstream 'p{n_assets - 2}' is rebuilt",
            f"{_day(days - 10)}..{last}: missing",
        ],
    }
    labels = {row.key: row.label for row in rows}
    records = n_assets * days - 10
    return [
        Result(
            f"plan of {n_assets} assets x {days:,} daily partitions (deploy_plan), median",
            ms(median(plans)),
            "ms",
            target=PLAN_TARGET_MS,
            op="<",
            note=f"{records:,} partition records; n={runs}",
        ),
        Result(
            "status of the same (env_model, every partition's file checked), median",
            ms(median(statuses)),
            "ms",
            note=f"n={runs}; p3: {labels.get('p3')}",
        ),
        Result(
            "of which reading every partition's latest record (Workspace.current_partitions)",
            ms(median(reads)),
            "ms",
            note=f"n={runs}; the catalog's part of both figures above",
        ),
        Result(
            "the plan finds exactly the partitions changed",
            float(ranges == expected),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note=json.dumps(ranges)[:200] if ranges != expected else "p3 30 days, p4.. all",
        ),
        Result(f"fill a catalog with {records:,} records", ms(fill_s), "ms", note="not timed"),
    ]


def _day(offset: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(START) + timedelta(days=offset)).isoformat()


def fill(root: Path, n_assets: int, partitions: list[str]) -> list[str]:
    """Record every partition of ``n_assets`` chained daily assets (see the module docstring)
    with plain SQL, and write each version's 100-byte file; return the keys."""
    from nbassets.config import Project
    from nbassets.environments import store_path
    from nbassets.partitions import combined_version
    from nbassets.store.stores import Store, now

    store = Store(ENV, store_path(Project.find(root), ENV), writable=True)
    store.catalog.ready()  # creates the catalog at the latest schema
    store.close()
    keys = [f"p{i}" for i in range(n_assets)]
    stamp = now()
    schema = json.dumps({"day": "object", "n": "int64"})
    changed = set(partitions[-40:-10])  # p2's days rebuilt with other data
    rows: list[tuple[Any, ...]] = []
    seq = 0
    previous: dict[str, str] = {}
    for index, key in enumerate(keys):
        versions: dict[str, str] = {}
        read_text: dict[str, str] = {}
        for number, partition in enumerate(partitions):
            if key == keys[-1] and number >= len(partitions) - 10:
                continue  # never built
            dv = f"{index:08x}{number:024x}"
            versions[partition] = dv
            inputs = {}
            if index:
                read = combined_version({partition: previous[partition]}).version
                inputs = {keys[index - 1]: {"data_version": read, "env": ENV, "partitions": "1"}}
            seq += 1
            read_text[partition] = json.dumps(inputs)
            rows.append((key, partition, dv, f"c-{key}", read_text[partition], seq))
        if key == "p2":  # rebuilt later with other data: p3 read the older versions
            for partition in sorted(changed):
                dv = f"{index:08x}{'f' * 8}{partition.replace('-', ''):0>16}"
                seq += 1
                rows.append((key, partition, dv, f"c-{key}", read_text[partition], seq))
        previous = versions
    with closing(sqlite3.connect(store.root / "catalog.sqlite")) as conn:
        conn.executemany(
            "INSERT INTO materializations (key, partition, data_version, code_version, inputs, "
            "env, rows, schema, bytes, path, io, kind, user, started_at, finished_at, source, seq) "
            f"VALUES (?1,?2,?3,?4,?5,'{ENV}',1,'{schema}',100,'data/'||?1||'/'||?2||'/'||?3||"
            f"'.parquet','parquet','pandas','bench','{stamp}','{stamp}','bench:'||?1,?6)",
            rows,
        )
        conn.commit()
    payload = bytes(100)
    for key, partition, dv, *_ in rows:
        folder = store.root / "data" / key / partition
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dv}.parquet").write_bytes(payload)  # status checks its size
    return keys
