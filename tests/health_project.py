"""A production with something wrong on every side, built by the real CLI in a real git
repository: what the production view (``nbassets.health``, the panel) must show.

- ``orders`` has ``--fresh 'max_age=1h'`` and was built a day before "now": late.
- ``summary`` fails its error check ``row_count(min=5)`` (it has one row): check-failed.
- ``events`` is daily from seven days before today. Its first six days were built; then its
  code changed and only days 4 to 6 were rebuilt. At "now" (the day after tomorrow, 01:00
  UTC) nine days are complete: 3 stale, 3 built, 3 missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import nbformat
import pandas as pd
from click.testing import CliRunner
from helpers import git, write_notebook, write_prod

from nbassets.cli import main


@dataclass(frozen=True)
class HealthProject:
    root: Path
    now: datetime  # the "now" to pin (NBASSETS_NOW) when looking at it
    start: date  # the first day of events

    def day(self, offset: int) -> str:
        return (self.start + timedelta(days=offset)).isoformat()


def _cells(start: date, events: str) -> dict[str, str]:
    return {
        "c0": "# nbassets: export\nimport pandas as pd",
        "c1": "%%asset orders --key id --fresh 'max_age=1h'\nraw_orders[raw_orders.amount > 0]",
        "c2": "%%asset summary --check 'row_count(min=5)'\n"
        "pd.DataFrame({'total': [orders.amount.sum()]})",
        "c3": f"%%asset events --partition daily:{start.isoformat()}\n{events}",
    }


def _cli(root: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(root), *args])
    assert result.exit_code == code, result.output
    return result.output


def _deploy(root: Path, start: date, events: str, message: str) -> None:
    notebook = write_notebook(root / "notebooks" / "shop.ipynb", _cells(start, events))
    saved = nbformat.read(notebook, as_version=4)  # a kernel, so JupyterLab opens it at once
    saved.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)"}
    nbformat.write(saved, notebook)
    _cli(root, "export", str(root / "notebooks" / "shop.ipynb"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


def build_health_project(root: Path) -> HealthProject:
    """Build the production described above in ``root`` (a project folder, prod = warehouse)."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=7)
    project = HealthProject(root, datetime.combine(today + timedelta(days=2), time(1), UTC), start)
    (root / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    raw = pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0]})
    write_prod(root, "raw_orders", raw)
    git(root, "init", "-q", "-b", "main")
    _deploy(root, start, "pd.DataFrame({'day': [str(partition)]})", "shop")
    first = f"events[{project.day(0)}..{project.day(5)}]"
    out = _cli(root, "materialize", "--no-progress", "--select", "orders+", "--select", first,
               code=1)  # fmt: skip
    assert "built 7 asset(s) in prod" in out and "check failed  summary" in out, out  # as meant
    _deploy(root, start, "pd.DataFrame({'day': [str(partition)], 'n': [1]})", "events: n")
    _cli(
        root,
        "materialize",
        "--no-progress",
        "--select",
        f"events[{project.day(3)}..{project.day(5)}]",
    )
    return project
