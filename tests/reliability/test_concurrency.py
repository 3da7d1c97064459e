"""Held: several processes write one store at once, and readers never see a half-written version.

Four writer processes save versions of the same four keys into one store (``nbassets.save``,
SQLite WAL and its busy timeout between them) while two reader processes load every key's
current version in a loop (``nbassets.load``) and check each value is whole. At the end every
write is recorded, every recorded file is the file recorded (size and xxh3 of its bytes), no
temporary file remains, the catalog passes SQLite's ``integrity_check`` and production's
tree is byte-identical.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import xxhash
from helpers import unchanged

from nbassets.store.stores import Store

ROOT = Path(__file__).resolve().parents[2]
ENV = "ci-load"
KEYS = ("k0", "k1", "k2", "k3")
WRITES = 30  # per writer

# A value checks itself: its payload is range(n), and it says who wrote it.
WRITER = textwrap.dedent(
    """
    import sys
    import nbassets

    worker = int(sys.argv[1])
    for i in range({writes}):
        n = 1000 + worker * 5000 + i * 97
        value = {{"worker": worker, "i": i, "payload": list(range(n))}}
        nbassets.save(f"k{{i % 4}}", value, env={env!r})
    """
).format(writes=WRITES, env=ENV)

READER = textwrap.dedent(
    """
    import os, sys
    import nbassets
    from nbassets.errors import AssetNotFound

    done, seen = sys.argv[1], 0
    while True:
        last = os.path.exists(done)  # one more round after the writers are done
        for key in ("k0", "k1", "k2", "k3"):
            try:
                value = nbassets.load(key, env={env!r})
            except AssetNotFound:
                continue  # not written yet
            payload = value["payload"]
            assert payload == list(range(len(payload))), (key, value["worker"], value["i"])
            seen += 1
        if last:
            break
    print(seen)
    """
).format(env=ENV)


def spawn(code: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NBASSETS_USER": "tester", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_concurrent_writers_from_several_processes(project: Path, production: Path) -> None:
    """Four writers and two readers on one store at once."""
    store_root = project / ".nbassets" / ENV
    done = project / "writers-done"
    with unchanged(production):
        readers = [spawn(READER, str(done), cwd=project) for _ in range(2)]
        writers = [spawn(WRITER, str(w), cwd=project) for w in range(4)]
        deadline = time.monotonic() + 240
        for proc in writers:
            _, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
            assert proc.returncode == 0, err
        done.touch()
        for proc in readers:
            out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
            assert proc.returncode == 0, err  # no reader ever saw a half-written version
            assert int(out) > 0  # and each really read versions

    store = Store(ENV, store_root, writable=False)
    try:
        history = [m for key in KEYS for m in store.catalog.history(key, limit=1000)]
        assert len(history) == 4 * WRITES  # every write recorded
        for m in history:
            data = (store_root / m.path).read_bytes()
            assert len(data) == m.bytes and xxhash.xxh3_128_hexdigest(data) == m.data_version
            value = store.read(m)
            assert value["payload"] == list(range(len(value["payload"])))
    finally:
        store.close()
    assert [p for p in store_root.rglob("*") if "tmp" in p.name] == []
    conn = sqlite3.connect(f"{(store_root / 'catalog.sqlite').as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
