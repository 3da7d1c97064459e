"""Issue 10, finding 9 (its first three items): small findings, each reproduced for real.

- Magic lines are split as a POSIX shell splits them (``shlex``: quotes removed), in every
  magic: ``%diff --key 'sp ace'`` means the column ``sp ace``.
- A ``--check`` rule on a column of the wrong type is a clear check error naming the
  column, its type and what the rule needs (``fresh()`` on a float column).
- A notebook path too long for the filesystem is a JSON 400 from the server, not a 500.

Real shell, real Parquet files and DuckDB, a real Jupyter server over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import TestingShell, unchanged, write_prod
from IPython.core.error import UsageError
from tornado.httpclient import HTTPClientError, HTTPResponse

from nbassets.checks.rules import parse_rule, run_rule

pytest_plugins = ("pytest_jupyter.jupyter_server",)

Fetch = Callable[..., Awaitable[HTTPResponse]]

SPACED = "import pandas as pd\npd.DataFrame({'sp ace': [1, 2, 3], 'amount': [1.0, 2.5, 3.0]})"


# --- magic lines split as a POSIX shell splits them -----------------------------------------------


def test_diff_key_with_a_space_is_unquoted(shell: TestingShell, project: Path) -> None:
    write_prod(project, "orders", pd.DataFrame({"sp ace": [1, 2], "amount": [1.0, 2.0]}))
    with unchanged(project / "warehouse"):
        shell.run_cell(f"%%asset orders --no-preview\n{SPACED}")
        single = shell.run_cell("%diff orders --key 'sp ace'").result
        double = shell.run_cell('%diff orders --key "sp ace" --against "prod"').result
    assert single.key == ("sp ace",)
    assert double.key == ("sp ace",) and (double.old_rows, double.new_rows) == (2, 3)


def test_lineage_name_in_quotes_is_unquoted(shell: TestingShell) -> None:
    shell.run_cell("%%asset a --no-preview\n1")
    shell.run_cell("%%asset b --no-preview\na + 1")
    shell.run_cell("%%asset lonely --no-preview\n0")
    focused = shell.run_cell("%lineage 'b'").result.to_text()
    assert "a -> b" in focused and "lonely" not in focused


def test_every_line_magic_refuses_unbalanced_quotes(shell: TestingShell, production: Path) -> None:
    """A line a POSIX shell cannot split is a UsageError that names the line, in every magic."""
    shell.run_cell("%%asset a --no-preview\n1")
    lines = ("%diff a --key 'x", "%lineage 'a", "%materialize 'a", "%check 'a", "%nbassets 'x")
    with unchanged(production):
        for line in lines:
            with pytest.raises(UsageError, match="cannot parse|No closing quotation"):
                shell.run_cell(line)


def test_diff_and_lineage_help_still_lists_their_options(shell: TestingShell) -> None:
    assert "--against" in (shell.find_line_magic("diff").__doc__ or "")
    assert "--key" in (shell.find_line_magic("diff").__doc__ or "")
    assert "name" in (shell.find_line_magic("lineage").__doc__ or "")


# --- a rule on a column of the wrong type ---------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "dtype"), [("amount", "DOUBLE"), ("count", "BIGINT"), ("label", "VARCHAR")]
)
def test_fresh_on_a_column_that_is_not_a_date_is_a_clear_error(
    tmp_path: Path, column: str, dtype: str
) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"amount": [1.5, 2.0], "count": [1, 2], "label": ["a", "b"]}).to_parquet(path)
    rule = parse_rule(f'fresh("{column}", max_age="1d")')
    result = run_rule(rule, "orders", "dv", path, None, lambda key: path)
    assert result.outcome == "error" and not result.passed and result.failing_rows is None
    assert result.error is not None and "TypeError" not in result.error
    assert f"column {column!r}" in result.error and dtype in result.error
    assert "date or timestamp" in result.error


def test_fresh_still_accepts_dates_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    today = pd.Timestamp.now(tz="UTC").normalize()
    pd.DataFrame(
        {"day": [today.date()], "at": [today.tz_localize(None)], "utc": [today]}
    ).to_parquet(path)
    for column in ("day", "at", "utc"):
        rule = parse_rule(f'fresh("{column}", max_age="2d")')
        result = run_rule(rule, "t", "dv", path, None, lambda key: path)
        assert result.passed and result.error is None, result


# --- an over-long notebook path -------------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbassets": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
    }


async def _refused(request: Awaitable[HTTPResponse]) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await request
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["message"]


LONG_PATHS = [
    pytest.param("n" * 300 + ".ipynb", id="long-name"),
    pytest.param("/".join(["d" * 200] * 30) + "/x.ipynb", id="long-path"),
]


@pytest.mark.parametrize("path", LONG_PATHS)
async def test_a_very_long_path_is_a_json_400(
    jp_fetch: Fetch, jp_root_dir: Path, path: str
) -> None:
    for route in ("assets", "lineage"):
        code, message = await _refused(jp_fetch("nbassets", "api", route, params={"path": path}))
        assert code == 400 and "too long" in message, (route, code, message)
    body = json.dumps({"path": path})
    code, message = await _refused(jp_fetch("nbassets", "api", "export", method="POST", body=body))
    assert code == 400 and "too long" in message, ("export", code, message)
