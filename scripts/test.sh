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
# the layers and the pure core ([tool.importlinter]): the whole report only when a contract breaks
out=$(.venv/bin/lint-imports --no-cache 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E "^Contracts: "
# the lab extension: prettier's format check, and node --test over its pure TypeScript modules
(
  cd labextension
  export PATH="$PWD/../.venv/bin:$PATH" # jlpm comes with jupyterlab (jupyter-builder)
  out=$(jlpm install --immutable 2>&1) || { echo "$out"; exit 1; }
  jlpm run format:check
  out=$(jlpm run test 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -E "^ℹ (tests|pass|fail) "
)
.venv/bin/python -m pytest "$@"
[ $# -gt 0 ] || .venv/bin/python -m benchmarks --quick # every scenario at small sizes: FAIL (not SHORT) exits 1
