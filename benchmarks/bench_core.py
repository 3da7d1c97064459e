"""Core benchmarks of nbassets: %%asset overhead, big Parquet writes, and status of many assets.

What is measured (all in one process, except the peak-memory figures, which each run
in a fresh subprocess so that the peak only reflects one write):

1. ``%%asset`` overhead, in an IPython ``InteractiveShell`` in a temporary project
   (``NBASSETS_USER=bench``, no git repository):
   (a) ``run_cell("x = base.assign(y=base.a * 2)")`` on a 100-row DataFrame ``base``;
   (b) the same expression as ``%%asset small --no-preview`` (a full build into the
   dev sandbox: Parquet file, fsync, xxh3 hash, rename, SQLite record);
   (c) the same cell under a do-nothing cell magic ``%%bare`` (IPython's own magic cost).
   The runs of (a), (b) and (c) are interleaved; the overhead is the median of the
   paired differences (b) - (a).  Target: median overhead <= 2.0 ms.
   (d) Peers, per asset, for comparison with (b): Dagster ``materialize([asset])`` with
   its default in-memory IO manager; Dagster with a persistent instance
   (``DagsterInstance.local_temp``) and ``FilesystemIOManager``; Hamilton
   ``driver.Builder().with_modules(mod).build().execute(["small"])``.  A peer that
   cannot be imported or run is reported as skipped.  Dagster's console logger is set
   to ERROR (its event log is still written), which only makes Dagster faster.

2. Writing a 1,000,000 x 10 mixed-type DataFrame (int64 x3, float64 x3, a string column
   with 1000 distinct values, bool, datetime64, categorical): baseline
   ``pq.write_table(pa.Table.from_pandas(df), path, compression="snappy")`` against
   ``Store.write(...)`` (temp file, xxh3, fsync, rename, catalog record). One value
   changes before each repetition, so each write stores a new version, as a rebuild
   does. The two methods alternate, 1 warmup + 5 repetitions each. Target: median ratio
   nbassets/baseline <= 1.15. Peak extra memory of one write (VmHWM after a reset
   through ``/proc/self/clear_refs``, minus VmRSS before the write), median of 3 fresh
   subprocesses per method, measured twice: with the allocators' free pages first given
   back to the OS (``release_unused`` + ``malloc_trim``: what the write really needs),
   and with them kept (the write may reuse pages freed while building the frame, which
   understates it). Target: nbassets extra memory <= 1.0x the frame's in-memory size.

3. Status of 10,000 assets: a sandbox catalog with 10,000 records forming a random DAG
   (1-3 upstreams each among earlier assets), ~1% of code versions changed.  Records
   carry a schema, user and source like the ones ``Store.write`` makes.
   ``Workspace(Project.find(tmp), env).statuses(code_versions, deps)``, a fresh
   Workspace per run, median of 10 runs.  Target: < 100 ms.  Rendering the table
   with ``StatusTable(rows).to_text()`` is reported for information.

Each figure with a target prints PASS or FAIL; the rest are informational.  Results
are printed as a table and written as JSON to ``benchmarks/results/core.json``.
``--quick`` uses smaller sizes than the targets assume (100,000 rows, 1,000 assets),
so its PASS/FAIL only shows that everything runs.

Run from the repository root (about 20 s on 2 cores; ``--quick`` about 6 s)::

    python benchmarks/bench_core.py            # full run
    python benchmarks/bench_core.py --quick    # smoke run: fewer repetitions, smaller sizes
    python benchmarks/bench_core.py --no-peers --strict   # skip Dagster/Hamilton; exit 1 on FAIL
    python benchmarks/bench_core.py --profile-asset       # also cProfile the %%asset path

The exit status is 0 unless the script itself fails (or ``--strict`` and a target is missed).
"""

import argparse
import contextlib
import cProfile
import ctypes
import gc
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from benchlib import Result, ms, render
from benchlib import versions as library_versions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_FILE = HERE / "results" / "core.json"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing nbassets

