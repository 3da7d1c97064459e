"""Build-path benchmarks of nbassets: the figures the "one build path" refactor reports.

Three ways build an asset: the ``%%asset`` magic, ``nbassets materialize`` and the Dagster
definitions of an exported package. This script times all three side by side in one
process, through their public entry points only (so that it runs unchanged before and
after the refactor: run it with ``PYTHONPATH=<a worktree of the old code>`` for the
"before" figures; the header names the nbassets it imported). Projects are temporary
folders whose pyproject.toml holds ``[tool.nbassets]`` with ``prod = "warehouse"``, no git
repository; ``NBASSETS_USER=bench``.

a. ``%%asset`` overhead, in an IPython ``InteractiveShell`` with ``%load_ext nbassets``
   (the shell of ``bench_core.py``): on a 100-row DataFrame ``base``,
   (1) ``run_cell("x = base.assign(y=base.a * step)")``, and
   (2) the same expression as ``%%asset small --no-preview`` (a full build into the dev
   sandbox: Parquet file, xxh3, fsync of file and folder, rename, SQLite record).
   ``step`` changes before each pair, so every build stores a new version. After a
   warmup, (1) and (2) alternate; the figure is median (2) - median (1), per cell.

b. ``nbassets materialize`` per asset: a notebook whose N = 200 (quick: 60) asset cells
   form a chain (``bench_pipeline.py``'s: ``a000`` is a 100-row frame,
   ``aNNN = aPPP.assign(v=aPPP.v + 1)``) is exported with
   ``export_notebooks(Project.find(root), [notebook])``, then built with
   ``materialize(Project.find(root), env, progress=False)``: one warmup build into
   ``ci-warmup``, then timed builds into fresh envs (``ci-bench``, ``ci-bench-2``, ...).
   The figure is the median over the timed builds of total / N (loading the package
   included; exporting it not).

c. The same chain with three rules on every asset cell: ``--check 'not_null("id")'
   --check 'unique("id")' --check 'row_count(min=1)'``.
   (1) ``nbassets materialize`` as in (b) (rules run in DuckDB over each new Parquet file).
   (2) Dagster: ``build_definitions("pipelines", root)`` (what the generated
   ``definitions.py`` calls), ``defs.resolve_implicit_global_asset_job_def()``, then
   ``job.execute_in_process(instance=...)`` with a persistent instance
   (``DagsterInstance.local_temp``: SQLite run and event storage) and ``NBASSETS_ENV``
   naming the env: a warmup run of the first 3 assets (and their checks) into
   ``ci-dagster-warmup``, then a timed run into ``ci-dagster`` of the first 60 (quick:
   12) assets of the chain (``asset_selection``; ``--dagster-assets 0`` runs the whole
   job). Each asset is one asset step and three check steps, and Dagster writes some 20
   events per asset to its SQLite event log, which makes it slow (about 0.4-1.2 s per
   asset on 2 cores): the whole 200-asset job would take minutes. The figure is
   execute_in_process total / assets built; building the definitions is timed apart.
   Dagster's console logger is set to ERROR (its event log is still written). The ratio
   is Dagster per asset / nbassets materialize per asset, both with the three rules.

Correctness, inside the benchmark: each timed env's catalog (``<root>/.nbassets/<env>/
catalog.sqlite``, read with sqlite3) must hold N distinct keys in ``materializations`` and,
with rules, 3N passed rows in ``check_results``; the magic's sandbox must hold one record
per build. A failed build or check exits 1.

The durable-write floor (mkdir, write 4 KB, fsync, rename, fsync the folder: the disk, not
nbassets) is measured before and after the timed sections; fsync latency on a shared disk
swings several-fold, so read it before comparing two runs. ``--profile`` adds a cProfile of
one more build of the rules chain by each of materialize and Dagster, splitting its time
into nbassets code (IO manager, asset bodies, rules, catalog) and the caller (Dagster),
and counting the DuckDB connections opened (``duckdb.connect`` is wrapped to count them:
cProfile does not see DuckDB's functions).

Run from the repository root (about 90 s on 2 cores, most of it Dagster; ``--quick``
about 25 s)::

    python benchmarks/bench_build_paths.py             # full run: N = 200
    python benchmarks/bench_build_paths.py --quick     # N = 60, fewer repetitions
    python benchmarks/bench_build_paths.py --profile   # also split Dagster's time
    python benchmarks/bench_build_paths.py --dagster-assets 0   # Dagster runs the whole job
    PYTHONPATH=/path/to/old/worktree python benchmarks/bench_build_paths.py   # "before"

The exit status is 1 when a build or check failed (or the script itself fails), else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench_core import make_shell, p90, run_ok
from bench_pipeline import chain_cells, chain_key, durable_write_floor, write_notebook
from benchlib import PACKAGE, Result, ms, render, temporary_project, timed, versions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# bench_core and bench_pipeline put this checkout first on sys.path when it is missing:
# move it last, so that PYTHONPATH (a worktree of other code) decides which nbassets runs
while str(REPO) in sys.path:
    sys.path.remove(str(REPO))
sys.path.append(str(REPO))

VERSIONED = ("nbassets", "IPython", "pandas", "pyarrow", "duckdb", "dagster")
PYPROJECT = '[tool.nbassets]\nprod = "warehouse"\n'
RULES = ('not_null("id")', 'unique("id")', "row_count(min=1)")
CELL_BODY = "base.assign(y=base.a * step)"  # step changes: each build stores a new version
DAGSTER_WARMUP = 3  # assets (with their checks) in Dagster's warmup run
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions; ``--quick`` cuts them down for a smoke run."""

    quick: bool
    cell_reps: int = 200
    cell_warmup: int = 30
    chain: int = 200
    nbassets_runs: int = 3  # timed materialize builds per chain, each into a fresh env
    dagster_runs: int = 1  # timed Dagster runs
    dagster_assets: int | None = 60  # Dagster builds the first ones (None: the whole job)

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if not quick:
            return cls(quick=False)
        return cls(
            quick=True, cell_reps=40, cell_warmup=5, chain=60, nbassets_runs=2, dagster_assets=12
        )


