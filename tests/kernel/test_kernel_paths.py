"""Kernel paths the other kernel tests leave aside, exercised for real.

* A bulk message longer than the receiver's buffer is cut to the buffer
  (ABI.md, RECV: a6 = bytes copied, a7 = the sender's length), and a server
  answers with REPLY_RECV while naming a receive buffer: both checked
  against the reference model (kernel/model.py), fast path on and off.
* An external interrupt reaches its owner when it comes while the kernel
  idles (the idle loop polls ``sip.SEIP``) and when it interrupts a task
  running in U-mode (the trap path routes ``scause`` = supervisor external
  interrupt).
* A trap taken in S-mode is a kernel bug: the kernel reports ``scause``,
  ``sepc`` and ``stval`` and powers the board off with a failure.  The
  fault is injected by pointing one system-call table entry at an address
  no page table maps.

tests/hypervisor/test_coverage.py runs every scenario here under coverage:
they are what lifts the kernel's line coverage over 90%.
"""

from __future__ import annotations

from pathlib import Path

from septum.hypervisor.machine import Machine
from septum.kernel.abi import RecvMode, Sys, task_id
from septum.toolchain.build import build
from septum.toolchain.riscv import CSR, Exc, Irq, Mstatus

from .conftest import TASKS
from .ipcbench import symbols
from .test_model import F_BUFREL, F_LAST_SENDER, _check_against_model, _write

BUDGET = 50_000_000
#: An address below the kernel, the task slots and every device window:
#: mapped by no page table.
UNMAPPED = 0x1000
#: ``scause`` bit 63: the trap is an interrupt.
INTERRUPT = 1 << 63
SPIN = """\
    .text
    .globl _start
_start:
1:  j       1b
"""
YIELDER = """\
    .include "abi.inc"
    .text
    .globl _start
_start:
    li      a7, SYS_YIELD
    ecall
    j       _start
"""


def _boot(elf: Path) -> Machine:
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(elf))
    return m


def _manifest(tmp: Path, text: str) -> Path:
    path = tmp / "system.toml"
    path.write_text(text)
    return path


# ----- bulk truncation and REPLY_RECV with a receive buffer --------------------------


def test_bulk_message_cut_to_the_receive_buffer(tmp_path, fastpath):
    """t0 calls t1 twice with 48 bytes; t1 receives into 16 bytes, then
    answers with REPLY_RECV naming a 24-byte receive buffer, then REPLY."""
    sysdesc = [{"prio": 1, "client": True, "calls": [1], "notifies": []},
               {"prio": 2, "client": False, "calls": [], "notifies": []}]
    server = task_id(1, 0)
    call = (F_BUFREL, Sys.CALL, server, 0, 1, 2, 3, 4, 48)
    scripts = [[call, call],
               [(F_BUFREL, Sys.RECV, RecvMode.OPEN, 8, 0, 0, 0, 0, 16),
                (F_LAST_SENDER | F_BUFREL, Sys.REPLY_RECV, 0, 64, 5, 6, 7, 8, 24),
                (F_LAST_SENDER, Sys.REPLY, 0, 0, 9, 9, 9, 9, 0)]]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    first, second = model.tasks[1].results[:2]
    # a0 = RECV_MESSAGE (0), a6 = bytes copied, a7 = the sender's length.
    assert (first.regs[0], first.regs[6], first.regs[7]) == (0, 16, 48)
    assert (second.regs[0], second.regs[6], second.regs[7]) == (0, 24, 48)
    # The client got both replies' words.
    assert [list(r.regs[2:6]) for r in model.tasks[0].results] == [[5, 6, 7, 8], [9, 9, 9, 9]]


# ----- external interrupts -------------------------------------------------------------


def _uart_system(tmp: Path, fastpath: bool, spinner: bool) -> Path:
    """uartirq.toml, with (``spinner``) a task that never stops running."""
    text = (f'[tasks.uart]\nsource = ["{TASKS / "uartirq.S"}", "{TASKS / "rt.S"}"]\n'
            'priority = 1\nsupervisor = true\ndevices = ["uart0"]\n'
            'interrupts = { uart0 = 3 }\n\n')
    if spinner:
        (tmp / "spin.S").write_text(SPIN)
        text += '[tasks.spin]\nsource = "spin.S"\npriority = 5\n\n'
    text += f'[tasks.idle]\nsource = "{TASKS / "idle.S"}"\npriority = 7\n'
    return build(_manifest(tmp, text), tmp / "uart.elf", fastpath=fastpath).elf


def _finish_uart(m: Machine) -> None:
    stop = m.run(max_insns=BUDGET)
    assert stop.kind == "poweroff" and stop.exit_code == 0, stop
    out = m.uart_output.decode()
    assert "got abcd\n" in out and "uart: done" in out and "FAIL" not in out, out


def test_interrupt_while_the_kernel_idles(tmp_path, fastpath):
    elf = _uart_system(tmp_path, fastpath, spinner=False)
    syms = symbols(elf)
    m = _boot(elf)
    # Every task waits: the kernel reaches its idle loop.
    assert m.run(max_insns=BUDGET, breakpoints=[syms["idle"]]).kind == "breakpoint"
    m.uart_feed(b"abcd")
    stop = m.run(max_insns=BUDGET, breakpoints=[syms["external_handle"]])
    assert stop.kind == "breakpoint"
    # Called from the idle loop (ra just after its call), in S-mode.
    assert syms["idle"] < m.regs.ra < syms["idle"] + 0x40
    assert m.priv == 1
    _finish_uart(m)


def test_interrupt_while_a_task_runs(tmp_path, fastpath):
    elf = _uart_system(tmp_path, fastpath, spinner=True)
    syms = symbols(elf)
    m = _boot(elf)
    # The uart task waits for its interrupt; the spinner holds the CPU.
    assert m.run(max_insns=300_000).kind == "budget"
    assert m.priv == 0
    m.uart_feed(b"abcd")
    stop = m.run(max_insns=BUDGET, breakpoints=[syms["external_handle"]])
    assert stop.kind == "breakpoint"
    # The trap path routes it: an interrupt, the supervisor external one,
    # taken from U-mode (sstatus.SPP = 0).
    assert m.csr_read(CSR.SCAUSE) == INTERRUPT | Irq.SEI
    assert m.csr_read(CSR.SSTATUS) & Mstatus.SPP == 0
    _finish_uart(m)


# ----- kernel panic ----------------------------------------------------------------------


def test_trap_in_the_kernel_panics(tmp_path, fastpath):
    (tmp_path / "yield.S").write_text(YIELDER)
    elf = build(_manifest(tmp_path, '[tasks.yielder]\nsource = "yield.S"\npriority = 1\n'
                          'supervisor = true\n'), tmp_path / "panic.elf", fastpath=fastpath).elf
    table = symbols(elf)["syscall_table"]
    m = _boot(elf)
    # The kernel's YIELD handler now lies where nothing is mapped: its
    # dispatch jumps there in S-mode, an instruction page fault.
    m.write_phys(table + 8 * Sys.YIELD, UNMAPPED.to_bytes(8, "little"))
    stop = m.run(max_insns=BUDGET)
    assert stop.kind == "poweroff" and stop.exit_code != 0, stop
    out = m.uart_output.decode()
    want = (f"kernel panic: scause={Exc.INST_PAGE_FAULT:#x} sepc={UNMAPPED:#x} "
            f"stval={UNMAPPED:#x}\n")
    assert want in out, out
