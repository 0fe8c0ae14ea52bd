"""The host link (``septum,hostlink``): a mailbox between the host and one guest task.

The host (Python: :mod:`septum.testing.ipc`) posts a request through
:meth:`Hostlink.post` -- the doorbell, which raises the device's interrupt --
and polls :meth:`Hostlink.reply`; a guest driver (the IPC proxy task,
userland/hostlink/proxy.S) reads the request from the registers, acts on
it, writes the reply registers and then ``DONE``, which completes the
request and lowers the interrupt.  The request and reply fields are those
of a kernel CALL (kernel/ABI.md): a server id, four message words and one
bulk buffer that carries the request in and the reply out.

It sits where QEMU's ``virt`` puts dynamic sysbus devices, at the start of
the platform bus (0x0400_0000, PLIC sources 64..95), so it never collides
with a device QEMU's board has.

Register map (byte offsets; 8-byte registers are little-endian and may be
accessed as two 4-byte halves)::

    0x000  MAGIC         R  4  0x6b6e6c68 ("hlnk")
    0x004  VERSION       R  4  1
    0x008  STATUS        R  4  bit 0 REQ_PENDING: a request waits for DONE
    0x00c  SEQ           R  4  sequence number of the last request (1, 2, ...)
    0x010  DONE          W  4  write SEQ: the reply is complete (REQ_PENDING
                               and the interrupt drop); any other value, or
                               no request pending, is ignored
    0x018  SERVER        R  8  the server's task id (a0 of the CALL)
    0x020  REQ_LEN       R  8  request bytes in BUF
    0x028  BUF_LEN       R  8  the CALL's buffer length (>= REQ_LEN): what
                               the reply may fill
    0x030  REQ_WORD0..3  R  8  message words (a2..a5), at 0x30 + 8*i
    0x050  REPLY_STATUS  RW 8  the CALL's a0
    0x058  REPLY_LEN     RW 8  its a1: reply bytes written into BUF
    0x060  REPLY_WORD0..3 RW 8 its a2..a5, at 0x60 + 8*i
    0x800  BUF           RW    BUF_SIZE (2 KiB) bytes, both ways

The interrupt line is high exactly while ``STATUS.REQ_PENDING`` is set
(level-triggered): a driver restarted mid-request sees it again as soon as
it unmasks the source.  ``DONE`` carries the sequence number so that a late
answer to a request the host gave up on (:meth:`Hostlink.cancel`) can never
complete a newer one.
"""

from __future__ import annotations

from dataclasses import dataclass

from septum.hypervisor import memmap
from septum.toolchain.errors import SeptumError

from .base import R, RW, W, Device, Field, IrqLine, Register, extract, merge

HOSTLINK_MAGIC = 0x6B6E_6C68  # "hlnk" in memory order
HOSTLINK_VERSION = 1

HOSTLINK_MAGIC_REG = 0x000
HOSTLINK_VERSION_REG = 0x004
HOSTLINK_STATUS = 0x008
HOSTLINK_SEQ = 0x00C
HOSTLINK_DONE = 0x010
HOSTLINK_SERVER = 0x018
HOSTLINK_REQ_LEN = 0x020
HOSTLINK_BUF_LEN = 0x028
HOSTLINK_REQ_WORD0 = 0x030
HOSTLINK_REPLY_STATUS = 0x050
HOSTLINK_REPLY_LEN = 0x058
HOSTLINK_REPLY_WORD0 = 0x060
HOSTLINK_BUF = 0x800

#: STATUS bit: a request has been posted and not yet completed by DONE.
STATUS_REQ_PENDING = 1 << 0
#: Message words per request and per reply (a2..a5 of a CALL).
WORDS = 4
#: The bulk buffer's size: the most a request or a reply may carry.
BUF_SIZE = 0x800

MASK64 = (1 << 64) - 1


class HostlinkError(SeptumError):
    """A request the host link cannot take (busy, too big)."""


