"""The benchmarks of nbassets: one module per scenario, one runner, one table.

Run from the repository root::

    python -m benchmarks                  # full run; writes the figures into docs/performance.md
    python -m benchmarks --quick          # smaller sizes, writes nothing (CI runs this)
    python -m benchmarks --strict         # exit 1 when a speed or size target is short
    python -m benchmarks asset chain      # only these scenarios (nothing written)
    python -m benchmarks --profile        # also print cProfiles where a scenario has them

Each scenario runs in its own process (so one's imports, heap and peak memory do not weigh on
the next) and returns rows with their targets; the runner prints them as one table. A row is
PASS or SHORT against its speed or size target, PASS or FAIL when it checks correctness
(a build complete, counts as built), ``info`` without a target, ``skip`` when a peer is not
installed (``pip install -e '.[bench]'`` brings Dagster and Hamilton). Any FAIL, or a
scenario that stops with an error, makes the run exit 1; SHORT does only with ``--strict``,
because timings depend on the machine and its load.

``benchlib`` holds what the scenarios share; ``bench_<scenario>.py`` holds one scenario.
"""
