"""Short text for messages and views: the one truncation rule, bounded name lists, counted nouns.

Used by errors and check messages in the core as well as by every renderer, so it sits in the
base layer and imports nothing from nbassets.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_TEXT = 80  # the longest name or value a message or view shows in full
ELLIPSIS = "…"


def shorten(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and ``…`` in ``limit``."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def name_list(names: Sequence[str], limit: int, each: int = MAX_TEXT) -> str:
    """``a, b, c`` or ``a, b, ... (+5 more)``: the first ``limit`` names, each shortened."""
    shown = ", ".join(shorten(name, each) for name in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... (+{len(names) - limit:,} more)"


def plural(count: int, word: str) -> str:
    """``1 row``, ``1,234 rows``: the count with separators and the noun it counts."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
