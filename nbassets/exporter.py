"""How a notebook becomes a module: its asset, check and exported cells, written as plain Python.

The module depends on code alone (never on outputs, execution counts, cell ids or any store),
so exporting twice, or after nbstripout, gives the same bytes. Cells are named by their asset
key (``# %% notebooks/x.ipynb :: orders``). ``%%test`` cells become ``<package>/tests/
test_<module>.py`` (:mod:`nbassets.export_tests`). A name an asset reads is, in this order: a
parameter (an asset of the notebook, or one it reads from a store; ``partition``, the last
parameter of a partitioned asset), a module-level name of an exported cell, or a builtin; a
name that only an unexported cell defines is an error.

Notebook text becomes code only once validated (keys; check function names from ASCII
letters, digits and ``_``), else only as a literal with ``repr()``'s escapes (``_str``); in a
comment or the docstring it is shown as is if printable and free of ``\\`` and ``"``, else as
that literal (``_shown``). A line break but ``\\n`` or a lone surrogate in a Python cell's
code is refused: Python, editors and reviewers would not agree on where its lines end.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import functools
import io
import os
import re
import stat
import sys
import tempfile
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import codetext, export_tests, pysyntax
from .checks.cells import define_check
from .config import Project
from .definitions import AssetDefinition, check_acyclic, define
from .errors import SpecError
from .notebookfile import ASSET, CHECK, EXPORT, EXPORT_MARK, Cell, read_cells
from .partitions import EXAMPLES, RESERVED_KEY, partition_mapping
from .source import FreeNames
from .spec import parse_asset_line

_BUILTINS = frozenset(dir(builtins))
_NOT_AN_IDENTIFIER = re.compile(r"[^0-9a-zA-Z_]+")
_NO_PARTITION = f"it reads {RESERVED_KEY!r}, which only a partitioned asset cell gets (no asset)."
_ADD_PARTITION = f"Add --partition to its line (e.g. --partition {EXAMPLES['daily']})."


@dataclass(frozen=True)
class ExportResult:
    """What ``export_notebooks`` did: files written, up to date, removed, or (``check``) stale."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    stale: dict[Path, str] = field(default_factory=dict)  # path -> unified diff
    removed: list[Path] = field(default_factory=list)  # test modules of notebooks without tests


@dataclass(frozen=True)
class _Part:
    """One piece of the module: exported code, an asset function or a check function."""

    marker: str
    code: str


def export_notebooks(
    project: Project, notebooks: Iterable[Path], package: str | None = None, check: bool = False
) -> ExportResult:
    """Write (or, with ``check``, compare) ``<package>/<stem>.py`` for each notebook."""
    package = package or project.config.export_package
    folder = project.package_folder(package)  # a dotted name, inside the project
    files: dict[Path, str | None] = {folder / "__init__.py": _init_text(package)}
    definitions: dict[str, AssetDefinition] = {}
    read: list[export_tests.NotebookModule] = []
    for notebook in notebooks:
        if notebook.resolve().is_relative_to(folder.resolve()):
            raise SpecError(
                f"{project.relative(notebook)} is inside the export package {package!r}: "
                "export notebooks, not the modules generated from them."
            )
        code, module = _module(project, notebook)
        files[folder / f"{module.module}.py"] = code
        read.append(module)
        for definition in module.assets:
            definitions.setdefault(definition.key, definition)
    check_acyclic(definitions)  # across the notebooks too: before anything is written
    for key, d in definitions.items():  # and mappings no build could read (names both)
        for dep in (dep for dep in d.deps if dep in definitions):
            partition_mapping(d.spec.partitions, definitions[dep].spec.partitions, names=(key, dep))
    files[folder / "definitions.py"] = _definitions_text(package)
    files.update(export_tests.test_files(folder, package, read))  # None: a test file to remove
    result = ExportResult()
    for path, text in files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            if text is not None:
                result.unchanged.append(path)
        elif check:
            old, new = (current or "").splitlines(keepends=True), (text or "").splitlines(True)
            name = project.relative(path)
            diff = difflib.unified_diff(old, new, name, name if text is not None else "/dev/null")
            result.stale[path] = "".join(diff)
        elif text is None:
            path.unlink(missing_ok=True)
            result.removed.append(path)
        else:
            _write_atomically(path, text)
            result.written.append(path)
    return result


def module_text(project: Project, notebook: Path) -> str:
    """The module of one notebook (``.ipynb`` or jupytext ``.py``), validated by compiling it.

    Assets that read each other in a cycle raise :class:`~nbassets.errors.CycleError`.
    """
    return _module(project, notebook)[0]


