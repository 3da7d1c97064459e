"""Four writers build production on S3 + PostgreSQL at once (issue 15, acceptance 3).

Four real processes run ``pipeline.materialize`` into production (moto's S3 server and a
PostgreSQL database) over overlapping selections of one package, released together by a start
file, three rounds each; a fifth is killed (SIGKILL) in the middle of its work. Every asset's
value is new at every build (random numbers), so every build uploads an object of its own and
downstream builds read versions other processes have just recorded. Afterwards:

- every record names a whole object: downloaded from the bucket, its size is the recorded size
  and its xxh3-128 is the record's data version (the killed writer's records too);
- every successful build has exactly one record: for each writer (its own ``NBASSETS_USER``),
  the keys it reported built are the keys of its records, counted;
- ``seq`` is unique and strictly increasing with the record's id, and every input a build read
  is a version recorded before it.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from team_production import Production, production_for

import nbassets
from nbassets.config import Project
from nbassets.pipeline import materialize
from nbassets.store.catalog import Materialization

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3
SELECTIONS = {"writer-0": "*", "writer-1": "left+", "writer-2": "right+", "writer-3": "*"}

PACKAGE = textwrap.dedent(
    """
    import numpy as np
    from nbassets.runtime import ExportedAsset


    def base(raw):
        return raw.assign(noise=np.random.default_rng().random(len(raw)))


    def left(base):
        return base.assign(side="left", noise=np.random.default_rng().random(len(base)))


    def right(base):
        return base.assign(side="right", noise=np.random.default_rng().random(len(base)))


    def both(left, right):
        return left.assign(total=left.noise + right.noise.values + np.random.default_rng().random())


    ASSETS = (
        ExportedAsset("base", base, deps=("raw",), code_version="b1"),
        ExportedAsset("left", left, deps=("base",), code_version="l1"),
        ExportedAsset("right", right, deps=("base",), code_version="r1"),
        ExportedAsset("both", both, deps=("left", "right"), code_version="t1"),
    )
    """
)

# A writer: imports everything, says "ready", waits for the start file, then materializes its
# selection ``rounds`` times, printing each report as one JSON line.
WRITER = textwrap.dedent(
    """
    import json, os, sys, time
    from nbassets.config import Project
    from nbassets.pipeline import materialize

    start, selection, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    project = Project.find(".")
    print("ready", flush=True)
    while not os.path.exists(start):
        time.sleep(0.005)
    for _ in range(rounds):
        report = materialize(project, "prod", [selection], no_git=True, progress=False)
        print(json.dumps({"built": report.built, "failed": report.failed}), flush=True)
    """
)


def start_writer(project: Path, user: str, selection: str, rounds: int) -> subprocess.Popen[str]:
    environ = {
        **os.environ,
        "NBASSETS_USER": user,
        "NBASSETS_COMMIT": "4f2c1a9e0b7d",
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    start = str(project / "start")
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, start, selection, str(rounds)],
        cwd=project, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.fixture
def team(
    project: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Production]:
    """Production on S3 + PostgreSQL holding ``raw`` and a first build of every asset (so that
    no writer finds an input missing), and the package ``pipelines.team``."""
    production = production_for("s3+postgres", request, project)
    raw = pd.DataFrame({"id": range(2_000), "amount": [float(i % 97) for i in range(2_000)]})
    nbassets.save("raw", raw, project=Project.find(project))
    (project / "pipelines").mkdir()
    (project / "pipelines" / "__init__.py").write_text("")
    (project / "pipelines" / "team.py").write_text(PACKAGE)
    monkeypatch.setenv("NBASSETS_COMMIT", "4f2c1a9e0b7d")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    report = materialize(Project.find(project), "prod", no_git=True, progress=False)
    assert report.built == ["base", "left", "right", "both"]
    yield production
    for name in [n for n in sys.modules if n == "pipelines" or n.startswith("pipelines.")]:
        del sys.modules[name]


def test_four_writers_at_once_and_one_killed_leave_whole_objects_and_one_record_per_build(
    project: Path, team: Production
) -> None:
    writers = {user: start_writer(project, user, sel, ROUNDS) for user, sel in SELECTIONS.items()}
    killed = start_writer(project, "writer-killed", "*", 100)
    processes = [*writers.values(), killed]
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line == "ready", line + (process.stderr.read() if process.stderr else "")
        (project / "start").touch()  # all five go at once
        assert killed.stdout is not None
        first = json.loads(killed.stdout.readline())  # one round done: it is in its second
        assert first["failed"] == {}, first
        time.sleep(random.uniform(0.0, 0.3))
        killed.send_signal(signal.SIGKILL)
        reports: dict[str, list[dict[str, Any]]] = {}
        for user, process in writers.items():
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
            reports[user] = [json.loads(line) for line in out.splitlines()]
        killed.wait(60)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert killed.returncode == -signal.SIGKILL

    journal = team.journal()
    records = team.assert_every_record_whole()  # downloads and hashes every object
    failures = [e for e in journal if not isinstance(e, Materialization)]
    assert failures == []  # no build failed, not even beside the killed one
    for user, rounds in reports.items():
        assert len(rounds) == ROUNDS and all(r["failed"] == {} for r in rounds), rounds
        reported = Counter(key for r in rounds for key in r["built"])
        assert Counter(m.key for m in records if m.user == user) == reported, user
    assert Counter(m.key for m in records if m.user == "writer-0")["both"] == ROUNDS
    assert sum(m.user == "writer-killed" for m in records) >= 4  # its first round at least

    users = [m.user for m in records if m.user and m.user.startswith("writer-")]
    switches = sum(a != b for a, b in itertools.pairwise(users))
    assert switches >= 8, users  # the writers' records interleave: they really ran at once
    by_id = sorted(records, key=lambda m: m.id or 0)
    seqs = [m.seq for m in by_id]
    assert all(isinstance(s, int) for s in seqs) and len(set(seqs)) == len(seqs)
    assert seqs == sorted(seqs)  # a record committed later has the higher seq
    recorded: dict[tuple[str, str], int] = {}
    for m in by_id:
        for upstream, read in m.inputs.items():
            seq = recorded.get((upstream, read["data_version"]))
            assert seq is not None and seq < (m.seq or 0), (m.key, m.seq, upstream, read)
        recorded.setdefault((m.key, m.data_version), m.seq or 0)
    assert len(recorded) == len(records)  # every build made a new version: its own object
    unrecorded = set(team.objects()) - {m.path for m in records}
    assert len(unrecorded) <= 1, unrecorded  # at most the killed writer's last upload
