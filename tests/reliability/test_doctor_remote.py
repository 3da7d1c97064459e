"""Issue 15: ``nbassets doctor`` on a shared production (S3 + PostgreSQL, or a local folder +
PostgreSQL).

Real servers (moto's S3 server, a throwaway PostgreSQL cluster), a production saved by
``nbassets.save`` through the project's configuration, real damage done with a separate s3fs
client or psql-level SQL. Doctor reads only: the bucket's objects and the database stay as they
were, and no credential or S3 endpoint appears in any output. A shared catalog is never
re-indexed.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner, Result
from s3_server import S3Server
from servers import free_port

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.store.postgres_health import expected_relations

PG_SECRET = "pg-secret-" + secrets.token_hex(6)  # PGPASSWORD: trusted here, never to be shown


def configure(project: Path, prod: str, catalog: str) -> None:
    (project / "pyproject.toml").write_text(
        f'[tool.nbassets]\nprod = "{prod}"\nprod_catalog = "{catalog}"\n'
    )


def save_production(project: Path) -> dict[str, Any]:
    """Two versions of orders, a JSON list and a JSON object, saved into production."""
    found = Project.find(project)
    return {
        "orders_v1": nbassets.save("orders", pd.DataFrame({"id": [1, 2]}), project=found),
        "orders": nbassets.save("orders", pd.DataFrame({"id": [1, 2, 3]}), project=found),
        "config": nbassets.save("config", ["a", "b", "c"], io="json", project=found),
        "model": nbassets.save("model", {"weights": list(range(50))}, io="json", project=found),
    }


def doctor(project: Path, *args: str, code: int) -> Result:
    result = CliRunner().invoke(main, ["--project", str(project), "doctor", "--env", "prod", *args])
    assert result.exit_code == code, result.output
    return result


def report(project: Path, code: int) -> dict[str, Any]:
    return json.loads(doctor(project, "--json", code=code).stdout)


def problems(found: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["path"], p["problem"]) for p in found["problems"]}


def assert_no_secrets(server: S3Server, *outputs: str) -> None:
    for text in outputs:
        for secret in (server.secret_key, server.access_key, server.endpoint, PG_SECRET):
            assert secret not in text


def objects(server: S3Server, prod: str) -> dict[str, str]:
    found = server.filesystem().find(prod.removeprefix("s3://"), detail=True)
    return {name: info["ETag"] for name, info in found.items()}


@pytest.fixture
def s3_prod(
    project: Path, s3_server: S3Server, s3_bucket: str, postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """Production on S3 + PostgreSQL, saved: its URL and the records saved."""
    monkeypatch.setenv("PGPASSWORD", PG_SECRET)
    prod = f"{s3_bucket}/warehouse"
    configure(project, prod, postgres_url)
    return prod, save_production(project)


def test_a_healthy_production_on_s3_and_postgres_passes(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]]
) -> None:
    prod, saved = s3_prod
    before = objects(s3_server, prod)
    cache = sorted((project / ".nbassets").rglob("*"))
    found = report(project, code=0)
    assert found["ok"] and found["catalog"] == "ok" and found["catalogs"] == 1
    assert found["store"] == prod
    assert "PostgreSQL schema version 6" in found["catalog_detail"]
    assert "heads agree" in found["catalog_detail"]
    assert (found["records"], found["files"], found["removed"]) == (4, 4, 0)
    assert found["bytes_hashed"] == sum(m.bytes for m in saved.values())
    assert found["problems"] == [] and found["unrecorded"] == [] and found["strays"] == []
    text = doctor(project, code=0).output
    assert "healthy" in text and "checked 1 catalog (PostgreSQL schema version 6" in text
    assert_no_secrets(s3_server, text, json.dumps(found))
    assert objects(s3_server, prod) == before  # read only
    assert sorted((project / ".nbassets").rglob("*")) == cache  # nor the project's cache


def test_damaged_objects_are_each_reported_by_name(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]]
) -> None:
    prod, saved = s3_prod
    fs, root = s3_server.filesystem(), prod.removeprefix("s3://")
    fs.rm(f"{root}/{saved['orders'].path}")  # the current version: damage
    fs.rm(f"{root}/{saved['orders_v1'].path}")  # an older one: history, as gc removes it
    config = fs.cat(f"{root}/{saved['config'].path}")
    fs.pipe(f"{root}/{saved['config'].path}", config.replace(b"b", b"x"))  # same size
    fs.pipe(f"{root}/{saved['model'].path}", b"{}")  # cut short
    found = report(project, code=1)
    assert problems(found) == {
        (saved["orders"].path, "missing"),
        (saved["config"].path, "hash mismatch"),
        (saved["model"].path, "wrong size"),
    }
    assert found["removed"] == 1 and found["catalog"] == "ok"
    # the project's cache holds a good copy of config (save put it there): the bucket was read
    assert list((project / ".nbassets" / ".cache").rglob(f"{saved['config'].data_version}.*"))
    text = doctor(project, code=1).output
    assert "3 problems" in text and "does not hash to its data version" in text
    assert "is missing from the bucket" in text and "not the 2 bytes" not in text
    assert f"is 2 bytes, not the {saved['model'].bytes:,} recorded" in text
    assert_no_secrets(s3_server, text, json.dumps(found))


def test_an_unrecorded_object_is_listed_and_never_deleted(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]]
) -> None:
    prod, _ = s3_prod
    fs, root = s3_server.filesystem(), prod.removeprefix("s3://")
    orphan = f"data/orders/{'ab' * 16}.parquet"
    fs.pipe(f"{root}/{orphan}", b"a writer died before recording this")
    fs.pipe(f"{root}/data/notes.txt", b"not a version")
    found = report(project, code=1)
    assert problems(found) == {(orphan, "unrecorded")}
    assert found["unrecorded"] == [orphan] and found["strays"] == ["data/notes.txt"]
    (problem,) = found["problems"]
    assert (problem["key"], problem["data_version"]) == ("orders", "ab" * 16)
    assert "deletes nothing" in problem["fix"]
    assert fs.exists(f"{root}/{orphan}") and fs.exists(f"{root}/data/notes.txt")


def catalog_sql(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("DROP TABLE nbassets.forgets", "missing from schema nbassets: forgets"),
        (
            "DELETE FROM nbassets.heads WHERE key = 'orders'",
            "heads disagrees with materializations",
        ),
    ],
)
def test_a_damaged_catalog_gets_advice_that_fits_a_database(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]], postgres_url: str,
    damage: str, said: str,
) -> None:  # fmt: skip
    catalog_sql(postgres_url, damage)
    found = report(project, code=1)
    assert found["catalog"] == "damaged" and found["catalogs"] == 0
    (problem,) = found["problems"]
    assert problem["problem"] == "catalog damaged" and said in problem["detail"]
    assert problem["path"] == postgres_url  # the database, named without a password
    assert "restore the database from its backup" in problem["fix"]
    assert "nbassets migrate-store --from FOLDER --to " in problem["fix"]
    text = doctor(project, code=1).output
    assert "moved aside" not in text and ".damaged-" not in text and "--reindex" not in text
    assert_no_secrets(s3_server, text)


def test_a_newer_catalog_schema_is_reported_and_kept(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]], postgres_url: str
) -> None:
    catalog_sql(postgres_url, "UPDATE nbassets.catalog_info SET schema_version = 99")
    found = report(project, code=1)
    assert found["catalog"] == "newer"
    (problem,) = found["problems"]
    assert problem["problem"] == "catalog newer" and "schema version 99" in problem["detail"]
    assert "pip install -U nbassets" in problem["fix"] and "keep it" in problem["fix"]
    text = doctor(project, code=1).output
    assert "moved aside" not in text and "--reindex" not in text
    assert_no_secrets(s3_server, text)


def test_an_unreachable_catalog_says_so_and_checks_no_more(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]]
) -> None:
    prod, _ = s3_prod
    configure(project, prod, f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    found = report(project, code=1)
    assert found["catalog"] == "unreachable"
    (problem,) = found["problems"]
    assert problem["problem"] == "catalog unreachable"
    assert "cannot reach the PostgreSQL catalog" in problem["detail"]
    assert "nothing in the catalog was checked" in problem["fix"]
    assert len(found["unrecorded"]) == 4  # the objects were listed all the same


def test_a_lost_shared_catalog_is_never_reindexed(
    project: Path, s3_server: S3Server, s3_prod: tuple[str, dict[str, Any]], postgres_server: Any
) -> None:
    prod, saved = s3_prod
    empty = postgres_server.new_database()  # a catalog lost: prod_catalog on a database without
    configure(project, prod, empty)
    before = objects(s3_server, prod)
    found = report(project, code=1)
    assert "the catalog is lost: 4 version files found" in doctor(project, code=1).output
    assert found["catalog"] == "lost" and not found["indexed"]
    assert sorted(found["unrecorded"]) == sorted({m.path for m in saved.values()})
    (problem,) = found["problems"]
    assert problem["problem"] == "catalog lost" and "no nbassets catalog" in problem["detail"]
    assert "right database" in problem["fix"] and "migrate-store" in problem["fix"]
    refused = doctor(project, "--reindex", code=2).output
    assert "--reindex rebuilds a local catalog.sqlite" in refused
    assert "restore the database from its backup" in refused
    assert f"nbassets migrate-store --from FOLDER --to {prod} --catalog postgresql://" in refused
    assert "then point prod_catalog at that database" in refused
    assert_no_secrets(s3_server, refused)
    with psycopg.connect(empty) as conn:  # nothing was created in the database
        assert conn.execute("SELECT to_regnamespace('nbassets')").fetchone() == (None,)
    assert objects(s3_server, prod) == before


def test_a_local_prod_folder_with_a_postgres_catalog(
    project: Path, postgres_server: Any, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", PG_SECRET)
    configure(project, "warehouse", postgres_url)
    saved = save_production(project)
    found = report(project, code=0)
    assert found["store"] == str(project / "warehouse") and found["catalog"] == "ok"
    assert "PostgreSQL schema version 6" in found["catalog_detail"]
    assert (found["records"], found["files"]) == (4, 4)
    assert not (project / "warehouse" / "catalog.sqlite").exists()
    (project / "warehouse" / saved["config"].path).unlink()  # the local files are walked
    found = report(project, code=1)
    assert problems(found) == {(saved["config"].path, "missing")}
    refused = doctor(project, "--reindex", code=2).output
    assert "PostgreSQL database" in refused and "restore the database" in refused
    assert not (project / "warehouse" / "catalog.sqlite").exists()
    assert PG_SECRET not in refused + json.dumps(found)
    configure(project, "warehouse", postgres_server.new_database())  # its catalog lost
    found = report(project, code=1)  # a lost local catalog is re-indexed; a shared one never
    assert found["catalog"] == "lost" and found["indexed"] == [] and len(found["unrecorded"]) == 3
    assert {p["problem"] for p in found["problems"]} == {"catalog lost"}
    assert not (project / "warehouse" / "catalog.sqlite").exists()


def test_the_relations_checked_are_those_the_migrations_create() -> None:
    relations = expected_relations()
    assert relations[:2] == ["catalog_info", "record_seq"]
    assert {"materializations", "failures", "forgets", "heads", "incidents"} <= set(relations)
