"""Issue 10, finding 8 (b): ``gc`` lists before it removes, ``gc --orphans``, ``%forget`` and
``nbassets forget``.

DESIGN §4: ``gc --keep N`` and ``gc --orphans`` list the version files they would remove and
remove them only with ``--yes``; records stay as history. DESIGN §3/§6: ``%forget NAME`` and
``nbassets forget KEY --env E`` drop a scratch asset from a sandbox (never production from a
notebook); gc reclaims its files. Real stores (Parquet files and SQLite catalogs), the real
CLI through click's runner and a real IPython shell. Production's whole tree is hashed before
and after every case on a sandbox.

The shop (in production and in the sandbox ``ci-1``, the same history in each):

- ``raw``: two external versions (``nbassets.save``), read by ``orders``;
- ``rates``: built by code the project no longer has, but ``orders`` reads it;
- ``lookup``: two versions; the code no longer reads it, but both recorded builds of
  ``orders`` read its first version;
- ``orders``: two builds, defined by ``notebooks/shop.ipynb`` (``raw.merge(rates)``);
- ``old_report``: two builds that read ``orders``; no code defines or reads it any more;
- ``scratch``: two builds of an experiment (in the sandbox only).

So the orphans are ``lookup``, ``old_report`` and ``scratch``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from helpers import TestingShell, shown, tree_digest, write_notebook, write_prod
from IPython.core.error import UsageError

from nbassets.cli import main
from nbassets.config import Project
from nbassets.overview import notebook_overview
from nbassets.store.catalog import Materialization
from nbassets.store.sqlite_catalog import SqliteCatalog
from nbassets.store.stores import Store, now

ENV = "ci-1"
KERNEL_ENV = "dev-tester-nogit"
ORPHANS = ["lookup", "old_report", "scratch"]


def cli(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def cli_json(*args: str) -> Any:
    return json.loads(cli(*args, "--json").stdout)


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "x": [n, n + 1, n + 2]})


def read(*records: Materialization) -> dict[str, dict[str, str]]:
    return {r.key: {"data_version": r.data_version, "env": r.env} for r in records}


@dataclass
class History:
    """One store's records, by key, oldest first."""

    root: Path
    versions: dict[str, list[Materialization]]

    def files(self, *names: str) -> set[str]:
        """The paths of ``names`` (``key`` or ``key:index``), relative to the store."""
        paths = set()
        for name in names:
            key, _, index = name.partition(":")
            chosen = self.versions[key] if not index else [self.versions[key][int(index)]]
            paths |= {r.path for r in chosen}
        return paths

    def present(self) -> set[str]:
        return {
            p.relative_to(self.root).as_posix() for p in (self.root / "data").rglob("*.parquet")
        }


def write_shop(root: Path, env: str, scratch: bool = True) -> History:
    store = Store(env, root, writable=True)
    versions: dict[str, list[Materialization]] = {}

    def put(key: str, n: int, code: str = "c1", inputs: Any = None) -> Materialization:
        record = store.write(
            key, frame(n), "parquet", code_version=code, started_at=now(), inputs=inputs or {}
        )
        versions.setdefault(key, []).append(record)
        return record

    try:
        raw1, raw2 = put("raw", 1, "external"), put("raw", 2, "external")
        rates = put("rates", 10)
        lookup1, _ = put("lookup", 20), put("lookup", 21)
        orders1 = put("orders", 30, inputs=read(raw1, rates, lookup1))
        orders2 = put("orders", 31, inputs=read(raw2, rates, lookup1))
        put("old_report", 40, inputs=read(orders1))
        put("old_report", 41, inputs=read(orders2))
        if scratch:
            put("scratch", 50)
            put("scratch", 51)
    finally:
        store.close()
    return History(root, versions)


@pytest.fixture
def shop(project: Path) -> History:
    """The shop in production and in ``ci-1``; the sandbox's history is returned."""
    write_notebook(
        project / "notebooks" / "shop.ipynb",
        {"c1": "%%asset orders\norders = raw.merge(rates, on='id')"},
    )
    write_shop(project / "warehouse", "prod", scratch=False)
    return write_shop(project / ".nbassets" / ENV, ENV)


