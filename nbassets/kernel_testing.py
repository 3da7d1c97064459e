"""``%%test`` cells and ``%test`` in a kernel: an asset's current code run on inputs made by hand.

A test cell's body becomes a function whose one parameter is the asset's name, with the
notebook's namespace as its globals (so the asset's value in the notebook is never shadowed).
The parameter is an :class:`~nbassets.testing.AssetUnderTest` of the asset's *current* code
here (the last-run ``%%asset`` cell, else the notebook file's cell), compiled as a build
compiles it (:func:`~nbassets.kernel_build.cell_task`), with each upstream stored as its
``--io`` says. Tests never build or store anything: each outcome is recorded in the sandbox
catalog (``test_results``) through the write door, which never opens production from a
kernel. Free of IPython.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from .definitions import AssetDefinition
from .environments import current_user
from .errors import UnknownName, did_you_mean
from .kernel_build import cell_task
from .notebookfile import TEST, magic_cell
from .policy import KERNEL, authorize
from .session import Session
from .source import compile_function
from .store.results import TestResult
from .testcells import TestCell, define_test
from .testing import AssetUnderTest, run_test

__all__ = ["TestRun", "asset_under_test", "rerun", "run_test_cell", "source_of"]

TestFile = Callable[[TestCell], str]  # the file a test cell's code is compiled under
AssetFile = Callable[[AssetDefinition], str]  # the same for an asset cell's code


@dataclass(frozen=True)
class TestRun:
    """One run of one test: its cell, its result (as recorded), the exception it raised."""

    __test__ = False  # not a pytest test class

    cell: TestCell
    result: TestResult
    raised: BaseException | None


def run_test_cell(
    session: Session,
    line: str,
    body: str,
    filename: str,
    asset_file: AssetFile,
) -> TestRun:
    """``%%test NAME``: register the cell, run it on NAME's current code, record the outcome."""
    parsed = magic_cell(TEST, line, body)
    cell = define_test(parsed.line, parsed.body)
    definitions = session.definitions()
    require_code(session, cell.asset, definitions, "%%test")
    session.test_cells.setdefault(cell.asset, {})[cell.name] = cell
    return _run_all(session, [cell], definitions, lambda _: filename, asset_file)[0]


def rerun(
    session: Session,
    key: str | None,
    filename: TestFile,
    asset_file: AssetFile,
) -> list[TestRun]:
    """``%test NAME``: NAME's tests again (those run in this kernel, else its notebook file's
    ``%%test NAME`` cells); ``%test``: every asset's, in definition order."""
    definitions = session.definitions()
    tests = session.tests()
    if key is not None:
        require_code(session, key, definitions, "%test")
        cells = list(tests.get(key, {}).values())
        if not cells:
            raise UnknownName(
                f"%test {key}: asset {key!r} has no tests in this kernel or its notebook file. "
                f"Write one in a `%%test {key}` cell."
            )
    else:
        orphans = sorted(asset for asset in tests if asset not in definitions)
        if orphans:
            raise UnknownName(
                f"%test: tests of {', '.join(map(repr, orphans))}, but no %%asset cell here or "
                "in the notebook file defines it: run its %%asset cell, or `%test NAME` for "
                "one asset's tests."
            )
        cells = [cell for asset in definitions for cell in tests.get(asset, {}).values()]
        if not cells:
            raise UnknownName(
                "%test: no tests in this kernel or its notebook file yet. Write one in a "
                "`%%test NAME` cell."
            )
    return _run_all(session, cells, definitions, filename, asset_file)


def require_code(
    session: Session, key: str, definitions: Mapping[str, AssetDefinition], magic: str
) -> None:
    """Refuse a test of ``key`` when no cell defines its code, teaching the fix."""
    if key in definitions:
        return
    stored = session.workspace.keys()
    if key in stored:
        raise UnknownName(
            f"{magic} {key}: {key!r} is stored, but no %%asset cell run here or saved in "
            "this notebook defines its code, and a test runs an asset's code. Test it in the "
            f"notebook whose `%%asset {key}` cell builds it."
        )
    raise UnknownName(
        f"{magic} {key}: no asset {key!r} is defined in this kernel or its notebook file."
        f"{did_you_mean(key, definitions)} Run its %%asset cell first."
    )


def asset_under_test(
    session: Session,
    definition: AssetDefinition,
    definitions: Mapping[str, AssetDefinition],
    filename: str,
) -> AssetUnderTest:
    """``definition``'s code as a test calls it: compiled as a build compiles it, each input
    stored as its upstream's ``--io`` says (the definition's, else its stored version's)."""
    task = cell_task(session, definition, filename)
    return AssetUnderTest(
        task.key,
        task.deps,
        task.function,
        sql=task.sql,
        io=task.io,
        input_io={dep: _io_of(session, dep, definitions) for dep in task.deps},
        partitions=task.partitions,
    )


def _io_of(session: Session, key: str, definitions: Mapping[str, AssetDefinition]) -> str | None:
    definition = definitions.get(key)
    if definition is not None:
        return definition.spec.io
    resolved = session.workspace.resolve(key)
    return resolved.record.io if resolved is not None else None


def source_of(session: Session, cell: TestCell) -> str:
    """``notebooks/x.ipynb :: orders :: drops_refunds`` (``<kernel>`` with no notebook file)."""
    notebook = session.notebook_path()
    where = session.project.relative(notebook) if notebook is not None else "<kernel>"
    return cell.source(where)


def _run_all(
    session: Session,
    cells: Iterable[TestCell],
    definitions: Mapping[str, AssetDefinition],
    filename: TestFile,
    asset_file: AssetFile,
) -> list[TestRun]:
    """Run ``cells`` one after the other; record every outcome, even when interrupted."""
    grant = authorize(session.project, session.env, KERNEL)  # before any code runs
    runs: list[TestRun] = []
    under: dict[str, AssetUnderTest] = {}  # one per asset, compiled once for all its tests
    try:
        for cell in cells:
            if cell.asset not in under:
                definition = definitions[cell.asset]
                under[cell.asset] = asset_under_test(
                    session, definition, definitions, asset_file(definition)
                )
            runs.append(_run(session, cell, definitions[cell.asset], under[cell.asset], filename))
    finally:
        if runs:
            session.workspace.writer(grant).catalog.record_tests([run.result for run in runs])
    return runs


def _run(
    session: Session,
    cell: TestCell,
    definition: AssetDefinition,
    under: AssetUnderTest,
    filename: TestFile,
) -> TestRun:
    function = compile_function(
        cell.asset, cell.body, (cell.asset,), filename(cell), session.namespace, cell.function_name
    )
    result, raised = run_test(
        lambda: function(under),
        cell.asset,
        cell.name,
        definition.code_version,
        source_of(session, cell),
        session.env,
    )
    return TestRun(cell, replace(result, user=current_user(), test_version=cell.version), raised)
