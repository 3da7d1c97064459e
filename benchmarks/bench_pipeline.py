"""Pipeline benchmarks of nbassets: exporting a large notebook, and materializing a long chain.

What is measured (all in one process, except the fresh-process export figure):

1. Export of a generated notebook of 200 code cells and 12 markdown cells in a temporary
   project (``pyproject.toml`` holding ``[tool.nbassets]``, no git repository):
   ``%load_ext``, 10 exported cells (tag ``export`` or first line ``# nbassets: export``:
   numpy/pandas and other imports, constants, helper functions, a small dataclass), 100
   ``%%asset`` cells (sources built by the helpers, chains, fan-ins of 2-3 earlier assets,
   5 ``--sql`` joins, 4 ``--io json`` summaries, ``--key``/``--desc``, 34 with ``--check``
   rules, some lines continued with a backslash), 20 ``%%check`` cells (some reading two
   assets) and 69 exploratory cells (``.describe()``, ``%timeit``, ``%%time``, ``!ls``,
   scratch variables). Timed: ``export_notebooks(Project.find(tmp), [notebook])``,
   1 warmup + 5 runs, median:
   (a) the package deleted before each run, so its 3 files are written again;
   (b) the package left in place, so every file is found unchanged (nothing written);
   (c) as (a), with nbassets' parse caches (``functools.lru_cache``: cell analysis, SQL
   parsing) cleared before each run, as in a fresh ``nbassets export`` process;
   (d) ``check=True`` (``nbassets export --check``) on the up-to-date package;
   (e) the whole export in a fresh ``python -c`` process (interpreter start and imports).
   Targets: (a) and (c) < 1 s. The first call in this process (imports, cold caches) is
   reported for information. Correctness: the package loads with 100 assets and 20
   checks; then ``materialize`` builds it into ``ci-export`` (SQL, rules and checks run),
   which must succeed with every asset built (its time is informational).

2. ``materialize(Project.find(tmp), "ci-bench", progress=False)`` of an exported notebook
   whose 500 asset cells form a chain: ``a000`` is a 100-row frame (``id``, ``v`` = 0),
   ``aNNN = aPPP.assign(v=aPPP.v + 1)``. Each asset is a full build: Parquet file, xxh3,
   fsync of file and folder, SQLite record, and its input read back from the store. After
   a warmup build of ``+a004`` into another env, the whole chain is timed once (loading
   the package included); the figure is total / 500. Two more builds into fresh envs show
   the spread, and a third, under cProfile, how much of it is fsync. The disk's own floor
   (mkdir, write 4 KB, fsync the file, rename, fsync the folder: what any crash-safe store
   pays per new key) is measured just before and just after the timed run, to tell a slow
   disk (other processes' I/O) from slow code.
   Peers, the same chain (``@dg.asset`` with ``ins={"up": AssetIn(previous)}``), each run
   once after a 5-asset warmup: Dagster ``materialize(assets)`` with its in-memory IO
   manager; Dagster with a persistent instance (``DagsterInstance.local_temp``: SQLite run
   and event storage) and ``FilesystemIOManager`` (pickle files, not fsynced). Dagster's
   console logger is set to ERROR (its event log is still written), which only makes
   Dagster faster. Target: Dagster persistent per asset / nbassets per asset >= 20, for
   the one ``ci-bench`` run (the note gives the ratio against the median of the 3 runs).

3. Correctness of (2), inside the benchmark: ``ci-bench``'s catalog has 500 latest records,
   one per key; ``nbassets.load("a499", env="ci-bench")`` equals the expected frame
   (``id`` 0..99, ``v`` = 499, both int64); Dagster's last output is checked the same way.

Each figure with a target prints PASS or FAIL; the rest are informational. Results are
printed as a table and written as JSON to ``benchmarks/results/pipeline.json``. A cProfile
of the nbassets path (export with cold caches, and materialize of the chain) is printed
with ``--profile`` or when that path misses its target. ``--quick`` uses a 40-cell
notebook (20 assets) and a 50-asset chain, so its PASS/FAIL only shows that everything
runs. Noise: fsync latency on a shared disk swings several-fold while other processes
write; read the durable-write floor and the spread of the runs before the ratio.

Run from the repository root (about 65 s on 2 cores, most of it Dagster; ``--quick``
about 10 s)::

    python benchmarks/bench_pipeline.py            # full run
    python benchmarks/bench_pipeline.py --quick    # smoke run: smaller notebook and chain
    python benchmarks/bench_pipeline.py --no-peers --strict   # skip Dagster; exit 1 on FAIL
    python benchmarks/bench_pipeline.py --profile  # also print the cProfiles

The exit status is 0 unless the script itself fails (or ``--strict`` and a target is missed).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from benchlib import PACKAGE, Result, ms, render, temporary_project, timed, versions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_FILE = HERE / "results" / "pipeline.json"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing nbassets

VERSIONED = ("nbassets", "pandas", "pyarrow", "duckdb", "dagster")
CHAIN_ROWS = 100
EXPORT_TARGET_S = 1.0
SPEEDUP_TARGET = 20.0


# results


@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions; ``--quick`` cuts them down for a smoke run."""

    quick: bool
    code_cells: int = 200
    assets: int = 100
    checks: int = 20
    export_reps: int = 5
    process_reps: int = 3
    chain: int = 500
    dagster_chain: int = 500
    extra_chain_runs: int = 2

    @classmethod
    def make(cls, quick: bool) -> Settings:
        if not quick:
            return cls(quick=False)
        return cls(
            quick=True,
            code_cells=40,
            assets=20,
            checks=4,
            export_reps=3,
            process_reps=1,
            chain=50,
            dagster_chain=50,
            extra_chain_runs=2,
        )


