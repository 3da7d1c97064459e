"""The IPython magics: parse the line, call the session, display the result.

``%%asset``, ``%nbassets``, ``%materialize`` and ``%assets``. Magic lines are
taken literally (no ``$name``/``{expr}`` expansion), bad arguments become
``UsageError`` (no traceback) and failures of the user's code keep their
traceback, so Run All stops at a broken asset.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionInfo, InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, Int

from .checkresult import CheckResult
from .checks import check_parser
from .config import Project
from .display import CheckReport, KeyValues, StatusTable, build_preview
from .errors import NbAssetsError
from .preview import preview_widget
from .session import Session
from .spec import asset_parser, split_list
from .verify import CheckFailed


def _usage(exc: NbAssetsError) -> UsageError:
    return UsageError(str(exc))


@magics_class
class AssetMagics(Magics):
    """nbassets magics; options: ``%config AssetMagics.preview_rows = 10``."""

    preview = Bool(True, help="Display a summary and preview after every build.").tag(config=True)
    preview_rows = Int(5, help="Rows shown in the preview of a table.").tag(config=True)
    progress = Bool(True, help="Show a progress bar in %materialize.").tag(config=True)
    widget = Bool(False, help="Show previews as an ipywidgets form with tabs.").tag(config=True)

    def __init__(self, shell: InteractiveShell, session: Session) -> None:
        super().__init__(shell=shell)
        self.session = session
        self.ipython = shell

    # %%asset
    @no_var_expand
    @cell_magic
    def asset(self, line: str, cell: str) -> None:
        filename = self.ipython.compile.cache(cell, self.ipython.execution_count, raw_code=cell)
        try:
            result = self.session.run_cell(line, cell, filename)
        except NbAssetsError as exc:
            if _raised_in(exc, filename):
                raise  # the user's own code raised it: keep the traceback
            raise _usage(exc) from None
        if self.preview and result.spec.preview:
            view = build_preview(result, self.preview_rows)
            display(preview_widget(view) if self.widget else view)
        _raise_for_checks(result.checks, result.check_error)

    # %%check NAME [--name CHECK] [--severity error|warn]
    @no_var_expand
    @cell_magic
    def check(self, line: str, cell: str) -> None:
        filename = self.ipython.compile.cache(cell, self.ipython.execution_count, raw_code=cell)
        try:
            result, raised = self.session.run_check_cell(line, cell, filename)
        except NbAssetsError as exc:
            raise _usage(exc) from None
        display(CheckReport([result]))
        _raise_for_checks([result], raised)

    # %nbassets [env NAME]
    @no_var_expand
    @line_magic
    def nbassets(self, line: str) -> KeyValues | None:
        """Show the project, env, stores and counts; ``%nbassets env NAME`` switches sandbox."""
        words = _split(line)
        if not words:
            return KeyValues(self.session.summary())
        if words[0] == "env" and len(words) == 2:
            try:
                self.session.switch_env(words[1])
            except NbAssetsError as exc:
                raise _usage(exc) from None
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
    def materialize(self, line: str) -> None:
        """Re-run this kernel's asset cells: NAME, NAME+ (downstream), +NAME (upstream), --stale."""
        words = _split(line)
        stale = "--stale" in words
        rest = [w for w in words if w != "--stale"]
        if len(rest) > 1 or any(w.startswith("-") for w in rest):
            raise UsageError(
                f"%materialize {line.strip()}: give one selection (NAME, NAME+, +NAME or *) "
                "and/or --stale."
            )
        try:
            keys = self.session.select(rest[0] if rest else None, stale)
        except NbAssetsError as exc:
            raise _usage(exc) from None
        if not keys:
            print("nbassets: nothing to materialize: every selected asset is fresh")
            return
        self._run_in_order(keys)

    def _run_in_order(self, keys: list[str]) -> None:
        from tqdm.auto import tqdm

        failed: dict[str, BaseException] = {}
        skipped: list[str] = []
        built: list[str] = []
        bar = tqdm(keys, desc="materialize", unit="asset", disable=not self.progress)
        for key in bar:
            definition = self.session.cells[key]
            blocked = [d for d in definition.deps if d in failed or d in skipped]
            if blocked:
                skipped.append(key)
                continue
            bar.set_postfix_str(key)
            try:
                filename = self.ipython.compile.cache(definition.body, 0, raw_code=definition.body)
                self.session.build(definition, filename)
            except Exception as exc:  # reported below; the rest still builds
                failed[key] = exc
            else:
                built.append(key)
        bar.close()
        print(f"nbassets: built {len(built)}: {', '.join(built) or '-'}")
        if failed:
            detail = "; ".join(f"{k}: {type(e).__name__}: {e}" for k, e in failed.items())
            skip = f" Skipped downstream: {', '.join(skipped)}." if skipped else ""
            raise NbAssetsError(f"%materialize: {len(failed)} failed ({detail}).{skip}") from next(
                iter(failed.values())
            )

    # %check NAME
    @no_var_expand
    @line_magic("check")  # type: ignore[arg-type]
    def recheck(self, line: str) -> None:
        """Run NAME's checks again on its current version, without rebuilding it."""
        words = _split(line)
        if len(words) != 1:
            raise UsageError("%check NAME: give the one asset whose checks to run again.")
        try:
            results, raised = self.session.recheck(words[0])
        except NbAssetsError as exc:
            raise _usage(exc) from None
        display(CheckReport(results))
        _raise_for_checks(results, raised)

    # %diff NAME [--against ENV] [--key COLS]
    @no_var_expand
    @magic_arguments()
    @argument("name", help="the asset whose current version to compare")
    @argument("--against", default="prod", metavar="ENV", help="the env to compare with")
    @argument("--key", action="append", metavar="COLS",
              help="columns that identify a row (default: the asset's --key)")  # fmt: skip
    @line_magic
    def diff(self, line: str) -> Any:
        """Data diff of an asset's current version against another env's (default: prod)."""
        args = parse_argstring(self.diff, line)
        try:
            return self.session.diff(args.name, args.against, split_list(args.key))
        except NbAssetsError as exc:
            raise _usage(exc) from None

    # %lineage [NAME]
    @no_var_expand
    @magic_arguments()
    @argument("name", nargs="?", help="focus on this asset, its upstream and its downstream")
    @line_magic
    def lineage(self, line: str) -> Any:
        """The dependency graph, drawn inline, coloured by status."""
        args = parse_argstring(self.lineage, line)
        try:
            return self.session.lineage(args.name)
        except NbAssetsError as exc:
            raise _usage(exc) from None

    # %assets
    @no_var_expand
    @line_magic
    def assets(self, line: str) -> StatusTable:
        """A status table of every asset known to the project from this kernel."""
        if line.strip():
            raise UsageError("%assets takes no arguments.")
        try:
            return StatusTable(self.session.statuses(), self.session.prod_notes())
        except NbAssetsError as exc:
            raise _usage(exc) from None

    # cell ids
    def pre_run_cell(self, info: ExecutionInfo) -> None:
        self.session.cell_id = getattr(info, "cell_id", None)


