"""What an ``%%asset`` declaration says: a validated key and its options."""

from __future__ import annotations

import argparse
import difflib
import keyword
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .checks.rules import Rule, parse_rule, valid_rules
from .errors import InvalidArgument, InvalidAssetKey, SpecError
from .freshness import Freshness, parse_fresh
from .partitions import RESERVED_KEY, PartitionsDefinition, parse_definition

_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,63}\Z")
IO_FORMATS = ("parquet", "pickle", "json")

#: Options of the DESIGN syntax that a later release builds; using one says so.
NOT_YET_AVAILABLE: dict[str, str] = {}


@dataclass(frozen=True)
class AssetSpec:
    """A validated asset declaration (everything on the ``%%asset`` line)."""

    key: str
    io: str | None = None
    deps: tuple[str, ...] = ()
    key_columns: tuple[str, ...] = ()
    description: str | None = None
    preview: bool = True
    checks: tuple[Rule, ...] = ()
    sql: bool = False
    partitions: PartitionsDefinition | None = None  # --partition, parsed
    partition_key: str | None = None  # --partition-key: the partition a notebook run builds
    fresh: Freshness | None = None  # --fresh: not an output option (it changes no data)

    def output_options(self) -> dict[str, str]:
        """The options that change the stored output, hashed into the code version."""
        options = {"io": self.io} if self.io else {}
        if self.sql:
            options["sql"] = "duckdb"
        if self.partitions is not None:  # another definition makes other partitions
            options["partition"] = str(self.partitions)
        return options


def validate_key(name: str) -> str:
    """Return ``name`` if it is a valid asset key, else raise a message showing a valid one."""
    if name == RESERVED_KEY:
        raise InvalidAssetKey(
            f"{name!r} is reserved: a partitioned asset's cell sees its partition under that "
            f"name, so no asset may take it. Try {name + 's'!r} or a more specific name."
        )
    if _KEY.match(name) and not keyword.iskeyword(name):
        return name
    suggestion = suggest_key(name)
    if keyword.iskeyword(name):
        why = "it is a Python keyword"
    elif len(name) > 64:
        why = f"it is {len(name)} characters long (at most 64)"
    elif not name:
        why = "it is empty"
    else:
        why = "keys use lowercase letters, digits and '_' and do not start with a digit"
    raise InvalidAssetKey(f"{name!r} is not a valid asset key: {why}. Try {suggestion!r}.")


def suggest_key(name: str) -> str:
    """A valid asset key that resembles ``name``."""
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "asset"
    if slug[0].isdigit():
        slug = f"_{slug}"
    slug = slug[:64]
    return f"{slug}_"[:64] if keyword.iskeyword(slug) or slug == name else slug


def split_list(values: list[str] | None) -> tuple[str, ...]:
    """``["a,b", "c"]`` -> ``("a", "b", "c")``; empty items are dropped."""
    items: list[str] = []
    for value in values or []:
        items.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(items))


def build_spec(
    key: str,
    *,
    io: str | None = None,
    deps: list[str] | None = None,
    key_columns: list[str] | None = None,
    description: str | None = None,
    preview: bool = True,
    check: list[str] | None = None,
    sql: bool = False,
    partition: str | None = None,
    partition_key: str | None = None,
    fresh: str | None = None,
    **later: object,
) -> AssetSpec:
    """Validate the parts of an ``%%asset`` line into an :class:`AssetSpec`."""
    for option, value in later.items():
        if option not in NOT_YET_AVAILABLE:
            raise SpecError(f"unknown %%asset option {option!r}.")
        if value not in (None, False, [], ()):
            raise SpecError(
                f"--{option.replace('_', '-')} is not available yet: "
                f"{NOT_YET_AVAILABLE[option]}, in a later nbassets release."
            )
    validate_key(key)
    if io is not None and io not in IO_FORMATS:
        raise SpecError(
            f"--io {io!r} is not a storage format; use one of {', '.join(IO_FORMATS)} "
            "(or leave it out to choose by the value's type)."
        )
    dep_keys = split_list(deps)
    for dep in dep_keys:
        validate_key(dep)
    if key in dep_keys:
        raise SpecError(f"asset {key!r} lists itself in --deps; an asset cannot read itself.")
    if sql and io not in (None, "parquet"):
        raise SpecError(f"--sql assets are tables stored as Parquet; drop --io {io}.")
    partitions = parse_definition(partition) if partition is not None else None
    if partition_key is not None:
        if partitions is None:
            raise SpecError(
                f"--partition-key {partition_key!r} picks a partition of a partitioned asset; "
                "give the asset --partition too (e.g. --partition daily:2024-01-01)."
            )
        try:
            partitions.partition(partition_key)  # a key of the definition
        except InvalidArgument as exc:
            raise SpecError(f"--partition-key {partition_key!r}: {exc}") from None
    try:
        freshness = None if fresh is None else parse_fresh(fresh)
    except InvalidArgument as exc:
        raise SpecError(str(exc)) from None
    return AssetSpec(
        key=key,
        io=io,
        deps=dep_keys,
        key_columns=split_list(key_columns),
        description=description,
        preview=preview,
        checks=tuple(parse_rule(text) for text in check or []),
        sql=sql,
        partitions=partitions,
        partition_key=partition_key,
        fresh=freshness,
    )


