"""``nbassets report``: a reviewer's summary of a change, as markdown, HTML or JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..environments import PROD, default_dev_env
from ..render.review import FORMATS
from .common import _DEV_STORE, CliUsageError, _Cli, pass_cli

if TYPE_CHECKING:
    from ..review import Review

F = TypeVar("F", bound=Callable[..., Any])


def report_options(command: F) -> F:
    """``--against``, ``--format`` and ``--output``: shared by ``report`` and ``verify``."""
    command = click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        metavar="FILE",
        help="write the report to FILE (default: print it)",
    )(command)
    command = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="markdown",
        show_default=True,
        help="markdown (fits a pull-request comment), html (one self-contained page) or json",
    )(command)
    return click.option(
        "--against",
        metavar="ENV",
        default=PROD,
        show_default=True,
        help="the env to compare with (what a deploy would replace)",
    )(command)


def render_report(made: Review, fmt: str) -> str:
    """The review as ``fmt`` text (markdown, html or json)."""
    if fmt == "json":
        from ..render.review import to_json

        return to_json(made)
    if fmt == "html":
        from ..render.review_html import to_html

        return to_html(made)
    from ..render.review_md import to_markdown

    return to_markdown(made)


def write_report(text: str, output: Path | None, fmt: str) -> str:
    """Write ``text`` to ``output`` (or print it); return the one line that says where."""
    if output is None:
        click.echo(text, nl=False)
        return f"{fmt} report printed"
    if not output.parent.is_dir():
        raise CliUsageError(
            f"--output {output}: the folder {output.parent} does not exist; create it or "
            "name a file in an existing folder."
        )
    output.write_text(text, encoding="utf-8")
    return f"{fmt} report written to {output} ({len(text):,} characters)"


@click.command()
@click.option(
    "--env",
    metavar="ENV",
    envvar="NBASSETS_ENV",
    default=None,
    help=f"the sandbox that holds the change (default: $NBASSETS_ENV, else {_DEV_STORE})",
)
@report_options
@pass_cli
def report(cli: _Cli, env: str | None, against: str, fmt: str, output: Path | None) -> None:
    """A reviewer's summary of a change: --env against --against.

    Which assets' code changed (with the code diff against the source --against's version
    was built from: each build records it, so no git history is needed), the data diff of
    each changed asset and each asset downstream of one (rows, schema, keyed row changes
    with samples), their check and test results, and what a deploy to --against rebuilds.
    The report informs; `nbassets verify` decides pass or fail (exit 0 once it is made).
    """
    from ..review import review

    project = cli.project
    env = env or default_dev_env(project)
    text = render_report(review(project, env, against), fmt)
    where = write_report(text, output, fmt)
    if output is not None:
        click.echo(where)