@pytest.fixture
def prod_digest(project: Path, shop: History) -> dict[str, str]:
    return tree_digest(project / "warehouse")


def status_keys(env: str) -> set[str]:
    return {row["key"] for row in cli_json("status", "--env", env)}


# --- gc --keep N: list first, remove with --yes ---------------------------------------------


def test_gc_keep_lists_and_removes_nothing_without_yes(
    shop: History, project: Path, prod_digest: dict[str, str]
) -> None:
    before = tree_digest(shop.root)
    old = shop.files("raw:0", "orders:0", "old_report:0", "scratch:0")

    out = cli("gc", "--keep", "1", "--env", ENV).stdout
    assert "would remove 4 version file(s)" in out and "--yes" in out
    assert all(path in out for path in old)
    listed = cli_json("gc", "--keep", "1", "--env", ENV)
    assert listed["dry_run"] is True and listed["files"] == 4
    assert {r["path"] for r in listed["removed"]} == old
    legacy = cli("gc", "--keep", "1", "--env", ENV, "--dry-run").stdout  # an old script
    assert "would remove 4 version file(s)" in legacy
    assert tree_digest(shop.root) == before  # files and catalog byte for byte

    done = cli_json("gc", "--keep", "1", "--env", ENV, "--yes")
    assert done["dry_run"] is False and {r["path"] for r in done["removed"]} == old
    assert shop.present() == shop.files(*shop.versions) - old
    assert tree_digest(project / "warehouse") == prod_digest


def test_gc_options_that_contradict_or_say_nothing_are_usage_errors(shop: History) -> None:
    before = tree_digest(shop.root)
    both = cli("gc", "--keep", "1", "--env", ENV, "--dry-run", "--yes", code=2).stderr
    assert "--dry-run" in both and "--yes" in both
    assert "--keep N" in cli("gc", "--env", ENV, code=2).stderr
    assert "--orphans" in cli("gc", "--env", ENV, code=2).stderr
    assert tree_digest(shop.root) == before


# --- gc --orphans ----------------------------------------------------------------------------


def test_gc_orphans_lists_the_orphans_and_their_files_then_removes_them_with_yes(
    shop: History, project: Path, prod_digest: dict[str, str]
) -> None:
    before = tree_digest(shop.root)
    # lookup's first version stays: both recorded builds of orders read it
    gone = shop.files("lookup:1", "old_report", "scratch")

    out = cli("gc", "--orphans", "--env", ENV).stdout
    assert "orphaned: lookup, old_report, scratch" in out
    assert "would remove 5 version file(s)" in out and "--yes" in out
    listed = cli_json("gc", "--orphans", "--env", ENV)
    assert listed["orphans"] == ORPHANS and listed["dry_run"] is True
    assert {r["path"] for r in listed["removed"]} == gone
    assert tree_digest(shop.root) == before

    done = cli_json("gc", "--orphans", "--env", ENV, "--yes")
    assert {r["path"] for r in done["removed"]} == gone
    assert shop.present() == shop.files(*shop.versions) - gone
    # the records stay as history
    history = cli_json("history", "old_report", "--env", ENV)
    assert [v["file_present"] for v in history] == [False, False]
    why = cli_json("why", "old_report", "--env", ENV)
    assert why["data_version"] == shop.versions["old_report"][1].data_version
    assert cli_json("gc", "--orphans", "--env", ENV)["files"] == 0  # nothing counted twice
    assert tree_digest(project / "warehouse") == prod_digest


def test_gc_orphans_never_takes_external_versions_or_assets_the_code_reads(
    shop: History, project: Path
) -> None:
    """``raw`` (external) and ``rates`` (no code defines it, but orders reads it) are inputs."""
    listed = cli_json("gc", "--orphans", "--env", ENV)
    assert not {"raw", "rates", "orders"} & ({r["key"] for r in listed["removed"]})
    assert not {"raw", "rates", "orders"} & set(listed["orphans"])
    # once no code reads rates, it is an orphan too (raw stays: it is an external version)
    write_notebook(project / "notebooks" / "shop.ipynb", {"c1": "%%asset orders\norders = raw"})
    assert cli_json("gc", "--orphans", "--env", ENV)["orphans"] == sorted([*ORPHANS, "rates"])


