"""Scenario ``build_paths``: one build operation, two callers: ``materialize`` and Dagster.

A 200-asset chain notebook (the ``chain`` scenario's) with three rules on every asset cell,
``--check 'not_null("id")' --check 'unique("id")' --check 'row_count(min=1)'``, is exported
into a project whose pyproject.toml holds ``prod = "warehouse"`` (no git repository), then
built by

(1) ``materialize(Project.find(root), env, progress=False)``: a warmup build into
    ``ci-warmup``, then timed builds into fresh envs; rules run in DuckDB over each new
    Parquet file. The figure is the median of total / N (loading the package included);
(2) Dagster: ``build_definitions("pipelines", root)`` (what the generated ``definitions.py``
    calls), ``defs.resolve_implicit_global_asset_job_def()``, then ``job.execute_in_process``
    with a persistent instance (``DagsterInstance.local_temp``: SQLite run and event
    storage) and ``NBASSETS_ENV`` naming the env: a warmup run of the first 3 assets into
    ``ci-dagster-warmup``, then a timed run into ``ci-dagster`` of the first 60 assets
    (``asset_selection``). Each asset is one asset step and three check steps, and Dagster
    writes some 20 events per asset to its event log, so the whole job would take minutes.
    Building the definitions is timed apart.

The ratio is Dagster per asset / ``materialize`` per asset. Correctness: each timed env's
catalog holds N distinct keys, N records and 3N passed check results. With ``--profile``,
one more build by each caller is profiled, splitting its time into nbassets code (IO
manager, asset bodies, rules, catalog) and the caller, and counting DuckDB connections.

The ``asset`` and ``chain`` scenarios give the other edges' figures; run the three against
older code with ``PYTHONPATH=<old worktree>:<this checkout> python -m benchmarks asset chain
build_paths`` from outside the checkout: the header names the nbassets each imported.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .benchlib import (
    PACKAGE,
    QUIET,
    Context,
    Result,
    catalog_counts,
    chain_key,
    dagster_instance,
    env_catalog,
    environ,
    export_chain,
    ms,
    peer,
    quiet_warnings,
    skipped,
    temporary_project,
    timed,
)

PYPROJECT = '[tool.nbassets]\nprod = "warehouse"\n'
RULES = ('not_null("id")', 'unique("id")', "row_count(min=1)")
DAGSTER_WARMUP = 3  # assets (with their checks) in Dagster's warmup run


@dataclass
class Built:
    """The timed builds of one caller: seconds per run and the envs they went into."""

    runs_s: list[float]
    envs: list[str]
    n: int

    def per_asset_ms(self) -> float:
        return statistics.median(ms(t) / self.n for t in self.runs_s)

    def spread(self) -> str:
        return ", ".join(f"{ms(t) / self.n:.2f}" for t in self.runs_s)


def run(ctx: Context) -> list[Result]:
    from nbassets.config import Project
    from nbassets.pipeline import materialize

    n = ctx.size("chain", 200, 20)
    m = min(ctx.size("dagster_assets", 60, 4), n)
    runs = ctx.size("nbassets_runs", 3, 2)
    with temporary_project("nbassets-bench-paths-", PYPROJECT) as root:
        ctx.progress(f"materialize of a {n}-asset chain with 3 rules each")
        export_s = export_chain(root, n, RULES)

        def build(env: str) -> Any:
            return materialize(Project.find(root), env, progress=False)

        build("ci-warmup")
        envs = [f"ci-rules-{i + 1}" for i in range(runs)]
        nb = Built([timed(lambda env=env: build(env))[0] for env in envs], envs, n)
        results = [
            Result(
                f"nbassets materialize, {n}-asset chain, 3 rules each, per asset",
                nb.per_asset_ms(),
                "ms",
                note=f"median of {runs} runs ({nb.spread()} ms per asset); export "
                f"{ms(export_s):.0f} ms, not included",
                data={"runs_s": nb.runs_s},
            ),
            *correctness(root, "materialize", nb),
        ]
        if ctx.profile:
            ctx.profiles.append(
                profile_run(f"materialize ({n} assets)", lambda: build("ci-profile"), root, n)
            )
        ctx.progress(f"dagster: the first {m} assets of the job")
        results += dagster_side(ctx, root, m, nb)
    return results


def dagster_side(ctx: Context, root: Path, m: int, nb: Built) -> list[Result]:
    """The same chain through the generated Dagster definitions, and the ratio."""
    name = f"dagster execute_in_process, first {m} assets, 3 rules each, per asset"
    ratio_name = "ratio dagster / nbassets materialize (3 rules)"
    dg, why = peer("dagster", ctx)
    if dg is None:
        return skipped((name, ratio_name), "ms", why)
    from nbassets.dagster_assets import build_definitions

    problems: list[str] = []
    with dagster_instance(dg) as (instance, _):
        defs_s, job = timed(
            lambda: build_definitions(PACKAGE, root).resolve_implicit_global_asset_job_def()
        )

        def execute(env: str, assets: int) -> Any:
            selection = [dg.AssetKey(chain_key(i)) for i in range(assets)]
            with environ("NBASSETS_ENV", env), quiet_warnings():
                result = job.execute_in_process(
                    run_config=QUIET,
                    instance=instance,
                    raise_on_error=False,
                    asset_selection=selection,
                )
            if not result.success:
                problems.append(f"dagster run into {env} did not succeed")

        execute("ci-dagster-warmup", DAGSTER_WARMUP)
        built = Built([timed(lambda: execute("ci-dagster", m))[0]], ["ci-dagster"], m)
        if ctx.profile:
            ctx.profiles.append(
                profile_run(
                    f"dagster ({m} assets)", lambda: execute("ci-dagster-profile", m), root, m
                )
            )
    per_asset = built.per_asset_ms()
    return [
        Result(
            name,
            per_asset,
            "ms",
            note=f"total {sum(built.runs_s):.1f} s; 1 asset step + 3 check steps per asset; "
            f"persistent instance (SQLite event log); build_definitions + resolve job "
            f"{ms(defs_s):.0f} ms once, not included",
            data={"runs_s": built.runs_s, "assets": m, "definitions_s": defs_s},
        ),
        Result(
            ratio_name,
            per_asset / nb.per_asset_ms(),
            "x",
            note="per asset, medians",
            data={"dagster_ms": per_asset, "nbassets_ms": nb.per_asset_ms()},
        ),
        Result(
            "dagster runs succeeded",
            float(not problems),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note="; ".join(problems),
        ),
        *correctness(root, "dagster", built),
    ]


def correctness(root: Path, label: str, built: Built) -> list[Result]:
    """One row per timed env: N keys, N records and 3N passed check results, nothing else."""
    results = []
    for env in built.envs:
        keys, records, passed, other = catalog_counts(env_catalog(root, env))
        n = built.n
        ok = keys == n and records == n and passed == len(RULES) * n and not other
        results.append(
            Result(
                f"{label} into {env}: every asset built and checked",
                float(ok),
                "bool",
                target=1.0,
                op="==",
                check=True,
                note=f"{keys} distinct keys, {records} records; check results: {passed} passed "
                f"(of {len(RULES) * n}), {other} other",
            )
        )
    return results


# --profile: where the time of a build goes


@contextlib.contextmanager
def counting_duckdb_connects() -> Iterator[list[float]]:
    """Count ``duckdb.connect`` calls (and their seconds) while inside: one list entry each.

    DuckDB's functions are not Python functions, so cProfile does not see them; nbassets
    calls ``duckdb.connect`` through the module attribute, which this wraps.
    """
    import duckdb

    original = duckdb.connect
    seconds: list[float] = []

    def connect(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - start)

    duckdb.connect = connect
    try:
        yield seconds
    finally:
        duckdb.connect = original


def profile_run(title: str, fn: Callable[[], Any], root: Path, n: int) -> str:
    """cProfile one build: the time in nbassets code (entered from other code) and the rest.

    "nbassets" is nbassets' package and the generated package it runs; each function of
    theirs called from elsewhere counts with all it calls (pandas, pyarrow, DuckDB, and any
    Dagster constructor such as ``dg.Output``). The rest is the caller: Dagster, or nothing
    much for ``materialize``. DuckDB connections are counted apart.
    """
    import pstats

    profiler = cProfile.Profile()
    with counting_duckdb_connects() as connects:
        start = time.perf_counter()
        profiler.enable()
        fn()
        profiler.disable()
        wall = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    roots = (str(Path(sys.modules["nbassets"].__file__ or "").parent), str(root))

    entered = rules_s = 0.0
    rule_calls = 0
    for (filename, _, function), (_, calls, _, cumtime, callers) in table.items():
        if not filename.startswith(roots):
            continue
        entered += sum(edge[3] for (c, _, _), edge in callers.items() if not c.startswith(roots))
        if function == "run_rule" and filename.endswith("rules.py"):
            rule_calls += calls
            rules_s += cumtime
    total = max(float(stats.total_tt), 1e-9)  # type: ignore[attr-defined]
    entered = min(entered, total)  # a function entered twice on one stack counts twice
    rest = total - entered
    lines = [
        f"cProfile of one more build of the rules chain by {title}: {wall:.2f} s wall = "
        f"{ms(wall) / n:.1f} ms per asset under cProfile",
        f"  nbassets code (and what it calls): {entered:.2f} s = {100 * entered / total:.0f} %"
        f" = {ms(entered) / n:.1f} ms per asset",
        f"  the rest (the caller): {rest:.2f} s = {100 * rest / total:.0f} %"
        f" = {ms(rest) / n:.1f} ms per asset",
        f"  rules.run_rule: {rule_calls} calls, {rules_s:.2f} s "
        f"({ms(rules_s) / max(rule_calls, 1):.2f} ms each)",
        f"  duckdb.connect: {len(connects)} calls, {sum(connects):.2f} s "
        f"({ms(sum(connects)) / max(len(connects), 1):.2f} ms each)",
    ]
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_stats(25)
    return "\n".join(lines) + "\n" + out.getvalue()
