"""Scenario ``preview``: time and size of the build preview of very large and very wide frames.

What is measured: building both mime types (``text/plain`` and ``text/html``) of a fresh
``nbassets.render.preview.Preview`` for

1. a pandas DataFrame of 10,000,000 rows x 20 columns: 9 int64, 10 float64 (one NaN every
   1,000 rows) and one categorical of 5 values;
2. a pandas DataFrame of 1,000 rows x 5,000 float64 columns;
3. the frame of (1) as a polars DataFrame and as a pyarrow Table (same arrays, zero-copy
   where Arrow allows).

Each case runs once as a warmup, then 5 times; the figure is the median wall time of one
``_repr_mimebundle_()`` call (a new ``Preview`` each time, so nothing is cached), and the
output size is the UTF-8 bytes of both mime types together. Targets: < 200 ms and < 200 KB
per case. Building the frames is not timed. About 2 GB of memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .benchlib import Context, Result, median, ms, time_calls

TARGET_MS = 200.0
TARGET_KB = 200.0


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
        elapsed, kb = measure(value, repeats)
        del value
        note = f"median of {repeats} after a warmup; both mime types"
        results += [
            Result(f"{name}: time", elapsed, "ms", target=TARGET_MS, op="<", note=note),
            Result(f"{name}: size", kb, "KB", target=TARGET_KB, op="<"),
        ]
    return results


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

    return [
        (f"pandas {rows:,} x 20", pandas_tall),
        ("pandas 1,000 x 5,000", pandas_wide),
        (f"polars {rows:,} x 20", polars_tall),
        (f"pyarrow {rows:,} x 20", arrow_tall),
    ]


def measure(value: Any, repeats: int) -> tuple[float, float]:
    """Median milliseconds of one mime bundle (after a warmup) and its size in KB."""
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
    return ms(median(times)), size / 1024
