"""Partitions, pure: definitions as written after ``--partition``, keys, ranges, mappings.

A definition is ``hourly:2024-01-01T00``, ``daily:2024-01-01``, ``monthly:2024-01`` (times in
UTC) or ``static:eu,us``. Time partitions are numbered by an integer index (hours, days or
months since year 1), so enumerating, validating and compressing thousands of keys is cheap.
A time partition is *complete* once its end (exclusive) has passed; only complete partitions
are listed and built. "Now" is injectable, else ``NBASSETS_NOW`` (ISO 8601), else the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import ClassVar, Final, Literal, TypeAlias

import xxhash

from .clock import NOW_VARIABLE, as_utc, now_utc
from .errors import InvalidArgument, SpecError, did_you_mean

#: The asset key a cell's partition value is bound to, so no asset may take it.
RESERVED_KEY: Final = "partition"

Unit: TypeAlias = Literal["hourly", "daily", "monthly"]
TIME_UNITS: Final[tuple[Unit, ...]] = ("hourly", "daily", "monthly")  # finest first
KINDS: Final = (*TIME_UNITS, "static")
EXAMPLES: Final = {
    "hourly": "hourly:2024-01-01T00",
    "daily": "daily:2024-01-01",
    "monthly": "monthly:2024-01",
    "static": "static:eu,us",
}
_FORMS: Final = {"hourly": "YYYY-MM-DDTHH", "daily": "YYYY-MM-DD", "monthly": "YYYY-MM"}
_VALUE = re.compile(r"[a-z0-9_-]{1,64}\Z")
_KEY_RE = {  # daily keys are checked apart, faster
    "hourly": re.compile(r"\d{4}-\d\d-\d\dT([01]\d|2[0-3])\Z", re.ASCII),
    "monthly": re.compile(r"\d{4}-\d\d\Z", re.ASCII),
}
_ALL_HINT = ", ".join(EXAMPLES.values())


# -- time keys <-> indexes (years 1 to 9998, so that every partition has an end) --------------
def _index(unit: Unit, key: str) -> int | None:
    """The index of ``key`` in ``unit``, or None if ``key`` is not written as that unit's key."""
    if unit == "daily":  # the fast path: fromisoformat then reads only YYYY-MM-DD, ASCII digits
        if len(key) != 10 or key[4] != "-" or key[7] != "-":
            return None
    elif not _KEY_RE[unit].match(key):
        return None
    try:
        if unit == "monthly":
            year, month = int(key[:4]), int(key[5:])
            return year * 12 + month - 1 if 1 <= year <= 9998 and 1 <= month <= 12 else None
        day = date.fromisoformat(key[:10])  # a real date (2024-02-30 is not)
    except ValueError:
        return None
    if day.year > 9998:
        return None
    return day.toordinal() if unit == "daily" else day.toordinal() * 24 + int(key[11:])


