"""Peripheral access log (hypervisor/mmiolog.py): device, register, value,
direction and the pc of the accessing instruction, measured against the
guest's own symbols (accesses in the middle of a translated block)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from septum.hypervisor import memmap
from septum.hypervisor.machine import Machine
from septum.hypervisor.mmiolog import MmioLog
from septum.tests.bench import bareguest

GUEST = f"""\
    .option norvc
    .text
    .globl _start
_start:
    li      t0, {memmap.UART0_BASE:#x}
    li      t1, 0x41
    addi    a0, zero, 1
    addi    a0, a0, 1
    .globl st1
st1:
    sb      t1, 0(t0)
    addi    a0, a0, 1
    .globl ld1
ld1:
    lbu     a1, 5(t0)
    addi    a0, a0, 1
    .globl undef
undef:
    sb      t1, 0x80(t0)
    .globl st2
st2:
    sb      t1, 0(t0)
    j       done
"""


@pytest.fixture(scope="module")
def guest(tmp_path_factory) -> bareguest.Guest:
    return bareguest.build(GUEST, tmp_path_factory.mktemp("mmio") / "mmio.elf")


def test_log_names_register_value_direction_and_pc(guest):
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(guest.elf))
    stream = io.StringIO()
    log = MmioLog(m, stream, keep=True).start()
    assert m.run().kind == "poweroff"
    log.stop()
    recs = [(r.access.device, r.access.register, r.access.is_write, r.access.value, r.pc)
            for r in log.records]
    assert recs[0] == ("uart0", "THR", True, 0x41, guest.addr("st1"))
    assert recs[1][:3] == ("uart0", "LSR", False) and recs[1][4] == guest.addr("ld1")
    # LSR after reset with an idle transmitter: THRE and TEMT (16550 datasheet).
    assert recs[1][3] & 0x60 == 0x60
    assert recs[2] == ("uart0", None, True, 0x41, guest.addr("undef"))
    assert recs[3] == ("uart0", "THR", True, 0x41, guest.addr("st2"))
    assert recs[4][:3] == ("test", recs[4][1], True) and recs[4][3] == 0x5555
    lines = stream.getvalue().splitlines()
    # Virtual time: the 6-instruction MROM stub and 4 instructions of _start
    # ran before the store, at 10 instructions per mtime tick (machine.py).
    assert lines[0] == f"t={(6 + 4) // 10} pc={guest.addr('st1'):#x} W uart0.THR+0x0/1 = 0x41"
    assert "uart0.?+0x80/1" in lines[2]


def test_stop_removes_observers(guest):
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(guest.elf))
    log = MmioLog(m, keep=True).start()
    log.stop()
    m.run()
    assert log.records == [] and all(d.observer is None for d in m.devices)
