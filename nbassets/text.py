"""Short text for messages and views: the one truncation rule, bounded name lists, counted nouns,
compact times.

Used by errors and check messages in the core as well as by every renderer, so it sits in the
base layer and imports nothing from nbassets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

MAX_TEXT = 80  # the longest name or value a message or view shows in full
ELLIPSIS = "…"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


def compact_time(stamp: str | None, now: datetime | None = None) -> str:
    """An ISO 8601 timestamp in ``now``'s time zone (default: local), as short as it can be.

    ``12:48`` on the day of ``now``, ``Nov 29 12:48`` in its year, else ``2025-11-29``; empty
    for none, and the stamp as it is when it does not parse.
    """
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    now = now or datetime.now().astimezone()
    if when.tzinfo is not None and now.tzinfo is not None:
        when = when.astimezone(now.tzinfo)
    if when.date() == now.date():
        return when.strftime("%H:%M")
    if when.year == now.year:
        return f"{_MONTHS[when.month - 1]} {when.day} {when:%H:%M}"
    return when.strftime("%Y-%m-%d")
