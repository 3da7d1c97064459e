"""``nbassets report`` through click's runner on the scripted change (acceptance 4, text half):
markdown with exact counts, one strict, self-contained HTML page, a versioned JSON object."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import pytest
from click.testing import CliRunner, Result
from test_review import CI, scripted_change

from nbassets.cli import main
from nbassets.config import Project
from nbassets.render.review_md import LIMIT, code_span, fenced, md, to_markdown
from nbassets.review import review


@pytest.fixture(autouse=True)
def _fresh_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def sections(markdown: str) -> dict[str, str]:
    """``{key: its section}`` of each ``#### `key`: ...`` heading."""
    parts = re.split(r"^#### `(\w+)`", markdown, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_markdown_names_each_asset_with_exact_counts(project: Path) -> None:
    scripted_change(project)
    text = run("report", "--env", CI, "--against", "prod").stdout
    assert text.startswith(f"## nbassets report: `{CI}` against `prod`\n")
    assert "- 1 asset code changed (orders)\n- 1 downstream (customer\\_revenue)\n" in text
    assert "- a deploy to prod rebuilds 2 assets\n" in text
    found = sections(text)
    assert list(found) == ["orders", "customer_revenue"]  # big_orders is unchanged: left out
    orders, revenue = found["orders"], found["customer_revenue"]
    assert orders.startswith(": code changed\n")
    assert "**data**: vs prod: 5 -> 4 rows (+0 added, -1 removed, 2 changed); +1 column" in orders
    assert "- key (order\\_id): 0 added, 1 removed, 2 changed, 2 unchanged\n" in orders
    assert "- columns added: amount\\_cents\n" in orders
    assert "- changed values by column: amount 2\n" in orders
    assert "```diff\n--- a/orders\n+++ b/orders\n" in orders
    assert (
        '+    paid = raw_orders[(raw_orders.status == "paid") & (raw_orders.amount > 0)]' in orders
    )
    assert (
        "removed rows (1 of 1)\n  order_id  customer_id  amount\n  6         3            -5.0"
        in orders
    )
    assert "**checks**: ✅ pass `not_null('order_id')` · ✅ pass `unique('order_id')`" in orders
    assert "**tests** (code " in orders and "): none recorded" in orders
    assert revenue.startswith(": downstream\n\ndownstream of orders")
    assert "- key (customer\\_id): 0 added, 0 removed, 2 changed, 1 unchanged\n" in revenue
    assert "| `orders` | rebuild | code changed |" in text
    assert "| `customer_revenue` | downstream | upstream 'orders' is rebuilt |" in text
    assert "| `orders` | amount\\_cents int64 |  |  |" in text  # schema drift


def test_html_is_one_strict_self_contained_page(project: Path) -> None:
    scripted_change(project)
    out = project / "report.html"
    said = run("report", "--env", CI, "--format", "html", "--output", str(out)).stdout
    assert said == f"html report written to {out} ({len(out.read_text()):,} characters)\n"
    page = out.read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True).parse(page)  # raises on any parse error
    body = page.removeprefix("<!DOCTYPE html>\n")
    root = ET.fromstring(body)  # well-formed as XML too
    ns = "{http://www.w3.org/1999/xhtml}"
    tags = {el.tag.removeprefix(ns) for el in root.iter()}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base"}
    for pattern in ("http:", "https:", "url(", "src=", "@import", "//"):
        assert pattern not in page.replace("-->", ""), pattern
    keys = [el.get("data-key") for el in root.iter() if el.get("class", "").startswith("asset ")]
    assert keys == ["orders", "customer_revenue"]
    assert "key (order_id): 0 added, 1 removed, 2 changed, 2 unchanged" in page


