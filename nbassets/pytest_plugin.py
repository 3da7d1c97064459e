"""The pytest plugin: ``pytest --nbassets-env ENV`` runs every asset's data checks as items.

Without the flag it adds its options and a marker and nothing else: no item, no hook, and
no import of pandas, pyarrow, duckdb or the core. With it, a :class:`DataChecks` object joins
the session. It finds the project (pytest's rootdir, or ``--nbassets-project``) at configure
time and collects the checks under the project's ``pyproject.toml``: one item per asset and
check, in the order ``nbassets check`` runs them (assets in build order; rules, then check
functions), e.g. ``pyproject.toml::orders::not_null('id')``. When pytest visits that file itself
(no ``testpaths``, or a node id naming it) the items stand where it is; otherwise they are added
after the other items, before ``-k``, ``-m`` and ``--deselect`` select.

Collecting asks the production policy once (command ``pytest``), loads the exported package
and opens the env's workspace, closed at session end; a refusal is one collection error.
Each item runs its one check through the shared runner (:func:`~nbassets.checks.runner.run_checks`)
on the version the env resolves (its own, else production's, as ``nbassets check`` does) and
records the result in the env's catalog. A failed error-severity check fails its item with the
failing rows; a failed warn-severity one passes with a :class:`DataCheckWarning`. The outcomes of
exported unit tests (the ``TESTS`` of ``<package>/tests/test_*.py``) run in the same session are
recorded in the env's catalog too, as a notebook's ``%%test`` cells are, for ``nbassets report``.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .checks.rules import Rule
    from .checks.runner import CheckTask
    from .config import Project
    from .package import Package
    from .policy import WriteGrant
    from .store.results import CheckResult
    from .store.workspace import ResolvedInput, Workspace

PLUGIN = "nbassets-data-checks"
MARKER = "nbassets"
MAX_COLUMNS = 20  # columns shown of a failing row


class DataCheckWarning(UserWarning):
    """A warn-severity data check failed (or broke): its item passes and says so.

    ``-W error::nbassets.pytest_plugin.DataCheckWarning`` makes such items fail.
    """


class CheckFailure(Exception):
    """A data check item failed: its text is the whole report (no traceback to show)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbassets", "nbassets data checks")
    group.addoption(
        "--nbassets-env",
        metavar="ENV",
        default=None,
        help="run every asset's data checks against ENV's current versions, one item per check",
    )
    group.addoption(
        "--nbassets-project",
        metavar="PATH",
        default=None,
        help="the nbassets project (a folder in it); default: the project holding the rootdir",
    )
    group.addoption(
        "--nbassets-allow-dirty",
        action="store_true",
        default=False,
        help="with --nbassets-env prod: record results from a dirty tree (recorded as dirty)",
    )
    group.addoption(
        "--nbassets-no-git",
        action="store_true",
        default=False,
        help="with --nbassets-env prod outside git (a deployed image): commit from NBASSETS_COMMIT",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a data check of an asset (--nbassets-env ENV)")
    env = config.getoption("nbassets_env")
    if env is None:
        return
    from .config import Project
    from .errors import NbAssetsError

    given = config.getoption("nbassets_project")
    start = config.invocation_params.dir / given if given else config.rootpath
    if not start.exists():
        raise pytest.UsageError(f"--nbassets-project {given}: no such file or folder ({start})")
    try:
        project = Project.find(start)
    except NbAssetsError as exc:
        raise pytest.UsageError(f"--nbassets-env {env}: {exc}") from None
    config.pluginmanager.register(DataChecks(config, env, project), PLUGIN)


class DataChecks:
    """The session's data checks: the project, and once collected its grant and workspace."""

    def __init__(self, config: pytest.Config, env: str, project: Project) -> None:
        self.config = config
        self.env = env
        self.project = project
        self.anchor = project.root / "pyproject.toml"
        self.collected = False
        self.grant: WriteGrant | None = None
        self.workspace: Workspace | None = None
        self._targets: dict[str, ResolvedInput | str] = {}

    # collection
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> Any:
        if file_path == self.anchor:  # collected only if the arguments select it
            return ProjectChecks.from_parent(parent, path=file_path, plugin=self)
        return None

    @pytest.hookimpl(tryfirst=True)  # before -k, -m and --deselect choose among the items
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[Any]) -> None:
        if not self.collected:  # pytest did not collect the anchor: add every check
            rootpath = self.config.rootpath
            outside = not self.anchor.is_relative_to(rootpath)  # --nbassets-project elsewhere
            nodeid = os.path.relpath(self.anchor, rootpath) if outside else None
            node = ProjectChecks.from_parent(session, path=self.anchor, plugin=self, nodeid=nodeid)
            items.extend(session.genitems(node))

    def open(self) -> Package:
        """Ask the policy, load the package, open the workspace (once a session)."""
        self.collected = True
        from .package import load_package
        from .policy import Overrides, authorize, confirm_modules, project_modules
        from .store.workspace import Workspace

        option = self.config.getoption
        overrides = Overrides.resolve(option("nbassets_allow_dirty"), option("nbassets_no_git"))
        grant = authorize(self.project, self.env, "pytest", overrides)
        package = load_package(self.project)
        self.grant = confirm_modules(self.project, grant, project_modules(self.project))
        self.workspace = Workspace(self.project, self.env)
        return package

    # the exported unit tests (TESTS of <package>/tests/test_*.py): outcomes recorded in the env
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if report.when == "call" or (report.when == "setup" and report.failed):
            test = exported_test(item)
            if test is not None and not report.skipped:
                self.record_test(test, report, call)
        return report

    def record_test(
        self, test: Any, report: pytest.TestReport, call: pytest.CallInfo[None]
    ) -> None:
        """Record one exported unit test's outcome in the env's catalog (as a notebook does)."""
        from .environments import current_user
        from .store.results import ERROR, FAILED, PASSED, TestResult
        from .testing import now

        if self.workspace is None or self.grant is None:
            return  # the session collected no data check (the policy refused): nothing to record
        error = call.excinfo.value if call.excinfo is not None else None
        if report.passed:
            outcome, message = PASSED, ""
        else:
            outcome = FAILED if isinstance(error, AssertionError) else ERROR
            crash = getattr(report.longrepr, "reprcrash", None)
            message = str(error) if error is not None and str(error) else ""
            message = message or (crash.message if crash is not None else "failed")
            if outcome == ERROR and error is not None:
                message = f"{type(error).__name__}: {error}"
        result = TestResult(
            key=test.asset, name=test.name, code_version=test.code_version, outcome=outcome,
            test_version=test.test_version,
            message=message, source=test.source or report.nodeid, at=now(), env=self.env,
            seconds=report.duration, user=current_user(),
        )  # fmt: skip
        self.workspace.writer(self.grant).catalog.record_tests([result])

    def pytest_sessionfinish(self) -> None:
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None

    # running
    def run(self, check: Check) -> tuple[CheckResult, ResolvedInput, BaseException | None]:
        """Run one check on its asset's current version and record it; or say why it can't."""
        from .checks.runner import run_checks

        assert self.workspace is not None and self.grant is not None
        target = self.target(check.key)
        rules = [check.rule] if check.rule is not None else []
        tasks = [check.task] if check.task is not None else []
        outcome = run_checks(self.workspace, target, rules, tasks, self.grant)
        return outcome.results[0], target, outcome.raised

    def target(self, key: str) -> ResolvedInput:
        """The version of ``key`` the env resolves (cached: nothing builds during a session)."""
        if key not in self._targets:
            self._targets[key] = self._resolve(key)
        found = self._targets[key]
        if isinstance(found, str):
            raise CheckFailure(found)
        return found

    def _resolve(self, key: str) -> ResolvedInput | str:
        from .environments import PROD

        assert self.workspace is not None
        build = f"nbassets materialize --env {self.env}"
        if self.env != PROD and not self.workspace.own.catalog.keys():
            return (
                f"env {self.env!r} holds no version of any asset: it was not built, and its "
                f"checks would run on production's data. Build it first: {build}"
            )
        resolved = self.workspace.resolve(key)
        if resolved is None:
            where = f"env {self.env!r}" + (" (nor in prod)" if self.env != PROD else "")
            return f"{key} has no version in {where}: build it first: {build} --select +{key}"
        return resolved


