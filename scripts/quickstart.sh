#!/usr/bin/env bash
# Set up .venv and open the quick start notebook in JupyterLab.
# With --headless: execute the notebook in a real kernel and print its %assets table instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[lab]"
.venv/bin/python notebooks/seed_production.py   # production's inputs, as ingest jobs would leave them
if [ "${1:-}" = "--headless" ]; then
  exec .venv/bin/python scripts/run_notebook.py notebooks/quickstart.ipynb
fi
lab_args=(notebooks/quickstart.ipynb)
[ "$(id -u)" != 0 ] || lab_args+=(--allow-root) # Jupyter refuses root without it (containers, CI)
exec .venv/bin/jupyter lab "${lab_args[@]}"
