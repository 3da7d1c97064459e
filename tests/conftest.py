"""Fixtures only: a fresh project per test, a real IPython shell with nbassets loaded, and a
throwaway PostgreSQL server (``tests/servers.py``) with a fresh database per test."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import TestingShell
from s3_server import s3_bucket, s3_server  # noqa: F401  (fixtures: moto's S3 server, a bucket)
from servers import PostgresServer, postgres_bin
from team_production import KINDS, Production, production_for
from traitlets.config import Config


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (Debian's ``postgresql``, psycopg installed).

    Missing, it skips a local run with the fix; under CI (``CI`` set) it fails.
    """
    bin_dir = postgres_bin()
    missing = [
        *(["PostgreSQL (apt-get install -y postgresql)"] if bin_dir is None else []),
        *(
            ["psycopg (pip install -e '.[postgres]')"]
            if not importlib.util.find_spec("psycopg")
            else []
        ),
    ]
    if missing:
        message = f"the PostgreSQL tests need {' and '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert bin_dir is not None
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(params=KINDS)
def prod_backend(request: pytest.FixtureRequest, project: Path) -> Production:
    """``project``'s production in each configuration (``tests/team_production.py``): ``local``
    (a folder and SQLite), then ``s3+postgres`` (moto's S3 server and a PostgreSQL database)."""
    return production_for(request.param, request, project)
