"""Partitions, pure: definitions, keys, completeness, ranges, mappings, combined versions."""

from __future__ import annotations

import itertools
import pickle
import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbassets.errors import InvalidArgument, SpecError
from nbassets.partitions import (
    ALL,
    NOW_VARIABLE,
    RESERVED_KEY,
    KeyRange,
    Partition,
    PartitionsDefinition,
    StaticPartitions,
    TimePartitions,
    combined_version,
    compress,
    expand,
    now_utc,
    parse_definition,
    parse_selection,
    partition_mapping,
)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# -- definitions as written ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "start"),
    [
        ("daily:2024-01-01", "daily:2024-01-01", at(2024, 1, 1)),
        ("monthly:2024-01", "monthly:2024-01", at(2024, 1, 1)),
        ("monthly:2024-03-01", "monthly:2024-03", at(2024, 3, 1)),
        ("hourly:2024-01-01T13", "hourly:2024-01-01T13", at(2024, 1, 1, 13)),
        ("hourly:2024-01-01", "hourly:2024-01-01T00", at(2024, 1, 1)),
        ("  daily:2024-02-29 ", "daily:2024-02-29", at(2024, 2, 29)),
    ],
)
def test_time_definitions_parse_to_a_canonical_text(
    text: str, canonical: str, start: datetime
) -> None:
    definition = parse_definition(text)
    assert isinstance(definition, TimePartitions)
    assert str(definition) == canonical
    assert definition.start == start
    assert definition.kind == canonical.split(":")[0]
    assert parse_definition(canonical) == definition


def test_static_definitions_keep_their_order_and_drop_spaces() -> None:
    definition = parse_definition("static:us, eu ,ap-south_1")
    assert definition == StaticPartitions(("us", "eu", "ap-south_1"))
    assert str(definition) == "static:us,eu,ap-south_1"
    assert definition.kind == "static"
    assert definition.keys() == ["us", "eu", "ap-south_1"]


def test_the_reserved_key_and_the_now_variable() -> None:
    assert RESERVED_KEY == "partition"
    assert NOW_VARIABLE == "NBASSETS_NOW"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("weekly:2024-01-01", "'weekly' is not a kind of partitions. Write one of hourly:"),
        ("Daily:2024-01-01", "Did you mean 'daily'?"),
        ("2024-01-01", "'2024-01-01' is not a kind of partitions"),
        ("", "'' is not a kind of partitions"),
        ("daily", "daily partitions need a start: daily:2024-01-01."),
        ("monthly:", "monthly partitions need a start: monthly:2024-01."),
        ("static:", "static partitions need their values: static:eu,us."),
        ("daily:2024-1-1", "the start '2024-1-1' is not a real daily start written YYYY-MM-DD"),
        ("daily:2023-02-29", "is not a real daily start written YYYY-MM-DD (UTC): write daily:2024"),
        ("daily:2024-01-01T00", "'2024-01-01T00' is not a real daily start"),
        ("daily:0000-01-01", "is not a real daily start"),
        ("daily:२०२४-०१-०१", "is not a real daily start"),
        ("monthly:2024-13", "written YYYY-MM or YYYY-MM-DD (UTC): write monthly:2024-01."),
        ("monthly:2024-01-15", "start on the first of a month: write monthly:2024-02 (or monthly:2024-01"),
        ("hourly:2024-01-01T24", "written YYYY-MM-DDTHH or YYYY-MM-DD (UTC): write hourly:2024-01-01T00."),
        ("hourly:2024-01-01T5", "is not a real hourly start"),
        ("static:a,,b", "an empty value (two commas in a row, or one at an end)"),
        ("static:a,b,", "an empty value"),
        ("static:EU,us", "'EU' is not a partition value: values are 1 to 64 lowercase letters, "
                         "digits, '_' or '-'. Try 'eu'."),
        ("static:new york", "'new york' is not a partition value"),
        ("static:a.b", "Try 'a_b'"),
        ("static:" + "x" * 65, "is not a partition value"),
        ("static:a,b,a,b", "'a', 'b' written more than once: list each value once."),
    ],
)  # fmt: skip
def test_every_bad_definition_is_refused_with_a_right_example(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_definition(text)
    assert message in str(info.value)
    assert f"--partition {text!r}" in str(info.value)


def test_a_time_definition_must_start_a_partition_in_utc() -> None:
    with pytest.raises(ValueError, match="does not start a daily partition"):
        TimePartitions("daily", at(2024, 1, 1, 5))
    with pytest.raises(ValueError, match="does not start a monthly partition"):
        TimePartitions("monthly", datetime(2024, 1, 1))  # naive


time_definitions = st.builds(
    lambda unit, day, hour: parse_definition(
        {"hourly": f"hourly:{day.isoformat()}T{hour:02d}", "daily": f"daily:{day.isoformat()}",
         "monthly": f"monthly:{day.isoformat()[:7]}"}[unit]
    ),
    st.sampled_from(["hourly", "daily", "monthly"]),
    st.dates(date(1900, 1, 1), date(2200, 12, 31)),
    st.integers(0, 23),
)  # fmt: skip
values = st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)
static_definitions = st.lists(values, min_size=1, max_size=8, unique=True).map(
    lambda vs: StaticPartitions(tuple(vs))
)
definitions = st.one_of(time_definitions, static_definitions)


