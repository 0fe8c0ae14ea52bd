"""RISC-V semihosting (the RISC-V semihosting spec over ARM's call set).

A semihosting call is the uncompressed, same-page sequence::

    slli zero, zero, 0x1f     # 0x01f01013
    ebreak                    # 0x00100073
    srai zero, zero, 7        # 0x40705013

with ``a0`` = operation and ``a1`` = parameter (usually a pointer to a block
of 64-bit fields on RV64); the result goes to ``a0`` and execution resumes
after the ``ebreak``.  As in QEMU (``-semihosting``), it must be switched on
(``Machine(semihosting=True)``, ``septum run --semihosting``) and is served
from M and S mode only; from U mode, or when off, the ``ebreak`` is an
ordinary breakpoint trap.

Served operations (what picolibc's ``--oslib=semihost`` uses and more):
SYS_OPEN (only ``":tt"``: read mode -> stdin handle 3, write -> stdout 1,
append -> stderr 2; and ``":semihosting-features"``, which reads "SHFB" and
one feature byte with SH_EXT_EXIT_EXTENDED and SH_EXT_STDOUT_STDERR, as
QEMU's; host files are never opened: -1, errno ENOENT),
SYS_CLOSE, SYS_WRITEC, SYS_WRITE0, SYS_WRITE (handles 1, 2), SYS_READ and
SYS_READC (handle 3: :attr:`Semihost.stdin`, fed by the host),
SYS_ISERROR, SYS_ISTTY, SYS_SEEK, SYS_FLEN, SYS_CLOCK (virtual centiseconds),
SYS_TIME (a fixed virtual epoch, 2026-01-01T00:00:00Z, plus virtual seconds),
SYS_ERRNO, SYS_GET_CMDLINE, SYS_HEAPINFO (all zero: "unknown", the image's
own linker symbols decide), SYS_EXIT and SYS_EXIT_EXTENDED
(ApplicationExit or RunTimeErrorUnknown + subcode = exit code, as picolibc
and QEMU do; any other reason = 1),
SYS_ELAPSED (virtual ticks), SYS_TICKFREQ.  Everything is virtual time: the
same run gives the same answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from septum.hypervisor import memmap
from septum.hypervisor.errors import MachineError
from septum.toolchain.riscv import Priv

if TYPE_CHECKING:
    from septum.hypervisor.machine import Machine

SLLI_ZERO = 0x01F01013
EBREAK = 0x00100073
SRAI_ZERO = 0x40705013

SYS_OPEN = 0x01
SYS_CLOSE = 0x02
SYS_WRITEC = 0x03
SYS_WRITE0 = 0x04
SYS_WRITE = 0x05
SYS_READ = 0x06
SYS_READC = 0x07
SYS_ISERROR = 0x08
SYS_ISTTY = 0x09
SYS_SEEK = 0x0A
SYS_FLEN = 0x0C
SYS_CLOCK = 0x10
SYS_TIME = 0x11
SYS_ERRNO = 0x13
SYS_GET_CMDLINE = 0x15
SYS_HEAPINFO = 0x16
SYS_EXIT = 0x18
SYS_EXIT_EXTENDED = 0x20
SYS_ELAPSED = 0x30
SYS_TICKFREQ = 0x31

ADP_STOPPED_APPLICATION_EXIT = 0x20026
ADP_STOPPED_RUNTIME_ERROR_UNKNOWN = 0x20023
_EXIT_WITH_SUBCODE = (ADP_STOPPED_APPLICATION_EXIT, ADP_STOPPED_RUNTIME_ERROR_UNKNOWN)

HANDLE_STDOUT = 1
HANDLE_STDERR = 2
HANDLE_STDIN = 3
HANDLE_FEATURES = 4

#: The contents of the ":semihosting-features" pseudo-file (semihosting v2):
#: the magic "SHFB", then feature byte 0 — bit 0 SH_EXT_EXIT_EXTENDED, bit 1
#: SH_EXT_STDOUT_STDERR — both served here, as QEMU serves them.
FEATURES = b"SHFB\x03"

#: SYS_TIME's epoch: 2026-01-01T00:00:00Z (deterministic, never the host's).
EPOCH_SECONDS = 1_767_225_600

ENOENT = 2
EBADF = 9
EACCES = 13
EINVAL = 22

MASK64 = (1 << 64) - 1


class Semihost:
    """The semihosting service of machine ``m``."""

    def __init__(self, m: "Machine", cmdline: str = "") -> None:
        self.m = m
        self.cmdline = cmdline
        self.stdin = bytearray()
        self.errno = 0
        self.features_pos: int | None = None  # read position; None: not open

    # ----- detection ---------------------------------------------------------

    def is_call(self, pc: int) -> bool:
        """True when the ebreak at ``pc`` is a semihosting call to serve."""
        if self.m.cpu.priv == Priv.U:
            return False
        # The three instructions must be on one page (the spec's rule: no
        # fault may intervene in reading them).
        if (pc - 4) >> 12 != (pc + 4) >> 12:
            return False
        fetch = self.m.trap.fetch_insn
        return (fetch(pc) == EBREAK and fetch(pc - 4) == SLLI_ZERO
                and fetch(pc + 4) == SRAI_ZERO)

    # ----- memory helpers ----------------------------------------------------------

    def _field(self, block: int, i: int) -> int:
        return int.from_bytes(self.m.read_virt(block + 8 * i, 8), "little")

    def _cstring(self, addr: int, limit: int = 1 << 16) -> bytes:
        out = bytearray()
        while len(out) < limit:
            chunk = self.m.read_virt(addr + len(out), 1)
            if chunk == b"\0":
                break
            out += chunk
        return bytes(out)

    # ----- the call -------------------------------------------------------------------

    def call(self, pc: int) -> None:
        """Serve the call whose ebreak is at ``pc``; resume after it."""
        regs = self.m.regs
        op, arg = regs.a0, regs.a1
        try:
            result = self._dispatch(op, arg)
        except MachineError:
            # A bad pointer from the guest: the call fails, the guest goes on.
            self.errno = EINVAL
            result = -1
        if result is not None:
            regs.a0 = result & MASK64
        self.m.pc = pc + 4

    def _dispatch(self, op: int, arg: int) -> int | None:
        m = self.m
        if op == SYS_WRITEC:
            m.console_write(m.read_virt(arg, 1))
            return None
        if op == SYS_WRITE0:
            m.console_write(self._cstring(arg))
            return None
        if op == SYS_WRITE:
            handle, buf, n = (self._field(arg, i) for i in range(3))
            if handle not in (HANDLE_STDOUT, HANDLE_STDERR):
                self.errno = EBADF
                return n
            m.console_write(m.read_virt(buf, n) if n else b"")
            return 0
        if op == SYS_READ:
            handle, buf, n = (self._field(arg, i) for i in range(3))
            if handle == HANDLE_FEATURES and self.features_pos is not None:
                data = FEATURES[self.features_pos:self.features_pos + n]
                self.features_pos += len(data)
                if data:
                    m.write_virt(buf, data)
                return n - len(data)
            if handle != HANDLE_STDIN:
                self.errno = EBADF
                return -1
            data = bytes(self.stdin[:n])
            del self.stdin[:n]
            if data:
                m.write_virt(buf, data)
            return n - len(data)
        if op == SYS_READC:
            if not self.stdin:
                return -1
            byte = self.stdin[0]
            del self.stdin[0]
            return byte
        if op == SYS_OPEN:
            name_ptr, mode, length = (self._field(arg, i) for i in range(3))
            name = m.read_virt(name_ptr, length) if length else b""
            if name == b":semihosting-features":
                if mode >= 4:  # read modes only ("r", "rb", "r+", "r+b")
                    self.errno = EACCES
                    return -1
                self.features_pos = 0
                return HANDLE_FEATURES
            if name != b":tt":
                self.errno = ENOENT
                return -1
            if mode < 4:
                return HANDLE_STDIN
            return HANDLE_STDOUT if mode < 8 else HANDLE_STDERR
        if op == SYS_CLOSE:
            if self._field(arg, 0) == HANDLE_FEATURES:
                self.features_pos = None
            return 0
        if op == SYS_ISERROR:
            return 1 if self._field(arg, 0) >> 63 else 0
        if op == SYS_ISTTY:
            return 1 if self._field(arg, 0) in (HANDLE_STDIN, HANDLE_STDOUT,
                                                HANDLE_STDERR) else 0
        if op == SYS_SEEK:
            handle, pos = self._field(arg, 0), self._field(arg, 1)
            if handle == HANDLE_FEATURES and self.features_pos is not None \
                    and pos <= len(FEATURES):
                self.features_pos = pos
                return 0
            self.errno = EINVAL
            return -1
        if op == SYS_FLEN:
            if self._field(arg, 0) == HANDLE_FEATURES and self.features_pos is not None:
                return len(FEATURES)
            self.errno = EINVAL
            return -1
        if op == SYS_CLOCK:
            return m.clock() // (memmap.TIMEBASE_FREQ // 100)
        if op == SYS_TIME:
            return EPOCH_SECONDS + m.clock() // memmap.TIMEBASE_FREQ
        if op == SYS_ELAPSED:
            m.write_virt(arg, m.clock().to_bytes(8, "little"))
            return 0
        if op == SYS_TICKFREQ:
            return memmap.TIMEBASE_FREQ
        if op == SYS_ERRNO:
            return self.errno
        if op == SYS_GET_CMDLINE:
            buf, size = self._field(arg, 0), self._field(arg, 1)
            text = self.cmdline.encode()
            if len(text) + 1 > size:
                return -1
            m.write_virt(buf, text + b"\0")
            m.write_virt(arg + 8, len(text).to_bytes(8, "little"))
            return 0
        if op == SYS_HEAPINFO:
            block = self._field(arg, 0)
            m.write_virt(block, bytes(32))
            return 0
        if op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            reason, sub = self._field(arg, 0), self._field(arg, 1)
            # picolibc's exit(n != 0) reports RunTimeErrorUnknown with the
            # code as subcode; QEMU exits with the subcode for it too.
            code = sub & 0xFFFF_FFFF if reason in _EXIT_WITH_SUBCODE else 1
            if code >> 31:
                code -= 1 << 32
            m.request_stop("poweroff", code)
            return 0
        self.errno = EINVAL
        return -1

    # ----- snapshots ---------------------------------------------------------------

    def save(self) -> object:
        """Pending input, errno and the features file's position."""
        return (bytes(self.stdin), self.errno, self.features_pos)

    def restore(self, state: object) -> None:
        """Put back what :meth:`save` returned."""
        data, self.errno, self.features_pos = state  # type: ignore[misc]
        self.stdin = bytearray(data)
