"""``nbassets verify``: the whole verify phase in one command, for any CI system."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import _Cli, pass_cli
from .report import render_report, report_options, write_report

if TYPE_CHECKING:
    from ..verify import Step

_MARKS = {"passed": "✓", "failed": "✗", "skipped": "-"}


@click.command()
@click.option(
    "--env",
    metavar="ENV",
    envvar="NBASSETS_ENV",
    required=True,
    help="the sandbox to build and verify, e.g. ci-<run id> (default: $NBASSETS_ENV)",
)
@report_options
@pass_cli
def verify(cli: _Cli, env: str, against: str, fmt: str, output: Path | None) -> None:
    """The whole verify phase, for CI: exit 0 if all of it passes.

    Steps: export --check, the exported unit tests, materialize, the data checks, the report.
    Each step prints one line (✓ passed, ✗ failed, - skipped) naming what failed; a failed
    step does not stop the others (except the checks, which need builds). The exported unit
    tests (<export_package>/tests) run with `python -m pytest` in a subprocess. Exits 0 only
    when every step passes, else 1. The step lines go to stdout, or to stderr when the report
    itself is printed (no --output).
    """
    from ..verify import verify as run_verify

    to_stderr = output is None

    def show(step: Step) -> None:
        click.echo(f"{_MARKS[step.outcome]} {step.name}: {step.summary}", err=to_stderr)
        if not step.ok and step.detail:
            for line in step.detail.splitlines():
                click.echo(f"    {line}", err=to_stderr)

    result = run_verify(
        cli.project,
        env,
        against,
        write_report=lambda made: write_report(render_report(made, fmt), output, fmt),
        on_step=show,
    )
    if result.ok:
        click.echo(f"verify passed: {env} against {against}", err=to_stderr)
        return
    failed = "; ".join(
        f"{step.name} ({', '.join(step.failed)})" if step.failed != (step.name,) else step.name
        for step in result.failures
    )
    click.echo(f"verify failed: {failed}", err=to_stderr)
    raise click.exceptions.Exit(1)
