"""Benchmark of ``nbassets.diff.diff_tables``: a data diff of two 1,000,000-row Parquet files.

What is measured (one process, files in a temporary folder, page cache warm after the warmup):

1. Two frames of 1,000,000 rows x 10 mixed columns (``id`` int64 key, two more int64, three
   float64, a string column with 1,000 distinct values, bool, datetime64, categorical) that differ
   by 0.5 % rows removed, 0.5 % rows added, 1 % rows changed (in ``price`` and ``city``) and one
   added column, written with pyarrow as snappy Parquet, as ``Store.write`` writes them.
2. ``diff_tables(old, new, key=["id"])``: one warmup, then the median of 3 runs.
   Target: < 2.0 s. The counts it reports are checked against the ones built in.
3. The same without a key (row counts, columns, column summaries), median of 3: informational.

``--quick`` uses 100,000 rows, so its PASS/FAIL only shows that everything runs.

Run from the repository root::

    python benchmarks/bench_diff.py            # full run, about 12 s on 2 cores
    python benchmarks/bench_diff.py --quick    # smoke run, about 2 s
    python benchmarks/bench_diff.py --strict   # exit 1 when the target is missed

The exit status is 0 unless the script fails, the counts are wrong, or ``--strict`` and FAIL.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing nbassets

from nbassets.diff import DataDiff, diff_tables  # noqa: E402

TARGET_SECONDS = 2.0
RUNS = 3


def make_frames(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The old and new frames, and the row counts a keyed diff must report."""
    rng = np.random.default_rng(seed)
    old = pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "qty": rng.integers(0, 100, rows),
            "store": rng.integers(0, 50, rows),
            "price": rng.random(rows) * 100,
            "discount": rng.random(rows),
            "weight": rng.normal(size=rows),
            "city": pd.Series(rng.integers(0, 1000, rows)).map("city-{}".format),
            "flag": rng.random(rows) < 0.5,
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, rows), "s"),
            "segment": pd.Categorical(rng.choice(["retail", "pro", "public"], rows)),
        }
    )
    removed, added, changed = rows // 200, rows // 200, rows // 100
    new = old.iloc[removed:].copy()  # the first ids are removed
    touched = rng.choice(new.index.to_numpy(), changed, replace=False)
    new.loc[touched[: changed // 2], "price"] += 1.0
    new.loc[touched[changed // 2 :], "city"] = "city-moved"
    extra = old.sample(added, random_state=seed).assign(id=np.arange(rows, rows + added))
    new = pd.concat([new, extra], ignore_index=True)
    new["channel"] = rng.choice(["web", "shop"], len(new))  # the added column
    expected = {"added": added, "removed": removed, "changed": changed}
    return old, new, expected


def write(frame: pd.DataFrame, path: Path) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="snappy")
    return path


def timed(call: Callable[[], DataDiff]) -> tuple[float, list[float], DataDiff]:
    """Median and all of ``RUNS`` timings of ``call`` after one warmup, and its last result."""
    result = call()
    seconds = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), seconds, result


def seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def check_counts(diff: DataDiff, expected: dict[str, int]) -> list[str]:
    """Differences between the counts the diff reports and the ones built into the data."""
    got = {"added": diff.added_rows, "removed": diff.removed_rows, "changed": diff.changed_rows}
    wrong = [f"{k}: expected {v:,}, got {got[k]}" for k, v in expected.items() if got[k] != v]
    if diff.added_columns != ["channel"]:
        wrong.append(f"added columns: expected ['channel'], got {diff.added_columns}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    rows = 100_000 if args.quick else 1_000_000

    print(f"[bench_diff] building two {rows:,}-row frames ...", file=sys.stderr, flush=True)
    old_frame, new_frame, expected = make_frames(rows)
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-diff-") as folder:
        old = write(old_frame, Path(folder) / "old.parquet")
        new = write(new_frame, Path(folder) / "new.parquet")
        sizes = f"{old.stat().st_size / 2**20:.1f} MB and {new.stat().st_size / 2**20:.1f} MB"
        del old_frame, new_frame
        keyed, keyed_runs, diff = timed(lambda: diff_tables(old, new, key=["id"]))
        plain, plain_runs, _ = timed(lambda: diff_tables(old, new))

    wrong = check_counts(diff, expected)
    status = "PASS" if keyed < TARGET_SECONDS else "FAIL"
    print(
        f"diff_tables benchmark ({'quick: ' if args.quick else ''}{rows:,} rows x 10 columns; "
        f"Parquet files of {sizes})\n"
        f"machine: {platform.python_version()}, {os.cpu_count()} cores, "
        f"duckdb {duckdb.__version__}\n"
        f"  with key ['id']  median {keyed:.3f} s  (runs {seconds(keyed_runs)})  "
        f"target < {TARGET_SECONDS:.1f} s  {status}\n"
        f"  without a key    median {plain:.3f} s  (runs {seconds(plain_runs)})  info\n"
        f"  {diff.summary_line()}\n"
        f"  counts {'as built' if not wrong else 'WRONG: ' + '; '.join(wrong)}"
    )
    if wrong:
        return 1
    return 1 if args.strict and status == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