def test_json_is_the_documented_version_1_object(project: Path) -> None:
    scripted_change(project)
    data = json.loads(run("report", "--env", CI, "--format", "json").stdout)
    assert data["version"] == 1 and (data["env"], data["against"]) == (CI, "prod")
    assert data["summary"]["code_changed"] == ["orders"]
    assert data["summary"]["downstream"] == ["customer_revenue"]
    assert data["summary"]["unchanged"] == 1 and data["summary"]["untested"] == ["orders"]
    assert data["summary"]["checks"] == {"pass": 2, "warn": 0, "fail": 0, "error": 0}
    orders = data["assets"][0]
    assert set(orders) == {
        "key", "change", "reason", "code", "against_version", "env_version", "data",
        "data_note", "checks", "tests", "tests_code_version",
    }  # fmt: skip
    diff = orders["data"]
    assert (diff["added_rows"], diff["removed_rows"], diff["changed_rows"]) == (0, 1, 2)
    assert diff["added_columns"] == ["amount_cents"] and diff["removed_sample"][0]["order_id"] == 6
    assert orders["code"]["diff"].startswith("--- a/orders\n")
    assert data["plan"]["rebuild"] == [{"key": "orders", "reason": "code changed"}]
    assert data["plan"]["orphaned"] == []


def test_a_long_report_is_shortened_and_says_so(project: Path) -> None:
    scripted_change(project)
    made = review(Project.find(project), CI)
    full = to_markdown(made)
    assert len(full) < LIMIT and "Shortened" not in full
    shorter = to_markdown(made, limit=len(full) - 1)
    assert len(shorter) < len(full) and "_Shortened to fit a pull-request comment" in shorter
    # two sample rows per kind save nothing here (there are at most two): none are shown
    assert "no sample rows per kind of change" in shorter and "changed rows (" not in shorter
    assert "0 added, 1 removed, 2 changed, 2 unchanged" in shorter  # the counts stay
    tiny = to_markdown(made, limit=2_300)  # room for the orders section only
    assert len(tiny) <= 2_300 and list(sections(tiny)) == ["orders"]
    assert "_… 1 more asset section left out to fit a pull-request comment: " in tiny
    assert f"`nbassets report --env {CI} --against prod --format html` shows everything" in tiny
    assert "| `customer_revenue` | downstream |" in tiny  # the deploy plan is always shown


def test_markdown_text_is_escaped() -> None:
    assert md("<script> a|b *c* _d_ `e`") == "&lt;script> a\\|b \\*c\\* \\_d\\_ \\`e\\`"
    assert md("> quoted\nline") == "\\> quoted line"
    assert code_span("a`b") == "`` a`b ``"
    assert fenced("```\nx", "diff") == ["````diff", "```\nx", "````"]


def test_bad_usage_exits_2_and_names_the_fix(project: Path) -> None:
    scripted_change(project)
    assert "'pdf' is not one of" in run("report", "--env", CI, "--format", "pdf", code=2).output
    same = run("report", "--env", CI, "--against", CI, code=2).stderr
    assert "--env and --against both name 'ci-7'" in same
    unknown = run("report", "--env", "ci-8", code=2).stderr
    assert "--env 'ci-8' has no store" in unknown and "Did you mean 'ci-7'?" in unknown
    missing = run("report", "--env", CI, "-o", str(project / "no" / "r.md"), code=2).stderr
    assert "the folder" in missing and "does not exist" in missing


