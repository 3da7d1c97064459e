"""Issue 10, finding 4 (and the read-only item of finding 9): no fault ever loses history.

Every fault here is real: a tmpfs mounted as root for a full disk (1 MB, filled) and remounted
read-only for a read-only filesystem, a child process run as ``nobody`` (``runuser``) for
missing permissions, another process holding ``BEGIN EXCLUSIVE`` for a locked catalog,
SIGKILL for a crash. Nothing mocks the filesystem or SQLite. Each test checks that the
records read back with plain ``sqlite3`` are the same before and after, that no data
file was written before the refusal, and that the store (production) is byte-identical
across each refused write (``helpers.unchanged``).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import tree_listing, unchanged

import nbassets
from nbassets import errors

SYSTEM_PYTHON = "/usr/bin/python3"  # readable by nobody (the venv's interpreter lives under /root)
SITE = (
    Path(sys.prefix)
    / "lib"
    / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    / "site-packages"
)
ROOT = Path(__file__).resolve().parents[2]


def recorded(store: Path, *, immutable: bool = False) -> list[tuple[object, ...]]:
    """Every row of every catalog table, read with plain sqlite3 as nbassets reads it:
    ``immutable`` without a ``-wal`` beside it (or on a read-only fs), so reading creates no
    ``-wal`` or ``-shm`` file in the store whose tree the tests compare."""
    catalog = store / "catalog.sqlite"
    immutable = immutable or not Path(f"{catalog}-wal").exists()
    uri = f"{catalog.as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    conn = sqlite3.connect(uri, uri=True)
    try:
        return [
            (table, *row)
            for table in ("materializations", "failures", "check_results")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        ]
    finally:
        conn.close()


def data_files(store: Path) -> list[str]:
    """Every file under the store's ``data/`` (versions and any temporary leftover)."""
    return sorted(
        p.relative_to(store).as_posix() for p in (store / "data").rglob("*") if p.is_file()
    )


@contextmanager
def tmpfs(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted on ``folder`` (the tests that need one skip without root)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Write a filler file in ``folder`` until its filesystem has no space left (ENOSPC)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == 28  # ENOSPC: the disk is really full
    finally:
        os.close(fd)


@contextmanager
def refused(name: str) -> Iterator[pytest.ExceptionInfo[Exception]]:
    """Like ``pytest.raises(errors.<name>)``, but what was raised instead shows in the failure."""
    with pytest.raises(Exception) as info:
        yield info
    raised = [cls.__name__ for cls in type(info.value).__mro__]
    assert name in raised, f"{type(info.value).__name__}: {info.value}"


def without_journal(listing: dict[str, str]) -> dict[str, str]:
    """A store's tree but SQLite's ``-wal`` and ``-shm``: on a full disk, the connection that
    found no space may leave them (empty of records) beside the catalog; the next removes them."""
    return {name: entry for name, entry in listing.items() if not name.endswith(("-wal", "-shm"))}


def refused_as_damaged(message: str) -> bool:
    return "damaged" in message or "mv " in message


# a 0-byte catalog


def test_a_zero_byte_catalog_is_refused_not_recreated(project: Path) -> None:
    store = project / "warehouse"
    nbassets.save("orders", {"n": 1})
    nbassets.save("orders", {"n": 2})
    files = data_files(store)
    catalog = store / "catalog.sqlite"
    assert not Path(f"{catalog}-wal").exists()
    catalog.write_bytes(b"")  # its records are gone: the data files are now unindexed
    with unchanged(store):
        for attempt in (
            lambda: nbassets.save("orders", {"n": 3}),
            lambda: nbassets.load("orders"),
        ):
            with pytest.raises(errors.CatalogDamagedError) as info:
                attempt()
            message = str(info.value)
            assert str(catalog) in message and "empty" in message and "mv " in message
    assert catalog.read_bytes() == b""  # not replaced by a fresh, empty catalog
    assert data_files(store) == files  # nothing written before the refusal


_KILL_DURING_CREATE = """
import os, signal, sqlite3, sys
connect = sqlite3.connect
def killing_connect(*args, **kwargs):
    conn = connect(*args, **kwargs)
    conn.set_trace_callback(
        lambda sql: os.kill(os.getpid(), signal.SIGKILL) if "CREATE TABLE" in sql else None
    )
    return conn
sqlite3.connect = killing_connect  # a real SIGKILL in the middle of the first write
import nbassets
nbassets.save("orders", {"n": 1})
"""


def test_a_first_write_killed_midway_leaves_no_catalog_to_refuse(project: Path) -> None:
    """Our own first write never leaves a 0-byte or schema-less ``catalog.sqlite`` behind.

    SQLite creates the file before it writes the schema, so the catalog is created under a
    temporary name and linked into place complete: a killed first write leaves no catalog,
    and the next write starts one (a 0-byte ``catalog.sqlite`` is always damage, never ours).
    """
    child = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_CREATE], cwd=project, capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = project / "warehouse"
    catalog = store / "catalog.sqlite"
    assert not catalog.exists() or catalog.stat().st_size > 0
    record = nbassets.save("orders", {"n": 2})
    assert [row[5] for row in recorded(store)] == [record.data_version]


