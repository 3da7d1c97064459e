"""Production in each configuration a team may choose, seen through one small API.

``local``: ``prod = "warehouse"`` (a folder and ``catalog.sqlite``), the embedded default.
``s3+postgres``: ``prod = "s3://<bucket>/warehouse"`` on moto's server (``tests/s3_server.py``)
and ``prod_catalog`` on a throwaway PostgreSQL database (``tests/servers.py``).

:class:`Production` writes the project's ``[tool.nbassets]`` for its configuration and answers
what tests ask of production without knowing where it is: its records (through the store the
project opens, so through the :class:`~nbassets.store.catalog.Catalog` protocol), its data
objects (listed and read straight from the folder or the bucket, not through nbassets), and
whether every record's object is whole. The fixture ``prod_backend`` (``conftest.py``) gives
one per configuration, with ids ``local`` and ``s3+postgres`` for ``-k``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import xxhash
from s3_server import S3Server

from nbassets.config import Project
from nbassets.environments import PROD
from nbassets.store.catalog import Failure, Materialization
from nbassets.store.stores import Store, project_store_opener

KINDS = ("local", "s3+postgres")


@dataclass(frozen=True)
class Production:
    """Production of ``project`` in configuration ``kind`` (one of :data:`KINDS`)."""

    kind: str
    project: Path
    prod: str  # the value of ``prod``: "warehouse" or "s3://<bucket>/warehouse"
    catalog_url: str | None = None  # ``prod_catalog``, for s3+postgres
    s3: S3Server | None = None

    def configure(self, *lines: str) -> None:
        """Write ``[tool.nbassets]`` for this configuration, with ``lines`` added to it."""
        settings = [f'prod = "{self.prod}"']
        if self.catalog_url:
            settings.append(f'prod_catalog = "{self.catalog_url}"')
        text = "\n".join(["[tool.nbassets]", *settings, *lines]) + "\n"
        (self.project / "pyproject.toml").write_text(text)

    @property
    def location(self) -> str:
        """Where production is, as nbassets names it (a folder's real path, or the URL)."""
        return self.prod if self.s3 else str((self.project / self.prod).resolve())

    @contextmanager
    def store(self) -> Iterator[Store]:
        """Production's store opened read-only, as the project opens it."""
        project = Project.find(self.project)
        store = project_store_opener(project)(PROD, project.prod_path, writable=False)
        try:
            yield store
        finally:
            store.close()

    def journal(self) -> list[Materialization | Failure]:
        """Every build and failure production's catalog holds, in ``seq`` order."""
        entries: list[Materialization | Failure] = []
        with self.store() as store:
            after = 0
            while page := store.catalog.journal(after):
                entries.extend(e for e in page if isinstance(e, Materialization | Failure))
                after = page[-1].seq or 0
        return entries

    def records(self) -> list[Materialization]:
        """Every materialization production's catalog holds, in ``seq`` order."""
        return [e for e in self.journal() if isinstance(e, Materialization)]

    def objects(self) -> dict[str, bytes]:
        """Every file or object under production's ``data/``: its path relative to production
        (as records name it) -> its bytes, read from the folder or the bucket directly."""
        if self.s3 is None:
            root = self.project / self.prod
            return {
                p.relative_to(root).as_posix(): p.read_bytes()
                for p in sorted((root / "data").rglob("*"))
                if p.is_file()
            }
        fs = self.s3.filesystem()
        prefix = self.prod.removeprefix("s3://")
        fs.invalidate_cache()
        names = sorted(fs.find(f"{prefix}/data"))
        return {name.removeprefix(f"{prefix}/"): fs.cat_file(name) for name in names}

    def assert_every_record_whole(self) -> list[Materialization]:
        """Every record names an object of its recorded size whose xxh3-128 is its data version;
        no temporary object is left in production. Returns the records."""
        objects, records = self.objects(), self.records()
        for record in records:
            data = objects.get(record.path)
            assert data is not None, f"{record.key} {record.data_version}: no object {record.path}"
            assert len(data) == record.bytes, record
            assert xxhash.xxh3_128_hexdigest(data) == record.data_version, record
        assert [name for name in objects if "tmp" in name] == []
        return records


def production_for(kind: str, request: pytest.FixtureRequest, project: Path) -> Production:
    """Production of ``project`` in configuration ``kind``, its ``[tool.nbassets]`` written
    (``s3+postgres`` asks for the fixtures ``s3_server``, ``s3_bucket`` and ``postgres_url``)."""
    if kind == "local":
        production = Production(kind, project, "warehouse")
    else:
        bucket = request.getfixturevalue("s3_bucket")
        production = Production(
            kind,
            project,
            f"{bucket}/warehouse",
            catalog_url=request.getfixturevalue("postgres_url"),
            s3=request.getfixturevalue("s3_server"),
        )
    production.configure()
    return production
