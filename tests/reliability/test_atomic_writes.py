"""Held: a write killed (SIGKILL) or interrupted (KeyboardInterrupt, a real SIGINT) half way
leaves the previous state intact and no half-written version anywhere (DESIGN §4).

Real processes and real signals: a child process writes a big value (megabytes of pickle)
into a store and is stopped half way, with those megabytes already in its temporary file.
The store must still open, its previous version must be current and load, the catalog must
pass SQLite's ``integrity_check``, no version may show the half-written bytes, and the next
writer must sweep what a dead writer left (never a live writer's file). Production's whole
tree is byte-identical afterwards, whether the write aimed at production (an ingest script)
or at a sandbox.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import BinaryIO

import pytest
from helpers import TestingShell, catalog_rows, tree_digest, tree_listing, unchanged

import nbassets
from nbassets.store.storage import LocalFolder
from nbassets.store.stores import Store, now

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = "dev-tester-nogit"  # the kernel's default env in a project without git

# A child that writes ``settings`` (about 4 MB of pickle) and stops half way: the value's last
# item prints "halfway" when the pickler reaches it, with the megabytes before it in the
# temporary file, then waits for the signal.
HALFWAY_WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    import nbassets

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it

    class Halfway:
        def __reduce__(self):
            print("halfway", flush=True)
            time.sleep(120)
            raise SystemExit("not stopped")

    value = {"blob": [os.urandom(1024) for _ in range(4096)], "stop": Halfway()}
    nbassets.save("settings", value, env=sys.argv[1])
    """
)


def temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if "tmp" in p.name]


def root_of(project: Path, env: str) -> Path:
    return project / "warehouse" if env == "prod" else project / ".nbassets" / env


def stop_halfway(project: Path, env: str, sig: signal.Signals) -> subprocess.CompletedProcess[str]:
    """Run the halfway writer into ``env`` and send it ``sig`` once megabytes are written."""
    child = subprocess.Popen(
        [sys.executable, "-c", HALFWAY_WRITER, env],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NBASSETS_USER": "tester", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "halfway", line + (child.stderr.read() if child.stderr else "")
        (temporary,) = temporary_files(root_of(project, env) / "data" / "settings")
        assert temporary.stat().st_size > 1_000_000  # the write really is half done
        child.send_signal(sig)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def integrity(store: Path) -> str:
    """SQLite's ``integrity_check`` of the store's catalog, read as nbassets reads it: without a
    ``-wal`` beside it, ``immutable`` (so the check itself creates no file in the store)."""
    catalog = store / "catalog.sqlite"
    immutable = "" if Path(f"{catalog}-wal").exists() else "&immutable=1"
    conn = sqlite3.connect(f"{catalog.as_uri()}?mode=ro{immutable}", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def seed_sandbox(project: Path) -> None:
    for price in (9.0, 10.0):
        nbassets.save("settings", {"currency": "EUR", "price": price}, env=SANDBOX)


@pytest.mark.parametrize("env", ["prod", SANDBOX])
def test_a_writer_killed_mid_write_leaves_the_previous_version_current(
    project: Path, production: Path, env: str
) -> None:
    if env != "prod":
        seed_sandbox(project)
    store = root_of(project, env)
    rows, files = catalog_rows(store), tree_digest(store / "data")
    prod_before = tree_listing(production)

    killed = stop_halfway(project, env, signal.SIGKILL)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(temporary_files(store)) == 1  # the dead writer's leftover, not a version
    assert integrity(store) == "ok"
    assert catalog_rows(store) == rows  # no record of the half-written bytes
    assert nbassets.load("settings", env=env) == {"currency": "EUR", "price": 10.0}
    assert {k: v for k, v in tree_digest(store / "data").items() if "tmp" not in k} == files

    Store(env, store, writable=True).close()  # the next writer opens the store: it sweeps
    assert temporary_files(store) == []
    assert tree_digest(store / "data") == files
    assert tree_listing(production) == prod_before  # byte-identical, even when it was the target


def test_a_real_sigint_mid_write_leaves_nothing_half_written(
    project: Path, production: Path
) -> None:
    """Ctrl-C in a terminal: KeyboardInterrupt in the middle of pickling, in a real process;
    the writer cleans up after itself (no sweep needed) and production is byte-identical."""
    with unchanged(production):
        interrupted = stop_halfway(project, "prod", signal.SIGINT)

        assert interrupted.returncode != 0 and "KeyboardInterrupt" in interrupted.stderr
        assert temporary_files(production) == []
        assert integrity(production) == "ok"
    assert nbassets.load("settings") == {"currency": "EUR", "price": 10.0}


class Interrupter:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt


def test_interrupted_serializer_leaves_previous_version_intact(
    shell: TestingShell, project: Path, production: Path
) -> None:
    sandbox = root_of(project, SANDBOX)
    shell.run_cell("%%asset blob --io pickle --no-preview\n[b'x' * 1000]")
    files_before = tree_digest(sandbox / "data")
    rows_before = catalog_rows(sandbox)
    shell.user_ns["Interrupter"] = Interrupter
    with unchanged(production), pytest.raises(KeyboardInterrupt):
        shell.run_cell("%%asset blob --io pickle --no-preview\n[b'y' * 1_000_000, Interrupter()]")
    assert tree_digest(sandbox / "data") == files_before
    assert catalog_rows(sandbox) == rows_before
    assert not temporary_files(sandbox)
    assert shell.user_ns["blob"] == [b"x" * 1000]


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
