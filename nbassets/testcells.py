"""``%%test`` cells: their grammar, their names, and the function a test body becomes.

``%%test NAME [--name TEST]`` declares a unit test of asset NAME. Its body makes small inputs by
hand and calls ``NAME(upstream=...)`` (an :class:`~nbassets.testing.AssetUnderTest`), then states
expectations with ``assert`` or :func:`~nbassets.testing.expect_frame_equal`. A test without
``--name`` is named after its code (``test_<6 hex digits>`` of the normalized body, as unnamed
checks are), so re-running an unchanged cell updates the same test's result.

The body runs as a function whose one parameter is NAME, in the kernel and in the exported
pytest test alike, so the asset's value in the notebook is never shadowed and temporaries
do not leak.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import re
import shlex
from dataclasses import dataclass

from . import pysyntax
from .errors import SpecError
from .source import CellAnalysis, analyze_check_body
from .spec import MagicLineParser, validate_key

_TEST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def unit_test_parser() -> argparse.ArgumentParser:
    """The ``%%test`` line's grammar; its help is the magic's help."""
    parser = MagicLineParser(
        prog="%%test",
        description="A unit test of asset NAME on inputs made by hand: inside the cell, "
        "NAME(upstream=...) runs the asset's current code on exactly those inputs (never on "
        "stored data). A failing test shows its result and raises, so Run All stops.",
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument("name", help="the asset this cell tests")
    parser.add_argument("--name", dest="test_name", metavar="TEST", help="the test's name")
    return parser


_PARSER = unit_test_parser()


@dataclass(frozen=True)
class TestLine:
    """What a ``%%test`` line says: the asset tested and the test's name, if given."""

    __test__ = False  # not a pytest test class

    asset: str
    name: str | None


@dataclass(frozen=True)
class TestCell:
    """A ``%%test NAME`` cell: the asset it tests, its name and its body."""

    __test__ = False  # not a pytest test class

    asset: str
    name: str
    body: str
    analysis: CellAnalysis

    @functools.cached_property
    def version(self) -> str:
        """The test's own code version (its normalized body): a result counts for this code only."""
        return _version(self.analysis)

    def source(self, notebook: str) -> str:
        """Where its results come from: ``notebooks/x.ipynb :: orders :: drops_refunds`` (the
        kernel and the exported test record the same, the panel matches on it)."""
        return f"{notebook} :: {self.asset} :: {self.name}"

    @property
    def function_name(self) -> str:
        """The exported pytest function: ``test_<asset>_<name>`` (one ``test_`` prefix)."""
        return f"test_{self.asset}_{self.name.removeprefix('test_')}"


def parse_test_line(line: str) -> TestLine:
    """Parse the text after ``%%test``; the asset must be a valid key, the name an identifier."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise SpecError(f"%%test {line.strip()}: {exc} (check the quotes).") from exc
    if not words:
        raise SpecError("%%test needs the asset it tests: %%test NAME [--name TEST]")
    args = _PARSER.parse_args(words)
    name = args.test_name
    if name is not None and not _TEST_NAME.match(name):
        raise SpecError(
            f"%%test --name {name!r}: a test's name is a Python identifier of at most 64 "
            "characters (letters, digits, _; not starting with a digit), such as "
            "'drops_cancelled'; it names the exported pytest function."
        )
    return TestLine(validate_key(args.name), name)


@functools.lru_cache(maxsize=1024)  # the panel asks for every test cell on each refresh
def define_test(line: str, body: str) -> TestCell:
    """Parse a ``%%test`` cell (the asset it names must exist: the caller checks, as it knows
    which assets there are)."""
    parsed = parse_test_line(line)
    what = f"%%test {parsed.asset}" + (f" --name {parsed.name}" if parsed.name else "")
    try:
        tree = pysyntax.parse(body, filename="<test>")
    except SyntaxError as exc:
        raise SpecError(f"{what} has a syntax error on line {exc.lineno}: {exc.msg}.") from exc
    if not tree.body:
        raise SpecError(
            f"{what} is empty: make small inputs by hand, call {parsed.asset}(upstream=...) on "
            "them and state what you expect with assert or expect_frame_equal(result, expected)."
        )
    analysis = analyze_check_body(parsed.asset, body)
    return TestCell(parsed.asset, parsed.name or f"test_{_version(analysis)[:6]}", body, analysis)


def _version(analysis: CellAnalysis) -> str:
    return hashlib.sha256(analysis.normalized.encode()).hexdigest()[:16]
