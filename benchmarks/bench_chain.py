"""Scenario ``chain``: ``nbassets materialize`` of a 500-asset chain, and Dagster on the same chain.

An exported notebook whose 500 asset cells form a chain (``a000`` is a 100-row frame,
``aNNN = aPPP.assign(v=aPPP.v + 1)``) is built with ``materialize(Project.find(tmp),
"ci-bench", progress=False)``. Each asset is a full build: Parquet file, xxh3, fsync of
file and folder, SQLite record, and its input read back from the store. After a warmup
build of ``+a004`` into another env, the whole chain is timed once (loading the package
included); the figure is total / 500. Two more builds into fresh envs show the spread,
and a third, under cProfile, how much of it is fsync. The disk's durable-write floor is
measured just before and just after the timed run, to tell a slow disk (other processes'
I/O) from slow code.

Peers, the same chain (``@dg.asset`` with ``ins={"up": AssetIn(previous)}``), each run once
after a 5-asset warmup: Dagster ``materialize(assets)`` with its in-memory IO manager, and
with a persistent instance (``DagsterInstance.local_temp``: SQLite run and event storage)
and ``FilesystemIOManager`` (pickle files, not fsynced). Dagster's console logger is set to
ERROR. Target: Dagster persistent per asset / nbassets per asset >= 20, for the one
``ci-bench`` run (the note gives the ratio against the median of the 3 runs).

Correctness: ``ci-bench``'s catalog holds 500 records of 500 distinct keys;
``nbassets.load("a499", env="ci-bench")`` equals the expected frame (``id`` 0..99, ``v`` =
499, both int64); Dagster's last output is checked the same way. ``--profile`` prints the
cProfile of the chain.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import pandas as pd

from .benchlib import (
    CHAIN_ROWS,
    QUIET,
    Context,
    Result,
    catalog_counts,
    chain_key,
    dagster_instance,
    durable_write_floor,
    env_catalog,
    export_chain,
    failure,
    floor_result,
    matching_rows,
    median,
    ms,
    peer,
    profile_call,
    quiet_warnings,
    skipped,
    temporary_project,
    timed,
)

SPEEDUP_TARGET = 20.0


def run(ctx: Context) -> list[Result]:
    n = ctx.size("chain", 500, 50)
    extra_runs = ctx.size("extra_chain_runs", 2, 1)
    ctx.progress(f"materialize of a {n}-asset chain, {1 + extra_runs} runs and one profiled")
    results, per_asset, median_ms = nbassets_chain(ctx, n, extra_runs)
    dagster_n = ctx.size("dagster_chain", 500, 20)
    ctx.progress(f"peers: dagster, {dagster_n}-asset chain (the slow part)")
    return results + dagster_peers(ctx, dagster_n, per_asset, median_ms)


def nbassets_chain(ctx: Context, n: int, extra_runs: int) -> tuple[list[Result], float, float]:
    """The timed builds and their correctness; per asset ms of the ci-bench run and median."""
    from nbassets import load
    from nbassets.config import Project
    from nbassets.pipeline import materialize

    with temporary_project("nbassets-bench-chain-") as root:
        export_s = export_chain(root, n)

        def build(env: str, selection: tuple[str, ...] = ("*",)) -> Any:
            return materialize(Project.find(root), env, selection, progress=False)

        warm = build("ci-warmup", (f"+{chain_key(4)}",))
        assert warm.built == [chain_key(i) for i in range(5)], warm.built
        floor_before = durable_write_floor(root / "floor-before")
        total_s, report = timed(lambda: build("ci-bench"))
        floor_after = durable_write_floor(root / "floor-after")
        extra = [
            timed(functools.partial(build, f"ci-bench-{run + 2}"))[0] for run in range(extra_runs)
        ]
        start = time.perf_counter()
        profile, own = profile_call(lambda: build("ci-profile"))
        profiled_s = time.perf_counter() - start
        keys, records, _, _ = catalog_counts(env_catalog(root, "ci-bench"))
        last_rows = matching_rows(
            load(chain_key(n - 1), env="ci-bench", project=Project.find(root)), n
        )
    if ctx.profile:
        ctx.profiles.append(f"cProfile of materialize of the {n}-asset chain:\n{profile}")

    per_asset = ms(total_s) / n
    spread = ", ".join(f"{ms(t) / n:.2f}" for t in extra)
    results = [
        Result(
            f"nbassets materialize, {n}-asset chain, per asset",
            per_asset,
            "ms",
            note=f"total {total_s:.2f} s, one run; {len(report.built)} built, "
            f"{len(report.failed)} failed; runs into fresh envs: {spread} ms per asset; "
            f"{CHAIN_ROWS}-row frames, Parquet + fsync + SQLite record each; export of the "
            f"notebook {ms(export_s):.0f} ms, not included",
            data={"total_s": total_s, "extra_runs_s": extra},
        ),
        Result(
            "  of which: fsync, in a profiled run",
            ms(own["fsync"]) / n,
            "ms",
            note=f"2 fsyncs per asset (file, folder); that run took {ms(profiled_s) / n:.2f} ms "
            f"per asset under cProfile, mkdir {ms(own['mkdir']) / n:.2f} ms per asset",
            data={"profiled_s": profiled_s, "own_s": own},
        ),
        floor_result(floor_before, floor_after),
        Result(
            f"ci-bench catalog: one record for each of the {n} keys",
            float(keys == n and records == n),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note=f"{keys} distinct keys, {records} records",
        ),
        Result(
            f"load('{chain_key(n - 1)}', env='ci-bench'): rows as expected",
            last_rows,
            "rows",
            target=CHAIN_ROWS,
            op="==",
            check=True,
            note=f"id 0..{CHAIN_ROWS - 1}, v == {n - 1}, both int64",
        ),
    ]
    return results, per_asset, median([ms(t) / n for t in [total_s, *extra]])


def dagster_chain(dg: Any, n: int) -> list[Any]:
    """The same chain as Dagster assets: ``aNNN`` takes ``aPPP`` as its input ``up``."""

    def first():  # no annotation: dagster would check the output type
        return pd.DataFrame(
            {"id": np.arange(CHAIN_ROWS), "v": np.zeros(CHAIN_ROWS, dtype=np.int64)}
        )

    def step(up):
        return up.assign(v=up.v + 1)

    assets = [dg.asset(name=chain_key(0))(first)]
    for i in range(1, n):
        ins = {"up": dg.AssetIn(chain_key(i - 1))}
        assets.append(dg.asset(name=chain_key(i), ins=ins)(step))
    return assets


def dagster_peers(ctx: Context, n: int, nbassets_ms: float, median_ms: float) -> list[Result]:
    names = (
        f"peer: dagster in-memory IO, {n}-asset chain, per asset",
        f"peer: dagster persistent + FS IO, {n}-asset chain, per asset",
    )
    speedup = "speed-up vs dagster persistent + FS IO"
    dg, why = peer("dagster", ctx)
    if dg is None:
        return [*skipped(names, "ms", why), Result(speedup, None, "x", skipped=why)]
    results: list[Result] = []
    ratios: dict[str, float] = {}

    def measure(name: str, how: str, **kwargs: Any) -> None:
        with quiet_warnings():
            warm = dg.materialize(dagster_chain(dg, 5), run_config=QUIET, **kwargs)
            assert warm.success
            assets = dagster_chain(dg, n)
            elapsed, result = timed(lambda: dg.materialize(assets, run_config=QUIET, **kwargs))
            assert result.success
            rows = matching_rows(result.output_for_node(chain_key(n - 1)), n)
        per_asset = ms(elapsed) / n
        ratios[name] = per_asset / nbassets_ms
        results.append(
            Result(
                name,
                per_asset,
                "ms",
                note=f"{ratios[name]:.1f}x nbassets per asset; total {elapsed:.1f} s, one run; "
                f"{how}",
                data={"total_s": elapsed, "ratio_vs_nbassets": ratios[name]},
            )
        )
        results.append(
            Result(
                f"peer: dagster {'persistent' if kwargs else 'in-memory'}: last output as expected",
                rows,
                "rows",
                target=CHAIN_ROWS,
                op="==",
                check=True,
            )
        )

    try:
        measure(names[0], "ephemeral instance, values in memory, nothing stored")
        with dagster_instance(dg) as (instance, tmp):
            io_manager = dg.FilesystemIOManager(base_dir=str(tmp / "io"))
            measure(
                names[1],
                "DagsterInstance.local_temp (SQLite event log), pickle files, no fsync",
                instance=instance,
                resources={"io_manager": io_manager},
            )
    except Exception as exc:
        done = {r.name for r in results}
        results += skipped(tuple(name for name in names if name not in done), "ms", failure(exc))
    ratio = ratios.get(names[1])
    note = "dagster persistent per asset / nbassets per asset (the ci-bench run)"
    if ratio is not None:
        note += f"; {ratio * nbassets_ms / median_ms:.1f}x against the median nbassets run"
    if names[0] in ratios:
        note += f"; in-memory dagster / nbassets {ratios[names[0]]:.1f}x"
    results.append(
        Result(
            speedup,
            ratio,
            "x",
            target=SPEEDUP_TARGET,
            op=">=",
            note=note,
            skipped=None if ratio is not None else "the persistent dagster run did not complete",
        )
    )
    return results
