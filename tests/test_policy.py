"""The production policy (DESIGN §2) through every route that writes a store.

Each test puts a real project in one situation (a dirty tree, another branch, no git
repository, a tracked module edited but not committed, an imported module that git ignores,
a clean ``main``, an IPython shell in the process) and takes one route through it: the CLI's
``materialize``, ``check``, ``gc``, ``gc --orphans`` and ``forget`` (click's runner), Dagster (the generated definitions,
run in process) or ``nbassets.save``. A refusal must leave production's files byte for byte
as they were; an allowed write must record the commit and dirty flag that are true, read from
the catalog with plain sqlite3.

``pytest --nbassets-env`` asks :func:`~nbassets.policy.authorize` as command ``pytest`` (its
real runs are in ``tests/test_pytest_plugin.py``); here the policy's answers to it, which name
its own options.

The project is ``tests/resources/dagster_pkg`` copied to ``pipelines/`` (``orders`` <-
``raw_orders``, ``revenue``, ``summary``). Before any commit, production holds two versions
of the source input ``raw_orders`` (so ``gc --keep 1`` has an old file to remove) and a
version of ``orders`` (so ``check`` has data to check) and a ``scratch`` asset that no code
defines or reads (an orphan for ``gc --orphans``, a key to ``forget``); the sandbox ``ci-x``
holds the same.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from helpers import RESOURCES, TestingShell, git, tree_digest, write_prod

import nbassets
from nbassets.cli import main
from nbassets.config import Project
from nbassets.errors import ProductionWriteError
from nbassets.policy import Overrides, authorize, confirm_modules, project_modules
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now

SANDBOX = "ci-x"
DEPLOYED = "4f2c1a9e0b7d"  # NBASSETS_COMMIT of a deployed image
BUILT = ("orders", "revenue", "summary")

CLEAN, DIRTY, BRANCH, MODIFIED, IGNORED, NO_GIT = (
    "clean main",
    "dirty tree",
    "another branch",
    "tracked module modified",
    "imported module ignored by git",
    "no git repository",
)
SITUATIONS = (CLEAN, DIRTY, BRANCH, MODIFIED, IGNORED, NO_GIT)
# the dirty flag a record must carry in each situation (None: no git to ask)
DIRTY_FLAG = {CLEAN: 0, DIRTY: 1, BRANCH: 0, MODIFIED: 1, IGNORED: 0, NO_GIT: None}


@pytest.fixture(autouse=True)
def _fresh_package(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test imports its own project's ``pipelines``, never one an earlier test left."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    for var in ("NBASSETS_ALLOW_DIRTY", "NBASSETS_NO_GIT", "NBASSETS_COMMIT"):
        monkeypatch.delenv(var, raising=False)
    _forget_pipelines()
    yield
    _forget_pipelines()


def _forget_pipelines() -> None:
    for name in [n for n in sys.modules if n == "pipelines" or n.startswith("pipelines.")]:
        del sys.modules[name]


# --- the project and its situations ----------------------------------------------------------


def raw_orders(price: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [3.0, 1.0, 2.0],
            "customer": ["ann", "bob", "ann"],
            "quantity": [1, 2, 3],
            "price": [price, 2.5, 4.0],
        }
    )


def seed(project: Path) -> None:
    """The package, production's and the sandbox's stores, and the ``.gitignore``."""
    shutil.copytree(RESOURCES / "dagster_pkg", project / "pipelines")
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    for env in ("prod", SANDBOX):  # written as an ingest would, whether or not a shell runs
        store = Store(env, store_root(project, env), writable=True)
        try:
            for price in (9.0, 10.0):  # an old version, then the current one
                store.write(
                    "raw_orders", raw_orders(price), "parquet", code_version="external",
                    started_at=now(),
                )  # fmt: skip
            store.write("scratch", [1, 2], "pickle", code_version="tried", started_at=now())
        finally:
            store.close()
    orders = pd.DataFrame({"id": [1, 2, 3], "customer": ["bob", "ann", "ann"]})
    write_prod(project, "orders", orders.assign(amount=[5.0, 12.0, 10.0]))


def arrange(project: Path, situation: str) -> str | None:
    """Seed the project and put it in ``situation``; the commit its records must name."""
    seed(project)
    if situation == NO_GIT:
        return None
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "shop")
    if situation == DIRTY:
        (project / "notes.txt").write_text("an untracked file\n")
    elif situation == BRANCH:
        git(project, "checkout", "-q", "-b", "feature")
        git(project, "commit", "-q", "--allow-empty", "-m", "feature work")
    elif situation == MODIFIED:
        with (project / "pipelines" / "shop.py").open("a") as module:
            module.write("\n# edited, not committed\n")
    elif situation == IGNORED:
        (project / "pipelines" / "helpers.py").write_text("SCALE = 1\n")
        with (project / ".gitignore").open("a") as ignore:
            ignore.write("pipelines/helpers.py\n")
        shop = project / "pipelines" / "shop.py"
        shop.write_text(
            shop.read_text().replace(
                "import pandas as pd\n", "import pandas as pd\n\nfrom .helpers import SCALE\n"
            )
        )
        git(project, "add", "-A")
        git(project, "commit", "-qm", "a helper that git ignores")
        assert git(project, "status", "--porcelain") == ""
    return git(project, "rev-parse", "HEAD")


# --- reading what was written ----------------------------------------------------------------


def store_root(project: Path, env: str) -> Path:
    return project / "warehouse" if env == "prod" else project / ".nbassets" / env


def query(project: Path, env: str, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(store_root(project, env) / "catalog.sqlite")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def last_id(project: Path, env: str, table: str = "materializations") -> int:
    return query(project, env, f"SELECT coalesce(max(id), 0) FROM {table}")[0][0]


def recorded_since(project: Path, env: str, after: int) -> list[tuple[str, str | None, int | None]]:
    """(key, commit, dirty) of every materialization recorded after row ``after``."""
    return query(
        project,
        env,
        f'SELECT key, "commit", dirty FROM materializations WHERE id > {after} ORDER BY id',
    )


def scratch_file(project: Path, env: str) -> Path:
    """The file of ``env``'s one ``scratch`` version."""
    [(path,)] = query(project, env, "SELECT path FROM materializations WHERE key = 'scratch'")
    return store_root(project, env) / path


