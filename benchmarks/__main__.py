"""``python -m benchmarks``: run the scenarios, print one table, and (full run) write the figures.

Each scenario runs in a child process (``--child``, an internal option) that writes its rows
as JSON; this process gathers them, prints the table and, after a full run of every
scenario, writes it between the markers of ``docs/performance.md`` (and the raw rows to
``benchmarks/results/latest.json``). ``--quick`` writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .benchlib import PEERS, Context, Result, child_environ, failure, versions

SCENARIOS = (
    "asset", "write", "status", "history", "plan", "backfill", "preview", "export", "chain",
    "build_paths", "diff", "team",
)  # fmt: skip
VERSIONED = ("nbassets", "IPython", "pandas", "pyarrow", "polars", "duckdb", "dagster", "hamilton")
HOME = Path(__file__).resolve().parent
DOC = HOME.parent / "docs" / "performance.md"
RESULTS = HOME / "results" / "latest.json"
BEGIN = "<!-- benchmarks:begin -->"
END = "<!-- benchmarks:end -->"
CHILD_TIMEOUT_S = {True: 600, False: 3600}  # per scenario, quick and full


@dataclass
class Outcome:
    """What one scenario's process reported."""

    scenario: str
    results: list[Result]
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    nbassets: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes; writes nothing")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is short")
    parser.add_argument("--no-peers", action="store_true", help="skip Dagster and Hamilton")
    parser.add_argument("--profile", action="store_true", help="print the scenarios' cProfiles")
    parser.add_argument("--no-write", action="store_true", help="write no file, even in full")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.child:
        return child(args.child, args)

    names = args.scenarios or list(SCENARIOS)
    load_before = os.getloadavg()[0]
    started_at = time.gmtime()
    started = time.perf_counter()
    outcomes = [run_child(name, args) for name in names]
    elapsed = time.perf_counter() - started
    machine = describe_machine(outcomes, started_at, elapsed, args.quick, load_before)
    print(render_text(outcomes, machine, args.quick))
    for outcome in outcomes:
        for text in outcome.profiles:
            print(f"\n[{outcome.scenario}] {text}")
    if args.scenarios and not (args.quick or args.no_write):
        print(f"\n{DOC.name} not updated: only some scenarios ran")
    elif not (args.quick or args.no_write):
        write_files(outcomes, machine, args)
    results = [r for outcome in outcomes for r in outcome.results]
    if any(r.status == "FAIL" for r in results):
        return 1
    return 1 if args.strict and any(r.status == "SHORT" for r in results) else 0


# the child: one scenario


def child(name: str, args: argparse.Namespace) -> int:
    """Run one scenario here and write what it found to ``args.out``; 1 when it stopped."""
    module = importlib.import_module(f"{__package__}.bench_{name}")
    ctx = Context(name, quick=args.quick, peers=not args.no_peers, profile=args.profile)
    status = 0
    try:
        results = module.run(ctx)
    except Exception as exc:
        traceback.print_exc()
        results = [stopped(f"stopped: {failure(exc)}")]
        status = 1
    import nbassets

    payload = {
        "results": [r.as_json() for r in results],
        "seconds": time.perf_counter() - ctx.started,
        "versions": versions(VERSIONED),
        "sizes": ctx.sizes,
        "profiles": ctx.profiles,
        "nbassets": str(Path(nbassets.__file__ or "").parent),
    }
    args.out.write_text(json.dumps(payload), encoding="utf-8")
    return status


def stopped(note: str) -> Result:
    return Result(
        "scenario ran to the end", 0.0, "bool", target=1.0, op="==", check=True, note=note
    )


def run_child(name: str, args: argparse.Namespace) -> Outcome:
    """One scenario in a fresh process; its outcome, or a FAIL row when it did not report."""
    flags = [
        f"--{f}" for f in ("quick", "no-peers", "profile") if getattr(args, f.replace("-", "_"))
    ]
    env = {**child_environ(), "NBASSETS_USER": "bench"}
    env.pop("NBASSETS_ENV", None)
    print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nbassets-bench-run-") as tmp:
        out = Path(tmp) / f"{name}.json"
        command = [sys.executable, "-m", __package__, "--child", name, "--out", str(out), *flags]
        try:
            done = subprocess.run(
                command, env=env, check=False, timeout=CHILD_TIMEOUT_S[args.quick]
            )
            code = f"exited {done.returncode}"
        except subprocess.TimeoutExpired:
            code = f"timed out after {CHILD_TIMEOUT_S[args.quick]} s"
        seconds = time.perf_counter() - start
        if not out.is_file():
            return Outcome(
                name, [stopped(f"the scenario's process {code} without a report")], seconds
            )
        payload = json.loads(out.read_text(encoding="utf-8"))
    print(f"[benchmarks] {name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return Outcome(
        name,
        [Result.from_json(r) for r in payload["results"]],
        seconds,
        payload["versions"],
        payload["sizes"],
        payload["profiles"],
        payload["nbassets"],
    )


# the table


