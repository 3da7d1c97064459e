"""Is an asset late? ``--fresh 'max_age=DURATION'``, parsed, and lateness (pure functions).

An asset is *late* in an env when its latest version there finished more than ``max_age``
ago (``now`` is :func:`nbassets.partitions.now_utc`, which ``NBASSETS_NOW`` pins), or when
it has no version at all. A time-partitioned asset is judged by its partitions instead: a
complete partition is late when it has no version and ended more than ``max_age`` ago, and
the asset is late when one of its partitions is (a daily asset with ``max_age=1d`` is late
once yesterday's partition is still missing a day after it ended). A statically partitioned
asset is judged as a whole, by its newest partition's build.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import InvalidArgument
from .partitions import PartitionsDefinition, TimePartitions, compress

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_FORM = "write 'max_age=DURATION', a number with s, m, h or d, e.g. --fresh 'max_age=1d'"


@dataclass(frozen=True)
class Freshness:
    """``--fresh 'max_age=1d'``: how old an asset's data may get. It never changes what a build
    makes, so it is not hashed into the code version. ``str()`` is the canonical text."""

    max_age: timedelta
    duration: str  # as written after max_age=, e.g. "1d"

    def __str__(self) -> str:
        return f"max_age={self.duration}"


def parse_fresh(text: str) -> Freshness:
    """``'max_age=1d'`` -> :class:`Freshness`; an error that shows the form otherwise."""
    name, equals, value = str(text).strip().partition("=")
    if name.strip() != "max_age" or not equals:
        raise InvalidArgument(f"--fresh {text!r} is not a freshness: {_FORM}.")
    value = value.strip()
    match = _DURATION.match(value)
    if match is None:
        hint = " (weeks: use days, e.g. 7d)" if value.endswith("w") else ""
        raise InvalidArgument(f"--fresh {text!r}: {value!r} is not a duration{hint}; {_FORM}.")
    max_age = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if max_age <= timedelta():
        raise InvalidArgument(f"--fresh {text!r}: max_age must be more than 0; {_FORM}.")
    return Freshness(max_age, value)


@dataclass(frozen=True)
class Late:
    """A late asset: its freshness, its newest build (None: never built), how late it is
    (None: never built and no partition to date it) and its late partitions as ranges."""

    key: str
    fresh: Freshness
    built_at: datetime | None
    late_by: timedelta | None
    partitions: tuple[str, ...] = ()

    def describe(self) -> str:
        """``orders: late by 2h 5m (max_age=1d; last built 2024-03-01T00:00Z)``."""
        by = "never built" if self.late_by is None else f"late by {age_text(self.late_by)}"
        built = "" if self.built_at is None else f"; last built {self.built_at:%Y-%m-%dT%H:%MZ}"
        where = f"[{','.join(self.partitions)}]" if self.partitions else ""
        return f"{self.key}{where}: {by} ({self.fresh}{built})"

    def as_dict(self) -> dict[str, object]:
        """The JSON form: seconds for ``late_by``, ISO 8601 for ``built_at``."""
        return {
            "key": self.key,
            "fresh": str(self.fresh),
            "built_at": None if self.built_at is None else self.built_at.isoformat(),
            "late_by_seconds": None if self.late_by is None else self.late_by.total_seconds(),
            "partitions": list(self.partitions),
        }


def lateness(
    key: str,
    fresh: Freshness,
    built: Mapping[str, str],
    now: datetime,
    definition: PartitionsDefinition | None = None,
) -> Late | None:
    """Whether ``key`` is late at ``now`` (aware UTC): ``built`` maps each partition (``""``
    when unpartitioned) to the ``finished_at`` (ISO 8601) of the version the env reads."""
    times = [_moment(at) for at in built.values()]
    newest = max(times, default=None)
    if isinstance(definition, TimePartitions):
        late = [
            key_
            for key_ in definition.keys(now)
            if key_ not in built and _end(definition, key_) + fresh.max_age < now
        ]
        if not late:
            return None
        oldest_due = _end(definition, late[0]) + fresh.max_age
        ranges = tuple(str(r) for r in compress(definition, late))
        return Late(key, fresh, newest, now - oldest_due, ranges)
    if newest is None:
        return Late(key, fresh, None, None)
    if now - newest <= fresh.max_age:
        return None
    return Late(key, fresh, newest, now - newest - fresh.max_age)


def age_text(age: timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``40s``: the two largest units."""
    seconds = int(age.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m")]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return " ".join(shown[:2]) or f"{seconds % 60}s"


def _end(definition: TimePartitions, key: str) -> datetime:
    end = definition.partition(key).end
    assert end is not None  # a time partition has one
    return end


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
