"""How a notebook's ``%%test`` cells become pytest tests: ``<package>/tests/test_<module>.py``.

Each cell becomes ``def test_<asset>_<name>():`` whose first statement binds the asset's name
to :func:`~nbassets.testing.under_test` of the module that exports the asset, then the cell's
body as written (comments kept). In the kernel too the body runs as a function of that one
name, so a test passes and fails the same way in both.

A name the body reads is, in this order: a name the notebook's exported cells bind at module
level (their import statements are repeated, other names are imported from the notebook's
module), ``expect_frame_equal`` (``%load_ext nbassets`` gives it to a notebook), or a builtin.
It is refused when it is another asset (a test gives its inputs by hand, never stored data),
when only an unexported cell binds it, and when no cell binds it. The tested asset must be
defined by one of the notebooks exported together.

The module lists its tests in ``TESTS`` (:class:`~nbassets.runtime.ExportedTest`: asset,
name, function, the asset's code version, source), for the pytest plugin to record outcomes.
A notebook without ``%%test`` cells has no test module; a test module an earlier export
wrote for it (recognized by its header) is removed, and ``export --check`` reports it.
"""

from __future__ import annotations

import ast
import builtins
import io
import sys
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import codetext, pysyntax
from .definitions import AssetDefinition
from .errors import SpecError, did_you_mean
from .notebookfile import EXPORT_MARK, TEST, Cell
from .testcells import TestCell, define_test

FOLDER = "tests"  # the test modules' folder in the export package
_BUILTINS = frozenset(dir(builtins))
_PROVIDED = frozenset({"expect_frame_equal"})  # from nbassets.testing, as in a kernel
_OWN = frozenset({"ExportedTest", "TESTS", "under_test"})  # what a test module binds itself
_HEADER = ('"""Tests of ', ", exported by nbassets.")  # first line: start and end


@dataclass(frozen=True)
class NotebookModule:
    """What the exporter read of one notebook: what its test module is made from."""

    notebook: str  # relative to the project, as markers name it
    module: str  # its module in the export package (``shop`` for ``pipelines/shop.py``)
    cells: tuple[Cell, ...]
    exported: frozenset[str]  # names the exported cells bind at module level
    elsewhere: frozenset[str]  # names only unexported cells bind
    imports: tuple[str, ...]  # the exported cells' top-level import statements
    assets: tuple[AssetDefinition, ...]


@dataclass(frozen=True)
class _Owner:
    module: str  # the module that exports the asset
    definition: AssetDefinition


def test_files(
    folder: Path, package: str, modules: Sequence[NotebookModule]
) -> dict[Path, str | None]:
    """The test modules of ``modules`` (and ``tests/__init__.py``) by path; ``None`` for a
    test module an earlier export wrote for a notebook that has no test cell now."""
    owners: dict[str, _Owner] = {}
    for module in modules:
        for definition in module.assets:
            owners.setdefault(definition.key, _Owner(module.module, definition))
    assets = set(owners) | {dep for m in modules for d in m.assets for dep in d.deps}
    tests: dict[Path, str | None] = {}
    for module in modules:
        path = folder / FOLDER / f"test_{module.module}.py"
        text = _test_module(module, package, owners, assets)
        if text is not None or _generated(path):
            tests[path] = text
    if not any(text is not None for text in tests.values()):
        return tests
    return {folder / FOLDER / "__init__.py": _init_text(package), **tests}


def _test_module(
    module: NotebookModule, package: str, owners: Mapping[str, _Owner], assets: set[str]
) -> str | None:
    """The test module of one notebook (None when it has no ``%%test`` cell), compiled."""
    tests: list[tuple[TestCell, _Owner]] = []
    cells: dict[str, int] = {}  # function name -> cell number
    for index, cell in enumerate(module.cells):
        if cell.parsed.kind != TEST:
            continue
        codetext.refuse_unreadable(module.notebook, index, cell)
        test = _define(module.notebook, index, cell)
        if test.asset not in owners:
            raise SpecError(
                f"{codetext.shown(module.notebook)}, cell {index + 1}: %%test {test.asset} tests "
                f"an asset that no exported notebook defines.{did_you_mean(test.asset, owners)} "
                "Export the notebook that defines it together with this one."
            )
        if test.function_name in cells:
            raise SpecError(
                f"{codetext.shown(module.notebook)}: cells {cells[test.function_name]} and "
                f"{index + 1} both export as {test.function_name}(): give one of them another "
                "--name."
            )
        cells[test.function_name] = index + 1
        tests.append((test, owners[test.asset]))
    if not tests:
        return None
    names = _Names(module, package, assets, set(cells))
    for test, _ in tests:
        names.resolve(test, cells[test.function_name])
    aliases = names.aliases({owner.module for _, owner in tests}, {t.asset for t, _ in tests})
    parts = [
        f"# %% {codetext.shown(module.notebook)} :: {test.asset} test {test.name}\n"
        + _function(test, aliases[owner.module])
        for test, owner in tests
    ]
    entries = [_entry(test, owner, module.notebook) for test, owner in tests]
    return _render(module.notebook, names.import_block(aliases), parts, entries)