def test_gc_orphans_and_keep_together_apply_both_rules(
    shop: History, project: Path, prod_digest: dict[str, str]
) -> None:
    keep = shop.files("raw:0", "orders:0", "old_report:0", "scratch:0")
    orphans = shop.files("lookup:1", "old_report", "scratch")
    listed = cli_json("gc", "--keep", "1", "--orphans", "--env", ENV)
    assert listed["keep"] == 1 and listed["orphans"] == ORPHANS
    assert {r["path"] for r in listed["removed"]} == keep | orphans
    cli("gc", "--orphans", "--keep", "1", "--env", ENV, "--yes")
    assert shop.present() == shop.files("raw:1", "rates", "lookup:0", "orders:1")
    assert tree_digest(project / "warehouse") == prod_digest


def test_gc_orphans_refuses_a_project_that_defines_nothing(shop: History, project: Path) -> None:
    """With no notebook and no package every stored asset would count as an orphan."""
    (project / "notebooks" / "shop.ipynb").unlink()
    before = tree_digest(shop.root)
    refused = cli("gc", "--orphans", "--env", ENV, "--yes", code=2).stderr
    assert "defines no asset" in refused
    assert tree_digest(shop.root) == before


# --- nbassets forget ------------------------------------------------------------------------


def test_cli_forget_drops_a_sandbox_asset_and_gc_reclaims_its_files(
    shop: History, project: Path, prod_digest: dict[str, str]
) -> None:
    assert "scratch" in status_keys(ENV)
    out = cli("forget", "scratch", "--env", ENV).stdout
    assert "forgot 'scratch' in env 'ci-1'" in out and "gc --keep 1 --yes" in out

    assert "scratch" not in status_keys(ENV)
    catalog = SqliteCatalog(shop.root / "catalog.sqlite", writable=False)
    held = catalog.keys()
    catalog.close()
    assert "scratch" not in held and "old_report" in held
    assert len(cli_json("history", "scratch", "--env", ENV)) == 2  # history stays
    assert shop.files("scratch") <= shop.present()  # files stay until gc
    assert "forgot" in cli("forget", "scratch", "--env", ENV, code=2).stderr  # already forgotten

    # a forgotten key has no latest to keep: gc --keep takes all of its versions
    listed = cli_json("gc", "--keep", "1", "--env", ENV)
    assert shop.files("scratch") <= {r["path"] for r in listed["removed"]}
    cli("gc", "--keep", "1", "--env", ENV, "--yes")
    assert not shop.files("scratch") & shop.present()
    assert tree_digest(project / "warehouse") == prod_digest


def test_cli_forget_json(shop: History, project: Path, prod_digest: dict[str, str]) -> None:
    got = cli_json("forget", "old_report", "--env", ENV)
    assert got["env"] == ENV and got["key"] == "old_report"
    assert {f["path"] for f in got["files"]} == shop.files("old_report")
    assert got["bytes"] == sum((shop.root / p).stat().st_size for p in shop.files("old_report"))
    assert tree_digest(project / "warehouse") == prod_digest


def test_cli_forget_an_unknown_key_is_a_usage_error(
    shop: History, project: Path, prod_digest: dict[str, str]
) -> None:
    before = tree_digest(shop.root)
    typo = cli("forget", "scrach", "--env", ENV, code=2).stderr
    assert typo.startswith("error: asset 'scrach' is not in env 'ci-1'")
    assert "Did you mean 'scratch'?" in typo
    write_prod(project, "flights", frame(1))
    prod_only = cli("forget", "flights", "--env", ENV, code=2).stderr
    assert "production holds it" in prod_only and "--env prod" in prod_only
    assert tree_digest(shop.root) == before
    assert "data/flights" in json.dumps(tree_digest(project / "warehouse"))


