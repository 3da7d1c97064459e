"""Benchmark of the build preview: time and size of ``Preview(...)._repr_mimebundle_()``.

What is measured: building both mime types (``text/plain`` and ``text/html``) of a fresh
``nbassets.render.preview.Preview`` for

1. a pandas DataFrame of 10,000,000 rows x 20 columns: 9 int64, 10 float64 (one NaN every
   1,000 rows) and one categorical of 5 values;
2. a pandas DataFrame of 1,000 rows x 5,000 float64 columns;
3. the frame of (1) as a polars DataFrame and (4) as a pyarrow Table (same arrays, zero-copy
   where Arrow allows).

Each case runs once as a warmup, then 5 times; the figure is the median wall time of one
``_repr_mimebundle_()`` call (a new ``Preview`` each time, so nothing is cached), and the
output size is the UTF-8 bytes of both mime types together. Targets: < 200 ms and < 200 KB
per case; each prints PASS or FAIL. Building the frames is not timed.

Run from the repository root (about 8 s and 2 GB of memory on 2 cores)::

    python benchmarks/bench_preview.py            # full run
    python benchmarks/bench_preview.py --quick    # smoke run: 1,000,000 rows, 3 repetitions
    python benchmarks/bench_preview.py --strict   # exit 1 when a target is missed

``--quick`` uses fewer rows than the targets assume, so its PASS/FAIL only shows that
everything runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from nbassets.render.preview import Preview, PreviewFacts

TARGET_MS = 200.0
TARGET_KB = 200.0


def tall_columns(rows: int) -> dict[str, np.ndarray]:
    """9 int64 and 10 float64 columns (NaN every 1,000 rows), each its own array."""
    rng = np.random.default_rng(0)
    columns: dict[str, np.ndarray] = {}
    for i in range(19):
        if i % 2:
            values = rng.standard_normal(rows)
            values[::1000] = np.nan
            columns[f"x{i}"] = values
        else:
            columns[f"n{i}"] = np.arange(rows, dtype=np.int64) * (i + 1)
    return columns


def cases(rows: int) -> list[tuple[str, Callable[[], Any]]]:
    """(name, builder) of each benchmarked value; built one at a time to bound memory."""
    codes = (np.arange(rows) % 5).astype(np.int8)
    labels = ["north", "south", "east", "west", "online"]

    def pandas_tall() -> Any:
        category = pd.Categorical.from_codes(codes, labels)
        return pd.DataFrame({**tall_columns(rows), "region": category}, copy=False)

    def arrow_tall() -> Any:
        region = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels))
        arrays = {name: pa.array(values) for name, values in tall_columns(rows).items()}
        return pa.table({**arrays, "region": region})

    def polars_tall() -> Any:
        return pl.from_arrow(arrow_tall())

    def pandas_wide() -> Any:
        return pd.DataFrame(np.random.default_rng(1).standard_normal((1_000, 5_000)), copy=False)

    return [
        (f"pandas {rows:,} x 20", pandas_tall),
        ("pandas 1,000 x 5,000", pandas_wide),
        (f"polars {rows:,} x 20", polars_tall),
        (f"pyarrow {rows:,} x 20", arrow_tall),
    ]


def measure(value: Any, repeats: int) -> tuple[float, float]:
    """Median milliseconds of one mime bundle (after a warmup) and its size in KB."""
    facts = PreviewFacts("bench", "dev-bench-main", "0123456789abcdef", None, None, 0, 1.0)
    Preview(value, facts)._repr_mimebundle_()
    times, size = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        shown = Preview(value, facts)._repr_mimebundle_()
        times.append(time.perf_counter() - start)
        size = sum(len(text.encode()) for text in shown.values())
    return statistics.median(times) * 1000, size / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows, 3 repetitions")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    rows, repeats = (1_000_000, 3) if args.quick else (10_000_000, 5)

    print(f"{'case':<26} {'median ms':>10} {'output KB':>10}  result")
    missed = 0
    for name, build in cases(rows):
        value = build()
        ms, kb = measure(value, repeats)
        del value
        ok = ms < TARGET_MS and kb < TARGET_KB
        missed += not ok
        print(f"{name:<26} {ms:>10.1f} {kb:>10.1f}  {'PASS' if ok else 'FAIL'}")
    print(
        f"targets: < {TARGET_MS:.0f} ms and < {TARGET_KB:.0f} KB per preview; median of {repeats}"
    )
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
