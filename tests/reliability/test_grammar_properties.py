"""Properties of the three grammars a user types (issue 10, the suite), with Hypothesis.

- The magic-line grammar (``spec.MagicLineParser``: ``%%asset`` and ``%%check`` lines, and the
  line magics' ``@magic_arguments`` grammar through ``magics._arguments``), split as a POSIX
  shell splits: a line built from random valid parts with ``shlex.quote`` parses back to exactly
  those parts; any text at all raises nothing but the documented usage error (``SpecError``,
  ``UsageError`` in a line magic).
- The rule grammar (``--check`` rules, ``checks.rules.parse_rule``): a rule written from random
  valid parts parses back to them (and ``parse_rule(rule.text) == rule``); any text raises only
  ``SpecError``; code in a rule is refused, never evaluated (a payload that would create a file
  never does).
- The selection syntax (``KEY``, ``KEY+``, ``+KEY``, ``+KEY+``, ``*``; ``graph.AssetGraph.select``,
  used by ``%materialize``, ``nbassets materialize --select`` and ``check --select``): on random
  DAGs, ``+KEY`` is the key's ancestors and itself, ``KEY+`` its descendants and itself, ``*``
  every asset, always in build order; a name no asset has is a ``DependencyError`` naming the
  syntax.
"""

from __future__ import annotations

import keyword
import shlex
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from nbassets.checks.cells import CheckLine, parse_check_line
from nbassets.checks.rules import VOCABULARY, Rule, parse_rule
from nbassets.errors import DependencyError, SpecError
from nbassets.graph import AssetGraph
from nbassets.magics import AssetMagics, _arguments
from nbassets.spec import IO_FORMATS, AssetSpec, parse_asset_line
from nbassets.store.results import SEVERITIES

SETTINGS = settings(max_examples=200, deadline=None)

keys = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda k: not keyword.iskeyword(k)
)
# any text but NUL (no shell word holds one); Hypothesis leaves surrogates out
words = st.text(st.characters(exclude_characters="\x00"), max_size=20)
values = words.filter(lambda v: v != "--")  # '--opt=--' is refused, as documented
columns = st.text(st.characters(exclude_characters="\x00,"), min_size=1, max_size=12).filter(
    lambda c: c == c.strip() and c != ""
)


def option(name: str, value: str) -> str:
    """``--name value`` as a shell word pair, or ``--name=value`` when the value looks like an
    option (argparse would take it for one)."""
    if value.startswith("-"):
        return shlex.quote(f"{name}={value}")
    return f"{name} {shlex.quote(value)}"


# --- the rule grammar -------------------------------------------------------------------------

# literals a rule's arguments may be (no NaN or infinity: they have no literal spelling)
scalars = (
    st.text(max_size=10)
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
names = st.text(max_size=10)
ages = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 999), st.sampled_from("smhdw"))


@st.composite
def rule_parts(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], dict[str, Any], str]:
    """A valid rule: (function, positional arguments, keyword arguments, severity)."""
    function = draw(st.sampled_from(sorted(VOCABULARY)))
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if function in ("not_null", "unique"):
        args = tuple(draw(st.lists(names, min_size=1, max_size=3)))
    elif function == "accepted_values":
        args = (draw(names), draw(st.lists(scalars, max_size=4)))
    elif function == "row_count":
        kwargs = draw(
            st.fixed_dictionaries({}, optional={"min": st.integers(0, 10**6),
                                                "max": st.none() | st.integers(0, 10**6)})
        )  # fmt: skip
    elif function == "between":
        number = st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
        args = (draw(names), draw(number), draw(number))
    elif function == "schema":
        identifier = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
            lambda k: not keyword.iskeyword(k) and k != "severity"
        )
        kwargs = draw(st.dictionaries(identifier, st.sampled_from(["int64", "string"]), min_size=1))
    elif function == "fresh":
        args = (draw(names),)
        kwargs = draw(st.fixed_dictionaries({}, optional={"max_age": ages}))
    elif function == "volume":
        kwargs = draw(
            st.fixed_dictionaries({}, optional={"tolerance": st.floats(0, 10) | st.integers(0, 10),
                                                "window": st.integers(3, 1000)})
        )  # fmt: skip
    else:  # relationship
        args = (draw(names), draw(keys), draw(names))
    # a parameter given positionally may be given by keyword instead
    positional = VOCABULARY[function][0]
    if args and not positional[0].startswith("*") and draw(st.booleans()):
        cut = draw(st.integers(0, len(args) - 1))
        kwargs |= dict(zip(positional[cut:], args[cut:], strict=False))
        args = args[:cut]
    return function, args, kwargs, draw(st.sampled_from(SEVERITIES))


def spaced(draw: st.DrawFn, parts: list[str]) -> str:
    """``parts`` joined by commas, with random (Python-insignificant) spaces around them."""
    space = st.sampled_from(["", " ", "  ", "\t"])
    return ",".join(f"{draw(space)}{part}{draw(space)}" for part in parts)


