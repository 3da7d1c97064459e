"""Issue 10, finding 1: nothing a notebook does can write production (DESIGN §2).

Every write resolves the real path of each file and folder it creates and refuses one that
lands inside production's real path, whatever the route. Each test links a sandbox into
production with a real symlink or hard link (the sandbox folder itself, ``data/``,
``data/<key>/``, ``catalog.sqlite`` and its ``-wal``), then writes the sandbox from a real
IPython shell (``%%asset`` in the session's shell, ``nbassets.save`` with the shell in the
process, ``ipython`` in a terminal) or, for gc, from the CLI. Production's whole tree (every
file's bytes and mode, every folder and link) must be byte-identical afterwards.

The project has no git repository, so the kernel's default sandbox is ``dev-tester-nogit``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import TestingShell, tree_listing, write_prod
from IPython.core.error import UsageError

import nbassets
from nbassets.cli import main
from nbassets.errors import NbAssetsError, ProductionWriteError
from nbassets.store.stores import Store, now

SANDBOX = "dev-tester-nogit"  # the kernel's default env in a project without git


def prod_tree(project: Path) -> dict[str, str]:
    """Production's whole tree (``helpers.tree_listing``, hashed by ``tree_hash``): every file's
    SHA-256 and mode, every folder (a new empty folder is a write) and every link's target."""
    return tree_listing(project / "warehouse")


def sandbox(project: Path) -> Path:
    folder = project / ".nbassets" / SANDBOX
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def seed(project: Path) -> str:
    """Production holds ``orders`` (and a catalog); the data version of its file."""
    return write_prod(project, "orders", [1, 2, 3])


def prod_file(project: Path, data_version: str) -> Path:
    return project / "warehouse" / "data" / "orders" / f"{data_version}.pkl"


def link_data(project: Path) -> None:
    os.symlink(project / "warehouse" / "data", sandbox(project) / "data")


def link_key_folder(project: Path) -> None:
    (sandbox(project) / "data").mkdir()
    os.symlink(project / "warehouse" / "data" / "orders", sandbox(project) / "data" / "orders")


def link_catalog(project: Path) -> None:
    os.symlink(project / "warehouse" / "catalog.sqlite", sandbox(project) / "catalog.sqlite")


def hard_link_catalog(project: Path) -> None:
    os.link(project / "warehouse" / "catalog.sqlite", sandbox(project) / "catalog.sqlite")


def link_wal(project: Path) -> None:
    """A dangling link: SQLite would create production's ``-wal`` through it."""
    target = project / "warehouse" / "catalog.sqlite-wal"
    os.symlink(target, sandbox(project) / "catalog.sqlite-wal")


LINKS = {
    "symlinked-data": link_data,
    "symlinked-key-folder": link_key_folder,
    "symlinked-catalog": link_catalog,
    "hard-linked-catalog": hard_link_catalog,
    "symlinked-wal": link_wal,
}
REFUSED = "production"


# --- %%asset in a real shell -----------------------------------------------------------------


@pytest.mark.parametrize("link", list(LINKS))
def test_a_kernel_build_through_a_link_into_production_is_refused(
    shell: TestingShell, project: Path, link: str
) -> None:
    seed(project)
    LINKS[link](project)
    before = prod_tree(project)

    with pytest.raises(UsageError, match=REFUSED):
        shell.run_cell("%%asset orders --no-preview\n[4, 5, 6]")
    shell.run_cell("%unload_ext nbassets")  # closes the kernel's stores (a checkpoint, if any)
    shell.run_cell("%load_ext nbassets")

    assert prod_tree(project) == before


@pytest.mark.parametrize("link", list(LINKS))
def test_save_from_a_kernel_through_a_link_into_production_is_refused(
    _shell: TestingShell, project: Path, link: str
) -> None:
    seed(project)
    LINKS[link](project)
    before = prod_tree(project)

    with pytest.raises(NbAssetsError, match=REFUSED):
        nbassets.save("orders", [4, 5, 6], env=SANDBOX)

    assert prod_tree(project) == before


def test_a_sandbox_folder_linked_to_production_is_refused_to_save(
    _shell: TestingShell, project: Path
) -> None:
    seed(project)
    (project / ".nbassets").mkdir()
    os.symlink(project / "warehouse", project / ".nbassets" / "linked")
    before = prod_tree(project)

    with pytest.raises(ProductionWriteError, match="never writes production"):
        nbassets.save("orders", [4, 5, 6], env="linked")

    assert prod_tree(project) == before


