"""The exporter: notebooks to plain, deterministic modules, and `--check`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import write_notebook

from nbassets.config import Project
from nbassets.errors import SpecError
from nbassets.exporter import export_notebooks, module_text
from nbassets.source import analyze_body

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = Path(__file__).parent / "resources"


@pytest.fixture
def notebooks(project: Path) -> Path:
    folder = project / "notebooks"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", folder)
    shutil.copy(RESOURCES / "shop.ipynb", folder)
    return folder


def export(project: Path, *names: str, check: bool = False):  # type: ignore[no-untyped-def]
    paths = [project / "notebooks" / name for name in names]
    return export_notebooks(Project.find(project), paths, check=check)


def test_export_writes_plain_modules_that_lint_and_import_without_ipython(
    project: Path, notebooks: Path
) -> None:
    result = export(project, "quickstart.ipynb", "shop.ipynb")
    package = project / "pipelines"
    assert sorted(p.relative_to(project).as_posix() for p in result.written) == [
        "pipelines/__init__.py",
        "pipelines/definitions.py",
        "pipelines/quickstart.py",
        "pipelines/shop.py",
        "pipelines/tests/__init__.py",
        "pipelines/tests/test_quickstart.py",  # the quickstart's %%test cell
    ]
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", str(package)],
        capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    probe = (
        "import sys, pipelines.quickstart as q, pipelines.shop as s\n"
        "assert 'IPython' not in sys.modules, 'IPython imported'\n"
        "assert 'nbassets.magics' not in sys.modules\n"
        "print(sorted(a.key for a in q.ASSETS + s.ASSETS), len(q.CHECKS + s.CHECKS))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=project, check=True
    )
    keys = ["customer_revenue", "customers", "daily_revenue", "orders", "orders", "region_revenue",
            "spend", "summary"]  # fmt: skip
    assert out.stdout.strip() == f"{keys} 3"


def test_the_module_mirrors_the_notebook(project: Path, notebooks: Path) -> None:
    text = module_text(Project.find(project), notebooks / "shop.ipynb")
    assert text.startswith('"""Assets of notebooks/shop.ipynb, exported by nbassets.')
    assert (
        "from datetime import date\n\nimport numpy as np\nimport pandas as pd\n"
        "from nbassets.runtime import ExportedAsset, ExportedCheck, sql_asset\n\n# %%"
    ) in text
    assert "scratch" not in text and "%assets" not in text and "load_ext" not in text
    assert (
        "# %% notebooks/shop.ipynb :: orders\ndef orders():\n    # one order per customer and day"
        in text
    )
    assert "    orders = frame\n    return orders\n" in text
    assert "def spend(customers, orders):\n    return sql_asset(" in text
    assert (
        "rules=(\"not_null('order_id')\", \"between('total', 0, 1000, severity='warn')\")," in text
    )
    assert '  text keeps\n    its indentation"""}' in text  # a multi-line string keeps its value
    assert 'deps=("customers", "orders"),' in text
    body = "'customers': len(spend)"
    assert body in text


def test_code_versions_match_the_notebook(project: Path, notebooks: Path) -> None:
    export(project, "shop.ipynb")
    namespace: dict = {}
    exec((project / "pipelines" / "shop.py").read_text(), namespace)
    by_key = {asset.key: asset for asset in namespace["ASSETS"]}
    source = nbformat.read(notebooks / "shop.ipynb", as_version=4).cells[6].source
    assert by_key["orders"].code_version  # computed like the kernel does:
    from nbassets.definitions import define
    from nbassets.spec import join_continued_lines, parse_asset_line

    line, body = join_continued_lines(*source.removeprefix("%%asset").split("\n", 1))
    definition = define(parse_asset_line(line), body, set())
    assert by_key["orders"].code_version == definition.code_version
    assert analyze_body("orders", body).code_version() != ""


def test_export_is_deterministic_and_ignores_outputs_ids_and_counts(
    project: Path, notebooks: Path
) -> None:
    first = export(project, "shop.ipynb")
    before = (project / "pipelines" / "shop.py").read_bytes()
    again = export(project, "shop.ipynb")
    assert again.written == [] and len(again.unchanged) == 3
    nb = json.loads((notebooks / "shop.ipynb").read_text())
    for number, cell in enumerate(nb["cells"]):
        cell["id"] = f"renumbered-{number}"  # as nbstripout and friends do
        if cell["cell_type"] == "code":
            cell["execution_count"] = number * 7
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "noise"}]
    nb["metadata"]["widgets"] = {"state": {"x": 1}}
    (notebooks / "shop.ipynb").write_text(json.dumps(nb))
    assert export(project, "shop.ipynb", check=True).stale == {}
    assert (project / "pipelines" / "shop.py").read_bytes() == before
    assert first.written


def test_a_jupytext_percent_file_exports_the_same_functions(project: Path, notebooks: Path) -> None:
    jupytext = pytest.importorskip("jupytext")
    jupytext.write(
        jupytext.read(notebooks / "shop.ipynb"), notebooks / "shop_py.py", fmt="py:percent"
    )
    project_obj = Project.find(project)
    from_ipynb = module_text(project_obj, notebooks / "shop.ipynb")
    from_py = module_text(project_obj, notebooks / "shop_py.py")
    assert from_py.replace("notebooks/shop_py.py", "notebooks/shop.ipynb") == from_ipynb