ASSET_BODY = "base.assign(y=base.a * step)"  # step changes: each build stores a new version
MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Repetitions and sizes; ``--quick`` cuts them down for a smoke run."""

    quick: bool
    cell_reps: int = 200
    cell_warmup: int = 30
    dagster_reps: int = 15
    hamilton_reps: int = 200
    big_rows: int = 1_000_000
    big_reps: int = 5
    n_assets: int = 10_000
    status_runs: int = 10
    memory_runs: int = 3

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if not quick:
            return cls(quick=False)
        return cls(
            quick=True,
            cell_reps=30,
            cell_warmup=5,
            dagster_reps=3,
            hamilton_reps=30,
            big_rows=100_000,
            big_reps=2,
            n_assets=1_000,
            status_runs=3,
            memory_runs=1,
        )


# timing helpers


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}es" if noun.endswith("s") else f"{n} {noun}s"


def p90(values: list[float]) -> float:
    return float(np.percentile(values, 90))


def time_calls(fn: Callable[[], Any], reps: int, warmup: int) -> list[float]:
    """Seconds per call of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def temporary_project(prefix: str) -> Iterator[Path]:
    """A temporary folder with ``[tool.nbassets]`` in its pyproject.toml, as the cwd."""
    old_cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp).resolve()
        (root / "pyproject.toml").write_text("[tool.nbassets]\n", encoding="utf-8")
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(old_cwd)


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


def big_frame(rows: int) -> pd.DataFrame:
    """``rows`` x 10 mixed types: int64 x3, float64 x3, string, bool, datetime64, category."""
    rng = np.random.default_rng(0)
    words = np.array([f"city_{i:04d}" for i in range(1000)], dtype=object)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "qty": rng.integers(0, 1_000, rows, dtype=np.int64),
            "amount_cents": rng.integers(-1_000_000, 1_000_000, rows, dtype=np.int64),
            "price": rng.random(rows) * 100,
            "score": rng.normal(size=rows),
            "weight": rng.exponential(size=rows),
            "city": words[rng.integers(0, len(words), rows)],
            "flag": rng.random(rows) < 0.3,
            "ts": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 86_400, rows), unit="s"),
            "segment": pd.Categorical.from_codes(
                rng.integers(0, 12, rows), categories=[f"segment_{i}" for i in range(12)]
            ),
        }
    )


# 1. %%asset overhead


def make_shell(profile_dir: Path) -> Any:
    """An IPython shell with nbassets loaded and ``base`` and ``%%bare`` defined."""
    os.environ["IPYTHONDIR"] = str(profile_dir)  # keep ~/.ipython untouched
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history database on disk
    shell = InteractiveShell.instance(config=config)
    loaded = shell.run_cell("%load_ext nbassets")
    loaded.raise_error()

    def bare(line: str, cell: str) -> None:
        return None

    shell.register_magic_function(bare, magic_kind="cell", magic_name="bare")
    shell.user_ns["base"] = small_frame()
    shell.user_ns["step"] = 2
    return shell


def run_ok(shell: Any, code: str) -> None:
    result = shell.run_cell(code)
    if not result.success:
        result.raise_error()
        raise RuntimeError(f"cell failed: {code!r}")


def bench_asset_overhead(s: Settings) -> tuple[list[Result], dict[str, float]]:
    """(a) plain cell, (b) %%asset build, (c) bare cell magic; interleaved."""
    cells = {
        "a": f"x = {ASSET_BODY}",
        "b": f"%%asset small --no-preview\n{ASSET_BODY}",
        "c": f"%%bare\n{ASSET_BODY}",
    }
    times: dict[str, list[float]] = {k: [] for k in cells}
    with temporary_project("nbassets-bench-cell-") as root:
        shell = make_shell(root / ".ipython")
        try:
            for _ in range(s.cell_warmup):
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
            magics = shell.magics_manager.registry["AssetMagics"]
            env = magics.session.env
            records = len(magics.session.workspace.own.catalog.history("small", limit=10**6))
        finally:
            shell.run_cell("%unload_ext nbassets")
    overhead = [b - a for a, b in zip(times["a"], times["b"], strict=True)]
    beyond_magic = [b - c for b, c in zip(times["b"], times["c"], strict=True)]
    n = f"n={s.cell_reps}"
    sec = "1 %%asset"
    results = [
        Result(
            sec,
            "(a) run_cell plain code, median",
            ms(statistics.median(times["a"])),
            "ms",
            note=f"p90 {ms(p90(times['a'])):.3f} ms, {n}",
        ),
        Result(
            sec,
            "(b) run_cell %%asset --no-preview, median",
            ms(statistics.median(times["b"])),
            "ms",
            note=f"p90 {ms(p90(times['b'])):.3f} ms; env {env}, {records} builds recorded",
        ),
        Result(
            sec,
            "(c) run_cell bare cell magic, median",
            ms(statistics.median(times["c"])),
            "ms",
            note=f"p90 {ms(p90(times['c'])):.3f} ms (the body is not run)",
        ),
        Result(
            sec,
            "overhead (b)-(a), median of pairs",
            ms(statistics.median(overhead)),
            "ms",
            target=2.0,
            note=f"median(b)-median(a) = "
            f"{ms(statistics.median(times['b']) - statistics.median(times['a'])):.3f} ms",
        ),
        Result(sec, "overhead (b)-(a), p90 of pairs", ms(p90(overhead)), "ms"),
        Result(
            sec,
            "(b)-(c): nbassets work beyond magic dispatch",
            ms(statistics.median(beyond_magic)),
            "ms",
            note="includes evaluating the body once",
        ),
    ]
    reference = {"asset_ms": ms(statistics.median(times["b"]))}
    return results, reference


