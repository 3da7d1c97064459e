"""Alerts with little noise: one notice when an incident opens, one when it clears.

An incident is ``(env, key, kind)``: ``check`` (an error-severity check failing on the current
version), ``build`` (the last build failed) or ``late`` (a freshness breach). After a run,
:func:`transitions` compares the problems it found with the incidents open in the env's catalog
(:mod:`nbassets.store.incidents`); only the new and the cleared ones are sent, to the
``[tool.nbassets.alerts]`` webhook (a JSON POST, retried with backoff) and/or command (the
same JSON on stdin, run without a shell). A delivery that fails is reported on stderr and
never fails the run; the webhook URL is never printed whole (it often holds a token).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

from .config import Alerts

KINDS = ("check", "build", "late")
RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds before each retry of a failed POST (exponential)
TIMEOUT_SECONDS = 10.0
IncidentKey = tuple[str, str]  # (asset key, kind)


@dataclass(frozen=True)
class Notice:
    """One message: an incident that opened, or one that cleared (a recovery)."""

    event: str  # "incident" | "recovery"
    env: str
    key: str
    kind: str
    message: str
    at: str
    project: str

    def payload(self) -> bytes:
        """The JSON body a webhook and a command receive."""
        body = {"version": 1, "event": self.event, "env": self.env, "key": self.key,
                "kind": self.kind, "message": self.message, "at": self.at,
                "project": self.project}  # fmt: skip
        return json.dumps(body).encode()


def transitions(
    problems: Mapping[IncidentKey, str],
    open_now: Mapping[IncidentKey, str],
    covers: Callable[[str, str], bool],
    exclude: Collection[str] = (),
) -> tuple[dict[IncidentKey, str], dict[IncidentKey, str]]:
    """The incidents to open (problems not open yet) and to close (open ones this run
    looked at, ``covers(key, kind)``, and found gone); excluded keys never open one."""
    found = {k: m for k, m in problems.items() if k[0] not in exclude}
    opened = {k: m for k, m in found.items() if k not in open_now}
    closed = {k: m for k, m in open_now.items() if k not in found and covers(*k)}
    return opened, closed


def redacted(url: str) -> str:
    """``url`` as it may be printed: its scheme and host only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


def deliver(
    alerts: Alerts,
    notices: Sequence[Notice],
    delays: Sequence[float] = RETRY_DELAYS,
    stderr: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each notice to the webhook and the command; the number of deliveries that failed.

    Failures are written to ``stderr`` (default: ``sys.stderr``) and never raised.
    """
    err = stderr or sys.stderr
    failed = 0
    for notice in notices:
        body = notice.payload()
        if alerts.webhook and not _post(alerts.webhook, body, delays, err, sleep):
            failed += 1
        if alerts.command and not _run(alerts.command, body, err):
            failed += 1
    return failed


def _post(
    url: str, body: bytes, delays: Sequence[float], err: TextIO, sleep: Callable[[float], None]
) -> bool:
    problem = ""
    for attempt in range(len(delays) + 1):
        if attempt:
            sleep(delays[attempt - 1])
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                if 200 <= response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
        except urllib.error.URLError as exc:
            problem = str(exc.reason)
        except OSError as exc:  # a timeout, a connection reset
            problem = str(exc) or type(exc).__name__
    print(
        f"nbassets: the alert webhook {redacted(url)} failed after {len(delays) + 1} "
        f"tries ({problem}); the run's outcome is unchanged.",
        file=err,
    )
    return False


def _run(argv: Sequence[str], body: bytes, err: TextIO) -> bool:
    try:
        done = subprocess.run(
            list(argv), input=body, capture_output=True, timeout=TIMEOUT_SECONDS * 6, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"nbassets: the alert command {argv[0]!r} could not run: {exc}", file=err)
        return False
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-500:]
        print(
            f"nbassets: the alert command {argv[0]!r} exited {done.returncode}"
            + (f": {tail}" if tail else ""),
            file=err,
        )
        return False
    return True