def _define(notebook: str, index: int, cell: Cell) -> TestCell:
    where = f"{codetext.shown(notebook)}, cell {index + 1}"
    body = cell.parsed.body
    try:
        statements = pysyntax.parse(body).body
    except SyntaxError as exc:
        row = (exc.lineno or 1) + cell.source.count("\n") - body.count("\n")
        raise SpecError(
            f"{where}, line {row}: the %%test cell's code is invalid: {exc.msg}."
        ) from exc
    if not statements:
        raise SpecError(
            f"{where}: the %%test cell is empty: make small inputs, call the asset on them "
            "and state what you expect (assert, expect_frame_equal)."
        )
    try:
        return define_test(cell.parsed.line, body)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from exc


# --- names ----------------------------------------------------------------------------------------


class _Names:
    """The names a module's tests read, checked, and the imports that bind them."""

    def __init__(self, module: NotebookModule, package: str, assets: set[str], functions: set[str]):
        self.module = module
        self.package = package
        self.assets = assets
        self.functions = functions
        self.bindings = _import_bindings(module.imports)
        self.testing: set[str] = {"under_test"}
        self.exported: set[str] = set()  # names imported from the notebook's module
        self.read: set[str] = set()  # every free name of every body

    def resolve(self, test: TestCell, cell: int) -> None:
        where = f"the test {test.name!r} of {test.asset!r} (cell {cell})"
        for name in sorted(test.analysis.free_names - {test.asset}):
            self.read.add(name)
            if name in self.assets:
                raise SpecError(
                    f"When exporting {where}, it reads asset {name!r} by name: a test runs "
                    f"{test.asset!r} on inputs made by hand in the cell, never on stored data. "
                    f"Build a small value in the cell and pass it: "
                    f"{test.asset}({name}=...) if {test.asset!r} reads it."
                )
            if name in self.module.exported:
                self.exported.add(name)
            elif name in _PROVIDED:
                self.testing.add(name)
            elif name in _BUILTINS:
                continue
            elif name in self.module.elsewhere:
                raise SpecError(
                    f"When exporting {where}, it uses name {name!r} that no exported cell "
                    "defines: tag the cell that defines it with 'export' (or start it with "
                    f"'{EXPORT_MARK}')."
                )
            else:
                raise SpecError(
                    f"When exporting {where}, it uses name {name!r} that no cell of "
                    f"{codetext.shown(self.module.notebook)} defines: define it in the test "
                    "cell, or in a cell tagged 'export'."
                )
            if name in _OWN - self.testing or name in self.functions:
                raise SpecError(
                    f"When exporting {where}, it uses name {name!r}, which the exported test "
                    "module defines itself: rename it in the notebook."
                )

    def aliases(self, modules: set[str], tested: set[str]) -> dict[str, str]:
        """Each tested module's name in the test module: its own, unless a test reads that."""
        taken = self.read | tested | self.functions | _OWN | self.exported | self.testing
        aliases = {}
        for module in sorted(modules):
            alias, n = module, 1
            while alias in taken:
                n += 1
                alias = f"{module}_module" if n == 2 else f"{module}_module_{n - 1}"
            taken.add(alias)
            aliases[module] = alias
        return aliases

    def import_block(self, aliases: Mapping[str, str]) -> str:
        statements: list[str] = []
        imported = set()
        for name in sorted(self.exported):
            if name in self.bindings:
                statements += [s for s in self.bindings[name] if s not in statements]
                imported.add(name)
        own = f"{self.package}.{self.module.module}"
        if self.exported - imported:
            statements.append(_from_import(own, self.exported - imported))
        statements.append(_from_import("nbassets.runtime", ["ExportedTest"]))
        statements.append(_from_import("nbassets.testing", self.testing))
        for module, alias in sorted(aliases.items()):
            as_ = "" if alias == module else f" as {alias}"
            statements.append(f"from {self.package} import {module}{as_}")
        return _sorted_imports(statements, self.package.split(".")[0])