@st.composite
def rules(draw: st.DrawFn) -> tuple[str, Rule]:
    """Rule text as a user might type it, and the rule it must parse to."""
    function, args, kwargs, severity = draw(rule_parts())
    given = dict(kwargs)
    if severity != "error" or draw(st.booleans()):
        given["severity"] = severity
    order = draw(st.permutations(list(given)))
    parts = [repr(a) for a in args] + [f"{k}={given[k]!r}" for k in order]
    text = f"{function}({spaced(draw, parts)})"
    return text, Rule(function, args, tuple(sorted(kwargs.items())), severity)


@SETTINGS
@given(rules())
def test_a_valid_rule_parses_to_its_parts(rule: tuple[str, Rule]) -> None:
    text, expected = rule
    parsed = parse_rule(text)
    assert parsed == expected
    assert parse_rule(parsed.text) == parsed  # the canonical text round-trips too
    assert parse_rule(f"  {text}  ") == parsed


@SETTINGS
@given(st.text(max_size=60))
def test_any_text_is_a_rule_or_a_spec_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except SpecError as exc:
        assert str(exc).startswith(f"--check {text!r} is not a valid rule: ")
    else:
        assert rule.function in VOCABULARY and rule.severity in SEVERITIES


# pieces of code a hostile rule may hold; each one, were it run, would create the file P
PAYLOADS = [
    "__import__('pathlib').Path(P).touch()",
    "open(P, 'w')",
    "exec(\"open(P, 'w')\")",
    "eval(\"open(P, 'w')\")",
    "(lambda: open(P, 'w'))()",
    "[open(P, 'w') for _ in 'x']",
    "f\"{open(P, 'w')}\"",
    "(x := open(P, 'w'))",
    "breakpoint() or open(P, 'w')",
    "().__class__.__base__.__subclasses__()",
    "globals()['__builtins__']['open'](P, 'w')",
]