class MagicLineParser(argparse.ArgumentParser):
    """An argparse parser for a magic's line that raises ``SpecError`` instead of exiting.

    Its errors name the nearest option of a misspelled one and show the usage once; options
    hidden from the usage (``help=argparse.SUPPRESS``: the ones a later release builds) are
    never suggested.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(line_error(self, message))

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Parse ``args``; a ``--opt=--`` (whose value argparse silently drops) is refused."""
        words = [str(word) for word in args or ()]
        for word in words:
            option, equals, value = word.partition("=")
            if option.startswith("--") and equals and value == "--":
                raise SpecError(
                    f"{self.prog} {option}=--: '--' cannot be an option's value (it ends a "
                    f"magic line's options); give {option} a value with other characters."
                )
        parsed, extras = self.parse_known_args(words, namespace)
        if extras:
            raise SpecError(line_error(self, f"unrecognized arguments: {' '.join(extras)}", extras))
        return parsed

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise SpecError(message or f"Usage: {usage_line(self)}")


def usage_line(parser: argparse.ArgumentParser) -> str:
    """The parser's usage on one line, without argparse's ``usage:`` (nor IPython's ``::``)."""
    return " ".join(parser.format_usage().split()).removeprefix("usage: ").removeprefix(":: ")


def nearest_option(parser: argparse.ArgumentParser, words: Iterable[str]) -> str:
    """`` Did you mean --check?`` for the first word of ``words`` that is not one of the
    parser's shown options but is close to one; else ``""``."""
    actions = parser._actions  # argparse keeps no public list of its options
    every = [option for action in actions for option in action.option_strings]
    shown = {o for a in actions if a.help != argparse.SUPPRESS for o in a.option_strings}
    for word in words:
        option = word.partition("=")[0]
        if option.startswith("-") and option not in every:
            close = difflib.get_close_matches(option, every, n=1, cutoff=0.6)
            return f" Did you mean {close[0]}?" if close and close[0] in shown else ""
    return ""


def line_error(
    parser: argparse.ArgumentParser, message: str, words: Iterable[str] = (), prog: str = ""
) -> str:
    """``%%asset: <what is wrong>. Did you mean --x? Usage: <usage>``, on one line."""
    hint = nearest_option(parser, words)
    return f"{prog or parser.prog}: {message}.{hint} Usage: {usage_line(parser)}"


def asset_parser() -> argparse.ArgumentParser:
    """The ``%%asset`` line's grammar; its help is the magic's help."""
    parser = MagicLineParser(
        prog="%%asset",
        description="Declare the asset NAME: the cell body computes its value (the last "
        "expression, or the final assignment to NAME); running it builds the asset into "
        "your dev sandbox with full provenance.",
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument("name", help="asset key: [a-z_][a-z0-9_]{0,63}, not a Python keyword")
    parser.add_argument(
        "--io",
        choices=IO_FORMATS,
        help="storage format (default: parquet for DataFrames and Arrow tables, pickle otherwise)",
    )
    parser.add_argument(
        "--deps",
        action="append",
        metavar="A,B",
        help="upstream assets besides the ones the code names",
    )
    parser.add_argument(
        "--key",
        action="append",
        dest="key_columns",
        metavar="COLS",
        help="columns that identify a row (used by diffs)",
    )
    parser.add_argument("--desc", dest="description", metavar="TEXT", help="a description")
    parser.add_argument(
        "--no-preview",
        dest="preview",
        action="store_false",
        help="do not display a preview after the build",
    )
    parser.add_argument(
        "--check",
        action="append",
        metavar="RULE",
        help="a data check run after every build, e.g. 'not_null(\"id\")'; "
        "repeatable; rules: " + valid_rules(),
    )
    parser.add_argument(
        "--sql", action="store_true", help="the body is DuckDB SQL over upstream assets as tables"
    )
    parser.add_argument(
        "--partition",
        metavar="DEFINITION",
        help="build the asset by partition: daily:2024-01-01, monthly:2024-01, "
        "hourly:2024-01-01T00 or static:a,b; the cell sees `partition`",
    )
    parser.add_argument(
        "--partition-key",
        dest="partition_key",
        metavar="KEY",
        help="the partition a notebook run builds (default: the latest complete one)",
    )
    parser.add_argument(
        "--fresh",
        metavar="'max_age=DURATION'",
        help="how old its data may get (s, m, h or d, e.g. 'max_age=1d'): older is late "
        "in `nbassets status` and `nbassets check`",
    )
    return parser


_PARSER = asset_parser()


def join_continued_lines(line: str, body: str) -> tuple[str, str]:
    """A magic line may continue on the next lines after a trailing backslash.

    Returns the whole line and the body, with a blank line left for each line
    taken, so line numbers in tracebacks still match the cell.
    """
    lines = body.split("\n")
    taken = 0
    while line.rstrip().endswith("\\") and taken < len(lines):
        line = line.rstrip()[:-1] + " " + lines[taken].strip()
        taken += 1
    return line, "\n" * taken + "\n".join(lines[taken:])


def parse_asset_line(line: str) -> AssetSpec:
    """Parse the text after ``%%asset`` into a validated :class:`AssetSpec`."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise SpecError(f"%%asset {line.strip()}: {exc} (check the quotes).") from exc
    if not words:
        raise SpecError("%%asset needs a name: %%asset NAME [options], e.g. %%asset orders")
    args = _PARSER.parse_args(words)
    return build_spec(args.name, **{k: v for k, v in vars(args).items() if k != "name"})
