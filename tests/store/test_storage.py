"""Version files: atomic writes, and temporary files of dead writers swept, live ones kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from nbassets.store.storage import LocalFolder
from nbassets.store.stores import Store, now

ROOT = Path(__file__).resolve().parents[2]


def temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if "tmp" in p.name]


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


@pytest.mark.parametrize("rows", [100, 3_000_000])
def test_data_version_is_the_hash_of_the_stored_bytes(tmp_path: Path, rows: int) -> None:
    import pandas as pd
    import xxhash

    store = Store("dev", tmp_path, writable=True)
    frame = pd.DataFrame({"a": range(rows), "b": [f"s{i % 1000}" for i in range(rows)]})
    record = store.write("t", frame, "parquet", code_version="c", started_at=now())
    data = (tmp_path / record.path).read_bytes()
    assert record.data_version == xxhash.xxh3_128_hexdigest(data) and record.bytes == len(data)
    store.close()


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failing_writer_leaves_nothing(
    tmp_path: Path, error: type[BaseException], large: bool
) -> None:
    folder = LocalFolder(tmp_path)

    def write(sink: Path | BinaryIO) -> None:
        if isinstance(sink, Path):
            sink.write_bytes(b"partial")
        else:
            sink.write(b"partial")
        raise error

    with pytest.raises(error):
        folder.put("k", "bin", write, large=large)
    assert list((tmp_path / "data" / "k").iterdir()) == []
    folder.close()


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from nbassets.store.storage import LocalFolder

    def write(file):
        file.write(b"partial")
        print("writing", flush=True)
        time.sleep(60)

    LocalFolder(Path({store!r})).put("k", "bin", write)
    """
)


def start_writer(store: Path) -> subprocess.Popen[str]:
    code = WRITER.format(root=str(ROOT), store=str(store))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc


def test_killed_writer_leftovers_are_swept_but_live_writers_are_not(tmp_path: Path) -> None:
    store_root = tmp_path / "store"
    live = start_writer(store_root)
    dead = start_writer(store_root)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        assert len(temporary_files(store_root)) == 2
        store = Store("dev", store_root, writable=True)  # opening for writing sweeps
        remaining = temporary_files(store_root)
        assert len(remaining) == 1 and f"-{live.pid}-" in remaining[0].name
        record = store.write("v", [1, 2], "pickle", code_version="c", started_at=now())
        assert store.catalog.latest()["v"] == record
        store.close()
    finally:
        live.kill()
        live.wait()


CONCURRENT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from nbassets.store.stores import Store, now
    store = Store("dev", Path({store!r}), writable=True)
    for i in range(40):
        store.write(f"k{{i % 4}}", list(range({worker} * 1000 + i)), "pickle",
                    code_version="c", started_at=now())
    """
)


def test_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    store_root = tmp_path / "store"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CONCURRENT.format(root=str(ROOT), store=str(store_root), worker=w),
            ]
        )
        for w in range(3)
    ]
    deadline = time.monotonic() + 120
    for proc in procs:
        assert proc.wait(timeout=max(1, deadline - time.monotonic())) == 0
    store = Store("dev", store_root, writable=False)
    history = [m for k in ("k0", "k1", "k2", "k3") for m in store.catalog.history(k, limit=1000)]
    assert len(history) == 120
    for m in history:
        assert store.read(m) == list(range(len(store.read(m))))
        assert (store_root / m.path).stat().st_size == m.bytes
    assert temporary_files(store_root) == []
    assert os.path.exists(store_root / "catalog.sqlite")
