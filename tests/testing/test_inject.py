"""Fault injection (septum.testing.inject) against the real system.

Each primitive's effect is checked where the spec or the kernel says it
shows: a killed or corrupted task faults (the kernel's stop line names the
cause the privileged spec assigns), a flipped bit is flipped, a dropped
UART interrupt leaves the typed line unanswered, a failed disk write makes
the storage server report an error.
"""

from __future__ import annotations

import re

import pytest

from septum.hypervisor import memmap
from septum.testing.inject import InjectError, Injector
from septum.toolchain.riscv import Exc

STOP = re.compile(rb"kernel: task (0x[0-9a-f]+) stopped: cause=(0x[0-9a-f]+) "
                  rb"tval=(0x[0-9a-f]+) pc=(0x[0-9a-f]+)")


def test_kill_task_faults_on_fetch_and_is_restarted(system, console, inject):
    inj = inject.kill_task("attack")
    assert inj.new == 0 and inj.old != 0
    console.sendline("attack peer")
    console.expect(rb"restart", timeout=500)
    m = STOP.search(console.output)
    assert m is not None
    # U-mode fetch from an address its page table does not map.
    assert int(m.group(1), 16) == inject.index("attack")
    assert int(m.group(2), 16) == Exc.INST_PAGE_FAULT
    assert int(m.group(3), 16) == 0


def test_corrupt_instruction_is_illegal(system, console, inject):
    # The shell waits in a CALL to the console: its saved pc is the next
    # instruction it runs once a line is typed.
    inj = inject.corrupt_instruction("shell")
    pa = inj.detail["phys"]
    assert system.machine.read_phys(pa, 4) == b"\0\0\0\0"
    console.sendline("help")
    console.expect(rb"restart", timeout=500)
    m = STOP.search(console.output)
    assert m is not None
    assert int(m.group(1), 16) == inject.index("shell")
    assert int(m.group(2), 16) == Exc.ILLEGAL_INSTRUCTION
    assert int(m.group(4), 16) == inj.address


def test_flip_register_and_memory_are_exact(system, inject):
    before = inject.read_reg("storage", "s1")
    inj = inject.flip_register("storage", "s1", 5)
    assert inject.read_reg("storage", "s1") == before ^ 32 == inj.new
    inj = inject.flip_memory("storage", region="data", bit=3)
    assert system.machine.read_phys(inj.detail["phys"], 1)[0] == inj.old ^ 8


def test_same_seed_same_faults(system):
    def plan(seed):
        inj = Injector(system.machine, system.manifest, seed=seed)
        out = [str(inj.flip_register("shell")), str(inj.flip_memory("shell"))]
        system.restore()
        return out

    assert plan(3) == plan(3)
    assert plan(3) != plan(4)


def test_dropped_uart_interrupt_loses_the_line(system, console, inject):
    inject.drop_irq(memmap.UART0_IRQ)
    console.sendline("help")
    with pytest.raises(AssertionError):
        console.expect(rb"septum> ", timeout=50)
    assert inject.line(memmap.UART0_IRQ).events == ["dropped"]


def test_delayed_uart_interrupt_arrives_late(system, console, inject):
    inject.delay_irq(memmap.UART0_IRQ, ticks=200_000)  # 20 virtual ms
    start = system.machine.clock()
    console.sendline("help")
    console.expect(rb"septum> ", timeout=1000)
    assert system.machine.clock() - start >= 200_000
    assert inject.line(memmap.UART0_IRQ).events[:2] == ["delayed", "delivered"]


def test_failed_disk_write_is_reported(system, console, inject):
    inject.fail_disk_write()
    console.sendline("put k v")
    console.expect(rb"put k v\r?\n(.*)\r?\nseptum> ", timeout=2000)
    assert inject.disk_failures == 1
    # The storage server saw VIRTIO_BLK_S_IOERR and refused the record.
    assert b"I/O error" in console.output.rsplit(b"put k v", 1)[1]
    console.sendline("get k")
    m = console.expect(rb"get k\r?\n(.*?)\r?\n", timeout=2000)
    assert m.group(1) == b"not found"
    # Only the next write failed: the one after it is stored.
    console.sendline("put k w")
    console.expect(rb"put k w\r?\n(.*?)\r?\n", timeout=2000)
    console.sendline("get k")
    assert console.expect(rb"get k\r?\n(.*?)\r?\n", timeout=2000).group(1) == b"w"


def test_bad_requests_are_clear_errors(inject):
    with pytest.raises(InjectError, match="no task named 'nosuch'"):
        inject.kill_task("nosuch")
    with pytest.raises(InjectError, match="no register 'q9'"):
        inject.flip_register("shell", "q9")
    with pytest.raises(InjectError, match="PLIC source 40"):
        inject.drop_irq(40)
