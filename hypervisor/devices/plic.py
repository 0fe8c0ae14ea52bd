"""The PLIC (SiFive platform-level interrupt controller) of the board.

Register map (QEMU ``virt``: hw/intc/sifive_plic.c with 96 sources, 7
priority levels, hart config "MS": context 0 = hart 0 M-mode, context 1 =
hart 0 S-mode; RISC-V PLIC specification)::

    0x000000 + 4*n        priority[n]     n = 1..95, 0..7 (WARL: value mod 8)
    0x001000 + 4*w        pending[w]      w = 0..2, bit n%32 of source n, RO
    0x002000 + 0x80*c+4*w enable[c][w]    c = 0..1
    0x200000 + 0x1000*c   threshold[c]    0..7 (WARL: value mod 8)
    0x200004 + 0x1000*c   claim/complete[c]

Gateway (level-triggered, as QEMU's sifive_plic): a source is pending while
its line is high and it is not claimed; a claim clears pending and marks the
source claimed; a complete (write of the id to claim/complete) un-marks it,
and if the line is still high the source is pending again.  A context's
interrupt output is high while some source is pending, enabled for it, not
claimed and of priority above the context's threshold; a claim returns the
highest-priority such source (lowest id on ties), or 0.  As in QEMU, a
complete of any id below 96 is accepted whether or not it is enabled.

A line that drops before its claim withdraws the request (pending clears),
as current upstream QEMU does; Debian's QEMU 7.2 (and the PLIC spec's
generic gateway) latch the request until it is claimed, so a driver there
may claim a source that no longer asserts (tests/hypervisor/
test_dev_uart_qemu.py pins this one difference).
"""

from __future__ import annotations

from septum.hypervisor import memmap
from septum.toolchain.riscv import Irq

from .base import R, RW, Device, IrqCallback, IrqLine, Register, extract, merge

NUM_SOURCES = memmap.PLIC_NUM_SOURCES  # includes the non-existent source 0
NUM_PRIORITIES = memmap.PLIC_NUM_PRIORITIES
NUM_CONTEXTS = 2
WORDS = (NUM_SOURCES + 31) // 32

PRIORITY_BASE = 0x0
PENDING_BASE = 0x1000
ENABLE_BASE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT_BASE = 0x200000
CONTEXT_STRIDE = 0x1000
CONTEXT_THRESHOLD = 0x0
CONTEXT_CLAIM = 0x4

#: The hart interrupt each context drives (mip bit numbers).
CONTEXT_IRQ = {memmap.PLIC_CONTEXT_M: Irq.MEI, memmap.PLIC_CONTEXT_S: Irq.SEI}


def _registers() -> tuple[Register, ...]:
    regs = [Register(PRIORITY_BASE + 4 * n, f"priority{n}", 4, RW, 0) for n in range(1, NUM_SOURCES)]
    regs += [Register(PENDING_BASE + 4 * w, f"pending{w}", 4, R, 0) for w in range(WORDS)]
    for ctx in range(NUM_CONTEXTS):
        regs += [Register(ENABLE_BASE + ENABLE_STRIDE * ctx + 4 * w, f"enable{ctx}_{w}", 4, RW, 0)
                 for w in range(WORDS)]
        ctx_base = CONTEXT_BASE + CONTEXT_STRIDE * ctx
        regs.append(Register(ctx_base + CONTEXT_THRESHOLD, f"threshold{ctx}", 4, RW, 0))
        regs.append(Register(ctx_base + CONTEXT_CLAIM, f"claim{ctx}", 4, RW, 0,
                             doc="read: claim; write: complete"))
    return tuple(regs)


