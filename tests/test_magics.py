"""Kernel-level tests of the magics through a real InteractiveShell."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import (
    TestingShell,
    catalog_rows,
    execute,
    shown,
    tree_digest,
    write_notebook,
    write_prod,
)
from IPython.core.error import UsageError

from nbassets.errors import MaterializeFailed
from nbassets.store.sqlite_catalog import SqliteCatalog

SANDBOX = Path(".nbassets/dev-tester-nogit")


def session_of(shell: TestingShell):  # type: ignore[no-untyped-def]
    return shell.magics_manager.registry["AssetMagics"].session


def statuses(shell: TestingShell) -> dict[str, str]:
    table = shell.run_cell("%assets").result
    return {row.key: row.label for row in table.rows}


# --- %load_ext -----------------------------------------------------------------------------


def test_load_ext_is_idempotent_and_unload_removes_magics(shell: TestingShell) -> None:
    first = shell.magics_manager.registry["AssetMagics"]
    shell.run_cell("%load_ext nbassets")
    shell.run_cell("%reload_ext nbassets")  # unload + load
    assert shell.magics_manager.registry["AssetMagics"] is not None
    shell.run_cell("%unload_ext nbassets")
    assert "asset" not in shell.magics_manager.magics["cell"]
    assert "AssetMagics" not in shell.magics_manager.registry
    assert first.pre_run_cell not in shell.events.callbacks["pre_run_cell"]
    shell.run_cell("%load_ext nbassets")
    assert "asset" in shell.magics_manager.magics["cell"]


@pytest.mark.notebooks
def test_the_extension_loaded_by_ipython_config_needs_no_load_ext(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's setting: every kernel loads nbassets; a ``%load_ext`` after it is harmless."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text('c.InteractiveShellApp.extensions = ["nbassets"]\n')
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    notebook = write_notebook(project / "notebooks" / "loaded.ipynb", {
        "first": "%%asset greeting --no-preview\n'hello'",
        "load": "%load_ext nbassets",
        "second": "%%asset shout --no-preview\ngreeting.upper()",
        "hooks": "[f for f in get_ipython().events.callbacks['pre_run_cell']\n"
                 " if 'AssetMagics' in repr(f)].__len__()",
    })  # fmt: skip
    nb = execute(notebook, monkeypatch)  # raises on any cell's error
    assert "already loaded" in nb.cells[1].outputs[0]["text"]
    assert nb.cells[3].outputs[0]["data"]["text/plain"] == "1"
    assert {row[1] for row in catalog_rows(SANDBOX)} >= {"greeting", "shout"}


def test_asset_help_lists_the_options(shell: TestingShell) -> None:
    doc = shell.magics_manager.magics["cell"]["asset"].__doc__
    for option in ("--io", "--deps", "--key", "--desc", "--no-preview"):
        assert option in doc


def test_asset_question_mark_shows_the_partition_options(shell: TestingShell) -> None:
    """``%%asset?`` as a user types it: the usage line and both partition options, explained."""
    text = shown(shell.capture("%%asset?"))
    assert "[--partition DEFINITION] [--partition-key KEY]" in text
    assert "--partition DEFINITION" in text and "daily:2024-01-01," in text
    assert "the cell sees `partition`" in text
    assert "--partition-key KEY   the partition a notebook run builds (default: the" in text


# --- %%asset: building -----------------------------------------------------------------------


def test_asset_builds_into_the_sandbox_with_a_full_record(shell: TestingShell) -> None:
    out = shell.capture("%%asset raw\nimport pandas as pd\npd.DataFrame({'a': [1, 2, 3]})")
    assert "raw → dev-tester-nogit @" in shown(out)
    assert isinstance(shell.user_ns["raw"], pd.DataFrame)
    assert "pd" not in shell.user_ns  # the body runs like a function: temporaries stay local
    rows = catalog_rows(SANDBOX)
    assert len(rows) == 1
    record = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest()["raw"]
    assert record.env == "dev-tester-nogit"
    assert record.rows == 3 and record.schema == {"a": "int64"}
    assert record.user == "tester" and record.io == "parquet" and record.kind == "pandas"
    assert record.source == "<kernel>::raw"
    assert (SANDBOX / record.path).is_file() and record.bytes == (
        SANDBOX / record.path
    ).stat().st_size
    assert record.path == f"data/raw/{record.data_version}.parquet"
    assert record.started_at <= record.finished_at
    assert not Path("warehouse").exists()


def test_value_is_the_final_assignment_to_the_name(shell: TestingShell) -> None:
    shell.run_cell("%%asset total --no-preview\nparts = [1, 2, 3]\ntotal = sum(parts)")
    assert shell.user_ns["total"] == 6


def test_a_cell_with_no_value_is_refused_before_running(shell: TestingShell) -> None:
    with pytest.raises(
        UsageError, match=r"asset cell 'nothing' has no value.*assignment to 'nothing'"
    ):
        shell.run_cell("%%asset nothing\nprint('ran')\nx = 1")
    with pytest.raises(UsageError, match="empty"):
        shell.run_cell("%%asset nothing\n# only a comment\n")
    assert not SANDBOX.exists()


def test_io_options_round_trip(shell: TestingShell) -> None:
    shell.run_cell("%%asset config --io json --no-preview\n{'b': [1, 2], 'a': 'x'}")
    shell.run_cell("%%asset blob --no-preview\n{'set': {1, 2}}")
    records = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest()
    assert records["config"].io == "json" and records["config"].path.endswith(".json")
    assert records["blob"].io == "pickle" and records["blob"].path.endswith(".pkl")
    assert json.loads((SANDBOX / records["config"].path).read_text()) == {"a": "x", "b": [1, 2]}
    with pytest.raises(UsageError, match="not JSON-serializable"):
        shell.run_cell("%%asset bad_json --io json\n{1, 2}")
    with pytest.raises(UsageError, match="--io parquet stores tables"):
        shell.run_cell("%%asset bad_parquet --io parquet\n[1, 2]")
    with pytest.raises(UsageError, match="invalid choice: 'csv'"):
        shell.run_cell("%%asset x --io csv\n1")


def test_a_bad_option_value_says_so(shell: TestingShell) -> None:
    with pytest.raises(UsageError, match="'soon' is not a duration"):
        shell.run_cell("%%asset x --fresh max_age=soon\n1")
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        shell.run_cell("%%asset x --bogus\n1")


def usage_error_shown(shell: TestingShell, cell: str) -> str:
    """What a notebook shows for ``cell`` when it is bad usage (IPython prints it once)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    with capture_output() as out:
        result = InteractiveShell.run_cell(shell, cell, store_history=True)
    assert isinstance(result.error_in_exec, UsageError)
    return out.stdout + out.stderr


