"""Alerts with little noise (issue 14, acceptance 1): one alert per incident, one recovery, none
for an excluded asset, the same JSON to a command. A real HTTP server on loopback, the real
CLI in a real git repository."""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import git, write_notebook, write_prod

from nbassets.alerts import Notice, deliver, transitions
from nbassets.cli import main
from nbassets.config import Alerts, Config
from nbassets.errors import ConfigError
from nbassets.store.incidents import open_incidents, record_incidents
from nbassets.store.sqlite_catalog import SqliteCatalog

CELLS = {
    "c0": "# nbassets: export\nimport pandas as pd",
    "c1": "%%asset orders --key id --check 'not_null(\"id\")'{extra}\n"
    "raw_orders[raw_orders.amount > 0]",
    "c2": "%%asset summary --check 'row_count(min=5)'\n"  # always fails: one row
    "pd.DataFrame({'total': [raw_orders.amount.sum()]})",
}


class Hook:
    """A webhook receiver on loopback: the JSON bodies it got; it answers 500 ``fail`` times."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []
        self.paths: list[str] = []
        self.fail = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.paths.append(self.path)
                if hook.fail > 0:
                    hook.fail -= 1
                    self.send_response(500)
                else:
                    hook.bodies.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def cli(project: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), *args])
    assert result.exit_code == code, result.output
    return result.stdout


def deploy(project: Path, extra: str = "") -> None:
    write_notebook(
        project / "notebooks" / "shop.ipynb", {**CELLS, "c1": CELLS["c1"].format(extra=extra)}
    )
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"orders{extra}")


def test_one_alert_per_incident_one_recovery_none_excluded_and_the_command_too(
    project: Path, hook: Hook
) -> None:
    received = project.parent / "command.jsonl"
    writer = f"import sys; open({str(received)!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')"
    command = f"{sys.executable} -c {json.dumps(writer)}"
    with (project / "pyproject.toml").open("a") as f:
        f.write(
            "\n[tool.nbassets.alerts]\n"
            f"webhook = {json.dumps(hook.url)}\n"
            f"command = {json.dumps(command)}\n"
            'exclude = ["summary"]\n'
        )
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    raw = pd.DataFrame({"id": [1, 2, 3], "amount": [4.0, 9.0, -1.0]})
    write_prod(project, "raw_orders", raw)
    git(project, "init", "-q", "-b", "main")
    deploy(project)
    cli(project, "materialize", "--no-progress", code=1)  # summary's check fails: excluded
    assert hook.bodies == []

    deploy(project, " --check 'row_count(min=5)'")  # orders has 2 rows: an incident
    for _ in range(3):
        out = cli(project, "check", "--env", "prod", code=1)
        assert "FAIL  orders: row_count(min=5)" in out and "FAIL  summary" in out
    assert [(b["event"], b["key"], b["kind"]) for b in hook.bodies] == [
        ("incident", "orders", "check")
    ]
    alert = hook.bodies[0]
    assert alert["version"] == 1 and alert["env"] == "prod" and alert["project"] == "project"
    assert "row_count(min=5)" in str(alert["message"]) and str(alert["at"]).startswith("20")

    deploy(project)  # the failing rule is gone: orders passes again
    cli(project, "check", "--env", "prod", code=1)  # summary still fails, excluded
    cli(project, "check", "--env", "prod", code=1)
    assert [(b["event"], b["key"], b["kind"]) for b in hook.bodies] == [
        ("incident", "orders", "check"),
        ("recovery", "orders", "check"),
    ]
    assert [json.loads(line) for line in received.read_text().splitlines()] == hook.bodies
    catalog = SqliteCatalog(project / "warehouse" / "catalog.sqlite", writable=False)
    assert open_incidents(catalog, "prod") == {}


def test_a_failing_webhook_is_retried_with_backoff_and_never_raises(hook: Hook) -> None:
    notice = Notice("incident", "prod", "orders", "build", "orders: build failed", "t", "p")
    slept: list[float] = []
    hook.fail = 2
    assert (
        deliver(Alerts(webhook=hook.url), [notice], delays=(0.1, 0.2, 0.4), sleep=slept.append) == 0
    )
    assert slept == [0.1, 0.2] and len(hook.paths) == 3 and hook.bodies[0]["kind"] == "build"

    hook.fail = 10
    err = io.StringIO()
    assert deliver(Alerts(webhook=hook.url), [notice], delays=(0, 0), stderr=err) == 1
    assert "failed after 3 tries (HTTP 500)" in err.getvalue()
    assert "s3cret" not in err.getvalue() and "http://127.0.0.1/…" in err.getvalue()

    failing = Alerts(command=(sys.executable, "-c", "import sys; sys.exit('no route')"))
    err = io.StringIO()
    assert deliver(failing, [notice], stderr=err) == 1
    assert "exited 1: no route" in err.getvalue()


def test_incidents_open_and_close_in_the_catalog(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite", writable=True)
    record_incidents(
        catalog, "prod", {("a", "late"): "a: late by 1h", ("b", "check"): "b"}, [], "t1"
    )
    assert open_incidents(catalog, "prod") == {("a", "late"): "a: late by 1h", ("b", "check"): "b"}
    assert open_incidents(catalog, "dev") == {}
    record_incidents(catalog, "prod", {}, [("a", "late")], "t2")
    assert open_incidents(catalog, "prod") == {("b", "check"): "b"}
    opened, closed = transitions(
        {("b", "check"): "b", ("c", "build"): "c", ("x", "check"): "x"},
        {("b", "check"): "b", ("d", "late"): "d", ("e", "late"): "e"},
        covers=lambda key, kind: key != "e",
        exclude={"x"},
    )
    assert opened == {("c", "build"): "c"} and closed == {("d", "late"): "d"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"webhook": 5}, "webhook must be an http(s) URL"),
        ({"webhook": "ftp://x"}, "webhook must be an http(s) URL"),
        ({"command": ["a"]}, "command must be a command line string"),
        ({"command": "a 'b"}, "cannot be split"),
        ({"exclude": "k"}, "exclude must be a list of asset keys"),
        ({"hook": "x"}, "unknown key(s) 'hook'"),
    ],
)
def test_a_wrong_alerts_table_says_what_to_write(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_table({"alerts": table}, "pyproject.toml")
    assert message in str(caught.value) and "[tool.nbassets.alerts]" in str(caught.value)
    good = Config.from_table({"alerts": {"command": "notify-send 'nb assets'"}}, "p")
    assert good.alerts.command == ("notify-send", "nb assets") and good.alerts.enabled


def test_a_build_failure_and_a_late_asset_alert_once_and_recover(project: Path, hook: Hook) -> None:
    from datetime import timedelta

    with (project / "pyproject.toml").open("a") as f:
        f.write(f"\n[tool.nbassets.alerts]\nwebhook = {json.dumps(hook.url)}\n")
    (project / ".gitignore").write_text(".nbassets/\nwarehouse/\n__pycache__/\n")
    write_prod(project, "raw_orders", pd.DataFrame({"id": [1, 2], "amount": [4.0, 9.0]}))
    git(project, "init", "-q", "-b", "main")
    broken = {"c0": CELLS["c0"], "c1": "%%asset orders --fresh 'max_age=1d'\nraw_orders.nope"}
    write_notebook(project / "notebooks" / "shop.ipynb", broken)
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "broken")
    for _ in range(2):
        cli(project, "materialize", "--no-progress", code=1)
    assert [(b["event"], b["key"], b["kind"]) for b in hook.bodies] == [
        ("incident", "orders", "build")
    ]
    fixed = {**broken, "c1": "%%asset orders --fresh 'max_age=1d'\nraw_orders"}
    write_notebook(project / "notebooks" / "shop.ipynb", fixed)
    cli(project, "export", "notebooks/shop.ipynb")
    git(project, "commit", "-qam", "fixed")
    cli(project, "materialize", "--no-progress")
    assert hook.bodies[-1]["event"] == "recovery" and len(hook.bodies) == 2

    record = SqliteCatalog(project / "warehouse" / "catalog.sqlite", writable=False).latest_of(
        "orders"
    )
    assert record is not None
    built = pd.Timestamp(record.finished_at).to_pydatetime()
    late = {"NBASSETS_NOW": (built + timedelta(days=2)).isoformat()}
    for _ in range(2):
        result = CliRunner(env=late).invoke(
            main, ["--project", str(project), "check", "--env", "prod"]
        )
        assert result.exit_code == 1, result.output
    on_time = {"NBASSETS_NOW": (built + timedelta(hours=1)).isoformat()}
    result = CliRunner(env=on_time).invoke(
        main, ["--project", str(project), "check", "--env", "prod"]
    )
    assert result.exit_code == 0, result.output
    assert [(b["event"], b["kind"]) for b in hook.bodies[2:]] == [
        ("incident", "late"),
        ("recovery", "late"),
    ]
    assert "late by 1d" in str(hook.bodies[2]["message"])