def test_a_data_file_hard_linked_to_production_is_never_written_through(
    shell: TestingShell, project: Path
) -> None:
    """Version files are created new (a temporary file renamed over the name), never written in
    place, so a sandbox file sharing production's inode cannot change production's bytes."""
    version = seed(project)
    (sandbox(project) / "data" / "orders").mkdir(parents=True)
    os.link(prod_file(project, version), sandbox(project) / "data" / "orders" / f"{version}.pkl")
    before = prod_tree(project)

    shell.run_cell("%%asset orders --no-preview\n[1, 2, 3]")  # the same bytes: kept as they are
    shell.run_cell("%%asset orders --no-preview\n[4, 5, 6]")  # new bytes: a new file

    assert prod_tree(project) == before
    assert len(list((sandbox(project) / "data" / "orders").iterdir())) == 2


# --- gc of a sandbox -------------------------------------------------------------------------


def test_gc_of_a_sandbox_whose_data_links_into_production_is_refused(project: Path) -> None:
    """gc removes what the sandbox's catalog records; through the link that is production's."""
    for value in ([1, 2, 3], [1, 2, 3, 4]):  # gc --keep 1 would remove the first version
        write_prod(project, "orders", value)
    store = Store(SANDBOX, sandbox(project), writable=True)
    try:  # the sandbox records the same two versions
        for value in ([1, 2, 3], [1, 2, 3, 4]):
            store.write("orders", value, "pickle", code_version="x", started_at=now())
    finally:
        store.close()
    shutil.rmtree(sandbox(project) / "data")
    link_data(project)
    before = prod_tree(project)

    result = CliRunner().invoke(main, ["gc", "--keep", "1", "--yes", "--env", SANDBOX])

    assert result.exit_code != 0 and "production" in result.output + str(result.exception)
    assert prod_tree(project) == before


# --- save(env="prod") from IPython -----------------------------------------------------------


def test_save_to_production_is_refused_in_a_terminal_ipython(project: Path) -> None:
    """A real terminal IPython (``TerminalInteractiveShell``), not ipykernel: refused all the same."""
    seed(project)
    before = prod_tree(project)
    script = (
        "import nbassets\n"
        "try:\n"
        "    nbassets.save('orders', [4, 5, 6])\n"
        "except nbassets.errors.ProductionWriteError as exc:\n"
        "    print('REFUSED', exc)\n"
        "else:\n"
        "    print('WRITTEN')\n"
    )
    ipython = Path(sys.executable).with_name("ipython")
    done = subprocess.run(
        [str(ipython), "--no-banner", "--HistoryManager.enabled=False", "-c", script],
        cwd=project, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NBASSETS_USER": "tester"},
    )  # fmt: skip

    assert "REFUSED" in done.stdout and "IPython shell" in done.stdout, done.stdout + done.stderr
    assert prod_tree(project) == before


def test_save_to_production_is_refused_with_a_shell_in_the_process(
    _shell: TestingShell, project: Path
) -> None:
    seed(project)
    before = prod_tree(project)

    with pytest.raises(ProductionWriteError, match="IPython shell"):
        nbassets.save("orders", [4, 5, 6], env="prod")

    assert prod_tree(project) == before


def test_a_catalog_being_created_is_not_taken_for_a_hard_link(tmp_path: Path) -> None:
    """A first writer links ``catalog.sqlite.tmp-…`` into place, then removes it: another
    writer opening the catalog in between must not refuse it (seen with 4 writers at once);
    one more name, such as production's, still is refused."""
    from nbassets.errors import ProductionWriteError
    from nbassets.policy import refuse_hard_link

    prod, sandbox = tmp_path / "warehouse", tmp_path / "sandbox"
    prod.mkdir()
    sandbox.mkdir()
    catalog = sandbox / "catalog.sqlite"
    catalog.write_bytes(b"x")
    os.link(catalog, sandbox / "catalog.sqlite.tmp-123-abcdef")
    refuse_hard_link(catalog, prod)  # a creation in progress: allowed
    os.link(catalog, prod / "catalog.sqlite")
    with pytest.raises(ProductionWriteError, match="hard-linked"):
        refuse_hard_link(catalog, prod)
