"""A failing cell's traceback as IPython prints any cell's: from the user's own frame on.

An ``%%asset`` or ``%%check`` body runs as a function that nbassets calls through its own
frames (the magic, the build, the check runner). IPython would print those frames above
the user's; here it prints the user's frame first, then whatever it called (libraries).
The exception keeps its type, message and whole ``__traceback__``: ``%debug`` still walks
every frame. A ``--sql`` cell's DuckDB error is shown at the line of the SQL it names.
Free of IPython: the caller hands over the shell's traceback formatter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from .errors import NbAssetsError


class TracebackFormatter(Protocol):
    """What IPython's ``shell.InteractiveTB`` offers (its ``structured_traceback``)."""

    def structured_traceback(self, etype: Any, evalue: Any, etb: Any, tb_offset: Any) -> Any: ...


def user_traceback(exc: BaseException, filenames: Collection[str]) -> TracebackType | None:
    """``exc``'s traceback from the first frame of code compiled from ``filenames`` on."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename not in filenames:
        tb = tb.tb_next
    return tb


def from_user_frame(
    exc: BaseException, filenames: Collection[str], formatter: TracebackFormatter
) -> bool:
    """Whether ``exc`` came from the user's cells; if so IPython prints it from their frame on.

    IPython prints an exception through its ``_render_traceback_`` when it has one: here,
    the shell's own formatter (its mode and colours) over the traceback cut at the user's
    frame. An exception that already renders itself is left as it is.
    """
    tb = user_traceback(exc, filenames)
    if tb is None:
        return False
    if not hasattr(exc, "_render_traceback_"):

        def render() -> list[str]:
            return list(formatter.structured_traceback(type(exc), exc, tb, tb_offset=0))

        exc._render_traceback_ = render  # type: ignore[attr-defined]
    return True


def after_user_cause(
    exc: BaseException, filenames: Collection[str], formatter: TracebackFormatter
) -> None:
    """IPython prints ``exc`` (nbassets' summary of a failure) with none of its own frames,
    after its cause: the user's error from the user's frame on; nbassets' own error (a
    missing input, a SQL error), which ``exc``'s message already says, is not repeated."""
    cause = exc.__cause__
    if cause is not None:
        tb = user_traceback(cause, filenames)
        if tb is not None:
            cause.__traceback__ = tb
        elif isinstance(cause, NbAssetsError):
            exc.__cause__ = None  # and __suppress_context__ stays True

    def render() -> list[str]:
        return list(formatter.structured_traceback(type(exc), exc, None, tb_offset=0))

    exc._render_traceback_ = render  # type: ignore[attr-defined]


_SQL_LINE = re.compile(r"^LINE (\d+):", re.MULTILINE)


def sql_error(exc: BaseException) -> BaseException | None:
    """The DuckDB error a failed ``--sql`` build wraps (its ``__cause__``), if it is one."""
    import duckdb

    cause = exc.__cause__
    return cause if isinstance(cause, duckdb.Error) else None


def raised_at_sql_line(error: BaseException, filename: str) -> BaseException:
    """``error`` as raised by the line of ``filename`` (the cell's SQL) that DuckDB names.

    DuckDB's message says ``LINE n:`` (else line 1 is meant); its own frames and nbassets'
    are dropped, so IPython shows the cell's SQL around that line, then DuckDB's message.
    """
    match = _SQL_LINE.search(str(error))
    line = int(match.group(1)) if match else 1
    code = compile("\n" * (line - 1) + "raise error", filename, "exec")
    try:
        exec(code, {"error": error.with_traceback(None)})  # raises error from that line
    except BaseException as raised:  # it is error
        return raised
    raise AssertionError("unreachable: the code above raises")  # pragma: no cover


_PACKAGE = f"{Path(__file__).resolve().parent}{os.sep}"  # nbassets' own files


def without_nbassets_frames(exc: BaseException) -> BaseException:
    """``exc`` with nbassets' frames left out of its traceback: a test's traceback goes from
    the test cell's line to the asset cell's line (and libraries), not through
    ``AssetUnderTest`` or ``expect_frame_equal``, as an asset cell's hides the build's."""
    kept = []
    tb = exc.__traceback__
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
            kept.append(tb)
        tb = tb.tb_next
    chain: TracebackType | None = None
    for tb in reversed(kept):
        chain = TracebackType(chain, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    return exc.with_traceback(chain)
