"""The Machine API: UART, finisher, budget, stepping, breakpoints, memory,
registers, determinism, hang detection."""

from __future__ import annotations

import pytest

from septum.hypervisor.errors import MachineError
from septum.hypervisor.machine import INSNS_PER_TICK, Machine
from septum.tests.hypervisor.build import ECHO, HELLO, build_elf
from septum.toolchain.riscv import CSR


COUNT = r"""
.globl _start
_start:
    li a0, 0
    li a1, 1000
loop:
    addi a0, a0, 1
    blt a0, a1, loop
done:
    POWEROFF
"""


def boot(src: str, **kw: object) -> Machine:
    m = Machine(ram_size=16 << 20, **kw)  # type: ignore[arg-type]
    m.boot(kernel=str(build_elf(src)))
    return m


def test_hello_over_uart_and_finisher_exit_code() -> None:
    m = boot(HELLO)
    r = m.run(max_insns=100_000)
    assert r.kind == "poweroff" and r.exit_code == 7
    assert bytes(m.uart_output) == b"hello\n"


def test_pass_is_exit_code_zero() -> None:
    r = boot(COUNT).run(max_insns=100_000)
    assert r.kind == "poweroff" and r.exit_code == 0


def test_uart_input_echo() -> None:
    m = boot(ECHO)
    m.uart_feed(b"abc.")
    r = m.run(max_insns=1_000_000)
    assert r.kind == "poweroff"
    assert bytes(m.uart_output) == b"abc."


def test_instruction_count_is_exact() -> None:
    # Entry stub (MROM: 6 instructions) + 2 + 1000 * 2 loop instructions,
    # then the POWEROFF macro (li, li, sw) stops the run at the store.
    m = boot(COUNT)
    r = m.run(max_insns=100_000, breakpoints=[m.symbols["done"]])
    assert r.kind == "breakpoint"
    assert m.instret == 6 + 2 + 2000
    assert m.regs.a0 == 1000


def test_budget_and_resume() -> None:
    m = boot(COUNT)
    r = m.run(max_insns=100)
    assert r.kind == "budget" and m.instret == 100
    r = m.run(max_insns=50)
    assert r.kind == "budget" and m.instret == 150
    assert m.run().kind == "poweroff"


def test_step_executes_one_instruction() -> None:
    m = boot(COUNT)
    assert m.pc == 0x1000
    m.step()
    assert m.instret == 1 and m.pc == 0x1004
    for _ in range(5):
        m.step()
    # The reset stub jumped to the image's entry.
    assert m.pc == m.symbols["_start"]
    assert m.regs.a1 == m.dtb_address
    assert m.regs.a0 == 0


def test_breakpoint_resume_passes_over_it() -> None:
    m = boot(COUNT)
    loop = m.symbols["loop"]
    seen = []
    for _ in range(3):
        r = m.run(max_insns=100_000, breakpoints=[loop])
        assert r.kind == "breakpoint" and r.pc == loop
        seen.append(m.regs.a0)
    assert seen == [0, 1, 2]


def test_breakpoint_after_stepping_off_it_is_hit_again() -> None:
    """Stop at a breakpoint, step without breakpoints, then run with the
    breakpoint set again: its next visit stops (no stale 'resume' skip)."""
    m = boot(COUNT)
    loop = m.symbols["loop"]
    assert m.run(max_insns=100_000, breakpoints=[loop]).kind == "breakpoint"
    m.run(max_insns=1)
    r = m.run(max_insns=100_000, breakpoints=[loop])
    assert r.kind == "breakpoint" and r.pc == loop and m.regs.a0 == 1


def test_determinism_same_counts_and_output() -> None:
    results = []
    for _ in range(2):
        m = boot(ECHO)
        m.uart_feed(b"xyz.")
        r = m.run(max_insns=1_000_000)
        results.append((r.kind, m.instret, m.time, bytes(m.uart_output)))
    assert results[0] == results[1]


def test_virtual_time_follows_instructions() -> None:
    m = boot(COUNT)
    assert m.run(max_insns=1500).kind == "budget"
    assert m.clock() == 1500 // INSNS_PER_TICK
    assert m.time == m.clock()  # mtime starts at 0 at power-on


def test_registers_csrs_and_memory() -> None:
    m = boot(COUNT)
    m.regs.t3 = 0x1234
    assert m.regs["x28"] == 0x1234 and m.regs.t3 == 0x1234
    m.regs.zero = 5
    assert m.regs.x0 == 0
    m.csr_write(CSR.MSCRATCH, 0xABCD)
    assert m.csr_read(CSR.MSCRATCH) == 0xABCD
    m.write_phys(0x8010_0000, b"\x01\x02\x03")
    assert m.read_phys(0x8010_0000, 3) == b"\x01\x02\x03"
    # M-mode: virtual = physical.
    assert m.read_virt(0x8010_0000, 3) == b"\x01\x02\x03"
    with pytest.raises(MachineError):
        m.read_phys(0x4000_0000, 4)
    with pytest.raises(MachineError):
        _ = m.regs["x99"]


def test_read_virt_through_sv39() -> None:
    # Build an Sv39 table by hand: VA 0x4000_0000 (gigapage) -> PA 0x8000_0000.
    m = boot(COUNT)
    root = 0x8040_0000
    m.write_phys(root, bytes(4096))
    pte = (0x80000 << 10) | 0xCF
    m.write_phys(root + 8 * 1, pte.to_bytes(8, "little"))
    m.csr_write(CSR.SATP, (8 << 60) | (root >> 12))
    m.cpu.priv = 1
    first = m.read_phys(0x8000_0000, 8)
    assert m.read_virt(0x4000_0000, 8) == first
    m.write_virt(0x4000_1000, b"virt")
    assert m.read_phys(0x8000_1000, 4) == b"virt"
    with pytest.raises(MachineError, match="not mapped"):
        m.read_virt(0x1_0000_0000, 4)


def test_hang_when_nothing_can_wake_wfi() -> None:
    r = boot(".globl _start\n_start: wfi\nj _start\n").run(max_insns=100_000)
    assert r.kind == "hang" and "wfi" in r.message


@pytest.mark.parametrize("size", [0, 100, -4096])
def test_bad_ram_size(size: int) -> None:
    with pytest.raises(MachineError):
        Machine(ram_size=size)