@pytest.mark.parametrize(
    ("cell", "suggestion", "usage"),
    [
        ("%%asset x --chek \"not_null('id')\"\n1", "--check", "Usage: %%asset [--io"),
        ("%%check x --severty warn\nTrue", "--severity", "Usage: %%check [--name CHECK]"),
        ("%diff x --againts ci", "--against", "Usage: %diff [--against ENV]"),
        ("%lineage x --al", None, "Usage: %lineage"),
    ],
)
def test_a_bad_magic_line_suggests_the_nearest_option_and_shows_the_usage_once(
    shell: TestingShell, cell: str, suggestion: str | None, usage: str
) -> None:
    shell.run_cell("%%asset x --no-preview\n1")
    text = usage_error_shown(shell, cell)
    assert text.count("UsageError") == 1 and text.count("Usage:") == 1, text
    assert "usage:" not in text and usage in text, text
    if suggestion:
        assert f"Did you mean {suggestion}?" in text, text


def test_loading_the_extension_again_changes_nothing(shell: TestingShell) -> None:
    """As with ``c.InteractiveShellApp.extensions = ["nbassets"]`` and then ``%load_ext``."""
    shell.run_cell("%unload_ext nbassets")
    shell.extension_manager.load_extension("nbassets")  # what the config setting does
    magics = shell.magics_manager.registry["AssetMagics"]
    shell.run_cell("%%asset kept --no-preview\n1")
    out = shell.capture("%load_ext nbassets").stdout  # the quickstart's first cell
    assert "already loaded" in out
    assert shell.magics_manager.registry["AssetMagics"] is magics
    hooks = [f for f in shell.events.callbacks["pre_run_cell"] if "AssetMagics" in repr(f)]
    assert len(hooks) == 1 and shell.configurables.count(magics) == 1
    assert session_of(shell).cells.keys() == {"kept"}  # the kernel's state is kept


