"""Where the project is and what its ``[tool.nbassets]`` configuration says."""

from __future__ import annotations

import functools
import hashlib
import keyword
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import ConfigError

DEFAULTS: dict[str, Any] = {
    "prod": "warehouse",
    "sandbox_root": ".nbassets",
    "main_branch": "main",
    "export_package": "pipelines",
    "notebooks": ["notebooks/*.ipynb"],
}
CATALOG_SCHEMES = ("postgresql://", "postgres://")  # prod_catalog: a PostgreSQL database


@dataclass(frozen=True)
class Alerts:
    """The ``[tool.nbassets.alerts]`` table: where incident notices go, and what never alerts."""

    webhook: str | None = None
    command: tuple[str, ...] = ()  # argv, split with shlex (never run through a shell)
    exclude: frozenset[str] = frozenset()

    @property
    def enabled(self) -> bool:
        return bool(self.webhook or self.command)

    @classmethod
    def from_table(cls, table: Any, source: Path | str) -> Alerts:
        """Validate the table: ``webhook`` an http(s) URL, ``command`` a command line,
        ``exclude`` a list of asset keys."""
        where = f"{source}: [tool.nbassets.alerts]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table, e.g. [tool.nbassets.alerts] on its own.")
        unknown = sorted(set(table) - {"webhook", "command", "exclude"})
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys are "
                "command, exclude, webhook."
            )
        webhook = table.get("webhook")
        if webhook is not None and (
            not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))
        ):
            got = "a URL of another scheme" if isinstance(webhook, str) else repr(webhook)
            raise ConfigError(  # the URL itself is never printed: it often holds a token
                f"{where} webhook must be an http(s) URL string, e.g. webhook = "
                f'"https://hooks.example.com/nbassets"; got {got}.'
            )
        command = table.get("command", "")
        if not isinstance(command, str):
            raise ConfigError(
                f"{where} command must be a command line string, e.g. command = "
                f'"notify-send nbassets"; got {command!r}.'
            )
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise ConfigError(f"{where} command {command!r} cannot be split: {exc}.") from None
        exclude = table.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(k, str) for k in exclude):
            raise ConfigError(
                f'{where} exclude must be a list of asset keys, e.g. exclude = ["scratch"]; '
                f"got {exclude!r}."
            )
        return cls(webhook or None, argv, frozenset(exclude))


@dataclass(frozen=True)
class Config:
    """The ``[tool.nbassets]`` table, with defaults filled in."""

    prod: str = DEFAULTS["prod"]
    sandbox_root: str = DEFAULTS["sandbox_root"]
    main_branch: str = DEFAULTS["main_branch"]
    export_package: str = DEFAULTS["export_package"]
    notebooks: tuple[str, ...] = tuple(DEFAULTS["notebooks"])
    alerts: Alerts = field(default_factory=Alerts)
    prod_catalog: str | None = None  # production's catalog on PostgreSQL (None: SQLite in prod)

    @classmethod
    def from_table(cls, table: dict[str, Any], source: Path | str) -> Config:
        """Validate a ``[tool.nbassets]`` table; unknown keys and wrong types are errors."""
        unknown = sorted(set(table) - set(DEFAULTS) - {"alerts", "prod_catalog"})
        if unknown:
            valid = sorted([*DEFAULTS, "alerts", "prod_catalog"])
            raise ConfigError(
                f"{source}: unknown [tool.nbassets] key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are {', '.join(valid)}."
            )
        values: dict[str, Any] = {}
        if "alerts" in table:
            values["alerts"] = Alerts.from_table(table["alerts"], source)
        if "prod_catalog" in table:
            values["prod_catalog"] = validate_catalog_url(table["prod_catalog"], source)
        for name, value in table.items():
            if name in ("alerts", "prod_catalog"):
                continue
            if name == "notebooks":
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(
                        f"{source}: [tool.nbassets] notebooks must be a list of glob patterns, "
                        f'e.g. notebooks = ["notebooks/*.ipynb"]; got {value!r}.'
                    )
                values[name] = tuple(value)
            elif not isinstance(value, str) or not value:
                raise ConfigError(
                    f"{source}: [tool.nbassets] {name} must be a non-empty string, "
                    f"e.g. {name} = {DEFAULTS[name]!r}; got {value!r}."
                )
            elif name == "export_package":
                values[name] = validate_package(value, f"{source}: [tool.nbassets] export_package")
            else:
                values[name] = value
        if "://" in values.get("prod", "") and "prod_catalog" not in values:
            raise ConfigError(
                f"{source}: [tool.nbassets] prod = {values['prod']!r} is a URL, so production's "
                "catalog cannot be a SQLite file beside the data (an object store cannot hold "
                'SQLite\'s locks): add prod_catalog = "postgresql://USER@HOST:5432/DATABASE", '
                "a PostgreSQL database the team shares (the password through PGPASSWORD or "
                "~/.pgpass), or set prod to a folder."
            )
        return cls(**values)


