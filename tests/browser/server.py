"""A real ``jupyter lab`` in its own process, on a free port, with a token and its own settings."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Stops JupyterLab's news and update toast from covering the page.
NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: where it listens, its token and its log file."""

    port: int
    token: str
    root: Path
    log: Path

    def url(self, path: str) -> str:
        """An absolute URL of the server, with the token (``path`` without a leading ``/``)."""
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_lab(
    root: Path, workdir: Path, extra_args: Sequence[str] = (), timeout: float = 90
) -> Iterator[LabServer]:
    """Start ``jupyter lab`` serving ``root``; stop it with SIGTERM on exit.

    Settings, workspaces, runtime files and user config live in ``workdir``, so neither the
    developer's ``~/.jupyter`` nor an earlier run changes what the page shows. The Python
    environment's own config (``<prefix>/etc/jupyter``) is used as installed: that is where
    ``pip install nbassets`` enables the server extension.
    """
    settings = workdir / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps(NOTIFICATION_SETTINGS)
    )
    server = LabServer(free_port(), secrets.token_hex(16), root, workdir / "jupyter-lab.log")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(workdir / "config"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "NBASSETS_USER": "tester",
    }
    for name in ("NBASSETS_ENV", "JPY_SESSION_NAME"):
        env.pop(name, None)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root", "--ip", "127.0.0.1", f"--port={server.port}",
        f"--IdentityProvider.token={server.token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
        *extra_args,
    ]  # fmt: skip
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_up(server, process, timeout)
        yield server
    finally:
        _stop(process)


def _wait_until_up(server: LabServer, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/status",
        headers={"Authorization": f"token {server.token}"},
    )
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer in {timeout} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (it shuts its kernels down), then kill its process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