def test_key_and_desc_are_kept_on_the_definition(shell: TestingShell) -> None:
    shell.run_cell("%%asset t --key id --key day,region --desc 'a table' --no-preview\n[1]")
    spec = session_of(shell).cells["t"].spec
    assert spec.key_columns == ("id", "day", "region") and spec.description == "a table"


def test_magic_lines_are_taken_literally(shell: TestingShell) -> None:
    shell.user_ns["name"] = "other"
    with pytest.raises(UsageError, match="not a valid asset key"):
        shell.run_cell("%%asset $name\n1")
    with pytest.raises(UsageError, match="not a valid asset key"):
        shell.run_cell("%%asset {name}\n1")


def test_no_preview_displays_nothing(shell: TestingShell) -> None:
    out = shell.capture("%%asset quiet --no-preview\n[1, 2]")
    assert out.stdout == "" and not out.outputs


# --- dependencies ----------------------------------------------------------------------------


def test_dependencies_are_inferred_and_inputs_labelled(shell: TestingShell) -> None:
    shell.run_cell("%%asset raw --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1, 2, 3]})")
    out = shell.capture("%%asset clean\nclean = raw[raw.a > 1]")
    version = session_of(shell).built["raw"].data_version
    assert f"raw ← kernel dev-tester-nogit @ {version[:7]}" in shown(out)
    record = session_of(shell).built["clean"]
    assert record.inputs == {"raw": {"data_version": version, "env": "dev-tester-nogit"}}
    assert session_of(shell).cells["clean"].deps == ("raw",)


def test_inputs_are_the_stored_round_trip_not_the_namespace_object(shell: TestingShell) -> None:
    shell.run_cell("%%asset raw --no-preview\nimport pandas as pd\npd.DataFrame({0: [1, 2]})")
    shell.user_ns["raw"]["mutated"] = 1  # an exploratory cell changing the namespace object
    shell.run_cell("%%asset cols --no-preview\nlist(raw.columns)")
    assert shell.user_ns["cols"] == [0]  # what the exported code would read from the store
    shell.run_cell("%%asset mutate --no-preview\nraw['z'] = 1\nlist(raw.columns)")
    assert shell.user_ns["mutate"] == [0, "z"]
    shell.run_cell("%%asset again --no-preview\nlist(raw.columns)")
    assert shell.user_ns["again"] == [0]  # a consumer's in-place change does not leak


def test_deps_option_and_unknown_dependency(shell: TestingShell) -> None:
    shell.run_cell("%%asset orders --no-preview\n[1, 2]")
    shell.run_cell("%%asset report --deps orders --no-preview\nlen(orders)")
    assert session_of(shell).cells["report"].deps == ("orders",)
    with pytest.raises(UsageError, match="no asset 'ordrs' is known.*Did you mean 'orders'"):
        shell.run_cell("%%asset summary --deps ordrs\n1")


def test_reading_a_declared_but_unbuilt_upstream_explains_what_to_do(
    shell: TestingShell, project: Path
) -> None:
    shell.run_cell("%%asset orders --no-preview\n[1]")
    session_of(shell).built.clear()
    Path(".nbassets").rename("elsewhere")  # the sandbox is gone; the kernel still knows 'orders'
    with pytest.raises(
        UsageError, match=r"reads 'orders', which has no version.*%materialize \+total"
    ):
        shell.run_cell("%%asset total\nlen(orders)")