def profile_asset_path(reps: int = 300, top: int = 25) -> str:
    """cProfile of ``reps`` %%asset builds: the top entries by cumulative and own time."""
    with temporary_project("nbassets-bench-prof-") as root:
        shell = make_shell(root / ".ipython")
        code = f"%%asset small --no-preview\n{ASSET_BODY}"
        try:
            for _ in range(20):
                run_ok(shell, code)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(reps):
                shell.run_cell(code)
            profiler.disable()
        finally:
            shell.run_cell("%unload_ext nbassets")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# 1 (d). peers


def dagster_peers(s: Settings, base: pd.DataFrame, nbassets_ms: float) -> list[Result]:
    sec = "1d peers"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import dagster as dg
    except Exception as exc:
        reason = f"dagster not importable: {type(exc).__name__}: {exc}"
        return [
            Result(sec, "dagster materialize, in-memory IO", None, "ms", skipped=reason),
            Result(sec, "dagster persistent instance + FS IO", None, "ms", skipped=reason),
        ]

    def small():  # no annotation: dagster would check the output type
        return base.assign(y=base.a * 2)

    asset = dg.asset(name="small")(small)
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    results = []

    def measure(name: str, run: Callable[[], Any], note: str) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                times = time_calls(run, s.dagster_reps, warmup=2)
        except Exception as exc:
            results.append(
                Result(sec, name, None, "ms", skipped=f"{type(exc).__name__}: {exc}"[:200])
            )
            return
        value = ms(statistics.median(times))
        results.append(
            Result(
                sec,
                name,
                value,
                "ms",
                note=f"{value / nbassets_ms:.1f}x nbassets (b); p90 {ms(p90(times)):.1f} ms; "
                f"n={s.dagster_reps}; {note}",
                data={"ratio_vs_nbassets": value / nbassets_ms},
            )
        )

    def in_memory() -> None:
        result = dg.materialize([asset], run_config=quiet)
        assert result.success

    measure("dagster materialize, in-memory IO", in_memory, "ephemeral instance, no file")

    with tempfile.TemporaryDirectory(prefix="nbassets-bench-dagster-") as tmp:
        instance = None
        try:
            instance = dg.DagsterInstance.local_temp(
                tempdir=tmp, overrides={"telemetry": {"enabled": False}}
            )
            resources = {"io_manager": dg.FilesystemIOManager(base_dir=os.path.join(tmp, "io"))}

            def persistent() -> None:
                result = dg.materialize(
                    [asset], instance=instance, resources=resources, run_config=quiet
                )
                assert result.success

            measure(
                "dagster persistent instance + FS IO",
                persistent,
                "SQLite event log, pickle file",
            )
        except Exception as exc:
            results.append(
                Result(
                    sec,
                    "dagster persistent instance + FS IO",
                    None,
                    "ms",
                    skipped=f"{type(exc).__name__}: {exc}"[:200],
                )
            )
        finally:
            if instance is not None:
                instance.dispose()
    return results