def exported_test(item: pytest.Item) -> Any:
    """The ``ExportedTest`` (of its module's ``TESTS``) that ``item`` runs, or None."""
    module, name = getattr(item, "module", None), getattr(item, "originalname", None)
    if module is None or not isinstance(name, str):
        return None
    from .runtime import exported_tests

    function = getattr(module, name, None)
    return next((t for t in exported_tests(module) if t.function is function), None)


@dataclass(frozen=True)
class Check:
    """One data check of one asset: a ``--check`` rule or a check function."""

    key: str
    name: str
    rule: Rule | None = None
    task: CheckTask | None = None
    file: Path | None = None  # where it is written (the exported module), for reports
    line: int = 0


def package_checks(package: Package) -> dict[str, list[Check]]:
    """Every asset's checks, assets in build order, each one's rules then check functions."""
    checks: dict[str, list[Check]] = {}
    for key in package.graph.order(set(package.assets)):
        task = package.task(key)
        function = package.assets[key].function
        file, line = _where(function)
        found = [Check(key, rule.name, rule=rule, file=file, line=line) for rule in task.rules]
        for check in task.checks:
            file, line = _where(check.function)
            found.append(Check(key, check.name, task=check, file=file, line=line))
        if found:
            checks[key] = found
    return checks


def _where(function: Any) -> tuple[Path | None, int]:
    code = getattr(function, "__code__", None)
    if code is None:
        return None, 0
    return Path(code.co_filename), max(code.co_firstlineno - 1, 0)