def test_a_cycle_is_refused_naming_it(shell: TestingShell) -> None:
    shell.run_cell("%%asset a --no-preview\n1")
    shell.run_cell("%%asset b --no-preview\na + 1")
    with pytest.raises(UsageError, match="dependency cycle: a -> b -> a"):
        shell.run_cell("%%asset a\nb + 1")
    with pytest.raises(UsageError, match="dependency cycle: c -> c"):
        shell.run_cell("%%asset c\nc = c + 1")


def test_reading_then_assigning_a_global_is_explained(shell: TestingShell) -> None:
    shell.user_ns["df"] = [1, 2]
    with pytest.raises(UsageError, match="reads 'df' and later assigns it"):
        shell.run_cell("%%asset doubled\ndf = df * 2\ndoubled = df")


# --- production is never written from a kernel -----------------------------------------------


def test_switching_to_prod_is_refused(shell: TestingShell) -> None:
    with pytest.raises(UsageError, match="cannot switch to 'prod'"):
        shell.run_cell("%nbassets env prod")


def test_a_sandbox_symlinked_into_prod_is_refused(shell: TestingShell, project: Path) -> None:
    write_prod(project, "seed", [1])
    (project / ".nbassets").mkdir()
    os.symlink(project / "warehouse", project / ".nbassets" / "sneaky")
    with pytest.raises(UsageError, match="resolves to .*warehouse.*never writes production"):
        shell.run_cell("%nbassets env sneaky")
    os.symlink(project / "warehouse" / "data", project / ".nbassets" / "inside")
    with pytest.raises(UsageError, match="never writes production"):
        shell.run_cell("%nbassets env inside")


def test_a_default_sandbox_that_resolves_into_prod_cannot_be_written(
    shell: TestingShell, project: Path
) -> None:
    before = tree_digest(project / "warehouse") if (project / "warehouse").exists() else {}
    (project / ".nbassets").mkdir()
    (project / "warehouse").mkdir(exist_ok=True)
    os.symlink(project / "warehouse", project / ".nbassets" / "dev-tester-nogit")
    with pytest.raises(UsageError, match="never writes production"):
        shell.run_cell("%%asset x\n1")
    assert tree_digest(project / "warehouse") == before


def test_env_switch_builds_elsewhere_and_ignores_other_env_values(shell: TestingShell) -> None:
    shell.run_cell("%%asset raw --no-preview\n[1, 2, 3]")
    out = shell.capture("%nbassets env dev-tester-experiment")
    assert "dev-tester-experiment" in out.stdout
    with pytest.raises(UsageError, match="reads 'raw', which has no version"):
        shell.run_cell("%%asset total\nsum(raw)")
    with pytest.raises(UsageError, match="not a valid environment name"):
        shell.run_cell("%nbassets env ../oops")


# --- staleness -------------------------------------------------------------------------------


def test_formatting_is_fresh_literals_are_stale_and_upstream_changes_propagate(
    shell: TestingShell,
) -> None:
    shell.run_cell("%%asset raw --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1, 2, 3]})")
    shell.run_cell("%%asset clean --no-preview\nclean = raw[raw.a > 1]")
    shell.run_cell("%%asset total --no-preview\nint(clean.a.sum())")
    assert statuses(shell) == {"raw": "fresh", "clean": "fresh", "total": "fresh"}

    # reformatting and a comment: same code version
    session = session_of(shell)
    session.cells["clean"] = session.declare(
        "clean", "# keep the big ones\nclean = raw[ raw.a>1 ]\n\n"
    )
    assert statuses(shell)["clean"] == "fresh"

    # a changed literal: stale, and its downstream too
    session.cells["clean"] = session.declare("clean", "clean = raw[raw.a > 2]")
    labels = statuses(shell)
    assert labels["clean"] == "stale: code changed"
    assert labels["total"] == "stale: upstream 'clean' is stale"

    # rebuild the upstream with new data: the downstream reads an old version
    shell.run_cell("%%asset clean --no-preview\nclean = raw[raw.a > 2]")
    assert statuses(shell) == {
        "raw": "fresh",
        "clean": "fresh",
        "total": "stale: upstream 'clean' changed",
    }
    shell.run_cell("%materialize --stale")
    assert statuses(shell) == {"raw": "fresh", "clean": "fresh", "total": "fresh"}
    assert shell.user_ns["total"] == 3