def describe_machine(
    outcomes: list[Outcome], started_at: time.struct_time, elapsed: float, quick: bool, load: float
) -> dict[str, Any]:
    """Where and when the run was, and the versions the scenarios imported."""
    found: dict[str, str] = {}
    for outcome in outcomes:
        found.update(outcome.versions)
    named = [name for name in ("python", *VERSIONED) if name in found]
    shown = [f"{name} {found[name]}" for name in named]
    shown += [f"{name} not run" for name in PEERS if name not in found]
    cpu = ""
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        cpu = next(
            (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), ""
        )
    return {
        "mode": "quick" if quick else "full",
        "date": time.strftime("%Y-%m-%d", started_at),
        "at": time.strftime("%Y-%m-%d %H:%M UTC", started_at),
        "seconds": elapsed,
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "platform": f"{platform.system()} {platform.machine()}",
        "load": (load, os.getloadavg()[0]),
        "versions": ", ".join(shown),
        "nbassets": sorted({o.nbassets for o in outcomes if o.nbassets}),
    }


def rows(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    """(scenario, measurement, value, target, result, notes) of every row."""
    table = []
    for outcome in outcomes:
        for r in outcome.results:
            target = "" if r.target is None else f"{r.op} {fmt(r.target, r.unit)}"
            note = r.skipped if r.skipped is not None else r.note
            table.append((outcome.scenario, r.name, fmt(r.value, r.unit), target, r.status, note))
    return table


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.1f}x" if abs(value) >= 10 else f"{value:.2f}x"
    if unit == "bool":
        return "yes" if value else "no"
    if float(value).is_integer() and unit not in ("ms", "s"):
        return f"{int(value):,} {unit}"
    digits = 3 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:,.{digits}f} {unit}"


def summary(outcomes: list[Outcome]) -> str:
    results = [r for outcome in outcomes for r in outcome.results]
    targets = [r for r in results if not r.check and r.target is not None and r.skipped is None]
    checks = [r for r in results if r.check]
    return (
        f"targets: {sum(r.status == 'PASS' for r in targets)} PASS, "
        f"{sum(r.status == 'SHORT' for r in targets)} SHORT; correctness: "
        f"{sum(r.status == 'PASS' for r in checks)} PASS, "
        f"{sum(r.status == 'FAIL' for r in results)} FAIL; "
        f"{sum(r.status == 'skip' for r in results)} skipped"
    )


def heading(machine: dict[str, Any]) -> str:
    load = machine["load"]
    return (
        f"{machine['mode']} run of {machine['at']}, {machine['seconds']:.0f} s, on "
        f"{machine['cpus']} CPUs ({machine['cpu'] or 'unknown CPU'}, {machine['platform']}), "
        f"load average {load[0]:.2f} before and {load[1]:.2f} after; {machine['versions']}"
    )


def render_text(outcomes: list[Outcome], machine: dict[str, Any], quick: bool) -> str:
    columns = ("scenario", "measurement", "value", "target", "result", "notes")
    table = rows(outcomes)
    widths = [max(len(row[i]) for row in [columns, *table]) for i in range(len(columns) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[i].rjust(w) if i in (2, 3) else row[i].ljust(w) for i, w in enumerate(widths)]
        return "  ".join([*cells, row[-1]]).rstrip()

    rule = "-" * (sum(widths) + 2 * len(widths) + 20)
    out = [f"nbassets benchmarks: {heading(machine)}"]
    out += [f"nbassets imported from {path}" for path in machine["nbassets"]]
    out += [rule, line(columns), rule]
    previous = None
    for row in table:
        if previous is not None and row[0] != previous:
            out.append("")
        out.append(line(row))
        previous = row[0]
    out += [rule, summary(outcomes)]
    out.append("seconds: " + ", ".join(f"{o.scenario} {o.seconds:.0f}" for o in outcomes))
    if quick:
        out.append(
            "quick run: sizes are below the targets' sizes, so PASS/SHORT is indicative only"
        )
    return "\n".join(out)


def render_markdown(outcomes: list[Outcome], machine: dict[str, Any]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    load = machine["load"]
    lines = [
        BEGIN,
        f"## Figures ({machine['date']}, {machine['cpus']} cores)",
        "",
        f"Written by `python -m benchmarks` ({machine['mode']} run of {machine['at']}, "
        f"{machine['seconds']:.0f} s; do not edit between the markers):",
        "",
        f"- machine: {machine['cpus']} CPUs ({machine['cpu'] or 'unknown CPU'}), "
        f"{machine['platform']}; load average {load[0]:.2f} before the run, {load[1]:.2f} after",
        f"- versions: {machine['versions']}",
        "",
        "| scenario | measurement | value | target | result | notes |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows(outcomes)]
    lines += ["", summary(outcomes) + ".", END]
    return "\n".join(lines)


def write_files(outcomes: list[Outcome], machine: dict[str, Any], args: argparse.Namespace) -> None:
    """The figures into docs/performance.md (between the markers) and the rows as JSON."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": {**machine, "no_peers": args.no_peers},
        "scenarios": {
            o.scenario: {
                "seconds": o.seconds,
                "sizes": o.sizes,
                "results": [r.as_json() for r in o.results],
            }
            for o in outcomes
        },
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nrows written to {RESULTS}")
    if not DOC.is_file():
        print(f"{DOC} not found: not updated")
        return
    text = DOC.read_text(encoding="utf-8")
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        print(f"{DOC} has no {BEGIN} ... {END} markers: not updated")
        return
    DOC.write_text(head + render_markdown(outcomes, machine) + tail, encoding="utf-8")
    print(f"figures written to {DOC}")


if __name__ == "__main__":
    sys.exit(main())
