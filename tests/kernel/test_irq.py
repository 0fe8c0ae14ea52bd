"""Interrupt routing: a PLIC source reaches its owner's notification bit,
stays masked until IRQ_ACK, and is unmasked by it."""

from __future__ import annotations

import re

from septum.hypervisor import memmap
from septum.hypervisor.machine import Machine
from septum.kernel.abi import Tcb
from septum.toolchain.build import build

from .conftest import TASKS, build_kernel, run_qemu
from .ipcbench import symbols

UART_BIT = 1 << memmap.UART0_IRQ
BUDGET = 50_000_000


def _check(out: str) -> None:
    assert "FAIL" not in out, out
    assert "".join(re.findall(r"^got (.*)$", out, re.M)) == "abcd"
    assert "ok irq.ack.notmine" in out and "uart: done" in out
    # TASK_STATUS a1 bit 16 (IRQ_HELD): set at each delivery (uartirq.S
    # checks before every IRQ_ACK), clear after the last acknowledgement.
    assert out.count("ok irq.held") == out.count("got ") >= 1
    assert out.count("ok irq.unheld") == 1


def test_uart_interrupt_under_qemu(tmp_path, fastpath):
    res = build_kernel("uartirq.toml", tmp_path / "u.elf", fastpath=fastpath)
    _check(run_qemu(res.elf, stdin=b"abcd"))


def test_uart_interrupt_masked_until_ack_on_board(tmp_path, fastpath):
    res = build(TASKS / "uartirq.toml", tmp_path / "u.elf", fastpath=fastpath)
    syms = symbols(res.elf)
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(res.elf))
    m.uart_feed(b"ab")
    ctx = memmap.PLIC_CONTEXT_S
    assert m.plic.enable[ctx] & UART_BIT == 0  # not before the kernel routes it
    stop = m.run(max_insns=BUDGET, breakpoints=[syms["before_ack"]])
    assert stop.kind == "breakpoint"
    assert m.plic.enable[ctx] & UART_BIT == 0  # masked: the owner has not acknowledged
    m.uart_feed(b"cd")  # arrives while masked: no second notification yet
    stop = m.run(max_insns=200_000, breakpoints=[syms["after_ack"]])
    assert stop.kind == "breakpoint"
    assert m.uart_output.count(b"got ") == 1
    # IRQ_ACK unmasked the source: the pending "cd" is delivered as a second
    # notification (and masked again until the next IRQ_ACK).
    stop = m.run(max_insns=BUDGET, breakpoints=[syms["before_ack"]])
    assert stop.kind == "breakpoint"
    assert m.uart_output.count(b"got ") == 2
    assert m.plic.enable[ctx] & UART_BIT == 0
    # Interrupt notifications count on the receiving side only (ABI.md).
    assert _ipc_counts(m, syms, 0) == (0, 2)
    stop = m.run(max_insns=BUDGET)
    assert stop.kind == "poweroff" and stop.exit_code == 0
    out = m.uart_output.decode()
    _check(out)
    assert re.findall(r"^got (.*)$", out, re.M) == ["ab", "cd"]


def _ipc_counts(m: Machine, syms: dict[str, int], index: int) -> tuple[int, int]:
    """(SENT, RECEIVED) of task ``index``, from its TCB."""
    tcb = syms["tcbs"] + index * Tcb.SIZE
    return tuple(int.from_bytes(m.read_phys(tcb + off, 8), "little")
                 for off in (Tcb.SENT, Tcb.RECEIVED))
