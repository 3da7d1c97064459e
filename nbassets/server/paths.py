"""Which file a request means: a notebook path confined to the server root.

Pure (no tornado): the handlers call :func:`confine` and the tests call it directly.
A refusal is a :class:`RequestRefused` carrying the HTTP status the handlers answer with.
"""

from __future__ import annotations

import errno
from pathlib import Path, PureWindowsPath

NOTEBOOK_SUFFIXES = (".ipynb", ".py")  # .py: a jupytext notebook
EXAMPLE = "notebooks/x.ipynb"


class RequestRefused(Exception):
    """A request the server extension refuses: the HTTP status and a message that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def confine(root: str | Path, path: str | None) -> Path:
    """The notebook file ``path`` (relative to the server ``root``) names, resolved.

    Refused with 403: absolute paths, any ``..`` part, and paths that resolve (through
    symbolic links) outside the root. The root is resolved too, and containment compares
    path parts, so ``/srv/root2/x.ipynb`` is not inside ``/srv/root``. Refused with 404: a
    missing file; with 400: no path, a path the filesystem cannot look up (a name too
    long), a folder, or a file that is not a notebook.
    """
    if path is None or not path.strip():
        raise RequestRefused(
            400,
            "the nbassets server extension needs a notebook path relative to the server root, "
            f"e.g. path={EXAMPLE}.",
        )
    if "\x00" in path:
        raise RequestRefused(400, f"the notebook path {path!r} contains a NUL character.")
    if Path(path).is_absolute() or Path(path).drive or path.startswith(("/", "\\")):
        raise RequestRefused(
            403,
            f"the notebook path {path!r} is absolute; the nbassets server extension only reads "
            f"notebooks under the server root: send the path relative to it (e.g. {EXAMPLE}).",
        )
    if ".." in PureWindowsPath(path).parts:  # split on '/' and on '\' alike
        raise RequestRefused(
            403,
            f"the notebook path {path!r} contains '..'; the nbassets server extension only reads "
            f"notebooks under the server root: send the path relative to it (e.g. {EXAMPLE}).",
        )
    try:
        base = Path(root).resolve()
        target = (base / path).resolve()
    except (OSError, RuntimeError) as exc:
        raise RequestRefused(
            400,
            f"the notebook path {path!r} cannot be resolved (a symbolic link loop, or a name "
            "too long).",
        ) from exc
    if not target.is_relative_to(base):
        raise RequestRefused(
            403,
            f"the notebook path {path!r} resolves (through a symbolic link) to a file outside the "
            "server root; the nbassets server extension only reads notebooks under the root.",
        )
    try:
        found = target.exists()
    except OSError as exc:  # ENAMETOOLONG above all: a name or path the filesystem cannot take
        why = (
            "it is too long for the filesystem: send a shorter path"
            if exc.errno == errno.ENAMETOOLONG
            else f"{exc.strerror or exc}: send another path"
        )
        raise RequestRefused(
            400,
            f"the notebook path {_shown(path)} cannot be looked up ({why} relative to the "
            f"server root, e.g. {EXAMPLE}).",
        ) from exc
    if not found:
        raise RequestRefused(
            404,
            f"the nbassets server extension could not find notebook {path!r} under the server "
            f"root: check the path (relative to the root, e.g. {EXAMPLE}) or save the notebook "
            "first.",
        )
    if not target.is_file():
        raise RequestRefused(400, f"{path!r} is a folder, not a notebook: send a notebook's path.")
    if target.suffix not in NOTEBOOK_SUFFIXES:
        raise RequestRefused(
            400,
            f"{path!r} is not a notebook: the nbassets server extension reads .ipynb notebooks "
            "and jupytext .py notebooks.",
        )
    return target


def _shown(path: str, limit: int = 120) -> str:
    """``path`` as a literal for a message, shortened in the middle when it is long."""
    if len(path) <= limit:
        return repr(path)
    return f"{path[: limit // 2]!r}...{path[-limit // 2 :]!r} ({len(path):,} characters)"