def hamilton_peers(s: Settings, base: pd.DataFrame, nbassets_ms: float) -> list[Result]:
    sec = "1d peers"
    names = ("hamilton build driver + execute", "hamilton execute, driver reused")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from hamilton import ad_hoc_utils, driver
    except Exception as exc:
        reason = f"hamilton not importable: {type(exc).__name__}: {exc}"
        return [Result(sec, name, None, "ms", skipped=reason) for name in names]

    def small() -> pd.DataFrame:
        return base.assign(y=base.a * 2)

    results = []
    module_name = f"nbassets_bench_hamilton_{os.getpid()}"
    try:
        module = ad_hoc_utils.create_temporary_module(small, module_name=module_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = time_calls(
                lambda: driver.Builder().with_modules(module).build().execute(["small"]),
                s.hamilton_reps,
                warmup=10,
            )
            dr = driver.Builder().with_modules(module).build()
            reused = time_calls(lambda: dr.execute(["small"]), s.hamilton_reps, warmup=10)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:200]
        return [Result(sec, name, None, "ms", skipped=reason) for name in names]
    finally:
        sys.modules.pop(module_name, None)
    for name, times in zip(names, (built, reused), strict=True):
        value = ms(statistics.median(times))
        results.append(
            Result(
                sec,
                name,
                value,
                "ms",
                note=f"{value / nbassets_ms:.2f}x nbassets (b); p90 {ms(p90(times)):.2f} ms; "
                f"n={s.hamilton_reps}; in memory, nothing stored",
                data={"ratio_vs_nbassets": value / nbassets_ms},
            )
        )
    return results


# 2. big write


def write_baseline(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df), path, compression="snappy")


def bench_big_write(s: Settings) -> list[Result]:
    from nbassets.store.stores import Store, now

    df = big_frame(s.big_rows)
    frame_bytes = int(df.memory_usage(deep=True).sum())
    times: dict[str, list[float]] = {"baseline": [], "nbassets": []}
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-write-") as tmp:
        folder = Path(tmp)
        store = Store("bench", folder / "store", writable=True)
        count = 0

        def baseline() -> None:
            nonlocal count
            count += 1
            path = folder / f"baseline-{count}.parquet"
            start = time.perf_counter()
            write_baseline(df, path)
            elapsed = time.perf_counter() - start
            path.unlink()  # outside the timing
            times["baseline"].append(elapsed)

        def nbassets() -> None:
            start = time.perf_counter()
            record = store.write("big", df, "parquet", code_version="x", started_at=now())
            times["nbassets"].append(time.perf_counter() - start)
            assert record.rows == len(df)

        baseline()
        nbassets()
        file_bytes = store.catalog.latest_of("big").bytes
        for warm in times.values():  # drop the warmups
            warm.clear()
        first_column = df.columns[0]
        for i in range(s.big_reps):
            df.loc[0, first_column] = 1_000_000 + i  # a new version each time, as a rebuild
            for method in (baseline, nbassets) if i % 2 == 0 else (nbassets, baseline):
                method()
        store.close()

    base_s = statistics.median(times["baseline"])
    nb_s = statistics.median(times["nbassets"])
    sec = "2 write"
    size = f"{s.big_rows:,} x 10"
    results = [
        Result(
            sec,
            f"frame {size} in memory",
            frame_bytes / MB,
            "MB",
            note=f"parquet file {file_bytes / MB:.1f} MB",
        ),
        Result(
            sec,
            "baseline pq.write_table, median",
            ms(base_s),
            "ms",
            note=f"min {ms(min(times['baseline'])):.0f} max {ms(max(times['baseline'])):.0f}, "
            f"n={s.big_reps}",
        ),
        Result(
            sec,
            "nbassets Store.write, median",
            ms(nb_s),
            "ms",
            note=f"min {ms(min(times['nbassets'])):.0f} max {ms(max(times['nbassets'])):.0f}, "
            f"n={s.big_reps}",
        ),
        Result(
            sec,
            "time ratio nbassets / baseline",
            nb_s / base_s,
            "x",
            target=1.15,
            note=f"fastest runs: {min(times['nbassets']) / min(times['baseline']):.3f}x; "
            "one value changed per repetition, so each write stores a new version",
        ),
    ]
    for trimmed in (True, False):
        how = "allocators trimmed" if trimmed else "allocator caches kept"
        for method, target in (("baseline", None), ("nbassets", 1.0)):
            name = f"{method} peak extra memory / frame, {how}"
            runs = [memory_in_child(method, s.big_rows, trimmed) for _ in range(s.memory_runs)]
            errors = [m["error"] for m in runs if "error" in m]
            if errors:
                results.append(Result(sec, name, None, "x", skipped=errors[0]))
                continue
            extra = sorted(m["extra_bytes"] for m in runs)
            frame = runs[0]["frame_bytes"]
            spread = f" (runs {extra[0] / MB:.1f}-{extra[-1] / MB:.1f})" if len(runs) > 1 else ""
            results.append(
                Result(
                    sec,
                    name,
                    statistics.median(extra) / frame,
                    "x",
                    target=target,
                    note=f"median {statistics.median(extra) / MB:.1f} MB{spread} over the "
                    f"{frame / MB:.1f} MB frame, {plural(len(runs), 'fresh process')}; "
                    f"{runs[0]['how']}",
                    data={"runs": runs},
                )
            )
    return results


