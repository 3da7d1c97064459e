"""``nbassets migrate-store``: a local production with history moved to S3 + PostgreSQL (and to
another folder) answers ``status``, ``why`` and ``history`` as before; a re-run copies nothing;
the source never changes; production's location is never written from IPython.

The history is made by the CLI itself (three deploys, a failed build, a forget, check results,
alert incidents opened and closed), plus a unit-test result recorded as pytest's plugin does.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner
from helpers import TestingShell, git, write_notebook
from s3_server import S3Server

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.store.catalog import Catalog
from nbassets.store.postgres_catalog import PostgresCatalog
from nbassets.store.results import TestResult
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now

CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": "%%asset orders --key id --check \"not_null('id')\"\nraw_orders[raw_orders.amount > 0]",
    "c2": "%%asset summary --check 'row_count(min=5)'\n"  # fails: one row (an incident)
    "pd.DataFrame({'total': [orders.amount.sum()]})",
    "c3": "%%asset regions --partition static:eu,us\norders.assign(region=partition.key)",
}
RAW = [
    pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0]}),
    pd.DataFrame({"id": [1, 2, 3, 4], "amount": [4.0, 9.0, 2.0, 5.0]}),
    pd.DataFrame({"id": [1, 2], "price": [1.0, 2.0]}),  # no amount: orders fails
    pd.DataFrame({"id": [1, 2, 5], "amount": [4.0, 9.0, 7.0]}),
]
QUESTIONS = [
    ("status", "--env", "prod", "--json"),
    ("why", "orders", "--env", "prod", "--json"),
    ("why", "summary", "--env", "prod", "--json"),
    ("history", "--env", "prod", "--json"),
    ("history", "orders", "--env", "prod", "--json"),
    ("history", "regions", "--env", "prod", "--json"),
    ("history", "scratch", "--env", "prod", "--json"),
]


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.stdout


def configure(project: Path, prod: str, catalog: str | None = None) -> None:
    received = project.parent / "alerts.jsonl"
    writer = f"import sys; open({str(received)!r}, 'ab').write(sys.stdin.buffer.read())"
    lines = ["[tool.nbassets]", f'prod = "{prod}"']
    lines += [f'prod_catalog = "{catalog}"'] if catalog else []
    lines += ["[tool.nbassets.alerts]", f"command = {json.dumps(f'{sys.executable} -c {json.dumps(writer)}')}"]  # fmt: skip
    (project / "pyproject.toml").write_text("\n".join(lines) + "\n")


def local_production(project: Path) -> None:
    """Production in ``warehouse/`` with history, built by the CLI from a committed project."""
    configure(project, "warehouse")
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_notebook(project / "notebooks" / "shop.ipynb", CELLS)
    git(project, "init", "-q", "-b", "main")
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "shop")
    for raw in RAW:
        nbassets.save("raw_orders", raw)
        cli(project, "materialize", "--no-progress", code=1)  # summary's check, or orders, fails
    nbassets.save("scratch", pd.DataFrame({"x": [1]}))
    cli(project, "forget", "scratch", "--env", "prod")
    catalog = SqliteCatalog(project / "warehouse" / "catalog.sqlite", writable=True)
    try:  # what `pytest --nbassets-env prod` records for an exported unit test
        code = catalog.latest_of("orders")
        assert code is not None
        catalog.record_tests(
            [
                TestResult(
                    "orders", "test_positive", code.code_version, "passed", env="prod", at=now()
                )
            ]
        )
        incidents = catalog.incidents()
    finally:
        catalog.close()
    assert {(i.key, i.kind, i.closed_at is None) for i in incidents} >= {
        ("orders", "build", False), ("summary", "check", True),
    }  # fmt: skip


def answers(project: Path, store: str) -> list[Any]:
    """The answers to ``QUESTIONS``, production's location written ``<prod>``."""
    return [json.loads(cli(project, *question).replace(store, "<prod>")) for question in QUESTIONS]


def files_recorded(store: Path) -> set[str]:
    catalog = SqliteCatalog(store / "catalog.sqlite", writable=False)
    try:
        return {getattr(e, "path", "") for e in catalog.journal(0, 10_000)} - {""}
    finally:
        catalog.close()


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_a_local_production_moves_to_s3_and_postgresql_and_answers_the_same(
    project: Path, s3_bucket: str, postgres_url: str
) -> None:
    local_production(project)
    before = answers(project, str(project / "warehouse"))
    assert before[3] and any(row["key"] == "regions" for row in before[0])
    assert '"status": "failed"' in json.dumps(before[3]) and before[6]  # scratch: forgotten
    source = tree_digest(project / "warehouse")
    target = f"{s3_bucket}/warehouse"
    args = ["migrate-store", "--from", "prod", "--to", target, "--catalog", postgres_url, "--json"]
    first = json.loads(cli(project, *args))
    assert first["objects"] == len(files_recorded(project / "warehouse"))
    assert first["objects_present"] == 0 and first["bytes"] > 0 and first["records_present"] == 0
    assert first["written"] == {
        "builds": 17, "failures": 1, "forgets": 1, "check results": 6, "test results": 1,
        "incidents": 2,
    }  # fmt: skip
    again = json.loads(cli(project, *args))  # a re-run copies nothing twice
    assert (again["objects"], again["bytes"], again["records_written"]) == (0, 0, 0)
    assert again["records_present"] == first["records_written"]
    assert tree_digest(project / "warehouse") == source  # the source was only read
    summary = nbassets.load("summary", project=Project.find(project))
    configure(project, target, postgres_url)  # the project now points at the new production
    (project / "warehouse").rename(project.parent / "old-warehouse")  # nothing reads it now
    assert answers(project, target) == before
    loaded = nbassets.load("summary", project=Project.find(project))  # through the cache
    pd.testing.assert_frame_equal(loaded, summary)


