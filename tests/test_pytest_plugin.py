"""``pytest --nbassets-env ENV``: every asset's data checks as pytest items (issue 12).

Each test runs pytest in a real process on a real project: a notebook exported with
``nbassets export`` and built with ``nbassets materialize --env ci`` (both real processes too),
plus one plain unit test. Its checks, in build order:

- ``raw_orders``: ``not_null('order_id')`` (passes);
- ``orders``: ``not_null('customer')`` (fails: 2 rows), ``unique('order_id')`` (passes),
  ``row_count(min=10)`` at warn severity (fails: a warning), ``positive_amounts`` (passes).

The project is built once per module and copied into each test's project folder.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git, tree_digest, write_notebook

CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": (
        "%%asset raw_orders --check 'not_null(\"order_id\")'\n"
        "pd.DataFrame({'order_id': [1, 2, 3, 4], 'customer': ['ann', None, 'bob', None],\n"
        "              'amount': [5.0, 1.5, 3.0, 2.0]})"
    ),
    "c2": (
        "%%asset orders --check 'not_null(\"customer\")' --check 'unique(\"order_id\")' "
        "--check 'row_count(min=10, severity=\"warn\")'\n"
        "raw_orders.assign(total=raw_orders.amount * 2)"
    ),
    "c3": "%%check orders --name positive_amounts\norders[orders.amount < 0]",
}
UNIT = "tests/test_unit.py::test_unit"
RAW_NOT_NULL = "pyproject.toml::raw_orders::not_null('order_id')"
FAILING = "pyproject.toml::orders::not_null('customer')"
UNIQUE = "pyproject.toml::orders::unique('order_id')"
WARNING = "pyproject.toml::orders::row_count(min=10)"
POSITIVE = "pyproject.toml::orders::positive_amounts"
CHECKS = [RAW_NOT_NULL, FAILING, UNIQUE, WARNING, POSITIVE]
FAILING_ROWS = [  # the sample of the failing check, as the report aligns it
    "  order_id  customer  amount  total",
    "  2         null      1.5     3.0",
    "  4         null      2.0     4.0",
]


def environ() -> dict[str, str]:
    env = {**os.environ, "NBASSETS_USER": "tester", "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("NBASSETS_ENV", "NBASSETS_ALLOW_DIRTY", "NBASSETS_NO_GIT", "NBASSETS_COMMIT"):
        env.pop(name, None)
    return env


def nbassets(project: Path, *args: str, code: int = 0) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nbassets.cli", *args],
        cwd=project, env=environ(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    return done.stdout


def run_pytest(project: Path, *args: str, as_ci: bool = False) -> tuple[int, str]:
    """pytest in a process of its own in ``project`` (the plugin loads by its entry point).

    ``as_ci``: as a CI job runs it, writing ``.pytest_cache`` and ``__pycache__`` folders.
    """
    env = environ()
    options = ["-rA"] if as_ci else ["-p", "no:cacheprovider", "-rA"]
    if as_ci:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *options, *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def outcomes(output: str) -> dict[str, str]:
    """``{node id: PASSED|FAILED|ERROR}`` from the short test summary (``-rA``)."""
    found = re.findall(r"^(PASSED|FAILED|ERROR) (\S+(?: \S+)*?)(?: - .*)?$", output, re.M)
    return {nodeid: outcome for outcome, nodeid in found}


def check_rows(project: Path, env: str, after: int = 0) -> list[tuple[str, str, int]]:
    """``(key, name, passed)`` of every check result recorded in ``env`` after row ``after``."""
    store = project / ("warehouse" if env == "prod" else f".nbassets/{env}")
    if not (store / "catalog.sqlite").exists():
        return []
    conn = sqlite3.connect(store / "catalog.sqlite")
    try:
        return conn.execute(
            "SELECT key, name, passed FROM check_results WHERE id > ? ORDER BY id", (after,)
        ).fetchall()
    finally:
        conn.close()


def last_check(project: Path, env: str) -> int:
    conn = sqlite3.connect(project / ".nbassets" / env / "catalog.sqlite")
    try:
        return conn.execute("SELECT coalesce(max(id), 0) FROM check_results").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported shop, built into env ``ci`` (its error check fails: exit 1), with a unit test."""
    root = tmp_path_factory.mktemp("shop")
    (root / "pyproject.toml").write_text('[tool.nbassets]\nprod = "warehouse"\n')
    (root / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_notebook(root / "notebooks" / "shop.ipynb", CELLS)
    (root / "tests").mkdir()
    (root / "tests" / "test_unit.py").write_text("def test_unit():\n    assert 1 + 1 == 2\n")
    nbassets(root, "export")
    out = nbassets(root, "materialize", "--env", "ci", "--no-progress", code=1)
    assert "check failed  orders" in out
    return root


@pytest.fixture
def shop(built: Path, project: Path) -> Path:
    """A copy of the built shop as this test's project."""
    shutil.copytree(built, project, dirs_exist_ok=True)
    return project


def with_testpaths(project: Path) -> None:
    """pytest looks only in ``tests/``: it never visits ``pyproject.toml`` by itself."""
    with (project / "pyproject.toml").open("a") as file:
        file.write('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')


# --- acceptance 3 ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["rootdir", "testpaths"])
def test_one_failing_check_fails_exactly_its_item_and_shows_its_rows(
    shop: Path, layout: str
) -> None:
    if layout == "testpaths":
        with_testpaths(shop)

    code, out = run_pytest(shop, "--nbassets-env", "ci")

    assert code == 1, out
    assert outcomes(out) == {
        **dict.fromkeys([UNIT, RAW_NOT_NULL, UNIQUE, WARNING, POSITIVE], "PASSED"),
        FAILING: "FAILED",
    }
    report = out[out.index("= FAILURES =") : out.index("short test summary")]
    assert "FAIL  orders: not_null('customer')  (2 rows with nulls)" in report
    assert "checked orders <- sandbox ci @ " in report and "recorded in env 'ci'" in report
    assert "2 failing row(s), first 2:" in report
    lines = report.splitlines()
    start = lines.index(FAILING_ROWS[0])
    assert lines[start : start + 3] == FAILING_ROWS
    assert "Traceback" not in report and "nbassets/" not in report
    # the warn-severity failure passes with a warning that says why
    assert (
        "DataCheckWarning: WARN  orders: row_count(min=10)  (4 rows, expected at least 10)" in out
    )
    assert "1 failed, 5 passed, 1 warning" in out


def test_without_the_flag_no_item_is_collected(shop: Path) -> None:
    code, plain = run_pytest(shop, "--co", "-q")
    assert code == 0, plain
    assert plain.splitlines()[0] == UNIT and "1 test collected" in plain
    code, unplugged = run_pytest(shop, "--co", "-q", "-p", "no:nbassets")
    assert code == 0 and unplugged.splitlines()[0] == UNIT and "1 test collected" in unplugged
    assert check_rows(shop, "prod") == []


def test_without_the_flag_the_plugin_imports_nothing_heavy(shop: Path) -> None:
    """Loaded by its entry point, it imports only what ``import nbassets`` does: no pandas,
    pyarrow or duckdb, no pipeline, no runner."""
    (shop / "tests" / "test_unit.py").write_text(
        "import sys\n\n\ndef test_modules():\n"
        "    with open('modules.txt', 'w') as file:\n"
        "        file.write('\\n'.join(sorted(sys.modules)))\n"
    )
    code, out = run_pytest(shop, "-q")
    assert code == 0 and "1 passed" in out, out
    loaded = set((shop / "modules.txt").read_text().split())
    assert "nbassets.pytest_plugin" in loaded  # the entry point did load it
    assert not loaded & {"pandas", "pyarrow", "duckdb", "nbassets.pipeline", "nbassets.render"}
    package = subprocess.run(
        [sys.executable, "-c", "import sys, nbassets; print('\\n'.join(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    plugin_only = {m for m in loaded if m.startswith("nbassets")} - set(package)
    assert plugin_only == {"nbassets.pytest_plugin"}


# --- selection ----------------------------------------------------------------------------------


def test_collect_only_lists_the_checks_in_build_order_after_the_tests(shop: Path) -> None:
    with_testpaths(shop)
    code, out = run_pytest(shop, "--nbassets-env", "ci", "--co", "-q")
    assert code == 0, out
    assert out.splitlines()[:6] == [UNIT, *CHECKS]
    assert "6 tests collected" in out


def test_k_and_node_ids_select_checks(shop: Path) -> None:
    with_testpaths(shop)
    before = last_check(shop, "ci")

    code, out = run_pytest(shop, "--nbassets-env", "ci", "-k", "positive or raw_orders")
    assert code == 0, out
    assert outcomes(out) == {POSITIVE: "PASSED", RAW_NOT_NULL: "PASSED"}
    assert "2 passed, 4 deselected" in out

    code, out = run_pytest(shop, "--nbassets-env", "ci", FAILING, UNIQUE)
    assert code == 1 and outcomes(out) == {FAILING: "FAILED", UNIQUE: "PASSED"}, out

    code, out = run_pytest(shop, "--nbassets-env", "ci", "-m", "not nbassets")
    assert code == 0 and outcomes(out) == {UNIT: "PASSED"}, out

    # only what ran is recorded, once: 2 + 2 results
    assert [(k, n) for k, n, _ in check_rows(shop, "ci", before)] == [
        ("raw_orders", "not_null('order_id')"),
        ("orders", "positive_amounts"),
        ("orders", "not_null('customer')"),
        ("orders", "unique('order_id')"),
    ]


def test_x_stops_at_the_failing_check_and_records_only_what_ran(shop: Path) -> None:
    before = last_check(shop, "ci")
    code, out = run_pytest(shop, "--nbassets-env", "ci", "-x", "pyproject.toml")
    assert code == 1 and "stopping after 1 failures" in out, out
    assert outcomes(out) == {RAW_NOT_NULL: "PASSED", FAILING: "FAILED"}
    assert check_rows(shop, "ci", before) == [
        ("raw_orders", "not_null('order_id')", 1),
        ("orders", "not_null('customer')", 0),
    ]


# --- recording, missing versions ----------------------------------------------------------------


def test_results_are_recorded_once_in_the_env_catalog(shop: Path) -> None:
    before = last_check(shop, "ci")
    code, _ = run_pytest(shop, "--nbassets-env", "ci")
    assert code == 1
    assert check_rows(shop, "ci", before) == [
        ("raw_orders", "not_null('order_id')", 1),
        ("orders", "not_null('customer')", 0),
        ("orders", "unique('order_id')", 1),
        ("orders", "row_count(min=10)", 0),
        ("orders", "positive_amounts", 1),
    ]
    # nbassets check reads back what pytest recorded: the same outcomes
    assert "check(s) in ci: 1 failed" in nbassets(shop, "check", "--env", "ci", code=1)


def test_warnings_can_be_made_errors(shop: Path) -> None:
    warning = "nbassets.pytest_plugin.DataCheckWarning"
    code, out = run_pytest(shop, "--nbassets-env", "ci", "-W", f"error::{warning}", WARNING)
    assert code == 1 and outcomes(out) == {WARNING: "FAILED"}, out
    assert "WARN  orders: row_count(min=10)  (4 rows, expected at least 10)" in out


def test_a_check_that_raises_shows_its_traceback_from_its_own_frame(shop: Path) -> None:
    cells = {**CELLS, "c4": "%%check orders --name lookup\norders['nope'].sum() > 0"}
    write_notebook(shop / "notebooks" / "shop.ipynb", cells)
    nbassets(shop, "export")
    lookup = "pyproject.toml::orders::lookup"
    code, out = run_pytest(shop, "--nbassets-env", "ci", lookup)
    assert code == 1 and outcomes(out) == {lookup: "FAILED"}, out
    report = out[out.index("= FAILURES =") : out.index("short test summary")]
    assert "ERROR orders: lookup  (KeyError: 'nope')" in report
    assert "Traceback (most recent call last):" in report
    assert re.search(r'pipelines/shop\.py", line \d+, in check_orders__lookup', report)
    assert "orders['nope'].sum() > 0" in report and "KeyError: 'nope'" in report
    assert "nbassets/" not in report.replace("nbassets materialize", "")


def test_an_env_never_built_fails_every_check_instead_of_checking_prod(shop: Path) -> None:
    code, out = run_pytest(shop, "--nbassets-env", "ci-new")
    assert code == 1, out
    assert outcomes(out) == {UNIT: "PASSED", **dict.fromkeys(CHECKS, "FAILED")}
    assert out.count("env 'ci-new' holds no version of any asset") >= len(CHECKS)
    assert "Build it first: nbassets materialize --env ci-new" in out
    assert check_rows(shop, "ci-new") == []


def test_an_asset_without_a_version_fails_its_checks_and_names_the_build(shop: Path) -> None:
    nbassets(shop, "materialize", "--env", "ci-part", "--select", "raw_orders", "--no-progress")
    code, out = run_pytest(shop, "--nbassets-env", "ci-part", "pyproject.toml")
    assert code == 1, out
    assert outcomes(out) == {
        RAW_NOT_NULL: "PASSED",
        **dict.fromkeys([FAILING, UNIQUE, WARNING, POSITIVE], "FAILED"),
    }
    assert (
        "orders has no version in env 'ci-part' (nor in prod): build it first: "
        "nbassets materialize --env ci-part --select +orders"
    ) in out


def test_a_broken_setup_is_one_collection_error(shop: Path) -> None:
    shutil.rmtree(shop / "pipelines")
    code, out = run_pytest(shop, "--nbassets-env", "ci")
    assert code == 2, out
    assert "ERROR collecting pyproject.toml" in out and "1 error during collection" in out
    assert "the export package 'pipelines'" in out and "run `nbassets export" in out
    assert "Traceback" not in out and out.count("nbassets data checks for env 'ci'") == 1


# --- production: the policy -------------------------------------------------------------------


def test_prod_from_a_dirty_tree_is_refused_once_and_writes_nothing(shop: Path) -> None:
    git(shop, "init", "-q", "-b", "main")
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "shop")
    nbassets(shop, "materialize", "--env", "prod", "--no-progress", code=1)  # check-failed
    (shop / "notes.txt").write_text("not committed\n")
    before = tree_digest(shop / "warehouse")

    code, out = run_pytest(shop, "--nbassets-env", "prod")

    assert code == 2, out
    assert out.count("ERROR collecting pyproject.toml") == 1 and "Traceback" not in out
    assert "nbassets data checks for env 'prod': refusing to build production from a dirty" in out
    assert "pass --nbassets-allow-dirty (or set NBASSETS_ALLOW_DIRTY=1)" in out
    assert outcomes(out) == {"pyproject.toml": "ERROR"}  # nothing ran, the unit test neither
    assert tree_digest(shop / "warehouse") == before

    prod_before = len(check_rows(shop, "prod"))
    code, out = run_pytest(shop, "--nbassets-env", "prod", "--nbassets-allow-dirty")
    assert code == 1 and outcomes(out)[FAILING] == "FAILED", out
    assert len(check_rows(shop, "prod")) == prod_before + len(CHECKS)

    (shop / "notes.txt").unlink()  # clean main: allowed without any override
    first = run_pytest(shop, "--nbassets-env", "prod", as_ci=True)
    assert (shop / "tests" / "__pycache__").is_dir() and (shop / ".pytest_cache").is_dir()
    second = run_pytest(shop, "--nbassets-env", "prod", as_ci=True)  # git ignores the caches
    for code, out in (first, second):
        assert code == 1 and "checked orders <- prod @ " in out, out
        assert outcomes(out) == {
            **dict.fromkeys([UNIT, RAW_NOT_NULL, UNIQUE, WARNING, POSITIVE], "PASSED"),
            FAILING: "FAILED",
        }
    assert len(check_rows(shop, "prod")) == prod_before + 3 * len(CHECKS)


# --- the report's table (pure) ------------------------------------------------------------------


def test_the_sample_table_aligns_quotes_strings_and_caps_its_columns() -> None:
    from nbassets.pytest_plugin import MAX_COLUMNS, sample_table

    assert sample_table([]) == []
    assert sample_table([{"id": 1, "name": "a b", "note": None}, {"id": 10, "name": "c"}]) == [
        "  id  name   note",
        "  1   'a b'  null",
        "  10  'c'    null",
    ]
    wide = [{f"c{i}": i for i in range(MAX_COLUMNS + 3)}]
    header, row = sample_table(wide)
    assert header.split()[-1] == "more)" and "(+3 more)" in header and "c22" not in header
    assert row.split() == [str(i) for i in range(MAX_COLUMNS)]


# --- exported unit tests ------------------------------------------------------------------------

UNIT_CELLS = {
    **CELLS,
    "c4": (
        "%%test orders --name doubles\n"
        "raw = pd.DataFrame({'order_id': [1], 'customer': ['x'], 'amount': [2.0]})\n"
        "assert orders(raw_orders=raw).total.tolist() == [4.0]"
    ),
    "c5": (
        "%%test orders --name wrong\n"
        "raw = pd.DataFrame({'order_id': [1], 'customer': ['x'], 'amount': [2.0]})\n"
        "expect_frame_equal(orders(raw_orders=raw), raw)"
    ),
    "c6": "%%test orders --name broken\norders(raw_orders=None)",
}


def test_exported_unit_tests_record_their_outcomes_in_the_env(shop: Path) -> None:
    """One pytest call covers the exported unit tests and the data checks; the tests' outcomes
    go to the env's catalog as a notebook's %%test cells' do (what `nbassets report` shows)."""
    write_notebook(shop / "notebooks" / "shop.ipynb", UNIT_CELLS)
    nbassets(shop, "export")

    code, out = run_pytest(shop, "--nbassets-env", "ci", "pipelines/tests")

    assert code == 1, out
    found = outcomes(out)
    tests = "pipelines/tests/test_shop.py::test_orders_"
    assert {k: v for k, v in found.items() if k.startswith(tests)} == {
        f"{tests}doubles": "PASSED", f"{tests}wrong": "FAILED", f"{tests}broken": "FAILED",
    }  # fmt: skip
    assert found[FAILING] == "FAILED"  # the data checks ran in the same session
    conn = sqlite3.connect(shop / ".nbassets" / "ci" / "catalog.sqlite")
    try:
        rows = conn.execute(
            "SELECT key, name, outcome, message, code_version, env, source FROM test_results "
            "ORDER BY id"
        ).fetchall()
        [built] = conn.execute(
            "SELECT code_version FROM materializations WHERE key = 'orders'"
        ).fetchall()
    finally:
        conn.close()
    assert [row[:3] for row in rows] == [
        ("orders", "doubles", "passed"), ("orders", "wrong", "failed"),
        ("orders", "broken", "error"),
    ]  # fmt: skip
    assert rows[1][3].startswith("the frames differ:\n  columns not expected: 'total'")
    assert rows[2][3].startswith("AttributeError: 'NoneType' object has no attribute 'assign'")
    assert {row[4] for row in rows} == {built[0]}  # the asset's code version, as built
    assert {row[5] for row in rows} == {"ci"}
    assert rows[0][6] == "notebooks/shop.ipynb :: orders :: doubles"
    conn = sqlite3.connect(shop / ".nbassets" / "ci" / "catalog.sqlite")
    try:
        versions = [row[0] for row in conn.execute("SELECT test_version FROM test_results")]
    finally:
        conn.close()
    exported = (shop / "pipelines" / "tests" / "test_shop.py").read_text()
    assert all(len(v) == 16 and f'test_version="{v}"' in exported for v in versions)
    assert len(set(versions)) == 3

    # without the flag the same tests run and nothing is recorded
    code, out = run_pytest(shop, "pipelines/tests")
    assert (code == 1 and "1 failed" not in out.splitlines()[-1]) or code == 1
    conn = sqlite3.connect(shop / ".nbassets" / "ci" / "catalog.sqlite")
    try:
        assert conn.execute("SELECT count(*) FROM test_results").fetchone()[0] == 3
    finally:
        conn.close()
