#!/usr/bin/env bash
# The test command: lint, type-check and run every test (unit, kernel, notebook) in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q -e ".[test]"
fi
.venv/bin/ruff check nbassets tests scripts benchmarks notebooks
.venv/bin/ruff format --check nbassets tests scripts benchmarks notebooks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
