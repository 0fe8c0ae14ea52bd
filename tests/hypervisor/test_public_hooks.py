"""The board's public hooks for fault injectors (issue 3): the event list
(``Machine.add_timed``/``remove_timed``), ``Machine.in_wfi``,
``Machine.disk``, ``Machine.discard_code`` and virtio-blk's
``request_hook``."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum.hypervisor.errors import MachineError
from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_elf
from septum.tests.hypervisor.test_dev_virtio_blk import (
    PATTERN, S_IOERR, S_OK, T_IN, T_OUT, make,
)

SPIN = ".option norvc\n.globl _start\n_start:\n    addi a0, a0, 1\n    j _start\n"

# wfi with only the machine timer enabled, 1000 ticks ahead; then power off.
WFI_ONCE = r"""
.globl _start
_start:
    li t0, MTIME
    ld t1, 0(t0)
    addi t1, t1, 1000
    li t0, MTIMECMP
    sd t1, 0(t0)
    li t0, 0x80
    csrs mie, t0
halt:
    wfi
after:
    POWEROFF
"""


class Alarm:
    """A timed pseudo-device: records the times it is advanced to, and has
    one event at tick ``at``."""

    def __init__(self, at: int) -> None:
        self.at: int | None = at
        self.seen: list[int] = []

    def advance(self, now: int) -> None:
        self.seen.append(now)
        if self.at is not None and now >= self.at:
            self.at = None

    def next_event(self) -> int | None:
        return self.at


def test_timed_device_ends_a_slice_exactly_at_its_event() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(SPIN)))
    m.run(max_insns=100)
    at = m.clock() + 123
    alarm = Alarm(at)
    m.add_timed(alarm)
    m.add_timed(alarm)  # once only
    m.run(max_insns=5_000)
    assert at in alarm.seen and alarm.at is None
    # Slices end where the event is due: the device saw that exact tick.
    assert alarm.seen.count(at) == 1
    m.remove_timed(alarm)
    n = len(alarm.seen)
    m.run(max_insns=5_000)
    assert len(alarm.seen) == n


def test_board_timers_cannot_be_removed() -> None:
    m = Machine(ram_size=16 << 20)
    with pytest.raises(MachineError):
        m.remove_timed(m.clint)


def test_wfi_fast_forwards_to_a_timed_device_event() -> None:
    # Nothing but the CLINT compare (1000 ticks ahead) would wake the hart;
    # an injector's event at +300 ticks is reached first, at its exact time.
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(WFI_ONCE)))
    r = m.run(max_insns=10_000, breakpoints=[m.symbols["halt"]])
    assert r.kind == "breakpoint"
    start = m.clock()
    alarm = Alarm(start + 300)
    m.add_timed(alarm)
    r = m.run(max_insns=100_000)
    assert r.kind == "poweroff" and m.clock() >= m.clint.mtimecmp > start + 300
    assert alarm.at is None and start + 300 in alarm.seen


def test_in_wfi_tells_an_idle_hart_from_a_busy_one() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(WFI_ONCE)))
    r = m.run(max_insns=10_000, breakpoints=[m.symbols["halt"]])
    assert r.kind == "breakpoint" and not m.in_wfi
    m.step()  # executes the wfi: the hart halts with the PC after it
    assert m.pc == m.symbols["after"] and m.in_wfi
    busy = Machine(ram_size=16 << 20)
    busy.boot(kernel=str(build_elf(SPIN)))
    busy.run(max_insns=1_000)
    assert not busy.in_wfi


def test_disk_property(tmp_path: Path) -> None:
    assert Machine(ram_size=16 << 20).disk is None
    img = tmp_path / "d.img"
    img.write_bytes(bytes(4096))
    m = Machine(ram_size=16 << 20, disk=str(img))
    assert m.disk is not None and m.disk.capacity == 8
    m.close()


def test_request_hook_fails_writes_and_nothing_reaches_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(PATTERN)
    dev, drv = make(path)
    drv.init()
    seen: list[tuple[int, int, int]] = []

    def hook(rtype: int, sector: int, nbytes: int) -> int | None:
        seen.append((rtype, sector, nbytes))
        return S_IOERR if rtype == T_OUT else None

    dev.request_hook = hook
    status, _, _ = drv.request(T_OUT, 2, data_out=b"\xaa" * 512)
    assert status == S_IOERR
    assert path.read_bytes() == PATTERN  # the failed write did nothing
    status, data, _ = drv.request(T_IN, 2, data_in=512)
    assert status == S_OK and data == PATTERN[1024:1536]
    assert seen == [(T_OUT, 2, 512), (T_IN, 2, 512)]
    dev.request_hook = None
    status, _, _ = drv.request(T_OUT, 2, data_out=b"\xaa" * 512)
    assert status == S_OK and path.read_bytes()[1024:1536] == b"\xaa" * 512
    dev.close()


def test_discard_code_after_a_raw_ram_write() -> None:
    # Code changed behind the board's back (uc.mem_write) runs stale until
    # discard_code drops its translation.
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(SPIN)))
    m.run(max_insns=1_000)
    start = m.symbols["_start"]
    addi_a0_a0_2 = (2 << 20) | (10 << 15) | (10 << 7) | 0x13
    m.cpu.uc.mem_write(start, addi_a0_a0_2.to_bytes(4, "little"))
    m.discard_code(start, 4)
    m.regs.a0 = 0
    m.pc = start
    m.run(max_insns=200)
    assert m.regs.a0 == 200  # 100 loops of "add 2; jump"
