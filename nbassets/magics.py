"""The IPython magics: parse the line, call the session, display the result.

``%%asset``, ``%%check``, ``%%test``, ``%nbassets``, ``%materialize``, ``%check``, ``%test``,
``%diff``, ``%lineage``, ``%assets`` and ``%forget``. Magic lines are
taken literally (no ``$name``/``{expr}`` expansion) and split into words as a POSIX
shell splits them (``shlex``: quotes removed), bad arguments become
``UsageError`` (no traceback) and failures of the user's code keep their
traceback, so Run All stops at a broken asset. ``%load_ext`` also puts
``expect_frame_equal`` in the notebook's namespace (hidden from ``%who``) for test cells.
"""

from __future__ import annotations

import argparse
import functools
import shlex
from collections.abc import Callable, Iterable
from difflib import get_close_matches
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionInfo, InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display
from traitlets import Bool, Int

from . import kernel_build, kernel_testing, kernel_views
from .checks.cells import check_parser
from .comm import PanelChannel
from .config import Project
from .definitions import AssetDefinition
from .environments import PROD
from .errors import CheckFailed, MaterializeFailed, NbAssetsError
from .render.diffview import DiffView
from .render.display import CheckReport, KeyValues, StatusTable, build_preview, scope_note
from .render.lineage import Lineage
from .render.preview import preview_widget
from .render.progress import progress_bar
from .render.summary import PREVIEW_ROWS, human_bytes
from .render.testview import TestReport
from .session import Session
from .spec import asset_parser, join_continued_lines, line_error, split_list
from .store.gc import Forgotten
from .store.results import CheckResult
from .testcells import TestCell, unit_test_parser
from .testing import expect_frame_equal
from .tracebacks import (
    after_user_cause,
    from_user_frame,
    raised_at_sql_line,
    sql_error,
    without_nbassets_frames,
)

M = TypeVar("M", bound=Callable[..., Any])


