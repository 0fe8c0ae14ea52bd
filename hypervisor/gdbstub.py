"""The GDB remote stub: GDB's Remote Serial Protocol over TCP for a Machine.

``gdb-multiarch`` attaches to a running (or waiting) :class:`Machine`, reads
and writes the integer registers, ``pc``, the CSRs that matter and the
privilege level (through a target description, :func:`target_xml`), reads
and writes memory at virtual addresses (through the current ``satp``, as
the hart sees it at its current level), sets breakpoints and watchpoints,
single-steps, continues and stops on Ctrl-C::

    septum run --gdb tcp::1234 -S image.elf     # or: -s -S
    gdb-multiarch -ex 'target remote :1234' image.elf

Why not PyPI's ``udbserver``
----------------------------
udbserver 0.3.0 (a Rust ``gdbstub`` over the Unicorn handle; wheel and its
strings read, upstream source read) supports RISC-V, but only x0-x31 and pc:
its target description names the architecture alone (no CSRs, no
``priv``).  It reads memory with ``uc_mem_read`` (no walk of the guest's
``satp``, so no virtual addresses under Sv39), listens on 0.0.0.0 (every
interface), and drives execution from inside Unicorn hooks: it installs an
empty code hook and memory hook over all addresses (a callback on every
instruction and every load) and runs the GDB session from within hook
callbacks, so it never sees our run loop's between-slice work (device time,
M-level interrupt delivery, the trap unit's fault handling, poweroff).  The
stub is therefore written by hand on :meth:`Machine.run`.

Execution
---------
``c`` runs :meth:`Machine.run` (its normal slices, no per-instruction hook)
with an ``until`` condition that polls the socket for Ctrl-C (0x03) between
slices and notices a breakpoint or watchpoint hit.  Breakpoints (``Z0`` and
``Z1`` alike) are ``UC_HOOK_CODE`` hooks on single addresses that stop
emulation before the instruction runs: guest memory is never patched with
``ebreak``.  Watchpoints (``Z2`` write, ``Z3`` read, ``Z4`` access) are
``UC_HOOK_MEM_WRITE``/``READ`` hooks on the watched virtual range.  GDB
treats RISC-V watchpoints as non-steppable: it expects the stop *before*
the accessing instruction has run, then steps over it itself and compares
old and new values.  Stopping emulation from a memory hook leaves the PC on
the accessing instruction with its registers untouched (measured: an
``amoadd``'s ``rd`` not yet written) but a store already done, so the stub
saves the bytes a watched store is about to overwrite (the hook runs before
the store) and puts them back when the run returns.  A breakpoint or
watchpoint stop is counted by Unicorn's instruction counter as begun, so
``instret`` runs one ahead per such stop.

Known limits: a store to a *device* register under a write watchpoint
cannot be undone (its side effect has happened), so GDB's step over it
writes the device twice.  When a breakpoint or watchpoint stops a slice
right after a ``wfi`` instruction, :meth:`Machine.run` takes the early end
of the slice for that ``wfi`` and may fast-forward virtual time to the next
device event before the stop is reported (the machine's own breakpoints do
not have this problem, but they keep a stale skip address when GDB removes
the breakpoint it stopped at, so they are not used here).

Thread model: one thread (id 1).  Stop replies carry ``thread:1;`` and the
pc (register 0x20).  When the guest powers off the stub replies
``W<code>`` and the session ends; ``D`` lets the guest run on; ``k`` ends
the run (:func:`serve` returns a :class:`StopReason` of kind ``killed``).
"""

from __future__ import annotations

import argparse
import re
import select
import socket
import sys
from typing import Callable

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE, UcError

from septum.hypervisor.errors import MachineError
from septum.hypervisor.machine import Machine, StopReason
from septum.toolchain.riscv import ABI_NAMES, CSR