@SETTINGS
@given(
    st.sampled_from([*sorted(VOCABULARY), "__import__", "open", "exec", "eval"]),
    st.sampled_from(PAYLOADS),
    st.sampled_from(["{}", "'col', {}", "{}, 'col'", "severity={}", "col={}", "*{}", "**{}"]),
    st.sampled_from(["{}", "{}.x", "{}[0]", "{}()", "({})"]),
)
def test_code_in_a_rule_is_refused_never_run(
    function: str, payload: str, place: str, wrap: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "ran"
        code = payload.replace("P", repr(str(target)))
        text = wrap.format(f"{function}({place.format(code)})")
        with pytest.raises(SpecError):
            parse_rule(text)
        assert not target.exists(), text


# --- the magic-line grammar -------------------------------------------------------------------


@st.composite
def asset_lines(draw: st.DrawFn) -> tuple[str, AssetSpec]:
    """An ``%%asset`` line built from random valid parts, and the spec it must parse to."""
    key = draw(keys)
    sql = draw(st.booleans())
    io = draw(st.sampled_from([None, "parquet"] if sql else [None, *IO_FORMATS]))
    description = draw(st.none() | values)
    preview = draw(st.booleans())
    dep_groups = st.lists(keys.filter(lambda d: d != key), min_size=1, max_size=3)
    options: list[tuple[str, Any]] = []  # (option, what it adds to the spec)
    options += [("--deps", group) for group in draw(st.lists(dep_groups, max_size=3))]
    column_groups = st.lists(columns, min_size=1, max_size=3)
    options += [("--key", group) for group in draw(st.lists(column_groups, max_size=2))]
    options += [("--check", rule) for rule in draw(st.lists(rules(), max_size=2))]
    options += [("--io", io)] if io is not None else []
    options += [("--desc", description)] if description is not None else []
    options += [("--no-preview", None)] if not preview else []
    options += [("--sql", None)] if sql else []
    order = draw(st.permutations(options))  # repeated options keep their order: the line's
    words = []
    for name, value in order:
        if name in ("--deps", "--key"):
            words.append(option(name, ",".join(value)))
        elif name == "--check":
            words.append(option(name, value[0]))
        else:
            words.append(name if value is None else option(name, value))
    position = draw(st.integers(0, len(words)))  # the name may come among the options
    line = " ".join([*words[:position], shlex.quote(key), *words[position:]])
    added = {name: [v for n, v in order if n == name] for name in ("--deps", "--key", "--check")}
    expected = AssetSpec(
        key=key,
        io=io,
        deps=tuple(dict.fromkeys(d for group in added["--deps"] for d in group)),
        key_columns=tuple(dict.fromkeys(c for group in added["--key"] for c in group)),
        description=description,
        preview=preview,
        checks=tuple(rule for _, rule in added["--check"]),
        sql=sql,
    )
    return line, expected


@SETTINGS
@given(asset_lines())
def test_a_valid_asset_line_parses_to_its_parts(line_and_spec: tuple[str, AssetSpec]) -> None:
    line, expected = line_and_spec
    assert parse_asset_line(line) == expected


@SETTINGS
@given(keys, st.none() | values, st.none() | st.sampled_from(SEVERITIES), st.booleans())
def test_a_valid_check_line_parses_to_its_parts(
    asset: str, name: str | None, severity: str | None, name_first: bool
) -> None:
    options = [option("--name", name)] if name is not None else []
    options += [option("--severity", severity)] if severity is not None else []
    parts = [*options, shlex.quote(asset)] if name_first else [shlex.quote(asset), *options]
    assert parse_check_line(" ".join(parts)) == CheckLine(asset, name, severity or "error")


@SETTINGS
@given(keys, st.none() | keys, st.lists(columns, max_size=3))
def test_a_valid_diff_line_parses_to_its_parts(
    name: str, against: str | None, key_columns: list[str]
) -> None:
    parts = [shlex.quote(name)] + [option("--key", c) for c in key_columns]
    parts += [option("--against", against)] if against is not None else []
    parsed = _arguments(AssetMagics.diff, " ".join(parts))
    assert (parsed.name, parsed.against, parsed.key) == (
        name,
        against or "prod",
        key_columns or None,
    )


# text a magic line might hold: mostly option-like words, quotes and backslashes, and anything
line_text = st.lists(
    st.sampled_from(["--io", "--deps", "--key", "--desc", "--check", "--sql", "--no-preview",
                     "--name", "--severity", "--", "-", "'", '"', "\\", "=", "a", "b,c", "json",
                     "warn", "not_null('x')", " "])
    | st.text(max_size=8),
    max_size=8,
).map(" ".join)  # fmt: skip


@SETTINGS
@given(line_text)
def test_any_asset_or_check_line_is_parsed_or_a_spec_error(line: str) -> None:
    for parse in (parse_asset_line, parse_check_line):
        with suppress(SpecError):
            parse(line)


@SETTINGS
@given(line_text)
def test_any_line_magic_line_is_parsed_or_a_usage_error(line: str) -> None:
    for magic in (AssetMagics.diff, AssetMagics.lineage):
        with suppress(UsageError):
            _arguments(magic, line)


# --- the selection syntax ---------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG as ``{key: upstream keys}`` in a random definition order; some upstream
    keys are defined nowhere (the graph keeps them as leaves)."""
    ranked = draw(st.lists(keys, min_size=1, max_size=12, unique=True))
    leaves = draw(st.lists(keys.filter(lambda k: k not in ranked), max_size=2, unique=True))
    deps: dict[str, list[str]] = {}
    for rank, key in enumerate(ranked):  # upstream only among keys ranked before: acyclic
        earlier = ranked[:rank] + leaves
        deps[key] = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
    order = draw(st.permutations(ranked))
    return {key: deps[key] for key in order}


def closure(key: str, edges: Mapping[str, list[str]]) -> set[str]:
    """Every key reachable from ``key`` along ``edges`` (a reference, not the graph's own)."""
    found: set[str] = set()
    todo = list(edges.get(key, []))
    while todo:
        node = todo.pop()
        if node not in found:
            found.add(node)
            todo += edges.get(node, [])
    return found


def in_build_order(selected: list[str], deps: Mapping[str, list[str]]) -> bool:
    position = {key: index for index, key in enumerate(selected)}
    return all(
        position[up] < position[key]
        for key in selected
        for up in deps.get(key, [])
        if up in position
    )


@SETTINGS
@given(dags(), st.data())
def test_selections_pick_ancestors_descendants_or_everything(
    deps: dict[str, list[str]], data: st.DataObject
) -> None:
    graph = AssetGraph(deps)
    every = set(deps) | {up for ups in deps.values() for up in ups}
    downstream: dict[str, list[str]] = {key: [] for key in every}
    for key, ups in deps.items():
        for up in ups:
            downstream[up].append(key)
    key = data.draw(st.sampled_from(sorted(every)))
    space = data.draw(st.sampled_from(["", " ", "\t"]))
    ancestors, descendants = closure(key, deps), closure(key, downstream)

    assert graph.select(f"{space}{key}{space}") == [key]
    assert set(graph.select(f"+{key}")) == ancestors | {key}
    assert set(graph.select(f"{key}+{space}")) == descendants | {key}
    assert set(graph.select(f"+{key}+")) == ancestors | descendants | {key}
    assert set(graph.select(f"{space}*")) == every
    for selection in (f"+{key}", f"{key}+", f"+{key}+", "*"):
        chosen = graph.select(selection)
        assert len(chosen) == len(set(chosen)) and in_build_order(chosen, deps), selection


@SETTINGS
@given(dags(), st.text(max_size=12))
def test_a_selection_of_no_asset_is_a_dependency_error(
    deps: dict[str, list[str]], text: str
) -> None:
    graph = AssetGraph(deps)
    every = set(deps) | {up for ups in deps.values() for up in ups}
    name = text.strip().strip("+")
    assume(text.strip() != "*")
    try:
        chosen = graph.select(text)
    except DependencyError as exc:
        assert name not in every
        assert f"asset {name!r} is not defined here" in str(exc)
        assert "Selections are KEY, KEY+ (and downstream), +KEY (and upstream) or *" in str(exc)
    else:
        assert name in every and name in chosen
