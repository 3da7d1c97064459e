#!/usr/bin/env bash
# Set up .venv and open the quick start notebook in JupyterLab.
#   --headless      execute the notebook in a real kernel and print its %assets table instead
#   --install-only  set up the venv and stop (what tests/test_scripts.py checks)
# It reuses an existing venv, whoever made it (an earlier quickstart, scripts/test.sh, .ci/run),
# and adds what the notebook needs. VENV picks the venv (default: .venv, relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[lab]"
[ "${1:-}" != "--install-only" ] || exit 0
"$venv/bin/python" notebooks/seed_production.py   # production's inputs, as ingest jobs would leave them
if [ "${1:-}" = "--headless" ]; then
  exec "$venv/bin/python" scripts/run_notebook.py notebooks/quickstart.ipynb
fi
lab_args=(notebooks/quickstart.ipynb)
[ "$(id -u)" != 0 ] || lab_args+=(--allow-root) # Jupyter refuses root without it (containers, CI)
exec "$venv/bin/jupyter" lab "${lab_args[@]}"
