"""Scenario ``asset``: what ``%%asset`` adds to a cell, and what a peer pays per asset.

In an IPython ``InteractiveShell`` with ``%load_ext nbassets``, in a temporary project
(no git repository, ``NBASSETS_USER=bench``), on a 100-row DataFrame ``base``:

(a) ``run_cell("x = base.assign(y=base.a * step)")``;
(b) the same expression as ``%%asset small --no-preview``: a full build into the dev
    sandbox (Parquet file, xxh3, fsync of file and folder, rename, SQLite record);
(c) the same cell under a do-nothing cell magic ``%%bare`` (IPython's own magic cost).

``step`` changes before each round, so every build stores a new version. After a warmup,
(a), (b) and (c) alternate; the overhead is the median of the paired differences (b) - (a).
Target: <= 2 ms. Correctness: the sandbox holds one record per build.

Peers, per asset, beside (b): Dagster ``materialize([asset])`` with its in-memory IO
manager, and with a persistent instance (``DagsterInstance.local_temp``: SQLite event log)
and ``FilesystemIOManager``; Hamilton's driver built and executed, and executed again.
Dagster's console logger is set to ERROR (its event log is still written), which only makes
Dagster faster. A peer that is not installed is skipped. ``--profile`` adds a cProfile of
300 ``%%asset`` builds.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .benchlib import (
    QUIET,
    Context,
    Result,
    catalog_counts,
    dagster_instance,
    failure,
    make_shell,
    median,
    ms,
    p90,
    peer,
    quiet_warnings,
    run_ok,
    skipped,
    temporary_project,
    time_calls,
)

BODY = "base.assign(y=base.a * step)"  # step changes: each build stores a new version
CELLS = {"a": f"x = {BODY}", "b": f"%%asset small --no-preview\n{BODY}", "c": f"%%bare\n{BODY}"}


def run(ctx: Context) -> list[Result]:
    reps = ctx.size("cell_reps", 200, 40)
    warmup = ctx.size("cell_warmup", 30, 5)
    ctx.progress(f"%%asset overhead, {reps} rounds of 3 cells")
    times, records, envs = cell_times(reps, warmup)
    overhead = [b - a for a, b in zip(times["a"], times["b"], strict=True)]
    beyond_magic = [b - c for b, c in zip(times["b"], times["c"], strict=True)]
    n = f"n={reps} after {warmup} warmup"
    asset_ms = ms(median(times["b"]))
    results = [
        Result(
            "(a) run_cell plain code, median",
            ms(median(times["a"])),
            "ms",
            note=f"p90 {ms(p90(times['a'])):.3f} ms, {n}",
        ),
        Result(
            "(b) run_cell %%asset --no-preview, median",
            asset_ms,
            "ms",
            note=f"p90 {ms(p90(times['b'])):.3f} ms; 100-row frame, new version each run",
        ),
        Result(
            "(c) run_cell bare cell magic, median",
            ms(median(times["c"])),
            "ms",
            note=f"p90 {ms(p90(times['c'])):.3f} ms",
        ),
        Result(
            "%%asset overhead (b)-(a), median of pairs",
            ms(median(overhead)),
            "ms",
            target=2.0,
            note=f"p90 {ms(p90(overhead)):.3f} ms; median(b) - median(a) = "
            f"{ms(median(times['b']) - median(times['a'])):.3f} ms",
        ),
        Result(
            "(b)-(c): nbassets work beyond magic dispatch",
            ms(median(beyond_magic)),
            "ms",
            note="includes evaluating the body once",
        ),
        Result(
            "%%asset: records in the sandbox catalog",
            records,
            "records",
            target=warmup + reps,
            op="==",
            check=True,
            note=f"one per build (new version each run); env {envs}",
        ),
    ]
    base = small_frame()
    ctx.progress("peers: dagster")
    results += dagster_peers(ctx, base, asset_ms)
    ctx.progress("peers: hamilton")
    results += hamilton_peers(ctx, base, asset_ms)
    if ctx.profile:
        ctx.profiles.append("cProfile of 300 %%asset builds:\n" + profile_builds())
    return results


def small_frame(rows: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "a": np.arange(rows, dtype=np.int64),
            "b": rng.random(rows),
            "c": [f"name_{i % 7}" for i in range(rows)],
            "d": rng.random(rows) < 0.5,
            "e": pd.date_range("2024-01-01", periods=rows, freq="h"),
        }
    )


def shell_in(root: Path) -> Any:
    """The benchmark's shell: ``base``, ``step`` and a do-nothing ``%%bare`` magic."""
    shell = make_shell(root / ".ipython", {"base": small_frame(), "step": 0})

    def bare(line: str, cell: str) -> None:
        return None

    shell.register_magic_function(bare, magic_kind="cell", magic_name="bare")
    return shell


