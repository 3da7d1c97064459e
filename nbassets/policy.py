"""The production policy: who may write which store, and the git state each write records.

One rule for every route that writes a store (DESIGN §2). Each edge asks
:func:`authorize` before it opens a store for writing and records the commit and
dirty flag of the :class:`WriteGrant` it gets back:

============  ==========================================================================
command       may write production when
============  ==========================================================================
kernel        never (``%%asset``, ``%materialize``, ``%check`` write the kernel's sandbox)
save          no IPython shell is in the process (an ingest script: an external version)
materialize,  no IPython shell is in the process, and the tree is clean on ``main_branch``
check, gc,    with every imported project module tracked and identical to ``HEAD``;
forget,       overrides: ``--allow-dirty`` / ``NBASSETS_ALLOW_DIRTY=1`` (recorded dirty),
doctor,       and outside any git repository ``--no-git`` / ``NBASSETS_NO_GIT=1`` with the
rollback,     commit taken from ``NBASSETS_COMMIT`` (``pytest --nbassets-env prod`` spells
dagster,      the options ``--nbassets-allow-dirty`` and ``--nbassets-no-git``)
pytest
migrate-store no IPython shell is in the process (it builds nothing: records keep their
              commits, so no clean tree is needed)
============  ==========================================================================

Production at a URL or with a shared catalog is guarded at the store too: from a process
running an IPython shell, opening production's bucket prefix (:func:`refuse_production_url`)
or its catalog (:func:`refuse_production_catalog`) for writing is refused.

Any other env is a sandbox: writable by every route, provided that its folder is not, and
does not resolve (through symlinks) into, production's. Its grant carries production's real
path (``WriteGrant.forbidden``) into the store, which checks each folder and file it creates
or opens for writing (``data/``, ``data/<key>/``, ``catalog.sqlite`` and its ``-wal``,
``-shm`` and ``-journal``) with :func:`refuse_production_path` right before, and refuses a
catalog file that is hard-linked (:func:`refuse_hard_link`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Project
from .environments import PROD, sandbox_path, store_path
from .errors import ConfigError, ProductionWriteError
from .gitinfo import NO_GIT, GitState, git_state

ENV_ALLOW_DIRTY, ENV_NO_GIT, ENV_COMMIT = (
    "NBASSETS_ALLOW_DIRTY",
    "NBASSETS_NO_GIT",
    "NBASSETS_COMMIT",
)
KERNEL, SAVE = "kernel", "save"
PYTEST = "pytest"  # `pytest --nbassets-env prod`: the data checks as pytest items
COMMANDS = frozenset(
    {KERNEL, SAVE, "materialize", "check", "gc", "forget", "doctor", "rollback", "dagster", PYTEST}
)
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}\Z")
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Overrides:
    """The explicit, recorded exceptions a production build may ask for."""

    allow_dirty: bool = False
    no_git: bool = False

    @classmethod
    def resolve(
        cls,
        allow_dirty: bool = False,
        no_git: bool = False,
        environ: Mapping[str, str] = os.environ,
    ) -> Overrides:
        """The flags given, or'ed with ``NBASSETS_ALLOW_DIRTY`` and ``NBASSETS_NO_GIT``."""
        return cls(
            allow_dirty=allow_dirty or _flag(environ, ENV_ALLOW_DIRTY),
            no_git=no_git or _flag(environ, ENV_NO_GIT),
        )


@dataclass(frozen=True)
class WriteGrant:
    """Permission to write ``env``'s store at ``root``, and the git state its records carry."""

    env: str
    root: Path
    command: str
    commit: str | None
    dirty: bool | None
    deployed: bool = False  # production outside git (--no-git): the commit is NBASSETS_COMMIT
    allow_dirty: bool = False  # the --allow-dirty override was given (a dirty write is recorded)
    forbidden: Path | None = None  # a sandbox's: production's real path, which it never reaches


