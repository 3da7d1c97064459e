"""Throwaway servers for the tests of team production: PostgreSQL from Debian's packages.

:class:`PostgresServer` makes a cluster in a temporary folder (``initdb``), starts it on a free
loopback port with its unix socket in that folder (``pg_ctl``), hands out fresh databases, and
removes everything when stopped. PostgreSQL refuses to run as root, so under root the server
runs as the ``postgres`` user (``runuser``). Durability is switched off (``fsync``): the
tests prove behaviour, not crash safety of the disk.

Connections from 127.0.0.1 are trusted, except for the role ``PASSWORD_ROLE``, which must give
its password (``PASSWORD``): the tests of authentication use it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PASSWORD_ROLE, PASSWORD = "nbassets_pw", "s3cret-pw-9271"


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (the newest installed), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).resolve().parent if on_path else None


def _major(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A PostgreSQL cluster of its own, on ``127.0.0.1:port``, as user ``postgres``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="nbassets-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.databases = 0
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        done = subprocess.run(
            [*prefix, str(self.bin_dir / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr}{done.stdout}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        hba = self.data / "pg_hba.conf"
        lines = f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(lines + "host all all 127.0.0.1/32 trust\nlocal all all trust\n")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        log = self.folder / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start")
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")

    def stop(self) -> None:
        """Stop the server (if it started) and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True)

    def new_database(self) -> str:
        """A fresh, empty database (its URL), owned by ``postgres``, open to ``PASSWORD_ROLE``."""
        self.databases += 1
        name = f"test_{self.databases}"
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
            conn.execute(f"GRANT ALL ON DATABASE {name} TO {PASSWORD_ROLE}")
        return self.url(name)
