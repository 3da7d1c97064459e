"""Project-level behaviour on both production configurations (issue 15, acceptance 2).

Each test runs once on ``local`` (a folder and SQLite) and once on ``s3+postgres`` (moto's S3
server and a PostgreSQL database), through the fixture ``prod_backend``
(``tests/team_production.py``): the CLI exports and builds production, a rebuild and a
downstream rebuild, a failing build, a writer killed half way, a kernel refused, a backend
that cannot be read. The last test builds one history in both configurations and compares
what ``status``, ``why`` and ``history`` answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import TestingShell, git, write_notebook
from IPython.core.error import UsageError
from team_production import KINDS, Production, production_for

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.errors import ProductionWriteError
from nbassets.store.catalog import Materialization

ROOT = Path(__file__).resolve().parents[1]
CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": "%%asset orders --key id\nraw_orders[raw_orders.amount > {floor}]",
    "c2": "%%asset summary\npd.DataFrame({{'total': [orders.amount.sum()]}})",
}
RAW = {"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0]}


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.stdout


def seed(project: Path) -> Materialization:
    """``raw_orders`` saved into production, as an ingest script does (no IPython here)."""
    import pandas as pd

    return nbassets.save("raw_orders", pd.DataFrame(RAW), project=Project.find(project))


def deploy(project: Path, floor: float = 0.0) -> None:
    """The shop notebook (orders keep amounts above ``floor``), exported, committed on main."""
    cells = {name: cell.format(floor=floor) for name, cell in CELLS.items()}
    write_notebook(project / "notebooks" / "shop.ipynb", cells)
    if not (project / ".git").exists():
        (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
        git(project, "init", "-q", "-b", "main")
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"orders above {floor}")


def built(project: Path, *args: str, code: int = 0) -> list[str]:
    return json.loads(cli(project, "materialize", "--no-progress", "--json", *args, code=code))[
        "built"
    ]


@pytest.fixture(autouse=True)
def _fresh_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rewritten package modules of one size within one second must not come from old .pyc."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield
    for name in [n for n in sys.modules if n == "pipelines" or n.startswith("pipelines.")]:
        del sys.modules[name]


def test_the_cli_exports_builds_rebuilds_and_builds_downstream_into_production(
    project: Path, prod_backend: Production
) -> None:
    raw = seed(project)
    deploy(project)
    assert built(project) == ["orders", "summary"]
    first = {r.key: r for r in prod_backend.assert_every_record_whole()}
    assert set(first) == {"raw_orders", "orders", "summary"}
    assert first["orders"].inputs["raw_orders"]["data_version"] == raw.data_version
    assert first["orders"].rows == 2 and first["summary"].commit == git(
        project, "rev-parse", "HEAD"
    )
    objects = prod_backend.objects()
    assert sorted(name.split("/")[1] for name in objects) == ["orders", "raw_orders", "summary"]

    assert built(project) == ["orders", "summary"]  # a rebuild: two records, no new object
    again = prod_backend.assert_every_record_whole()
    assert [r.data_version for r in again[3:]] == [
        first["orders"].data_version,
        first["summary"].data_version,
    ]
    assert prod_backend.objects() == objects

    deploy(project, floor=5.0)  # orders' code changed: it and its downstream are stale
    rows = {
        row["key"]: row["status"]
        for row in json.loads(cli(project, "status", "--env", "prod", "--json"))
    }
    assert rows == {"orders": "stale", "summary": "stale", "raw_orders": "fresh"}
    assert built(project, "--select", "orders+") == ["orders", "summary"]
    latest = {r.key: r for r in prod_backend.assert_every_record_whole()}
    assert latest["summary"].inputs["orders"]["data_version"] == latest["orders"].data_version
    assert nbassets.load("summary", project=Project.find(project))["total"].tolist() == [9.0]
    rows = {
        row["key"]: row["status"]
        for row in json.loads(cli(project, "status", "--env", "prod", "--json"))
    }
    assert set(rows.values()) == {"fresh"}
    assert len(prod_backend.objects()) == 5


FAILING = textwrap.dedent(
    """
    from nbassets.runtime import ExportedAsset


    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this half")


    def fine(raw_orders):
        return raw_orders


    def boom(fine):
        raise ValueError("boom")


    def halfway(fine):
        return [b"x" * 2_000_000, Unpicklable()]  # 2 MB written, then the pickler fails


    ASSETS = (
        ExportedAsset("fine", fine, deps=("raw_orders",), code_version="f1"),
        ExportedAsset("boom", boom, deps=("fine",), code_version="b1"),
        ExportedAsset("halfway", halfway, deps=("fine",), code_version="h1", io="pickle"),
    )
    """
)


def test_a_failing_build_leaves_no_record_and_no_object(
    project: Path, prod_backend: Production, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9e0b7d")
    seed(project)
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "shop.py").write_text(FAILING)
    report = json.loads(cli(project, "materialize", "--no-git", "--no-progress", "--json", code=1))
    assert report["built"] == ["fine"] and sorted(report["failed"]) == ["boom", "halfway"]
    assert "cannot pickle this half" in report["failed"]["halfway"]
    journal = prod_backend.journal()
    assert [(type(e).__name__, e.key) for e in journal if e.key != "raw_orders"] == [
        ("Materialization", "fine"),
        ("Failure", "boom"),
        ("Failure", "halfway"),
    ]
    prod_backend.assert_every_record_whole()
    assert sorted(name.split("/")[1] for name in prod_backend.objects()) == ["fine", "raw_orders"]
    if prod_backend.kind == "local":
        assert [p for p in (project / "warehouse").rglob("*") if "tmp" in p.name] == []
    rows = {
        row["key"]: row["status"]
        for row in json.loads(cli(project, "status", "--env", "prod", "--json"))
    }
    assert rows["boom"] == rows["halfway"] == "failed"


# A child that saves ``settings`` (about 4 MB of pickle) into production and stops half way:
# the value's last item prints "halfway" when the pickler reaches it, then waits to be killed.
HALFWAY_WRITER = textwrap.dedent(
    """
    import os, time
    import nbassets

    class Halfway:
        def __reduce__(self):
            print("halfway", flush=True)
            time.sleep(120)
            raise SystemExit("not killed")

    nbassets.save("settings", {"blob": [os.urandom(1024) for _ in range(4096)], "s": Halfway()})
    """
)


def test_a_writer_killed_half_way_leaves_no_half_written_version(
    project: Path, prod_backend: Production
) -> None:
    nbassets.save("settings", {"price": 9.0}, project=Project.find(project))
    records, objects = prod_backend.records(), prod_backend.objects()
    child = subprocess.Popen(
        [sys.executable, "-c", HALFWAY_WRITER],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "halfway", child.stderr and child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert prod_backend.records() == records  # no record of the half-written bytes
    left = prod_backend.objects()  # a local writer's temporary file stays until the next writer
    assert {name: data for name, data in left.items() if "/tmp-" not in name} == objects
    assert nbassets.load("settings", project=Project.find(project)) == {"price": 9.0}
    nbassets.save("settings", {"price": 10.0}, project=Project.find(project))  # it sweeps
    assert len(prod_backend.assert_every_record_whole()) == 2


def test_a_kernel_reads_production_and_cannot_write_it(
    shell: TestingShell, project: Path, prod_backend: Production
) -> None:
    ingest = f"import nbassets, pandas as pd\nnbassets.save('raw_orders', pd.DataFrame({RAW}))"
    subprocess.run([sys.executable, "-c", ingest], cwd=project, check=True)  # no shell there
    deploy(project)  # a clean main: only the IPython shell in this process stands in the way
    records, objects = prod_backend.records(), prod_backend.objects()
    shell.run_cell("%unload_ext nbassets")  # the extension reads the configuration again
    shell.run_cell("%load_ext nbassets")
    shell.run_cell("%%asset orders --no-preview\nraw_orders[raw_orders.amount > 0]")
    assert shell.user_ns["orders"]["id"].tolist() == [1, 2]  # production's raw_orders, read
    with pytest.raises(ProductionWriteError, match="IPython"):
        nbassets.save("raw_orders", [1], env="prod")
    with pytest.raises(UsageError, match="cannot switch to 'prod'"):
        shell.run_cell("%nbassets env prod")
    refused = CliRunner().invoke(main, ["--project", str(project), "materialize", "--no-progress"])
    assert refused.exit_code == 1 and "from a process running an IPython shell" in refused.stderr
    assert prod_backend.records() == records and prod_backend.objects() == objects


def closed_port() -> int:
    from servers import free_port

    return free_port()  # nothing listens there once the probe is closed


def test_a_backend_that_cannot_be_read_is_a_clear_error(
    project: Path, prod_backend: Production, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(project)
    port = closed_port()
    if prod_backend.kind == "local":
        (project / "warehouse" / "catalog.sqlite").write_bytes(b"not a database " * 100)
        catalog_error = f"{project / 'warehouse' / 'catalog.sqlite'}"
    else:
        url = (prod_backend.catalog_url or "").rsplit(":", 1)[0] + f":{port}/nowhere"
        replace(prod_backend, catalog_url=url).configure()
        catalog_error = f"cannot reach the PostgreSQL catalog {url}"
    failed = CliRunner().invoke(main, ["--project", str(project), "status", "--env", "prod"])
    assert failed.exit_code == 1 and catalog_error in failed.stderr, failed.output
    assert "Traceback" not in failed.output
    if prod_backend.kind == "local":
        return
    prod_backend.configure()  # the catalog answers; the object store does not
    script = (
        "import nbassets\nfrom nbassets.errors import StorageError\n"
        "try:\n    nbassets.load('raw_orders')\nexcept StorageError as exc:\n    print(exc)"
    )
    environ = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0 and f"{prod_backend.prod}/data/raw_orders/" in done.stdout, done
    assert str(port) not in done.stdout  # the endpoint is never repeated


def answers(project: Path, location: str) -> dict[str, Any]:
    """What status, why and history say about production, its location and times left out."""

    def ask(*args: str) -> Any:
        text = cli(project, *args, "--json").replace(location, "<prod>")
        return json.loads(
            text,
            object_hook=lambda d: {
                k: v for k, v in d.items() if not k.endswith(("_at", "_seconds"))
            },
        )

    return {
        "status": ask("status", "--env", "prod"),
        "why": [ask("why", key) for key in ("orders", "summary")],
        "history": [ask("history", key, "--env", "prod") for key in ("orders", "summary")],
    }


def differences(left: Any, right: Any, at: str = "") -> list[str]:
    """Where two JSON values differ: one line per differing leaf."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [d for k in sorted(left.keys() | right.keys())
                for d in differences(left.get(k), right.get(k), f"{at}.{k}")]  # fmt: skip
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in differences(a, b, f"{at}[{i}]")
        ]
    return [] if left == right else [f"{at}: {left!r} != {right!r}"]


