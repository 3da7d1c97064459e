"""What the benchmark scenarios share: results with targets, sizes, projects, notebooks, peers.

A scenario module (``bench_*.py``) holds one scenario: a ``run(ctx)`` that measures and returns
a list of :class:`Result`. Everything else lives here: the run's :class:`Context` (quick or
full sizes, peers, profiles, progress), timing helpers, temporary projects, the chain
notebook two scenarios build, the catalog counts their correctness rows read, the disk's
durable-write floor, and the peers (Dagster, Hamilton), skipped when their extras are not
installed. The runner (``python -m benchmarks``) runs each scenario in its own process and
prints one table.
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import io
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

PACKAGE = "pipelines"  # the default export_package of [tool.nbassets]
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}  # Dagster's run config
PEERS = ("dagster", "hamilton")
INSTALL_PEERS = "pip install -e '.[bench]'"
MB = 1024 * 1024


# results


@dataclass
class Result:
    """One figure: its value, and the target it must meet (``None``: informational).

    A ``check`` is a correctness row (a build complete, a count as built): missing it is
    FAIL, and any FAIL makes ``python -m benchmarks`` exit 1. Missing a speed or size
    target is SHORT, which only ``--strict`` turns into exit status 1.
    """

    name: str
    value: float | None
    unit: str
    target: float | None = None
    op: str = "<="  # how the value must compare with the target: "<=", "<", ">=" or "=="
    note: str = ""
    check: bool = False
    skipped: str | None = None  # why, when the measurement could not run
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skip"
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
        return "PASS" if ok else "FAIL" if self.check else "SHORT"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**{k: v for k, v in data.items() if k != "status"})


def skipped(names: tuple[str, ...], unit: str, reason: str) -> list[Result]:
    """The rows of measurements that could not run, each naming why."""
    return [Result(name, None, unit, skipped=reason) for name in names]


def failure(exc: BaseException) -> str:
    """An exception as one short line for a note."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


# the run


@dataclass
class Context:
    """One scenario's run: quick or full, with or without peers, and what it reports aside."""

    scenario: str
    quick: bool = False
    peers: bool = True
    profile: bool = False
    sizes: dict[str, int] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)  # printed after the table
    started: float = field(default_factory=time.perf_counter)

    def size(self, name: str, full: int, quick: int) -> int:
        """A size or repetition count: ``full`` normally, ``quick`` with ``--quick``; recorded."""
        self.sizes[name] = quick if self.quick else full
        return self.sizes[name]

    def progress(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        print(f"[{self.scenario} {elapsed:5.1f} s] {message}", file=sys.stderr, flush=True)


def versions(names: tuple[str, ...]) -> dict[str, str]:
    """Python's version and each library's version; a peer's only when this run used it."""
    found = {"python": platform.python_version()}
    for name in names:
        if name in PEERS and name not in sys.modules:
            continue  # not imported by this run: do not import it for its version
        if name == "hamilton":
            with contextlib.suppress(Exception):
                from hamilton import version as hamilton_version

                found[name] = ".".join(map(str, hamilton_version.VERSION))
            continue
        try:
            module = __import__(name)
        except Exception:
            continue
        found[name] = str(getattr(module, "__version__", None))
    return found


def child_environ() -> dict[str, str]:
    """The environment of a child process that imports ``benchmarks``: this one's, with the
    folder holding the package at the end of ``PYTHONPATH`` (so a ``PYTHONPATH`` naming other
    nbassets code still decides which nbassets the child imports)."""
    home = str(Path(__file__).resolve().parent.parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, home])}


# timing


def ms(seconds: float) -> float:
    return seconds * 1000.0


def p90(values: list[float]) -> float:
    return float(np.percentile(values, 90))


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call of ``fn`` (after a full collection), and its value."""
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def time_calls(fn: Callable[[], Any], reps: int, warmup: int) -> list[float]:
    """Seconds per call of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def profile_call(fn: Callable[[], Any], top: int = 25) -> tuple[str, dict[str, float]]:
    """cProfile of one call of ``fn``: the top entries by cumulative and by own time, and
    the own seconds of a few built-ins worth naming (``fsync``, ``mkdir``)."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    wanted = {"<built-in method posix.fsync>": "fsync", "<built-in method posix.mkdir>": "mkdir"}
    own = dict.fromkeys(wanted.values(), 0.0)
    for (_, _, function), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if function in wanted:
            own[wanted[function]] += tottime
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue(), own


def durable_write_floor(folder: Path, reps: int = 100) -> list[float]:
    """Seconds per durable write of 4 KB, done as nbassets' storage does it for a new key.

    Make the key's folder, create a temporary file in it, write, fsync the file, rename
    it, fsync the folder: the least any store that survives a crash pays per asset. It
    tells a slow disk (fsync latency) from slow code.
    """
    payload = os.urandom(4096)
    times = []
    for i in range(reps):
        start = time.perf_counter()
        path = folder / f"k{i:04d}"
        path.mkdir(parents=True)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = os.open("tmp", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
            try:
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace("tmp", "v.bin", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        times.append(time.perf_counter() - start)
    return times


def floor_result(before: list[float], after: list[float]) -> Result:
    """The durable-write floor measured before and after a scenario's timed part."""
    return Result(
        "durable-write floor: mkdir + 4 KB + 2 fsyncs",
        ms(median(before)),
        "ms",
        note=f"the disk, not nbassets: median before the timed runs (p90 {ms(p90(before)):.2f}); "
        f"after: median {ms(median(after)):.2f}, p90 {ms(p90(after)):.2f}",
        data={"before_s": before, "after_s": after},
    )


# projects


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


