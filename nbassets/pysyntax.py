"""Parsing and compiling Python source, one thread at a time.

CPython 3.11 keeps the AST constructor's recursion depth in per-interpreter state, so two
threads converting syntax trees at once can fail with ``SystemError: AST constructor
recursion depth mismatch`` (python/cpython gh-106905). The Jupyter server reads notebooks in
worker threads and exports may run concurrently, so every parse and every compile of a tree
in nbassets goes through these, under one lock. They cost what ``ast.parse`` costs.
"""

from __future__ import annotations

import ast
import threading
import types
from typing import Any

_LOCK = threading.RLock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> Any:
    """``ast.parse``, serialized."""
    with _LOCK:
        return ast.parse(source, filename=filename, mode=mode)


def compile_code(source: str | ast.Module, filename: str, mode: str = "exec") -> types.CodeType:
    """``compile`` of source text or of a tree, serialized."""
    with _LOCK:
        return compile(source, filename, mode)


def literal(node: ast.AST) -> Any:
    """``ast.literal_eval`` of a node, serialized."""
    with _LOCK:
        return ast.literal_eval(node)
