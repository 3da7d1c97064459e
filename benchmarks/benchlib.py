"""What the benchmark scripts share: a result with its target, and the table they print."""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "pipelines"  # the default export_package of [tool.nbassets]


@dataclass
class Result:
    """One figure: its value, and the target it must meet (``None``: informational)."""

    section: str
    name: str
    value: float | None
    unit: str
    target: float | None = None
    op: str = "<="  # how the value must compare with the target: "<=", "<", ">=" or "=="
    note: str = ""
    skipped: str | None = None  # why, when the measurement could not run
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "SKIP"
        if self.target is None:
            return "info"
        if self.value is None:
            return "FAIL"
        ok = {
            "<=": self.value <= self.target,
            "<": self.value < self.target,
            ">=": self.value >= self.target,
            "==": self.value == self.target,
        }[self.op]
        return "PASS" if ok else "FAIL"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def ms(seconds: float) -> float:
    return seconds * 1000.0


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x" if abs(value) >= 10 else f"{value:.2f}x"
    if unit == "bool":
        return "yes" if value else "no"
    if float(value).is_integer() and unit not in ("ms", "s"):
        return f"{int(value):,} {unit}"
    digits = 3 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:,.{digits}f} {unit}"


def render(results: list[Result], header: str, quick: bool) -> str:
    columns = ("section", "measurement", "value", "target", "result", "notes")
    table = [
        (
            r.section,
            r.name,
            fmt(r.value, r.unit),
            "" if r.target is None else f"{r.op} {fmt(r.target, r.unit)}",
            r.status,
            r.skipped if r.skipped is not None else r.note,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [columns, *table]) for i in range(len(columns) - 1)]
    right = {2, 3}

    def line(row: tuple[str, ...]) -> str:
        cells = [row[i].rjust(w) if i in right else row[i].ljust(w) for i, w in enumerate(widths)]
        return "  ".join([*cells, row[-1]]).rstrip()

    rule = "-" * (sum(widths) + 2 * len(widths) + 20)
    out = [header, rule, line(columns), rule]
    previous = None
    for row in table:
        if previous is not None and row[0] != previous:
            out.append("")
        out.append(line(row))
        previous = row[0]
    out.append(rule)
    counts = {k: sum(r.status == k for r in results) for k in ("PASS", "FAIL", "SKIP")}
    summary = f"targets: {counts['PASS']} PASS, {counts['FAIL']} FAIL; {counts['SKIP']} skipped"
    if quick:
        summary += " (quick run: sizes are below the targets' sizes; indicative only)"
    out.append(summary)
    return "\n".join(out)


def versions(names: tuple[str, ...]) -> dict[str, str]:
    """Python's version and each importable library's ``__version__``."""
    found = {"python": platform.python_version()}
    for name in names:
        if name == "dagster" and name not in sys.modules:
            continue  # not imported by this run (--no-peers): do not import it for its version
        try:
            module = __import__(name)
        except Exception:
            continue
        found[name] = str(getattr(module, "__version__", None))
    return found


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call of ``fn`` (after a full collection), and its value."""
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


@contextlib.contextmanager
def temporary_project(prefix: str, pyproject: str = "[tool.nbassets]\n") -> Iterator[Path]:
    """A temporary project folder (``pyproject.toml``, ``notebooks/``), as the cwd.

    ``load_package`` puts the project root on ``sys.path`` and imports ``pipelines`` from
    it; both are undone on the way out, so the next project's package is found.
    """
    old_cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp).resolve()
        (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        (root / "notebooks").mkdir()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(old_cwd)
            while str(root) in sys.path:
                sys.path.remove(str(root))
            for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
                del sys.modules[name]
