"""A progress bar (tqdm) for the core's runs, which only report ``(key, done, total)``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..batch import Progress


@contextmanager
def progress_bar(enabled: bool = True, desc: str = "materialize") -> Iterator[Progress | None]:
    """A callback that draws a tqdm bar (in a notebook, its widget), or ``None`` when off."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bar: Any = None

    def advance(key: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="asset")
        bar.set_postfix_str(key, refresh=False)
        bar.update(done - bar.n)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.close()