# helpers


@contextlib.contextmanager
def environ(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def catalog_counts(catalog: Path) -> tuple[int, int, int, int]:
    """(distinct keys, records, passed check results, other check results) of a catalog file."""
    if not catalog.is_file():
        return 0, 0, 0, 0
    conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        keys, records = conn.execute(
            "SELECT count(DISTINCT key), count(*) FROM materializations"
        ).fetchone()
        passed, other = conn.execute(
            "SELECT coalesce(sum(passed = 1), 0), coalesce(sum(passed != 1), 0) FROM check_results"
        ).fetchone()
    finally:
        conn.close()
    return int(keys), int(records), int(passed), int(other)


def env_catalog(root: Path, env: str) -> Path:
    return root / ".nbassets" / env / "catalog.sqlite"


def export_chain(root: Path, n: int, rules: tuple[str, ...]) -> float:
    """Write and export the ``n``-asset chain notebook, ``rules`` on each asset cell; seconds."""
    from nbassets.config import Project
    from nbassets.exporter import export_notebooks

    flags = "".join(f" --check '{rule}'" for rule in rules)
    cells = []
    for kind, source in chain_cells(n):
        if source.startswith("%%asset "):
            line, _, body = source.partition("\n")
            source = f"{line}{flags}\n{body}"
        cells.append((kind, source))
    notebook = root / "notebooks" / "chain.ipynb"
    write_notebook(notebook, cells)
    elapsed, _ = timed(lambda: export_notebooks(Project.find(root), [notebook]))
    return elapsed


@dataclass
class Built:
    """The timed builds of one path: seconds per run and the envs they went into."""

    runs_s: list[float]
    envs: list[str]
    n: int

    def per_asset_ms(self) -> float:
        return statistics.median(ms(t) / self.n for t in self.runs_s)

    def spread(self) -> str:
        return ", ".join(f"{ms(t) / self.n:.2f}" for t in self.runs_s)


def correctness(
    root: Path, label: str, built: Built, rules: int, failures: list[str]
) -> list[Result]:
    """One row per timed env: its distinct keys (and passed checks) against the chain's."""
    results = []
    for env in built.envs:
        keys, records, passed, other = catalog_counts(env_catalog(root, env))
        ok = keys == built.n and records == built.n and passed == rules * built.n and not other
        if not ok:
            failures.append(f"{label} into {env}")
        note = f"{records} records"
        if rules:
            note += f"; check results: {passed} passed (of {rules * built.n}), {other} other"
        results.append(
            Result(
                "correctness",
                f"{label}: {env} distinct keys",
                keys,
                "keys",
                target=built.n,
                op="==",
                note=note + ("" if ok else "  <-- BUILD INCOMPLETE"),
            )
        )
    return results


# a. %%asset overhead


def bench_cell(s: Settings, failures: list[str]) -> list[Result]:
    """Section a: plain cells and %%asset cells, alternating; the last result checks records."""
    cells = {"plain": f"x = {CELL_BODY}", "asset": f"%%asset small --no-preview\n{CELL_BODY}"}
    times: dict[str, list[float]] = {k: [] for k in cells}
    with temporary_project("nbassets-bench-paths-cell-", PYPROJECT) as root:
        shell = make_shell(root / ".ipython")
        try:
            for step in range(s.cell_warmup):
                shell.user_ns["step"] = -1 - step
                for code in cells.values():
                    run_ok(shell, code)
            for step in range(s.cell_reps):
                shell.user_ns["step"] = step  # new data: the full write path, fsyncs included
                for name, code in cells.items():
                    start = time.perf_counter()
                    result = shell.run_cell(code)
                    times[name].append(time.perf_counter() - start)
                    if not result.success:
                        result.raise_error()
        finally:
            shell.run_cell("%unload_ext nbassets")
        catalogs = sorted((root / ".nbassets").glob("*/catalog.sqlite"))
        counted = [catalog_counts(c) for c in catalogs]
        envs = ", ".join(c.parent.name for c in catalogs)
    builds = s.cell_warmup + s.cell_reps
    records = sum(c[1] for c in counted)
    if records != builds:
        failures.append(f"%%asset: {records} records for {builds} builds")
    plain, asset = times["plain"], times["asset"]
    pairs = [b - a for a, b in zip(plain, asset, strict=True)]
    n = f"n={s.cell_reps} after {s.cell_warmup} warmup"
    sec = "a %%asset"
    return [
        Result(
            sec,
            "(1) run_cell plain code, median",
            ms(statistics.median(plain)),
            "ms",
            note=f"p90 {ms(p90(plain)):.3f} ms, {n}",
        ),
        Result(
            sec,
            "(2) run_cell %%asset --no-preview, median",
            ms(statistics.median(asset)),
            "ms",
            note=f"p90 {ms(p90(asset)):.3f} ms; 100-row frame, new version each run",
        ),
        Result(
            sec,
            "%%asset overhead: median (2) - median (1)",
            ms(statistics.median(asset) - statistics.median(plain)),
            "ms",
            note=f"median of paired differences {ms(statistics.median(pairs)):.3f} ms, "
            f"p90 {ms(p90(pairs)):.3f} ms",
        ),
        Result(
            "correctness",
            "%%asset: records in the sandbox catalog",
            records,
            "records",
            target=builds,
            op="==",
            note=f"one per build (new version each run); env {envs}",
        ),
    ]


# b. and c. (1) nbassets materialize


def materialize_runs(root: Path, n: int, runs: int, prefix: str) -> Built:
    """A warmup build into ``ci-warmup``, then ``runs`` timed builds into fresh envs."""
    from nbassets.config import Project
    from nbassets.pipeline import materialize

    def build(env: str) -> Any:
        return materialize(Project.find(root), env, progress=False)

    build("ci-warmup")
    envs = [prefix if i == 0 else f"{prefix}-{i + 1}" for i in range(runs)]
    runs_s = [timed(functools.partial(build, env))[0] for env in envs]
    return Built(runs_s, envs, n)


def bench_materialize(s: Settings, failures: list[str]) -> tuple[list[Result], list[Result]]:
    """Section b: the plain chain built by materialize."""
    n = s.chain
    with temporary_project("nbassets-bench-paths-chain-", PYPROJECT) as root:
        export_s = export_chain(root, n, ())
        built = materialize_runs(root, n, s.nbassets_runs, "ci-bench")
        checked = correctness(root, "materialize", built, 0, failures)
    result = Result(
        "b materialize",
        f"nbassets materialize, {n}-asset chain, per asset",
        built.per_asset_ms(),
        "ms",
        note=f"median of {len(built.runs_s)} runs ({built.spread()} ms per asset); export "
        f"{ms(export_s):.0f} ms, not included",
        data={"runs_s": built.runs_s},
    )
    return [result], checked


# c. (2) Dagster


def dagster_job(root: Path) -> Any:
    """The implicit job of the generated definitions, as ``definitions.py`` makes them."""
    from nbassets.dagster_assets import build_definitions

    defs = build_definitions(PACKAGE, root)
    return defs.resolve_implicit_global_asset_job_def()


def run_dagster(
    dg: Any, job: Any, instance: Any, env: str, assets: int | None, problems: list[str]
) -> Any:
    """One ``execute_in_process`` into ``env``: the whole job, or the first ``assets`` assets."""
    selection = None if assets is None else [dg.AssetKey(chain_key(i)) for i in range(assets)]
    with environ("NBASSETS_ENV", env), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = job.execute_in_process(
            run_config=QUIET, instance=instance, raise_on_error=False, asset_selection=selection
        )
    if not result.success:
        problems.append(f"dagster run into {env} did not succeed")
    return result


def bench_rules(
    s: Settings, failures: list[str], profile: bool
) -> tuple[list[Result], list[Result], str]:
    """Section c: the rules chain built by materialize, then by Dagster (and ``--profile``)."""
    from nbassets.config import Project
    from nbassets.pipeline import materialize

    n = s.chain
    m = n if s.dagster_assets is None else min(s.dagster_assets, n)
    sec = "c 3 rules"
    results: list[Result] = []
    checked: list[Result] = []
    profiles: list[str] = []
    with temporary_project("nbassets-bench-paths-rules-", PYPROJECT) as root:
        export_s = export_chain(root, n, RULES)
        nb = materialize_runs(root, n, s.nbassets_runs, "ci-rules")
        checked += correctness(root, "materialize + rules", nb, len(RULES), failures)
        results.append(
            Result(
                sec,
                f"nbassets materialize, {n}-asset chain, 3 rules each, per asset",
                nb.per_asset_ms(),
                "ms",
                note=f"median of {len(nb.runs_s)} runs ({nb.spread()} ms per asset); export "
                f"{ms(export_s):.0f} ms, not included",
                data={"runs_s": nb.runs_s},
            )
        )
        if profile:
            profiles.append(
                profile_run(
                    f"nbassets materialize into ci-rules-profile ({n} assets)",
                    lambda: materialize(Project.find(root), "ci-rules-profile", progress=False),
                    root,
                    n,
                )
            )
        which = "whole job" if m == n else f"first {m} assets"
        name = f"dagster execute_in_process, {which}, 3 rules each, per asset"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import dagster as dg
        except Exception as exc:
            failures.append(f"dagster not importable: {type(exc).__name__}: {exc}")
            results.append(Result(sec, name, None, "ms", skipped="dagster not importable"))
            return results, checked, "\n".join(profiles)
        problems: list[str] = []
        with tempfile.TemporaryDirectory(prefix="nbassets-bench-paths-dagster-") as tmp:
            instance = dg.DagsterInstance.local_temp(
                tempdir=tmp, overrides={"telemetry": {"enabled": False}}
            )
            try:
                defs_s, job = timed(lambda: dagster_job(root))
                selected = None if m == n else m
                run_dagster(dg, job, instance, "ci-dagster-warmup", DAGSTER_WARMUP, problems)
                envs = [
                    "ci-dagster" if i == 0 else f"ci-dagster-{i + 1}" for i in range(s.dagster_runs)
                ]
                runs_s = [
                    timed(
                        functools.partial(run_dagster, dg, job, instance, env, selected, problems)
                    )[0]
                    for env in envs
                ]
                built = Built(runs_s, envs, m)
                if profile:
                    profiles.append(
                        profile_run(
                            f"dagster execute_in_process into ci-dagster-profile ({m} assets)",
                            lambda: run_dagster(
                                dg, job, instance, "ci-dagster-profile", selected, problems
                            ),
                            root,
                            m,
                        )
                    )
            finally:
                instance.dispose()
        failures.extend(problems)
        checked += correctness(root, "dagster + rules", built, len(RULES), failures)
    per_asset = built.per_asset_ms()
    ratio = per_asset / nb.per_asset_ms()
    runs = f"{len(built.runs_s)} run" + ("s" if len(built.runs_s) > 1 else "")
    results += [
        Result(
            sec,
            name,
            per_asset,
            "ms",
            note=f"median of {runs} of {m} assets ({built.spread()} ms per asset; total "
            f"{sum(built.runs_s):.1f} s); 1 asset step + 3 check steps per asset; persistent "
            "instance (SQLite event log)",
            data={"runs_s": built.runs_s, "assets": m},
        ),
        Result(
            sec,
            "  dagster: build_definitions + resolve job (once)",
            ms(defs_s),
            "ms",
            note=f"{ms(defs_s) / n:.2f} ms per asset of the {n}-asset package; not in the figure",
        ),
        Result(
            sec,
            "ratio dagster / nbassets materialize (3 rules)",
            ratio,
            "x",
            note="per asset, medians",
            data={"dagster_ms": per_asset, "nbassets_ms": nb.per_asset_ms()},
        ),
    ]
    return results, checked, "\n".join(profiles)


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
        f"{title}: {wall:.2f} s wall = {ms(wall) / n:.1f} ms per asset under cProfile",
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


# report


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    elapsed = time.perf_counter() - _STARTED
    print(f"[bench_build_paths {elapsed:5.1f} s] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter chain, fewer runs")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile one more build of the rules chain by materialize and by Dagster",
    )
    parser.add_argument("--chain", type=int, help="assets in the chain (default 200, quick 60)")
    parser.add_argument(
        "--dagster-assets",
        type=int,
        help="Dagster builds the first N assets of the chain (default 60, quick 12; 0: the whole "
        "job)",
    )
    args = parser.parse_args(argv)

    os.environ["NBASSETS_USER"] = "bench"
    os.environ.pop("NBASSETS_ENV", None)
    s = Settings.make(args.quick)
    if args.chain:
        s = replace(s, chain=max(args.chain, DAGSTER_WARMUP))
    if args.dagster_assets is not None:
        wanted = args.dagster_assets
        s = replace(s, dagster_assets=None if wanted <= 0 else max(wanted, DAGSTER_WARMUP))
    failures: list[str] = []
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="nbassets-bench-paths-floor-") as tmp:
        floor_before = durable_write_floor(Path(tmp) / "before")
        progress("a. %%asset overhead")
        cell = bench_cell(s, failures)
        progress(f"b. materialize of a {s.chain}-asset chain")
        chain, chain_checked = bench_materialize(s, failures)
        progress("c. the chain with 3 rules per asset: materialize, then dagster")
        rules, rules_checked, profile_text = bench_rules(s, failures, args.profile)
        progress("done")
        floor_after = durable_write_floor(Path(tmp) / "after")
    elapsed = time.perf_counter() - started

    floor = Result(
        "disk",
        "durable-write floor: mkdir + 4 KB + 2 fsyncs",
        ms(statistics.median(floor_before)),
        "ms",
        note=f"the disk, not nbassets: median before the run (p90 {ms(p90(floor_before)):.2f}); "
        f"after: median {ms(statistics.median(floor_after)):.2f}, p90 {ms(p90(floor_after)):.2f}",
    )
    results = [*cell[:3], *chain, *rules, floor, cell[3], *chain_checked, *rules_checked]
    info = versions(VERSIONED)
    import nbassets

    header = (
        f"nbassets build-path benchmarks ({'quick' if s.quick else 'full'} run, {elapsed:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f"; {os.cpu_count()} CPUs, {platform.system()} {platform.machine()})\n"
        + f"nbassets imported from {Path(nbassets.__file__ or '').parent}"
    )
    print(render(results, header, s.quick))
    if profile_text:
        print("\ncProfiles of one more build of the rules chain:\n" + profile_text)
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
