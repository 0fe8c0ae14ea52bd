"""CLINT: msip, mtimecmp and mtime (SiFive CLINT / ACLINT spec, QEMU
hw/intc/riscv_aclint.c for the reset state), through 32-bit halves."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from septum.hypervisor import memmap
from septum.hypervisor.devices.clint import Clint
from septum.toolchain.riscv import Irq

MSIP, MTIMECMP, MTIME = memmap.CLINT_MSIP, memmap.CLINT_MTIMECMP, memmap.CLINT_MTIME


class Board:
    """A clock the test moves by hand and a record of mip changes."""

    def __init__(self, start: int = 0) -> None:
        self.now = start
        self.events: list[tuple[int, bool]] = []
        self.mip = {Irq.MSI: False, Irq.MTI: False}
        self.clint = Clint(lambda: self.now, self.on_irq)

    def on_irq(self, bit: int, level: bool) -> None:
        self.events.append((bit, level))
        self.mip[Irq(bit)] = level

    def tick(self, n: int) -> None:
        self.now += n
        self.clint.advance(self.now)


def read64(clint: Clint, off: int) -> int:
    """An 8-byte load as Unicorn delivers it: two 4-byte halves, low first."""
    return clint.read(off, 4) | (clint.read(off + 4, 4) << 32)


def write64(clint: Clint, off: int, value: int) -> None:
    clint.write(off, 4, value & 0xFFFF_FFFF)
    clint.write(off + 4, 4, value >> 32)


def test_reset_state_matches_qemu() -> None:
    b = Board(start=12345)
    # Reset clears mtime (ACLINT spec); QEMU leaves mtimecmp at 0, so MTIP is
    # pending out of reset.
    assert read64(b.clint, MTIME) == 0
    assert read64(b.clint, MTIMECMP) == 0
    assert b.clint.read(MSIP, 4) == 0
    assert b.mip == {Irq.MSI: False, Irq.MTI: True}


def test_mtime_follows_the_virtual_clock() -> None:
    b = Board()
    b.tick(1000)
    assert read64(b.clint, MTIME) == 1000
    assert b.clint.read(MTIME, 8) == 1000


def test_mtip_through_32_bit_halves() -> None:
    b = Board()
    # The RV32-safe sequence: high half to all-ones first, then low, then high.
    b.clint.write(MTIMECMP + 4, 4, 0xFFFF_FFFF)
    assert b.mip[Irq.MTI] is False
    b.clint.write(MTIMECMP, 4, 500)
    b.clint.write(MTIMECMP + 4, 4, 0)
    assert read64(b.clint, MTIMECMP) == 500
    assert b.mip[Irq.MTI] is False
    assert b.clint.next_event() == 500
    b.tick(499)
    assert b.mip[Irq.MTI] is False
    b.tick(1)
    assert b.mip[Irq.MTI] is True  # mtime >= mtimecmp
    assert b.clint.next_event() is None
    write64(b.clint, MTIMECMP, 10_000)  # acknowledging by moving the compare
    assert b.mip[Irq.MTI] is False
    assert b.events[-2:] == [(Irq.MTI, True), (Irq.MTI, False)]


def test_single_eight_byte_access() -> None:
    b = Board()
    b.clint.write(MTIMECMP, 8, 0x1_0000_0000)
    assert b.clint.read(MTIMECMP, 8) == 0x1_0000_0000
    assert b.clint.read(MTIMECMP + 4, 4) == 1


def test_writing_mtime_moves_the_offset() -> None:
    b = Board()
    write64(b.clint, MTIMECMP, 0x2_0000_0000)
    b.tick(10)
    write64(b.clint, MTIME, 0x1_FFFF_FFF0)
    assert read64(b.clint, MTIME) == 0x1_FFFF_FFF0
    b.tick(5)
    assert read64(b.clint, MTIME) == 0x1_FFFF_FFF5
    # next_event is in the clock's domain: 11 more ticks reach mtimecmp.
    assert b.clint.next_event() == b.now + 11
    b.tick(11)
    assert b.mip[Irq.MTI] is True
    # Writing only the low half keeps the high half (QEMU's time_lo write).
    b.clint.write(MTIME, 4, 0)
    assert read64(b.clint, MTIME) == 0x2_0000_0000


def test_msip_bit_zero_only() -> None:
    b = Board()
    b.clint.write(MSIP, 4, 0xFFFF_FFFE)
    assert b.clint.read(MSIP, 4) == 0 and b.mip[Irq.MSI] is False
    b.clint.write(MSIP, 4, 1)
    assert b.clint.read(MSIP, 4) == 1 and b.mip[Irq.MSI] is True
    b.clint.write(MSIP, 4, 0)
    assert b.mip[Irq.MSI] is False
    assert [e for e in b.events if e[0] == Irq.MSI][-2:] == [(Irq.MSI, True), (Irq.MSI, False)]


def test_snapshot_round_trip_reannounces_levels() -> None:
    b = Board()
    write64(b.clint, MTIMECMP, 100)
    b.clint.write(MSIP, 4, 1)
    state = b.clint.save()
    write64(b.clint, MTIMECMP, 0)
    b.clint.write(MSIP, 4, 0)
    b.events.clear()
    b.clint.restore(state)
    assert read64(b.clint, MTIMECMP) == 100 and b.clint.read(MSIP, 4) == 1
    assert sorted(b.events) == [(Irq.MSI, True), (Irq.MTI, False)]


U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=80, derandomize=True, deadline=None)
@given(U64, U64, st.integers(0, 2**40))
def test_mtip_is_mtime_at_or_past_mtimecmp(mtime: int, mtimecmp: int, elapsed: int) -> None:
    b = Board()
    write64(b.clint, MTIME, mtime)
    write64(b.clint, MTIMECMP, mtimecmp)
    assert read64(b.clint, MTIMECMP) == mtimecmp
    b.tick(elapsed)
    now = (mtime + elapsed) % 2**64
    assert read64(b.clint, MTIME) == now
    assert b.mip[Irq.MTI] is (now >= mtimecmp)
