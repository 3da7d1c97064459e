"""Issue 10, finding 3: each way the production guard was once bypassed, kept as a regression test.

Real git repositories, real files, the CLI through click's runner, the server's export function.
The project is the one of ``tests/test_policy.py`` (``pipelines/`` copied from
``tests/resources/dagster_pkg``, production and the sandbox ``ci-x`` seeded); production's whole
tree (``helpers.unchanged``: every file's bytes and mode, every folder and link) and its
catalog's row counts must be unchanged by every attack.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import TestingShell, tree_digest, unchanged, write_notebook, write_prod
from test_policy import (  # the same project and situations as the policy's own suite
    CLEAN,
    DIRTY,
    IGNORED,
    SANDBOX,
    _fresh_package,  # noqa: F401  (autouse: each test imports its own project's package)
    arrange,
    assert_refused,
    cli,
    prod_state,
    query,
    run_command,
)

from nbassets.errors import ConfigError


def configure(project: Path, **settings: str) -> None:
    lines = [f"{name} = {value!r}" for name, value in {"prod": "warehouse", **settings}.items()]
    (project / "pyproject.toml").write_text("[tool.nbassets]\n" + "\n".join(lines) + "\n")


# --- a git-ignored module in the export package ----------------------------------------------


def test_materialize_prod_refuses_a_package_module_that_git_ignores(project: Path) -> None:
    arrange(project, IGNORED)
    before = prod_state(project)

    with unchanged(project / "warehouse"):
        result = run_command("materialize", "prod")

    assert_refused(result, "imports 'pipelines/helpers.py', which git does not track")
    assert prod_state(project) == before


# --- a sandbox_root that hides the tree from git status --------------------------------------


@pytest.mark.parametrize("sandbox_root", [".", "./", ".."])
def test_a_sandbox_root_that_holds_the_project_is_a_configuration_error(
    project: Path, sandbox_root: str
) -> None:
    arrange(project, CLEAN)
    configure(project, sandbox_root=sandbox_root)
    (project / "notes.txt").write_text("untracked: the tree is dirty\n")
    before = prod_state(project)

    with unchanged(project / "warehouse"):
        result = run_command("materialize", "prod")

    assert_refused(result, "sandbox_root", code=2)
    assert prod_state(project) == before


# --- git failures ----------------------------------------------------------------------------


def corrupt_index(project: Path) -> None:
    (project / ".git" / "index").write_bytes(b"DIRC garbage, not an index\n" * 4)


@pytest.mark.parametrize("command", ["materialize", "check", "gc"])
@pytest.mark.parametrize("flags", [(), ("--allow-dirty",)], ids=["plain", "allow-dirty"])
def test_a_corrupt_git_index_refuses_production(
    project: Path, command: str, flags: tuple[str, ...]
) -> None:
    arrange(project, CLEAN)
    corrupt_index(project)
    before = prod_state(project)

    with unchanged(project / "warehouse"):
        result = run_command(command, "prod", *flags)

    assert_refused(result, "git status")
    assert prod_state(project) == before


def test_a_corrupt_git_index_records_a_sandbox_build_as_dirty_unknown(project: Path) -> None:
    head = arrange(project, CLEAN)
    corrupt_index(project)
    before = query(project, SANDBOX, "SELECT coalesce(max(id), 0) FROM materializations")[0][0]

    with unchanged(project / "warehouse"):
        result = run_command("materialize", SANDBOX)

    assert result.exit_code == 0, result.output
    recorded = query(
        project, SANDBOX, f'SELECT "commit", dirty FROM materializations WHERE id > {before}'
    )
    assert recorded and set(recorded) == {(head, None)}


# --- gc --env prod ---------------------------------------------------------------------------


def test_gc_prod_is_guarded_like_every_production_write(project: Path) -> None:
    arrange(project, DIRTY)
    before = prod_state(project)

    with unchanged(project / "warehouse"):
        result = run_command("gc", "prod")
    assert_refused(result, "refusing to build production from a dirty tree")
    assert prod_state(project) == before


def test_gc_prod_is_refused_with_an_ipython_shell_in_the_process(
    project: Path, _shell: TestingShell
) -> None:
    arrange(project, CLEAN)
    before = prod_state(project)

    with unchanged(project / "warehouse"):
        result = run_command("gc", "prod")
    assert_refused(result, "from a process running an IPython shell")
    assert prod_state(project) == before


# --- an export_package outside the project ---------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("not the project's\n")
    return folder


def notebook(project: Path) -> Path:
    """The notebook to export, and production (what generated code would run against)."""
    write_prod(project, "total", 41)
    return write_notebook(project / "notebooks" / "x.ipynb", {"a": "%%asset total\n41 + 1"})


def test_an_export_package_outside_the_project_is_a_configuration_error(
    project: Path, outside: Path
) -> None:
    from nbassets.server.handlers import export

    configure(project, export_package=str(outside / "pkg"))
    path = notebook(project)
    before = tree_digest(outside)

    with unchanged(project / "warehouse"):
        with pytest.raises(ConfigError, match="export_package"):
            export(path)  # what the server's POST export runs
        assert_refused(cli("export", str(path)), "export_package", code=2)

    assert tree_digest(outside) == before and not (outside / "pkg").exists()


def test_an_export_package_linked_out_of_the_project_is_refused(
    project: Path, outside: Path
) -> None:
    from nbassets.server.handlers import export

    os.symlink(outside, project / "pipelines")
    path = notebook(project)
    before = tree_digest(outside)

    with unchanged(project / "warehouse"):
        with pytest.raises(ConfigError, match="outside the project"):
            export(path)
        assert_refused(cli("export", "--package", "pipelines", str(path)), "outside", code=2)

    assert tree_digest(outside) == before


def test_an_export_package_must_be_a_dotted_name(project: Path, outside: Path) -> None:
    """``--package`` is checked as the configured name is: no path reaches the exporter."""
    path = notebook(project)
    with unchanged(project / "warehouse"):
        result = cli("export", "--package", str(outside / "pkg"), str(path))

    assert result.exit_code == 2, result.output
    assert not (outside / "pkg").exists()