# --- %forget --------------------------------------------------------------------------------


def kernel_statuses(shell: TestingShell) -> dict[str, str]:
    return {row.key: row.label for row in shell.run_cell("%assets").result.rows}


def kernel_session(shell: TestingShell) -> Any:
    return shell.magics_manager.registry["AssetMagics"].session


def test_forget_in_a_kernel_drops_a_scratch_asset_until_it_is_built_again(
    shell: TestingShell, project: Path
) -> None:
    write_prod(project, "flights", frame(1))
    prod = tree_digest(project / "warehouse")
    notebook = write_notebook(
        project / "notebooks" / "explore.ipynb", {"c1": "%%asset keeper\nkeeper = flights"}
    )
    shell.run_cell("%%asset keeper --no-preview\nkeeper = flights")
    shell.run_cell("%%asset scratch --no-preview\n[1, 2, 3]")
    shell.run_cell("%%asset scratch --no-preview\n[4, 5, 6]")
    sandbox = project / ".nbassets" / KERNEL_ENV
    files = {p.name for p in (sandbox / "data" / "scratch").iterdir()}
    assert len(files) == 2 and kernel_statuses(shell)["scratch"] == "fresh"
    assert "scratch" in status_keys(KERNEL_ENV)

    out = shell.capture("%forget scratch")
    assert f"forgot 'scratch' in sandbox '{KERNEL_ENV}'" in shown(out)
    assert "scratch" not in kernel_statuses(shell)
    assert "scratch" not in status_keys(KERNEL_ENV)
    panel = notebook_overview(Project.find(project), notebook)
    assert "scratch" not in json.dumps(panel)
    session = kernel_session(shell)  # the kernel's own state of it is gone too
    assert "scratch" not in session.built and "scratch" not in session.cells
    assert "scratch" not in shell.user_ns
    assert {p.name for p in (sandbox / "data" / "scratch").iterdir()} == files  # until gc
    assert "keeper" in kernel_statuses(shell)

    cli("gc", "--keep", "1", "--env", KERNEL_ENV, "--yes")
    assert not list((sandbox / "data" / "scratch").glob("*.parquet"))
    assert kernel_statuses(shell)["keeper"] == "fresh"

    shell.run_cell("%%asset scratch --no-preview\n[7]")  # brought back, fresh
    assert kernel_statuses(shell)["scratch"] == "fresh"
    assert shell.user_ns["scratch"] == [7]
    assert tree_digest(project / "warehouse") == prod


def test_forget_of_a_key_the_sandbox_does_not_hold_names_it(shell: TestingShell) -> None:
    shell.run_cell("%%asset scratch --no-preview\n[1]")
    with pytest.raises(
        UsageError, match="asset 'scrach' is not in sandbox .*Did you mean 'scratch'"
    ):
        shell.run_cell("%forget scrach")
    with pytest.raises(UsageError, match="the following arguments are required: name"):
        shell.run_cell("%forget")
    assert kernel_statuses(shell)["scratch"] == "fresh"


def test_forget_in_a_kernel_never_changes_production(shell: TestingShell, project: Path) -> None:
    write_prod(project, "flights", frame(1))
    prod = tree_digest(project / "warehouse")
    with pytest.raises(
        UsageError, match=r"(?s)production.*notebook.*`nbassets forget flights --env prod`"
    ):
        shell.run_cell("%forget flights")
    assert tree_digest(project / "warehouse") == prod


def test_forget_in_a_kernel_whose_sandbox_resolves_into_production(
    shell: TestingShell, project: Path
) -> None:
    write_prod(project, "flights", frame(1))
    prod = tree_digest(project / "warehouse")
    (project / ".nbassets").mkdir()
    (project / ".nbassets" / KERNEL_ENV).symlink_to(project / "warehouse")
    with pytest.raises(
        UsageError, match=r"(?s)never writes production.*`nbassets forget flights --env prod`"
    ):
        shell.run_cell("%forget flights")
    assert tree_digest(project / "warehouse") == prod
