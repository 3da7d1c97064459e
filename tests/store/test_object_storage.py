"""Object-store production: versions as immutable objects at a URL, read through a verified cache.

The storage contract itself runs on S3 in ``test_backends.py``; these tests show what is
particular to objects: written once under their final name, nothing uploaded by a failing
writer, a damaged cache copy fetched again but a damaged object refused by name, credentials
and endpoints never shown, and production's bucket never opened for writing from IPython.
S3 is moto's server (``tests/s3_server.py``); ``memory://`` and ``file://`` are fsspec's own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pytest
import xxhash
from helpers import TestingShell
from s3_server import S3Server

from nbassets.config import Project
from nbassets.environments import PROD
from nbassets.errors import AssetNotFound, ConfigError, ProductionWriteError, StorageError
from nbassets.store.object_storage import ObjectStorage
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now, project_store_opener


def put(storage: ObjectStorage, data: bytes, key: str = "k", large: bool = False) -> str:
    def write(sink: Path | BinaryIO) -> None:
        if isinstance(sink, Path):
            sink.write_bytes(data)
        else:
            sink.write(data)

    stored = storage.put(key, "bin", write, large=large)
    assert stored.data_version == xxhash.xxh3_128_hexdigest(data) and stored.bytes == len(data)
    return stored.path


@pytest.fixture(params=["s3", "memory", "file"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL of each kind."""
    if request.param == "s3":
        yield f"{request.getfixturevalue('s3_bucket')}/team/prod"
    elif request.param == "memory":
        yield f"memory://nbassets-{secrets.token_hex(6)}/prod"
    else:
        yield f"file://{tmp_path / 'objects'}"


def test_versions_are_objects_named_by_their_hash(url: str, tmp_path: Path) -> None:
    storage = ObjectStorage(url, tmp_path / "cache", writable=True)
    small = put(storage, b"small bytes")
    large = put(storage, b"L" * 100_000, key="big/2024-01-01", large=True)
    version = xxhash.xxh3_128_hexdigest(b"small bytes")
    assert small == f"data/k/{version}.bin" and large.startswith("data/big/2024-01-01/")
    assert storage.location == url and storage.exists(small) and storage.exists(large)
    fresh = ObjectStorage(url, tmp_path / "other-cache", writable=False)  # another machine
    assert fresh.local_file(small, version).read_bytes() == b"small bytes"
    assert fresh.sizes([small, large, "data/k/none.bin"]) == {
        small: 11, large: 100_000, "data/k/none.bin": None
    }  # fmt: skip


def test_sizes_of_many_objects_come_from_one_listing(url: str, tmp_path: Path) -> None:
    storage = ObjectStorage(url, tmp_path / "cache", writable=True)
    paths = [put(storage, f"value {i}".encode() * (i + 1), key=f"k{i % 7}") for i in range(40)]
    assert storage.remove(paths[0])
    wanted = [*paths, "data/k0/missing.bin", "elsewhere/x.bin"]
    found = storage.sizes(wanted)
    assert found == {
        **{p: len(f"value {i}".encode() * (i + 1)) for i, p in enumerate(paths)},
        paths[0]: None,
        "data/k0/missing.bin": None,
        "elsewhere/x.bin": None,
    }
    assert found == {p: storage.sizes([p])[p] for p in wanted}  # the same as one HEAD each


