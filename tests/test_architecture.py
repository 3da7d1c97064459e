"""The house rules, enforced: import layers (import-linter), no import cycles, small modules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nbassets"
MAX_LINES = 500
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package in ``project`` (its own pyproject.toml's contracts)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports anywhere (module level and inside functions)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:  # `from . import x` names modules too
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def test_the_import_contracts_hold() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "message"),
    [
        ("build.py", "def _late():\n    import IPython\n", "nbassets.build is not allowed to import IPython"),
        ("store/workspace.py", "from ..render import display\n", "nbassets.store is not allowed to import nbassets.render"),
        ("status.py", "from .session import Session\n", "nbassets.status is not allowed to import nbassets.session"),
    ],
)  # fmt: skip
def test_a_forbidden_import_breaks_the_contracts(
    tmp_path: Path, module: str, line: str, message: str
) -> None:
    shutil.copytree(PACKAGE, tmp_path / "nbassets", ignore=shutil.ignore_patterns("labextension"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "nbassets" / module
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line, encoding="utf-8")

    done = lint_imports(tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stdout


def test_every_module_sits_in_one_layer() -> None:
    """A new module must be placed in the layers (else the contract cannot guard it)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers")
    placed = [
        name.strip().strip("()")
        for layer in layers["layers"]
        for name in layer.replace("|", ":").split(":")
    ]
    assert len(placed) == len(set(placed))
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if name == "nbassets" or "labextension" in path.parts:
            continue
        owners = [p for p in placed if name == p or name.startswith(p + ".")]
        if name in ("nbassets.checks", "nbassets.render", "nbassets.store"):
            continue  # a subpackage's own __init__: placed with (or above) its modules
        assert owners, f"{name} is in no layer of [tool.importlinter]: place it"


def test_no_import_cycles_counting_imports_inside_functions() -> None:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts}
    graph = {name: imported_modules(path, set(files)) for name, path in files.items()}
    cycles = strongly_connected(graph)
    assert cycles == [], f"import cycles: {cycles}"


def test_no_module_is_over_500_lines() -> None:
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
        if "labextension" not in p.parts
    }
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}


def test_the_cycle_finder_finds_cycles() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of two or more modules that import each other, directly or not (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)
