"""Scenario ``backfill``: what one partition of a backfill costs beside one unpartitioned asset.

One exported module (written by hand, as ``nbassets export`` would) holds a daily-partitioned
asset ``events`` and ``N`` unpartitioned assets ``plain_0 .. plain_{N-1}``, each returning the
same 24-row frame (so only the bookkeeping differs). In one process, alternately, timed with
``materialize(project, env, ...)`` into fresh sandbox envs:

(1) ``--select 'events[FIRST..LAST]'``: a backfill of N days (resolving inputs, the fresh
    check per partition, the partition folder, the record with its partition);
(2) ``--select plain_0 ... plain_{N-1}``: N unpartitioned assets.

Figures are per step (total / N, loading the package included), the median of the runs; the
ratio backfill / unpartitioned is the per-partition overhead. Then a re-run of the same
backfill, where every partition is fresh (what a resumed backfill pays for the partitions it
skips), and, on machines with two cores or more, the backfill with ``-j 2`` worker processes.
Correctness: each env's catalog holds N records of the expected keys.
"""

from __future__ import annotations

import os
import sqlite3
import textwrap
from contextlib import closing
from pathlib import Path

from .benchlib import Context, Result, environ, median, ms, temporary_project, timed

NOW = "2030-01-01T00:00:00"
FIRST_DAY = "2020-01-01"
PYPROJECT = '[tool.nbassets]\nprod = "warehouse"\n'
TARGET_RATIO = 2.0  # a partition costs at most twice an unpartitioned asset


def module_text(n: int) -> str:
    plain = "\n".join(f"ExportedAsset('plain_{i}', plain, code_version='p1')," for i in range(n))
    return textwrap.dedent(
        """
        import numpy as np
        import pandas as pd

        from nbassets.runtime import ExportedAsset

        FRAME = pd.DataFrame({"id": range(24), "value": [float(i) for i in range(24)]})


        def events(partition):
            return FRAME.assign(day=str(partition))


        def plain():
            return FRAME.assign(day="all")


        def heavy(partition):  # about 0.1 s of CPU per partition
            rng = np.random.default_rng(int(str(partition).replace("-", "")))
            return FRAME.assign(day=str(partition), x=float(np.sort(rng.random(1_500_000))[7]))


        ASSETS = (
            ExportedAsset("events", events, code_version="e1", partitions="daily:%s"),
            ExportedAsset("heavy", heavy, code_version="h1", partitions="daily:%s"),
        %s
        )
        """
    ) % (FIRST_DAY, FIRST_DAY, textwrap.indent(plain, "    "))


def run(ctx: Context) -> list[Result]:
    from nbassets.config import Project
    from nbassets.partitions import parse_definition
    from nbassets.pipeline import materialize

    n = ctx.size("partitions", 365, 30)
    runs = ctx.size("runs", 3, 1)
    days = parse_definition(f"daily:{FIRST_DAY}").keys()[:n]
    backfill = [f"events[{days[0]}..{days[-1]}]"]
    plain = [f"plain_{i}" for i in range(n)]
    with (
        temporary_project("nbassets-bench-backfill-", PYPROJECT) as root,
        environ("NBASSETS_NOW", NOW),
    ):
        package = root / "pipelines"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "shop.py").write_text(module_text(n))

        def build(env: str, selection: list[str], jobs: int = 1) -> float:
            seconds, report = timed(
                lambda: materialize(Project.find(root), env, selection, jobs=jobs)
            )
            assert report.ok, report.failed
            return seconds

        ctx.progress(f"warmup, then {runs} runs of {n} partitions and of {n} plain assets")
        build("ci-warmup-plain", plain[:5])
        build("ci-warmup-events", [f"events[{days[0]}..{days[4]}]"])
        partitioned, unpartitioned = [], []
        for i in range(runs):
            partitioned.append(build(f"ci-events-{i}", backfill))
            unpartitioned.append(build(f"ci-plain-{i}", plain))
        fresh_s = build("ci-events-0", backfill)  # every partition fresh now: all skipped
        per_partition = ms(median(partitioned)) / n
        per_asset = ms(median(unpartitioned)) / n
        spread = {
            name: f"median of {runs}; " + ", ".join(f"{ms(t) / n:.2f}" for t in times)
            for name, times in (("events", partitioned), ("plain", unpartitioned))
        }
        results = [
            Result(f"backfill of {n} daily partitions, per partition", per_partition, "ms",
                   note=spread["events"]),
            Result(f"materialize of {n} unpartitioned assets, per asset", per_asset, "ms",
                   note=spread["plain"]),
            Result("ratio partition / unpartitioned asset", per_partition / per_asset, "x",
                   target=TARGET_RATIO),
            Result(f"re-run of the backfill, {n} partitions fresh, per partition",
                   ms(fresh_s) / n, "ms", note="nothing rebuilt: the resume check alone"),
        ]  # fmt: skip
        if (os.cpu_count() or 1) >= 2 and not ctx.quick:
            m = ctx.size("heavy_partitions", 60, 0)
            ctx.progress(f"{m} partitions of 0.1 s each, with -j 1 and -j 2")
            heavy = [f"heavy[{days[0]}..{days[m - 1]}]"]
            one_s = build("ci-heavy-j1", heavy)
            two_s = build("ci-heavy-j2", heavy, jobs=2)
            small_s = build("ci-events-j2", backfill, jobs=2)
            results += [
                Result(f"backfill of {m} partitions of ~0.1 s, -j 1, per partition",
                       ms(one_s) / m, "ms"),
                Result(f"backfill of {m} partitions of ~0.1 s, -j 2, per partition",
                       ms(two_s) / m, "ms", note="2 spawned workers, their start included"),
                Result("speedup of -j 2 on partitions of ~0.1 s", one_s / two_s, "x",
                       target=1.2, op=">="),
                Result(f"backfill of {n} tiny partitions with -j 2, per partition",
                       ms(small_s) / n, "ms",
                       note="workers cost more than such partitions: use -j for real work"),
            ]  # fmt: skip
        results += correctness(root, n, runs)
    return results


def correctness(root: Path, n: int, runs: int) -> list[Result]:
    """Each timed env holds exactly N records of the keys it built."""
    wrong = []
    for i in range(runs):
        for env, keys in ((f"ci-events-{i}", {"events"}), (f"ci-plain-{i}", None)):
            catalog = root / ".nbassets" / env / "catalog.sqlite"
            with closing(sqlite3.connect(catalog)) as conn:
                rows = conn.execute("SELECT key, partition FROM materializations").fetchall()
            found = {key for key, _ in rows}
            if len(rows) != n or (keys is not None and found != keys):
                wrong.append(f"{env}: {len(rows)} records of {sorted(found)[:3]}")
    return [
        Result("every timed env holds N records", float(not wrong), "ok", target=1.0, op="==",
               check=True, note="; ".join(wrong))
    ]  # fmt: skip