# helpers


def clear_parse_caches() -> int:
    """Clear the ``functools.lru_cache`` of every nbassets function; how many were cleared."""
    cleared = 0
    for name, module in list(sys.modules.items()):
        if name != "nbassets" and not name.startswith("nbassets."):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                value.cache_clear()
                cleared += 1
    return cleared


def profile_call(fn: Callable[[], Any], top: int = 25) -> tuple[str, dict[str, float]]:
    """cProfile of one call of ``fn``: the top entries by cumulative and by own time, and
    the own seconds of a few built-ins worth naming (``fsync``, ``mkdir``)."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    wanted = {"<built-in method posix.fsync>": "fsync", "<built-in method posix.mkdir>": "mkdir"}
    own = {name: 0.0 for name in wanted.values()}
    for (_, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if function in wanted:
            own[wanted[function]] += tottime
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue(), own


def durable_write_floor(folder: Path, reps: int = 100) -> list[float]:
    """Seconds per durable write of 4 KB, done as nbassets' storage does it for a new key.

    Make the key's folder, create a temporary file in it, write, fsync the file, rename
    it, fsync the folder: the least any store that survives a crash pays per asset. It
    tells a slow disk (fsync latency) from slow code.
    """
    payload = os.urandom(4096)
    times = []
    for i in range(reps):
        start = time.perf_counter()
        path = folder / f"k{i:04d}"
        path.mkdir(parents=True)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = os.open("tmp", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
            try:
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace("tmp", "v.bin", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        times.append(time.perf_counter() - start)
    return times


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    """An ``.ipynb`` of ``(kind, source)`` cells; kind ``export`` is a code cell tagged export."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    made = []
    for index, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if kind == "export":
            cell.metadata["tags"] = ["export"]
        cell["id"] = f"cell-{index:04d}"
        made.append(cell)
    notebook = new_notebook(
        cells=made,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    nbformat.validate(notebook)
    nbformat.write(notebook, path)


# 1. export of a large notebook

HELPERS: list[tuple[str, str]] = [
    ("code", "# nbassets: export\nimport numpy as np\nimport pandas as pd"),
    (
        "export",
        "from datetime import date\n\n"
        "N_ROWS = 100\n"
        'REGIONS = ("north", "south", "east", "west")\n'
        "TAX = 0.2  # applied to every amount\n"
        "START = date(2024, 1, 1)",
    ),
    (
        "export",
        "def base_frame(n, seed):\n"
        '    """n rows of ids, regions, amounts and quantities."""\n'
        "    rng = np.random.default_rng(seed)\n"
        "    ids = np.arange(n, dtype=np.int64)\n"
        "    return pd.DataFrame(\n"
        "        {\n"
        '            "id": ids,\n'
        '            "region": [REGIONS[i % len(REGIONS)] for i in ids],\n'
        '            "amount": rng.gamma(2.0, 50.0, n).round(2),\n'
        '            "qty": rng.integers(1, 10, n),\n'
        "        }\n"
        "    )",
    ),
    (
        "code",
        "# nbassets: export\n"
        "def with_tax(amount):\n"
        '    """The amount with tax, to the cent."""\n'
        "    return (amount * (1 + TAX)).round(2)",
    ),
    (
        "export",
        "def scale(frame, factor):\n"
        "    out = frame.copy()\n"
        '    out["amount"] = (out["amount"] * factor).round(2)\n'
        "    return out",
    ),
    (
        "export",
        "def combine(*frames):\n"
        '    """Amounts and quantities of several frames, summed per id and region."""\n'
        "    joined = pd.concat(frames, ignore_index=True)\n"
        '    return joined.groupby(["id", "region"], as_index=False).agg(\n'
        '        amount=("amount", "sum"), qty=("qty", "sum")\n'
        "    )",
    ),
    (
        "export",
        "import math\n\n"
        "LOG_BASE = math.e\n\n\n"
        "def clip_amounts(frame, low, high):\n"
        '    return frame.assign(amount=frame["amount"].clip(low, high))',
    ),
    (
        "export",
        "from dataclasses import dataclass\n\n\n"
        "@dataclass(frozen=True)\n"
        "class Band:\n"
        "    low: float\n"
        "    high: float\n\n"
        "    def contains(self, value):\n"
        "        return self.low <= value < self.high\n\n\n"
        'BANDS = {"small": Band(0, 50), "medium": Band(50, 200), "large": Band(200, math.inf)}',
    ),
    (
        "code",
        "# nbassets: export\n"
        "def band_of(amount):\n"
        "    return next((name for name, b in BANDS.items() if b.contains(amount)), "
        '"negative")',
    ),
    (
        "export",
        "HOLIDAYS = frozenset(date(2024, month, 1) for month in (1, 5, 12))\n\n\n"
        "def is_holiday(day):\n"
        "    return day in HOLIDAYS",
    ),
]
TOPICS = ("orders", "customers", "payments", "sessions", "products")


def asset_key(i: int) -> str:
    return f"{TOPICS[i % len(TOPICS)]}_{i:03d}"


def asset_cell(i: int, frames: list[str]) -> tuple[str, bool]:
    """The source of asset cell ``i``, and whether its value is a frame (others are dicts)."""
    key = asset_key(i)
    rules = ""
    if i % 7 == 0:
        rules = ' --check \'not_null("id", "amount")\' --check \'unique("id")\''
    elif i % 7 == 3:
        rules = (
            ' \\\n    --check \'between("amount", -1e9, 1e9, severity="warn")\''
            " --check 'row_count(min=1)'"
        )
    elif i % 11 == 5:
        rules = ' --check \'accepted_values("region", ["north", "south", "east", "west"])\''
    if not frames or i % 10 == 0:
        return (
            f"%%asset {key} --key id --desc 'raw {TOPICS[i % len(TOPICS)]}'{rules}\n"
            f"# a source: N_ROWS rows from the helpers\n"
            f"{key} = base_frame(N_ROWS, seed={i})"
        ), True
    up = frames[-1]
    if i % 25 == 24:
        return (
            f"%%asset {key} --io json\n"
            f'{{"rows": len({up}), "total": float({up}.amount.sum()), "start": str(START)}}'
        ), False
    if i % 20 == 13 and len(frames) >= 2:
        other = frames[-2]
        return (
            f"%%asset {key} --sql --key id{rules}\n"
            f"-- amounts of {up} with the quantities of {other}\n"
            f"SELECT a.id, a.region, a.amount, coalesce(b.qty, 0) AS qty\n"
            f"FROM {up} AS a\n"
            f"LEFT JOIN {other} AS b ON a.id = b.id\n"
            f"ORDER BY a.id"
        ), True
    if i % 10 in (3, 6, 9) and len(frames) >= 3:
        ups = [frames[-1], frames[-3]] + ([frames[-6]] if i % 10 == 9 and len(frames) >= 6 else [])
        return f"%%asset {key} --key id{rules}\ncombine({', '.join(ups)})", True
    variant = i % 5
    body = [
        f'frame = {up}.copy()\nframe["amount"] = with_tax(frame["amount"])\n{key} = frame',
        f"scale({up}, {1 + (i % 4) / 10})",
        f"# one more item per row\n{up}.assign(qty={up}.qty + 1)",
        f"{key} = clip_amounts({up}, 0, 10_000)",
        f"out = {up}.assign(amount=[round(a, 2) for a in {up}.amount])\n"
        f'out["band"] = [band_of(a) for a in out.amount]\n{key} = out',
    ][variant]
    return f"%%asset {key}{rules}\n{body}", True


def check_cell(n: int, frames: list[str]) -> str:
    key = frames[-1]
    if n % 3 == 0:
        return f"%%check {key} --name ids_non_negative\nassert ({key}.id >= 0).all(), 'ids < 0'"
    if n % 3 == 1 or len(frames) < 2:
        return f"%%check {key} --severity warn\n{key}[{key}.amount.isna()]"
    other = frames[-2]
    return (
        f"%%check {key} --name not_more_rows_than_{other}\n"
        f"assert len({key}) <= len({other}) + N_ROWS"
    )


def exploratory_cell(n: int, frames: list[str]) -> str:
    key = frames[-1]
    return [
        f"{key}.describe()",
        f"scratch_{n} = {key}.head(3)\nscratch_{n}",
        f"%timeit {key}.amount.sum()",
        f"%%time\n{key}.groupby('region').amount.mean()",
        f"len({key}), {key}.amount.mean()  # quick look",
        f"!ls -la .nbassets | head -3\nsample_{n} = {key}.sample(5, random_state={n})",
    ][n % 6]


def export_notebook_cells(s: Settings) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The cells of the export notebook, and how many of each kind it has."""
    cells: list[tuple[str, str]] = [
        ("md", "# A large notebook: helpers, sources, chains, fan-ins, SQL and checks"),
        ("code", "%load_ext nbassets"),
        ("md", "## Helpers (exported)"),
        *HELPERS,
    ]
    exploratory = s.code_cells - 1 - len(HELPERS) - s.assets - s.checks
    counts = {"assets": 0, "sql": 0, "json": 0, "rules": 0, "checks": 0, "exploratory": 0}
    frames: list[str] = []
    for i in range(s.assets):
        if i % 10 == 0:
            cells.append(("md", f"## Part {i // 10 + 1}\n\nSources and what is derived from them."))
        source, is_frame = asset_cell(i, frames)
        cells.append(("code", source))
        counts["assets"] += 1
        counts["sql"] += " --sql" in source.split("\n")[0]
        counts["json"] += "--io json" in source
        counts["rules"] += "--check" in source
        if is_frame:
            frames.append(asset_key(i))
        due_checks = (i + 1) * s.checks // s.assets - i * s.checks // s.assets
        for _ in range(due_checks):
            cells.append(("code", check_cell(counts["checks"], frames)))
            counts["checks"] += 1
        due = (i + 1) * exploratory // s.assets - i * exploratory // s.assets
        for _ in range(due):
            cells.append(("code", exploratory_cell(counts["exploratory"], frames)))
            counts["exploratory"] += 1
    counts["code_cells"] = sum(kind != "md" for kind, _ in cells)
    counts["markdown"] = sum(kind == "md" for kind, _ in cells)
    return cells, counts


FRESH_PROCESS = """
import sys, time
start = time.perf_counter()
from pathlib import Path
from nbassets.config import Project
from nbassets.exporter import export_notebooks
result = export_notebooks(Project.find(sys.argv[1]), [Path(sys.argv[2])])
assert len(result.written) == 3, result
print(time.perf_counter() - start)
"""


def export_in_fresh_process(root: Path, notebook: Path) -> tuple[float, float]:
    """Wall seconds of a fresh ``python -c`` export (package deleted first), and its own time."""
    shutil.rmtree(root / PACKAGE, ignore_errors=True)
    command = [sys.executable, "-c", FRESH_PROCESS, str(root), str(notebook)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"child exited {done.returncode}: {tail[0]}"[:200])
    return wall, float(done.stdout.strip().splitlines()[-1])


def bench_export(s: Settings) -> tuple[list[Result], str]:
    """Section 1; also the cProfile text of one export with cold caches."""
    from nbassets.config import Project
    from nbassets.exporter import export_notebooks
    from nbassets.package import load_package
    from nbassets.pipeline import materialize

    sec = "1 export"
    cells, counts = export_notebook_cells(s)
    results: list[Result] = []
    with temporary_project("nbassets-bench-export-") as root:
        notebook = root / "notebooks" / "analysis.ipynb"
        write_notebook(notebook, cells)
        package = root / PACKAGE

        def export(check: bool = False) -> Any:
            return export_notebooks(Project.find(root), [notebook], check=check)

        def rewritten(clear: bool) -> list[float]:
            times = []
            for _ in range(s.export_reps):
                shutil.rmtree(package, ignore_errors=True)
                if clear:
                    clear_parse_caches()
                elapsed, result = timed(export)
                assert len(result.written) == 3 and not result.unchanged, result
                times.append(elapsed)
            return times

        first_s, _ = timed(export)  # imports, cold caches: the warmup
        module = package / "analysis.py"
        module_lines = len(module.read_text(encoding="utf-8").splitlines())
        times = {"rewritten": rewritten(clear=False), "cold caches": rewritten(clear=True)}
        export()  # warm the caches again
        times["unchanged"] = []
        times["check"] = []
        for _ in range(s.export_reps):
            elapsed, result = timed(export)
            assert not result.written and len(result.unchanged) == 3, result
            times["unchanged"].append(elapsed)
            elapsed, result = timed(lambda: export(check=True))
            assert not result.stale and not result.written, result
            times["check"].append(elapsed)
        check_cold = []
        for _ in range(s.export_reps):
            clear_parse_caches()
            elapsed, result = timed(lambda: export(check=True))
            assert not result.stale, result
            check_cold.append(elapsed)
        fresh = [export_in_fresh_process(root, notebook) for _ in range(s.process_reps)]
        clear_parse_caches()
        profile, _ = profile_call(export)

        loaded = load_package(Project.find(root))
        n_assets, n_checks = len(loaded.assets), len(loaded.checks)
        built_s, report = timed(
            lambda: materialize(Project.find(root), "ci-export", progress=False)
        )
        outcomes: dict[str, int] = {}
        for check in report.checks:
            outcomes[check.outcome] = outcomes.get(check.outcome, 0) + 1

    shape = (
        f"{counts['code_cells']} code + {counts['markdown']} markdown cells: "
        f"{counts['assets']} assets ({counts['sql']} SQL, {counts['json']} json, "
        f"{counts['rules']} with rules), {counts['checks']} checks, {len(HELPERS)} exported, "
        f"{counts['exploratory']} exploratory"
    )
    n = f"n={s.export_reps}"
    med = statistics.median
    results += [
        Result(
            sec,
            "export, package rewritten, median",
            ms(med(times["rewritten"])),
            "ms",
            target=ms(EXPORT_TARGET_S),
            op="<",
            note=f"package deleted before each run: 3 files written; {n}, "
            f"min {ms(min(times['rewritten'])):.0f}; {shape}; module {module_lines} lines",
            data={"counts": counts, "times_s": times["rewritten"]},
        ),
        Result(
            sec,
            "export, package unchanged, median",
            ms(med(times["unchanged"])),
            "ms",
            note=f"the steady state of re-exporting: 3 files read, found equal, none written; {n}",
        ),
        Result(
            sec,
            "export, rewritten, parse caches cleared",
            ms(med(times["cold caches"])),
            "ms",
            target=ms(EXPORT_TARGET_S),
            op="<",
            note=f"lru caches of cell and SQL analysis cleared before each run, as in a fresh "
            f"process; {n}",
        ),
        Result(
            sec,
            "export --check (check=True), up to date",
            ms(med(times["check"])),
            "ms",
            note=f"{n}; with parse caches cleared: {ms(med(check_cold)):.1f} ms",
        ),
        Result(
            sec,
            "export in a fresh python process, wall",
            ms(med(w for w, _ in fresh)),
            "ms",
            note=f"interpreter start + imports + export; inside the child "
            f"{ms(med(c for _, c in fresh)):.0f} ms (imports + export); n={s.process_reps}",
        ),
        Result(
            sec,
            "first export in this process",
            ms(first_s),
            "ms",
            note="the warmup: imports nbassets' exporter modules and duckdb, cold caches",
        ),
        Result(
            sec,
            "exported package: assets loaded",
            n_assets,
            "assets",
            target=counts["assets"],
            op="==",
            note=f"{n_checks} checks (expected {counts['checks']})",
        ),
        Result(
            sec,
            "materialize of the exported package, ok",
            float(report.ok and len(report.built) == n_assets and n_checks == counts["checks"]),
            "bool",
            target=1.0,
            op="==",
            note=f"{len(report.built)} built, {len(report.failed)} failed, {len(report.skipped)} "
            f"skipped in {built_s:.2f} s ({ms(built_s) / max(n_assets, 1):.1f} ms per asset); "
            f"{len(report.checks)} rule and check results: "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
            data={"failed": report.failed},
        ),
    ]
    return results, profile


# 2. materialize of a chain


def chain_key(i: int) -> str:
    return f"a{i:03d}"


def chain_cells(n: int) -> list[tuple[str, str]]:
    cells: list[tuple[str, str]] = [
        ("md", f"# A chain of {n} assets"),
        ("code", "%load_ext nbassets"),
        ("code", "# nbassets: export\nimport numpy as np\nimport pandas as pd"),
        (
            "code",
            f"%%asset {chain_key(0)}\n"
            f'{chain_key(0)} = pd.DataFrame({{"id": np.arange({CHAIN_ROWS}), '
            f'"v": np.zeros({CHAIN_ROWS}, dtype=np.int64)}})',
        ),
    ]
    for i in range(1, n):
        key, up = chain_key(i), chain_key(i - 1)
        cells.append(("code", f"%%asset {key}\n{key} = {up}.assign(v={up}.v + 1)"))
    return cells


def expected_last(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(CHAIN_ROWS, dtype=np.int64),
            "v": np.full(CHAIN_ROWS, n - 1, dtype=np.int64),
        }
    )


def matching_rows(value: Any, n: int) -> int:
    """Rows of ``value`` equal to the last frame of an ``n``-chain (0 when the shape differs)."""
    expected = expected_last(n)
    if not isinstance(value, pd.DataFrame) or list(value.columns) != list(expected.columns):
        return 0
    if len(value) != len(expected) or any(value[c].dtype != np.int64 for c in expected.columns):
        return 0
    frame = value.reset_index(drop=True)
    return int((frame == expected).all(axis=1).sum())


@dataclass
class ChainRun:
    """The nbassets side of section 2, kept for the comparison with the peers."""

    per_asset_ms: float  # the one timed run into ci-bench
    median_ms: float  # median per asset over that run and the extra ones
    results: list[Result]
    profile: str


def bench_chain(s: Settings) -> ChainRun:
    """Section 2 (nbassets) and section 3 (its correctness)."""
    from nbassets import load
    from nbassets.config import Project
    from nbassets.exporter import export_notebooks
    from nbassets.package import load_package
    from nbassets.pipeline import materialize
    from nbassets.store.sqlite_catalog import SqliteCatalog

    n = s.chain
    with temporary_project("nbassets-bench-chain-") as root:
        notebook = root / "notebooks" / "chain.ipynb"
        write_notebook(notebook, chain_cells(n))
        export_s, _ = timed(lambda: export_notebooks(Project.find(root), [notebook]))
        load_s, package = timed(lambda: load_package(Project.find(root)))
        assert len(package.assets) == n, len(package.assets)

        def build(env: str, selection: tuple[str, ...] = ("*",)) -> Any:
            return materialize(Project.find(root), env, selection, progress=False)

        warm = build("ci-warmup", (f"+{chain_key(4)}",))
        assert warm.built == [chain_key(i) for i in range(5)], warm.built
        floor_before = durable_write_floor(root / "floor-before")
        total_s, report = timed(lambda: build("ci-bench"))
        floor_after = durable_write_floor(root / "floor-after")
        extra = []
        for run in range(s.extra_chain_runs):
            elapsed, again = timed(functools.partial(build, f"ci-bench-{run + 2}"))
            assert len(again.built) == n
            extra.append(elapsed)
        start = time.perf_counter()
        profile, own = profile_call(lambda: build("ci-profile"))
        profiled_s = time.perf_counter() - start

        # 3. correctness, read back from the store as a user would
        catalog = SqliteCatalog(root / ".nbassets" / "ci-bench" / "catalog.sqlite", writable=False)
        latest = catalog.latest()
        catalog.close()
        keys_ok = set(latest) == {chain_key(i) for i in range(n)}
        last = load(chain_key(n - 1), env="ci-bench", project=Project.find(root))
        last_rows = matching_rows(last, n)

    per_asset = ms(total_s) / n
    spread = ", ".join(f"{ms(t) / n:.2f}" for t in extra)
    results = [
        Result(
            "2 chain",
            f"nbassets materialize, {n}-asset chain, per asset",
            per_asset,
            "ms",
            note=f"total {total_s:.2f} s, one run; {len(report.built)} built, "
            f"{len(report.failed)} failed"
            + (f"; runs into fresh envs: {spread} ms per asset" if extra else "")
            + f"; {CHAIN_ROWS}-row frames, Parquet + fsync + SQLite record each",
            data={"total_s": total_s, "extra_runs_s": extra},
        ),
        Result(
            "2 chain",
            "  of which: load_package (import the module)",
            ms(load_s),
            "ms",
            note=f"{ms(load_s) / n:.3f} ms per asset; export of the chain notebook took "
            f"{ms(export_s):.0f} ms (not part of the figure)",
        ),
        Result(
            "2 chain",
            "  of which: fsync, in a profiled run",
            ms(own["fsync"]) / n,
            "ms",
            note=f"2 fsyncs per asset (file, folder); that run took {ms(profiled_s) / n:.2f} ms "
            f"per asset under cProfile, mkdir {ms(own['mkdir']) / n:.2f} ms per asset",
            data={"profiled_s": profiled_s, "own_s": own},
        ),
        Result(
            "2 chain",
            "durable-write floor: mkdir + 4 KB + 2 fsyncs",
            ms(statistics.median(floor_before)),
            "ms",
            note=f"the disk, not nbassets: median of {len(floor_before)} just before the timed "
            f"run (p90 {ms(float(np.percentile(floor_before, 90))):.2f}); just after: median "
            f"{ms(statistics.median(floor_after)):.2f}, p90 "
            f"{ms(float(np.percentile(floor_after, 90))):.2f}",
            data={"before_s": floor_before, "after_s": floor_after},
        ),
        Result(
            "3 correctness",
            "ci-bench catalog: latest records",
            len(latest),
            "records",
            target=n,
            op="==",
            note="one per key a000.." + chain_key(n - 1) if keys_ok else "keys differ",
        ),
        Result(
            "3 correctness",
            f"load('{chain_key(n - 1)}', env='ci-bench'): rows as expected",
            last_rows,
            "rows",
            target=CHAIN_ROWS,
            op="==",
            note=f"id 0..{CHAIN_ROWS - 1}, v == {n - 1}, both int64",
        ),
    ]
    median = statistics.median([ms(t) / n for t in [total_s, *extra]])
    return ChainRun(per_asset, median, results, profile)


# 2 (peers). Dagster


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


def dagster_peers(s: Settings, nbassets_ms: float, nbassets_median_ms: float) -> list[Result]:
    sec = "2 chain"
    n = s.dagster_chain
    names = (
        f"dagster in-memory IO, {n}-asset chain, per asset",
        f"dagster persistent + FS IO, {n}-asset chain, per asset",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import dagster as dg
    except Exception as exc:
        reason = f"dagster not importable: {type(exc).__name__}: {exc}"
        return [Result(sec, name, None, "ms", skipped=reason) for name in names] + [
            Result(sec, "speed-up vs dagster persistent + FS IO", None, "x", skipped=reason)
        ]

    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    results: list[Result] = []
    ratios: dict[str, float] = {}

    def run(name: str, how: str, kwargs: dict[str, Any]) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warm = dg.materialize(dagster_chain(dg, 5), run_config=quiet, **kwargs)
                assert warm.success
                assets = dagster_chain(dg, n)
                elapsed, result = timed(lambda: dg.materialize(assets, run_config=quiet, **kwargs))
                assert result.success
                rows = matching_rows(result.output_for_node(chain_key(n - 1)), n)
        except Exception as exc:
            results.append(
                Result(sec, name, None, "ms", skipped=f"{type(exc).__name__}: {exc}"[:200])
            )
            return
        per_asset = ms(elapsed) / n
        ratios[name] = per_asset / nbassets_ms
        results.append(
            Result(
                sec,
                name,
                per_asset,
                "ms",
                note=f"{ratios[name]:.1f}x nbassets per asset; total {elapsed:.1f} s, one run; "
                f"{how}; last output {rows}/{CHAIN_ROWS} rows as expected",
                data={"total_s": elapsed, "ratio_vs_nbassets": ratios[name], "rows_ok": rows},
            )
        )

    run(names[0], "ephemeral instance, values in memory, nothing stored", {})
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-dagster-") as tmp:
        instance = None
        try:
            instance = dg.DagsterInstance.local_temp(
                tempdir=tmp, overrides={"telemetry": {"enabled": False}}
            )
            io_manager = dg.FilesystemIOManager(base_dir=os.path.join(tmp, "io"))
            run(
                names[1],
                "DagsterInstance.local_temp (SQLite event log), pickle files, no fsync",
                {"instance": instance, "resources": {"io_manager": io_manager}},
            )
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:200]
            results.append(Result(sec, names[1], None, "ms", skipped=reason))
        finally:
            if instance is not None:
                instance.dispose()
    speedup = ratios.get(names[1])
    results.append(
        Result(
            sec,
            "speed-up vs dagster persistent + FS IO",
            speedup,
            "x",
            target=SPEEDUP_TARGET,
            op=">=",
            note="dagster persistent per asset / nbassets per asset (the ci-bench run)"
            + (
                f"; {ratios[names[1]] * nbassets_ms / nbassets_median_ms:.1f}x against the "
                f"median of the {1 + s.extra_chain_runs} nbassets runs"
                if s.extra_chain_runs and names[1] in ratios
                else ""
            )
            + (
                f"; in-memory dagster / nbassets {ratios[names[0]]:.1f}x"
                if names[0] in ratios
                else ""
            ),
            skipped=None if speedup is not None else "dagster persistent run did not complete",
        )
    )
    return results


# report


def progress(message: str) -> None:
    print(f"[bench_pipeline] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller notebook and chain")
    parser.add_argument("--no-peers", action="store_true", help="skip Dagster")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile", action="store_true", help="print cProfiles of the nbassets export and chain"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_FILE, help="JSON results file")
    args = parser.parse_args(argv)

    os.environ["NBASSETS_USER"] = "bench"
    s = Settings.make(args.quick)
    started = time.perf_counter()

    progress(f"1. export of a {s.code_cells}-cell notebook")
    export_results, export_profile = bench_export(s)
    progress(f"2. materialize of a {s.chain}-asset chain")
    chain = bench_chain(s)
    peer_results: list[Result] = []
    if not args.no_peers:  # last: importing dagster grows the heap that later GCs walk
        progress(f"2 (peers). dagster, {s.dagster_chain}-asset chain (the slow part)")
        peer_results = dagster_peers(s, chain.per_asset_ms, chain.median_ms)
    elapsed = time.perf_counter() - started

    chain_results = [r for r in chain.results if r.section == "2 chain"]
    checks = [r for r in chain.results if r.section != "2 chain"]
    results = [*export_results, *chain_results, *peer_results, *checks]
    info = versions(VERSIONED)
    header = (
        f"nbassets pipeline benchmarks ({'quick' if s.quick else 'full'} run, {elapsed:.0f} s; "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f"; {os.cpu_count()} CPUs, {platform.system()} {platform.machine()})"
    )
    print(render(results, header, s.quick))
    export_missed = any(r.status == "FAIL" for r in export_results)
    chain_missed = any(r.status == "FAIL" for r in peer_results)
    if args.profile or export_missed:
        print("\ncProfile of one export (parse caches cleared):\n" + export_profile)
    if args.profile or chain_missed:
        print(f"\ncProfile of materialize of the {s.chain}-asset chain:\n" + chain.profile)

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
