"""The two ends of ``nbassets migrate-store``: the source store, read-only, and the target.

``--from`` is a store folder (one holding ``catalog.sqlite``) or an env name resolved as
``--env`` is (``prod`` with its configured storage and catalog, ``dev-alice-main``); ``--to``
a folder or an fsspec URL (``s3://bucket/prefix``), with ``--catalog`` a PostgreSQL URL (without
it: ``catalog.sqlite`` in the ``--to`` folder; a URL needs one, as ``prod`` does). Writing the
configured production's location (its folder, bucket prefix or catalog) from a process running
an IPython shell is refused, like any production write.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from ..config import CATALOG_SCHEMES, Project
from ..environments import store_path, validate_env_name
from ..errors import InvalidArgument, ProductionWriteError
from ..policy import ipython_shell_running
from .catalog import Catalog
from .postgres_errors import redact
from .sqlite_catalog import SqliteCatalog
from .storage import DataStorage, LocalFolder, Sink, StoredFile
from .stores import CATALOG_FILE, Store, project_store_opener


def source_store(project: Project, name: str) -> Store:
    """The store ``--from name`` names, read-only: a store folder, else an env's store."""
    if "://" in name:
        raise InvalidArgument(
            f"--from {name}: a URL holds no catalog of its own; name the env whose store it is "
            "(e.g. --from prod, with prod and prod_catalog configured)."
        )
    folder = Path(name).expanduser()
    if (folder / CATALOG_FILE).is_file():
        return Store(folder.name, folder.resolve(), writable=False)
    env = validate_env_name(name)
    store = project_store_opener(project)(env, store_path(project, env), writable=False)
    if not _holds_records(store.catalog):
        store.close()
        raise InvalidArgument(
            f"--from {name}: no store folder {folder.resolve()} (it holds no {CATALOG_FILE}), "
            f"and env {env!r}'s store ({store.catalog.location}) holds no records: there is "
            "nothing to copy. Name a store folder or an env that has been built."
        )
    return store


@contextmanager
def target_store(project: Project, to: str, catalog: str | None, source: Store) -> Iterator[Store]:
    """The store at ``--to`` with its ``--catalog``, open for writing (closed afterwards)."""
    from .object_storage import ObjectStorage
    from .postgres_catalog import open_catalog

    url = "://" in to
    if catalog is not None:
        _check_catalog_url(catalog)
    elif url:
        raise InvalidArgument(
            f"--to {to} is a URL, so the target's catalog cannot be a SQLite file beside the "
            "data (an object store cannot hold SQLite's locks): add --catalog "
            "postgresql://USER@HOST:5432/DATABASE (the password through PGPASSWORD or ~/.pgpass)."
        )
    root = None if url else Path(to).expanduser().resolve()
    _refuse_same(project, source, to, root, catalog)
    _refuse_production(project, to, root, catalog)
    with ExitStack() as stack:
        storage: DataStorage
        if root is None:  # uploads go through a scratch folder, emptied as they complete
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nbassets-")))
            storage = _Uploads(
                ObjectStorage(to, scratch, writable=True, production=project.prod_url), scratch
            )
            root = scratch
        else:
            storage = LocalFolder(root)
        records: Catalog = (
            SqliteCatalog(root / CATALOG_FILE, writable=True)
            if catalog is None
            else open_catalog(catalog, writable=True)
        )
        store = Store(source.env, root, writable=True, storage=storage, catalog=records)
        try:
            store.catalog.ready()  # refused now (damaged, newer, not permitted), before any file
            yield store
        finally:
            store.close()


def parallel_copies(store: Store) -> int:
    """How many files a migration copies into ``store`` at once: 8 into an object store (each
    upload waits on the network), 1 into a folder (the disk is the limit)."""
    return 8 if isinstance(store.storage, _Uploads) else 1


class _Uploads:
    """An object storage whose uploads keep no local copy (its cache is ``scratch``): a
    migration reads nothing back, and a copy of the whole store would fill the disk."""

    def __init__(self, storage: DataStorage, scratch: Path) -> None:
        self.storage, self.scratch = storage, scratch

    @property
    def location(self) -> str:
        return self.storage.location

    def put(
        self, folder: str, extension: str, write: Callable[[Sink], None], large: bool = False
    ) -> StoredFile:
        stored = self.storage.put(folder, extension, write, large)
        (self.scratch / f"{stored.data_version}.{extension}").unlink(missing_ok=True)
        return stored

    def local_file(self, relative: str, data_version: str) -> Path:
        return self.storage.local_file(relative, data_version)

    def exists(self, relative: str) -> bool:
        return self.storage.exists(relative)

    def sizes(self, relatives: Iterable[str]) -> dict[str, int | None]:
        return self.storage.sizes(relatives)

    def remove(self, relative: str) -> bool:
        return self.storage.remove(relative)

    def sweep_temporary_files(self) -> int:
        return self.storage.sweep_temporary_files()

    def close(self) -> None:
        self.storage.close()


def _holds_records(catalog: Catalog) -> bool:
    return bool(
        catalog.journal(0, 1)
        or catalog.all_check_results(0, 1)
        or catalog.all_test_results(0, 1)
        or catalog.incidents()
    )


def _check_catalog_url(url: str) -> None:
    if not url.startswith(CATALOG_SCHEMES):
        raise InvalidArgument(
            "--catalog must be a PostgreSQL URL, e.g. --catalog "
            "postgresql://nbassets@db.example.com:5432/nbassets (omit it for catalog.sqlite in "
            "the --to folder)."
        )
    try:
        parts = urlsplit(url)
        password = parts.password is not None or any(
            name == "password" for name, _ in parse_qsl(parts.query, keep_blank_values=True)
        )
    except ValueError as exc:
        raise InvalidArgument(f"--catalog is not a valid URL ({exc}).") from None
    if password:
        raise InvalidArgument(
            "--catalog writes a password on the command line (shell history, the process "
            "list): remove it from the URL and give it through PGPASSWORD or ~/.pgpass."
        )


def _refuse_same(
    project: Project, source: Store, to: str, root: Path | None, catalog: str | None
) -> None:
    same_folder = root is not None and catalog is None and root == source.root.resolve()
    same_url = to.rstrip("/") == source.storage.location.rstrip("/")
    same_catalog = catalog is not None and redact(catalog) == source.catalog.location
    if same_folder or same_url or same_catalog:
        raise InvalidArgument(
            f"--to {to} is the source store itself ({source.catalog.location}): a migration "
            "copies a store into another one."
        )
    if root is not None and (root == project.root.resolve() or root in project.root.parents):
        raise InvalidArgument(
            f"--to {to} is or contains the project {project.root}: a store lives in a folder of "
            "its own (e.g. --to warehouse-new)."
        )


def _refuse_production(project: Project, to: str, root: Path | None, catalog: str | None) -> None:
    """Production's configured location is written only from a process without IPython."""
    if not ipython_shell_running():
        return
    prod_url, prod_catalog = project.prod_url, project.prod_catalog
    production = (
        (root is not None and prod_url is None and root == project.prod_path)
        or (prod_url is not None and to.rstrip("/") == prod_url.rstrip("/"))
        or (catalog is not None and prod_catalog is not None and catalog == prod_catalog)
    )
    if production:
        raise ProductionWriteError(
            f"`nbassets migrate-store --to {to}` would write production "
            f"({prod_url or project.prod_path}) from a process running an IPython shell; "
            "nothing run from a notebook or IPython writes production. Run it in a terminal."
        )
