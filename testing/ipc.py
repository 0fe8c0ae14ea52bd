"""Calling a Septum server from the host, through the host link and a proxy task.

The host cannot make system calls, and must not bypass the kernel: a test
that drives a server is subject to the same authority checks as any task.
So the host asks a user task to make the call.  The board's host-link
device (hypervisor/devices/hostlink.py, ``septum,hostlink`` at 0x0400_0000,
PLIC source 64) carries the request: :meth:`Ipc.call` rings its doorbell,
whose interrupt wakes the proxy task (userland/hostlink/proxy.S); the proxy
makes the CALL with its own id and authority -- the ``calls`` of its
manifest entry -- writes the reply into the device and completes it, and
the host runs the machine until then (virtual time only)::

    ipc.call("storage", STORE_OP_PUT, 1, 1, data=b"kv")   # -> Reply
    ipc.call("supervisor", 1).status_name                 # "DENIED": not granted

The default system (userland/system.toml) has the proxy as its last task,
allowed to call the console and storage.  :func:`proxy_manifest` adds it to
a copy of any other system's folder.

Reading from the console.  The console answers every call at once: a
CONS_READLINE or CONS_READ with nothing there for the caller returns
``CONS_WAIT`` (``words[0]``), and the console remembers the proxy as a
reader and NOTIFYs it (bit TASK_CONSOLE, which the proxy ignores) when its
input is ready.  A host test therefore calls, types, waits for that
notification and calls again::

    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)   # words[0] == CONS_WAIT
    console.send("hello\\r")
    ipc.wait_notified()                                        # the console's bit
    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)   # OK, data b"hello"

or in one go, :meth:`Ipc.console_read` (call, and on ``CONS_WAIT`` wait and
call again).  The console must be allowed to NOTIFY the proxy (its
manifest ``notifies``; the default system's is), else the answer is
``CONS_BAD_REQUEST``; a system whose shell is waiting at its prompt gives
typed lines to the shell first (readers are served in the order they
asked).  :data:`CONS` has the console protocol's numbers, read from
userland/lib/msg.inc.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.hypervisor.devices.hostlink import BUF_SIZE, HostlinkError
from septum.kernel.abi import Err, TaskState, Tcb, describe_status
from septum.toolchain.errors import SeptumError
from septum.toolchain.manifest import load_manifest

from .system import BootedSystem

#: The proxy task's files, copied by :func:`proxy_manifest`: its source and
#: include (userland/hostlink/), and the watchdog's side (userland/lib/watch.S).
PROXY_FILES = (DEFAULT_MANIFEST.parent / "hostlink" / "proxy.S",
               DEFAULT_MANIFEST.parent / "hostlink" / "hostlink.inc",
               DEFAULT_MANIFEST.parent / "lib" / "watch.S")
#: userland/lib/msg.inc: the message protocols' numbers (read, not copied).
MSG_INC = DEFAULT_MANIFEST.parent / "lib" / "msg.inc"


def msg_constants(path: str | Path = MSG_INC, prefix: str = "") -> dict[str, int]:
    """The ``.equ NAME, NUMBER`` lines of ``path`` whose name starts with
    ``prefix`` (numbers only: lines with an expression are left out)."""
    out = {}
    for m in re.finditer(r"^\.equ\s+(\w+),\s*(0x[0-9a-fA-F]+|\d+)\s*(?:#.*)?$",
                         Path(path).read_text(), re.M):
        if m.group(1).startswith(prefix):
            out[m.group(1)] = int(m.group(2), 0)
    return out


#: The console protocol (CONS_WRITE, CONS_READLINE, CONS_READ, CONS_OK,
#: CONS_WAIT, ...), as msg.inc defines it.
CONS = msg_constants(prefix="CONS_")

def line_sum(data: bytes) -> int:
    """userland/lib/sum.S's ``line_sum``: (length + the sum over i of
    (i + 1) * data[i]) mod 2**32 -- the check a CONS_READLINE reply carries
    in ``words[2]`` (a4)."""
    return (len(data) + sum((i + 1) * b for i, b in enumerate(data))) % 2**32


#: The proxy's task name (its source uses the generated ``PROXY_IRQ_HOSTLINK``).
PROXY_NAME = "proxy"
#: The device the proxy is granted, and the notification bit of its interrupt.
HOSTLINK_DEVICE = "hostlink"
PROXY_IRQ_BIT = 0
#: The most bulk bytes one call carries (the device's buffer).
MAX_DATA = BUF_SIZE

#: Instructions one call may take at most (whatever its virtual timeout).
MAX_CALL_INSNS = 500_000_000
#: mtime ticks per virtual millisecond.
TICKS_PER_MS = 10_000


class IpcError(SeptumError):
    """The proxy did not answer (absent, dead, timeout, machine stopped, bad request)."""


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
    granted the host link and allowed to call ``calls``); return the new
    manifest's path.  Raises :class:`IpcError` if ``base`` has a proxy already."""
    base = Path(base)
    if any(t.name == PROXY_NAME or any(d.name == HOSTLINK_DEVICE for d in t.devices)
           for t in load_manifest(base).tasks):
        raise IpcError(f"{base}: already has the IPC proxy (a task {PROXY_NAME!r} or the "
                       f"{HOSTLINK_DEVICE!r} device): use it as it is")
    dest = Path(folder) / base.parent.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(base.parent, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (dest / PROXY_NAME).mkdir(exist_ok=True)
    for src in PROXY_FILES:
        shutil.copy(src, dest / PROXY_NAME / src.name)
    sources = ", ".join(f'"{PROXY_NAME}/{src.name}"' for src in PROXY_FILES
                        if src.suffix == ".S")
    manifest = dest / base.name
    calls_toml = ", ".join(f'"{c}"' for c in calls)
    manifest.write_text(manifest.read_text() + (
        f"\n# Added by septum.testing.ipc: the host's IPC proxy.\n[tasks.{PROXY_NAME}]\n"
        f"source = [{sources}]\n"
        f"priority = {priority}\ndevices = [\"{HOSTLINK_DEVICE}\"]\n"
        f"interrupts = {{ {HOSTLINK_DEVICE} = {PROXY_IRQ_BIT} }}\ncalls = [{calls_toml}]\n"))
    return manifest


class Ipc:
    """Host -> server calls through the host link and the proxy task of
    ``system`` (the task named ``proxy``, granted the ``hostlink`` device).
    Raises :class:`IpcError` when the system has no such task."""

    def __init__(self, system: BootedSystem, proxy: str = PROXY_NAME) -> None:
        self.system = system
        self.m = system.machine
        tasks = load_manifest(system.manifest).tasks
        owner = next((t for t in tasks if t.name == proxy
                      and any(d.name == HOSTLINK_DEVICE for d in t.devices)), None)
        if owner is None:
            raise IpcError(f"{system.manifest}: no IPC proxy (a task {proxy!r} granted "
                           f"devices = [\"{HOSTLINK_DEVICE}\"]): add it with "
                           "septum.testing.ipc.proxy_manifest()")
        self.proxy = owner.index
        self.link = self.m.hostlink

    def _tcb_u64(self, task: str | int, field: int) -> int:
        return int.from_bytes(self.m.read_phys(self.system.inject.tcb(task) + field, 8), "little")

    def server_id(self, server: str | int) -> int:
        """The current id of ``server`` (a task name or index): its index
        and the generation in its TCB, so calls follow restarts."""
        return self._tcb_u64(server, Tcb.ID) & 0xFFFF_FFFF

    @property
    def proxy_state(self) -> TaskState:
        """The proxy's kernel state (``NOTIFY_WAIT`` while it waits for a request)."""
        return TaskState(self._tcb_u64(self.proxy, Tcb.STATE))

    @property
    def proxy_denials(self) -> int:
        """Calls the kernel refused the proxy (its TCB's denial count, as ``ps`` shows)."""
        return self._tcb_u64(self.proxy, Tcb.DENIALS)

    @property
    def proxy_received(self) -> int:
        """Messages and notifications the kernel has delivered to the proxy
        (its TCB's RECEIVED count, 32 bits)."""
        return int.from_bytes(self.m.read_phys(self.system.inject.tcb(self.proxy)
                                               + Tcb.RECEIVED, 4), "little")

    def wait_notified(self, timeout: float = 100) -> bool:
        """Run the machine until the proxy receives a notification (its
        RECEIVED count moves: the console's "your input is there", after a
        ``CONS_WAIT``) or ``timeout`` virtual ms pass; True if it did."""
        before = self.proxy_received
        deadline = self.m.clock() + int(timeout * TICKS_PER_MS)
        done = lambda: self.proxy_received != before or self.m.clock() >= deadline  # noqa: E731
        while not done():
            r = self.m.run(max_insns=MAX_CALL_INSNS, until=done)
            if r.kind != "until":
                raise IpcError(f"waiting for a notification: the machine stopped ({r})")
        return self.proxy_received != before

    def console_read(self, op: int = CONS["CONS_READLINE"], buflen: int = CONS["CONS_LINE_MAX"],
                     timeout: float = 100) -> Reply:
        """A READLINE (or ``op`` = READ) from the console as lib/cons.S makes
        it: call; while the answer is ``CONS_WAIT``, wait for the console's
        notification (at most ``timeout`` virtual ms each time) and call
        again.  Returns the last reply (``CONS_WAIT`` if no input came)."""
        r = self.call("console", op, buflen=buflen, timeout=timeout)
        while r.ok and r.words[0] == CONS["CONS_WAIT"]:
            if not self.wait_notified(timeout):
                break
            r = self.call("console", op, buflen=buflen, timeout=timeout)
        return r

    @property
    def calls_served(self) -> int:
        """Requests the proxy has completed since boot (the device's count)."""
        return self.link.served

    def call(self, server: str | int, *words: int, data: bytes = b"", buflen: int | None = None,
             raw_id: int | None = None, timeout: float = 100) -> Reply:
        """CALL ``server`` with message ``words`` (up to 4: a2..a5) and bulk
        ``data``; the buffer is ``buflen`` bytes (default: ``len(data)``,
        at most :data:`MAX_DATA`; the server's reply is copied into it).
        ``raw_id`` sends that id instead (stale or forged ids).  ``timeout``:
        virtual ms.  Raises :class:`IpcError` when the proxy does not answer."""
        sid = self.server_id(server) if raw_id is None else raw_id
        try:
            self.link.post(sid, words, data, buflen)
        except HostlinkError as exc:
            raise IpcError(f"CALL {server!r}: {exc}") from None
        deadline = self.m.clock() + int(timeout * TICKS_PER_MS)
        link = self.link
        done = lambda: not link.pending or self.m.clock() >= deadline  # noqa: E731
        start = self.m.instret
        while not done():
            r = self.m.run(max_insns=max(1, MAX_CALL_INSNS - (self.m.instret - start)),
                           until=done)
            if r.kind != "until":
                link.cancel()
                raise IpcError(f"CALL {server!r}: the machine stopped ({r}) before the "
                               "proxy answered")
        reply = link.reply()
        if reply is None:
            link.cancel()  # a late answer from the proxy will be ignored
            state = self.proxy_state
            if state >= TaskState.FAULTED:  # FAULTED, EXITED or STOPPED
                why = f"the proxy (task {self.proxy}) is dead ({state.name})"
            else:
                why = (f"the proxy (task {self.proxy}) is {state.name}: is the server "
                       "alive and answering?")
            raise IpcError(f"CALL {server!r}: no answer within {timeout} virtual ms; {why}")
        # On an error only a0 is defined (ABI.md): no words, no data.
        if reply.status != Err.OK:
            return Reply(reply.status, (0, 0, 0, 0), b"")
        return Reply(reply.status, reply.words, reply.data)