def _proc_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024  # "123456 kB"
    return found


def release_free_memory() -> None:
    """Give freed memory back to the OS, so the write cannot reuse pages counted before it.

    Arrow's allocator (mimalloc or jemalloc) and glibc malloc keep freed pages, for
    instance those of the temporaries of building the frame; without this the peak
    extra memory of the write is understated by however much of it fits in them.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def memory_child(method: str, rows: int, trim: bool) -> None:
    """In a fresh process: build the frame, then print the peak extra memory of one write.

    With ``trim``, the allocators first give their free pages back to the OS, so the
    figure is the memory the write needs; without it, the write may first reuse pages
    left over from building the frame, which understates it.
    """
    from nbassets.store.stores import Store, now

    with tempfile.TemporaryDirectory(prefix="nbassets-bench-mem-") as tmp:
        folder = Path(tmp)
        store = Store("bench", folder / "store", writable=True)

        def write(df: pd.DataFrame, name: str) -> None:
            if method == "baseline":
                write_baseline(df, folder / f"{name}.parquet")
            else:
                store.write(name, df, "parquet", code_version="x", started_at=now())

        write(big_frame(1_000), "warmup")  # lazy imports and first-use setup, not measured
        df = big_frame(rows)
        frame_bytes = int(df.memory_usage(deep=True).sum())
        gc.collect()
        if trim:
            release_free_memory()
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            how = "VmHWM reset by clear_refs"
        except OSError:
            how = "VmHWM not resettable: includes building the frame"
        before = _proc_status()["VmRSS"]
        write(df, "big")
        peak = _proc_status()["VmHWM"]
        store.close()
    print(
        json.dumps(
            {
                "method": method,
                "rows": rows,
                "frame_bytes": frame_bytes,
                "rss_before_bytes": before,
                "peak_bytes": peak,
                "extra_bytes": peak - before,
                "how": how,
            }
        )
    )


def memory_in_child(method: str, rows: int, trim: bool) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", method]
    command += ["--rows", str(rows), *(["--trim"] if trim else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"child exited {done.returncode}: {tail[0]}"[:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# 3. status of many assets


def fill_catalog(root: Path, env: str, n: int) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Record ``n`` assets in a random DAG; return (code versions with ~1% changed, deps)."""
    from nbassets.config import Project
    from nbassets.environments import store_path
    from nbassets.store.catalog import Materialization
    from nbassets.store.stores import Store, now

    rng = np.random.default_rng(7)
    store = Store(env, store_path(Project.find(root), env), writable=True)
    conn = store.catalog._connect()
    assert conn is not None
    code_versions: dict[str, str] = {}
    deps: dict[str, list[str]] = {}
    data_versions: list[str] = []
    stamp = now()
    conn.execute("BEGIN")
    for i in range(n):
        key = f"a{i:05d}"
        ups = (
            []
            if i == 0
            else sorted({f"a{j:05d}" for j in rng.integers(0, i, int(rng.integers(1, 4)))})
        )
        dv = f"{rng.integers(0, 2**63):016x}{i:016x}"
        cv = f"{i:016x}"
        data_versions.append(dv)
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
                inputs={up: {"data_version": data_versions[int(up[1:])], "env": env} for up in ups},
                rows=100,
                schema={"a": "int64", "b": "float64"},
                user="bench",
                source=f"notebooks/n.ipynb#{key}",
            )
        )
        deps[key] = ups
        code_versions[key] = cv if rng.random() >= 0.01 else "changed"
    conn.execute("COMMIT")
    store.close()
    return code_versions, deps