@given(definitions)
def test_the_canonical_text_round_trips(definition: PartitionsDefinition) -> None:
    assert parse_definition(str(definition)) == definition
    assert str(parse_definition(str(definition))) == str(definition)


@given(time_definitions, st.integers(0, 60_000))  # monthly: up to year 7200
def test_keys_round_trip_and_partitions_tile_time(definition: TimePartitions, offset: int) -> None:
    index = definition.first + offset
    key = definition.key_at(index)
    partition = definition.partition(key)
    assert definition.index(key) == index
    assert partition.key == key and str(partition) == key
    assert partition.start is not None and partition.end is not None
    assert partition.start.tzinfo is UTC and partition.start < partition.end
    assert partition.end == definition.partition(definition.key_at(index + 1)).start
    assert definition.partition(definition.key_at(definition.first)).start == definition.start


# -- the partition value -------------------------------------------------------------------------


def test_a_partition_reads_as_its_key() -> None:
    day = parse_definition("daily:2024-01-01").partition("2024-02-29")
    assert str(day) == "2024-02-29" and f"{day}" == "2024-02-29"
    assert repr(day) == "Partition('2024-02-29', 2024-02-29T00:00Z..2024-03-01T00:00Z)"
    assert (day.start, day.end) == (at(2024, 2, 29), at(2024, 3, 1))
    assert pickle.loads(pickle.dumps(day)) == day
    region = parse_definition("static:eu,us").partition("us")
    assert region == Partition("us") and repr(region) == "Partition('us')"
    assert region.start is None and region.end is None


