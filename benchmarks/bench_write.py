"""Scenario ``write``: storing a large frame, against writing the same Parquet file by hand.

A 1,000,000 x 10 mixed-type DataFrame (int64 x3, float64 x3, a string column with 1,000
distinct values, bool, datetime64, categorical) is written by

- the baseline, ``pq.write_table(pa.Table.from_pandas(df), path, compression="snappy")``;
- ``nbassets.save("big", df, env="dev-bench-write")``: the production policy, then the
  store's write (temp file, xxh3 as it goes, fsync, rename, catalog record).

One value changes before each repetition, so each write stores a new version, as a
rebuild does. The two methods alternate, 1 warmup + 5 repetitions each. Target: median
ratio nbassets / baseline <= 1.15.

Peak extra memory of one write (VmHWM after a reset through ``/proc/self/clear_refs``,
minus VmRSS before the write), median of 3 fresh subprocesses per method, measured twice:
with the allocators' free pages first given back to the OS (``release_unused`` +
``malloc_trim``: what the write really needs), and with them kept (the write may reuse
pages freed while building the frame, which understates it). Target: nbassets' extra
memory <= 1.0x the frame's in-memory size.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .benchlib import MB, Context, Result, child_environ, median, ms, temporary_project

ENV = "dev-bench-write"


def run(ctx: Context) -> list[Result]:
    import nbassets

    rows = ctx.size("big_rows", 1_000_000, 100_000)
    reps = ctx.size("big_reps", 5, 2)
    ctx.progress(f"a {rows:,} x 10 frame, {reps} writes each way")
    df = big_frame(rows)
    frame_bytes = int(df.memory_usage(deep=True).sum())
    times: dict[str, list[float]] = {"baseline": [], "nbassets": []}
    with temporary_project("nbassets-bench-write-") as root:
        project = nbassets.Project.find(root)
        count = 0

        def baseline() -> None:
            nonlocal count
            count += 1
            path = root / f"baseline-{count}.parquet"
            start = time.perf_counter()
            write_baseline(df, path)
            elapsed = time.perf_counter() - start
            path.unlink()  # outside the timing
            times["baseline"].append(elapsed)

        def save() -> None:
            start = time.perf_counter()
            record = nbassets.save("big", df, ENV, project=project)
            times["nbassets"].append(time.perf_counter() - start)
            assert record.rows == len(df)

        baseline()  # the warmups
        record = nbassets.save("big", df, ENV, project=project)
        times["baseline"].clear()
        first_column = df.columns[0]
        for i in range(reps):
            df.loc[0, first_column] = 1_000_000 + i  # a new version each time, as a rebuild
            for method in (baseline, save) if i % 2 == 0 else (save, baseline):
                method()
        stored = nbassets.load("big", ENV, project=project)
        same = stored.equals(df)

    base_s, nb_s = median(times["baseline"]), median(times["nbassets"])
    size = f"{rows:,} x 10"
    results = [
        Result(
            f"frame {size} in memory",
            frame_bytes / MB,
            "MB",
            note=f"Parquet file {record.bytes / MB:.1f} MB",
        ),
        Result(
            "baseline pq.write_table, median",
            ms(base_s),
            "ms",
            note=spread(times["baseline"]),
        ),
        Result("nbassets.save, median", ms(nb_s), "ms", note=spread(times["nbassets"])),
        Result(
            "time ratio nbassets.save / baseline",
            nb_s / base_s,
            "x",
            target=1.15,
            note=f"fastest runs: {min(times['nbassets']) / min(times['baseline']):.3f}x; "
            "one value changed per repetition, so each write stores a new version",
        ),
        Result(
            "nbassets.load of the last version equals the frame",
            float(same),
            "bool",
            target=1.0,
            op="==",
            check=True,
        ),
    ]
    runs = ctx.size("memory_runs", 3, 1)
    ctx.progress(f"peak memory, {runs} fresh process(es) per method and allocator setting")
    for trimmed in (True, False):
        for method, target in (("baseline", None), ("nbassets", 1.0)):
            results.append(memory_result(method, rows, trimmed, runs, target))
    return results


def spread(times: list[float]) -> str:
    return f"min {ms(min(times)):.0f} max {ms(max(times)):.0f}, n={len(times)}"


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


def write_baseline(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df), path, compression="snappy")


# peak memory, in fresh processes


def memory_result(method: str, rows: int, trimmed: bool, runs: int, target: float | None) -> Result:
    how = "allocators trimmed" if trimmed else "allocator caches kept"
    name = f"{method} peak extra memory / frame, {how}"
    measured = [memory_in_child(method, rows, trimmed) for _ in range(runs)]
    errors = [m["error"] for m in measured if "error" in m]
    if errors:
        return Result(name, None, "x", skipped=errors[0])
    extra = sorted(m["extra_bytes"] for m in measured)
    frame = measured[0]["frame_bytes"]
    between = f" (runs {extra[0] / MB:.1f}-{extra[-1] / MB:.1f})" if runs > 1 else ""
    return Result(
        name,
        median(extra) / frame,
        "x",
        target=target,
        note=f"median {median(extra) / MB:.1f} MB{between} over the {frame / MB:.1f} MB frame, "
        f"{runs} fresh process{'es' if runs > 1 else ''}; {measured[0]['how']}",
        data={"runs": measured},
    )


def memory_in_child(method: str, rows: int, trim: bool) -> dict[str, Any]:
    code = (
        f"from benchmarks.bench_write import memory_child; memory_child({method!r}, {rows}, {trim})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=child_environ(),
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"child exited {done.returncode}: {tail[0]}"[:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    """In a fresh process: build the frame, then print the peak extra memory of one write."""
    import nbassets

    with tempfile.TemporaryDirectory(prefix="nbassets-bench-mem-") as tmp:
        folder = Path(tmp)
        (folder / "pyproject.toml").write_text("[tool.nbassets]\n", encoding="utf-8")
        project = nbassets.Project.find(folder)

        def write(df: pd.DataFrame, name: str) -> None:
            if method == "baseline":
                write_baseline(df, folder / f"{name}.parquet")
            else:
                nbassets.save(name, df, ENV, project=project)

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
