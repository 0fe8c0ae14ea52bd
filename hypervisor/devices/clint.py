"""The CLINT (SiFive core-local interruptor) of the board, one hart.

Register map (QEMU ``virt``: hw/intc/riscv_aclint.c, SiFive CLINT manual)::

    0x0000  msip      4 B  RW  bit 0 = MSIP of hart 0 (machine software interrupt)
    0x4000  mtimecmp  8 B  RW  MTIP = mtime >= mtimecmp
    0xbff8  mtime     8 B  RW  virtual time, 10 MHz

The 64-bit registers work as one 8-byte access or as two 4-byte halves (the
way Unicorn delivers 8-byte accesses to MMIO callbacks, and the way RV32 code
writes them).

``mtime`` is ``clock() + offset``: the machine's virtual clock (ticks of
retired instructions, never the host clock) plus an offset that a guest write
to ``mtime`` changes.

Reset, as QEMU 7.2+ does it: ``mtime`` reads 0 and ``mtimecmp`` is 0 (QEMU
allocates timecmp zeroed and its reset only clears mtime), so MTIP is pending
right after reset until the firmware programs ``mtimecmp``.  The ACLINT spec
leaves ``mtimecmp`` unknown at reset; software must not rely on either.
"""

from __future__ import annotations

from septum.hypervisor import memmap
from septum.toolchain.riscv import Irq

from .base import RW, Clock, Device, Field, IrqCallback, Register, extract, merge

MASK64 = (1 << 64) - 1

#: msip bit 0: the hart's machine software interrupt pending bit.
MSIP_MSIP = 1 << 0


class Clint(Device):
    """Machine timer and software interrupt for hart 0.

    ``on_irq(mip_bit, level)`` is called with ``Irq.MSI`` (3) or ``Irq.MTI``
    (7) when MSIP or MTIP changes (and unconditionally on reset/restore).
    """

    REGISTERS = (
        Register(memmap.CLINT_MSIP, "msip", 4, RW, 0, (Field("MSIP", 0),),
                 "hart 0 machine software interrupt pending"),
        Register(memmap.CLINT_MTIMECMP, "mtimecmp", 8, RW, 0, (),
                 "hart 0 timer compare: MTIP while mtime >= mtimecmp"),
        Register(memmap.CLINT_MTIME, "mtime", 8, RW, 0, (),
                 "the real-time counter, timebase 10 MHz"),
    )
    STATE = ("msip", "mtimecmp", "offset")

    def __init__(self, clock: Clock, on_irq: IrqCallback, *, name: str = "clint",
                 base: int = memmap.CLINT_BASE) -> None:
        super().__init__(name, base, memmap.CLINT_SIZE)
        self.clock = clock
        self.on_irq = on_irq
        self.msip = 0
        self.mtimecmp = 0
        self.offset = 0
        self._levels: dict[int, bool] = {}
        self.reset()

    # ----- time -------------------------------------------------------------

    @property
    def mtime(self) -> int:
        """The current value of ``mtime`` (what the guest and ``rdtime`` see)."""
        return (self.clock() + self.offset) & MASK64

    def set_mtime(self, value: int) -> None:
        """Make ``mtime`` read ``value`` now (it keeps counting from there)."""
        self.offset = (value - self.clock()) & MASK64
        self.update_irq()

    def next_event(self) -> int | None:
        """The virtual clock value at which MTIP will rise, or None when it
        is already pending (the wake-up is due now) or never comes."""
        if self.mtime >= self.mtimecmp:
            return None
        # mtime = clock + offset (mod 2^64): the clock value where mtime reaches mtimecmp.
        return (self.mtimecmp - self.offset) & MASK64

    def advance(self, now: int) -> None:
        """Recompute MTIP for virtual clock ``now`` (the clock callable
        already reads ``now``; nothing else accumulates)."""
        self.update_irq()

    # ----- registers ----------------------------------------------------------

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        if reg.name == "msip":
            return extract(self.msip, rel, size)
        if reg.name == "mtimecmp":
            return extract(self.mtimecmp, rel, size)
        return extract(self.mtime, rel, size)

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        if reg.name == "msip":
            # Only bit 0 exists; the other bits read as zero (WARL).
            self.msip = merge(self.msip, rel, size, value) & MSIP_MSIP
        elif reg.name == "mtimecmp":
            self.mtimecmp = merge(self.mtimecmp, rel, size, value)
        else:
            self.set_mtime(merge(self.mtime, rel, size, value))
        self.update_irq()

    def reset(self) -> None:
        self.msip = 0
        self.mtimecmp = 0
        self.offset = (-self.clock()) & MASK64
        self.update_irq(force=True)

    # ----- interrupts -------------------------------------------------------

    @property
    def mtip(self) -> bool:
        """The machine timer interrupt output."""
        return self.mtime >= self.mtimecmp

    def update_irq(self, force: bool = False) -> None:
        """Recompute MSIP and MTIP; report changes through ``on_irq``."""
        for bit, level in ((Irq.MSI, bool(self.msip & MSIP_MSIP)), (Irq.MTI, self.mtip)):
            if force or self._levels.get(bit) != level:
                self._levels[bit] = level
                self.on_irq(int(bit), level)
