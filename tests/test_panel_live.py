"""The kernel side of the panel's channel (``nbassets.comm``), in a real ipykernel.

A client opens a comm with ``target_name="nbassets"`` as the panel does and receives the
kernel's ``state``; ``%nbassets env ci-x`` sends the new env on it; loading the extension
opens a comm towards the panel too. Plain IPython (no kernel) has no channel and no error.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import TestingShell
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

pytestmark = pytest.mark.notebooks
TIMEOUT = 60


@pytest.fixture
def kernel(project: Path) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(project))
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def comm_messages(client: BlockingKernelClient, code: str) -> list[dict[str, Any]]:
    """Run ``code`` and collect the comm messages (open and msg) on iopub until it is idle."""
    msg_id = client.execute(code)
    seen: list[dict[str, Any]] = []
    while True:
        try:
            msg = client.get_iopub_msg(timeout=TIMEOUT)
        except queue.Empty as exc:
            raise AssertionError(f"no idle after {code!r}; comm messages: {seen}") from exc
        kind = msg["header"]["msg_type"]
        if kind in ("comm_open", "comm_msg"):
            seen.append(msg)
        if kind == "error":
            raise AssertionError(msg["content"])
        parent = msg["parent_header"].get("msg_id")
        if kind == "status" and parent == msg_id and msg["content"]["execution_state"] == "idle":
            return seen


def open_comm(client: BlockingKernelClient) -> str:
    """Open a comm to the kernel as the panel does; its id."""
    comm_id = uuid.uuid4().hex
    content = {"comm_id": comm_id, "target_name": "nbassets", "data": {}}
    client.shell_channel.send(client.session.msg("comm_open", content))
    return comm_id


def state_on(messages: list[dict[str, Any]], comm_id: str) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]
        for m in messages
        if m["header"]["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
    ]


def test_the_panel_hears_the_kernels_env(
    kernel: tuple[KernelManager, BlockingKernelClient], project: Path
) -> None:
    _, client = kernel
    opened = comm_messages(client, "%load_ext nbassets")
    announced = [m["content"] for m in opened if m["header"]["msg_type"] == "comm_open"]
    assert [(m["target_name"], m["data"]["type"]) for m in announced] == [("nbassets", "state")]
    default_env = announced[0]["data"]["env"]
    assert default_env.startswith("dev-tester")
    assert announced[0]["data"]["project"] == str(project.resolve())

    comm_id = open_comm(client)  # as the panel does on connecting
    answered = state_on(comm_messages(client, "1"), comm_id)
    assert answered == [
        {"type": "state", "version": 1, "env": default_env, "project": str(project.resolve())}
    ]

    switched = comm_messages(client, "%nbassets env ci-x")
    assert state_on(switched, comm_id) == [
        {"type": "state", "version": 1, "env": "ci-x", "project": str(project.resolve())}
    ]
    # the kernel's own comm (opened at load) hears it too
    assert state_on(switched, announced[0]["comm_id"])[0]["env"] == "ci-x"

    # asked again ("state?"): still ci-x
    client.shell_channel.send(
        client.session.msg("comm_msg", {"comm_id": comm_id, "data": {"type": "state?"}})
    )
    again = comm_messages(client, "2")
    assert [m["env"] for m in state_on(again, comm_id)] == ["ci-x"]


def test_a_closed_comm_hears_nothing_more(
    kernel: tuple[KernelManager, BlockingKernelClient],
) -> None:
    _, client = kernel
    comm_messages(client, "%load_ext nbassets")
    comm_id = open_comm(client)
    assert state_on(comm_messages(client, "1"), comm_id)
    client.shell_channel.send(client.session.msg("comm_close", {"comm_id": comm_id, "data": {}}))
    assert state_on(comm_messages(client, "%nbassets env ci-y"), comm_id) == []


def test_plain_ipython_has_no_channel_and_no_error(shell: TestingShell) -> None:
    shell.run_line_magic("nbassets", "env ci-x")
    magics = shell.magics_manager.registry["AssetMagics"]
    assert magics.channel is not None
    assert magics.channel.message()["env"] == "ci-x"
    assert magics.channel._manager is None  # no kernel: nothing registered, nothing sent