def test_a_failed_build_is_reported_and_keeps_the_previous_version(shell: TestingShell) -> None:
    shell.run_cell("%%asset raw --no-preview\n[1, 2]")
    before = catalog_rows(SANDBOX)
    with pytest.raises(ZeroDivisionError):
        shell.run_cell("%%asset raw\nprint('half way')\n1 / 0")
    assert catalog_rows(SANDBOX) == before
    failures = catalog_rows(SANDBOX, "failures")
    assert len(failures) == 1 and "ZeroDivisionError" in failures[0][5]
    assert statuses(shell)["raw"] == "failed: last build raised"
    assert shell.user_ns["raw"] == [1, 2]
    assert not [p for p in SANDBOX.rglob("*") if "tmp" in p.name]


def test_a_cell_whose_value_is_none_is_refused_with_how_to_return_it(shell: TestingShell) -> None:
    shell.run_cell("%%asset greeting --no-preview\n'hello'")
    before = catalog_rows(SANDBOX)
    with pytest.raises(UsageError) as raised:
        shell.run_cell("%%asset greeting\nmessage = 'hello'\nprint(message)")
    message = str(raised.value)
    assert "asset 'greeting' has no value: its code returned None" in message
    assert "last expression" in message and "greeting = " in message
    assert catalog_rows(SANDBOX) == before  # nothing stored
    assert statuses(shell)["greeting"] == "failed: last build raised"
    assert shell.user_ns["greeting"] == "hello"


def test_never_built_notebook_assets_are_missing(shell: TestingShell, project: Path) -> None:
    notebook = project / "notebooks" / "n.ipynb"
    write_notebook(notebook, {"c1": "%%asset first\n1", "c2": "%%asset second\nfirst + 1"})
    shell.user_ns["__session__"] = str(notebook)
    assert statuses(shell) == {"first": "missing: never built", "second": "missing: never built"}
    shell.run_cell("%%asset first --no-preview\n1")
    record = session_of(shell).built["first"]
    assert record.source == "notebooks/n.ipynb#c1"
    labels = statuses(shell)
    assert labels == {"first": "fresh", "second": "missing: never built"}


def test_code_saved_after_the_run_makes_the_asset_stale(shell: TestingShell, project: Path) -> None:
    notebook = project / "n.ipynb"

    def save(body: str) -> None:
        write_notebook(notebook, {"c1": f"%%asset total\n{body}"})

    save("sum([1, 2])")
    shell.user_ns["__session__"] = str(notebook)
    shell.run_cell("%%asset total --no-preview\nsum([1, 2])")
    assert statuses(shell)["total"] == "fresh"
    save("sum([1, 2, 3])")  # edited and saved, not run
    os.utime(notebook, (notebook.stat().st_atime, notebook.stat().st_mtime + 5))
    assert statuses(shell)["total"] == "stale: code changed"
    shell.run_cell("%%asset total --no-preview\nsum([1, 2, 3])")
    assert statuses(shell)["total"] == "fresh"


# --- production inputs -----------------------------------------------------------------------