# a full disk


@pytest.mark.parametrize("existing", [True, False], ids=["existing-store", "new-store"])
def test_a_full_disk_is_reported_as_full(project: Path, existing: bool) -> None:
    store = project / "warehouse"
    with tmpfs(store):
        if existing:
            nbassets.save("orders", {"n": 1})
        before = recorded(store) if existing else None
        files = data_files(store) if existing else []
        fill(store)
        tree = without_journal(tree_listing(store))
        with refused("StoreFull") as info:
            nbassets.save("orders", {"n": 2})
        assert without_journal(tree_listing(store)) == tree
        message = str(info.value)
        assert str(store) in message and "no space left" in message and "free" in message
        assert not refused_as_damaged(message)
        assert data_files(store) == files if (store / "data").exists() else not files
        # our own failed first write leaves no 0-byte catalog to refuse later
        assert existing or not (store / "catalog.sqlite").exists()
        (store / "filler").unlink()  # (reading while full: the test below)
        assert (recorded(store) if existing else None) == before
        nbassets.save("orders", {"n": 3})  # with space again, the store works
        assert len([r for r in recorded(store) if r[0] == "materializations"]) == 1 + existing


def test_a_store_stays_readable_after_a_write_refused_on_a_full_disk(project: Path) -> None:
    store = project / "warehouse"
    with tmpfs(store):
        nbassets.save("orders", {"n": 1})
        fill(store)
        tree = tree_listing(store)
        with refused("StoreFull"):
            nbassets.save("orders", {"n": 2})
        assert nbassets.load("orders") == {"n": 1}  # the disk is still full: reading works
        assert [row.status for row in nbassets.status("prod")] == ["fresh"]
        assert tree_listing(store) == tree  # byte-identical: no -wal or -shm left behind
        (store / "filler").unlink()


def test_a_catalog_write_on_a_full_disk_is_reported_as_full(project: Path) -> None:
    from nbassets.store.catalog import Failure
    from nbassets.store.sqlite_catalog import SqliteCatalog
    from nbassets.store.stores import now

    store = project / "warehouse"
    with tmpfs(store):
        nbassets.save("orders", {"n": 1})
        before = recorded(store)
        catalog = SqliteCatalog(store / "catalog.sqlite", writable=True)
        catalog.ready()  # connected, with its -wal and -shm, before the disk fills
        fill(store)
        try:
            with refused("StoreFull") as info:
                catalog.record_failure(
                    Failure(
                        key="orders", env="prod", error="x", started_at=now(), finished_at=now()
                    )
                )
        finally:
            catalog.close()
        assert "catalog.sqlite" in str(info.value) and not refused_as_damaged(str(info.value))
        (store / "filler").unlink()
        assert recorded(store) == before


# a read-only filesystem (finding 4, and finding 9 for a sandbox)


def test_a_store_on_a_read_only_filesystem_is_reported_read_only(project: Path) -> None:
    store = project / "warehouse"
    with tmpfs(store):
        nbassets.save("orders", {"n": 1})
        before, files = recorded(store), data_files(store)
        remount(store, "ro")
        with unchanged(store), refused("ReadOnlyFilesystem") as info:
            nbassets.save("orders", {"n": 2})
        message = str(info.value)
        assert str(store) in message and "read-only file system" in message
        assert not refused_as_damaged(message)
        assert nbassets.load("orders") == {"n": 1}  # reading still works
        assert recorded(store, immutable=True) == before
        assert data_files(store) == files


@pytest.mark.parametrize("existing", [True, False], ids=["existing-sandbox", "new-sandbox"])
def test_a_sandbox_on_a_read_only_filesystem_is_reported_read_only(
    project: Path, existing: bool
) -> None:
    sandboxes = project / ".nbassets"
    sandbox = sandboxes / "dev-tester-ro"
    with tmpfs(sandboxes):
        if existing:
            nbassets.save("scratch", {"n": 1}, env="dev-tester-ro")
        before = recorded(sandbox) if existing else None
        files = data_files(sandbox) if existing else []
        remount(sandboxes, "ro")
        with refused("ReadOnlyFilesystem") as info:
            nbassets.save("scratch", {"n": 2}, env="dev-tester-ro")
        message = str(info.value)
        assert "read-only file system" in message and not refused_as_damaged(message)
        assert str(sandboxes) in message
        assert (recorded(sandbox, immutable=True) if existing else None) == before
        assert (data_files(sandbox) if existing else []) == files
        assert existing or not sandbox.exists()


