"""Issue 11 item 4: a kernel's views are scoped to its notebook (DESIGN §3).

One sandbox holds every notebook's assets. In a kernel of notebook A, ``%assets`` and
``%lineage`` show A's assets and every asset they read, directly or not; ``--all`` shows the
whole env (other notebooks, scratch builds, orphans) with a line that names ``%forget``. A
kernel with no notebook file is scoped to the cells run in it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import TestingShell, write_notebook, write_prod
from IPython.core.error import UsageError

from nbassets.config import Project
from nbassets.kernel_build import run_cell
from nbassets.kernel_views import lineage_view, notebook_view
from nbassets.render.display import StatusTable, scope_note
from nbassets.session import Session

A_KEYS = {"a_sum", "a_later", "b_plus", "b_only", "raw"}  # A's assets and what they read
OTHERS = {"b_other", "scratch", "boom"}  # B's asset A does not read; a plain kernel's builds


def session_of(shell: TestingShell) -> Session:
    session: Session = shell.magics_manager.registry["AssetMagics"].session
    return session


@pytest.fixture
def notebook_a(project: Path) -> Path:
    """Two notebooks sharing one sandbox: B's assets built in B's kernel, a scratch asset and a
    scratch failure built in a plain kernel, and notebook A, whose ``a_sum`` reads B's
    ``b_plus`` (which reads ``b_only``, which reads production's ``raw``)."""
    write_prod(project, "raw", [1, 2, 3])
    b = write_notebook(project / "notebooks" / "b.ipynb", {
        "b1": "%%asset b_only\nsum(raw)",
        "b2": "%%asset b_plus\nb_only + 1",
        "b3": "%%asset b_other\nb_only - 1",
    })  # fmt: skip
    a = write_notebook(project / "notebooks" / "a.ipynb", {
        "a1": "%%asset a_sum\nb_plus * 2",
        "a2": "%%asset a_later\na_sum + 1",
    })  # fmt: skip
    project_ = Project.find(project)
    kernel_b = Session(project_, namespace={"__session__": str(b)})
    plain = Session(project_, namespace={})
    try:
        run_cell(kernel_b, "b_only", "sum(raw)")
        run_cell(kernel_b, "b_plus", "b_only + 1")
        run_cell(kernel_b, "b_other", "b_only - 1")
        run_cell(plain, "scratch", "41 + 1")
        with pytest.raises(ZeroDivisionError):
            run_cell(plain, "boom", "1 / 0")
    finally:
        kernel_b.close()
        plain.close()
    return a


@pytest.fixture
def kernel_a(shell: TestingShell, notebook_a: Path) -> Session:
    """A kernel of notebook A that has run ``a_sum`` (``a_later`` is never run)."""
    shell.user_ns["__session__"] = str(notebook_a)
    shell.run_cell("%%asset a_sum --no-preview\nb_plus * 2")
    return session_of(shell)


def test_a_notebooks_view_is_its_assets_and_what_they_read(kernel_a: Session) -> None:
    view = notebook_view(kernel_a)
    labels = {row.key: row.label for row in view.model.rows}
    assert set(labels) == A_KEYS  # not b_other, not the scratch asset or the scratch failure
    assert labels["a_sum"] == "fresh" and labels["a_later"] == "missing: never built"
    assert labels["raw"] == "fresh"  # read two steps up, from production
    assert [row.key for row in view.model.rows][:2] == ["a_sum", "a_later"]  # cell order
    assert view.others == len(OTHERS) and not view.everything
    footer = scope_note(view.others, False, "%assets --all", "%forget NAME")
    assert footer == (
        "3 more assets from other notebooks or scratch in this sandbox and prod: "
        "`%assets --all` lists them"
    )
    text = StatusTable(view.model.rows, view.model.prod_notes(), footer=footer).to_text()
    shown, _, last = text.rpartition("\n\n")
    assert last == footer
    assert "b_other" not in shown and "scratch" not in shown and "boom" not in shown


def test_all_shows_every_asset_with_a_line_naming_forget(kernel_a: Session) -> None:
    view = notebook_view(kernel_a, everything=True)
    statuses = {row.key: row.status for row in view.model.rows}
    assert set(statuses) == A_KEYS | OTHERS
    assert statuses["scratch"] == statuses["boom"] == "orphaned"  # no notebook defines them
    assert statuses["b_other"] == "fresh"  # notebook B's
    assert view.others == len(OTHERS) and view.everything
    footer = scope_note(view.others, True, "%assets --all", "%forget NAME")
    assert footer == (
        "3 assets from other notebooks or scratch: "
        "`%forget NAME` drops a scratch asset from this sandbox"
    )
    table = StatusTable(view.model.rows, view.model.prod_notes(), footer=footer)
    assert table.to_text().endswith("\n\n" + footer)
    assert footer in table._repr_mimebundle_()["text/html"]


def test_lineage_is_scoped_like_assets(kernel_a: Session) -> None:
    nodes, edges = lineage_view(kernel_a)
    assert {node.key for node in nodes} == A_KEYS
    assert {(e.upstream, e.downstream) for e in edges} == {
        ("raw", "b_only"),
        ("b_only", "b_plus"),
        ("b_plus", "a_sum"),
        ("a_sum", "a_later"),
    }
    origin = {(e.upstream, e.downstream): e.origin for e in edges}
    assert origin["b_plus", "a_sum"] == "sandbox"
    nodes, edges = lineage_view(kernel_a, everything=True)
    assert {node.key for node in nodes} == A_KEYS | OTHERS
    assert ("b_only", "b_other") in {(e.upstream, e.downstream) for e in edges}


def test_lineage_of_an_asset_outside_the_notebook_is_drawn_from_the_whole_env(
    kernel_a: Session,
) -> None:
    nodes, _ = lineage_view(kernel_a, "b_other")  # named: no --all needed
    assert {"b_other", "scratch"} <= {node.key for node in nodes}
    nodes, _ = lineage_view(kernel_a, "a_sum")  # in scope: the scoped graph
    assert {node.key for node in nodes} == A_KEYS


def test_a_kernel_with_no_notebook_file_shows_the_cells_run_in_it(
    shell: TestingShell, notebook_a: Path
) -> None:
    shell.run_cell("%%asset solo --no-preview\n7")
    shell.run_cell("%%asset solo_plus --no-preview\nsolo + b_only")
    view = notebook_view(session_of(shell))
    assert {row.key: row.status for row in view.model.rows} == {
        "solo": "fresh",
        "solo_plus": "fresh",
        "b_only": "fresh",
        "raw": "fresh",
    }
    assert view.others == len({"b_plus", "b_other", "scratch", "boom"})  # a_* are not built
    nodes, _ = lineage_view(session_of(shell))
    assert {node.key for node in nodes} == {"solo", "solo_plus", "b_only", "raw"}


def test_a_new_notebook_with_no_assets_says_so_and_points_at_all(
    shell: TestingShell, notebook_a: Path, project: Path
) -> None:
    empty = write_notebook(project / "notebooks" / "c.ipynb", {"c1": "x = 1"})
    shell.user_ns["__session__"] = str(empty)
    view = notebook_view(session_of(shell))
    assert view.model.rows == [] and view.others == len({"raw", "b_only", "b_plus"} | OTHERS)
    footer = scope_note(view.others, False, "%assets --all", "%forget NAME")
    text = StatusTable(view.model.rows, footer=footer).to_text()
    assert text == "no assets yet: run an %%asset cell\n\n" + footer


def test_orphans_built_from_this_notebook_stay_listed_apart(
    shell: TestingShell, notebook_a: Path, project: Path
) -> None:
    cells = {"a1": "%%asset a_sum\nb_plus * 2", "a2": "%%asset a_later\na_sum + 1"}
    write_notebook(notebook_a, {**cells, "a3": "%%asset a_tmp\n5"})
    kernel = Session(Project.find(project), namespace={"__session__": str(notebook_a)})
    try:
        run_cell(kernel, "a_tmp", "5")
    finally:
        kernel.close()
    write_notebook(notebook_a, cells)  # the a_tmp cell deleted and saved
    shell.user_ns["__session__"] = str(notebook_a)
    view = notebook_view(session_of(shell))
    statuses = {row.key: row.status for row in view.model.rows}
    assert statuses["a_tmp"] == "orphaned"  # this notebook's leftover: listed apart
    assert set(statuses) == A_KEYS | {"a_tmp"}  # not the scratch orphans of a plain kernel
    text = StatusTable(view.model.rows).to_text()
    assert "orphaned: 1 asset no notebook or module of the project defines" in text


def test_what_a_notebooks_check_cells_check_is_in_its_view(
    shell: TestingShell, notebook_a: Path, project: Path
) -> None:
    write_prod(project, "customers", [1, 2])
    checks = write_notebook(project / "notebooks" / "checks.ipynb", {
        "k1": "%%check customers --name two\nassert len(customers) == 2",
    })  # fmt: skip
    shell.user_ns["__session__"] = str(checks)  # saved, not run yet: the file says so
    assert {row.key for row in notebook_view(session_of(shell)).model.rows} == {"customers"}
    del shell.user_ns["__session__"]  # a plain kernel: the check cells run in it
    assert notebook_view(session_of(shell)).model.rows == []
    shell.run_cell("%%check raw --name three\nassert len(raw) == 3")
    assert {row.key for row in notebook_view(session_of(shell)).model.rows} == {"raw"}


def test_a_notebook_file_that_does_not_parse_scopes_to_the_cells_run(
    shell: TestingShell, notebook_a: Path
) -> None:
    notebook_a.write_text("{ half-saved")
    shell.user_ns["__session__"] = str(notebook_a)
    shell.run_cell("%%asset a_sum --no-preview\nb_plus * 2")
    rows = notebook_view(session_of(shell)).model.rows
    assert {row.key for row in rows} == {"a_sum", "b_plus", "b_only", "raw"}


# --- the magics ----------------------------------------------------------------------------------


def test_assets_magic_shows_this_notebook_and_all_shows_everything(
    shell: TestingShell, kernel_a: Session
) -> None:
    table = shell.run_cell("%assets").result
    assert {row.key for row in table.rows} == A_KEYS
    assert table.to_text().endswith("\n\n" + scope_note(3, False, "%assets --all", ""))
    every = shell.run_cell("%assets --all").result
    assert {row.key for row in every.rows} == A_KEYS | OTHERS
    assert every.to_text().endswith(
        "\n\n3 assets from other notebooks or scratch: "
        "`%forget NAME` drops a scratch asset from this sandbox"
    )
    assert "%forget NAME" in every._repr_mimebundle_()["text/html"]
    shell.run_cell("%forget scratch")  # as the line says: the scratch asset is gone
    every = shell.run_cell("%assets --all").result
    assert {row.key for row in every.rows} == A_KEYS | {"b_other", "boom"}
    assert every.footer.startswith("2 assets from other notebooks or scratch")


def test_lineage_magic_is_scoped_like_assets(shell: TestingShell, kernel_a: Session) -> None:
    graph = shell.run_cell("%lineage").result
    assert {node.key for node in graph.nodes} == A_KEYS
    assert ("b_plus", "a_sum") in {(e.upstream, e.downstream) for e in graph.edges}
    assert {node.key for node in shell.run_cell("%lineage --all").result.nodes} == (A_KEYS | OTHERS)
    focused = shell.run_cell("%lineage b_other").result  # named: drawn from the whole env
    assert {node.key for node in focused.nodes} == {"raw", "b_only", "b_other"}
    downstream = {"b_plus", "a_sum", "a_later"}
    focused = shell.run_cell("%lineage b_only").result  # in scope: the scoped graph
    assert {node.key for node in focused.nodes} == {"raw", "b_only"} | downstream
    focused = shell.run_cell("%lineage b_only --all").result
    assert {node.key for node in focused.nodes} == {"raw", "b_only", "b_other"} | downstream


def test_magics_in_a_kernel_with_no_notebook_file(shell: TestingShell, notebook_a: Path) -> None:
    shell.run_cell("%%asset solo --no-preview\nb_only * 10")
    scoped = {"solo", "b_only", "raw"}
    assert {row.key for row in shell.run_cell("%assets").result.rows} == scoped
    assert {node.key for node in shell.run_cell("%lineage").result.nodes} == scoped
    every = {row.key for row in shell.run_cell("%assets --all").result.rows}
    assert every == scoped | {"b_plus", "b_other", "scratch", "boom"}


def test_assets_magic_takes_only_all(shell: TestingShell) -> None:
    with pytest.raises(UsageError) as raised:
        shell.run_cell("%assets --every")
    assert "--all" in str(raised.value)
