"""An S3-compatible server for tests: moto's server mode (``moto_server``), once per session.

``s3_server`` starts it as a separate process on a free loopback port in a temporary folder,
with dummy credentials and ``AWS_ENDPOINT_URL`` in the environment (restored at the end), so
nbassets reaches it exactly as it reaches AWS: through the standard variables. ``s3_bucket``
gives each test a fresh bucket, emptied and removed afterwards. Without ``moto[server]`` the
tests that need it are skipped, except under CI (``CI`` set), where that is a failure.
Registered in ``conftest.py``.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "nbassets-test-access-key"
SECRET_KEY = "nbassets-test-secret-key-do-not-log"
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class S3Server:
    """A running S3-compatible server: its endpoint and the dummy credentials in the env."""

    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    @functools.cached_property
    def _filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key,
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def filesystem(self) -> Any:
        """An s3fs filesystem on the server, apart from nbassets' own (it caches no listings)."""
        return self._filesystem


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI the S3 tests must run: .ci/run installs '.[test,s3]')")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto_server did not listen on 127.0.0.1:{port} in {_START_TIMEOUT:g} s")


def moto_binary() -> str | None:
    """The ``moto_server`` program of this environment (or on the PATH), if installed."""
    here = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    return here or shutil.which("moto_server")


def credentials_environ(server: S3Server, folder: Path) -> dict[str, str | None]:
    """The environment that points boto/s3fs at ``server`` and nowhere else (None: unset)."""
    return {
        "AWS_PROFILE": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_ENDPOINT_URL_S3": None,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_CONFIG_FILE": str(folder / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
    }


@contextmanager
def running_moto(binary: str, folder: Path) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, its log in ``folder``; stopped on exit."""
    port = _free_port()
    with open(folder / "moto.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_listening(port, process)
            yield S3Server(f"http://127.0.0.1:{port}")
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on loopback for the whole session, the env pointed at it."""
    binary = moto_binary()
    try:
        import s3fs  # noqa: F401
    except ImportError:
        _missing("s3fs is not installed: pip install '.[s3]'")
    if binary is None:
        _missing("moto_server is not installed: pip install 'moto[server]' (the test extra)")
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="nbassets-moto-") as name:
        folder = Path(name)
        with running_moto(binary, folder) as server, pytest.MonkeyPatch.context() as env:
            for variable, value in credentials_environ(server, folder).items():
                if value is None:
                    env.delenv(variable, raising=False)
                else:
                    env.setenv(variable, value)
            yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket: ``s3://<name>``; emptied and removed after the test."""
    name = f"nbassets-{secrets.token_hex(6)}"
    fs = s3_server.filesystem()
    fs.mkdir(name)
    yield f"s3://{name}"
    fs.rm(name, recursive=True)