def validate_catalog_url(value: Any, source: Path | str) -> str:
    """``value`` if it is a PostgreSQL URL without a password (passwords come from
    ``PGPASSWORD`` or ``~/.pgpass``, never from a file under version control)."""
    where = f"{source}: [tool.nbassets] prod_catalog"
    if not isinstance(value, str) or not value.startswith(CATALOG_SCHEMES):
        got = "a URL of another scheme" if isinstance(value, str) else repr(value)
        raise ConfigError(
            f"{where} must be a PostgreSQL URL, e.g. prod_catalog = "
            f'"postgresql://nbassets@db.example.com:5432/nbassets"; got {got}.'
        )
    try:
        parts = urlsplit(value)
        password = parts.password is not None or any(
            name == "password" for name, _ in parse_qsl(parts.query, keep_blank_values=True)
        )
    except ValueError as exc:
        raise ConfigError(f"{where} is not a valid URL ({exc}).") from None
    if password:  # the URL itself is never printed: it holds the password
        raise ConfigError(
            f"{where} writes a password, and pyproject.toml is shared (and committed): remove it "
            "from the URL and give it through the PGPASSWORD environment variable or a line of "
            "~/.pgpass (host:port:database:user:password, chmod 600). Change that password if "
            "this file was ever committed."
        )
    return value


@dataclass(frozen=True)
class Project:
    """A project: its root folder and configuration.

    The root is the nearest folder upward with a ``pyproject.toml`` holding
    ``[tool.nbassets]``, else the git root, else the starting folder.
    """

    root: Path
    config: Config = field(default_factory=Config)

    @classmethod
    def find(cls, path: str | Path = ".") -> Project:
        """Find the project that contains ``path``."""
        start = Path(path).resolve()
        if start.is_file():
            start = start.parent
        for folder in (start, *start.parents):
            pyproject = folder / "pyproject.toml"
            if pyproject.is_file():
                table = _nbassets_table(pyproject)
                if table is not None:
                    return cls(folder, Config.from_table(table, pyproject))
        git_root = _git_root(start)
        return cls(git_root or start, Config())

    @functools.cached_property
    def prod_path(self) -> Path:
        """The production store folder (never the project root nor a folder holding it).

        When ``prod`` is a URL, the local folder that stands for it on this machine: its
        read-through cache, ``<sandbox_root>/.cache/<16 hex digits of the URL's SHA-256>``
        (production's objects stay at the URL, its catalog in ``prod_catalog``)."""
        prod = self.config.prod
        if "://" in prod:
            digest = hashlib.sha256(prod.rstrip("/").encode()).hexdigest()[:16]
            return self.sandbox_root / ".cache" / digest
        return self._store_folder("prod", prod)

    @property
    def export_folder(self) -> Path:
        """The folder of the exported package (``export_package``, dotted, under the root)."""
        return self.root / Path(*self.config.export_package.split("."))

    @property
    def exported(self) -> bool:
        """Whether ``nbassets export`` has written the package (its ``__init__.py`` exists)."""
        return (self.export_folder / "__init__.py").is_file()

    @property
    def prod_url(self) -> str | None:
        """Production's URL when ``prod`` is one (an object store, with ``prod_catalog``), else
        None (a folder: :attr:`prod_path`)."""
        return self.config.prod if "://" in self.config.prod else None

    @property
    def prod_catalog(self) -> str | None:
        """Production's catalog database URL (``prod_catalog``), or None: SQLite in ``prod``."""
        return self.config.prod_catalog

    @functools.cached_property
    def sandbox_root(self) -> Path:
        """The folder that holds the dev and CI sandboxes (never the root nor above it)."""
        return self._store_folder("sandbox_root", self.config.sandbox_root)

    def _store_folder(self, name: str, value: str) -> Path:
        """``value`` resolved; a folder that is or holds the project is refused.

        Git's status leaves the stores out, so such a folder would hide every change to the
        project and a dirty tree would be recorded as clean.
        """
        path = (self.root / value).resolve()
        root = self.root.resolve()
        if path == root or path in root.parents:
            raise ConfigError(
                f"[tool.nbassets] {name} = {value!r} is {path}, which is or contains the project "
                f"{root}; stores live in a folder of their own inside it (git status leaves them "
                f"out, so this would hide every change). Use e.g. {name} = {DEFAULTS[name]!r}."
            )
        return path

    def package_folder(self, package: str) -> Path:
        """The folder of the export package ``package``: a dotted name, inside the project.

        Refused when it resolves (through a link) out of the project: export writes only there.
        """
        folder = self.root / Path(*validate_package(package).split("."))
        root = self.root.resolve()
        if not folder.resolve().is_relative_to(root):
            raise ConfigError(
                f"the export package {package!r} is {folder}, which resolves to "
                f"{folder.resolve()}, outside the project {root}; export writes only inside the "
                "project. Remove the link or choose another export_package."
            )
        return folder

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the project root when inside it, else as given."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def validate_package(name: str, what: str = "export package") -> str:
    """``name`` if it is a dotted Python package name (so it names a folder inside the project)."""
    parts = name.split(".")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise ConfigError(
            f"{what} must be a dotted Python package name such as 'pipelines' or "
            f"'analytics.pipelines', which is written inside the project; got {name!r}. "
            "Export paths outside the project are refused."
        )
    return name


def _nbassets_table(pyproject: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject} is not valid TOML ({exc}); fix the file.") from exc
    table = data.get("tool", {}).get("nbassets")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.nbassets] must be a table.")
    return table


def _git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None
