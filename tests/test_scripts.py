"""The README's scripts, run for real: the quickstart's venv, then the test command in it.

Issue 11 item 9: `bash scripts/test.sh` right after `bash scripts/quickstart.sh` failed with
`.venv/bin/ruff: No such file or directory`, the quickstart's venv lacking the test extras.
The venv here is a temporary one (both scripts honour ``VENV``), so the repository's own
`.venv` is never touched; nothing recurses into `.ci/run`. It installs from the package index
as a user's machine does: 2.5 to 3 minutes here (1.5 for the quickstart's install, 1 for the
test extras and the collection).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("ruff", "mypy", "lint-imports", "pytest")


def run_script(script: str, *args: str, venv: Path) -> str:
    """Run ``bash scripts/<script> args`` with ``VENV=venv``; return its output (it must pass)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["VENV"] = str(venv)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{script} {' '.join(args)} exited {done.returncode}:\n{out}"
    return out


def test_the_test_command_works_straight_after_the_quickstart(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run_script("quickstart.sh", "--install-only", venv=venv)
    assert (venv / "bin" / "jupyter").is_file()  # the quickstart's own extras
    assert not any((venv / "bin" / tool).exists() for tool in TOOLS)  # the case that broke

    out = run_script("test.sh", "--collect-only", "-q", venv=venv)

    assert f"{venv} has no ruff: installing the test extras" in out
    for tool in TOOLS:
        assert os.access(venv / "bin" / tool, os.X_OK), f"{tool} was not installed"
    collected = re.search(r"^(\d+) tests collected in ", out, re.MULTILINE)  # no errors
    assert collected, out[-3000:]
    assert int(collected.group(1)) > 500
    assert "tests/test_scripts.py::test_the_test_command_works_straight_after_the_quickstart" in out
