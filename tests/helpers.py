"""What tests share: a testing shell, notebooks and stores made by hand, digests, runs of notebooks.

Imported as ``from helpers import ...`` (``tests/`` is on pytest's ``pythonpath``), never from
``conftest.py``, which holds only fixtures.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = Path(__file__).parent / "resources"


class TestingShell(InteractiveShell):
    """An InteractiveShell whose ``run_cell`` raises the cell's error, with history off."""

    __test__ = False

    def run_cell(self, raw_cell, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result

    def capture(self, cell: str) -> CapturedIO:
        """Run ``cell`` and return what it printed and displayed."""
        with capture_output() as captured:
            self.run_cell(cell)
        return captured


def shown(captured: CapturedIO) -> str:
    """Everything a cell printed or displayed, as plain text."""
    texts = [output.data.get("text/plain", "") for output in captured.outputs]
    return "\n".join([captured.stdout, *texts])


def write_notebook(path: Path, sources: dict[str, str]) -> Path:
    """Write an ``.ipynb`` with one code cell per ``{cell_id: source}`` item."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell(source, id=cell_id) for cell_id, source in sources.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), path)
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def write_prod(root: Path, key: str, value: object, code_version: str = "seeded") -> str:
    """Store ``value`` as production's latest ``key`` (as a production build would); return its data version."""
    from nbassets.store.stores import Store, now

    store = Store("prod", root / "warehouse", writable=True)
    try:
        io = "parquet" if type(value).__name__ == "DataFrame" else "pickle"
        record = store.write(key, value, io, code_version=code_version, started_at=now())
    finally:
        store.close()
    return record.data_version


def catalog_rows(store_root: Path, table: str = "materializations") -> list[tuple]:
    """Every row of a catalog table, read with plain sqlite3."""
    import sqlite3

    conn = sqlite3.connect(store_root / "catalog.sqlite")
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        conn.close()


def execute(notebook: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    nb = nbformat.read(notebook, as_version=4)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # as jupyter_server tells a kernel
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    client.execute()
    return nb


def seed_production(project: Path) -> None:
    spec = importlib.util.spec_from_file_location("seed", ROOT / "notebooks" / "seed_production.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.seed(project) is True
    assert module.seed(project) is False  # idempotent


def tree_listing(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (itself included): its kind and mode, a file's SHA-256,
    a link's target (never followed). A folder that does not exist lists as ``{}``."""
    listing: dict[str, str] = {}
    if not os.path.lexists(folder):
        return listing
    for path in [folder, *sorted(folder.rglob("*"))]:
        info = path.lstat()
        name = path.relative_to(folder).as_posix()
        mode = f"{stat.S_IMODE(info.st_mode):o}"
        if stat.S_ISLNK(info.st_mode):
            listing[name] = f"link -> {os.readlink(path)}"
        elif stat.S_ISDIR(info.st_mode):
            listing[name] = f"folder {mode}"
        elif stat.S_ISREG(info.st_mode):
            listing[name] = f"file {mode} {hashlib.sha256(path.read_bytes()).hexdigest()}"
        else:
            listing[name] = f"other {info.st_mode:o}"
    return listing


def tree_hash(folder: Path) -> str:
    """One SHA-256 of the whole tree under ``folder``: every path, kind, mode, file's bytes
    and link's target (``rglob`` does not follow links, so a link out is hashed, not walked)."""
    entries = "\0".join(f"{name}\0{entry}" for name, entry in tree_listing(folder).items())
    return hashlib.sha256(entries.encode("utf-8", "surrogateescape")).hexdigest()


@contextmanager
def unchanged(folder: Path) -> Iterator[None]:
    """Assert that the block leaves ``folder`` byte-identical (:func:`tree_hash`), showing the
    entries that differ when it does not. Production's tree, around every attack."""
    before = tree_listing(folder)
    yield
    after = tree_listing(folder)
    changed = {
        name: (before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    }
    assert not changed, f"{folder} changed: {changed}"


def git(project: Path, *args: str) -> str:
    """Run git in ``project`` as a test user; its output, stripped (it raises on failure)."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=project, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()