# missing permissions


def _nobody(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as the unprivileged user ``nobody``; it prints ``ErrorClass: message``."""
    if not os.path.exists(SYSTEM_PYTHON) or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs root, runuser and a system python to run a child as nobody")
    wrapped = (
        "import sys\ntry:\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + "except Exception as exc:\n    print(f'{type(exc).__name__}: {exc}')\n"
        + "else:\n    print('no error')\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "NBASSETS_USER": "nobody",
        "PYTHONPATH": f"{ROOT}:{SITE}",
    }
    with _traversable_by_others(ROOT, SITE):
        return subprocess.run(
            [
                shutil.which("runuser") or "runuser",
                "-u",
                "nobody",
                "--",
                SYSTEM_PYTHON,
                "-c",
                wrapped,
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@contextmanager
def _traversable_by_others(*paths: Path) -> Iterator[None]:
    """Let ``nobody`` import from ``paths`` for the child's run: a clone in a ``mktemp -d``
    folder (mode 0700) would otherwise hide nbassets from it. Only the missing bits are added
    (read and traverse on ``paths``, which Python lists; traverse on the folders above them),
    and they are taken back afterwards."""
    wanted = {path: stat.S_IROTH | stat.S_IXOTH for path in paths}
    for path in paths:
        for parent in path.parents:
            wanted.setdefault(parent, stat.S_IXOTH)
    opened: list[tuple[Path, int]] = []
    try:
        for folder, bits in wanted.items():
            mode = stat.S_IMODE(folder.stat().st_mode)
            if mode & bits != bits:
                folder.chmod(mode | bits)
                opened.append((folder, mode))
        yield
    finally:
        for folder, mode in opened:
            folder.chmod(mode)


@pytest.fixture
def shared_project() -> Iterator[Path]:
    """A project under a folder ``nobody`` can reach (pytest's tmp_path is root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="nbassets-shared-"))
    top.chmod(0o755)
    project = top / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    try:
        yield project
    finally:
        shutil.rmtree(top)


def test_missing_permissions_are_reported_as_such(shared_project: Path) -> None:
    store = shared_project / "warehouse"
    nbassets.save("orders", {"n": 1}, project=nbassets.Project.find(shared_project))
    before, files = recorded(store), data_files(store)
    with unchanged(store):
        write = _nobody("import nbassets\nnbassets.save('orders', {'n': 2})", shared_project)
    assert write.stdout.startswith("StorePermissionDenied: "), write.stdout + write.stderr
    assert str(store) in write.stdout and "permission" in write.stdout and "nobody" in write.stdout
    assert not refused_as_damaged(write.stdout)
    (store / "catalog.sqlite").chmod(0o600)  # now nobody may not even read it
    with unchanged(store):
        read = _nobody("import nbassets\nnbassets.load('orders')", shared_project)
    assert read.stdout.startswith("StorePermissionDenied: "), read.stdout + read.stderr
    assert "catalog.sqlite" in read.stdout and not refused_as_damaged(read.stdout)
    assert recorded(store) == before
    assert data_files(store) == files


# a locked catalog

_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def test_a_locked_catalog_is_reported_as_locked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = project / "warehouse"
    nbassets.save("orders", {"n": 1})
    before, files = recorded(store), data_files(store)
    catalog = store / "catalog.sqlite"
    monkeypatch.setenv("NBASSETS_BUSY_TIMEOUT", "0.5")  # the default is 30 s
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(catalog), "8"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with unchanged(store), refused("CatalogLocked") as info:
            nbassets.save("orders", {"n": 2})
        message = str(info.value)
        assert str(catalog) in message and "locked" in message and "0.5" in message
        assert not refused_as_damaged(message)
        assert data_files(store) == files  # refused before writing the data file
    finally:
        holder.kill()
        holder.wait()
    assert recorded(store) == before


# a catalog from a newer nbassets


def test_a_newer_catalog_is_refused_before_anything_is_written(project: Path) -> None:
    store = project / "warehouse"
    nbassets.save("orders", {"n": 1})
    catalog = store / "catalog.sqlite"
    conn = sqlite3.connect(catalog)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    before, files = recorded(store), data_files(store)
    with unchanged(store):
        for attempt in (
            lambda: nbassets.save("orders", {"n": 2}),
            lambda: nbassets.load("orders"),
        ):
            with refused("CatalogTooNew") as info:
                attempt()
            message = str(info.value)
            assert str(catalog) in message and "99" in message and "upgrade nbassets" in message
            assert not refused_as_damaged(message)
    assert data_files(store) == files  # save refused before writing the data file
    assert recorded(store) == before