@contextlib.contextmanager
def environ(name: str, value: str) -> Iterator[None]:
    """``os.environ[name]`` set to ``value`` while inside."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def env_catalog(root: Path, env: str) -> Path:
    """Where a sandbox env's catalog is, with the default ``sandbox_root``."""
    return root / ".nbassets" / env / "catalog.sqlite"


def catalog_counts(catalog: Path) -> tuple[int, int, int, int]:
    """(distinct keys, records, passed check results, other check results) of a catalog file.

    Read with ``sqlite3`` itself, so that a correctness row does not trust the code it checks.
    """
    if not catalog.is_file():
        return 0, 0, 0, 0
    conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        keys, records = conn.execute(
            "SELECT count(DISTINCT key), count(*) FROM materializations"
        ).fetchone()
        passed, other = conn.execute(
            "SELECT coalesce(sum(passed = 1), 0), coalesce(sum(passed != 1), 0) FROM check_results"
        ).fetchone()
    finally:
        conn.close()
    return int(keys), int(records), int(passed), int(other)


# notebooks


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    """An ``.ipynb`` of ``(kind, source)`` cells; kind ``export`` is a code cell tagged export."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    made = []
    for index, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if kind == "export":
            cell.metadata["tags"] = ["export"]
        cell["id"] = f"cell-{index:04d}"
        made.append(cell)
    notebook = new_notebook(
        cells=made,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    nbformat.validate(notebook)
    nbformat.write(notebook, path)


CHAIN_ROWS = 100


def chain_key(i: int) -> str:
    return f"a{i:03d}"


def chain_cells(n: int, rules: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """A notebook whose ``n`` asset cells form a chain; ``rules`` go on every asset cell.

    ``a000`` is a 100-row frame (``id``, ``v`` = 0); ``aNNN = aPPP.assign(v=aPPP.v + 1)``.
    """
    flags = "".join(f" --check '{rule}'" for rule in rules)
    cells: list[tuple[str, str]] = [
        ("md", f"# A chain of {n} assets"),
        ("code", "%load_ext nbassets"),
        ("code", "# nbassets: export\nimport numpy as np\nimport pandas as pd"),
        (
            "code",
            f"%%asset {chain_key(0)}{flags}\n"
            f'{chain_key(0)} = pd.DataFrame({{"id": np.arange({CHAIN_ROWS}), '
            f'"v": np.zeros({CHAIN_ROWS}, dtype=np.int64)}})',
        ),
    ]
    for i in range(1, n):
        key, up = chain_key(i), chain_key(i - 1)
        cells.append(("code", f"%%asset {key}{flags}\n{key} = {up}.assign(v={up}.v + 1)"))
    return cells


def export_chain(root: Path, n: int, rules: tuple[str, ...] = ()) -> float:
    """Write and export the ``n``-asset chain notebook into ``root``; seconds of the export."""
    from nbassets.config import Project
    from nbassets.exporter import export_notebooks

    notebook = root / "notebooks" / "chain.ipynb"
    write_notebook(notebook, chain_cells(n, rules))
    elapsed, _ = timed(lambda: export_notebooks(Project.find(root), [notebook]))
    return elapsed


def matching_rows(value: Any, n: int) -> int:
    """Rows of ``value`` equal to the last frame of an ``n``-chain (0 when the shape differs)."""
    import pandas as pd

    expected = pd.DataFrame(
        {
            "id": np.arange(CHAIN_ROWS, dtype=np.int64),
            "v": np.full(CHAIN_ROWS, n - 1, dtype=np.int64),
        }
    )
    if not isinstance(value, pd.DataFrame) or list(value.columns) != list(expected.columns):
        return 0
    if len(value) != len(expected) or any(value[c].dtype != np.int64 for c in expected.columns):
        return 0
    frame = value.reset_index(drop=True)
    return int((frame == expected).all(axis=1).sum())


# the kernel


def make_shell(profile_dir: Path, user_ns: dict[str, Any]) -> Any:
    """An IPython shell with ``%load_ext nbassets``, no history file, and ``user_ns`` defined."""
    os.environ["IPYTHONDIR"] = str(profile_dir)  # keep ~/.ipython untouched
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history database on disk
    shell = InteractiveShell.instance(config=config)
    run_ok(shell, "%load_ext nbassets")
    shell.user_ns.update(user_ns)
    return shell


def run_ok(shell: Any, code: str) -> None:
    """Run a cell; raise its error if it failed."""
    result = shell.run_cell(code)
    if not result.success:
        result.raise_error()
        raise RuntimeError(f"cell failed: {code!r}")


# peers


def peer(name: str, ctx: Context) -> tuple[ModuleType | None, str]:
    """The peer's module, or ``None`` and why it is skipped (``--no-peers``, not installed)."""
    if not ctx.peers:
        return None, "--no-peers"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "hamilton":
                import hamilton as module
                from hamilton import ad_hoc_utils, driver  # noqa: F401
            else:
                module = __import__(name)
    except ImportError:
        return None, f"{name} not installed ({INSTALL_PEERS})"
    except Exception as exc:
        return None, f"{name} not importable: {failure(exc)}"
    return module, ""


@contextlib.contextmanager
def dagster_instance(dg: Any) -> Iterator[tuple[Any, Path]]:
    """A persistent Dagster instance (SQLite run and event storage) in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-dagster-") as tmp:
        instance = dg.DagsterInstance.local_temp(
            tempdir=tmp, overrides={"telemetry": {"enabled": False}}
        )
        try:
            yield instance, Path(tmp)
        finally:
            instance.dispose()


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Peers warn about their own preview features: not what is measured."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