#: ``-s`` means this (QEMU's shorthand).
DEFAULT_SPEC = "tcp::1234"
#: The address ``tcp::PORT`` binds.
DEFAULT_HOST = "127.0.0.1"
#: Largest packet we accept (qSupported PacketSize, hex).
PACKET_SIZE = 0x4000
#: Signal numbers in stop replies (GDB's numbering).
SIGINT = 2
SIGTRAP = 5
SIGSEGV = 11
#: Error reply for a memory access that cannot be made (errno EFAULT).
E_FAULT = "E14"
#: Error reply for a register that does not exist.
E_NOREG = "E00"
#: Error reply for a malformed packet.
E_BAD = "E01"
#: The one thread's id.
THREAD_ID = 1
#: Ctrl-C as GDB sends it, outside any packet.
INTERRUPT = 0x03

#: Remote register numbers: x0-x31 are 0-31, pc is 32 (the 'g' packet).
PC_REGNUM = 32
NUM_CORE_REGS = 33
#: CSR ``n`` is remote register ``CSR_REGNUM_BASE + n``: GDB's own internal
#: numbering (after 32 FPRs, fflags, frm, fcsr at 33-64).
CSR_REGNUM_BASE = 65
#: QEMU's virtual ``priv`` register comes after the 4096 CSRs.
PRIV_REGNUM = CSR_REGNUM_BASE + 4096

#: The CSRs the target description offers, in order.
DEBUG_CSRS: tuple[CSR, ...] = (
    CSR.MSTATUS, CSR.MISA, CSR.MEDELEG, CSR.MIDELEG, CSR.MIE, CSR.MTVEC,
    CSR.MSCRATCH, CSR.MEPC, CSR.MCAUSE, CSR.MTVAL, CSR.MIP,
    CSR.SSTATUS, CSR.SIE, CSR.STVEC, CSR.SSCRATCH, CSR.SEPC, CSR.SCAUSE,
    CSR.STVAL, CSR.SIP, CSR.SATP,
)
_CSR_BY_REGNUM = {CSR_REGNUM_BASE + int(c): c for c in DEBUG_CSRS}

#: Z/z types: software and hardware breakpoints, write/read/access watchpoints.
Z_SW, Z_HW, Z_WRITE, Z_READ, Z_ACCESS = range(5)
_WATCH_NAME = {Z_WRITE: "watch", Z_READ: "rwatch", Z_ACCESS: "awatch"}

_SPEC_RE = re.compile(r"^tcp:([^:]*):(\d+)$")


def parse_spec(spec: str) -> tuple[str, int]:
    """``tcp::PORT`` -> (127.0.0.1, PORT); ``tcp:HOST:PORT`` -> (HOST, PORT).

    Raises :class:`MachineError` naming the spec if it is neither."""
    m = _SPEC_RE.match(spec.strip())
    if not m:
        raise MachineError(f"--gdb {spec!r}: expected tcp::PORT or tcp:HOST:PORT")
    host, port = m.group(1) or DEFAULT_HOST, int(m.group(2))
    if port > 0xFFFF:
        raise MachineError(f"--gdb {spec!r}: port {port} out of range")
    return host, port


def target_xml() -> str:
    """The target description GDB reads with ``qXfer:features:read``: the
    RV64 core registers (x0-x31, pc), the CSRs of :data:`DEBUG_CSRS` and the
    virtual ``priv`` register, with the remote numbers used by p/P."""
    core = []
    for i, name in enumerate(ABI_NAMES):
        kind = {"sp": "data_ptr", "ra": "code_ptr"}.get(name, "int")
        core.append(f'<reg name="{name}" bitsize="64" type="{kind}" regnum="{i}"/>')
    core.append(f'<reg name="pc" bitsize="64" type="code_ptr" regnum="{PC_REGNUM}"/>')
    csrs = [f'<reg name="{c.name.lower()}" bitsize="64" type="int" '
            f'regnum="{CSR_REGNUM_BASE + int(c)}" group="system"/>' for c in DEBUG_CSRS]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'
        '<target version="1.0">\n<architecture>riscv:rv64</architecture>\n'
        '<feature name="org.gnu.gdb.riscv.cpu">\n' + "\n".join(core) + "\n</feature>\n"
        '<feature name="org.gnu.gdb.riscv.csr">\n' + "\n".join(csrs) + "\n</feature>\n"
        '<feature name="org.gnu.gdb.riscv.virtual">\n'
        f'<reg name="priv" bitsize="64" type="int" regnum="{PRIV_REGNUM}" group="system"/>\n'
        "</feature>\n</target>\n")