@pytest.mark.parametrize(
    ("text", "key", "start", "end"),
    [
        ("monthly:2024-01", "2024-02", at(2024, 2, 1), at(2024, 3, 1)),
        ("monthly:2024-01", "2024-12", at(2024, 12, 1), at(2025, 1, 1)),
        ("daily:2024-01-01", "2024-12-31", at(2024, 12, 31), at(2025, 1, 1)),
        ("hourly:2024-01-01", "2024-01-31T23", at(2024, 1, 31, 23), at(2024, 2, 1)),
        ("hourly:2024-01-01", "2024-02-29T00", at(2024, 2, 29), at(2024, 2, 29, 1)),
    ],
)
def test_starts_and_ends_across_month_and_year_ends(
    text: str, key: str, start: datetime, end: datetime
) -> None:
    partition = parse_definition(text).partition(key)
    assert (partition.start, partition.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("daily:2024-01-01", "2024-1-5", "'2024-1-5' is not a partition key of daily:2024-01-01: write "
                                         "YYYY-MM-DD (UTC), e.g. '2024-01-01'."),
        ("daily:2024-01-01", "2023-02-29", "is not a partition key of daily:2024-01-01"),
        ("daily:2024-01-01", "2024-01", "is not a partition key of daily:2024-01-01"),
        ("daily:2024-01-01", "2024-W01-1", "is not a partition key of daily:2024-01-01"),
        ("daily:2024-01-01", "20240105", "is not a partition key of daily:2024-01-01"),
        ("daily:2024-01-01", "2024-01-0a", "is not a partition key of daily:2024-01-01"),
        ("daily:2024-01-01", "+024-01-01", "is not a partition key of daily:2024-01-01"),
        ("daily:2024-01-01", "2024-01-05T00", "is not a partition key of daily:2024-01-01"),
        ("monthly:2024-01", "2024-+1", "is not a partition key of monthly:2024-01"),
        ("monthly:2024-01", "2024-1_", "is not a partition key of monthly:2024-01"),
        ("hourly:2024-01-01", "2024-01-01T24", "is not a partition key of hourly:2024-01-01"),
        ("monthly:2024-01", "2024-01-01", "write YYYY-MM (UTC), e.g. '2024-01'"),
        ("hourly:2024-01-01", "2024-01-01 05", "write YYYY-MM-DDTHH (UTC)"),
        ("daily:2024-01-01", "2023-12-31", "partition 2023-12-31 is before the first partition "
                                           "of daily:2024-01-01 (2024-01-01): pick 2024-01-01 or later."),
        ("static:europe,asia", "eurpoe", "'eurpoe' is not a partition of static:europe,asia. "
                                         "Did you mean 'europe'? Pick one of europe, asia."),
        ("static:eu,us", "EU", "'EU' is not a partition of static:eu,us. Pick one of eu, us."),
    ],
)  # fmt: skip
def test_a_key_that_is_not_ours_is_refused(text: str, key: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_definition(text).partition(key)
    assert message in str(info.value)


# -- completeness and now -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "keys"),
    [
        ("daily:2024-01-30", at(2024, 2, 2), ["2024-01-30", "2024-01-31", "2024-02-01"]),
        ("daily:2024-02-28", at(2024, 3, 1, 12), ["2024-02-28", "2024-02-29"]),
        ("daily:2023-02-28", at(2023, 3, 2), ["2023-02-28", "2023-03-01"]),
        ("daily:2024-01-01", at(2024, 1, 1, 23, 59), []),
        ("daily:2024-01-01", at(2024, 1, 2), ["2024-01-01"]),  # an end at now is complete
        ("monthly:2024-01", at(2024, 2, 29, 23, 59), ["2024-01"]),
        ("monthly:2024-01", at(2024, 3, 1), ["2024-01", "2024-02"]),
        ("monthly:2023-12", at(2024, 1, 1), ["2023-12"]),
        ("hourly:2024-01-01T22", at(2024, 1, 2, 1, 30), ["2024-01-01T22", "2024-01-01T23", "2024-01-02T00"]),
        ("hourly:2024-01-01T22", at(2024, 1, 2, 1), ["2024-01-01T22", "2024-01-01T23", "2024-01-02T00"]),
        ("hourly:2024-01-01T22", at(2024, 1, 1, 22, 59, 59), []),
        ("daily:2030-01-01", at(2024, 6, 1), []),  # a start in the future
        ("static:b,a", at(1970, 1, 1), ["b", "a"]),
    ],
)  # fmt: skip
def test_only_complete_partitions_are_listed(text: str, now: datetime, keys: list[str]) -> None:
    definition = parse_definition(text)
    assert definition.keys(now) == keys
    if isinstance(definition, TimePartitions):
        assert definition.latest(now) == (keys[-1] if keys else None)
        assert len(definition.span(now)) == len(keys)


def test_now_may_be_naive_utc_or_another_offset() -> None:
    daily = parse_definition("daily:2024-01-01")
    assert daily.latest(datetime(2024, 1, 3)) == "2024-01-02"  # naive: UTC
    tokyo = timezone(timedelta(hours=9))
    assert daily.latest(datetime(2024, 1, 3, 8, tzinfo=tokyo)) == "2024-01-01"  # 2024-01-02T23Z


