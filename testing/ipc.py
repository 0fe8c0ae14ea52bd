"""Calling a Septum server from the host, through a proxy task.

The host cannot make system calls, and must not bypass the kernel: a test
that drives a server should be subject to the same authority checks as any
task.  So the host asks a user task to make the call.  The proxy task
(testing/proxy/proxy.S) is declared in a manifest with the ``calls`` a
test grants it; it polls a mailbox in its own data (``proxy_mailbox``), the
host writes a request there with ``write_phys`` and runs the machine until
the proxy has made the CALL and stored the reply::

    ipc.call("storage", STORE_OP_PUT, 1, 1, data=b"kv")   # -> Reply
    ipc.call("supervisor", 1).status_name                 # "DENIED": not granted

:func:`proxy_manifest` makes such a system from any userland folder: a copy
with the proxy added as the last task (and the supervisor's name table
extended, as userland/README.md's "Add a task" says).

Interim design.  The issue asks for a host-link device (an MMIO window with
an interrupt line, so the host wakes the proxy instead of the proxy
polling every ``POLL_TICKS``) in hypervisor/devices and the proxy task in
userland/; neither belongs to this package.  The mailbox protocol here is
what that device's registers would carry; only the wake-up changes.
"""

from __future__ import annotations

import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.kernel.abi import Err, Tcb, describe_status
from septum.toolchain.errors import SeptumError

from .system import BootedSystem

#: The proxy task's source.
PROXY_SOURCE = Path(__file__).resolve().parent / "proxy" / "proxy.S"
#: Its name in the manifests :func:`proxy_manifest` writes.
PROXY_NAME = "proxy"

# Mailbox layout: byte offsets, as proxy.S's MB_* equates.
MB_REQ_SEQ = 0
MB_DONE_SEQ = 8
MB_SERVER = 16
MB_WORDS = 24
MB_LEN = 56
MB_STATUS = 64
MB_RLEN = 72
MB_RWORDS = 80
MB_CALLS = 112
MB_BUF = 128
MB_BUF_SIZE = 2048

#: Instructions one call may take at most (whatever its virtual timeout).
MAX_CALL_INSNS = 500_000_000
#: mtime ticks per virtual millisecond.
TICKS_PER_MS = 10_000


class IpcError(SeptumError):
    """The proxy did not answer (timeout, machine stopped, bad request)."""


@dataclass
class Reply:
    """What a CALL returned: ``a0`` status, ``a2..a5`` words, and the bulk
    bytes the server copied back (``a1`` of them)."""

    status: int
    words: tuple[int, int, int, int]
    data: bytes

    @property
    def ok(self) -> bool:
        """True when the kernel delivered the call (status OK)."""
        return self.status == Err.OK

    @property
    def status_name(self) -> str:
        """The status as ABI.md names it (``OK``, ``DENIED``, ``DEAD(gen 1)``)."""
        return describe_status(self.status)


