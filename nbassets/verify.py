"""The whole verify phase in one call (``nbassets verify``): the same steps in any CI.

:func:`verify` runs, in order, and reports each as a :class:`Step` as soon as it is done:

1. ``export --check``: the exported package is what ``nbassets export`` writes now;
2. ``unit tests``: ``python -m pytest -q <package>/tests`` in a subprocess (the exported
   ``%%test`` cells; none when the folder is missing), their outcomes recorded in ``env``'s
   catalog by the pytest plugin (``--nbassets-env``, its data-check items deselected);
3. ``materialize``: every asset of the package built into the sandbox ``env``
   (:func:`nbassets.pipeline.materialize`; downstream of a failure is skipped and said);
4. ``checks``: every data check of those builds (warn-severity failures are warnings);
5. ``report``: :func:`nbassets.review.review` against ``against``, handed to the caller's
   ``write_report`` (which renders and writes it: the core renders nothing).

Every step runs even when an earlier one failed (a reviewer sees everything at once), except
the checks, which need builds. The phase passes only when no step failed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from .batch import MaterializeReport
from .config import Project
from .definitions import notebook_paths
from .environments import PROD
from .exporter import export_notebooks
from .pipeline import materialize
from .review import Review, check_envs, review
from .text import name_list, plural

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
EXPORT, TESTS, MATERIALIZE, CHECKS, REPORT = (
    "export --check",
    "unit tests",
    "materialize",
    "checks",
    "report",
)
DATA_CHECK_MARKER = "nbassets"  # the pytest plugin's marker of its data-check items
_TEST_LINE = re.compile(r"^(FAILED|ERROR) (\S+)")
_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
_DETAIL_LINES = 40  # lines of a failing step's output kept


@dataclass(frozen=True)
class Step:
    """One step's outcome: ``passed``, ``failed`` or ``skipped``, a one-line summary, the
    names of what failed, and (when it failed) the output that shows why."""

    name: str
    outcome: str
    summary: str
    failed: tuple[str, ...] = ()
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome != FAILED


@dataclass
class Verification:
    """Every step of one verify run, and the review it made (None when that step failed)."""

    env: str
    against: str
    steps: list[Step] = field(default_factory=list)
    review: Review | None = None

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def failures(self) -> list[Step]:
        return [step for step in self.steps if not step.ok]


def verify(
    project: Project,
    env: str,
    against: str = PROD,
    write_report: Callable[[Review], str] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Verification:
    """Run the verify phase of sandbox ``env`` against ``against`` (see the module).

    ``write_report`` renders and writes the review and returns where it went (one line);
    ``on_step`` is told each step as it ends. Usage errors (``env`` is production or
    ``against``, ``against`` names no store) are raised before anything runs.
    """
    check_envs(project, env, against, built=False)
    result = Verification(env, against)

    def done(step: Step) -> None:
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    done(_guarded(EXPORT, lambda: export_check(project)))
    done(_guarded(TESTS, lambda: unit_tests(project, env)))
    built: list[MaterializeReport] = []
    done(_guarded(MATERIALIZE, lambda: _materialize(project, env, built)))
    done(checks_step(built[0]) if built else Step(CHECKS, SKIPPED, "not run: nothing was built"))
    reviews: list[Review] = []
    done(_guarded(REPORT, lambda: _report(project, env, against, write_report, reviews)))
    result.review = reviews[0] if reviews else None
    return result


def _guarded(name: str, run: Callable[[], Step]) -> Step:
    """``run()``, or a failed step naming what it raised (user code may raise anything)."""
    try:
        return run()
    except Exception as exc:  # a step's failure is reported, the phase goes on
        return Step(name, FAILED, f"{type(exc).__name__}: {exc}", (name,))


def export_check(project: Project) -> Step:
    """``nbassets export --check`` on every notebook of the project."""
    paths = notebook_paths(project)
    if not paths:
        patterns = list(project.config.notebooks)
        return Step(EXPORT, SKIPPED, f"no notebook matches [tool.nbassets] notebooks {patterns}")
    stale = export_notebooks(project, paths, None, True).stale
    if not stale:
        return Step(
            EXPORT, PASSED, f"the package is up to date with {plural(len(paths), 'notebook')}"
        )
    names = tuple(project.relative(path) for path in stale)
    return Step(
        EXPORT,
        FAILED,
        f"{plural(len(names), 'file')} differ from a fresh export: {name_list(list(names), 10)} "
        "(run nbassets export, then commit)",
        names,
        _tail("".join(stale.values())),
    )


def unit_tests(project: Project, env: str) -> Step:
    """The exported unit tests, ``python -m pytest -q <package>/tests``, in a subprocess.

    With ``--nbassets-env ENV`` (the pytest plugin) their outcomes are recorded in the env's
    catalog, for the report; ``-m 'not nbassets'`` leaves the plugin's data-check items out
    (the checks step runs them on the new builds).
    """
    package = project.config.export_package
    folder = project.package_folder(package) / "tests"
    if not folder.is_dir():
        return Step(TESTS, SKIPPED, f"no unit tests ({project.relative(folder)} does not exist)")
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]
    command += ["--nbassets-env", env, "-m", f"not {DATA_CHECK_MARKER}"]  # tests, no checks
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [*command, project.relative(folder)],
        cwd=project.root,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    output = run.stdout + run.stderr
    counts = _test_counts(output)
    if run.returncode == 5:  # pytest: no tests collected
        return Step(TESTS, SKIPPED, f"no unit tests collected in {project.relative(folder)}")
    failed = tuple(
        dict.fromkeys(m.group(2) for m in map(_TEST_LINE.match, output.splitlines()) if m)
    )
    if run.returncode == 0:
        return Step(TESTS, PASSED, counts or "passed")
    what = name_list(list(failed), 10) if failed else f"pytest exited with {run.returncode}"
    return Step(TESTS, FAILED, f"{counts or 'failed'}: {what}", failed or (TESTS,), _tail(output))


def _test_counts(output: str) -> str:
    """``3 passed, 1 failed`` from pytest's last summary line ('' when there is none)."""
    for line in reversed(output.splitlines()):
        found = _COUNTS.findall(line)
        if found and " in " in line:
            return ", ".join(f"{n} {word}" for n, word in found)
    return ""