def _module(project: Project, notebook: Path) -> tuple[str, export_tests.NotebookModule]:
    """The module of one notebook and what its tests need; a cycle among its assets raises."""
    notebook = notebook.resolve()
    name = _notebook_name(project, notebook)
    cells = read_cells(notebook)
    asset_keys = _asset_keys(cells)
    exported, defined_elsewhere = _module_names(cells)
    parts: list[_Part] = []
    definitions: list[AssetDefinition] = []
    assets: list[str] = []
    checks: list[str] = []
    imports: set[str] = set()
    module_imports: list[str] = []
    functions = set(asset_keys)  # the module's function names so far, and the assets'
    for index, cell in enumerate(cells):
        kind, line, body = cell.parsed.kind, cell.parsed.line, cell.parsed.body
        if kind in (ASSET, CHECK, EXPORT):
            codetext.refuse_unreadable(name, index, cell)
        if kind == ASSET:
            definition = _asset(line, body, asset_keys, exported, defined_elsewhere, index)
            definitions.append(definition)
            marker = f"{codetext.shown(name)} :: {definition.key}"
            parts.append(_Part(marker, asset_function_text(definition)))
            assets.append(_asset_entry(definition, name))
            imports.update(
                ["ExportedAsset", "sql_asset"] if definition.spec.sql else ["ExportedAsset"]
            )
        elif kind == CHECK:
            names = (asset_keys, exported, defined_elsewhere, functions)
            part, entry = _check(line, body, names, name, index)
            parts.append(part)
            checks.append(entry)
            imports.add("ExportedCheck")
        elif kind == EXPORT:
            cell_imports, code = _split_imports(_plain(cell))
            module_imports += [line for line in cell_imports if line not in module_imports]
            if code.strip():
                number = (
                    sum(p.marker.startswith(f"{codetext.shown(name)} :: exported") for p in parts)
                    + 1
                )
                parts.append(_Part(f"{codetext.shown(name)} :: exported code {number}", code))
    check_acyclic({d.key: d for d in reversed(definitions)})  # the first of a key wins
    module = export_tests.NotebookModule(
        name, _module_name(notebook), tuple(cells), frozenset(exported),
        frozenset(defined_elsewhere), tuple(module_imports), tuple(definitions),
    )  # fmt: skip
    return _render(name, module_imports, parts, assets, checks, imports), module


# --- reading the notebook -------------------------------------------------------------------------


def _asset_keys(cells: list[Cell]) -> set[str]:
    return {parse_asset_line(c.parsed.line).key for c in cells if c.parsed.kind == ASSET}


def _module_names(cells: list[Cell]) -> tuple[set[str], set[str]]:
    """Names bound at the top of exported cells, and names only unexported cells bind."""
    exported: set[str] = set()
    elsewhere: set[str] = set()
    for cell in cells:
        if cell.kind != "code" or cell.parsed.magic is not None:
            continue
        names = _top_level_names(_without_magics(cell.source))
        (exported if cell.parsed.kind == EXPORT else elsewhere).update(names)
    return exported, elsewhere - exported


def _top_level_names(source: str) -> set[str]:
    try:
        tree = pysyntax.parse(source)
    except SyntaxError:
        return set()
    visitor = FreeNames()
    visitor.collect(tree.body)
    return visitor.bound


def _without_magics(source: str) -> str:
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


# --- assets and checks ----------------------------------------------------------------------------


def _asset(
    line: str,
    body: str,
    asset_keys: set[str],
    exported: set[str],
    elsewhere: set[str],
    index: int,
) -> AssetDefinition:
    spec = parse_asset_line(line)
    free = _free_names(spec.key, body, spec.sql)
    if RESERVED_KEY in free and (spec.sql or spec.partitions is None):
        fix = "A SQL cell reads getvariable('partition')." if spec.sql else _ADD_PARTITION
        raise SpecError(
            f"When exporting asset {spec.key!r} (cell {index + 1}), {_NO_PARTITION} {fix}"
        )
    free.discard(RESERVED_KEY)  # a partitioned cell's parameter, never an upstream asset
    external = {n for n in free if n not in exported and n not in _BUILTINS}
    _refuse_unexported(f"asset {spec.key!r}", index, external & elsewhere)
    return define(spec, body, asset_keys | external)