def proxy_manifest(folder: str | Path, base: str | Path = DEFAULT_MANIFEST, *,
                   calls: tuple[str, ...] = ("console", "storage"), priority: int = 3) -> Path:
    """Copy ``base``'s folder into ``folder`` with the proxy task added (last,
    allowed to call ``calls``); return the new manifest's path."""
    base = Path(base)
    dest = Path(folder) / base.parent.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(base.parent, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (dest / PROXY_NAME).mkdir()
    shutil.copy(PROXY_SOURCE, dest / PROXY_NAME / PROXY_SOURCE.name)
    manifest = dest / base.name
    calls_toml = ", ".join(f'"{c}"' for c in calls)
    manifest.write_text(manifest.read_text() + (
        f"\n# Added by septum.testing.ipc: the host's IPC proxy.\n[tasks.{PROXY_NAME}]\n"
        f'source = ["{PROXY_NAME}/{PROXY_SOURCE.name}"]\n'
        f"priority = {priority}\ncalls = [{calls_toml}]\n"))
    # The supervisor names tasks from its own table (tasks.inc).
    inc = dest / "supervisor" / "tasks.inc"
    if inc.is_file():
        text = inc.read_text()
        text = re.sub(r"(?m)^(    \.dword n_supervisor.*)$", rf"\1, n_{PROXY_NAME}", text)
        text = re.sub(r"(?m)^(    \.byte .*)$", rf"\1, {priority}", text)
        text = text.replace("    .text\n", f'n_{PROXY_NAME}: .asciz "{PROXY_NAME}"\n    .text\n', 1)
        inc.write_text(text)
    return manifest


class Ipc:
    """Host -> server calls through the proxy task of ``system``."""

    def __init__(self, system: BootedSystem, proxy: str = PROXY_NAME) -> None:
        self.system = system
        self.m = system.machine
        inj = system.inject
        self.proxy = inj.index(proxy)
        va = self.m.symbols.get("proxy_mailbox")
        if va is None:
            raise IpcError(f"{system.manifest}: no proxy task (no proxy_mailbox symbol)")
        self.mailbox = inj.task_phys(self.proxy, va)

    def _u64(self, off: int) -> int:
        return int.from_bytes(self.m.read_phys(self.mailbox + off, 8), "little")

    def _put(self, off: int, value: int) -> None:
        self.m.write_phys(self.mailbox + off, (value & (1 << 64) - 1).to_bytes(8, "little"))

    def server_id(self, server: str | int) -> int:
        """The current id of ``server`` (a task name or index): its index
        and the generation in its TCB, so calls follow restarts."""
        tcb = self.system.inject.tcb(server)
        return int.from_bytes(self.m.read_phys(tcb + Tcb.ID, 4), "little")

    @property
    def calls_served(self) -> int:
        """Requests the proxy has completed (since its last start)."""
        return self._u64(MB_CALLS)

    def call(self, server: str | int, *words: int, data: bytes = b"", buflen: int | None = None,
             raw_id: int | None = None, timeout: float = 100) -> Reply:
        """CALL ``server`` with message ``words`` (up to 4: a2..a5) and bulk
        ``data``; the buffer is ``buflen`` bytes (default: ``len(data)``;
        the server's reply is copied into it).  ``raw_id`` sends that id
        instead (stale or forged ids).  ``timeout``: virtual ms."""
        if len(words) > 4:
            raise IpcError(f"{len(words)} message words: a CALL carries at most 4")
        size = len(data) if buflen is None else buflen
        if not 0 <= size <= MB_BUF_SIZE or len(data) > size:
            raise IpcError(f"buffer of {size} bytes for {len(data)} bytes of data: "
                           f"the proxy's buffer holds {MB_BUF_SIZE}")
        sid = self.server_id(server) if raw_id is None else raw_id
        self._put(MB_SERVER, sid)
        for i in range(4):
            self._put(MB_WORDS + 8 * i, words[i] if i < len(words) else 0)
        self._put(MB_LEN, size)
        self.m.write_phys(self.mailbox + MB_BUF, data.ljust(size, b"\0"))
        seq = self._u64(MB_DONE_SEQ) + 1
        self._put(MB_REQ_SEQ, seq)  # last: the request is complete
        deadline = self.m.clock() + int(timeout * TICKS_PER_MS)
        done = lambda: self._u64(MB_DONE_SEQ) == seq or self.m.clock() >= deadline  # noqa: E731
        start = self.m.instret
        while not done():
            r = self.m.run(max_insns=max(1, MAX_CALL_INSNS - (self.m.instret - start)),
                           until=done)
            if r.kind != "until":
                raise IpcError(f"CALL {server!r}: the machine stopped ({r}) before the "
                               "proxy answered")
        if self._u64(MB_DONE_SEQ) != seq:
            raise IpcError(f"CALL {server!r}: no answer within {timeout} virtual ms "
                           "(is the proxy alive? is the server?)")
        rlen = min(self._u64(MB_RLEN), size)
        reply_words = struct.unpack("<4Q", self.m.read_phys(self.mailbox + MB_RWORDS, 32))
        status = self._u64(MB_STATUS)
        # On an error only a0 is defined (ABI.md): no words, no data.
        if status != Err.OK:
            return Reply(status, (0, 0, 0, 0), b"")
        return Reply(status, reply_words, self.m.read_phys(self.mailbox + MB_BUF, rlen))