def test_the_default_key_is_the_latest_complete_one() -> None:
    daily = parse_definition("daily:2024-01-01")
    assert daily.default_key(at(2024, 3, 1, 0, 1)) == "2024-02-29"
    with pytest.raises(InvalidArgument) as info:
        parse_definition("daily:2030-01-01").default_key(at(2024, 6, 1))
    assert str(info.value) == (
        "no partition of daily:2030-01-01 is complete yet (now is 2024-06-01T00:00Z): the first "
        "completes at 2030-01-02T00:00Z. Pass --partition-key, or pin now with NBASSETS_NOW."
    )
    with pytest.raises(InvalidArgument, match=r"static:eu,us has no latest partition: pass "
                       r"--partition-key \(eu, us\)"):  # fmt: skip
        parse_definition("static:eu,us").default_key()


def test_a_partition_to_build_must_be_complete() -> None:
    daily = parse_definition("daily:2024-01-01")
    now = at(2024, 1, 10, 6)
    assert daily.complete("2024-01-09", now) == daily.partition("2024-01-09")
    assert daily.complete("2024-01-09", at(2024, 1, 10)).key == "2024-01-09"  # ends at now
    with pytest.raises(InvalidArgument) as info:
        daily.complete("2024-01-10", now)
    assert str(info.value) == (
        "partition 2024-01-10 of daily:2024-01-01 is not complete: it ends at 2024-01-11T00:00Z "
        "and now is 2024-01-10T06:00Z (NBASSETS_NOW pins now); the latest complete is 2024-01-09."
    )
    assert daily.partition("2024-01-10").key == "2024-01-10"  # known, only not complete
    with pytest.raises(InvalidArgument, match="none is complete yet"):
        daily.complete("2024-01-01", at(2024, 1, 1, 12))


@pytest.mark.parametrize(
    ("pinned", "expected"),
    [
        ("2024-03-01T00:00:00Z", at(2024, 3, 1)),
        ("2024-03-01T02:30:00+02:00", at(2024, 3, 1, 0, 30)),
        ("2024-03-01T05:00", at(2024, 3, 1, 5)),  # no offset: UTC
        ("2024-03-01", at(2024, 3, 1)),
    ],
)
def test_nbassets_now_pins_now(
    monkeypatch: pytest.MonkeyPatch, pinned: str, expected: datetime
) -> None:
    monkeypatch.setenv(NOW_VARIABLE, pinned)
    assert now_utc() == expected and now_utc().tzinfo is UTC
    daily = parse_definition("daily:2024-02-27")
    assert daily.keys() == daily.keys(expected)
    assert now_utc({NOW_VARIABLE: "2020-01-01T00:00:00Z"}) == at(2020, 1, 1)


def test_without_nbassets_now_the_clock_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NOW_VARIABLE, raising=False)
    before = datetime.now(UTC)
    now = now_utc()
    assert before <= now <= datetime.now(UTC) and now.tzinfo is UTC
    assert now_utc({NOW_VARIABLE: "  "}) >= now  # blank is unset


def test_a_bad_nbassets_now_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NOW_VARIABLE, "yesterday")
    with pytest.raises(InvalidArgument) as info:
        parse_definition("daily:2024-01-01").keys()
    assert str(info.value) == (
        "NBASSETS_NOW='yesterday' is not an ISO 8601 time: write e.g. "
        "NBASSETS_NOW=2024-03-01T00:00:00Z (no offset means UTC), or unset it."
    )


# -- selections and ranges ----------------------------------------------------------------------

DAILY = parse_definition("daily:2024-01-01")
NOW = at(2024, 1, 10, 12)  # 2024-01-01 .. 2024-01-09 are complete


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2024-01-05", "2024-01-05", "2024-01-05"),
        ("2024-01-03..2024-01-05", "2024-01-03", "2024-01-05"),
        ("2024-01-05..2024-01-05", "2024-01-05", "2024-01-05"),
        ("2024-01-07..", "2024-01-07", "2024-01-09"),
        ("..2024-01-02", "2024-01-01", "2024-01-02"),
        ("..", "2024-01-01", "2024-01-09"),
    ],
)
def test_a_selection_is_inclusive_and_may_be_open(text: str, first: str, last: str) -> None:
    keys = parse_selection(DAILY, text, NOW)
    assert keys == expand(DAILY, [f"{first}..{last}"])
    assert (keys[0], keys[-1]) == (first, last)