def authorize(
    project: Project,
    env: str,
    command: str,
    overrides: Overrides | None = None,
    environ: Mapping[str, str] = os.environ,
) -> WriteGrant:
    """May ``command`` write ``env``'s store now? The grant, or a :class:`ProductionWriteError`."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; one of {sorted(COMMANDS)}")
    overrides = overrides or Overrides.resolve(environ=environ)
    if env != PROD:
        root = sandbox_path(project, env)  # refuses a sandbox that resolves into production
        git = _git(project, fresh=command != KERNEL)
        return WriteGrant(env, root, command, git.commit, git.dirty, forbidden=project.prod_path)
    if command == KERNEL:
        raise ProductionWriteError(
            "a notebook kernel cannot build into 'prod': production is built from the code "
            "on main by `nbassets materialize --env prod`. Build into your sandbox instead "
            "(%nbassets env dev-<you>-<branch>)."
        )
    if ipython_shell_running():
        raise ProductionWriteError(
            f"`{_described(command)}` would write production "
            f"({project.prod_url or project.prod_path}) from a "
            "process running an IPython shell; nothing run from a notebook or IPython writes "
            "production. Run it as a script or command in a terminal, or write a sandbox env."
        )
    root = store_path(project, PROD)
    if command == SAVE:  # an ingest writes external versions: no clean tree needed
        git = _git(project, fresh=True)
        commit = git.commit
        if git == NO_GIT and _COMMIT.match(environ.get(ENV_COMMIT, "").strip()):
            commit = _deployed_commit(environ)  # a deployed ingest: the commit it names
        return WriteGrant(PROD, root, command, commit, git.dirty)
    return _committed_code(project, root, command, overrides, environ)


def confirm_modules(project: Project, grant: WriteGrant, files: Iterable[Path]) -> WriteGrant:
    """The grant to use once the command imported ``files``: refused, or recorded dirty.

    Those of ``files`` under the project root must be tracked by git and unmodified (a dirty
    tree was refused already, so this catches files that git ignores). With
    ``--allow-dirty`` they are let through, and the grant records the write as dirty.
    """
    if grant.env != PROD or grant.command == SAVE or grant.deployed or grant.dirty:
        return grant
    inside = sorted({f.resolve() for f in files if _under(f.resolve(), project.root)})
    if not inside:
        return grant
    relative = [f.relative_to(project.root).as_posix() for f in inside]
    tracked = set(_git_lines(project.root, "ls-files", "-z", "--", *relative))
    changed = set(_git_lines(project.root, "diff", "--name-only", "-z", "HEAD", "--", *relative))
    wrong = [r for r in relative if r not in tracked or r in changed]
    if wrong and grant.allow_dirty:
        return replace(grant, dirty=True)
    if wrong:
        raise ProductionWriteError(
            f"`{_described(grant.command)}` imports {', '.join(map(repr, wrong))}, which "
            "git does not track as committed (ignored, untracked or modified); production runs "
            f"only committed code. Commit the module(s) (or pass {_option(grant.command)} / set "
            f"{ENV_ALLOW_DIRTY}=1 to build anyway, recorded as dirty)."
        )
    return grant


def project_modules(project: Project) -> list[Path]:
    """Source files of the modules this process imported from inside the project.

    Compared as normalized strings: a process holds a thousand modules or more (pandas,
    psycopg, dagster), and a ``Path.parents`` walk per module cost 0.2 s a build."""
    prefix = os.path.join(os.path.normpath(project.root), "")
    files = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if (
            isinstance(file, str)
            and file.endswith(".py")
            and os.path.normpath(file).startswith(prefix)
        ):
            files.append(Path(file))
    return files


def refuse_production_path(path: Path, forbidden: Path | None) -> None:
    """Refuse to create or write ``path`` when its real path is inside ``forbidden`` (production).

    Every symlink is resolved, including those of a tail that does not exist yet, so a link
    anywhere below a sandbox (``data/``, ``data/<key>/``, the catalog) into production is caught.
    """
    if forbidden is None:
        return
    real = Path(os.path.realpath(path))
    if real == forbidden or forbidden in real.parents:
        raise ProductionWriteError(
            f"{path} resolves to {real}, inside the production store {forbidden}: a link below "
            "the sandbox leads into production, and nothing run from a sandbox writes "
            "production. Remove the link; a sandbox holds its own files."
        )


def refuse_production_url(url: str, production: str | None) -> None:
    """Refuse to open ``url`` for writing from a process running an IPython shell when it is
    production's bucket prefix ``production`` or below it: the rule for folders, for URLs.

    Schemes compare without case and fsspec's aliases (``s3a``) as one; empty segments and
    ``.`` are dropped, so ``s3://b//p/./`` is ``s3://b/p``.
    """
    if production is None or not ipython_shell_running():
        return
    scheme, segments = _url_segments(url)
    prod_scheme, prod_segments = _url_segments(production)
    if scheme == prod_scheme and segments[: len(prod_segments)] == prod_segments:
        raise ProductionWriteError(
            f"{url} is production's bucket prefix ({production}), and this process runs an "
            "IPython shell; nothing run from a notebook or IPython writes production. Read it "
            "(read-only credentials are enough), build into your sandbox, and let "
            "`nbassets materialize --env prod` (a terminal, CI or Dagster) write production."
        )


def refuse_production_catalog(location: str) -> None:
    """Refuse to open production's shared catalog (``location``, said without its password)
    for writing from a process running an IPython shell: the rule for folders and buckets."""
    if ipython_shell_running():
        raise ProductionWriteError(
            f"{location} is production's catalog, and this process runs an IPython shell; "
            "nothing run from a notebook or IPython writes production. Read it (a role with "
            "SELECT is enough), build into your sandbox, and let `nbassets materialize --env "
            "prod` (a terminal, CI or Dagster) write production."
        )


def _url_segments(url: str) -> tuple[str, list[str]]:
    scheme, _, rest = url.partition("://")
    scheme = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}.get(scheme.lower(), scheme.lower())
    return scheme, [part for part in rest.split("/") if part not in ("", ".")]


def refuse_hard_link(path: Path, forbidden: Path | None) -> None:
    """Refuse a sandbox file written in place (the catalog) that has other names (hard links).

    Another name may be production's catalog, and finding it would mean walking production:
    a sandbox's catalog is its own file, so any second name is refused.
    """
    if forbidden is None:
        return
    try:
        links = os.lstat(path).st_nlink
        if links > 1:  # less the name a first writer creates it under, until it removes it
            creating = _creation_names(path)
            links = os.lstat(path).st_nlink - creating
    except FileNotFoundError:
        return
    if links > 1:
        raise ProductionWriteError(
            f"{path} has {links} names (it is hard-linked), and another may be production's "
            "catalog; nothing run from a sandbox writes production. Give the sandbox its own "
            f"file: `cp {path} {path}.own && mv {path}.own {path}`, or remove it."
        )


def _creation_names(path: Path) -> int:
    """Names of ``path``'s file under which a writer is creating it (``<name>.tmp-…`` beside it,
    linked into place, then removed: ``store.sqlite_file.create``)."""
    own = os.lstat(path)
    found = 0
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if not entry.name.startswith(f"{path.name}.tmp-"):
                continue
            try:
                other = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            found += (other.st_dev, other.st_ino) == (own.st_dev, own.st_ino)
    return found


def refuse_catalog_links(catalog: Path, forbidden: Path | None) -> None:
    """Refuse a sandbox's SQLite catalog, or a file SQLite creates beside it, that is linked
    (symbolically into production, or hard-linked at all)."""
    for path in (catalog, *(Path(f"{catalog}{end}") for end in ("-wal", "-shm", "-journal"))):
        refuse_production_path(path, forbidden)
        refuse_hard_link(path, forbidden)


def ipython_shell_running() -> bool:
    """Whether an IPython shell (a kernel, a terminal IPython, any subclass) is in the process."""
    module = sys.modules.get("IPython.core.interactiveshell")
    return module is not None and bool(module.InteractiveShell.initialized())


def _committed_code(
    project: Project, root: Path, command: str, overrides: Overrides, environ: Mapping[str, str]
) -> WriteGrant:
    main = project.config.main_branch
    git = _git(project, fresh=True)
    if git == NO_GIT:  # not in a git repository
        if not overrides.no_git:
            raise ProductionWriteError(
                f"production is built from the committed code on {main!r}, but "
                f"{project.root} is not a git repository (nor inside one). Commit the project "
                f"first; in a deployed image without .git, pass {_option(command, 'no-git')} "
                f"(or set {ENV_NO_GIT}=1) and name the commit the image was built from in "
                f"{ENV_COMMIT}."
            )
        return WriteGrant(PROD, root, command, _deployed_commit(environ), None, deployed=True)
    if git.error is not None:  # refused even with --allow-dirty: the state is unknown
        raise ProductionWriteError(
            f"git failed in {project.root} ({git.error}), so whether the tree is the committed "
            "code is unknown; production is built only from a tree git can vouch for. Repair "
            "the repository (e.g. a corrupt .git/index: `rm .git/index && git reset`) and run "
            "again."
        )
    if overrides.no_git:
        raise ProductionWriteError(
            f"{_option(command, 'no-git')} ({ENV_NO_GIT}) is for deployed images without a git "
            f"repository, but {project.root} is in one: production records its commit. Drop "
            "the override."
        )
    if git.commit is None:
        raise ProductionWriteError(
            f"production is built from the committed code on {main!r}, but the git "
            "repository has no commit yet: commit the project first."
        )
    if git.branch != main:
        raise ProductionWriteError(
            f"refusing to build production from branch {git.branch or '(detached HEAD)'!r}: "
            f"production is built from {main!r}. Merge your change, check out {main!r}, and "
            "run again (or build a CI env: --env ci-<name>)."
        )
    if git.dirty and not overrides.allow_dirty:
        raise ProductionWriteError(
            "refusing to build production from a dirty tree (modified, staged or untracked "
            f"files; see `git status`): commit or stash them, or pass {_option(command)} (or set "
            f"{ENV_ALLOW_DIRTY}=1) to build anyway and record the dirty flag."
        )
    return WriteGrant(PROD, root, command, git.commit, git.dirty, allow_dirty=overrides.allow_dirty)


def _deployed_commit(environ: Mapping[str, str]) -> str:
    commit = environ.get(ENV_COMMIT, "").strip()
    if not _COMMIT.match(commit):
        shown = f" (it is {commit!r})" if commit else ""
        raise ConfigError(
            f"{ENV_NO_GIT} builds production outside git, so the records must name the commit "
            f"the deployed code comes from: set {ENV_COMMIT} to its hash{shown}, e.g. "
            f"{ENV_COMMIT}=$(git rev-parse HEAD) when the image is built."
        )
    return commit.lower()


def _git(project: Project, fresh: bool) -> GitState:
    return git_state(project.root, (project.sandbox_root, project.prod_path), fresh=fresh)


def _git_lines(root: Path, *args: str) -> list[str]:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise ProductionWriteError(
            f"`git {args[0]}` failed in {root} ({reason[0] if reason else done.returncode}), so "
            "whether the imported modules are committed is unknown. Repair the repository and "
            "run again."
        )
    return [part for part in done.stdout.decode().split("\0") if part]


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in _TRUE


def _described(command: str) -> str:
    if command == SAVE:
        return "nbassets.save(..., env='prod')"
    if command == "dagster":
        return "dagster (NBASSETS_ENV=prod)"
    if command == PYTEST:
        return "pytest --nbassets-env prod"
    return f"nbassets {command} --env prod"


def _option(command: str, name: str = "allow-dirty") -> str:
    """An override's option as ``command`` spells it (pytest's options carry a prefix)."""
    return f"--nbassets-{name}" if command == PYTEST else f"--{name}"
