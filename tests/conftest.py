"""Shared fixtures: a fresh project per test and a real IPython shell with nbassets loaded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from traitlets.config import Config

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


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder (``[tool.nbassets]``) as the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    monkeypatch.chdir(root)
    monkeypatch.setenv("NBASSETS_USER", "tester")
    monkeypatch.delenv("NBASSETS_ENV", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return root


@pytest.fixture(autouse=True)
def no_ipython_unless_asked(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that does not ask for the shell runs as a script would: no IPython shell exists.

    The session's shell is a process-wide singleton, and the production policy refuses
    production writes while one exists; tests of scripts, the CLI and Dagster run without
    it (tests of that refusal ask for ``_shell``).
    """
    if "_shell" in request.fixturenames:
        yield
        return
    classes = [c for c in TestingShell.__mro__ if "_instance" in vars(c)]
    saved = {c: vars(c)["_instance"] for c in classes}
    for c in classes:
        c._instance = None  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for c, instance in saved.items():
            c._instance = instance  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def _shell() -> TestingShell:
    config = Config()
    config.HistoryManager.enabled = False
    return TestingShell.instance(config=config)


@pytest.fixture
def shell(_shell: TestingShell, project: Path) -> Iterator[TestingShell]:
    """The real shell with nbassets loaded for ``project`` and an empty namespace."""
    _shell.reset(new_session=False)
    _shell.run_cell("%load_ext nbassets")
    yield _shell
    _shell.run_cell("%unload_ext nbassets")


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
