"""Issue 10, finding 5: a damaged version never shows as fresh, and loading it says what is wrong.

Real files, damaged for real: a Parquet file and a pickle written by ``nbassets.save`` and
then truncated with ``os.truncate``, or removed. Status must show ``corrupt`` (DESIGN §2) for
a missing file or one of the wrong size, and spread ``stale: upstream 'x' is corrupt``
downstream; loading must raise :class:`nbassets.errors.VersionDamaged` naming the file and
the fix, never a raw pyarrow or pickle error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import nbassets
from nbassets import errors
from nbassets.config import Project
from nbassets.environments import store_path
from nbassets.status import AssetStatus
from nbassets.store.stores import Store, now

ENV = "dev-tester-damaged"

# production holds versions too, and is byte-identical after every test (conftest)
pytestmark = pytest.mark.usefixtures("production_untouched")


def saved(key: str, value: object) -> Path:
    """Save ``value`` as ``key`` in the sandbox; the path of its version file."""
    record = nbassets.save(key, value, env=ENV)
    return store_path(Project.find(), ENV) / record.path


def row(key: str) -> AssetStatus:
    return {r.key: r for r in nbassets.status(ENV)}[key]


def frame() -> pd.DataFrame:
    return pd.DataFrame({"x": range(2000), "y": [f"v{i}" for i in range(2000)]})


def truncate_to_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def test_truncated_parquet_is_corrupt() -> None:
    path = saved("orders", frame())
    assert row("orders").status == "fresh"
    truncate_to_half(path)
    got = row("orders")
    assert got.status == "corrupt"
    assert "size" in got.reason


def test_truncated_pickle_is_corrupt() -> None:
    path = saved("model", {"weights": list(range(5000))})
    truncate_to_half(path)
    assert row("model").status == "corrupt"


def test_missing_file_is_corrupt() -> None:
    path = saved("orders", frame())
    path.unlink()
    got = row("orders")
    assert got.status == "corrupt"
    assert "missing" in got.reason


def test_downstream_of_a_corrupt_asset_is_stale() -> None:
    path = saved("orders", frame())
    root = store_path(Project.find(), ENV)
    store = Store(ENV, root, writable=True)
    try:
        up = store.catalog.latest_of("orders")
        assert up is not None
        store.write(
            "report",
            {"total": 1},
            "pickle",
            code_version="c1",
            started_at=now(),
            inputs={"orders": {"data_version": up.data_version, "env": ENV}},
        )
    finally:
        store.close()
    assert row("report").status == "fresh"
    truncate_to_half(path)
    got = row("report")
    assert (got.status, got.reason) == ("stale", "upstream 'orders' is corrupt")


def test_corrupt_outranks_failed_check_failed_and_stale() -> None:
    """DESIGN §2: corrupt > failed > check-failed > stale > fresh."""
    from nbassets.status import CORRUPT, compute_statuses
    from nbassets.store.catalog import Failure, Head

    head = Head("a", ENV, "d1", "c1", {}, 1, "2026-01-01", None, None)
    failure = Failure("a", ENV, "boom", "2026-01-02", "2026-01-02")
    rows = compute_statuses(
        {"a": "c2"}, {}, {"a": head}, {"a": failure}, {"a": "not_null"}, {"a": "file missing"}
    )
    assert (rows["a"].status, rows["a"].reason) == (CORRUPT, "file missing")


def test_loading_a_truncated_parquet_names_the_file_and_the_fix() -> None:
    path = saved("orders", frame())
    truncate_to_half(path)
    with pytest.raises(errors.VersionDamaged) as info:
        nbassets.load("orders", env=ENV)
    message = str(info.value)
    assert str(path) in message
    assert "rebuild" in message
    assert isinstance(info.value, errors.StorageError)


def test_loading_a_truncated_pickle_names_the_file_and_the_fix() -> None:
    path = saved("model", {"weights": list(range(5000))})
    truncate_to_half(path)
    with pytest.raises(errors.VersionDamaged) as info:
        nbassets.load("model", env=ENV)
    assert str(path) in str(info.value)
    assert "rebuild" in str(info.value)


def test_same_size_damage_is_caught_by_the_format_frame() -> None:
    """A file of the recorded size whose Parquet footer or pickle STOP is gone still fails
    with the specific error (the size check alone cannot see it)."""
    parquet = saved("orders", frame())
    size = parquet.stat().st_size
    with parquet.open("r+b") as file:
        file.seek(size - 4)
        file.write(b"XXXX")  # the PAR1 magic at the end
    with pytest.raises(errors.VersionDamaged):
        nbassets.load("orders", env=ENV)
    pkl = saved("model", {"weights": list(range(5000))})
    size = pkl.stat().st_size
    with pkl.open("r+b") as file:
        file.seek(size - 1)
        file.write(b"\x00")  # the final STOP opcode
    with pytest.raises(errors.VersionDamaged):
        nbassets.load("model", env=ENV)