@dataclass(frozen=True)
class HostlinkReply:
    """What the guest wrote back for one request: ``status`` (a0),
    ``length`` (a1), ``words`` (a2..a5) and ``data`` (the first
    ``length`` bytes of BUF, at most the request's buffer length)."""

    seq: int
    status: int
    length: int
    words: tuple[int, int, int, int]
    data: bytes


def _word_regs(base: int, prefix: str, access: str, doc: str) -> tuple[Register, ...]:
    return tuple(Register(base + 8 * i, f"{prefix}{i}", 8, access, 0, (), f"{doc} a{2 + i}")
                 for i in range(WORDS))


class Hostlink(Device):
    """The host-link mailbox (see the module docstring)."""

    REGISTERS = (
        Register(HOSTLINK_MAGIC_REG, "MAGIC", 4, R, HOSTLINK_MAGIC, (), '"hlnk"'),
        Register(HOSTLINK_VERSION_REG, "VERSION", 4, R, HOSTLINK_VERSION),
        Register(HOSTLINK_STATUS, "STATUS", 4, R, 0, (Field("REQ_PENDING", 0),)),
        Register(HOSTLINK_SEQ, "SEQ", 4, R, 0, (), "sequence number of the last request"),
        Register(HOSTLINK_DONE, "DONE", 4, W, 0, (), "write SEQ: reply complete"),
        Register(HOSTLINK_SERVER, "SERVER", 8, R, 0, (), "server id (CALL a0)"),
        Register(HOSTLINK_REQ_LEN, "REQ_LEN", 8, R, 0, (), "request bytes in BUF"),
        Register(HOSTLINK_BUF_LEN, "BUF_LEN", 8, R, 0, (), "CALL buffer length (a6)"),
        *_word_regs(HOSTLINK_REQ_WORD0, "REQ_WORD", R, "request"),
        Register(HOSTLINK_REPLY_STATUS, "REPLY_STATUS", 8, RW, 0, (), "CALL a0"),
        Register(HOSTLINK_REPLY_LEN, "REPLY_LEN", 8, RW, 0, (), "CALL a1"),
        *_word_regs(HOSTLINK_REPLY_WORD0, "REPLY_WORD", RW, "reply"),
        Register(HOSTLINK_BUF, "BUF", BUF_SIZE, RW, 0, (), "bulk buffer, both ways"),
    )
    STATE = ("seq", "pending", "completed", "server", "req_len", "buf_len", "req_words",
             "reply_status", "reply_len", "reply_words", "buf", "served")

    def __init__(self, irq: IrqLine, *, name: str = "hostlink",
                 base: int = memmap.HOSTLINK_BASE) -> None:
        super().__init__(name, base, memmap.HOSTLINK_SIZE)
        self.irq = irq
        self._level: bool | None = None
        self.reset()

    # ----- the host's side ----------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a posted request waits for the guest's DONE."""
        return bool(self.pending)

    def post(self, server: int, words: tuple[int, ...] | list[int] = (), data: bytes = b"",
             buflen: int | None = None) -> int:
        """Ring the doorbell: a request to ``server`` (a task id) with up to
        four ``words`` and ``data`` in a buffer of ``buflen`` bytes (default
        ``len(data)``).  Clears the reply registers, raises the interrupt and
        returns the request's sequence number.  Raises :class:`HostlinkError`
        when a request is still pending or the sizes do not fit."""
        if self.pending:
            raise HostlinkError(f"{self.name}: request {self.seq} is still pending "
                                "(wait for its reply or cancel it)")
        if len(words) > WORDS:
            raise HostlinkError(f"{self.name}: {len(words)} message words; a request "
                                f"carries at most {WORDS}")
        size = len(data) if buflen is None else buflen
        if not 0 <= size <= BUF_SIZE or len(data) > size:
            raise HostlinkError(f"{self.name}: a buffer of {size} bytes for {len(data)} "
                                f"bytes of data (the device's buffer holds {BUF_SIZE})")
        self.seq = (self.seq + 1) & 0xFFFF_FFFF or 1
        self.server = server & MASK64
        self.req_words = [w & MASK64 for w in words] + [0] * (WORDS - len(words))
        self.req_len = len(data)
        self.buf_len = size
        self.buf[:] = bytes(BUF_SIZE)
        self.buf[:len(data)] = data
        self.reply_status = 0
        self.reply_len = 0
        self.reply_words = [0] * WORDS
        self.pending = 1
        self.update_irq()
        return self.seq

    def reply(self) -> HostlinkReply | None:
        """The reply to the last request once the guest has written DONE,
        or None while it is pending (or when nothing was ever posted)."""
        if self.pending or self.completed != self.seq or not self.seq:
            return None
        n = min(self.reply_len, self.buf_len)
        return HostlinkReply(self.seq, self.reply_status, self.reply_len,
                             tuple(self.reply_words), bytes(self.buf[:n]))  # type: ignore[arg-type]

    def cancel(self) -> None:
        """Withdraw a pending request (the host gave up on it): the
        interrupt drops, and a DONE for it that comes later is ignored."""
        self.pending = 0
        self.update_irq()

    # ----- the guest's side ---------------------------------------------------

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        off = reg.offset
        if off == HOSTLINK_BUF:
            return int.from_bytes(self.buf[rel:rel + size], "little")
        if off == HOSTLINK_STATUS:
            value = STATUS_REQ_PENDING if self.pending else 0
        elif off == HOSTLINK_SEQ:
            value = self.seq
        elif off == HOSTLINK_SERVER:
            value = self.server
        elif off == HOSTLINK_REQ_LEN:
            value = self.req_len
        elif off == HOSTLINK_BUF_LEN:
            value = self.buf_len
        elif HOSTLINK_REQ_WORD0 <= off < HOSTLINK_REQ_WORD0 + 8 * WORDS:
            value = self.req_words[(off - HOSTLINK_REQ_WORD0) // 8]
        elif off == HOSTLINK_REPLY_STATUS:
            value = self.reply_status
        elif off == HOSTLINK_REPLY_LEN:
            value = self.reply_len
        elif HOSTLINK_REPLY_WORD0 <= off < HOSTLINK_REPLY_WORD0 + 8 * WORDS:
            value = self.reply_words[(off - HOSTLINK_REPLY_WORD0) // 8]
        else:  # MAGIC, VERSION: constants
            value = reg.reset
        return extract(value, rel, size)

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        off = reg.offset
        if off == HOSTLINK_BUF:
            self.buf[rel:rel + size] = value.to_bytes(size, "little")
        elif off == HOSTLINK_DONE:
            if self.pending and merge(0, rel, size, value) == self.seq:
                self.pending = 0
                self.completed = self.seq
                self.served += 1
        elif off == HOSTLINK_REPLY_STATUS:
            self.reply_status = merge(self.reply_status, rel, size, value)
        elif off == HOSTLINK_REPLY_LEN:
            self.reply_len = merge(self.reply_len, rel, size, value)
        else:  # REPLY_WORDn
            i = (off - HOSTLINK_REPLY_WORD0) // 8
            self.reply_words[i] = merge(self.reply_words[i], rel, size, value)
        self.update_irq()

    def reset(self) -> None:
        """Power-on state: nothing posted, every register 0 but MAGIC and
        VERSION, the interrupt low."""
        self.seq = 0
        self.pending = 0
        self.completed = 0
        self.served = 0
        self.server = 0
        self.req_len = 0
        self.buf_len = 0
        self.req_words = [0] * WORDS
        self.reply_status = 0
        self.reply_len = 0
        self.reply_words = [0] * WORDS
        self.buf = bytearray(BUF_SIZE)
        self.update_irq(force=True)

    # ----- interrupts ---------------------------------------------------------

    def update_irq(self, force: bool = False) -> None:
        """IRQ = a request is pending (STATUS.REQ_PENDING)."""
        level = bool(self.pending)
        if force or level != self._level:
            self._level = level
            self.irq.set(level)
