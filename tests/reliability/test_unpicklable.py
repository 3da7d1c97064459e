"""Held: a value that cannot be stored (a lambda, an open socket, a generator, a lock) is a
clear error, nothing is written, and the previous version stays current.

In a real IPython shell (``%%asset``) and through ``nbassets.save`` (an ingest script writing
production, and a sandbox), with the unpicklable part after a megabyte of bytes the pickler
has already written to the temporary file. The error names the asset, what the value is and
what to return instead; no data file and no temporary file is left, the catalog records no
version (a kernel build records the failure, as history), and the previous version loads.
Production's tree is byte-identical whenever it was not the target.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import TestingShell, catalog_rows, tree_digest, unchanged
from IPython.core.error import UsageError

import nbassets
from nbassets.errors import StorageError

KERNEL = "dev-tester-nogit"  # the kernel's default env in a project without git
SANDBOX = "ci-x"
CLEAR = r"the value of asset '\w+' \(a \w+\) cannot be pickled: .*Return a DataFrame or a picklable"
BODIES = {  # cell bodies whose value cannot be pickled
    "lambda": "handle = lambda row: row",
    "socket": "import socket\nhandle = socket.socket()",
    "generator": "handle = (i for i in range(3))",
    "lock": "import threading\nhandle = threading.Lock()",
    "after-a-megabyte": "handle = [b'x' * 1_000_000, lambda row: row]",
}


def temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if "tmp" in p.name]


def test_unpicklable_value_is_a_clear_error(
    shell: TestingShell, project: Path, production: Path
) -> None:
    sandbox = project / ".nbassets" / KERNEL
    shell.run_cell("%%asset handle --no-preview\nhandle = [1, 2]")
    files, versions = tree_digest(sandbox / "data"), catalog_rows(sandbox)
    with unchanged(production):
        for kind, body in BODIES.items():
            with pytest.raises(UsageError, match=CLEAR):
                shell.run_cell(f"%%asset handle --no-preview\n{body}")
            assert tree_digest(sandbox / "data") == files, kind
            assert not temporary_files(sandbox), kind
            assert catalog_rows(sandbox) == versions, kind  # no version recorded
    failures = catalog_rows(sandbox, "failures")
    assert len(failures) == len(BODIES)  # each failed build is history
    assert nbassets.load("handle", env=KERNEL) == [1, 2]  # the previous version is current
    assert shell.user_ns["handle"] == [1, 2]
    rows = {row.key: row.label for row in shell.run_cell("%assets").result.rows}
    assert rows["handle"] == "failed: last build raised"


@pytest.fixture
def open_socket() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        yield sock


@pytest.mark.parametrize("env", ["prod", SANDBOX])
def test_save_of_an_unpicklable_value_writes_nothing(
    project: Path, production: Path, open_socket: socket.socket, env: str
) -> None:
    store = production if env == "prod" else project / ".nbassets" / env
    nbassets.save("settings", {"currency": "EUR"}, env=env)
    values = {
        "lambda": lambda row: row,
        "socket": open_socket,
        "generator": (i for i in range(3)),
        "after-a-megabyte": [b"x" * 1_000_000, lambda row: row],
    }
    with unchanged(production), unchanged(store):  # not a byte: no file, no record
        for value in values.values():
            with pytest.raises(StorageError, match=CLEAR):
                nbassets.save("settings", value, env=env)
    assert nbassets.load("settings", env=env) == {"currency": "EUR"}
