"""The git commit, branch and dirty flag that a build records, cached for a few seconds."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class GitState:
    """What git says about a folder; all ``None`` outside a repository.

    When git fails in a repository (a corrupt index, an unreadable object), ``error`` says
    how and ``dirty`` is ``None`` (unknown), never ``False``: production refuses such a tree.
    """

    commit: str | None
    branch: str | None
    dirty: bool | None
    error: str | None = None


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
        inside = _run(root, "rev-parse", "--is-inside-work-tree")
        if inside[0] != 0 or inside[1] != "true":  # a .git folder git cannot read
            return GitState(None, None, None, _failed("rev-parse", inside))
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD")
    status = _run(
        root,
        "status",
        "--porcelain",
        "--untracked-files=normal",
        "--",
        ".",
        *(f":(exclude){spec}" for spec in excluded),
    )
    if status[0] != 0:  # unknown, never clean
        return GitState(head or None, branch or None, None, _failed("status", status))
    return GitState(commit=head or None, branch=branch or None, dirty=bool(status[1]))


def _pathspec(root: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _git(root: Path, *args: str) -> str | None:
    code, out, _ = _run(root, *args)
    return out if code == 0 else None


def _run(root: Path, *args: str) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``git args`` (-1 when git cannot be run)."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except OSError as exc:
        return -1, "", str(exc)
    return out.returncode, out.stdout.strip(), out.stderr.strip()


def _failed(command: str, result: tuple[int, str, str]) -> str:
    lines = result[2].splitlines()
    return f"`git {command}` failed: {lines[0] if lines else f'exit code {result[0]}'}"
