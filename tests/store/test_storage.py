"""Version files: atomic writes, and temporary files of dead writers swept, live ones kept;
the data version is the hash of the stored bytes, in a folder and as an object on S3."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbassets.store.object_storage import ObjectStorage
from nbassets.store.storage import LocalFolder
from nbassets.store.stores import Store, now

ROOT = Path(__file__).resolve().parents[2]


def test_put_names_files_by_content_and_dedupes(tmp_path: Path) -> None:
    folder = LocalFolder(tmp_path)
    first = folder.put("k", "bin", lambda f: f.write(b"hello"))
    second = folder.put("k", "bin", lambda f: f.write(b"hello"))
    third = folder.put("k", "bin", lambda f: f.write(b"world"))
    assert first == second and first.data_version != third.data_version
    assert first.path == f"data/k/{first.data_version}.bin" and first.bytes == 5
    assert sorted(p.name for p in (tmp_path / "data" / "k").iterdir()) == sorted(
        [f"{first.data_version}.bin", f"{third.data_version}.bin"]
    )


@pytest.mark.parametrize("where", ["local", "s3"])
@pytest.mark.parametrize("rows", [100, 3_000_000])
def test_data_version_is_the_hash_of_the_stored_bytes(
    request: pytest.FixtureRequest, tmp_path: Path, rows: int, where: str
) -> None:
    """On S3 (moto's server) the object's bytes are read back with a client of their own."""
    import pandas as pd
    import xxhash

    storage = None
    if where == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        storage = ObjectStorage(f"{bucket}/dev", tmp_path / "cache", writable=True)
    store = Store("dev", tmp_path, writable=True, storage=storage)
    frame = pd.DataFrame({"a": range(rows), "b": [f"s{i % 1000}" for i in range(rows)]})
    record = store.write("t", frame, "parquet", code_version="c", started_at=now())
    if where == "s3":
        s3 = request.getfixturevalue("s3_server").filesystem()
        data = s3.cat_file(f"{bucket.removeprefix('s3://')}/dev/{record.path}")
    else:
        data = (tmp_path / record.path).read_bytes()
    assert record.data_version == xxhash.xxh3_128_hexdigest(data) and record.bytes == len(data)
    store.close()