def test_a_local_production_moves_to_another_folder(project: Path) -> None:
    local_production(project)
    before = answers(project, str(project / "warehouse"))
    out = cli(project, "migrate-store", "--from", "warehouse", "--to", "shared/store")
    assert "copying" in out and "record(s)" in out and "file(s)" in out
    assert "skipped" not in out
    again = cli(project, "migrate-store", "--from", "warehouse", "--to", "shared/store")
    assert "copied 0 file(s) (0 B), 0 record(s)" in again and "skipped" in again
    configure(project, "shared/store")
    (project / "warehouse").rename(project.parent / "old-warehouse")
    assert answers(project, str(project / "shared" / "store")) == before


def test_bad_usage_exits_2_and_names_the_fix(project: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["migrate-store", "--from", "prod", "--to", str(tmp_path / "t")])
    assert out.exit_code == 2 and "holds no records: there is nothing to copy" in out.output
    nbassets.save("raw", pd.DataFrame({"a": [1]}))
    out = CliRunner().invoke(main, ["migrate-store", "--from", "prod", "--to", "s3://b/w"])
    assert out.exit_code == 2 and "add --catalog postgresql://" in out.output
    assert not (tmp_path / "t").exists()


def test_a_damaged_file_stops_the_copy_with_exit_1_naming_it(project: Path, tmp_path: Path) -> None:
    first = nbassets.save("raw", pd.DataFrame({"a": [1]}))
    second = nbassets.save("raw", pd.DataFrame({"a": [2]}))
    damaged = project / "warehouse" / second.path
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")  # same size, other bytes
    out = CliRunner().invoke(main, ["migrate-store", "--from", "prod", "--to", str(tmp_path / "t")])
    assert out.exit_code == 1 and "error: the record of raw version " in out.output
    assert second.data_version[:12] in out.output and second.path in out.output
    assert (tmp_path / "t" / first.path).is_file() and not (tmp_path / "t" / second.path).exists()


def test_production_is_never_written_from_ipython(
    shell: TestingShell, project: Path, tmp_path: Path
) -> None:
    nbassets.save("raw", pd.DataFrame({"a": [1]}), env="dev-tester-nogit")
    sandbox = project / ".nbassets" / "dev-tester-nogit"
    out = CliRunner().invoke(main, ["migrate-store", "--from", str(sandbox), "--to", "warehouse"])
    assert out.exit_code == 1 and "would write production" in out.output
    assert "IPython" in out.output and not (project / "warehouse").exists()
    elsewhere = CliRunner().invoke(
        main, ["migrate-store", "--from", str(sandbox), "--to", str(tmp_path / "copy")]
    )
    assert elsewhere.exit_code == 0, elsewhere.output  # another folder is not production
    assert Project.find(project).prod_path == project / "warehouse"


def test_a_killed_copy_resumes_and_ends_equal(
    project: Path, s3_server: S3Server, s3_bucket: str, postgres_url: str
) -> None:
    source = project / "warehouse"
    store = Store("prod", source, writable=True)
    try:
        for i in range(120):
            store.write(f"k{i % 10}", pd.DataFrame({"a": [i]}), "parquet", code_version="c1",
                        started_at=now())  # fmt: skip
    finally:
        store.close()
    args = ["migrate-store", "--from", "prod", "--to", f"{s3_bucket}/w", "--catalog", postgres_url]
    command = [sys.executable, "-m", "nbassets", *args, "--no-progress"]
    process = subprocess.Popen(command, cwd=project, env=os.environ)
    reader = PostgresCatalog(postgres_url, writable=False)
    try:
        deadline = time.monotonic() + 60
        while len(reader.journal(0, 1000)) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.kill()  # SIGKILL: no cleanup of any kind
        process.wait()
        copied = len(reader.journal(0, 1000))
        assert 10 <= copied < 120  # stopped half-way
        uploaded = len(s3_server.filesystem().find(f"{s3_bucket.removeprefix('s3://')}/w"))
        assert uploaded >= copied  # every record's file is there (uploads run ahead of them)
        done = json.loads(cli(project, *args, "--json"))
        assert done["records_present"] == copied and done["records_written"] == 120 - copied
        assert done["objects_present"] == uploaded - copied  # uploaded, its record not written
        assert done["objects"] == 120 - uploaded  # so no file was sent twice
        with closing(Store("prod", source, writable=False)) as original:
            assert contents(reader) == contents(original.catalog)
    finally:
        reader.close()


def contents(catalog: Catalog) -> list[Any]:
    return [replace(e, id=None, seq=None) for e in catalog.journal(0, 10_000)]
