"""The one channel from the kernel to the Assets panel: a Jupyter comm, target ``nbassets``.

Either side may open it. The panel opens a comm with ``target_name="nbassets"`` on the
notebook's kernel when it connects (the kernel answers if ``%load_ext nbassets`` ran); the
kernel opens one to the panel when the extension loads (the panel registers the same target).
The kernel keeps every open comm and sends on each.

Messages are JSON objects with a ``type``; version 1 has one kernel-to-panel type:

- ``{"type": "state", "version": 1, "env": "ci-x", "project": "/abs/project/root"}``: the env
  the kernel builds into and its project. Sent on open (either side's) and whenever the env
  changes (``%nbassets env NAME``). The panel shows that env.

Panel to kernel: ``{"type": "state?"}`` asks for a ``state`` message (open does too); other
types are ignored. Later kinds (test results, partitions) are new ``type`` values on the same
comm; a panel ignores types it does not know. Nothing here runs what a message holds.

Without ipykernel (a plain IPython shell, a script) there is no comm manager: the channel
stays silent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

TARGET = "nbassets"
VERSION = 1


class PanelChannel:
    """The kernel side of the ``nbassets`` comm: registers the target, sends ``state``."""

    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self._state = state
        self._comms: list[Any] = []
        self._manager = _comm_manager()
        if self._manager is not None:
            self._manager.register_target(TARGET, self._opened)

    def announce(self) -> None:
        """Open a comm to the panel (the kernel's side; the panel may have none: harmless)."""
        if self._manager is None:
            return
        import comm

        opened = comm.create_comm(target_name=TARGET, data=self.message(), metadata={})
        self._keep(opened)

    def message(self) -> dict[str, Any]:
        """The ``state`` message now."""
        return {"type": "state", "version": VERSION, **self._state()}

    def publish(self) -> None:
        """Send the state on every open comm (after the env changed)."""
        message = self.message()
        for opened in list(self._comms):
            opened.send(message)

    def close(self) -> None:
        """Close the comms and unregister the target (``%unload_ext``)."""
        for opened in list(self._comms):
            opened.close()
        self._comms.clear()
        if self._manager is not None:
            self._manager.unregister_target(TARGET, self._opened)

    def _opened(self, opened: Any, _msg: dict[str, Any]) -> None:
        """The panel opened a comm: answer with the state, and keep it."""
        self._keep(opened)
        opened.send(self.message())

    def _keep(self, opened: Any) -> None:
        self._comms.append(opened)
        opened.on_msg(lambda msg: self._received(opened, msg))
        opened.on_close(lambda _msg: self._forget(opened))

    def _received(self, opened: Any, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data")
        if isinstance(data, dict) and data.get("type") == "state?":
            opened.send(self.message())

    def _forget(self, opened: Any) -> None:
        if opened in self._comms:
            self._comms.remove(opened)


def _comm_manager() -> Any:
    """The kernel's comm manager, or ``None`` outside ipykernel (which is not imported then:
    importing it changes how other libraries, such as tqdm, see the process)."""
    ipkernel = sys.modules.get("ipykernel.ipkernel")
    if ipkernel is None or not ipkernel.IPythonKernel.initialized():
        return None
    import comm

    return comm.get_comm_manager()
