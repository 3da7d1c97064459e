"""Issue 10, finding 7: a cycle is refused at export and in a fresh kernel, naming it.

DESIGN §5: "A cycle is refused at export as in the kernel." The kernel knows more than its
own cells: an asset it does not define has the upstreams its current version read, as the
sandbox and production catalogs record them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import TestingShell, write_notebook
from IPython.core.error import UsageError

from nbassets.cli import main
from nbassets.config import Project
from nbassets.errors import CycleError
from nbassets.exporter import export_notebooks
from nbassets.store.sqlite_catalog import SqliteCatalog

CATALOG = Path(".nbassets/dev-tester-nogit/catalog.sqlite")

# production holds versions too, and is byte-identical after every test (conftest)
pytestmark = pytest.mark.usefixtures("production_untouched")


# --- export ---------------------------------------------------------------------------------


def notebook(project: Path, name: str, cells: dict[str, str]) -> Path:
    return write_notebook(project / "notebooks" / name, cells)


def test_export_refuses_a_cycle_of_deps_options_naming_it(project: Path) -> None:
    path = notebook(
        project,
        "loop.ipynb",
        {"c1": "%%asset a --deps b\na = 1", "c2": "%%asset b --deps a\nb = 2"},
    )
    with pytest.raises(CycleError, match="dependency cycle: a -> b -> a"):
        export_notebooks(Project.find(project), [path])
    assert not (project / "pipelines").exists()


def test_export_refuses_a_cycle_of_inferred_deps(project: Path) -> None:
    path = notebook(
        project,
        "loop.ipynb",
        {
            "c1": "%%asset a\na = c + 1",
            "c2": "%%asset b\nb = a * 2",
            "c3": "%%asset c\nc = b - 1",
        },
    )
    with pytest.raises(CycleError, match="dependency cycle: a -> b -> c -> a"):
        export_notebooks(Project.find(project), [path])
    assert not (project / "pipelines").exists()


def test_export_refuses_a_cycle_across_notebooks_and_writes_nothing(project: Path) -> None:
    first = notebook(project, "first.ipynb", {"c1": "%%asset a\na = b + 1"})
    second = notebook(project, "second.ipynb", {"c1": "%%asset b\nb = a * 2"})
    with pytest.raises(CycleError, match="dependency cycle: a -> b -> a"):
        export_notebooks(Project.find(project), [first, second])
    assert not (project / "pipelines").exists()


def test_export_check_refuses_a_cycle_too(project: Path) -> None:
    path = notebook(project, "loop.ipynb", {"c1": "%%asset a\na = 1", "c2": "%%asset b\nb = a"})
    export_notebooks(Project.find(project), [path])  # acyclic: written
    before = (project / "pipelines" / "loop.py").read_bytes()
    notebook(project, "loop.ipynb", {"c1": "%%asset a\na = b", "c2": "%%asset b\nb = a"})
    with pytest.raises(CycleError, match="a -> b -> a"):
        export_notebooks(Project.find(project), [path], check=True)
    with pytest.raises(CycleError, match="a -> b -> a"):
        export_notebooks(Project.find(project), [path])
    assert (project / "pipelines" / "loop.py").read_bytes() == before


@pytest.mark.parametrize("check", [False, True], ids=["export", "export --check"])
def test_cli_export_refuses_a_cycle_naming_it(project: Path, check: bool) -> None:
    notebook(
        project,
        "loop.ipynb",
        {"c1": "%%asset a --deps b\na = 1", "c2": "%%asset b --deps a\nb = 2"},
    )
    args = ["export", "notebooks/loop.ipynb", *(["--check"] if check else [])]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1, result.output  # a DependencyError, as in materialize
    assert "error: dependency cycle: a -> b -> a" in result.output
    assert not (project / "pipelines").exists()


def test_export_of_an_acyclic_notebook_across_notebooks_still_works(project: Path) -> None:
    first = notebook(project, "first.ipynb", {"c1": "%%asset a\na = 1"})
    second = notebook(project, "second.ipynb", {"c1": "%%asset b\nb = a * 2"})
    result = export_notebooks(Project.find(project), [first, second])
    assert (project / "pipelines" / "second.py") in result.written


# --- a fresh kernel ---------------------------------------------------------------------------


def fresh_kernel(shell: TestingShell) -> None:
    """Forget every cell run so far, as a restarted kernel does; the stores stay."""
    shell.run_cell("%unload_ext nbassets")
    shell.reset(new_session=False)
    shell.run_cell("%load_ext nbassets")


def records(key: str) -> int:
    return len(SqliteCatalog(CATALOG, writable=False).history(key))


def build_a_then_b(shell: TestingShell) -> None:
    shell.run_cell("%%asset a --no-preview\nimport pandas as pd\na = pd.DataFrame({'x': [1, 2]})")
    shell.run_cell("%%asset b --no-preview\nb = a[['x']]")


@pytest.mark.parametrize(
    "body", ["a = b[['x']]", "a = 1"], ids=["inferred", "deps"]
)  # the second reads b only through --deps
def test_a_fresh_kernel_refuses_a_cycle_through_recorded_lineage(
    shell: TestingShell, body: str
) -> None:
    build_a_then_b(shell)
    fresh_kernel(shell)
    shell.user_ns["ran"] = []
    deps = " --deps b" if body == "a = 1" else ""
    with pytest.raises(UsageError, match="dependency cycle: a -> b -> a"):
        shell.run_cell(f"%%asset a --no-preview{deps}\nran.append(1)\n{body}")
    assert shell.user_ns["ran"] == []  # refused before any code ran
    assert "a" not in shell.user_ns
    assert records("a") == 1  # nothing recorded
    assert records("b") == 1


def test_a_fresh_kernel_refuses_a_longer_cycle_half_defined_here(shell: TestingShell) -> None:
    build_a_then_b(shell)
    shell.run_cell("%%asset c --no-preview\nc = b[['x']]")
    fresh_kernel(shell)
    shell.run_cell("%%asset b --no-preview\nb = a[['x']]")  # same lineage as recorded: fine
    with pytest.raises(UsageError, match="dependency cycle: a -> b -> c -> a"):
        shell.run_cell("%%asset a --no-preview\na = c[['x']]")
    assert records("a") == 1


def test_a_fresh_kernel_accepts_the_lineage_it_recorded(shell: TestingShell) -> None:
    build_a_then_b(shell)
    fresh_kernel(shell)
    shell.run_cell("%%asset b --no-preview\nb = a[['x']] * 2")
    shell.run_cell("%%asset a --no-preview\nimport pandas as pd\na = pd.DataFrame({'x': [3]})")
    assert records("a") == 2
    assert records("b") == 2