def test_a_static_selection_follows_the_written_order() -> None:
    regions = parse_definition("static:us,eu,ap")
    assert parse_selection(regions, "us..eu") == ["us", "eu"]
    assert parse_selection(regions, "eu..") == ["eu", "ap"]
    assert parse_selection(regions, "..") == ["us", "eu", "ap"]
    with pytest.raises(InvalidArgument, match="is empty: ap comes after us. Did you mean us..ap?"):
        parse_selection(regions, "ap..us")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-01-05..2024-01-03", "partition range '2024-01-05..2024-01-03' is empty: 2024-01-05 "
                                   "comes after 2024-01-03. Did you mean 2024-01-03..2024-01-05?"),
        ("2024-01-04..2024-01-03", "is empty: 2024-01-04 comes after 2024-01-03."),
        ("2024-01-01..2024-01-02..2024-01-03", "partition selection '2024-01-01..2024-01-02..2024-01-03': "
                                                 "write KEY, FIRST..LAST, FIRST.. or ..LAST (inclusive)."),
        ("2024-01-01...2024-01-03", "'.2024-01-03' is not a partition key of daily:2024-01-01"),
        ("2024-01-05..2024-01-10", "partition 2024-01-10 of daily:2024-01-01 is not complete"),
        ("2024-01-10", "the latest complete is 2024-01-09"),
        ("2023-12-31..", "is before the first partition of daily:2024-01-01"),
        ("2024-01..2024-02", "'2024-01' is not a partition key of daily:2024-01-01"),
        ("", "partition selection '': write KEY, FIRST..LAST"),
        ("  ", "partition selection '  ': write KEY, FIRST..LAST"),
    ],
)  # fmt: skip
def test_a_bad_selection_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_selection(DAILY, text, NOW)
    assert message in str(info.value)


def test_an_open_selection_with_nothing_complete_says_so() -> None:
    for text in ("..", "2030-01-01..", "..2030-01-01"):
        with pytest.raises(InvalidArgument, match="is complete yet|not complete"):
            parse_selection(parse_definition("daily:2030-01-01"), text, NOW)


def test_compress_finds_the_maximal_runs() -> None:
    keys = ["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-05", "2024-02-01"]
    ranges = compress(DAILY, keys)
    assert ranges == [
        KeyRange("2024-01-01", "2024-01-03", 3),
        KeyRange("2024-01-05", "2024-01-05", 1),
        KeyRange("2024-02-01", "2024-02-01", 1),
    ]
    assert [str(r) for r in ranges] == ["2024-01-01..2024-01-03", "2024-01-05", "2024-02-01"]
    assert compress(DAILY, []) == []
    run = compress(DAILY, expand(DAILY, ["2024-01-01..2024-03-31"]))
    assert [str(r) for r in run] == ["2024-01-01..2024-03-31"] and run[0].count == 91
    months = parse_definition("monthly:2023-11")
    assert [str(r) for r in compress(months, ["2024-01", "2023-12", "2023-11"])] == [
        "2023-11..2024-01"
    ]
    with pytest.raises(InvalidArgument, match="not a partition of static:eu,us"):
        compress(parse_definition("static:eu,us"), ["eu", "fr"])


@given(definitions, st.data())
def test_compress_and_expand_are_inverse(
    definition: PartitionsDefinition, data: st.DataObject
) -> None:
    size = len(definition.values) if isinstance(definition, StaticPartitions) else 400
    offsets = data.draw(st.lists(st.integers(0, size - 1), max_size=60))
    base = definition.first if isinstance(definition, TimePartitions) else 0
    keys = [definition.key_at(base + o) for o in offsets]
    ranges = compress(definition, keys)
    indexes = sorted({base + o for o in offsets})
    assert expand(definition, ranges) == [definition.key_at(i) for i in indexes]
    assert expand(definition, [str(r) for r in ranges]) == expand(definition, ranges)
    assert sum(r.count for r in ranges) == len(indexes)
    bounds = [(definition.index(r.first), definition.index(r.last)) for r in ranges]
    assert all(hi + 1 < lo for (_, hi), (lo, _) in itertools.pairwise(bounds))  # maximal
    shuffled = keys * 2
    random.Random(len(keys)).shuffle(shuffled)
    assert compress(definition, shuffled) == ranges


