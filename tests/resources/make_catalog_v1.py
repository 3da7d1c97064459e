"""Make ``catalog_v1.sqlite``: a catalog written by the release whose schema version is 1.

Run once, with that release (commit ``c045dc5``, before the catalog's sequence existed):
``python tests/resources/make_catalog_v1.py tests/resources/catalog_v1.sqlite``. The real
code writes it (``nbassets.save``, ``Store.write``, ``record``, ``record_failure``,
``record_checks``) into the sandbox of a throwaway project; the store is closed, so the
file is checkpointed (no ``-wal`` beside it). ``tests/store/test_migrations.py`` migrates a
copy and checks that no record is lost. Never regenerate it with a newer nbassets: it
stands for the catalogs that exist today.

What it holds: ``raw`` (an external version, ``nbassets.save``); ``orders`` built three
times, with a failure between the second and third build; ``events`` partitioned (two
partitions, one rebuilt) and a failure whose clock was one hour behind (its
``finished_at`` is before the build recorded ahead of it); check results of two versions.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

ENV = "dev-maker-main"


def make(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="nbassets-v1-") as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
        os.chdir(root)
        os.environ["NBASSETS_USER"] = "maker"
        write(root)
        catalog = root / ".nbassets" / ENV / "catalog.sqlite"
        assert not Path(f"{catalog}-wal").exists(), "the catalog must be checkpointed"
        shutil.copyfile(catalog, target)


def write(root: Path) -> None:
    import nbassets
    from nbassets.store.catalog import Failure, Materialization
    from nbassets.store.results import CheckResult
    from nbassets.store.stores import Store, now

    raw = nbassets.save("raw", pd.DataFrame({"id": [1, 2, 3]}), env=ENV, source="ingest.py")
    read_raw = {"raw": {"data_version": raw.data_version, "env": ENV}}
    store = Store(ENV, root / ".nbassets" / ENV, writable=True)
    try:
        built = dict(source="notebooks/shop.ipynb#c2", user="maker", inputs=read_raw)
        v1 = store.write("orders", pd.DataFrame({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}),
                         "parquet", code_version="c1", started_at=now(), commit="a" * 40,
                         dirty=False, **built)  # fmt: skip
        v2 = store.write("orders", pd.DataFrame({"id": [1, 2, 3], "amount": [1.0, 2.0, 4.0]}),
                         "parquet", code_version="c1", started_at=now(), commit="b" * 40,
                         dirty=True, **built)  # fmt: skip
        store.record_failure(Failure("orders", ENV, "Traceback\nValueError: boom", now(), now(),
                                     "c2", "notebooks/shop.ipynb#c2", "maker"))  # fmt: skip
        store.write("orders", pd.DataFrame({"id": [1, 2], "amount": [1.0, 2.0]}), "parquet",
                    code_version="c3", started_at=now(), **built)  # fmt: skip
        for partition, rows in (("2026-01-01", 10), ("2026-01-02", 12), ("2026-01-01", 11)):
            stamp = now()
            store.catalog.record(
                Materialization(
                    key="events", env=ENV, data_version=f"{rows:032x}", code_version="e1",
                    path=f"data/events/{partition}/{rows:032x}.parquet", io="parquet",
                    kind="pandas", bytes=100 + rows, started_at=stamp, finished_at=stamp,
                    partition=partition, rows=rows, schema={"day": "object", "n": "int64"},
                    source="notebooks/events.ipynb#c1", user="maker",
                )
            )  # fmt: skip
        behind = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="microseconds")
        store.record_failure(Failure("events", ENV, "KeyError: 'day'", behind, behind, "e2",
                                     "notebooks/events.ipynb#c1", "maker", "2026-01-02"))  # fmt: skip
        store.catalog.record_checks([
            CheckResult("orders", "not_null('id')", "error", True, v1.data_version, checked_at=now()),
            CheckResult("orders", "row_count(min=5)", "warn", False, v1.data_version,
                        message="3 rows, expected at least 5", checked_at=now()),
        ], ENV)  # fmt: skip
        store.catalog.record_checks([
            CheckResult("orders", "not_null('id')", "error", True, v2.data_version, checked_at=now()),
            CheckResult("orders", "positive", "error", False, v2.data_version, failing_rows=1,
                        sample=[{"id": 3, "amount": float("nan")}], message="1 failing row",
                        checked_at=now()),
            CheckResult("orders", "broken_check", "warn", False, v2.data_version,
                        error="ZeroDivisionError: division by zero", seconds=0.25,
                        checked_at=now()),
        ], ENV)  # fmt: skip
    finally:
        store.close()


if __name__ == "__main__":
    make(Path(sys.argv[1]).absolute())
