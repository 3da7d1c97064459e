"""Build tests/resources/shop.ipynb: a larger notebook for exporter tests (run once, committed)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", "# A shop notebook with helpers, imports in several cells, SQL, checks and exploration"),
    ("code", "%load_ext nbassets"),
    ("export", "# nbassets: export\nimport numpy as np\nimport pandas as pd"),
    ("export", "from datetime import date\n\nTAX = 0.2  # applied to every order\n\n\ndef with_tax(amount):\n    \"\"\"The amount with tax.\"\"\"\n    return round(amount * (1 + TAX), 2)"),
    ("code", "# exploration: not exported\nscratch = pd.DataFrame({'x': [1, 2]})\nscratch.describe()"),
    ("code", "%%asset customers --key id --check 'unique(\"id\")'\npd.DataFrame({'id': [1, 2, 3], 'name': ['ann', 'bob', 'cy'], 'since': [date(2024, 1, d) for d in (1, 2, 3)]})"),
    ("code", "%%asset orders --key order_id \\\n    --check 'not_null(\"order_id\")' --check 'between(\"total\", 0, 1000, severity=\"warn\")'\n# one order per customer and day\nframe = pd.DataFrame({'order_id': np.arange(1, 7), 'customer': [1, 1, 2, 3, 3, 3],\n                      'amount': [10.0, 20.0, 5.5, 8.0, 1.0, 700.0]})\nframe['total'] = frame.amount.map(with_tax)\norders = frame"),
    ("code", "%%check orders --name positive_amounts\nassert (orders.amount > 0).all(), 'amounts must be positive'"),
    ("code", "%%asset spend --key id --sql\nSELECT c.id, c.name, sum(o.total) AS spend\nFROM customers c JOIN orders o ON o.customer = c.id\nGROUP BY c.id, c.name\nORDER BY c.id"),
    ("code", "%%asset summary --io json\n{'customers': len(spend), 'top': spend.sort_values('spend').name.iloc[-1],\n 'notes': \"\"\"multi-line\n  text keeps\n    its indentation\"\"\"}"),
    ("code", "%%check spend --name everyone_spent --severity warn\nspend[spend.spend <= 0]"),
    ("code", "%assets"),
]


def build(path: Path) -> None:
    cells = []
    for index, (kind, source) in enumerate(CELLS):
        if kind == "md":
            cell = new_markdown_cell(source)
        else:
            cell = new_code_cell(source)
            if kind == "export" and not source.startswith("# nbassets: export"):
                cell.metadata["tags"] = ["export"]
        cell["id"] = f"shop-{index:02d}"
        cells.append(cell)
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    })
    nbformat.write(nb, path)


if __name__ == "__main__":
    build(Path(__file__).with_name("shop.ipynb"))