class ProjectChecks(pytest.File):
    """The project's data checks, anchored at its ``pyproject.toml``: one node per asset."""

    def __init__(self, *, plugin: DataChecks, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plugin = plugin

    def collect(self) -> list[AssetChecks]:
        from .errors import NbAssetsError

        if self.plugin.collected:  # the anchor named twice: its checks are collected once
            return []
        try:
            package = self.plugin.open()
        except NbAssetsError as exc:
            raise self.CollectError(
                f"nbassets data checks for env {self.plugin.env!r}: {exc}"
            ) from None
        return [
            AssetChecks.from_parent(self, name=key, checks=checks)
            for key, checks in package_checks(package).items()
        ]


class AssetChecks(pytest.Collector):
    """The checks of one asset."""

    def __init__(self, *, checks: list[Check], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checks = checks

    def collect(self) -> list[CheckItem]:
        return [CheckItem.from_parent(self, name=check.name, check=check) for check in self.checks]


class CheckItem(pytest.Item):
    """One data check of one asset, run on the env's current version and recorded."""

    def __init__(self, *, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.add_marker(MARKER)

    @property
    def plugin(self) -> DataChecks:
        parent = self.parent.parent if self.parent is not None else None
        assert isinstance(parent, ProjectChecks)
        return parent.plugin

    def runtest(self) -> None:
        result, target, raised = self.plugin.run(self.check)
        if result.passed:
            return
        files = {str(self.check.file)} if self.check.file else set()
        text = failure_text(result, target, self.plugin.env, raised, files)
        if result.blocking:
            raise CheckFailure(text)
        self.warn(DataCheckWarning(text))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailure | DataCheckWarning):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.check.file or self.path, self.check.line, f"{self.check.key}: {self.name}"


def failure_text(
    result: CheckResult,
    target: ResolvedInput,
    env: str,
    raised: BaseException | None = None,
    filenames: set[str] | None = None,
) -> str:
    """What a failed check says: its line, the version checked, the failing rows or error."""
    from .render.display import check_line

    lines = [
        check_line(result),
        f"checked {target.label} ({result.severity} severity; recorded in env {env!r})",
    ]
    if result.sample:
        count = max(result.failing_rows or 0, len(result.sample))
        lines.append(f"{count:,} failing row(s), first {len(result.sample)}:")
        lines += sample_table(result.sample)
    if raised is not None:
        lines += _user_traceback(raised, filenames or set())
    return "\n".join(lines)


def sample_table(sample: list[dict[str, Any]]) -> list[str]:
    """Failing rows as an aligned table (at most ``MAX_COLUMNS`` columns), indented."""
    from .render.tables import aligned

    if not sample:
        return []
    names = list(dict.fromkeys(name for row in sample for name in row))
    header = names[:MAX_COLUMNS] + (
        [f"(+{len(names) - MAX_COLUMNS} more)"] if len(names) > MAX_COLUMNS else []
    )
    rows = [[_cell(row.get(name)) for name in names[:MAX_COLUMNS]] for row in sample]
    return aligned([header, *rows], indent="  ")


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


def _user_traceback(exc: BaseException, filenames: set[str]) -> list[str]:
    """A check function's exception from its own frame on (no nbassets or pytest frames)."""
    from .tracebacks import user_traceback

    tb = user_traceback(exc, filenames)
    if tb is None:  # not raised by the function's code (its error line says what)
        return []
    return ["", *"".join(traceback.format_exception(type(exc), exc, tb)).rstrip().splitlines()]