def _le(value: int) -> str:
    return (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little").hex()


def _from_le(text: str) -> int:
    return int.from_bytes(bytes.fromhex(text), "little")


def _escape(data: bytes) -> bytes:
    """Binary-escape ``$ # } *`` (RSP: ``}`` then the byte XOR 0x20)."""
    out = bytearray()
    for b in data:
        if b in b"$#}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def _unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        out.append(next(it, 0) ^ 0x20 if b == 0x7D else b)
    return bytes(out)


class Disconnected(Exception):
    """The debugger closed the connection."""


class Connection:
    """One GDB client on a TCP socket: packet framing, acks, Ctrl-C."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(True)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.ack = True
        self.interrupted = False

    def _fill(self, timeout: float | None) -> bool:
        try:
            ready, _, _ = select.select([self.sock], [], [], timeout)
        except (OSError, ValueError):
            raise Disconnected() from None  # closed under us (GdbServer.close)
        if not ready:
            return False
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise Disconnected()
        self.buf += data
        return True

    def _take_interrupts(self) -> None:
        # Ctrl-C and acks arrive outside packets; drop everything before '$'.
        start = self.buf.find(b"$")
        junk = self.buf if start < 0 else self.buf[:start]
        if INTERRUPT in junk:
            self.interrupted = True
        del self.buf[:len(junk)]

    def poll_interrupt(self) -> bool:
        """Non-blocking: True once Ctrl-C has arrived."""
        while not self.interrupted and self._fill(0):
            self._take_interrupts()
        self._take_interrupts()
        return self.interrupted

    def read_packet(self) -> bytes:
        """Block for the next packet's payload (checksum verified, acked)."""
        while True:
            self._take_interrupts()
            end = self.buf.find(b"#")
            if self.buf.startswith(b"$") and end >= 0 and len(self.buf) >= end + 3:
                payload = bytes(self.buf[1:end])
                checksum = bytes(self.buf[end + 1:end + 3])
                del self.buf[:end + 3]
                ok = checksum.lower() == f"{sum(payload) & 0xFF:02x}".encode()
                if self.ack:
                    self.sock.sendall(b"+" if ok else b"-")
                if ok:
                    return payload
                continue
            self._fill(None)

    def send(self, payload: str | bytes) -> None:
        """Send one packet (text or already escaped bytes)."""
        data = payload.encode() if isinstance(payload, str) else payload
        frame = b"$" + data + b"#" + f"{sum(data) & 0xFF:02x}".encode()
        try:
            self.sock.sendall(frame)
        except OSError:
            raise Disconnected() from None

    def close(self) -> None:
        """Close the socket."""
        try:
            self.sock.close()
        except OSError:
            pass


class GdbServer:
    """A GDB remote stub for ``machine``, listening on ``host:port``
    (port 0 picks a free one: see :attr:`port`)."""

    def __init__(self, machine: Machine, host: str = DEFAULT_HOST, port: int = 1234,
                 *, log: Callable[[str], None] | None = None) -> None:
        self.m = machine
        self.log = log if log is not None else (lambda msg: print(msg, file=sys.stderr))
        try:
            self.listener = socket.create_server((host, port))
        except OSError as exc:
            raise MachineError(f"gdb stub: cannot listen on {host}:{port}: "
                               f"{exc.strerror or exc}") from None
        self.listener.settimeout(0.2)
        #: The TCP port actually bound.
        self.port: int = self.listener.getsockname()[1]
        self.conn: Connection | None = None
        self._closed = False
        self._client_swbreak = False
        self._client_hwbreak = False
        # Breakpoints: address -> (hook handle, Z type); watchpoints:
        # (type, addr, len) -> hook handle.
        self._bps: dict[int, tuple[int, int]] = {}
        self._watches: dict[tuple[int, int, int], int] = {}
        self._skip: int | None = None
        self._bp_hit: int | None = None
        self._watch_hit: tuple[int, int] | None = None
        # (physical address, bytes) a watched store is about to overwrite.
        self._undo: tuple[int, bytes] | None = None
        #: True while the guest runs on behalf of an attached debugger.
        self.running = False
        # serve()'s caller's ``until`` (terminal input, a script's next
        # line): polled while a debugger lets the guest run too.
        self._outer_until: Callable[[], bool] | None = None
        self._outer_stopped = False

    # ----- connections ---------------------------------------------------------

    def close(self) -> None:
        """Stop listening and drop the client (safe from another thread): a
        :meth:`serve` in progress returns at the end of the current slice."""
        self._closed = True
        if self.conn is not None:
            self.conn.close()
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self, block: bool) -> bool:
        """Take a pending client (waiting for one if ``block``)."""
        while not self._closed:
            try:
                if not block:
                    ready, _, _ = select.select([self.listener], [], [], 0)
                    if not ready:
                        return False
                sock, addr = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return False
            self.conn = Connection(sock)
            self.log(f"septum: gdb connected from {addr[0]}:{addr[1]}")
            return True
        return False

    def serve(self, wait: bool, until: Callable[[], bool] | None = None) -> StopReason:
        """Run the machine under the stub until it powers off, the debugger
        kills it, or ``until()`` (checked between slices) becomes true.

        ``wait``: halt before the first instruction until a debugger attaches
        (QEMU's ``-S``).  Without it the guest runs at once and a debugger
        may attach at any time (the guest stops when it does).  Returns the
        final :class:`StopReason` (kind ``killed`` after GDB's ``k``).

        ``until`` is polled between slices whether or not a debugger is
        attached (it feeds the console); when it ends the run while a
        debugger has the guest running, the debugger hears ``W00`` (the
        program exited) and the run returns kind ``until``."""
        self._outer_until = until
        try:
            if wait:
                self.log(f"septum: waiting for gdb on port {self.port}")
                if not self._accept(block=True):
                    return StopReason("killed", message="stub closed before gdb attached")
            while True:
                if self.conn is not None:
                    final = self._session()
                    if final is not None:
                        return final
                    continue
                r = self.m.run(until=lambda: self._closed or self._accept(block=False)
                               or bool(until is not None and until()))
                if r.kind == "reset":
                    self.m.reset()
                    continue
                if r.kind == "until" and self.conn is not None:
                    continue
                return r
        finally:
            self._clear_points()
            self.close()

    # ----- the session -----------------------------------------------------------

    def _session(self) -> StopReason | None:
        """Serve one attached debugger with the guest stopped.  Returns the
        final stop (poweroff, kill) or None when the debugger went away and
        the guest runs on."""
        conn = self.conn
        assert conn is not None
        try:
            while True:
                packet = conn.read_packet()
                result = self._dispatch(packet)
                if isinstance(result, StopReason):
                    return result
                if result is _DETACH:
                    break
        except Disconnected:
            self.log("septum: gdb disconnected")
        self._clear_points()
        conn.close()
        self.conn = None
        return None

    def _dispatch(self, packet: bytes) -> object:
        """Handle one packet: reply, and return a final StopReason, the
        detach marker, or None."""
        conn = self.conn
        assert conn is not None
        cmd = packet[:1]
        text = packet.decode("latin-1")
        try:
            if cmd == b"c" or cmd == b"C":
                return self._resume(step=False, addr=text[1:] if cmd == b"c" else None)
            if cmd == b"s" or cmd == b"S":
                return self._resume(step=True, addr=text[1:] if cmd == b"s" else None)
            if text.startswith("vCont"):
                return self._vcont(text)
            if cmd == b"X":
                conn.send(self._write_binary(packet))
                return None
            if cmd == b"D":
                conn.send("OK")
                self.log("septum: gdb detached")
                return _DETACH
            if cmd == b"k" or text.startswith("vKill"):
                if cmd != b"k":
                    conn.send("OK")
                return StopReason("killed", message="killed by the debugger", pc=self.m.pc)
            if text == "QStartNoAckMode":
                conn.send("OK")
                conn.ack = False
                return None
            conn.send(self._query(text))
        except (ValueError, IndexError, MachineError, UcError):
            conn.send(E_BAD)
        return None

    def _query(self, text: str) -> str:
        """Replies for the packets that do not resume or end the target."""
        head = text[:1]
        if text == "?":
            return self._stop_reply(SIGTRAP)
        if head == "g":
            regs = [self.m.cpu.gpr(i) for i in range(32)] + [self.m.pc]
            return "".join(_le(v) for v in regs)
        if head == "G":
            hexregs = text[1:]
            for i in range(min(NUM_CORE_REGS, len(hexregs) // 16)):
                self._write_reg(i, _from_le(hexregs[16 * i:16 * i + 16]))
            return "OK"
        if head == "p":
            value = self._read_reg(int(text[1:], 16))
            return E_NOREG if value is None else _le(value)
        if head == "P":
            num, _, val = text[1:].partition("=")
            return "OK" if self._write_reg(int(num, 16), _from_le(val)) else E_NOREG
        if head == "m":
            addr, length = (int(x, 16) for x in text[1:].split(","))
            data = self._read_mem(addr, min(length, PACKET_SIZE // 2))
            return data.hex() if data or length == 0 else E_FAULT
        if head == "M":
            where, _, hexdata = text[1:].partition(":")
            addr, length = (int(x, 16) for x in where.split(","))
            return self._write_mem(addr, bytes.fromhex(hexdata)[:length])
        if head in ("Z", "z"):
            return self._point(head == "Z", text[1:])
        if head == "H" or head == "T":
            return "OK"
        if text.startswith("qSupported"):
            features = text.partition(":")[2].split(";")
            self._client_swbreak = "swbreak+" in features
            self._client_hwbreak = "hwbreak+" in features
            return (f"PacketSize={PACKET_SIZE:x};qXfer:features:read+;swbreak+;hwbreak+;"
                    "QStartNoAckMode+;vContSupported+")
        if text.startswith("qXfer:features:read:"):
            annex, _, span = text[len("qXfer:features:read:"):].partition(":")
            if annex != "target.xml":
                return "E00"
            off, length = (int(x, 16) for x in span.split(","))
            xml = target_xml().encode()
            chunk = xml[off:off + length]
            return ("l" if off + length >= len(xml) else "m") + _escape(chunk).decode("latin-1")
        if text == "qAttached" or text.startswith("qAttached:"):
            return "1"
        if text == "qC":
            return f"QC{THREAD_ID:x}"
        if text == "qfThreadInfo":
            return f"m{THREAD_ID:x}"
        if text == "qsThreadInfo":
            return "l"
        if text == "qOffsets":
            return "Text=0;Data=0;Bss=0"
        if text == "qSymbol::":
            return "OK"
        return ""

    # ----- registers ---------------------------------------------------------------

    def _read_reg(self, num: int) -> int | None:
        cpu = self.m.cpu
        if num < 32:
            return cpu.gpr(num)
        if num == PC_REGNUM:
            return cpu.pc
        if num == PRIV_REGNUM:
            return cpu.priv
        csr = _CSR_BY_REGNUM.get(num)
        return None if csr is None else cpu.csr_read(csr)

    def _write_reg(self, num: int, value: int) -> bool:
        cpu = self.m.cpu
        if num < 32:
            cpu.set_gpr(num, value)
        elif num == PC_REGNUM:
            cpu.pc = value
        elif num == PRIV_REGNUM:
            if value not in (0, 1, 3):
                return False
            cpu.priv = value
        elif num in _CSR_BY_REGNUM:
            cpu.csr_write(_CSR_BY_REGNUM[num], value)
        else:
            return False
        return True

    # ----- memory ----------------------------------------------------------------------

    def _read_mem(self, addr: int, length: int) -> bytes:
        """Up to ``length`` bytes at virtual ``addr``: stops at the first
        unmapped page (GDB accepts a short read)."""
        out = bytearray()
        addr &= 0xFFFF_FFFF_FFFF_FFFF
        while len(out) < length:
            va = (addr + len(out)) & 0xFFFF_FFFF_FFFF_FFFF
            chunk = min(length - len(out), 0x1000 - (va & 0xFFF))
            try:
                out += self.m.read_virt(va, chunk)
            except MachineError:
                break
        return bytes(out)

    def _write_mem(self, addr: int, data: bytes) -> str:
        try:
            # Check every page first: a refused write changes nothing.
            for off in range(0, len(data), 0x1000):
                self.m.translate(addr + off)
            if data:
                self.m.translate(addr + len(data) - 1)
            self.m.write_virt(addr, data)
        except MachineError:
            return E_FAULT
        return "OK"

    def _write_binary(self, packet: bytes) -> str:
        head, _, data = packet[1:].partition(b":")
        addr, length = (int(x, 16) for x in head.decode().split(","))
        return self._write_mem(addr, _unescape(data)[:length])

    # ----- breakpoints and watchpoints ---------------------------------------------

    def _point(self, insert: bool, args: str) -> str:
        kind_s, addr_s, size_s = args.split(";")[0].split(",")
        kind, addr, size = int(kind_s), int(addr_s, 16), int(size_s, 16)
        uc = self.m.cpu.uc
        if kind in (Z_SW, Z_HW):
            if insert:
                if addr not in self._bps:
                    hook = uc.hook_add(UC_HOOK_CODE, self._hook_bp, None, addr, addr)
                    self._bps[addr] = (hook, kind)
                    # Drop translated code: measured in a GDB session, a
                    # breakpoint set inside a block translated before it
                    # (GDB's step over a watchpoint) was missed without this.
                    uc.ctl_flush_tb()
            elif addr in self._bps:
                uc.hook_del(self._bps.pop(addr)[0])
            return "OK"
        if kind in _WATCH_NAME:
            key = (kind, addr, max(size, 1))
            if insert:
                if key not in self._watches:
                    types = {Z_WRITE: UC_HOOK_MEM_WRITE, Z_READ: UC_HOOK_MEM_READ,
                             Z_ACCESS: UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}[kind]
                    self._watches[key] = uc.hook_add(types, self._hook_watch, kind,
                                                     addr, addr + key[2] - 1)
                    # Likewise (measured in a GDB session: a new read hook
                    # missed a load in code translated before it).
                    uc.ctl_flush_tb()
            elif key in self._watches:
                uc.hook_del(self._watches.pop(key))
            return "OK"
        return ""

    def _clear_points(self) -> None:
        uc = self.m.cpu.uc
        for hook, _ in self._bps.values():
            uc.hook_del(hook)
        for hook in self._watches.values():
            uc.hook_del(hook)
        self._bps.clear()
        self._watches.clear()

    def _hook_bp(self, uc: object, address: int, size: int, user: object) -> None:
        if self._skip == address:
            # Resuming from this breakpoint: its instruction runs once.
            self._skip = None
            return
        if self._bp_hit is None and self._watch_hit is None:
            self._bp_hit = address
            uc.emu_stop()  # type: ignore[attr-defined]

    def _hook_watch(self, uc: object, access: int, addr: int, size: int, value: int,
                    kind: int) -> None:
        if self._watch_hit is not None or self._bp_hit is not None:
            return
        self._watch_hit = (kind, addr)
        if access == UC_MEM_WRITE:
            # The store has not happened yet but will before emulation
            # stops: keep what it overwrites (not possible for MMIO).
            try:
                pa = self.m.translate(addr)
                self._undo = (pa, self.m.read_phys(pa, size))
            except MachineError:
                self._undo = None
        uc.emu_stop()  # type: ignore[attr-defined]

    # ----- running ------------------------------------------------------------------------

    def _vcont(self, text: str) -> object:
        assert self.conn is not None
        if text == "vCont?":
            self.conn.send("vCont;c;C;s;S")
            return None
        actions = [a.split(":")[0] for a in text[len("vCont;"):].split(";") if a]
        if not actions:
            self.conn.send(E_BAD)
            return None
        step = any(a[:1] in ("s", "S") for a in actions)
        if not step and not all(a[:1] in ("c", "C") for a in actions):
            self.conn.send("")
            return None
        return self._resume(step=step, addr=None)

    def _until(self) -> bool:
        if self._bp_hit is not None or self._watch_hit is not None:
            return True
        assert self.conn is not None
        if self._outer_until is not None and self._outer_until():
            self._outer_stopped = True
            return True
        return self.conn.poll_interrupt()

    def _resume(self, step: bool, addr: str | None) -> StopReason | None:
        """Run (or step) until something stops the guest; send the stop
        reply.  Returns a final StopReason (poweroff) or None."""
        conn = self.conn
        assert conn is not None
        m = self.m
        if addr:
            m.pc = int(addr, 16)
        conn.interrupted = False
        while True:
            self._bp_hit = None
            self._watch_hit = None
            self._undo = None
            self._skip = m.pc if m.pc in self._bps else None
            self.running = True
            try:
                r = m.run(max_insns=1 if step else None, until=self._until)
            finally:
                self.running = False
                self._skip = None
            if self._undo is not None:
                # Back to "before the access": the PC is on the instruction.
                self.m.write_phys(*self._undo)
                self._undo = None
            if r.kind == "reset":
                m.reset()
                if step:
                    break
                continue
            break
        if r.kind == "poweroff":
            code = (r.exit_code or 0) & 0xFF
            conn.send(f"W{code:02x}")
            return r
        if r.kind == "until" and self._outer_stopped:
            self._outer_stopped = False
            conn.send("W00")
            return r
        hit = self._bp_hit is not None or self._watch_hit is not None
        if r.kind == "hang" and not step and not conn.interrupted and not hit:
            # Nothing can wake the hart: stay "running" until Ctrl-C.
            self.log(f"septum: {r.message}; waiting for Ctrl-C")
            while not conn.interrupted:
                conn._fill(None)
                conn._take_interrupts()
        if r.kind == "error":
            self.log(f"septum: {r.message}")
            conn.send(self._stop_reply(SIGSEGV))
            return None
        if self._watch_hit is not None:
            kind, where = self._watch_hit
            conn.send(self._stop_reply(SIGTRAP, f"{_WATCH_NAME[kind]}:{where:x};"))
        elif self._bp_hit is not None:
            _, ztype = self._bps.get(self._bp_hit, (0, Z_SW))
            extra = ""
            if ztype == Z_SW and self._client_swbreak:
                extra = "swbreak:;"
            elif ztype == Z_HW and self._client_hwbreak:
                extra = "hwbreak:;"
            conn.send(self._stop_reply(SIGTRAP, extra))
        elif conn.interrupted:
            conn.interrupted = False
            conn.send(self._stop_reply(SIGINT))
        else:
            conn.send(self._stop_reply(SIGTRAP))
        return None

    def _stop_reply(self, sig: int, extra: str = "") -> str:
        return f"T{sig:02x}{extra}thread:{THREAD_ID:x};{PC_REGNUM:x}:{_le(self.m.pc)};"


#: _dispatch's marker for "the debugger detached".
_DETACH = object()


# ----- command line -----------------------------------------------------------------------

def add_gdb_arguments(parser: argparse.ArgumentParser) -> None:
    """Add QEMU's debugger options: ``--gdb``/``-gdb SPEC``, ``-s``
    (= ``--gdb tcp::1234``) and ``-S`` (wait for the debugger before the
    first instruction)."""
    parser.add_argument("--gdb", "-gdb", dest="gdb", default=None, metavar="tcp::PORT",
                        help="serve the GDB remote protocol (tcp::PORT binds 127.0.0.1, "
                        "tcp:HOST:PORT another address)")
    parser.add_argument("-s", dest="gdb", action="store_const", const=DEFAULT_SPEC,
                        help=f"shorthand for --gdb {DEFAULT_SPEC}")
    parser.add_argument("-S", dest="gdb_wait", action="store_true",
                        help="with --gdb/-s: wait for the debugger before the first instruction")


def serve(machine: Machine, spec: str, wait: bool,
          until: Callable[[], bool] | None = None) -> StopReason:
    """Listen on ``spec`` (``tcp::PORT`` or ``tcp:HOST:PORT``) and run
    ``machine`` under the stub (see :meth:`GdbServer.serve`)."""
    host, port = parse_spec(spec)
    return GdbServer(machine, host, port).serve(wait, until)