def _materialize(project: Project, env: str, built: list[MaterializeReport]) -> Step:
    report = materialize(project, env, ["*"])
    built.append(report)
    skipped = f"; skipped {name_list(report.skipped, 10)} (downstream of a failure)"
    skipped = skipped if report.skipped else ""
    if report.failed:
        errors = "; ".join(f"{key} ({error})" for key, error in report.failed.items())
        return Step(MATERIALIZE, FAILED, f"failed: {errors}{skipped}", tuple(report.failed))
    done = len(report.built) + len(report.check_failed)
    return Step(MATERIALIZE, PASSED, f"built {plural(done, 'asset')} in {env}{skipped}")


def checks_step(report: MaterializeReport) -> Step:
    """Every data check the builds ran: error-severity failures fail the step."""
    results = report.checks
    blocking = tuple(f"{r.key}: {r.name}" for r in results if r.blocking)
    warned = [f"{r.key}: {r.name}" for r in results if r.outcome == "warn"]
    warnings = f"; {plural(len(warned), 'warning')} ({name_list(warned, 5)})" if warned else ""
    unchecked = f"; not checked (not built): {name_list(report.skipped, 10)}"
    unchecked = unchecked if report.skipped else ""
    if blocking:
        detail = "\n".join(
            f"{r.key}: {r.name}: {r.error or r.message}" for r in results if r.blocking
        )
        return Step(
            CHECKS,
            FAILED,
            f"{len(blocking)} of {plural(len(results), 'check')} failed: "
            f"{name_list(list(blocking), 10)}{warnings}{unchecked}",
            blocking,
            detail,
        )
    return Step(CHECKS, PASSED, f"{plural(len(results), 'check')} passed{warnings}{unchecked}")


def _report(
    project: Project,
    env: str,
    against: str,
    write_report: Callable[[Review], str] | None,
    reviews: list[Review],
) -> Step:
    made = review(project, env, against)
    reviews.append(made)
    where = write_report(made) if write_report is not None else "made"
    return Step(REPORT, PASSED, where)


def _tail(text: str, lines: int = _DETAIL_LINES) -> str:
    kept = text.rstrip("\n").splitlines()
    cut = len(kept) - lines
    return "\n".join(([f"... ({cut:,} lines above)"] if cut > 0 else []) + kept[-lines:])