AssetMagics.asset.__doc__ = asset_parser().format_help()
AssetMagics.check.__doc__ = check_parser().format_help()


def _raise_for_checks(results: Iterable[CheckResult], raised: BaseException | None) -> None:
    """After the results are shown: re-raise a check's own error, or stop on a failed check."""
    if raised is not None:
        raise raised
    failed = CheckFailed(results)
    if failed.results:
        raise UsageError(str(failed))


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc} (check the quotes).") from None


def register(shell: InteractiveShell) -> AssetMagics:
    """Register the magics once per shell; a second ``%load_ext`` changes nothing."""
    existing = _registered(shell)
    if existing is not None:
        return existing
    session = Session(Project.find(), shell.user_ns)
    magics = AssetMagics(shell, session)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    shell.events.register("pre_run_cell", magics.pre_run_cell)
    return magics


def unregister(shell: InteractiveShell) -> None:
    """Remove the magics, the event hook and the session."""
    magics = _registered(shell)
    if magics is None:
        return
    shell.events.unregister("pre_run_cell", magics.pre_run_cell)
    for kind in ("line", "cell"):
        for name in list(magics.magics[kind]):
            shell.magics_manager.magics[kind].pop(name, None)
    shell.magics_manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)
    magics.session.close()


def _registered(shell: InteractiveShell) -> AssetMagics | None:
    magics = shell.magics_manager.registry.get(AssetMagics.__name__)
    return magics if isinstance(magics, AssetMagics) else None


def _raised_in(exc: BaseException, filename: str) -> bool:
    """Whether ``exc`` passed through code compiled from ``filename`` (the user's cell)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            return True
        tb = tb.tb_next
    return False
