"""Snapshots: CPU + RAM (host copy-on-write, hypervisor/ram.py) + every device +
time + console."""

from __future__ import annotations

from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_elf

# Print a counter forever over the UART, with a timer-driven wfi pause, so
# the CPU, RAM, CLINT and UART all change between snapshots.
TICKER = r"""
.globl _start
_start:
    li s0, 0
    la s2, counter
loop:
    ld t0, 0(s2)
    addi t0, t0, 1
    sd t0, 0(s2)
    andi a0, t0, 7
    addi a0, a0, '0'
    PUTC a0
    li t0, MTIME
    ld t1, 0(t0)
    addi t1, t1, 50
    li t0, MTIMECMP
    sd t1, 0(t0)
    li t0, 0x80
    csrs mie, t0
    wfi
    j loop
.align 3
counter: .dword 0
"""


def test_snapshot_restore_round_trip() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(TICKER)))
    m.run(max_insns=3_000)
    snap = m.snapshot()
    before = (m.instret, m.time, bytes(m.uart_output), m.pc)
    m.run(max_insns=5_000)
    first = (m.instret, m.time, bytes(m.uart_output), m.read_phys(m.symbols["counter"], 8))
    assert first[0] > before[0] and len(first[2]) > len(before[2])
    m.restore(snap)
    assert (m.instret, m.time, bytes(m.uart_output), m.pc) == before
    m.run(max_insns=5_000)
    second = (m.instret, m.time, bytes(m.uart_output), m.read_phys(m.symbols["counter"], 8))
    assert second == first


def test_two_snapshots_restored_in_any_order() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(TICKER)))
    m.run(max_insns=2_000)
    a = m.snapshot()
    out_a = bytes(m.uart_output)
    m.run(max_insns=2_000)
    b = m.snapshot()
    out_b = bytes(m.uart_output)
    counter = m.symbols["counter"]
    ram_b = m.read_phys(counter, 8)
    m.run(max_insns=2_000)
    m.restore(a)
    assert bytes(m.uart_output) == out_a
    m.restore(b)
    assert bytes(m.uart_output) == out_b and m.read_phys(counter, 8) == ram_b
    m.restore(a)
    m.run(max_insns=2_000)
    assert bytes(m.uart_output) == out_b and m.read_phys(counter, 8) == ram_b


def test_reset_reloads_the_image_and_keeps_the_rest_of_ram() -> None:
    """QEMU's system reset: the images are loaded again, other RAM keeps
    its contents, and time runs on."""
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(TICKER)))
    m.run(max_insns=4_000)
    spare = 0x80F0_0000  # far from the image and the device tree
    m.write_phys(spare, b"survives")
    out, before = bytes(m.uart_output), m.instret
    assert m.read_phys(m.symbols["counter"], 8) != bytes(8)
    m.reset()
    assert m.pc == 0x1000 and m.priv == 3
    assert m.read_phys(m.symbols["counter"], 8) == bytes(8)  # .data from the image
    assert m.read_phys(spare, 8) == b"survives"
    assert m.instret == before and bytes(m.uart_output) == out
    m.run(max_insns=4_000)
    assert m.instret == before + 4_000


def test_snapshot_ram_reads_as_the_saved_bytes() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(TICKER)))
    m.run(max_insns=3_000)
    counter = m.symbols["counter"] - 0x8000_0000
    first = m.snapshot()
    saved_first = m.read_phys(0x8000_0000, 0x2000)
    m.run(max_insns=3_000)
    second = m.snapshot()  # pages changed since `first`, beside first's image
    saved_second = m.read_phys(0x8000_0000 + counter, 8)
    m.write_phys(0x8000_0000 + counter, b"\xff" * 8)  # part of neither
    assert len(first.ram) == 16 << 20
    assert first.ram[:0x2000] == saved_first
    assert second.ram[counter:][:8] == saved_second != first.ram[counter:counter + 8]
    assert bytes(second.ram)[counter:counter + 8] == saved_second


def test_second_snapshot_copies_only_the_changed_pages() -> None:
    # The ticker writes its counter and nothing else in RAM (no stack): a
    # snapshot taken after it ran on holds that one page beside the image.
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(TICKER)))
    m.run(max_insns=2_000)
    m.snapshot()
    m.run(max_insns=2_000)
    later = m.snapshot()
    assert later.ram.changed_pages == 1
    assert later.ram.pages.keys() == {(m.symbols["counter"] - 0x8000_0000) >> 12}


def test_restore_discards_host_and_guest_writes_anywhere_in_ram() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(TICKER)))
    m.run(max_insns=2_000)
    snap = m.snapshot()
    top = 0x8000_0000 + (16 << 20) - 0x1000
    before = m.read_phys(top, 16)
    m.write_phys(top, b"scribbled over!!")
    m.write_phys(0x8000_0000, b"\0" * 64)  # the image's first instructions
    m.restore(snap)
    assert m.read_phys(top, 16) == before
    # The code written over and then restored runs as before (no stale
    # translation of the zeros survives the restore).
    m.run(max_insns=2_000)
    assert m.read_phys(m.symbols["counter"], 8) != bytes(8)


def test_snapshot_restores_into_another_machine_of_the_same_size() -> None:
    a = Machine(ram_size=16 << 20)
    a.boot(kernel=str(build_elf(TICKER)))
    a.run(max_insns=3_000)
    snap = a.snapshot()
    a.run(max_insns=3_000)
    expect = (a.instret, bytes(a.uart_output), a.read_phys(a.symbols["counter"], 8))
    b = Machine(ram_size=16 << 20)
    b.boot(kernel=str(build_elf(TICKER)))
    b.restore(snap)
    b.run(max_insns=3_000)
    assert (b.instret, bytes(b.uart_output), b.read_phys(a.symbols["counter"], 8)) == expect