def cell_times(reps: int, warmup: int) -> tuple[dict[str, list[float]], int, str]:
    """Seconds of each cell per round; records in the sandbox catalogs, and their envs."""
    times: dict[str, list[float]] = {name: [] for name in CELLS}
    with temporary_project("nbassets-bench-cell-") as root:
        shell = shell_in(root)
        try:
            for step in range(warmup):
                shell.user_ns["step"] = -1 - step
                for code in CELLS.values():
                    run_ok(shell, code)
            for step in range(reps):
                shell.user_ns["step"] = step  # new data: the full write path, fsyncs included
                for name, code in CELLS.items():
                    start = time.perf_counter()
                    result = shell.run_cell(code)
                    times[name].append(time.perf_counter() - start)
                    if not result.success:
                        result.raise_error()
        finally:
            shell.run_cell("%unload_ext nbassets")
        catalogs = sorted((root / ".nbassets").glob("*/catalog.sqlite"))
        records = sum(catalog_counts(catalog)[1] for catalog in catalogs)
        envs = ", ".join(catalog.parent.name for catalog in catalogs) or "none"
    return times, records, envs


def profile_builds(reps: int = 300, top: int = 25) -> str:
    """cProfile of ``reps`` %%asset builds: the top entries by cumulative and own time."""
    with temporary_project("nbassets-bench-prof-") as root:
        shell = shell_in(root)
        try:
            for step in range(20):
                shell.user_ns["step"] = -1 - step
                run_ok(shell, CELLS["b"])
            profiler = cProfile.Profile()
            profiler.enable()
            for step in range(reps):
                shell.user_ns["step"] = step
                shell.run_cell(CELLS["b"])
            profiler.disable()
        finally:
            shell.run_cell("%unload_ext nbassets")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def peer_result(name: str, times: list[float], asset_ms: float, note: str) -> Result:
    value = ms(median(times))
    digits = 1 if value >= asset_ms else 2
    return Result(
        name,
        value,
        "ms",
        note=f"{value / asset_ms:.{digits}f}x nbassets (b); p90 {ms(p90(times)):.2f} ms; "
        f"n={len(times)}; {note}",
        data={"ratio_vs_nbassets": value / asset_ms},
    )


def dagster_peers(ctx: Context, base: pd.DataFrame, asset_ms: float) -> list[Result]:
    names = ("peer: dagster materialize, in-memory IO", "peer: dagster persistent + FS IO")
    dg, why = peer("dagster", ctx)
    if dg is None:
        return skipped(names, "ms", why)
    reps = ctx.size("dagster_reps", 15, 3)

    def small():  # no annotation: dagster would check the output type
        return base.assign(y=base.a * 2)

    asset = dg.asset(name="small")(small)
    results = []
    try:
        with quiet_warnings():
            times = time_calls(lambda: ok(dg.materialize([asset], run_config=QUIET)), reps, 2)
        results.append(peer_result(names[0], times, asset_ms, "ephemeral instance, no file"))
        with dagster_instance(dg) as (instance, tmp), quiet_warnings():
            resources = {"io_manager": dg.FilesystemIOManager(base_dir=str(tmp / "io"))}
            times = time_calls(
                lambda: ok(
                    dg.materialize(
                        [asset], instance=instance, resources=resources, run_config=QUIET
                    )
                ),
                reps,
                2,
            )
        results.append(peer_result(names[1], times, asset_ms, "SQLite event log, pickle file"))
    except Exception as exc:
        results += skipped(names[len(results) :], "ms", failure(exc))
    return results


def ok(result: Any) -> None:
    if not result.success:
        raise RuntimeError("the dagster run did not succeed")


def hamilton_peers(ctx: Context, base: pd.DataFrame, asset_ms: float) -> list[Result]:
    names = ("peer: hamilton build driver + execute", "peer: hamilton execute, driver reused")
    hamilton, why = peer("hamilton", ctx)
    if hamilton is None:
        return skipped(names, "ms", why)
    from hamilton import ad_hoc_utils, driver

    reps = ctx.size("hamilton_reps", 200, 30)

    def small() -> pd.DataFrame:
        return base.assign(y=base.a * 2)

    module_name = f"nbassets_bench_hamilton_{os.getpid()}"
    try:
        module = ad_hoc_utils.create_temporary_module(small, module_name=module_name)
        with quiet_warnings():
            built = time_calls(
                lambda: driver.Builder().with_modules(module).build().execute(["small"]), reps, 10
            )
            dr = driver.Builder().with_modules(module).build()
            reused = time_calls(lambda: dr.execute(["small"]), reps, 10)
    except Exception as exc:
        return skipped(names, "ms", failure(exc))
    finally:
        sys.modules.pop(module_name, None)
    note = "in memory, nothing stored"
    return [
        peer_result(name, t, asset_ms, note) for name, t in zip(names, (built, reused), strict=True)
    ]