def _check(
    line: str,
    body: str,
    names: tuple[set[str], set[str], set[str], set[str]],  # keys, exported, elsewhere, functions
    notebook: str,
    index: int,
) -> tuple[_Part, str]:
    asset_keys, exported, elsewhere, functions = names
    analysis_names = _top_level_free(body)
    if RESERVED_KEY in analysis_names - exported:  # a check gets one version, no partition
        raise SpecError(f"When exporting a check (cell {index + 1}), {_NO_PARTITION}")
    external = {n for n in analysis_names if n not in exported and n not in _BUILTINS}
    _refuse_unexported("a check", index, external & elsewhere)
    check = define_check(line, body, asset_keys | external)
    base = f"check_{check.asset}__{_NOT_AN_IDENTIFIER.sub('_', check.name).strip('_')}"
    function, n = base, 1  # names "a b" and "a_b" must not make one function of two
    while function in functions:
        n, function = n + 1, f"{base}_{n + 1}"
    functions.add(function)
    code = _function_text(function, check.deps, body, value_of=None)
    entry = _call(
        "ExportedCheck",
        [
            f"asset={codetext.literal(check.asset)}",
            f"name={codetext.literal(check.name)}",
            f"function={function}",
            f"deps={codetext.literals(check.deps)}",
            f"severity={codetext.literal(check.severity)}",
            f"source={codetext.literal(f'{notebook} :: {check.asset} check {check.name}')}",
        ],
    )
    marker = f"{codetext.shown(notebook)} :: {check.asset} check {codetext.shown(check.name)}"
    return _Part(marker, code), entry


def _free_names(key: str, body: str, sql: bool) -> set[str]:
    if sql:
        from .sql import analyze_sql

        return set(analyze_sql(key, body).tables)
    return _top_level_free(body)


def _top_level_free(body: str) -> set[str]:
    try:
        return FreeNames().collect(pysyntax.parse(body).body)
    except SyntaxError as exc:
        raise SpecError(f"a cell has a syntax error on line {exc.lineno}: {exc.msg}.") from exc


def _refuse_unexported(what: str, index: int, names: set[str]) -> None:
    if names:
        name = sorted(names)[0]
        raise SpecError(
            f"When exporting {what} (cell {index + 1}), it uses name {name!r} that no exported "
            f"cell defines: tag the cell that defines it with 'export' (or start it with "
            f"'{EXPORT_MARK}')."
        )


# --- writing functions ----------------------------------------------------------------------------


def asset_function_text(definition: AssetDefinition) -> str:
    """The exported function of an asset cell, as the module holds it (and builds record it):
    one parameter per upstream, then ``partition`` when the asset is partitioned."""
    partitioned = definition.spec.partitions is not None
    return _asset_function_text(
        definition.key, definition.deps, definition.body, definition.spec.sql, partitioned
    )


@functools.lru_cache(maxsize=1024)  # a kernel asks on every build of an unchanged cell
def _asset_function_text(
    key: str, deps: tuple[str, ...], body: str, sql_body: bool, partitioned: bool = False
) -> str:
    params = (*deps, RESERVED_KEY) if partitioned else deps
    if sql_body:
        sql = body.strip().split("\n")
        pieces = [line + "\n" for line in sql[:-1]] + sql[-1:]
        query = "\n".join(f"        {codetext.literal(piece)}" for piece in pieces)
        tables = "".join(f"        {name}={name},\n" for name in params)
        body = f"return sql_asset(\n        {codetext.literal(key)},\n{query},\n{tables}    )"
        return _function_text(key, params, body, value_of=None, plain_return=True)
    return _function_text(key, params, body, value_of=key)


def _function_text(
    name: str, params: Iterable[str], body: str, value_of: str | None, plain_return: bool = False
) -> str:
    """``def name(params):`` with the body indented and its value returned, comments kept."""
    signature = f"def {name}({', '.join(params)}):"
    if plain_return:
        return f"{signature}\n    {body}\n"
    text = body.strip("\n")
    tree = pysyntax.parse(text)
    lines = text.split("\n")
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and last.col_offset == 0 and _starts_line(lines, last):
        row = last.lineno - 1
        lines[row] = "return " + lines[row]
    elif last is not None and value_of is not None and not isinstance(last, ast.Expr):
        lines.append(f"return {value_of}")
    elif isinstance(last, ast.Expr):  # shares its line with another statement: rebuild it
        tree.body[-1] = ast.Return(value=last.value)
        lines = ast.unparse(tree).split("\n")
    indented = _indent("\n".join(lines))
    return f"{signature}\n{indented}\n"


def _starts_line(lines: list[str], node: ast.stmt) -> bool:
    return not lines[node.lineno - 1][: node.col_offset].strip()


def _indent(text: str) -> str:
    """Indent by four spaces, except lines inside a multi-line string (whose value must stay)."""
    inside: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in (tokenize.NEWLINE, tokenize.NL) and token.end[0] > token.start[0]:
            inside.update(range(token.start[0] + 1, token.end[0] + 1))
    return "\n".join(
        line if number in inside or not line.strip() else "    " + line
        for number, line in enumerate(text.split("\n"), start=1)
    )


def _plain(cell: Cell) -> str:
    """An exported cell's code, without its export marker."""
    return cell.parsed.body.strip("\n") + "\n"


