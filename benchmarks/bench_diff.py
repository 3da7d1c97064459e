"""Scenario ``diff``: ``nbassets.diff.diff_tables`` of two 1,000,000-row Parquet files.

Two frames of 1,000,000 rows x 10 mixed columns (``id`` int64 key, two more int64, three
float64, a string column with 1,000 distinct values, bool, datetime64, categorical) differ
by 0.5 % rows removed, 0.5 % rows added, 1 % rows changed (in ``price`` and ``city``) and one
added column; they are written with pyarrow as snappy Parquet, as a build writes them, into
a temporary folder (page cache warm after the warmup).

``diff_tables(old, new, key=["id"])``: one warmup, then the median of 3 runs. Target: < 2 s.
Correctness: the counts it reports equal the ones built in. The same without a key (row
counts, columns, column summaries) is reported for information.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .benchlib import MB, Context, Result, median, time_calls

TARGET_SECONDS = 2.0


def run(ctx: Context) -> list[Result]:
    from nbassets.diff import diff_tables
    from nbassets.render.diffview import summary_line

    rows = ctx.size("rows", 1_000_000, 100_000)
    runs = ctx.size("runs", 3, 3)
    ctx.progress(f"two {rows:,}-row frames")
    old_frame, new_frame, expected = make_frames(rows)
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-diff-") as folder:
        old = write(old_frame, Path(folder) / "old.parquet")
        new = write(new_frame, Path(folder) / "new.parquet")
        megabytes = [path.stat().st_size / MB for path in (old, new)]
        sizes = "Parquet files of {:.1f} and {:.1f} MB".format(*megabytes)
        del old_frame, new_frame
        found: list[Any] = []
        ctx.progress("diff_tables with and without a key")
        keyed = time_calls(lambda: found.append(diff_tables(old, new, key=["id"])), runs, 1)
        plain = time_calls(lambda: diff_tables(old, new), runs, 1)
    diff = found[-1]
    wrong = wrong_counts(diff, expected)
    return [
        Result(
            f"diff_tables of {rows:,} x 10 rows, key ['id'], median",
            median(keyed),
            "s",
            target=TARGET_SECONDS,
            op="<",
            note=f"{runs} runs after a warmup: {seconds(keyed)} s; {sizes}",
        ),
        Result(
            "the same without a key, median",
            median(plain),
            "s",
            note=f"runs {seconds(plain)} s; row counts, columns, column summaries",
        ),
        Result(
            "keyed diff: counts as built",
            float(not wrong),
            "bool",
            target=1.0,
            op="==",
            check=True,
            note="; ".join(wrong) or summary_line(diff),
        ),
    ]


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


def seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in values)


def wrong_counts(diff: Any, expected: dict[str, int]) -> list[str]:
    """Differences between the counts the diff reports and the ones built into the data."""
    got = {"added": diff.added_rows, "removed": diff.removed_rows, "changed": diff.changed_rows}
    wrong = [f"{k}: expected {v:,}, got {got[k]}" for k, v in expected.items() if got[k] != v]
    if diff.added_columns != ["channel"]:
        wrong.append(f"added columns: expected ['channel'], got {diff.added_columns}")
    return wrong