def _key(unit: Unit, index: int) -> str:
    if unit == "daily":
        return date.fromordinal(index).isoformat()
    if unit == "hourly":
        return f"{date.fromordinal(index // 24).isoformat()}T{index % 24:02d}"
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _start(unit: Unit, index: int) -> datetime:
    if unit == "monthly":
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    day, hour = (index // 24, index % 24) if unit == "hourly" else (index, 0)
    start = date.fromordinal(day)
    return datetime(start.year, start.month, start.day, hour, tzinfo=UTC)


def _index_at(unit: Unit, moment: datetime) -> int:
    """The index of the partition of ``unit`` that contains ``moment`` (aware, UTC)."""
    if unit == "monthly":
        return moment.year * 12 + moment.month - 1
    day = moment.date().toordinal()
    return day * 24 + moment.hour if unit == "hourly" else day


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


# -- now: nbassets.clock (NBASSETS_NOW pins it) ----------------------------------------------
_utc = as_utc


def _now(now: datetime | None) -> datetime:
    return now_utc() if now is None else _utc(now)


# -- the value a cell sees ---------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    """The partition a build is for: its key; a time partition also has ``start`` and ``end``
    (aware UTC datetimes, ``end`` exclusive). ``str(partition)`` is the key."""

    key: str
    start: datetime | None = None
    end: datetime | None = None

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        if self.start is None or self.end is None:
            return f"Partition({self.key!r})"
        return f"Partition({self.key!r}, {_stamp(self.start)}..{_stamp(self.end)})"


# -- definitions -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimePartitions:
    """``unit`` partitions (hourly, daily, monthly) in UTC, the first one starting at ``start``."""

    unit: Unit
    start: datetime
    first: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first = _index_at(self.unit, _utc(self.start))
        if self.start.tzinfo is None or _start(self.unit, first) != self.start:
            raise ValueError(f"{self.start!r} does not start a {self.unit} partition (UTC)")
        object.__setattr__(self, "first", first)

    @property
    def kind(self) -> Unit:
        """``hourly``, ``daily`` or ``monthly``."""
        return self.unit

    def __str__(self) -> str:
        """The canonical text, as written after ``--partition``: ``daily:2024-01-01``."""
        return f"{self.unit}:{_key(self.unit, self.first)}"

    def index(self, key: str) -> int:
        """The position of ``key`` in time; an error that shows the form if it is not ours."""
        index = _index(self.unit, key)
        if index is None:
            raise InvalidArgument(
                f"{key!r} is not a partition key of {self}: write {_FORMS[self.unit]} "
                f"(UTC), e.g. {_key(self.unit, self.first)!r}."
            )
        if index < self.first:
            raise InvalidArgument(
                f"partition {key} is before the first partition of {self} "
                f"({_key(self.unit, self.first)}): pick {_key(self.unit, self.first)} or later."
            )
        return index

    def key_at(self, index: int) -> str:
        """The key at ``index`` (see :meth:`index`)."""
        return _key(self.unit, index)

    def partition(self, key: str) -> Partition:
        """The partition ``key`` names (complete or not), with its start and end."""
        index = self.index(key)
        return Partition(key, _start(self.unit, index), _start(self.unit, index + 1))

    def span(self, now: datetime | None = None) -> range:
        """The indexes of the complete partitions (empty while the first is incomplete)."""
        return range(self.first, max(self.first, _index_at(self.unit, _now(now))))

    def keys(self, now: datetime | None = None) -> list[str]:
        """Every complete partition's key, oldest first."""
        return [_key(self.unit, i) for i in self.span(now)]

    def latest(self, now: datetime | None = None) -> str | None:
        """The newest complete partition's key, or None."""
        span = self.span(now)
        return _key(self.unit, span[-1]) if span else None

    def default_key(self, now: datetime | None = None) -> str:
        """What a notebook builds without ``--partition-key``: the latest complete partition."""
        latest = self.latest(now)
        if latest is None:
            raise InvalidArgument(
                f"no partition of {self} is complete yet (now is {_stamp(_now(now))}): the first "
                f"completes at {_stamp(_start(self.unit, self.first + 1))}. "
                f"Pass --partition-key, or pin now with {NOW_VARIABLE}."
            )
        return latest

    def complete(self, key: str, now: datetime | None = None) -> Partition:
        """The partition ``key`` names if it is ours and complete; else an error that says why."""
        partition = self.partition(key)
        now = _now(now)
        if partition.end is not None and partition.end > now:
            latest = self.latest(now)
            instead = f"the latest complete is {latest}" if latest else "none is complete yet"
            raise InvalidArgument(
                f"partition {key} of {self} is not complete: it ends at {_stamp(partition.end)} "
                f"and now is {_stamp(now)} ({NOW_VARIABLE} pins now); {instead}."
            )
        return partition


@dataclass(frozen=True)
class StaticPartitions:
    """Partitions named by fixed values, in the order written."""

    values: tuple[str, ...]
    kind: ClassVar[Literal["static"]] = "static"

    def __str__(self) -> str:
        return "static:" + ",".join(self.values)

    def index(self, key: str) -> int:
        try:
            return self.values.index(key)
        except ValueError:
            raise InvalidArgument(
                f"{key!r} is not a partition of {self}.{did_you_mean(key, self.values)} "
                f"Pick one of {', '.join(self.values)}."
            ) from None

    def key_at(self, index: int) -> str:
        return self.values[index]

    def partition(self, key: str) -> Partition:
        return Partition(self.values[self.index(key)])

    def span(self, now: datetime | None = None) -> range:
        return range(len(self.values))

    def keys(self, now: datetime | None = None) -> list[str]:
        return list(self.values)

    def latest(self, now: datetime | None = None) -> str | None:
        """Static partitions have no latest one: None."""
        return None

    def default_key(self, now: datetime | None = None) -> str:
        values = ", ".join(self.values)
        raise InvalidArgument(f"{self} has no latest partition: pass --partition-key ({values}).")

    def complete(self, key: str, now: datetime | None = None) -> Partition:
        return self.partition(key)


# Both offer kind, str() (the canonical text), index, key_at, partition, span, keys, latest,
# default_key and complete; compress, expand and parse_selection work on either.
PartitionsDefinition: TypeAlias = TimePartitions | StaticPartitions


def parse_definition(text: str) -> PartitionsDefinition:
    """``daily:2024-01-01`` and the like -> its definition; a :class:`SpecError` that shows a
    right one otherwise. ``monthly:`` also takes the first day of a month, ``hourly:`` a date."""
    kind, _, rest = text.strip().partition(":")
    if kind not in KINDS:
        raise SpecError(
            f"--partition {text!r}: {kind!r} is not a kind of partitions."
            f"{did_you_mean(kind.lower(), KINDS)} Write one of {_ALL_HINT}."
        )
    if not rest.strip():
        what = "their values" if kind == "static" else "a start"
        raise SpecError(f"--partition {text!r}: {kind} partitions need {what}: {EXAMPLES[kind]}.")
    if kind == "static":
        return StaticPartitions(_static_values(text, rest))
    unit: Unit = kind  # type: ignore[assignment]
    first = _index(unit, rest)
    if first is None and unit != "daily" and (day := _index("daily", rest)) is not None:
        first = _index_at(unit, _start("daily", day))
        if _start(unit, first) != _start("daily", day):  # monthly, not on the 1st
            raise SpecError(
                f"--partition {text!r}: monthly partitions start on the first of a month: write "
                f"{unit}:{_key(unit, first + 1)} (or {unit}:{rest[:7]} to include that month)."
            )
    if first is None:
        forms = f"{_FORMS[unit]} or YYYY-MM-DD" if unit != "daily" else _FORMS[unit]
        raise SpecError(
            f"--partition {text!r}: the start {rest!r} is not a real {unit} start written "
            f"{forms} (UTC): write {EXAMPLES[unit]}."
        )
    return TimePartitions(unit, _start(unit, first))


def _static_values(text: str, rest: str) -> tuple[str, ...]:
    values = [value.strip() for value in rest.split(",")]
    for value in values:
        if not value:
            raise SpecError(
                f"--partition {text!r}: an empty value (two commas in a row, or one at an end): "
                f"write values between commas, e.g. {EXAMPLES['static']}."
            )
        if not _VALUE.match(value):
            slug = re.sub(r"[^a-z0-9_-]+", "_", value.lower())[:64].strip("_") or "value"
            raise SpecError(
                f"--partition {text!r}: {value!r} is not a partition value: values are 1 to 64 "
                f"lowercase letters, digits, '_' or '-'. Try {slug!r}."
            )
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise SpecError(
            f"--partition {text!r}: {', '.join(map(repr, repeated))} written more than once: "
            "list each value once."
        )
    return tuple(values)


# -- selections and ranges ---------------------------------------------------------------------
@dataclass(frozen=True)
class KeyRange:
    """Consecutive partitions ``first..last`` (inclusive) of a definition: ``count`` keys."""

    first: str
    last: str
    count: int

    def __str__(self) -> str:
        return self.first if self.count == 1 else f"{self.first}..{self.last}"


def parse_selection(
    definition: PartitionsDefinition, text: str, now: datetime | None = None
) -> list[str]:
    """The keys ``KEY``, ``FIRST..LAST`` (inclusive), ``FIRST..`` (to the latest complete),
    ``..LAST`` (from the first) or ``..`` select, oldest first; every one must be complete."""
    first, dots, last = text.strip().partition("..")
    if ".." in last or not (first or dots):
        raise InvalidArgument(
            f"partition selection {text!r}: write KEY, FIRST..LAST, FIRST.. or ..LAST (inclusive)."
        )
    last = last if dots else first
    span = definition.span(now)
    if not span and not (first and last):
        definition.default_key(now)  # raises: no partition is complete yet
    low = definition.index(definition.complete(first, now).key) if first else span[0]
    high = definition.index(definition.complete(last, now).key) if last else span[-1]
    if low > high:
        raise InvalidArgument(
            f"partition range {text!r} is empty: {first} comes after {last or 'the latest'}. "
            f"Did you mean {last}..{first}?"
        )
    return [definition.key_at(i) for i in range(low, high + 1)]


def compress(definition: PartitionsDefinition, keys: Iterable[str]) -> list[KeyRange]:
    """``keys`` (any order, repeats ignored) as the fewest ranges of consecutive partitions."""
    index = definition.index
    indexes = sorted({index(key) for key in keys})
    ranges: list[KeyRange] = []
    low = 0
    for position in range(1, len(indexes) + 1):
        if position == len(indexes) or indexes[position] != indexes[position - 1] + 1:
            first, last = indexes[low], indexes[position - 1]
            ranges.append(
                KeyRange(definition.key_at(first), definition.key_at(last), last - first + 1)
            )
            low = position
    return ranges


def expand(definition: PartitionsDefinition, ranges: Iterable[KeyRange | str]) -> list[str]:
    """The keys of ``ranges`` (:class:`KeyRange` or their text, ``FIRST..LAST`` or ``KEY``),
    in the order given; complete or not."""
    keys: list[str] = []
    for item in ranges:
        first, _, last = str(item).partition("..")
        low, high = definition.index(first), definition.index(last or first)
        keys.extend(definition.key_at(i) for i in range(low, high + 1))
    return keys


# -- what a partition reads upstream -----------------------------------------------------------
class AllPartitions(Enum):
    """Every built partition (an unpartitioned asset reads its partitioned upstream whole)."""

    ALL = "all"


ALL: Final = AllPartitions.ALL
Reads: TypeAlias = tuple[str, ...] | Literal[AllPartitions.ALL]
MappingKind: TypeAlias = Literal["same", "covered", "containing", "all", "whole"]


@dataclass(frozen=True)
class PartitionMapping:
    """Which upstream partitions a downstream partition reads (made by :func:`partition_mapping`).

    ``same``: the same key. ``covered``: a coarser downstream reads the finer partitions its
    period covers (a month its days). ``containing``: a finer downstream reads the one coarser
    partition that contains it (a day its month, once that month is built). ``all``: an
    unpartitioned downstream reads every built partition. ``whole``: the upstream is
    unpartitioned; its one version (partition ``""`` in the catalog) is read."""

    kind: MappingKind
    downstream: PartitionsDefinition | None
    upstream: PartitionsDefinition | None

    def upstream_keys(self, key: str | None = None) -> Reads:
        """The upstream partitions downstream partition ``key`` (None if unpartitioned) reads."""
        down, up = self.downstream, self.upstream
        if self.kind == "all":
            return ALL
        if self.kind == "whole":
            return ("",)
        assert down is not None and up is not None and key is not None, "a partitioned mapping"
        if self.kind == "same":
            return (down.partition(key).key,)
        assert isinstance(down, TimePartitions) and isinstance(up, TimePartitions)
        partition = down.partition(key)
        assert partition.start is not None and partition.end is not None
        low = _index_at(up.unit, partition.start)
        if self.kind == "containing":
            return (up.key_at(low),)
        return tuple(up.key_at(i) for i in range(low, _index_at(up.unit, partition.end)))


def partition_mapping(
    downstream: PartitionsDefinition | None,
    upstream: PartitionsDefinition | None,
    *,
    names: tuple[str, str] = ("this asset", "its upstream"),
) -> PartitionMapping:
    """How ``downstream`` (None: unpartitioned) reads ``upstream``; a :class:`SpecError` when
    it cannot. ``names`` (the two asset keys) make the error name them."""
    if upstream is None:
        return PartitionMapping("whole", downstream, None)
    if downstream is None:
        return PartitionMapping("all", None, upstream)
    down_name, up_name = names
    head = f"{downstream.kind} asset {down_name!r} cannot read {upstream.kind} asset {up_name!r}"
    if isinstance(downstream, StaticPartitions) or isinstance(upstream, StaticPartitions):
        if isinstance(downstream, StaticPartitions) and isinstance(upstream, StaticPartitions):
            missing = [v for v in downstream.values if v not in upstream.values]
            if missing:
                raise SpecError(
                    f"{head}: {up_name!r} has no partition {', '.join(missing)}. Give "
                    f"{down_name!r} only values of {upstream}, or add them to {up_name!r}."
                )
            return PartitionMapping("same", downstream, upstream)
        raise SpecError(
            f"{head}: static and time partitions do not match one to one. Give both the same "
            f"kind of partitions, or read {up_name!r} from an unpartitioned asset (it reads "
            "every built partition)."
        )
    if downstream.start < upstream.start:
        earliest = _index_at(downstream.unit, upstream.start)
        if _start(downstream.unit, earliest) < upstream.start:
            earliest += 1
        raise SpecError(
            f"{head}: {down_name!r} ({downstream}) starts before {up_name!r} ({upstream}), so "
            f"its first partitions would lack their input. Start {down_name!r} at "
            f"{downstream.unit}:{downstream.key_at(earliest)} or later."
        )
    rank = TIME_UNITS.index
    if downstream.unit == upstream.unit:
        return PartitionMapping("same", downstream, upstream)
    kind: MappingKind = "covered" if rank(downstream.unit) > rank(upstream.unit) else "containing"
    return PartitionMapping(kind, downstream, upstream)


# -- the version of the partitions read --------------------------------------------------------
@dataclass(frozen=True)
class CombinedVersion:
    """One version for the partitions of an upstream that a build read: a hash of
    partition -> data version (order does not matter) and how many partitions."""

    version: str
    count: int


def combined_version(versions: Mapping[str, str]) -> CombinedVersion:
    """The :class:`CombinedVersion` of ``{partition key: data version}`` (xxh3-128, 32 hex)."""
    digest = xxhash.xxh3_128()
    for key in sorted(versions):
        digest.update(f"{key}\t{versions[key]}\n".encode())
    return CombinedVersion(digest.hexdigest(), len(versions))
