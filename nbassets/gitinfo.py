"""The git commit, branch and dirty flag that a build records, cached for a few seconds."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class GitState:
    """What git says about a folder; all ``None`` outside a repository."""

    commit: str | None
    branch: str | None
    dirty: bool | None


NO_GIT = GitState(None, None, None)
_cache: dict[tuple[Path, tuple[Path, ...]], tuple[float, GitState]] = {}


def git_state(root: Path, exclude: tuple[Path, ...] = (), fresh: bool = False) -> GitState:
    """Commit, branch and dirty flag of the repository at ``root``.

    Dirty means a modified, staged or untracked file that git does not ignore,
    outside the ``exclude`` folders (the project's own stores). A ``git status``
    costs 5 to 10 ms, so the answer is cached for ``CACHE_SECONDS``.
    """
    cache_key = (root, exclude)
    now = time.monotonic()
    hit = _cache.get(cache_key)
    if hit and not fresh and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    if not any((folder / ".git").exists() for folder in (root, *root.parents)):
        state = NO_GIT  # not a repository: no need to ask git
    else:
        excluded = tuple(spec for path in exclude if (spec := _pathspec(root, path)))
        state = _read_git_state(root, excluded)
    _cache[cache_key] = (now, state)
    return state


def _read_git_state(root: Path, excluded: tuple[str, ...]) -> GitState:
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    if head is None:
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
        if inside != "true":
            return NO_GIT
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD")
    status = _git(
        root,
        "status",
        "--porcelain",
        "--untracked-files=normal",
        "--",
        ".",
        *(f":(exclude){spec}" for spec in excluded),
    )
    return GitState(commit=head or None, branch=branch or None, dirty=bool(status))


def _pathspec(root: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None
