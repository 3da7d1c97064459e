"""How an asset cell's body is read: its value, the names it reads, and its code version.

An asset body runs as the body of a function whose parameters are its upstream
assets, the same function the exporter writes: temporaries stay local, upstream
values arrive as arguments, and the last expression (or the final assignment to
the asset's own name) is returned. Everything here is decided from the code
before it runs.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
import types
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from . import pysyntax
from .errors import CycleError, SpecError


@dataclass(frozen=True)
class CellAnalysis:
    """What the body of one asset cell reads and how it yields its value."""

    key: str
    free_names: frozenset[str]
    rebound: frozenset[str]  # free names the body later assigns itself
    value: str  # "expression" or "assignment"
    normalized: str
    bound: frozenset[str] = frozenset()  # names the body binds at its top level

    def code_version(self, options: dict[str, str] | None = None) -> str:
        """Hash of the normalized code and the options that change the output."""
        payload = json.dumps([self.normalized, options or {}], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def analyze_body(key: str, body: str) -> CellAnalysis:
    """Parse an asset body; refuse one with no value or that reads itself."""
    tree = _parse(key, body)
    if not tree.body:
        raise SpecError(
            f"asset cell {key!r} is empty: write code whose last line is the value, "
            f"e.g. `{key} = ...` or an expression."
        )
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        value = "expression"
    elif _assigns_to(last, key):
        value = "assignment"
    else:
        raise SpecError(
            f"asset cell {key!r} has no value: its last statement must be an expression or an "
            f"assignment to {key!r} (e.g. `{key} = df`), but it is a {type(last).__name__} "
            f"on line {last.lineno}."
        )
    visitor = FreeNames()
    free = visitor.collect(tree.body)
    if key in free:
        raise CycleError([key])
    normalized = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return CellAnalysis(
        key=key,
        free_names=frozenset(free),
        rebound=frozenset(free & visitor.bound),
        value=value,
        normalized=normalized,
        bound=frozenset(visitor.bound),
    )


def no_value_error(key: str) -> SpecError:
    """Why a value of ``None`` is not stored, and how a cell or a function gives its value."""
    return SpecError(
        f"asset {key!r} has no value: its code returned None, and None is not stored. A "
        f"cell's value is its last expression, or the final assignment to {key!r}; a last "
        f"line like `print(...)` is an expression whose value is None. End the cell with the "
        f"value (a last line `df`, or `{key} = df`); an exported function must `return` it."
    )


@functools.lru_cache(maxsize=1024)
def analyze_check_body(name: str, body: str) -> CellAnalysis:
    """Parse a ``%%check`` body: any code, whose last expression (if any) is its value."""
    tree = _parse(name, body)
    if not tree.body:
        raise SpecError(
            f"check cell {name!r} is empty: write assertions, or an expression that is truthy "
            "when the data is right (or a frame of the failing rows)."
        )
    visitor = FreeNames()
    free = visitor.collect(tree.body)
    value = "expression" if isinstance(tree.body[-1], ast.Expr) else "none"
    normalized = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return CellAnalysis(
        key=name,
        free_names=frozenset(free),
        rebound=frozenset(free & visitor.bound),
        value=value,
        normalized=normalized,
        bound=frozenset(visitor.bound),
    )


def function_ast(
    key: str, body: str, params: Iterable[str], filename: str, name: str | None = None
) -> ast.Module:
    """The body as ``def <name or key>(<params>): ...; return <value>``, ready to compile.

    The value is the last expression, else the final assignment to ``key``,
    else ``None``. Statement line numbers are kept, so tracebacks point at the
    user's lines.
    """
    tree = _parse(key, body, filename)
    statements = list(tree.body)
    last = statements[-1]
    if isinstance(last, ast.Expr):
        statements[-1] = ast.copy_location(ast.Return(value=last.value), last)
    else:
        value: ast.expr = (
            ast.Name(id=key, ctx=ast.Load()) if _assigns_to(last, key) else ast.Constant(None)
        )
        statements.append(ast.copy_location(ast.Return(value=value), last))
    func = ast.FunctionDef(
        name=name or key,
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=name) for name in params],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=statements,
        decorator_list=[],
        returns=None,
    )
    if sys.version_info >= (3, 12):
        func.type_params = []
    ast.copy_location(func, statements[0])
    module = ast.Module(body=[func], type_ignores=[])
    return ast.fix_missing_locations(module)


def _parse(key: str, body: str, filename: str = "<asset>") -> ast.Module:
    try:
        return pysyntax.parse(body, filename=filename)
    except SyntaxError as exc:
        raise SpecError(
            f"asset cell {key!r} has a syntax error on line {exc.lineno}: {exc.msg}."
        ) from exc


def _assigns_to(statement: ast.stmt, key: str) -> bool:
    if isinstance(statement, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == key for t in statement.targets)
    if isinstance(statement, ast.AnnAssign | ast.AugAssign):
        return isinstance(statement.target, ast.Name) and statement.target.id == key
    return False


class FreeNames(ast.NodeVisitor):
    """Names a block reads before binding them, visited in evaluation order.

    Nested scopes (functions, lambdas, classes, comprehensions) contribute the
    names they read that they do not bind themselves.
    """

    def __init__(self, bound: Iterable[str] = ()) -> None:
        self.bound: set[str] = set(bound)
        self.free: set[str] = set()

    def collect(self, statements: Iterable[ast.AST]) -> set[str]:
        for statement in statements:
            self.visit(statement)
        return self.free

    # names
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.bound:
                self.free.add(node.id)
        else:
            self.bound.add(node.id)

    # statements whose fields are not in evaluation order
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name) and node.target.id not in self.bound:
            self.free.add(node.target.id)
        self.visit(node.value)
        self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        self.collect([*node.body, *node.orelse])

    visit_AsyncFor = visit_For

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bound.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bound.add(node.name)
        self.collect(node.body)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.bound.add(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.bound.add(node.rest)

    # nested scopes
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.collect(node.decorator_list)
        self._visit_arguments(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.bound.add(node.name)
        self._nested(node.body, _parameter_names(node.args) | {node.name})

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_arguments(node.args)
        self._nested([node.body], _parameter_names(node.args))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.collect([*node.decorator_list, *node.bases, *node.keywords])
        self.bound.add(node.name)
        self._nested(node.body, {node.name})

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node.generators, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node.generators, [node.key, node.value])

    def _comprehension(self, generators: list[ast.comprehension], parts: list[ast.expr]) -> None:
        self.visit(generators[0].iter)  # the first iterable runs in the enclosing scope
        inner = FreeNames(self.bound)
        for index, generator in enumerate(generators):
            if index:
                inner.visit(generator.iter)
            inner.visit(generator.target)
            inner.collect(generator.ifs)
        inner.collect(parts)
        self.free |= inner.free

    def _nested(self, body: list[ast.stmt] | list[ast.expr], own: set[str]) -> None:
        inner = FreeNames(self.bound | own)
        inner.collect(body)
        locally_bound = _bound_anywhere(body)
        self.free |= inner.free - locally_bound

    def _visit_arguments(self, args: ast.arguments) -> None:
        self.collect([*args.defaults, *(d for d in args.kw_defaults if d is not None)])


def _parameter_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    return names


def _bound_anywhere(body: list[ast.stmt] | list[ast.expr]) -> set[str]:
    """Names a nested function body binds (locals, in Python's scoping rules)."""
    names: set[str] = set()
    declared_global: set[str] = set()
    for node in body:
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
                names.add(child.id)
            elif isinstance(child, ast.Global | ast.Nonlocal):
                declared_global.update(child.names)
    return names - declared_global


def compile_function(
    key: str,
    body: str,
    params: tuple[str, ...],
    filename: str,
    namespace: MutableMapping[str, Any],
    name: str | None = None,
) -> Callable[..., Any]:
    """The body as a function over ``params``, with ``namespace`` as its globals.

    Compiled once per body (cached); ``filename`` names it in tracebacks. Its code is
    named ``<module>``, as a cell's own code is: tracebacks then read like a cell's, and
    ``inspect`` (which IPython uses when the file is not on disk, as in ipykernel) gives
    the whole cell, not only its first statement.
    """
    code = _function_code(key, body, params, name).replace(
        co_filename=filename, co_name="<module>", co_qualname="<module>"
    )
    return types.FunctionType(code, namespace, name or key)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1024)
def _function_code(
    key: str, body: str, params: tuple[str, ...], name: str | None
) -> types.CodeType:
    module = pysyntax.compile_code(
        function_ast(key, body, params, "<asset>", name), "<asset>", "exec"
    )
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))
