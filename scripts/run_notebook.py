"""Execute a notebook in a real kernel (nbclient) and print what its ``%assets`` cell showed.

Usage: python scripts/run_notebook.py notebooks/quickstart.ipynb [--save OUT.ipynb]
The kernel is told the notebook's path (as JupyterLab does), so provenance names its cells.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--save", type=Path, help="write the executed notebook here")
    args = parser.parse_args()
    path = args.notebook.resolve()
    notebook = nbformat.read(path, as_version=4)
    os.environ["JPY_SESSION_NAME"] = str(path)  # what jupyter_server tells a notebook's kernel
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:
        print(f"{path.name} failed:\n{exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.strip() == "%assets":
            for output in cell.outputs:
                print(output.get("data", {}).get("text/plain", ""))
    print(f"\nexecuted {path.name} in {seconds:.1f} s")
    if args.save:
        nbformat.write(notebook, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