def _usage_errors(method: M) -> M:
    """The one place nbassets' errors become ``UsageError`` (a message, no traceback).

    An error raised from the user's own code (a cell compiled by the magic) keeps its
    traceback, whatever its type, shown from the user's frame on as any cell's is.
    """

    @functools.wraps(method)
    def wrapper(self: AssetMagics, *args: Any) -> Any:
        self._user_files.clear()
        try:
            return method(self, *args)
        except Exception as exc:
            if from_user_frame(exc, self._user_files, self.ipython.InteractiveTB):
                raise
            if isinstance(exc, MaterializeFailed):
                after_user_cause(exc, self._user_files, self.ipython.InteractiveTB)
            if isinstance(exc, NbAssetsError) and not isinstance(exc, MaterializeFailed):
                raise UsageError(str(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


@magics_class
class AssetMagics(Magics):
    """nbassets magics; options: ``%config AssetMagics.preview_rows = 10``."""

    preview = Bool(True, help="Display a summary and preview after every build.").tag(config=True)
    preview_rows = Int(PREVIEW_ROWS, help="Rows shown in the preview of a table.").tag(config=True)
    progress = Bool(True, help="Show a progress bar in %materialize.").tag(config=True)
    widget = Bool(False, help="Show previews as an ipywidgets form with tabs.").tag(config=True)

    def __init__(self, shell: InteractiveShell, session: Session) -> None:
        super().__init__(shell=shell)
        self.session = session
        self.ipython = shell
        self._user_files: set[str] = set()  # files of the cells this magic compiled
        self._numbers: dict[str, int] = {}  # an asset cell's body -> its last prompt number
        self.channel: PanelChannel | None = None  # to the Assets panel (nbassets.comm)

    def panel_state(self) -> dict[str, str]:
        """What the panel is told (``nbassets.comm``): the env built into and the project."""
        return {"env": self.session.env, "project": str(self.session.project.root)}

    # %%asset
    @no_var_expand
    @cell_magic
    @_usage_errors
    def asset(self, line: str, cell: str) -> None:
        number = self._prompt_number()
        filename = self._cell_file(cell, number)
        self._numbers[join_continued_lines(line, cell)[1]] = number  # for %materialize
        try:
            result = kernel_build.run_cell(self.session, line, cell, filename)
        except NbAssetsError as exc:  # a --sql cell's DuckDB error: shown at its SQL line
            error = sql_error(exc)
            if error is None:
                raise
            raise raised_at_sql_line(error, filename) from None
        if self.preview and result.spec.preview:
            view = build_preview(result, self.preview_rows)
            display(preview_widget(view) if self.widget else view)
        _raise_for_checks(result.checks, result.check_error)

    # %%check NAME [--name CHECK] [--severity error|warn]
    @no_var_expand
    @cell_magic
    @_usage_errors
    def check(self, line: str, cell: str) -> None:
        run = kernel_build.run_check_cell(self.session, line, cell, self._cell_file(cell))
        display(CheckReport(list(run.results), self._checked_partition(run.results)))
        _raise_for_checks(run.results, run.raised)

    # %%test NAME [--name TEST]
    @no_var_expand
    @cell_magic("test")  # type: ignore[arg-type]
    @_usage_errors
    def unit_test(self, line: str, cell: str) -> None:
        number = self._prompt_number()
        self._numbers[join_continued_lines(line, cell)[1]] = number  # for %test
        self._provide_helpers()
        run = kernel_testing.run_test_cell(
            self.session, line, cell, self._cell_file(cell, number), self._last_file
        )
        display(TestReport([run]))
        _raise_for_tests([run])

    # %test [NAME]
    @no_var_expand
    @magic_arguments("test")
    @argument("name", nargs="?", help="the asset whose tests to run (default: every asset's)")
    @line_magic("test")  # type: ignore[arg-type]
    @_usage_errors
    def retest(self, line: str) -> None:
        """Run NAME's tests again on its current code: the %%test cells run in this kernel,
        else the notebook file's; with no NAME, every asset's tests. Raises if any failed."""
        args = _arguments(self.retest, line)
        self._provide_helpers()
        runs = kernel_testing.rerun(self.session, args.name, self._last_file, self._last_file)
        display(TestReport(runs))
        _raise_for_tests(runs)

    # %nbassets [env NAME]
    @no_var_expand
    @line_magic
    @_usage_errors
    def nbassets(self, line: str) -> KeyValues | None:
        """Show the project, env, stores and counts; ``%nbassets env NAME`` switches sandbox."""
        words = _split(line)
        if not words:
            return KeyValues(kernel_views.summary(self.session))
        if words[0] == "env" and len(words) == 2:
            self.session.switch_env(words[1])
            if self.channel is not None:
                self.channel.publish()  # the panel shows this env from now on
            print(
                f"nbassets: building into sandbox {self.session.env!r} "
                f"({self.session.workspace.own.root})"
            )
            return None
        raise UsageError(
            f"%nbassets {line.strip()}: unknown arguments. Use `%nbassets` to show the "
            "project and env, or `%nbassets env NAME` to switch your sandbox."
        )

    # %materialize
    @no_var_expand
    @line_magic
    @_usage_errors
    def materialize(self, line: str) -> None:
        """Re-run this kernel's asset cells: NAME, NAME+ (downstream), +NAME (upstream), --stale."""
        words = _split(line)
        stale = "--stale" in words
        rest = [w for w in words if w != "--stale"]
        unknown = next((w for w in rest if w.startswith("-")), None)
        if unknown is not None:
            hint = " Did you mean --stale?" if get_close_matches(unknown, ["--stale"]) else ""
            raise UsageError(
                f"{unknown!r} is not an option of %materialize.{hint} "
                "Usage: %materialize [NAME | NAME+ | +NAME | *] [--stale]"
            )
        if len(rest) > 1:
            raise UsageError(
                f"%materialize {line.strip()}: give one selection (NAME, NAME+, +NAME or *) "
                "and/or --stale."
            )
        keys = kernel_build.select(self.session, rest[0] if rest else None, stale)
        if not keys:
            print("nbassets: nothing to materialize: every selected asset is fresh")
            return
        with progress_bar(self.progress) as progress:
            report = kernel_build.materialize(
                self.session,
                keys,
                lambda d: self._cell_file(d.body, self._numbers.get(d.body, 0)),
                progress,
            )
        print(f"nbassets: built {len(report.built)}: {', '.join(report.built) or '-'}")
        if not report.ok:
            raise MaterializeFailed(report.failed, report.check_failed, report.skipped) from next(
                iter(report.errors.values()), None
            )

    # %check NAME
    @no_var_expand
    @line_magic("check")  # type: ignore[arg-type]
    @_usage_errors
    def recheck(self, line: str) -> None:
        """Run NAME's checks again on its current version, without rebuilding it."""
        words = _split(line)
        if len(words) != 1:
            raise UsageError("%check NAME: give the one asset whose checks to run again.")
        run = kernel_build.recheck(self.session, words[0])
        display(CheckReport(list(run.results), self._checked_partition(run.results)))
        _raise_for_checks(run.results, run.raised)

    # %diff NAME [--against ENV] [--key COLS]
    @no_var_expand
    @magic_arguments()
    @argument("name", help="the asset whose current version to compare")
    @argument("--against", default=PROD, metavar="ENV", help="the env to compare with")
    @argument("--key", action="append", metavar="COLS",
              help="columns that identify a row (default: the asset's --key)")  # fmt: skip
    @line_magic
    @_usage_errors
    def diff(self, line: str) -> DiffView:
        """Data diff of an asset's current version against another env's (default: prod)."""
        args = _arguments(self.diff, line)
        key_columns = split_list(args.key)
        return DiffView(kernel_views.diff(self.session, args.name, args.against, key_columns))

    # %lineage [NAME] [--all]
    @no_var_expand
    @magic_arguments()
    @argument("name", nargs="?", help="focus on this asset, its upstream and its downstream")
    @argument("--all", dest="everything", action="store_true",
              help="every asset in the env and prod, not only this notebook's")  # fmt: skip
    @line_magic
    @_usage_errors
    def lineage(self, line: str) -> Any:
        """The dependency graph, drawn inline, coloured by status: this notebook's assets and
        the assets they read, directly or not (with no notebook file: the cells run in this
        kernel); --all: every asset in the env and prod. A NAME outside the notebook is drawn
        from the whole env."""
        args = _arguments(self.lineage, line)
        nodes, edges = kernel_views.lineage_view(self.session, args.name, args.everything)
        return Lineage(nodes, edges, args.name)

    # %forget NAME
    @no_var_expand
    @magic_arguments()
    @argument("name", help="the asset to drop from this kernel's sandbox")
    @line_magic
    @_usage_errors
    def forget(self, line: str) -> None:
        """Drop a scratch asset from this sandbox (never prod); gc reclaims its files.

        %assets, the panel and `nbassets status` no longer show it (or show production's
        version of it), and this kernel drops its cell and value; its history stays, and a
        later %%asset run brings it back.
        """
        args = _arguments(self.forget, line)
        session = self.session
        held = args.name in session.cells or args.name in session.built
        forgotten = kernel_build.forget(session, args.name)
        reads_prod = session.workspace.prod.catalog.latest_of(args.name) is not None
        print(forgotten_line(forgotten, reads_prod, held))

    # %assets [--all]
    @no_var_expand
    @magic_arguments()
    @argument("--all", dest="everything", action="store_true",
              help="every asset in the env and prod, not only this notebook's")  # fmt: skip
    @line_magic
    @_usage_errors
    def assets(self, line: str) -> StatusTable:
        """Status of this notebook's assets and the assets they read, directly or not (with
        no notebook file: the cells run in this kernel); --all: every asset in the env and
        prod, with a line on those from other notebooks or scratch (%forget drops one)."""
        args = _arguments(self.assets, line)
        view = kernel_views.notebook_view(self.session, args.everything)
        late = [f"late  {item.describe()}" for item in kernel_views.late(self.session, view)]
        footer = scope_note(view.others, view.everything, "%assets --all", "%forget NAME")
        footer = "\n".join(filter(None, [*late, footer]))
        return StatusTable(view.model.rows, view.model.prod_notes(), footer=footer)

    def _cell_file(self, code: str, number: int | None = None) -> str:
        """The file IPython names ``code`` by in tracebacks (``Cell In[number]``, by default
        the running cell's prompt number); code compiled from it is the user's."""
        filename: str = self.ipython.compile.cache(
            code, self._prompt_number() if number is None else number, raw_code=code
        )
        self._user_files.add(filename)
        return filename

    def _last_file(self, cell: AssetDefinition | TestCell) -> str:
        """An asset or test cell's file, under the prompt number it last ran with here (else 0)."""
        return self._cell_file(cell.body, self._numbers.get(cell.body, 0))

    def _checked_partition(self, results: tuple[CheckResult, ...]) -> str:
        """The partition of the version checks ran on (its current version), else ''."""
        if not results:
            return ""
        record = kernel_views.current_version(self.session, results[0].key).record
        return record.partition if record.data_version == results[0].data_version else ""

    def _provide_helpers(self) -> None:
        """``expect_frame_equal`` in the notebook, unless the user bound that name (or after
        a ``%reset``)."""
        self.ipython.user_ns.setdefault(expect_frame_equal.__name__, expect_frame_equal)

    def _prompt_number(self) -> int:
        """The running cell's ``In[N]``: IPython counts a cell in history before running it."""
        running = getattr(self.ipython.displayhook, "exec_result", None)
        number = getattr(running, "execution_count", None)
        return number if isinstance(number, int) else self.ipython.execution_count

    # cell ids
    def pre_run_cell(self, info: ExecutionInfo) -> None:
        self.session.cell_id = getattr(info, "cell_id", None)


AssetMagics.asset.__doc__ = asset_parser().format_help()
AssetMagics.check.__doc__ = check_parser().format_help()
AssetMagics.unit_test.__doc__ = unit_test_parser().format_help()  # type: ignore[assignment]
for _scoped in (AssetMagics.assets, AssetMagics.lineage, AssetMagics.retest):
    _scoped.parser.allow_abbrev = False  # taken literally (--al is not --all)


def _raise_for_checks(results: Iterable[CheckResult], raised: BaseException | None) -> None:
    """After the results are shown: re-raise a check's own error, or stop on a failed check."""
    if raised is not None:
        raise raised
    failed = CheckFailed(results)
    if failed.results:
        raise failed


def _raise_for_tests(runs: Iterable[kernel_testing.TestRun]) -> None:
    """After the outcomes are shown: re-raise the first failing test's own exception (an
    assertion, a frame difference, an error), so Run All stops there."""
    raised = next((run.raised for run in runs if run.raised is not None), None)
    if raised is not None:
        raise without_nbassets_frames(raised)


def forgotten_line(forgotten: Forgotten, reads_prod: bool, held: bool) -> str:
    """What ``%forget`` did, and how the files go."""
    key, env = forgotten.key, forgotten.env
    now = "; it reads production's version again" if reads_prod else ""
    kernel = ", and this kernel dropped its cell and value" if held else ""
    return (
        f"nbassets: forgot {key!r} in sandbox {env!r}: the sandbox holds no current version of "
        f"it{now}{kernel}. Its history stays; its "
        f"{len(forgotten.files)} version file(s), {human_bytes(forgotten.bytes)}, stay until "
        f"`nbassets gc --keep 1 --yes --env {env}` removes them. A new build brings it back."
    )


def _split(line: str) -> list[str]:
    """The words of a magic line, split as a POSIX shell splits them (quotes removed)."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc} (check the quotes).") from None


def _arguments(magic: Callable[..., Any], line: str) -> argparse.Namespace:
    """``line`` split by :func:`_split` and parsed by the magic's ``@magic_arguments`` grammar.

    IPython's ``parse_argstring`` splits without removing quotes; bad arguments become
    ``UsageError`` naming the nearest option and the usage, as ``%%asset`` lines do.
    """
    parser = magic.parser  # type: ignore[attr-defined]  # set by @magic_arguments
    words = _split(line)
    try:
        namespace: argparse.Namespace = parser.parse_args(words)
    except UsageError as exc:  # the grammar's parser raises it, with argparse's message
        raise UsageError(line_error(parser, str(exc), words, f"%{parser.prog}")) from None
    return namespace


def register(shell: InteractiveShell) -> AssetMagics:
    """Register the magics once per shell; a second ``%load_ext`` changes nothing."""
    existing = _registered(shell)
    if existing is not None:
        return existing
    session = Session(Project.find(), shell.user_ns)
    magics = AssetMagics(shell, session)
    shell.register_magics(magics)  # Magics.__init__ already listed it in shell.configurables
    shell.events.register("pre_run_cell", magics.pre_run_cell)
    if expect_frame_equal.__name__ not in shell.user_ns:  # for test cells, as IPython pushes
        shell.push({expect_frame_equal.__name__: expect_frame_equal}, interactive=False)
    magics.channel = PanelChannel(magics.panel_state)
    magics.channel.announce()
    return magics


def unregister(shell: InteractiveShell) -> None:
    """Remove the magics, the event hook and the session."""
    magics = _registered(shell)
    if magics is None:
        return
    shell.events.unregister("pre_run_cell", magics.pre_run_cell)
    if shell.user_ns.get(expect_frame_equal.__name__) is expect_frame_equal:
        shell.drop_by_id({expect_frame_equal.__name__: expect_frame_equal})
    for kind in ("line", "cell"):
        for name in list(magics.magics[kind]):
            shell.magics_manager.magics[kind].pop(name, None)
    shell.magics_manager.registry.pop(type(magics).__name__, None)
    shell.configurables[:] = [c for c in shell.configurables if c is not magics]
    if magics.channel is not None:
        magics.channel.close()
    magics.session.close()


def _registered(shell: InteractiveShell) -> AssetMagics | None:
    magics = shell.magics_manager.registry.get(AssetMagics.__name__)
    return magics if isinstance(magics, AssetMagics) else None