def _split_imports(code: str) -> tuple[list[str], str]:
    """The top-level import statements of exported code (to hoist), and the rest of it."""
    tree = pysyntax.parse(code)
    lines = code.split("\n")
    imports: list[str] = []
    taken: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) and node.end_lineno is not None:
            rows = range(node.lineno - 1, node.end_lineno)
            imports.append("\n".join(lines[row] for row in rows).strip())
            taken.update(rows)
    rest = "\n".join(line for row, line in enumerate(lines) if row not in taken)
    return imports, rest.strip("\n") + "\n"


def _asset_entry(definition: AssetDefinition, notebook: str) -> str:
    spec = definition.spec
    fields = [
        f"key={codetext.literal(definition.key)}",
        f"function={definition.key}",
        f"deps={codetext.literals(definition.deps)}",
        f"code_version={codetext.literal(definition.code_version)}",
        f"source={codetext.literal(f'{notebook} :: {definition.key}')}",
    ]
    if spec.io:
        fields.append(f"io={codetext.literal(spec.io)}")
    if spec.sql:
        fields.append("sql=True")
    if spec.key_columns:
        fields.append(f"key_columns={codetext.literals(spec.key_columns)}")
    if spec.description:
        fields.append(f"description={codetext.literal(spec.description)}")
    if spec.checks:
        fields.append(f"rules={codetext.literals(tuple(rule.text for rule in spec.checks))}")
    if spec.partitions is not None:
        fields.append(f"partitions={codetext.literal(str(spec.partitions))}")
    fields += [f"fresh={codetext.literal(str(spec.fresh))}"] if spec.fresh else []
    return _call("ExportedAsset", fields)


def _call(name: str, fields: list[str]) -> str:
    inner = "".join(f"        {f},\n" for f in fields)
    return f"    {name}(\n{inner}    ),"


# --- the module -----------------------------------------------------------------------------------


def _render(
    notebook: str,
    module_imports: list[str],
    parts: list[_Part],
    assets: list[str],
    checks: list[str],
    imports: set[str],
) -> str:
    header = (
        f'"""Assets of {codetext.shown(notebook)}, exported by nbassets.\n\n'
        "Generated by `nbassets export`: edit the notebook, not this file, and export again\n"
        '(`nbassets export --check` says when this file is out of date).\n"""\n'
    )
    runtime = [f"from nbassets.runtime import {', '.join(sorted(imports))}"] if imports else []
    import_block = _sorted_imports([*module_imports, *runtime])
    sections = [import_block] if import_block else []
    sections += [f"# %% {part.marker}\n{part.code}" for part in parts]
    sections.append(_tuple("ASSETS", assets) + "\n" + _tuple("CHECKS", checks))
    text = header + "\n"
    for number, section in enumerate(sections):
        if number:  # isort and formatters: one blank line after imports unless a def follows
            after_imports = number == 1 and import_block
            follows_def = section.split("\n", 2)[1].startswith(("def ", "class ", "@"))
            text += "\n" if after_imports and not follows_def else "\n\n"
        text += section.strip("\n") + "\n"
    codetext.validate(text, notebook)
    return text


def _sorted_imports(statements: list[str]) -> str:
    """Imports as isort puts them: standard library, then the rest; ``import`` before ``from``."""

    def module(statement: str) -> str:
        return statement.split()[1].split(".")[0]

    def order(statement: str) -> tuple[bool, str]:
        return statement.startswith("from "), statement.split()[1].lower()

    stdlib = sorted((s for s in statements if module(s) in sys.stdlib_module_names), key=order)
    others = sorted((s for s in statements if module(s) not in sys.stdlib_module_names), key=order)
    return "\n\n".join("\n".join(group) for group in (stdlib, others) if group) + "\n"


def _tuple(name: str, entries: list[str]) -> str:
    return f"{name} = (\n" + "\n".join(entries) + "\n)\n" if entries else f"{name} = ()\n"


def _init_text(package: str) -> str:
    return f'"""Assets exported from notebooks by nbassets (package {package!r})."""\n'


def _definitions_text(package: str) -> str:
    return (
        f'"""Dagster definitions of the nbassets package {package!r} '
        '(generated by `nbassets export`; do not edit)."""\n\n'
        "from nbassets.dagster_assets import build_definitions\n\n"
        f"defs = build_definitions({package!r}, __file__)  # the project holding this file\n"
    )


def _notebook_name(project: Project, notebook: Path) -> str:
    return project.relative(notebook)


def _module_name(notebook: Path) -> str:
    stem = _NOT_AN_IDENTIFIER.sub("_", notebook.stem).strip("_").lower() or "notebook"
    return f"nb_{stem}" if stem[0].isdigit() or stem in ("definitions", "__init__") else stem


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` beside ``path``, then rename it there (mode: the old file's, or normal)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    try:  # from /proc: setting the umask to read it would race other threads' files
        return int(re.findall(r"Umask:\s*(\d+)", Path("/proc/self/status").read_text())[0], 8)
    except (OSError, IndexError):
        os.umask(mask := os.umask(0o022))
        return mask