def test_upstream_only_in_prod_is_read_and_prod_is_untouched(
    shell: TestingShell, project: Path
) -> None:
    version = write_prod(project, "flights", pd.DataFrame({"dest": ["JFK", "LAX", "JFK"]}))
    before = tree_digest(project / "warehouse")
    out = shell.capture("%%asset by_dest\nflights.groupby('dest').size().reset_index(name='n')")
    assert f"flights ← prod @ {version[:7]}" in shown(out)
    record = session_of(shell).built["by_dest"]
    assert record.env == "dev-tester-nogit"
    assert record.inputs == {"flights": {"data_version": version, "env": "prod"}}
    assert shell.user_ns["by_dest"].to_dict("list") == {"dest": ["JFK", "LAX"], "n": [2, 1]}
    shell.run_cell("%assets")
    shell.run_cell("%nbassets")
    assert tree_digest(project / "warehouse") == before
    assert statuses(shell)["flights"] == "fresh"

    # production moves on: the sandbox asset is stale because its upstream changed
    write_prod(project, "flights", pd.DataFrame({"dest": ["SFO"]}))
    assert statuses(shell)["by_dest"] == "stale: upstream 'flights' changed"


# --- %materialize, %assets, %nbassets ---------------------------------------------------------


def chain(shell: TestingShell) -> None:
    shell.run_cell("%%asset a --no-preview\n[1]")
    shell.run_cell("%%asset b --no-preview\na + [2]")
    shell.run_cell("%%asset c --no-preview\nb + [3]")
    shell.run_cell("%%asset side --no-preview\nlen(a)")


def built_order(shell: TestingShell, line: str) -> list[str]:
    session = session_of(shell)
    session.built.clear()
    shell.run_cell(f"%config AssetMagics.progress = False\n%materialize {line}")
    return list(session.built)


def test_materialize_selections(shell: TestingShell) -> None:
    chain(shell)
    assert built_order(shell, "b") == ["b"]
    assert built_order(shell, "b+") == ["b", "c"]
    assert built_order(shell, "+b") == ["a", "b"]
    assert built_order(shell, "a+") == ["a", "b", "c", "side"]
    assert built_order(shell, "*") == ["a", "b", "c", "side"]
    assert built_order(shell, "") == ["a", "b", "c", "side"]
    with pytest.raises(UsageError, match="asset 'bb' is not defined here. Did you mean 'b'"):
        shell.run_cell("%materialize bb")
    with pytest.raises(UsageError, match="give one selection"):
        shell.run_cell("%materialize a b")
    with pytest.raises(UsageError, match=r"'--stal' is not an option of %materialize\. Did you "
                       r"mean --stale\? Usage: %materialize \[NAME \| NAME\+ \| \+NAME \| \*\] "
                       r"\[--stale\]"):  # fmt: skip
        shell.run_cell("%materialize a --stal")


def test_materialize_stale_rebuilds_only_what_is_stale(shell: TestingShell) -> None:
    chain(shell)
    out = shell.capture("%materialize --stale")
    assert "nothing to materialize" in out.stdout
    session = session_of(shell)
    session.cells["b"] = session.declare("b", "a + [20]")
    assert built_order(shell, "--stale") == ["b", "c"]
    assert shell.user_ns["c"] == [1, 20, 3]


def test_materialize_skips_downstream_of_a_failure_and_raises(shell: TestingShell) -> None:
    chain(shell)
    session = session_of(shell)
    session.cells["b"] = session.declare("b", "a + [1 / 0]")
    with pytest.raises(Exception, match=r"1 failed \(b: ZeroDivisionError.*Skipped downstream: c"):
        shell.run_cell("%config AssetMagics.progress = False\n%materialize a+")
    assert statuses(shell)["side"] == "fresh"


def test_materialize_skips_downstream_of_a_failed_error_check(shell: TestingShell) -> None:
    chain(shell)
    session = session_of(shell)
    session.cells["b"] = session.declare("b --check 'row_count(max=0)'", "a + [2]")
    session.built.clear()
    with pytest.raises(
        MaterializeFailed, match=r"error-severity checks failed on b\. Skipped downstream: c"
    ):
        shell.run_cell("%config AssetMagics.progress = False\n%materialize a+")
    assert list(session.built) == ["a", "b", "side"]  # b built (check-failed), c skipped
    assert statuses(shell)["b"].startswith("check-failed")

    warn = session.declare("b --check 'row_count(max=0, severity=\"warn\")'", "a + [2]")
    session.cells["b"] = warn
    shell.run_cell("%materialize a+")  # a warning blocks nothing
    assert statuses(shell)["c"] == "fresh"