def test_status_why_and_history_answer_alike_on_both_configurations(
    project: Path, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One history (an ingest, a build, a code change built downstream, a failing build) made
    in a local production and in one on S3 + PostgreSQL: the three commands answer alike."""
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9e0b7d")
    (tmp_path / "team").mkdir()
    productions = [
        production_for(kind, request, root)
        for kind, root in zip(KINDS, [project, tmp_path / "team"], strict=True)
    ]

    def in_both(step: Callable[[Path], object]) -> None:
        for production in productions:
            step(production.project)
            for name in [n for n in sys.modules if n == "pipelines" or n.startswith("pipelines.")]:
                del sys.modules[name]

    def export(floor: float, summary: str = "") -> Callable[[Path], object]:
        cells = {name: cell.format(floor=floor) for name, cell in CELLS.items()}
        if summary:
            cells["c2"] = f"%%asset summary\n{summary}"
        return lambda root: (
            write_notebook(root / "notebooks" / "shop.ipynb", cells),
            cli(root, "export"),
        )

    def build(*args: str, code: int = 0) -> Callable[[Path], object]:
        return lambda root: cli(root, "materialize", "--no-git", "--no-progress", *args, code=code)

    in_both(seed)
    in_both(export(0.0))
    in_both(build())
    in_both(export(5.0))
    in_both(build("--select", "orders+"))
    in_both(export(5.0, summary="orders['no_such_column']"))
    in_both(build(code=1))
    local, team = (answers(p.project, p.location) for p in productions)
    assert local == team, differences(local, team)
    assert [row["status"] for row in local["status"]] == ["fresh", "failed", "fresh"]
    assert [len(h) for h in local["history"]] == [3, 3]
    assert local["history"][1][0]["error"] == "KeyError: 'no_such_column'"
    assert local["why"][1]["data_version"] == local["history"][1][1]["data_version"]