def raw_files(project: Path, env: str) -> list[Path]:
    """The files of ``env``'s ``raw_orders`` versions, oldest first."""
    paths = query(
        project, env, "SELECT path FROM materializations WHERE key = 'raw_orders' ORDER BY id"
    )
    return [store_root(project, env) / path for (path,) in paths]


def prod_state(project: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Production's files with their SHA-256, and the rows of each catalog table."""
    tables = ("materializations", "check_results", "failures")
    counts = {t: query(project, "prod", f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    return tree_digest(project / "warehouse"), counts


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_refused(result: Result, match: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert match in result.stderr, result.stderr
    assert "Traceback" not in result.output


def run_command(command: str, env: str, *flags: str) -> Result:
    if command == "materialize":
        return cli(command, "--env", env, "--no-progress", *flags)
    if command == "check":
        return cli(command, "--env", env, *flags)
    if command == GC_ORPHANS:
        return cli("gc", "--orphans", "--yes", "--env", env, *flags)
    if command == "forget":
        return cli("forget", "scratch", "--env", env, *flags)
    return cli("gc", "--keep", "1", "--yes", "--env", env, *flags)


def assert_written(
    project: Path, command: str, env: str, before: int, commit: str | None, dirty: int | None
) -> None:
    """``command`` wrote ``env``'s store, and what it recorded names ``commit`` and ``dirty``."""
    if command == "materialize":
        recorded = recorded_since(project, env, before)
        assert [key for key, _, _ in recorded] == list(BUILT)
        assert {(c, d) for _, c, d in recorded} == {(commit, dirty)}
    elif command == "check":
        results = query(project, env, f"SELECT key, env FROM check_results WHERE id > {before}")
        assert results and {env_ for _, env_ in results} == {env}
    elif command == GC_ORPHANS:
        assert not scratch_file(project, env).exists()
        assert all(path.exists() for path in raw_files(project, env))
    elif command == "forget":
        catalog = SqliteCatalog(store_root(project, env) / "catalog.sqlite", writable=False)
        try:
            held = catalog.keys()
            assert catalog.latest_of("scratch") is None and "scratch" not in held
            assert len(catalog.history("scratch")) == 1  # the history stays
        finally:
            catalog.close()
        assert scratch_file(project, env).exists()  # until gc
    else:
        old, new = raw_files(project, env)
        assert not old.exists() and new.exists()


def written_marker(project: Path, command: str, env: str) -> int:
    """Where to look for what ``command`` writes: the last row id of its table."""
    return last_id(project, env, "check_results" if command == "check" else "materializations")


GC_ORPHANS = "gc --orphans"
COMMANDS = ("materialize", "check", "gc", GC_ORPHANS, "forget")


# --- the CLI: materialize, check, gc ---------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("situation", "flags", "environ", "message"),
    [
        (DIRTY, (), {}, "refusing to build production from a dirty tree"),
        (BRANCH, (), {}, "from branch 'feature'"),
        (BRANCH, ("--allow-dirty",), {}, "from branch 'feature'"),
        (NO_GIT, (), {}, "is not a git repository"),
        (CLEAN, ("--no-git",), {}, "is for deployed images without a git repository"),
        (CLEAN, (), {"NBASSETS_NO_GIT": "1"}, "is for deployed images without a git repository"),
        (MODIFIED, (), {}, "refusing to build production from a dirty tree"),
    ],
    ids=["dirty", "branch", "branch-allow-dirty", "no-git", "no-git-flag-in-repo",
         "no-git-env-in-repo", "modified"],
)  # fmt: skip
def test_the_cli_refuses_production(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    situation: str,
    flags: tuple[str, ...],
    environ: dict[str, str],
    message: str,
) -> None:
    arrange(project, situation)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    before = prod_state(project)

    result = run_command(command, "prod", *flags)

    assert_refused(result, message)
    assert prod_state(project) == before


@pytest.mark.parametrize("command", ["materialize", "check", GC_ORPHANS])
def test_the_cli_refuses_to_run_an_imported_module_that_git_ignores(
    project: Path, command: str
) -> None:
    arrange(project, IGNORED)
    before = prod_state(project)

    result = run_command(command, "prod")

    assert_refused(result, "imports 'pipelines/helpers.py', which git does not track")
    assert prod_state(project) == before


def test_gc_imports_no_project_module_so_an_ignored_one_does_not_stop_it(project: Path) -> None:
    """gc runs no package code: on an otherwise clean main it is allowed (DESIGN §2: the
    modules *it imports* must be committed)."""
    arrange(project, IGNORED)

    assert cli("gc", "--keep", "1", "--yes", "--env", "prod").exit_code == 0
    assert_written(project, "gc", "prod", 0, None, None)


@pytest.mark.parametrize("command", COMMANDS)
def test_no_git_without_a_named_commit_is_a_configuration_error(
    project: Path, command: str
) -> None:
    arrange(project, NO_GIT)
    before = prod_state(project)

    result = run_command(command, "prod", "--no-git")

    assert_refused(result, "set NBASSETS_COMMIT to its hash", code=2)
    assert prod_state(project) == before


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("situation", "flags", "environ", "dirty"),
    [
        (CLEAN, (), {}, 0),
        (DIRTY, ("--allow-dirty",), {}, 1),
        (DIRTY, (), {"NBASSETS_ALLOW_DIRTY": "1"}, 1),
        (MODIFIED, ("--allow-dirty",), {}, 1),
        (NO_GIT, ("--no-git",), {"NBASSETS_COMMIT": DEPLOYED}, None),
        (NO_GIT, (), {"NBASSETS_NO_GIT": "1", "NBASSETS_COMMIT": DEPLOYED}, None),
    ],
    ids=["clean-main", "dirty-allow-dirty", "dirty-env-allow-dirty", "modified-allow-dirty",
         "no-git-flag", "no-git-env"],
)  # fmt: skip
def test_the_cli_writes_production_and_records_the_true_commit(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    situation: str,
    flags: tuple[str, ...],
    environ: dict[str, str],
    dirty: int | None,
) -> None:
    head = arrange(project, situation)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    before = written_marker(project, command, "prod")

    result = run_command(command, "prod", *flags)

    assert result.exit_code == 0, result.output
    assert_written(project, command, "prod", before, head or DEPLOYED, dirty)


@pytest.mark.parametrize("command", ["materialize", "check"])
def test_allow_dirty_lets_an_ignored_module_through_recorded_dirty(
    project: Path, command: str
) -> None:
    """DESIGN §2 and policy.confirm_modules' docstring: --allow-dirty builds anyway, dirty = 1."""
    head = arrange(project, IGNORED)
    before = written_marker(project, command, "prod")

    result = run_command(command, "prod", "--allow-dirty")

    assert result.exit_code == 0, result.output
    assert_written(project, command, "prod", before, head, 1)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("situation", SITUATIONS)
def test_the_cli_writes_a_sandbox_in_any_situation_with_the_true_commit(
    project: Path, command: str, situation: str
) -> None:
    head = arrange(project, situation)
    before_prod = prod_state(project)
    before = written_marker(project, command, SANDBOX)

    result = run_command(command, SANDBOX)

    assert result.exit_code == 0, result.output
    assert_written(project, command, SANDBOX, before, head, DIRTY_FLAG[situation])
    assert prod_state(project) == before_prod


# --- nbassets.save ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["prod", SANDBOX])
@pytest.mark.parametrize("situation", [CLEAN, DIRTY, BRANCH, MODIFIED, NO_GIT])
def test_save_needs_no_clean_tree_and_records_the_true_commit(
    project: Path, situation: str, env: str
) -> None:
    head = arrange(project, situation)
    before = last_id(project, env)

    record = nbassets.save("raw_orders", raw_orders(price=11.0), env=env)

    assert recorded_since(project, env, before) == [("raw_orders", head, DIRTY_FLAG[situation])]
    assert (record.commit, record.dirty) == (
        head,
        None if head is None else bool(DIRTY_FLAG[situation]),
    )


def test_a_deployed_ingest_records_the_commit_it_names(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrange(project, NO_GIT)
    monkeypatch.setenv("NBASSETS_COMMIT", "4F2C1A9")
    before = last_id(project, "prod")

    nbassets.save("raw_orders", raw_orders(price=11.0))

    assert recorded_since(project, "prod", before) == [("raw_orders", "4f2c1a9", None)]


# --- an IPython shell in the process ---------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_an_ipython_shell_refuses_the_cli_on_a_clean_main(
    project: Path, _shell: TestingShell, command: str
) -> None:
    head = arrange(project, CLEAN)
    before = prod_state(project)

    assert_refused(run_command(command, "prod"), "from a process running an IPython shell")
    assert_refused(
        run_command(command, "prod", "--allow-dirty"), "from a process running an IPython shell"
    )
    assert prod_state(project) == before

    marker = written_marker(project, command, SANDBOX)  # a sandbox is still writable
    assert run_command(command, SANDBOX).exit_code == 0
    assert_written(project, command, SANDBOX, marker, head, 0)


def test_an_ipython_shell_refuses_save_to_production(project: Path, _shell: TestingShell) -> None:
    head = arrange(project, CLEAN)
    before = prod_state(project)

    with pytest.raises(ProductionWriteError, match="from a process running an IPython shell"):
        nbassets.save("raw_orders", raw_orders(price=11.0))

    assert prod_state(project) == before
    marker = last_id(project, SANDBOX)
    nbassets.save("raw_orders", raw_orders(price=11.0), env=SANDBOX)
    assert recorded_since(project, SANDBOX, marker) == [("raw_orders", head, 0)]


# --- pytest --nbassets-env (the plugin asks the policy as command "pytest") ------------------


@pytest.mark.parametrize(
    ("situation", "overrides", "message"),
    [
        (DIRTY, Overrides(), "pass --nbassets-allow-dirty (or set NBASSETS_ALLOW_DIRTY=1)"),
        (MODIFIED, Overrides(), "pass --nbassets-allow-dirty (or set NBASSETS_ALLOW_DIRTY=1)"),
        (BRANCH, Overrides(allow_dirty=True), "from branch 'feature'"),
        (NO_GIT, Overrides(), "pass --nbassets-no-git (or set NBASSETS_NO_GIT=1)"),
        (CLEAN, Overrides(no_git=True), "--nbassets-no-git (NBASSETS_NO_GIT) is for deployed"),
    ],
    ids=["dirty", "modified", "branch-allow-dirty", "no-git", "no-git-in-repo"],
)  # fmt: skip
def test_pytest_is_refused_production_in_the_options_it_has(
    project: Path, situation: str, overrides: Overrides, message: str
) -> None:
    arrange(project, situation)
    with pytest.raises(ProductionWriteError, match=re.escape(message)):
        authorize(Project.find(project), "prod", "pytest", overrides, environ={})


def test_pytest_refuses_an_ignored_module_naming_its_own_override(project: Path) -> None:
    head = arrange(project, IGNORED)
    grant = authorize(Project.find(project), "prod", "pytest", Overrides(), environ={})
    assert (grant.command, grant.commit, grant.dirty) == ("pytest", head, False)
    helpers = [project / "pipelines" / "helpers.py"]
    message = "`pytest --nbassets-env prod` imports 'pipelines/helpers.py'"
    with pytest.raises(ProductionWriteError, match=re.escape(message)) as refused:
        confirm_modules(Project.find(project), grant, helpers)
    assert "pass --nbassets-allow-dirty / set NBASSETS_ALLOW_DIRTY=1" in str(refused.value)


@pytest.mark.parametrize(
    ("situation", "overrides", "environ", "commit", "dirty"),
    [
        (CLEAN, Overrides(), {}, "head", False),
        (DIRTY, Overrides(allow_dirty=True), {}, "head", True),
        (NO_GIT, Overrides(no_git=True), {"NBASSETS_COMMIT": DEPLOYED}, DEPLOYED, None),
    ],
    ids=["clean-main", "dirty-allow-dirty", "no-git"],
)  # fmt: skip
def test_pytest_may_record_production_from_committed_code(
    project: Path,
    situation: str,
    overrides: Overrides,
    environ: dict[str, str],
    commit: str,
    dirty: bool | None,
) -> None:
    head = arrange(project, situation)
    grant = authorize(Project.find(project), "prod", "pytest", overrides, environ=environ)
    expected = head if commit == "head" else commit
    assert (grant.env, grant.command, grant.commit, grant.dirty) == (
        "prod", "pytest", expected, dirty,
    )  # fmt: skip
    assert confirm_modules(Project.find(project), grant, project_modules(Project.find(project)))


@pytest.mark.parametrize("situation", SITUATIONS)
def test_pytest_checks_a_sandbox_in_any_situation(project: Path, situation: str) -> None:
    head = arrange(project, situation)
    grant = authorize(Project.find(project), SANDBOX, "pytest", Overrides(), environ={})
    assert (grant.env, grant.commit, grant.dirty) == (
        SANDBOX, head, None if head is None else bool(DIRTY_FLAG[situation]),
    )  # fmt: skip


def test_an_ipython_shell_refuses_pytest_production(project: Path, _shell: TestingShell) -> None:
    arrange(project, CLEAN)
    message = "`pytest --nbassets-env prod` would write production"
    with pytest.raises(ProductionWriteError, match=re.escape(message)):
        authorize(Project.find(project), "prod", "pytest", Overrides(allow_dirty=True))


# --- Dagster (the generated definitions, in process) -----------------------------------------


def dagster_run(project: Path, env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build every asset of the definitions in this process into ``env``; the run's result."""
    pytest.importorskip("dagster")
    from nbassets.dagster_assets import build_definitions

    monkeypatch.setenv("NBASSETS_ENV", env)
    job = build_definitions("pipelines", project).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(raise_on_error=False)


def assert_dagster_refused(result: Any, error: str, message: str) -> None:
    assert not result.success
    events = str(result.all_events)
    assert error in events and message in events
    assert not any(event.is_step_success for event in result.all_events)


@pytest.mark.dagster
@pytest.mark.parametrize(
    ("situation", "environ", "error", "message"),
    [
        (DIRTY, {}, "ProductionWriteError", "dirty tree"),
        (BRANCH, {"NBASSETS_ALLOW_DIRTY": "1"}, "ProductionWriteError", "from branch 'feature'"),
        (NO_GIT, {}, "ProductionWriteError", "is not a git repository"),
        (NO_GIT, {"NBASSETS_NO_GIT": "1"}, "ConfigError", "set NBASSETS_COMMIT"),
        (CLEAN, {"NBASSETS_NO_GIT": "1", "NBASSETS_COMMIT": DEPLOYED}, "ProductionWriteError",
         "is for deployed images without a git repository"),
        (MODIFIED, {}, "ProductionWriteError", "dirty tree"),
        (IGNORED, {}, "ProductionWriteError", "imports 'pipelines/helpers.py'"),
    ],
    ids=["dirty", "branch", "no-git", "no-git-without-commit", "no-git-in-repo", "modified",
         "ignored-module"],
)  # fmt: skip
def test_dagster_refuses_production(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    situation: str,
    environ: dict[str, str],
    error: str,
    message: str,
) -> None:
    arrange(project, situation)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    before = prod_state(project)

    result = dagster_run(project, "prod", monkeypatch)

    assert_dagster_refused(result, error, message)
    assert prod_state(project) == before


@pytest.mark.dagster
@pytest.mark.parametrize(
    ("situation", "env", "environ", "dirty"),
    [
        pytest.param(CLEAN, "prod", {}, 0, id="clean-main"),
        pytest.param(DIRTY, "prod", {"NBASSETS_ALLOW_DIRTY": "1"}, 1, id="dirty-allow-dirty"),
        pytest.param(
            NO_GIT, "prod", {"NBASSETS_NO_GIT": "1", "NBASSETS_COMMIT": DEPLOYED}, None,
            id="no-git-env",
        ),
        pytest.param(
            IGNORED, "prod", {"NBASSETS_ALLOW_DIRTY": "1"}, 1, id="ignored-module-allow-dirty"
        ),
        *(
            pytest.param(situation, SANDBOX, {}, DIRTY_FLAG[situation], id=f"sandbox-{situation}")
            for situation in SITUATIONS
        ),
    ],
)  # fmt: skip
def test_dagster_builds_and_records_the_true_commit(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    situation: str,
    env: str,
    environ: dict[str, str],
    dirty: int | None,
) -> None:
    head = arrange(project, situation)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    before = last_id(project, env)

    result = dagster_run(project, env, monkeypatch)

    assert result.success
    expected = head or (DEPLOYED if env == "prod" else None)
    recorded = recorded_since(project, env, before)
    assert sorted(key for key, _, _ in recorded) == sorted(BUILT)
    assert {(c, d) for _, c, d in recorded} == {(expected, dirty)}


@pytest.mark.dagster
def test_an_ipython_shell_refuses_dagster_on_a_clean_main(
    project: Path, monkeypatch: pytest.MonkeyPatch, _shell: TestingShell
) -> None:
    head = arrange(project, CLEAN)
    before = prod_state(project)

    result = dagster_run(project, "prod", monkeypatch)

    assert_dagster_refused(result, "ProductionWriteError", "IPython shell")
    assert prod_state(project) == before
    marker = last_id(project, SANDBOX)
    assert dagster_run(project, SANDBOX, monkeypatch).success
    assert {(c, d) for _, c, d in recorded_since(project, SANDBOX, marker)} == {(head, 0)}