def test_materialize_progress_bar(shell: TestingShell) -> None:
    chain(shell)
    out = shell.capture("%config AssetMagics.progress = True\n%materialize a+")
    assert "materialize" in out.stderr and "4/4" in out.stderr


def test_assets_table_text_and_html(shell: TestingShell, project: Path) -> None:
    write_prod(project, "prod_only", pd.DataFrame({"x": range(5)}))
    chain(shell)
    table = shell.run_cell("%assets --all").result  # every asset in the env and prod
    text = table.to_text()
    assert text.splitlines()[0].split() == [
        "asset",
        "status",
        "env",
        "version",
        "rows",
        "built",
        "commit",
    ]
    assert "prod_only  fresh   prod" in text
    assert [row.key for row in table.rows][:3] == ["a", "b", "c"] or "a" in text
    bundle = table._repr_mimebundle_()
    assert "<table" in bundle["text/html"] and "prod_only" in bundle["text/html"]
    assert [row.key for row in shell.run_cell("%assets").result.rows] == [
        "a", "b", "c", "side"
    ]  # fmt: skip  # DESIGN §3: the cells run in this kernel (no notebook file) and what they read
    with pytest.raises(UsageError, match="unrecognized arguments: extra"):
        shell.run_cell("%assets extra")


def test_nbassets_summary(shell: TestingShell, project: Path) -> None:
    chain(shell)
    facts = shell.run_cell("%nbassets").result.facts
    assert facts["env"] == "dev-tester-nogit"
    assert facts["project"] == str(project)
    assert facts["assets"] == 4 and facts["status"] == {"fresh": 4}
    with pytest.raises(UsageError, match="unknown arguments"):
        shell.run_cell("%nbassets frobnicate")


def test_catalog_commit_and_dirty_flag_recorded_in_git_repo(
    shell: TestingShell, project: Path
) -> None:
    import subprocess

    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "pyproject.toml"],
        ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True)
    (project / ".gitignore").write_text("")  # an untracked file: dirty
    from nbassets import gitinfo

    gitinfo._cache.clear()
    shell.run_cell("%%asset x --no-preview\n1")
    record = session_of(shell).built["x"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True)
    assert record.commit == head.stdout.strip() and record.dirty is True


def test_user_errors_keep_a_traceback_to_their_line(shell: TestingShell) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    with capture_output() as out:
        InteractiveShell.run_cell(shell, "%%asset broken\nx = 1\ny = x / 0\ny")
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)  # the failing part is highlighted
    assert "ZeroDivisionError" in text
    assert "y = x / 0" in text and "Cell In[" in text  # tests/test_tracebacks.py: the rest


def test_preview_options_are_traitlets(shell: TestingShell) -> None:
    shell.run_cell("import pandas as pd\nframe = pd.DataFrame({'a': range(50)})")
    shell.run_cell("%config AssetMagics.preview_rows = 2")
    out = shell.capture("%%asset fifty\nframe")
    assert "first 2 of 50 rows" in shown(out)
    shell.run_cell("%config AssetMagics.preview = False")
    try:
        assert not shell.capture("%%asset fifty\nframe").outputs
    finally:
        shell.run_cell("%config AssetMagics.preview = True\n%config AssetMagics.preview_rows = 5")