def _import_bindings(imports: Iterable[str]) -> dict[str, list[str]]:
    """For each name the exported cells' absolute imports bind, the statements binding it."""
    bindings: dict[str, list[str]] = {}
    for statement in imports:
        for node in pysyntax.parse(statement).body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    bindings.setdefault(bound, []).append(f"import {_alias(alias)}")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    if alias.name != "*":
                        text = f"from {node.module} import {_alias(alias)}"
                        bindings.setdefault(alias.asname or alias.name, []).append(text)
    return bindings


def _alias(alias: ast.alias) -> str:
    return alias.name if alias.asname in (None, alias.name) else f"{alias.name} as {alias.asname}"


def _from_import(module: str, names: Iterable[str]) -> str:
    """``from module import a, b`` (names ordered as isort orders them), wrapped when long."""
    ordered = sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= 99:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in ordered) + ")"


def _sorted_imports(statements: list[str], first_party: str) -> str:
    """Imports as isort groups them: standard library, others, then the export package."""

    def module(statement: str) -> str:
        return statement.split()[1].split(".")[0]

    def order(statement: str) -> tuple[bool, str]:
        return statement.startswith("from "), statement.split()[1].lower()

    groups: tuple[list[str], list[str], list[str]] = ([], [], [])
    for statement in statements:
        name = module(statement)
        groups[0 if name in sys.stdlib_module_names else 2 if name == first_party else 1].append(
            statement
        )
    return "\n\n".join("\n".join(sorted(g, key=order)) for g in groups if g)


# --- text -----------------------------------------------------------------------------------------


def _function(test: TestCell, module_alias: str) -> str:
    bind = f"    {test.asset} = under_test({module_alias}, {codetext.literal(test.asset)})"
    body = _indent(test.body.strip("\n"))
    return f"def {test.function_name}():\n{bind}\n{body}\n"


def _indent(text: str) -> str:
    """Indent by four spaces, except lines inside a multi-line string (whose value must stay);
    lines of whitespace alone become empty."""
    inside: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in (tokenize.NEWLINE, tokenize.NL) and token.end[0] > token.start[0]:
            inside.update(range(token.start[0] + 1, token.end[0] + 1))
    return "\n".join(
        line if number in inside else "    " + line if line.strip() else ""
        for number, line in enumerate(text.split("\n"), start=1)
    )


def _entry(test: TestCell, owner: _Owner, notebook: str) -> str:
    fields = [
        f"asset={codetext.literal(test.asset)}",
        f"name={codetext.literal(test.name)}",
        f"function={test.function_name}",
        f"code_version={codetext.literal(owner.definition.code_version)}",
        f"test_version={codetext.literal(test.version)}",
        f"source={codetext.literal(test.source(notebook))}",
    ]
    inner = "".join(f"        {field},\n" for field in fields)
    return f"    ExportedTest(\n{inner}    ),"


def _render(notebook: str, imports: str, parts: list[str], entries: list[str]) -> str:
    header = (
        f"{_HEADER[0]}{codetext.shown(notebook)}{_HEADER[1]}\n\n"
        "Generated by `nbassets export` from the notebook's %%test cells: edit the notebook, not\n"
        "this file, and export again (`nbassets export --check` says when it is out of date).\n"
        '"""\n'
    )
    tests = "TESTS = (\n" + "\n".join(entries) + "\n)\n"
    text = header + "\n" + imports + "\n\n\n" + "\n\n".join([*parts, tests])
    codetext.validate(text, notebook)
    return text


def _init_text(package: str) -> str:
    return f'"""Tests exported from notebooks by nbassets (package {package!r})."""\n'


def _generated(path: Path) -> bool:
    """Whether ``path`` is a test module nbassets wrote (a hand-written one is never touched)."""
    try:
        with path.open(encoding="utf-8") as file:
            first = file.readline().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith(_HEADER[0]) and first.endswith(_HEADER[1])