def test_ten_years_of_days_compress_into_one_range() -> None:
    """(Its speed, 2 to 6 ms here, belongs to the plan benchmark, not to a timed test.)"""
    daily = parse_definition("daily:2015-01-01")
    ranges = compress(daily, daily.keys(at(2025, 1, 1)))
    assert [str(r) for r in ranges] == ["2015-01-01..2024-12-31"] and ranges[0].count == 3653


# -- mappings -----------------------------------------------------------------------------------


def days(first: str, last: str) -> tuple[str, ...]:
    return tuple(expand(DAILY, [f"{first}..{last}"]))


@pytest.mark.parametrize(
    ("down", "up", "kind", "key", "reads"),
    [
        ("daily:2024-01-01", "daily:2024-01-01", "same", "2024-01-05", ("2024-01-05",)),
        ("daily:2024-02-01", "daily:2024-01-01", "same", "2024-02-05", ("2024-02-05",)),
        ("monthly:2024-01", "daily:2024-01-01", "covered", "2024-02", days("2024-02-01", "2024-02-29")),
        ("monthly:2024-01", "daily:2024-01-01", "covered", "2023-12", None),
        ("daily:2024-01-01", "hourly:2024-01-01", "covered", "2024-03-31",
         tuple(f"2024-03-31T{h:02d}" for h in range(24))),
        ("daily:2024-01-01", "monthly:2024-01", "containing", "2024-02-29", ("2024-02",)),
        ("daily:2024-01-15", "monthly:2024-01", "containing", "2024-01-15", ("2024-01",)),
        ("hourly:2024-01-01", "daily:2024-01-01", "containing", "2024-01-01T23", ("2024-01-01",)),
        (None, "daily:2024-01-01", "all", None, ALL),
        (None, "static:eu,us", "all", None, ALL),
        ("daily:2024-01-01", None, "whole", "2024-01-05", ("",)),
        (None, None, "whole", None, ("",)),
        ("static:eu,us", "static:eu,us", "same", "us", ("us",)),
        ("static:us", "static:eu,us", "same", "us", ("us",)),
    ],
)  # fmt: skip
def test_the_partitions_a_partition_reads(
    down: str | None, up: str | None, kind: str, key: str | None, reads: object
) -> None:
    mapping = partition_mapping(
        parse_definition(down) if down else None, parse_definition(up) if up else None
    )
    assert mapping.kind == kind
    if reads is None:
        with pytest.raises(InvalidArgument, match="before the first partition"):
            mapping.upstream_keys(key)
    else:
        assert mapping.upstream_keys(key) == reads


def test_a_month_of_hours_is_read_whole() -> None:
    mapping = partition_mapping(
        parse_definition("monthly:2024-01"), parse_definition("hourly:2024-01-01")
    )
    hours = mapping.upstream_keys("2024-02")
    assert len(hours) == 29 * 24 and hours[0] == "2024-02-01T00" and hours[-1] == "2024-02-29T23"