def test_removing_the_sandbox_while_the_kernel_runs(shell: TestingShell, project: Path) -> None:
    import shutil

    shell.run_cell("%%asset a --no-preview\n[1, 2]")
    shutil.rmtree(project / ".nbassets")  # a user resetting their sandbox
    shell.run_cell("%%asset a --no-preview\n[1, 2, 3]")
    shell.run_cell("%%asset b --no-preview\nlen(a)")
    record = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest()["a"]
    assert (SANDBOX / record.path).is_file()
    assert shell.user_ns["b"] == 3
    assert statuses(shell) == {"a": "fresh", "b": "fresh"}


def test_polars_and_arrow_tables_round_trip_as_themselves(shell: TestingShell) -> None:
    shell.run_cell(
        "%%asset pl_frame --no-preview\nimport polars as pl\npl.DataFrame({'a': [1, 2, 3]})"
    )
    shell.run_cell(
        "%%asset arrow_table --no-preview\nimport pyarrow as pa\npa.table({'b': ['x', 'y']})"
    )
    shell.run_cell(
        "%%asset kinds --no-preview\n[type(pl_frame).__module__, type(arrow_table).__module__]"
    )
    assert shell.user_ns["kinds"][0].startswith("polars") and shell.user_ns["kinds"][1].startswith(
        "pyarrow"
    )
    records = SqliteCatalog(SANDBOX / "catalog.sqlite", writable=False).latest()
    assert (records["pl_frame"].kind, records["pl_frame"].io) == ("polars", "parquet")
    assert records["pl_frame"].rows == 3 and records["pl_frame"].schema == {"a": "Int64"}
    assert (records["arrow_table"].kind, records["arrow_table"].schema) == (
        "arrow",
        {"b": "string"},
    )
    import nbassets

    loaded = nbassets.load("pl_frame", env="dev-tester-nogit")
    assert type(loaded).__module__.startswith("polars") and loaded["a"].to_list() == [1, 2, 3]


# --- %forget ---------------------------------------------------------------------------------


def test_forget_drops_the_kernels_cell_checks_and_value(shell: TestingShell, project: Path) -> None:
    """The kernel's own state goes with the sandbox's version: a downstream cell no longer
    reads the key, and a rebuild starts without the old check cells."""
    shell.run_cell("%%asset scratch --no-preview\n[1, 2, 3]")
    shell.capture("%%check scratch --name short\nlen(scratch) < 5")
    session = session_of(shell)
    assert "scratch" in session.check_cells and "scratch" in session.run_at
    shell.capture("%forget scratch")
    assert "scratch" not in session.check_cells and "scratch" not in session.run_at
    assert "scratch" not in session.known_keys()
    with pytest.raises(NameError):  # no longer an asset, and no value bound in the notebook
        shell.run_cell("%%asset total --no-preview\nsum(scratch)")
    with pytest.raises(UsageError, match="forgotten in sandbox 'dev-tester-nogit' already"):
        shell.run_cell("%forget scratch")


def test_forget_of_an_asset_the_notebook_defines_shows_it_missing(
    shell: TestingShell, project: Path
) -> None:
    notebook = write_notebook(project / "notebooks" / "n.ipynb", {"c1": "%%asset first\n[1]"})
    shell.user_ns["__session__"] = str(notebook)
    shell.run_cell("%%asset first --no-preview\n[1]")
    assert statuses(shell) == {"first": "fresh"}
    shell.capture("%forget first")
    assert statuses(shell) == {"first": "missing: never built"}


def test_forget_of_a_sandbox_version_reads_productions_again(
    shell: TestingShell, project: Path
) -> None:
    write_prod(project, "flights", [1, 2])
    prod = tree_digest(project / "warehouse")
    shell.run_cell("%%asset flights --no-preview\n[9]")  # the sandbox's own version
    workspace = session_of(shell).workspace
    assert workspace.resolve("flights").origin == "sandbox"
    out = shell.capture("%forget flights")
    assert "it reads production's version again" in shown(out)
    assert workspace.resolve("flights").origin == "prod"
    shell.run_cell("%%asset total --no-preview\nsum(flights)")
    assert shell.user_ns["total"] == 3
    assert tree_digest(project / "warehouse") == prod
