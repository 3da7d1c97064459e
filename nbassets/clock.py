"""What time it is for nbassets: ``NBASSETS_NOW`` (ISO 8601) when set, else the clock, in UTC.

One "now" for partitions (which are complete), freshness (which assets are late) and the
``fresh`` rule, so a test or a replay that pins it sees them agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from .errors import InvalidArgument

#: The environment variable that pins "now" (ISO 8601; a time without an offset is UTC).
NOW_VARIABLE: Final = "NBASSETS_NOW"


def now_utc(environ: Mapping[str, str] | None = None) -> datetime:
    """``NBASSETS_NOW`` from ``environ`` (default ``os.environ``) if set, else the clock, in UTC."""
    text = (os.environ if environ is None else environ).get(NOW_VARIABLE, "").strip()
    if not text:
        return datetime.now(UTC)
    try:
        pinned = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"{NOW_VARIABLE}={text!r} is not an ISO 8601 time: write e.g. "
            f"{NOW_VARIABLE}=2024-03-01T00:00:00Z (no offset means UTC), or unset it."
        ) from None
    return as_utc(pinned)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
