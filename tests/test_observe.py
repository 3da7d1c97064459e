"""%diff, %lineage and the automatic diff line of the preview, in a real kernel."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from helpers import TestingShell, shown, tree_digest, write_prod
from IPython.core.error import UsageError

PROD_ORDERS = pd.DataFrame(
    {"id": [1, 2, 3, 4], "amount": [10, 20, 30, 40], "note": ["a", "b", "c", "d"]}
)
SANDBOX_ORDERS = (
    "import pandas as pd\n"
    "pd.DataFrame({'id': [2, 3, 4, 5, 6], 'amount': [20.0, 31.0, 40.0, 50.0, 60.0],"
    " 'channel': ['web'] * 5})"
)


def test_diff_against_production_with_exact_counts(shell: TestingShell, project: Path) -> None:
    write_prod(project, "orders", PROD_ORDERS)
    before = tree_digest(project / "warehouse")
    out = shell.capture(f"%%asset orders --key id\n{SANDBOX_ORDERS}")
    line = next(text for text in shown(out).splitlines() if "vs prod" in text)
    assert " ".join(line.split()).startswith(
        "vs prod 4 -> 5 rows (+2 added, -1 removed, 1 changed)"
    )
    assert line.count("vs prod") == 1
    # the preview's automatic line, labelled once (issue 11 item 11)

    diff = shell.run_cell("%diff orders").result
    assert (diff.old_rows, diff.new_rows) == (4, 5)
    assert (diff.added_rows, diff.removed_rows, diff.changed_rows, diff.unchanged_rows) == (
        2,
        1,
        1,
        2,
    )
    assert diff.added_columns == ["channel"] and diff.removed_columns == ["note"]
    assert diff.retyped_columns == [("amount", "BIGINT", "DOUBLE")]
    assert diff.changed_by_column["amount"] == 1
    assert [row["id"] for row in diff.added_sample] == [5, 6]
    assert diff.changed_sample[0].key == {"id": 3}
    bundle = diff._repr_mimebundle_()
    assert "text/plain" in bundle and "<table" in bundle["text/html"]
    assert tree_digest(project / "warehouse") == before

    keyless = shell.run_cell("%diff orders --key amount").result
    assert keyless.key == ("amount",)


def test_diff_errors(shell: TestingShell, project: Path) -> None:
    shell.run_cell(f"%%asset orders --no-preview --key id\n{SANDBOX_ORDERS}")
    assert "new in prod" in shell.run_cell("%diff orders").result.to_text()  # not an error
    write_prod(project, "orders", PROD_ORDERS)
    with pytest.raises(UsageError, match="key column 'nope'"):
        shell.run_cell("%diff orders --key nope")
    with pytest.raises(UsageError, match="no version .* to check|has no version"):
        shell.run_cell("%diff nothing")
    with pytest.raises(UsageError):
        shell.run_cell("%diff")


def test_diff_against_another_sandbox(shell: TestingShell) -> None:
    shell.run_cell("%%asset t --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1, 2]})")
    shell.run_cell("%nbassets env dev-tester-other")
    shell.run_cell("%%asset t --no-preview\nimport pandas as pd\npd.DataFrame({'a': [1, 2, 3]})")
    diff = shell.run_cell("%diff t --against dev-tester-nogit").result
    assert (diff.old_rows, diff.new_rows, diff.old_label) == (2, 3, "dev-tester-nogit")


def test_lineage_of_thirty_assets(shell: TestingShell, project: Path) -> None:
    write_prod(project, "source", pd.DataFrame({"x": [1]}))
    shell.run_cell("%%asset a00 --no-preview\nlen(source)")
    for i in range(1, 30):
        ups = [f"a{j:02d}" for j in (i - 1, i // 2) if j >= 0]
        shell.run_cell(f"%%asset a{i:02d} --no-preview\n{' + '.join(sorted(set(ups)))}")
    lineage = shell.run_cell("%lineage").result
    bundle = lineage._repr_mimebundle_()
    root = ET.fromstring(bundle["image/svg+xml"])
    texts = {el.text for el in root.iter() if el.tag.endswith("text")}
    assert {f"a{i:02d}" for i in range(30)} | {"source"} <= texts
    assert "source -> a00  (prod)" in bundle["text/plain"]
    assert "a00 -> a01  (sandbox)" in bundle["text/plain"]

    shell.run_cell("%%asset lonely --no-preview\n0")
    assert "lonely" in shell.run_cell("%lineage").result.to_text()
    focused = shell.run_cell("%lineage a03").result.to_text()
    assert "a01 -> a03" in focused and "lonely" not in focused
    with pytest.raises(UsageError, match="asset 'a3' is not in the lineage graph.*Did you mean"):
        shell.run_cell("%lineage a3")


def test_lineage_colours_by_status(shell: TestingShell) -> None:
    shell.run_cell("%%asset a --no-preview\n1")
    with pytest.raises(ZeroDivisionError):
        shell.run_cell("%%asset b --no-preview\na / 0")
    svg = shell.run_cell("%lineage").result.to_svg()
    assert "failed" in svg and "fresh" in svg


def test_preview_as_a_widget_is_opt_in(shell: TestingShell) -> None:
    shell.run_cell("%config AssetMagics.widget = True")
    try:
        out = shell.capture("%%asset x\n[1, 2]")
    finally:
        shell.run_cell("%config AssetMagics.widget = False")
    assert "application/vnd.jupyter.widget-view+json" in out.outputs[0].data
    assert "text/html" in shell.capture("%%asset x\n[1, 2]").outputs[0].data