def test_an_object_is_written_once(s3_server: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    storage = ObjectStorage(s3_bucket, tmp_path / "cache", writable=True)
    relative = put(storage, b"immutable bytes")
    fs = s3_server.filesystem()
    name = f"{s3_bucket.removeprefix('s3://')}/{relative}"
    before = fs.info(name)
    time.sleep(1.1)  # S3 times objects to the second: a second upload would show
    assert put(storage, b"immutable bytes") == relative
    assert put(storage, b"immutable bytes", large=True) == relative
    after = s3_server.filesystem().info(name)
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    assert fs.find(s3_bucket.removeprefix("s3://")) == [name]  # one object, no temporary ones


@pytest.mark.parametrize("large", [False, True])
def test_a_failing_writer_leaves_no_object(url: str, tmp_path: Path, large: bool) -> None:
    storage = ObjectStorage(url, tmp_path / "cache", writable=True)

    def write(sink: Path | BinaryIO) -> None:
        if isinstance(sink, Path):
            sink.write_bytes(b"half a value")
        else:
            sink.write(b"half a value")
        raise RuntimeError("the serializer broke")

    with pytest.raises(RuntimeError, match="the serializer broke"):
        storage.put("k", "bin", write, large=large)
    assert storage.sizes([f"data/k/{xxhash.xxh3_128_hexdigest(b'half a value')}.bin"]) == {
        f"data/k/{xxhash.xxh3_128_hexdigest(b'half a value')}.bin": None
    }
    assert list((tmp_path / "cache").iterdir()) == []  # the local temporary file is gone too
    assert storage.sizes([f"data/k/{i}.bin" for i in range(40)]) == {
        f"data/k/{i}.bin": None for i in range(40)
    }  # the listing of data/ is empty


def test_a_damaged_cache_copy_is_fetched_again(s3_bucket: str, tmp_path: Path) -> None:
    writer = ObjectStorage(s3_bucket, tmp_path / "writer-cache", writable=True)
    relative = put(writer, b"the real bytes")
    version = xxhash.xxh3_128_hexdigest(b"the real bytes")
    reader = ObjectStorage(s3_bucket, tmp_path / "cache", writable=False)
    local = reader.local_file(relative, version)
    local.write_bytes(b"THE REAL BYTES")  # same size, other bytes
    again = reader.local_file(relative, version)
    assert again == local and again.read_bytes() == b"the real bytes"


def test_a_damaged_object_is_refused_by_name_and_not_cached(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    writer = ObjectStorage(s3_bucket, tmp_path / "writer-cache", writable=True)
    relative = put(writer, b"original bytes")
    s3_server.filesystem().pipe_file(f"{s3_bucket.removeprefix('s3://')}/{relative}", b"bit rot!")
    reader = ObjectStorage(s3_bucket, tmp_path / "cache", writable=False)
    with pytest.raises(StorageError, match="damaged") as info:
        reader.local_file(relative, xxhash.xxh3_128_hexdigest(b"original bytes"))
    message = str(info.value)
    assert f"{s3_bucket}/{relative}" in message
    for secret in (s3_server.secret_key, s3_server.access_key, s3_server.endpoint):
        assert secret not in message
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_removed_object_is_not_found_even_when_cached(s3_bucket: str, tmp_path: Path) -> None:
    storage = ObjectStorage(s3_bucket, tmp_path / "cache", writable=True)
    relative = put(storage, b"collected soon")
    version = xxhash.xxh3_128_hexdigest(b"collected soon")
    assert storage.local_file(relative, version).is_file()
    assert storage.remove(relative) and not storage.remove(relative)
    with pytest.raises(AssetNotFound, match=f"missing: {s3_bucket}/{relative}"):
        storage.local_file(relative, version)


def test_what_a_process_put_is_read_back_without_asking_the_server(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    writer = ObjectStorage(s3_bucket, tmp_path / "cache", writable=True)
    relative = put(writer, b"read by the next build")
    version = xxhash.xxh3_128_hexdigest(b"read by the next build")
    s3_server.filesystem().rm_file(f"{s3_bucket.removeprefix('s3://')}/{relative}")
    # this process uploaded it: a build reads its upstream from the cache, no HEAD
    reader = ObjectStorage(s3_bucket, tmp_path / "cache", writable=False)
    assert reader.local_file(relative, version).read_bytes() == b"read by the next build"
    # another process asks the server first, and does not find it
    other = subprocess.run(
        [sys.executable, "-c", READ_IN_ANOTHER_PROCESS, s3_bucket, str(tmp_path / "cache"),
         relative, version],
        capture_output=True, text=True, env=os.environ, check=False,
    )  # fmt: skip
    assert other.returncode == 3 and f"missing: {s3_bucket}/{relative}" in other.stdout, other


READ_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from nbassets.errors import AssetNotFound
from nbassets.store.object_storage import ObjectStorage
url, cache, relative, version = sys.argv[1:]
try:
    ObjectStorage(url, Path(cache), writable=False).local_file(relative, version)
except AssetNotFound as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_read_only_storage_writes_nothing(s3_bucket: str, tmp_path: Path) -> None:
    writer = ObjectStorage(s3_bucket, tmp_path / "cache", writable=True)
    relative = put(writer, b"kept")
    reader = ObjectStorage(s3_bucket, tmp_path / "cache", writable=False)
    with pytest.raises(StorageError, match="read-only"):
        put(reader, b"new")
    with pytest.raises(StorageError, match="read-only"):
        reader.remove(relative)
    assert reader.exists(relative) and reader.sizes([relative]) == {relative: 4}


def test_the_writers_store_and_catalog_hold_no_credentials(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    storage = ObjectStorage(s3_bucket, tmp_path / "cache", writable=True)
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite", writable=True)
    store = Store("prod", tmp_path, writable=True, storage=storage, catalog=catalog)
    frame = pd.DataFrame({"id": [1, 2, 3]})
    record = store.write("orders", frame, "parquet", code_version="c", started_at=now())
    pd.testing.assert_frame_equal(store.read(record), frame)
    assert record.path == f"data/orders/{record.data_version}.parquet"
    texts = [storage.location, repr(storage), repr(store), store.where(record), str(record)]
    store.close()
    with sqlite3.connect(tmp_path / "catalog.sqlite") as db:
        texts.extend(db.iterdump())
    assert storage.location == s3_bucket
    for secret in (s3_server.secret_key, s3_server.access_key, s3_server.endpoint, "127.0.0.1"):
        assert not [text for text in texts if secret in text]


def test_an_unreachable_endpoint_is_an_error_without_it(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    closed = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        storage = ObjectStorage("s3://nowhere/prod", tmp_path / "cache", writable=True)
        with pytest.raises(StorageError, match="AWS_ENDPOINT_URL") as info:
            storage.exists("data/k/0123.bin")
    finally:
        s3fs.S3FileSystem.clear_instance_cache()  # later tests reach the server again
    message = str(info.value)
    assert "s3://nowhere/prod/data/k/0123.bin" in message
    for secret in (closed, closed.rsplit(":", 1)[1], s3_server.secret_key, s3_server.access_key):
        assert secret not in message


@pytest.mark.parametrize(
    "bad", ["s3://AKIAEXAMPLE:s3cr3t-value@bucket/prod", "s3://bucket/prod?secret=s3cr3t-value"]
)
def test_a_url_with_credentials_is_refused_without_repeating_them(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID") as info:
        ObjectStorage(bad, tmp_path / "cache", writable=False)
    assert "s3cr3t-value" not in str(info.value) and "AKIAEXAMPLE" not in str(info.value)


def test_sweeping_removes_only_dead_writers_temporary_files(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = _dead_pid()
    (cache / f"tmp-{dead}-0a1b2c.parquet").write_bytes(b"left by a dead writer")
    (cache / f"tmp-{os.getpid()}-0a1b2c.parquet").write_bytes(b"a live writer's")
    (cache / "0123.parquet").write_bytes(b"a cache entry")
    storage = ObjectStorage(f"memory://nbassets-{secrets.token_hex(6)}", cache, writable=True)
    assert storage.sweep_temporary_files() == 1
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [f"tmp-{os.getpid()}-0a1b2c.parquet", "0123.parquet"]
    )


def test_a_kernel_cannot_open_productions_bucket_for_writing(
    _shell: TestingShell, s3_bucket: str, tmp_path: Path
) -> None:
    prod = f"{s3_bucket}/team/prod"
    for url in (prod, f"{prod}/", f"{prod}/data", prod.replace("s3://", "s3a://")):
        with pytest.raises(ProductionWriteError, match="IPython") as info:
            ObjectStorage(url, tmp_path / "cache", writable=True, production=prod)
        assert "nothing run from a notebook or IPython writes production" in str(info.value)
    reader = ObjectStorage(prod, tmp_path / "cache", writable=False, production=prod)
    assert not reader.exists("data/k/0123.bin")  # reading production is fine
    elsewhere = ObjectStorage(f"{s3_bucket}/team/other", tmp_path / "c", writable=True,
                              production=prod)  # fmt: skip
    assert put(elsewhere, b"a sandbox on the bucket")
    assert s3_bucket and not [p for p in (tmp_path / "cache").glob("*") if "tmp" in p.name]


def test_a_script_may_open_productions_bucket_for_writing(s3_bucket: str, tmp_path: Path) -> None:
    prod = f"{s3_bucket}/team/prod"
    storage = ObjectStorage(prod, tmp_path / "cache", writable=True, production=prod)
    assert storage.exists(put(storage, b"built by nbassets materialize --env prod"))


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _dead_pid() -> int:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True, text=True)  # fmt: skip
    return int(done.stdout)


# --- production at a URL: the project's store opener ---------------------------------------------


def url_project(project: Path, prod: str, catalog: str) -> Project:
    (project / "pyproject.toml").write_text(
        f'[tool.nbassets]\nprod = "{prod}"\nprod_catalog = "{catalog}"\n'
    )
    return Project.find(project)


def test_production_at_a_url_is_objects_read_through_a_cache_in_the_sandbox_root(
    project: Path, s3_bucket: str, postgres_url: str, tmp_path: Path
) -> None:
    prod = f"{s3_bucket}/team/warehouse"
    found = url_project(project, prod, postgres_url)
    open_store = project_store_opener(found)
    frame = pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, 1.5]})
    writer = open_store(PROD, tmp_path / "prod-root", writable=True)
    try:
        assert isinstance(writer.storage, ObjectStorage) and writer.storage.location == prod
        record = writer.write("orders", frame, "parquet", code_version="c", started_at=now())
    finally:
        writer.close()
    reader = open_store(PROD, tmp_path / "prod-root", writable=False)
    try:
        assert reader.catalog.latest_of("orders") == record
        pd.testing.assert_frame_equal(reader.read(record), frame)
        cache = reader.storage.local_file(record.path, record.data_version).parent
    finally:
        reader.close()
    digest = hashlib.sha256(prod.encode()).hexdigest()[:16]
    assert cache == project / ".nbassets" / ".cache" / digest
    assert not (tmp_path / "prod-root").exists()  # nothing of production is a local folder
    sandbox = open_store("dev-x", project / ".nbassets" / "dev-x", writable=False)
    assert type(sandbox.storage).__name__ == "LocalFolder"
    sandbox.close()


def test_a_kernel_cannot_open_production_at_a_url_for_writing(
    _shell: TestingShell, project: Path, s3_bucket: str, postgres_url: str, tmp_path: Path
) -> None:
    found = url_project(project, f"{s3_bucket}/team/warehouse", postgres_url)
    open_store = project_store_opener(found)
    with pytest.raises(ProductionWriteError, match="IPython"):
        open_store(PROD, tmp_path / "prod-root", writable=True)
    reader = open_store(PROD, tmp_path / "prod-root", writable=False)  # reading is fine
    try:
        assert reader.catalog.keys() == set() and not reader.storage.exists("data/k/0.parquet")
    finally:
        reader.close()