def test_new_and_removed_assets_read_in_every_format(project: Path) -> None:
    from helpers import write_notebook
    from test_review import ORDERS_V2, REVENUE

    change = scripted_change(project, build=False)
    cells = {"orders": ORDERS_V2, "revenue": REVENUE}
    cells["top"] = "%%asset top --key order_id\norders.nlargest(2, 'amount')"
    write_notebook(project / "notebooks" / "shop.ipynb", cells)  # big_orders is gone
    change.export()
    run("materialize", "--env", CI, "--no-progress")
    text = run("report", "--env", CI).stdout
    assert list(sections(text)) == ["orders", "top", "customer_revenue", "big_orders"]
    found = sections(text)
    assert (
        "### New assets\n\n#### `top`" in text and "### Removed assets\n\n#### `big_orders`" in text
    )
    assert (
        "**data**: new in prod: ci-7 has 2 rows, 4 columns; prod has no version yet" in found["top"]
    )
    assert "```diff\n--- /dev/null\n+++ b/top\n" in found["top"]
    assert "```diff\n--- a/big_orders\n+++ /dev/null\n" in found["big_orders"]
    assert "a deploy leaves prod's versions; nbassets gc \\-\\-orphans lists them" not in text
    assert (
        "a deploy leaves prod's versions; nbassets gc --orphans lists them" in found["big_orders"]
    )
    assert "Orphaned in prod (no code defines them; never rebuilt" in text
    page = run("report", "--env", CI, "--format", "html").stdout
    html5lib.HTMLParser(strict=True).parse(page)
    ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    assert "id='asset-top' data-key='top' data-change='new'" in page
    assert "id='asset-big_orders' data-key='big_orders' data-change='removed'" in page
    data = json.loads(run("report", "--env", CI, "--format", "json").stdout)
    assert (data["summary"]["new"], data["summary"]["removed"]) == (["top"], ["big_orders"])
    assert data["assets"][1]["data"]["new"] is True and data["assets"][1]["data"]["rows"] == 2


def test_a_huge_change_still_fits_a_comment() -> None:
    """400 changed assets with 200-line code diffs: whole sections are cut, the plan capped."""
    from nbassets.provenance import Plan, PlanStep
    from nbassets.review import CHANGED, AssetReview, CodeDiff, Review

    body = "".join(f"+    x{i} = {i} * 2\n" for i in range(200))
    assets = tuple(
        AssetReview(
            key=f"asset_{n}",
            change=CHANGED,
            reason="code version a -> b",
            code=CodeDiff("a" * 16, "b" * 16, f"--- a/asset_{n}\n+++ b/asset_{n}\n{body}"),
            old=None,
            new=None,
            data=None,
            data_note="not built in ci-1",
            checks=(),
            tests=(),
            test_code_version="b" * 16,
        )
        for n in range(400)
    )
    steps = tuple(PlanStep(a.key, "rebuild", "code changed") for a in assets)
    made = Review("ci-1", "prod", "package pipelines", assets, Plan("prod", steps, "ci-1"), (), ())
    text = to_markdown(made)
    assert len(text) <= LIMIT
    kept = list(sections(text))
    assert 10 < len(kept) < 400 and kept == [f"asset_{n}" for n in range(len(kept))]
    assert f"_… {400 - len(kept)} more asset sections left out to fit" in text
    assert "code diffs cut after 15 lines" in text and "... 187 more lines" in text
    assert text.count("| rebuild | code changed |") == 100 and "| … | 300 more | |" in text


ORDERS_WITHOUT_AMOUNT = """\
%%asset orders --key order_id --check 'not_null("order_id")' --check 'unique("order_id")'
paid = raw_orders[raw_orders.status == "paid"]
orders = paid[["order_id", "customer_id"]].reset_index(drop=True)"""


def test_the_report_names_the_readers_of_a_removed_column(project: Path) -> None:
    from test_review import production

    from nbassets.pipeline import materialize

    change = production(project)
    change.git("checkout", "-q", "-b", "feature")
    change.notebook(ORDERS_WITHOUT_AMOUNT)
    change.export()
    change.commit("orders: no amount")
    assert materialize(Project.find(project), CI, ["orders"]).ok
    text = run("report", "--env", CI, "--against", "prod").stdout
    assert "| `orders` |  | amount float64 |  | amount: customer\\_revenue |" in text
    out = project / "report.html"
    run("report", "--env", CI, "--format", "html", "--output", str(out))
    assert "<td>amount float64</td><td></td><td>amount: customer_revenue</td>" in out.read_text()