@given(
    st.sampled_from([("daily", "hourly"), ("monthly", "daily"), ("monthly", "hourly")]),
    st.dates(date(1990, 1, 1), date(2100, 12, 1)),
    st.integers(1, 4),
)
def test_coarse_partitions_tile_the_fine_ones_and_contain_them(
    units: tuple[str, str], day: date, count: int
) -> None:
    coarse_unit, fine_unit = units
    start = day.replace(day=1).isoformat()
    coarse, fine = (
        parse_definition(f"{coarse_unit}:{start}"),
        parse_definition(f"{fine_unit}:{start}"),
    )
    assert isinstance(coarse, TimePartitions) and isinstance(fine, TimePartitions)
    reads, contains = partition_mapping(coarse, fine), partition_mapping(fine, coarse)
    coarse_keys = [coarse.key_at(coarse.first + i) for i in range(count)]
    read = [key for big in coarse_keys for key in reads.upstream_keys(big)]  # type: ignore[union-attr]
    assert read == expand(fine, [f"{read[0]}..{read[-1]}"])  # no gap, no overlap, in order
    assert read[0] == fine.key_at(fine.first)
    assert reads.upstream_keys(coarse_keys[-1])[-1] == read[-1]
    for big in coarse_keys:
        for small in reads.upstream_keys(big):  # type: ignore[union-attr]
            assert contains.upstream_keys(small) == (big,)


@pytest.mark.parametrize(
    ("down", "up", "message"),
    [
        ("daily:2024-01-01", "static:eu,us", "daily asset 'orders' cannot read static asset 'regions': "
         "static and time partitions do not match one to one. Give both the same kind of partitions, "
         "or read 'regions' from an unpartitioned asset (it reads every built partition)."),
        ("static:eu,us", "monthly:2024-01", "static asset 'orders' cannot read monthly asset 'regions'"),
        ("static:eu,fr,de", "static:eu,us", "static asset 'orders' cannot read static asset 'regions': "
         "'regions' has no partition fr, de. Give 'orders' only values of static:eu,us, or add them "
         "to 'regions'."),
        ("daily:2023-12-01", "daily:2024-01-01", "daily asset 'orders' cannot read daily asset 'regions': "
         "'orders' (daily:2023-12-01) starts before 'regions' (daily:2024-01-01), so its first "
         "partitions would lack their input. Start 'orders' at daily:2024-01-01 or later."),
        ("monthly:2024-01", "daily:2024-01-15", "Start 'orders' at monthly:2024-02 or later."),
        ("daily:2024-01-01", "monthly:2024-02", "Start 'orders' at daily:2024-02-01 or later."),
        ("daily:2024-01-01", "hourly:2024-01-01T05", "Start 'orders' at daily:2024-01-02 or later."),
    ],
)  # fmt: skip
def test_mappings_that_cannot_work_are_refused_at_definition(
    down: str, up: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        partition_mapping(parse_definition(down), parse_definition(up), names=("orders", "regions"))
    assert message in str(info.value)


# -- combined versions --------------------------------------------------------------------------

partition_versions = st.dictionaries(
    st.sampled_from(days("2024-01-01", "2024-03-31")),
    st.text("0123456789abcdef", min_size=32, max_size=32),
    min_size=1,
    max_size=40,
)


@given(partition_versions, st.randoms())
def test_a_combined_version_ignores_order(versions: dict[str, str], rnd: random.Random) -> None:
    items = list(versions.items())
    rnd.shuffle(items)
    combined = combined_version(versions)
    assert combined_version(dict(items)) == combined
    assert combined.count == len(versions)
    assert len(combined.version) == 32 and int(combined.version, 16) >= 0


@given(partition_versions, st.data())
def test_a_combined_version_changes_when_any_version_changes(
    versions: dict[str, str], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(versions)))
    changed = {**versions, key: "f" * 32 if versions[key] != "f" * 32 else "0" * 32}
    assert combined_version(changed).version != combined_version(versions).version
    fewer = {k: v for k, v in versions.items() if k != key}
    assert combined_version(fewer) != combined_version(versions)
    assert combined_version({**versions, "2024-04-01": "0" * 32}).count == len(versions) + 1


def test_a_combined_version_pairs_keys_with_their_versions() -> None:
    swapped = combined_version({"2024-01-01": "b" * 32, "2024-01-02": "a" * 32})
    assert swapped != combined_version({"2024-01-01": "a" * 32, "2024-01-02": "b" * 32})
    moved = combined_version({"2024-01-02": "a" * 32})
    assert moved.version != combined_version({"2024-01-01": "a" * 32}).version
    assert combined_version({}).count == 0