class Plic(Device):
    """Interrupt controller for 95 sources and two contexts of hart 0.

    ``on_irq(mip_bit, level)`` receives ``Irq.MEI`` (11) for context 0 and
    ``Irq.SEI`` (9) for context 1 when a context's output changes.  Devices
    connect through ``plic.line(n)``.
    """

    REGISTERS = _registers()
    STATE = ("priority", "levels", "pending", "claimed", "enable", "threshold")

    def __init__(self, on_irq: IrqCallback, *, name: str = "plic",
                 base: int = memmap.PLIC_BASE) -> None:
        super().__init__(name, base, memmap.PLIC_SIZE)
        self.on_irq = on_irq
        self.priority = [0] * NUM_SOURCES
        self.levels = 0  # bit n: input line n is high
        self.pending = 0  # bit n: source n pending
        self.claimed = 0  # bit n: source n claimed, not yet completed
        self.enable = [0] * NUM_CONTEXTS  # bit n: source n enabled for the context
        self.threshold = [0] * NUM_CONTEXTS
        self._outputs: list[bool | None] = [None] * NUM_CONTEXTS
        self.reset()

    # ----- inputs -----------------------------------------------------------

    def line(self, source: int) -> IrqLine:
        """The input wire of ``source`` (1..95) for a device to drive."""
        if not 1 <= source < NUM_SOURCES:
            raise ValueError(f"PLIC source {source} out of range 1..{NUM_SOURCES - 1}")
        return IrqLine(lambda level: self.set_source(source, level))

    def set_source(self, source: int, level: bool) -> None:
        """Drive input ``source`` to ``level`` (the gateway)."""
        bit = 1 << source
        if level:
            self.levels |= bit
            if not self.claimed & bit:
                self.pending |= bit
        else:
            self.levels &= ~bit
            self.pending &= ~bit
        self.update_irq()

    # ----- the selection ----------------------------------------------------

    def best(self, ctx: int) -> int:
        """The source a claim by ``ctx`` would return now (0 if none)."""
        candidates = self.pending & ~self.claimed & self.enable[ctx]
        best, best_prio = 0, self.threshold[ctx]
        while candidates:
            low = candidates & -candidates
            source = low.bit_length() - 1
            candidates ^= low
            if self.priority[source] > best_prio:
                best, best_prio = source, self.priority[source]
        return best

    def claim(self, ctx: int) -> int:
        """Claim for context ``ctx``: the best source, now claimed (or 0)."""
        source = self.best(ctx)
        if source:
            self.pending &= ~(1 << source)
            self.claimed |= 1 << source
        self.update_irq()
        return source

    def complete(self, ctx: int, source: int) -> None:
        """Complete ``source`` for context ``ctx``; ids >= 96 are ignored."""
        if not 0 <= source < NUM_SOURCES:
            return
        bit = 1 << source
        self.claimed &= ~bit
        if self.levels & bit:
            self.pending |= bit
        self.update_irq()

    # ----- registers --------------------------------------------------------

    def _decode(self, reg: Register) -> tuple[str, int, int]:
        """(kind, context or 0, index) of a register from its offset."""
        off = reg.offset
        if off < PENDING_BASE:
            return "priority", 0, off // 4
        if off < ENABLE_BASE:
            return "pending", 0, (off - PENDING_BASE) // 4
        if off < CONTEXT_BASE:
            rel = off - ENABLE_BASE
            return "enable", rel // ENABLE_STRIDE, (rel % ENABLE_STRIDE) // 4
        rel = off - CONTEXT_BASE
        kind = "threshold" if rel % CONTEXT_STRIDE == CONTEXT_THRESHOLD else "claim"
        return kind, rel // CONTEXT_STRIDE, 0

    def _word(self, bits: int, w: int) -> int:
        return (bits >> (32 * w)) & 0xFFFF_FFFF

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        kind, ctx, idx = self._decode(reg)
        if kind == "priority":
            value = self.priority[idx]
        elif kind == "pending":
            value = self._word(self.pending, idx)
        elif kind == "enable":
            value = self._word(self.enable[ctx], idx)
        elif kind == "threshold":
            value = self.threshold[ctx]
        else:
            value = self.claim(ctx)
        return extract(value, rel, size)

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        kind, ctx, idx = self._decode(reg)
        if kind == "priority":
            # NUM_PRIORITIES + 1 is a power of two: the register is WARL, as in QEMU.
            self.priority[idx] = merge(self.priority[idx], rel, size, value) % (NUM_PRIORITIES + 1)
        elif kind == "enable":
            word = merge(self._word(self.enable[ctx], idx), rel, size, value)
            shift = 32 * idx
            self.enable[ctx] = (self.enable[ctx] & ~(0xFFFF_FFFF << shift)) | (word << shift)
            # Sources >= 96 do not exist: their enable bits read as zero.
            self.enable[ctx] &= (1 << NUM_SOURCES) - 1
        elif kind == "threshold":
            self.threshold[ctx] = merge(self.threshold[ctx], rel, size, value) % (NUM_PRIORITIES + 1)
        else:
            self.complete(ctx, merge(0, rel, size, value))
        self.update_irq()

    def reset(self) -> None:
        self.priority = [0] * NUM_SOURCES
        self.claimed = 0
        self.enable = [0] * NUM_CONTEXTS
        self.threshold = [0] * NUM_CONTEXTS
        # Input levels are the devices' business: a device reset lowers its own line.
        self.pending = self.levels
        self.update_irq(force=True)

    # ----- interrupts -------------------------------------------------------

    def output(self, ctx: int) -> bool:
        """The interrupt output of context ``ctx`` (MEIP for 0, SEIP for 1)."""
        return self.best(ctx) != 0

    def update_irq(self, force: bool = False) -> None:
        """Recompute both contexts' outputs; report changes through ``on_irq``."""
        for ctx in range(NUM_CONTEXTS):
            level = self.output(ctx)
            if force or self._outputs[ctx] != level:
                self._outputs[ctx] = level
                self.on_irq(int(CONTEXT_IRQ[ctx]), level)
