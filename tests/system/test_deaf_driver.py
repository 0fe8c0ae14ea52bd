"""The supervisor's deaf-driver rule (userland/supervisor/supervisor.S,
check_deaf): a watched task seen blocked in a RECV while one of its
interrupt sources was delivered and is still masked awaiting its IRQ_ACK
(TASK_STATUS ``a1`` bit 16, kernel/ABI.md) at MISSES heartbeats in a row
is failed, restarted, and hears its device again.

The positives are campaign fault 8223 of seed 0 made directly: the
console's ``call watch_bits`` after the RECV in lib/watch.S's watch_recv
made ``li a0, 0`` (every notification swallowed: the UART's is never
drained nor acknowledged, the kernel keeps the source masked), and the
ecall of the console's sys_irq_ack made ``li a0, 0`` (it drains but never
acknowledges).  Either way the console still answers every call
(CONS_WAIT) and is blocked in IPC: healthy by every other rule.  The
negatives (idle, typing, puts, host-link calls) are in
tests/system/test_watchdog_rules.py, whose failure pattern includes this
rule's cause.
"""

from __future__ import annotations

import re

from septum.hypervisor import memmap
from septum.kernel.abi import RegionPerm, TaskState, Tcb
from septum.userland import supervision

DEAF = r"supervisor: {} faulted: cause=deaf to its interrupt \((\d+) heartbeats\)"
FAILED = re.compile(rb"supervisor: \w+ faulted: cause=[^\r\n]*")
LI_A0_0 = (10 << 7) | 0x13  # addi a0, zero, 0
ECALL = 0x73
C_LI_A7 = (0b010 << 13) | (17 << 7) | 0b01  # c.li a7, imm (imm in bits 6:2)
SYS_IRQ_ACK = 5  # kernel/ABI.md: IRQ_ACK -- 5
AUIPC_RA = (1 << 7) | 0x17  # auipc ra, _ (rd = 1, opcode AUIPC)
JALR_RA_RA = (1 << 15) | (1 << 7) | 0x67  # jalr ra, _(ra) (rs1 = rd = 1, funct3 0)


def _idle(m) -> None:
    stop = m.run(until=lambda: m.in_wfi)
    assert stop.kind == "until", stop


def _state(m, inject, task: str) -> TaskState:
    raw = m.read_phys(inject.tcb(task) + Tcb.STATE, 8)
    return TaskState(int.from_bytes(raw, "little") & 0xFF)


def _failures(console) -> list[bytes]:
    return [mt.group(0) for mt in FAILED.finditer(console.output)]


def _word(m, inject, task: str, va: int, n: int = 4) -> int:
    return int.from_bytes(m.read_phys(inject.task_phys(task, va), n), "little")


def _watch_bits_call(m, inject) -> int:
    """The ``jalr`` of ``call watch_bits`` (auipc ra + jalr ra) after the
    console's RECV: its saved pc (after the ecall) is followed by ``li t0,
    RECV_NOTIFICATION``, ``bne`` and ``mv a0, a1``, then the call."""
    pc = inject.read_reg("console", "pc")
    assert _word(m, inject, "console", pc - 4) == ECALL
    for off in range(0, 16, 2):
        w = _word(m, inject, "console", pc + off)
        nxt = _word(m, inject, "console", pc + off + 4)
        if w & 0xFFF == AUIPC_RA and nxt & 0xFFFFF == JALR_RA_RA:
            return pc + off + 4
    raise AssertionError("no call after the console's RECV")


def _irq_ack_ecall(m, inject) -> int:
    """The ecall of lib/sys.S's sys_irq_ack in the console's text: the one
    ``c.li a7, 5`` followed by ``ecall``."""
    hits = []
    for base, size, perm in inject.regions("console"):
        if not perm & RegionPerm.X:
            continue
        data = m.read_phys(inject.task_phys("console", base), size)
        hits += [base + i + 2 for i in range(0, size - 5, 2)
                 if int.from_bytes(data[i:i + 2], "little") == C_LI_A7 | SYS_IRQ_ACK << 2
                 and int.from_bytes(data[i + 2:i + 6], "little") == ECALL]
    assert len(hits) == 1, [hex(h) for h in hits]
    return hits[0]


def _uart_enabled(m) -> bool:
    return bool(m.plic.enable[memmap.PLIC_CONTEXT_S] & 1 << memmap.UART0_IRQ)


def _expect_deaf_console(system, console, inject, start: int) -> None:
    m = system.machine
    got = console.expect(DEAF.format("console"), timeout=1000)
    assert int(got.group(1)) == supervision.MISSES
    # Seen held at MISSES heartbeats in a row: within MISSES + 1 periods of
    # the swallowed interrupt.
    assert m.clock() - start <= (supervision.MISSES + 1) * supervision.HEARTBEAT
    assert _state(m, inject, "console") == TaskState.STOPPED
    # What TASK_STATUS bit 16 reads: the UART's source masked (S context).
    assert not _uart_enabled(m)
    console.expect("supervisor: restarting console in 10 ms")
    console.expect("supervisor: restarted console")


def test_console_swallowing_its_interrupt_is_restarted(system, console, inject):
    m = system.machine
    _idle(m)  # the console waits in watch_recv's RECV
    va = _watch_bits_call(m, inject)
    inject.corrupt_instruction("console", va, LI_A0_0)
    start = m.clock()
    console.sendline("uptime")
    _expect_deaf_console(system, console, inject, start)
    # The restarted console (its code restored) drains what was typed and
    # acknowledges: the shell's line is answered, and the next one too.
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    console.expect("septum> ")
    console.sendline("put deaf ear")
    console.expect("ok")
    console.sendline("get deaf")
    console.expect("\near")
    assert _uart_enabled(m)  # the new incarnation acknowledged at its start
    assert _failures(console) == [b"supervisor: console faulted: cause=deaf to its interrupt "
                                  b"(2 heartbeats)"]


def test_console_that_never_acks_is_restarted(system, console, inject):
    m = system.machine
    _idle(m)
    va = _irq_ack_ecall(m, inject)
    inject.corrupt_instruction("console", va, LI_A0_0)
    start = m.clock()
    # The first line is drained and answered; the UART stays masked after it.
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    console.expect("septum> ")
    _expect_deaf_console(system, console, inject, start)
    console.sendline("get nothing")
    console.expect("septum> ")
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    assert len(_failures(console)) == 1


def test_held_interrupt_alone_fails_nobody_while_the_driver_runs(system, console, inject):
    """Typing while the console is busy writing (it runs between delivery
    and IRQ_ACK, or acks before its next RECV): a burst of lines, each
    echoed and answered, and idle heartbeats after it."""
    m = system.machine
    for k in range(5):
        console.sendline(f"put k{k} " + "v" * 60)
        console.expect("ok")
    start = m.clock()
    stop = m.run(until=lambda: m.clock() >= start + (supervision.MISSES + 2)
                 * supervision.HEARTBEAT)
    assert stop.kind == "until", stop
    assert _failures(console) == []
    assert _state(m, inject, "console") in (TaskState.RECV_WAIT, TaskState.NOTIFY_WAIT)