def test_check_fails_after_an_edit_and_passes_after_export(project: Path, notebooks: Path) -> None:
    export(project, "shop.ipynb")
    nb = nbformat.read(notebooks / "shop.ipynb", as_version=4)
    nb.cells[9].source = nb.cells[9].source.replace("len(spend)", "len(spend) + 1")
    nbformat.write(nb, notebooks / "shop.ipynb")
    stale = export(project, "shop.ipynb", check=True).stale
    ((path, diff),) = stale.items()
    assert path.name == "shop.py"
    assert "-    return {'customers': len(spend), " in diff
    assert "+    return {'customers': len(spend) + 1, " in diff
    assert "code_version" in diff
    export(project, "shop.ipynb")
    assert export(project, "shop.ipynb", check=True).stale == {}


def test_a_comment_only_edit_keeps_the_code_version_but_changes_the_module(
    project: Path, notebooks: Path
) -> None:
    """Decision: comments are kept in the module (reviewers read them), so `--check` asks for a
    re-export; the code version does not change, so nothing needs rebuilding."""
    export(project, "shop.ipynb")
    before = (project / "pipelines" / "shop.py").read_text()
    nb = nbformat.read(notebooks / "shop.ipynb", as_version=4)
    nb.cells[6].source = nb.cells[6].source.replace("# one order", "# exactly one order")
    nbformat.write(nb, notebooks / "shop.ipynb")
    ((_, diff),) = export(project, "shop.ipynb", check=True).stale.items()
    assert "exactly one order" in diff and "code_version" not in diff
    changed = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
    assert len(changed) == 2 and all(line[1:].strip().startswith("#") for line in changed)
    export(project, "shop.ipynb")
    assert (project / "pipelines" / "shop.py").read_text() != before


def test_an_unexported_name_is_an_error_naming_cell_name_and_fix(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "n.ipynb", {
        "a": "import pandas as pd", "b": "%%asset t\npd.DataFrame({'x': [1]})",
    })  # fmt: skip
    with pytest.raises(SpecError) as info:
        module_text(Project.find(project), notebook)
    assert str(info.value) == (
        "When exporting asset 't' (cell 2), it uses name 'pd' that no exported cell defines: "
        "tag the cell that defines it with 'export' (or start it with '# nbassets: export')."
    )


def test_names_bound_nowhere_are_assets_read_from_a_store(project: Path) -> None:
    notebook = write_notebook(
        project / "notebooks" / "n.ipynb", {"a": "%%asset t\nlen(raw_events)"}
    )
    text = module_text(Project.find(project), notebook)
    assert "def t(raw_events):\n    return len(raw_events)\n" in text


def test_magics_whose_names_only_start_like_asset_or_check_are_other_cells(
    project: Path,
) -> None:
    notebook = write_notebook(project / "notebooks" / "n.ipynb", {
        "a": "%%asset orders\norders = 1",
        "b": "%%assets\nsummary = 2",
        "c": "%%asset_x orders\ny = 3",
        "d": "%%checkpoint orders\nassert orders",
        "e": "%%checks orders --name z\nassert orders",
    })  # fmt: skip
    text = module_text(Project.find(project), notebook)
    assert "def orders():\n    orders = 1\n    return orders\n" in text
    assert "ASSETS = (\n    ExportedAsset(\n        key='orders'," in text.replace('"', "'")
    assert text.count("ExportedAsset(\n") == 1 and "def s(" not in text
    assert "ExportedCheck" not in text and "summary" not in text


def test_only_the_exact_export_marker_exports_a_cell(project: Path) -> None:
    notebook = write_notebook(project / "notebooks" / "n.ipynb", {
        "a": "# nbassets: export\nRATE = 2",
        "b": "# nbassets: exported\nOTHER = 3",
        "c": "%%asset t\nRATE * len(raw)",
    })  # fmt: skip
    text = module_text(Project.find(project), notebook)
    assert "RATE = 2\n" in text and "OTHER" not in text and "nbassets: export" not in text


def test_exported_functions_compute_what_the_cells_compute(project: Path, notebooks: Path) -> None:
    export(project, "shop.ipynb")
    namespace: dict = {}
    exec((project / "pipelines" / "shop.py").read_text(), namespace)
    orders = namespace["orders"]()
    assert orders.total.tolist() == [12.0, 24.0, 6.6, 9.6, 1.2, 840.0]
    assert namespace["check_spend__everyone_spent"](orders.assign(spend=1)).empty


def test_modules_of_the_export_package_are_not_notebooks(project: Path, notebooks: Path) -> None:
    export(project, "shop.ipynb")
    module = project / "pipelines" / "shop.py"
    with pytest.raises(SpecError, match="is inside the export package 'pipelines'"):
        export_notebooks(Project.find(project), [module])


def test_concurrent_exports_never_collide(project: Path, notebooks: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: export(project, "shop.ipynb"), range(24)))
    assert all(isinstance(r.written, list) for r in results)
    assert not [p for p in (project / "pipelines").iterdir() if p.name.endswith(".tmp")]
