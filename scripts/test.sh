#!/usr/bin/env bash
# The test command: lint, type-check and run every test (unit, kernel, notebook) in .venv.
#
#   bash scripts/test.sh              every gate: ruff, mypy, import layers, the lab extension's
#                                     format check and tests, every pytest test, quick benchmarks
#   bash scripts/test.sh PYTEST_ARGS  pytest alone, with those arguments (re-running chosen tests,
#                                     or `--collect-only -q`): the other gates are skipped
#
# It works in any venv: one it makes (when $VENV has no python), the quickstart's (which lacks
# the test extras) or CI's. When a test tool is missing it installs the test extras first.
# VENV picks the venv (default: .venv, relative to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q -e ".[test]"
fi
for tool in ruff mypy lint-imports pytest; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "$venv has no $tool: installing the test extras (pip install -e \".[test]\")"
    "$venv/bin/python" -m pip install -q -e ".[test]"
    break
  fi
done
if [ $# -gt 0 ]; then
  exec "$venv/bin/python" -m pytest "$@"
fi
"$venv/bin/ruff" check nbassets tests scripts benchmarks notebooks
"$venv/bin/ruff" format --check nbassets tests scripts benchmarks notebooks
"$venv/bin/mypy"
# the layers and the pure core ([tool.importlinter]): the whole report only when a contract breaks
out=$("$venv/bin/lint-imports" --no-cache 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E "^Contracts: "
# the lab extension: prettier's format check, and node --test over its pure TypeScript modules
(
  bin=$(cd "$venv/bin" && pwd)
  cd labextension
  export PATH="$bin:$PATH" # jlpm comes with jupyterlab (jupyter-builder)
  out=$(jlpm install --immutable 2>&1) || { echo "$out"; exit 1; }
  jlpm run format:check
  out=$(jlpm run test 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -E "^ℹ (tests|pass|fail) "
)
"$venv/bin/python" -m pytest
"$venv/bin/python" -m benchmarks --quick # every scenario at small sizes: FAIL (not SHORT) exits 1
