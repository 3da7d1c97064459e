"""The public Python API and the package surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import write_notebook, write_prod

import nbassets
from nbassets.errors import AssetNotFound, ConfigError


def test_public_names() -> None:
    assert sorted(nbassets.__all__) == sorted(
        [
            "AssetStatus",
            "Materialization",
            "NbAssetsError",
            "Project",
            "__version__",
            "load",
            "load_ipython_extension",
            "save",
            "status",
            "unload_ipython_extension",
        ]
    )


def test_import_is_cheap() -> None:
    code = (
        "import sys, nbassets\n"
        "heavy = {'pandas', 'pyarrow', 'duckdb', 'ipywidgets', 'dagster', 'IPython', 'polars'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_latest_and_earlier_versions(project: Path) -> None:
    first = write_prod(project, "orders", pd.DataFrame({"a": [1]}))
    write_prod(project, "orders", pd.DataFrame({"a": [1, 2]}))
    assert nbassets.load("orders")["a"].tolist() == [1, 2]
    assert nbassets.load("orders", version=first[:10])["a"].tolist() == [1]
    with pytest.raises(
        AssetNotFound, match="asset 'ordrs' is not stored in env 'prod'.*Did you mean 'orders'"
    ):
        nbassets.load("ordrs")
    with pytest.raises(AssetNotFound, match="version 'ffff' of asset 'orders'"):
        nbassets.load("orders", version="ffff")


def test_status_without_a_kernel_reads_notebooks_and_stores(project: Path) -> None:
    write_prod(project, "raw", pd.DataFrame({"a": [1]}))
    write_notebook(project / "notebooks" / "n.ipynb", {"c1": "%%asset clean\nraw[raw.a > 0]"})
    rows = {row.key: row for row in nbassets.status()}
    assert rows["raw"].label == "fresh" and rows["raw"].env == "prod"
    assert rows["clean"].label == "missing: never built"


def test_project_find_and_config_errors(project: Path) -> None:
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    found = nbassets.Project.find(nested)
    assert found.root == project and found.prod_path == project / "warehouse"
    assert found.config.main_branch == "main" and found.sandbox_root == project / ".nbassets"
    (project / "pyproject.toml").write_text('[tool.nbassets]\nprd = "x"\n')
    with pytest.raises(
        ConfigError, match="unknown \\[tool.nbassets\\] key\\(s\\) 'prd'; valid keys are"
    ):
        nbassets.Project.find(project)
    (project / "pyproject.toml").write_text("[tool.nbassets]\nprod = 3\n")
    with pytest.raises(ConfigError, match="prod must be a non-empty string"):
        nbassets.Project.find(project)
    (project / "pyproject.toml").write_text('[tool.nbassets]\nprod = "s3://bucket/wh"\n')
    with pytest.raises(ConfigError, match="is a URL, so production.s catalog cannot be a SQLite"):
        _ = nbassets.Project.find(project).prod_path


def test_project_falls_back_to_git_root_then_cwd(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "sub").mkdir()
    assert nbassets.Project.find(tmp_path / "repo" / "sub").root == tmp_path / "repo"
    (tmp_path / "plain").mkdir()
    assert nbassets.Project.find(tmp_path / "plain").root == tmp_path / "plain"


def test_save_records_an_external_version_with_provenance(project: Path) -> None:
    record = nbassets.save("ingested", pd.DataFrame({"a": [1, 2]}))
    assert record.env == "prod" and record.code_version == "external" and record.rows == 2
    assert record.source.endswith(
        "test_api.py:test_save_records_an_external_version_with_provenance"
    )
    assert record.user == "tester"
    assert nbassets.load("ingested")["a"].tolist() == [1, 2]
    sandbox = nbassets.save("scratch", {"x": 1}, env="dev-tester-nogit")
    assert sandbox.io == "pickle" and nbassets.load("scratch", env="dev-tester-nogit") == {"x": 1}
    with pytest.raises(nbassets.NbAssetsError, match="is not a valid asset key"):
        nbassets.save("Bad", 1)


def test_importing_the_package_loads_no_core() -> None:
    """Generated modules (``nbassets.runtime``) and the pytest plugin import the package: it
    stays cheap, and the core loads when ``load``/``save``/``status`` are first called."""
    script = (
        "import sys, nbassets, nbassets.runtime, nbassets.pytest_plugin\n"
        "heavy = {'nbassets.api', 'nbassets.model', 'nbassets.build', 'pandas', 'pyarrow', 'duckdb'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "assert callable(nbassets.status) and nbassets.status.__module__ == 'nbassets'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