def bench_status(s: Settings) -> list[Result]:
    from nbassets.config import Project
    from nbassets.render.display import StatusTable
    from nbassets.store.workspace import Workspace

    env = "dev-bench-status"
    with temporary_project("nbassets-bench-status-") as root:
        start = time.perf_counter()
        code_versions, deps = fill_catalog(root, env, s.n_assets)
        fill_s = time.perf_counter() - start
        status_times, render_times = [], []
        rows: list[Any] = []
        for i in range(s.status_runs + 1):  # the first run is a warmup
            start = time.perf_counter()
            ws = Workspace(Project.find(root), env)
            statuses = ws.statuses(code_versions, deps)
            ws.close()
            middle = time.perf_counter()
            text = StatusTable(list(statuses.values())).to_text()
            end = time.perf_counter()
            if i:
                status_times.append(middle - start)
                render_times.append(end - middle)
            rows = list(statuses.values())
        assert len(rows) == s.n_assets and len(text.splitlines()) == s.n_assets + 1
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    sec = "3 status"
    n = f"{s.n_assets:,}"
    total = [a + b for a, b in zip(status_times, render_times, strict=True)]
    return [
        Result(
            sec,
            f"Workspace.statuses of {n} assets, median",
            ms(statistics.median(status_times)),
            "ms",
            target=100.0,
            op="<",
            note=f"p90 {ms(p90(status_times)):.1f} ms, n={s.status_runs}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
            data={"counts": counts},
        ),
        Result(
            sec,
            "StatusTable.to_text, median",
            ms(statistics.median(render_times)),
            "ms",
            note=f"statuses + to_text {ms(statistics.median(total)):.1f} ms",
        ),
        Result(sec, f"fill catalog with {n} records", ms(fill_s), "ms", note="one transaction"),
    ]


# report


def versions() -> dict[str, str]:
    """The versions of nbassets and its peers here (hamilton keeps its version elsewhere)."""
    found = library_versions(("nbassets", "IPython", "pandas", "pyarrow", "dagster"))
    try:
        from hamilton import version as hamilton_version

        found["hamilton"] = ".".join(map(str, hamilton_version.VERSION))
    except ImportError:
        found["hamilton"] = "not installed"
    return found


def progress(message: str) -> None:
    print(f"[bench_core] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes")
    parser.add_argument("--no-peers", action="store_true", help="skip Dagster and Hamilton")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile-asset", action="store_true", help="print a cProfile of the %%asset path"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="JSON results file")
    parser.add_argument("--memory-child", choices=("baseline", "nbassets"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--trim", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child:
        memory_child(args.memory_child, args.rows, args.trim)
        return 0

    os.environ["NBASSETS_USER"] = "bench"
    s = Settings.make(args.quick)
    started = time.perf_counter()

    progress("1. %%asset overhead")
    cell_results, reference = bench_asset_overhead(s)
    progress("2. big write")
    write_results = bench_big_write(s)
    progress("3. status")
    status_results = bench_status(s)
    peer_results: list[Result] = []
    if not args.no_peers:  # last: importing dagster grows the heap that later GCs walk
        progress("1 (d). peers")
        base = small_frame()
        peer_results = [
            Result(
                "1d peers",
                "nbassets %%asset (b), for reference",
                reference["asset_ms"],
                "ms",
                note="stored: Parquet + fsync + SQLite record",
            ),
            *dagster_peers(s, base, reference["asset_ms"]),
            *hamilton_peers(s, base, reference["asset_ms"]),
        ]
    profile = profile_asset_path() if args.profile_asset else None
    elapsed = time.perf_counter() - started

    results = [*cell_results, *peer_results, *write_results, *status_results]
    info = versions()
    header = (
        f"nbassets core benchmarks ({'quick' if s.quick else 'full'} run, {elapsed:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f"; {os.cpu_count()} CPUs, {platform.system()} {platform.machine()})"
    )
    print(render(results, header, s.quick))
    if profile:
        print("\ncProfile of the %%asset path (300 builds):\n" + profile)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": {
            "quick": s.quick,
            "settings": asdict(s),
            "versions": info,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "seconds": elapsed,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "results": [r.as_json() for r in results],
    }
    args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.output}")
    failed = any(r.status == "FAIL" for r in results)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
