"""The device contract of devices/base.py: register lookup, undefined
accesses (logged, observed, harmless), 8-byte splitting, IRQ lines, DMA."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from septum.hypervisor.devices.base import (
    RW,
    BufferDma,
    Device,
    DmaError,
    IrqLine,
    MmioAccess,
    R,
    Register,
    extract,
    merge,
)


class Scratch(Device):
    """A toy device: a 4-byte RW register at 0, a 4-byte RW register at 4,
    an 8-byte RW register at 8, a read-only one at 0x10."""

    REGISTERS = (
        Register(0x0, "A", 4, RW, 0x11),
        Register(0x4, "B", 4, RW, 0x22),
        Register(0x8, "WIDE", 8, RW, 0),
        Register(0x10, "ID", 4, R, 0xCAFE),
    )
    STATE = ("values",)

    def __init__(self) -> None:
        super().__init__("scratch", 0x1000, 0x100)
        self.reset()

    def reset(self) -> None:
        self.values = {r.name: r.reset for r in self.REGISTERS}

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        return extract(self.values[reg.name], rel, size)

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        self.values[reg.name] = merge(self.values[reg.name], rel, size, value)


def test_reset_values_read_back() -> None:
    dev = Scratch()
    for reg in Scratch.REGISTERS:
        assert dev.read(reg.offset, reg.width if reg.width <= 4 else 4) == reg.reset & 0xFFFF_FFFF


def test_sub_word_and_half_accesses() -> None:
    dev = Scratch()
    dev.write(0x8, 4, 0x89ABCDEF)
    dev.write(0xC, 4, 0x01234567)
    assert dev.read(0x8, 8) == 0x01234567_89ABCDEF
    assert dev.read(0xC, 2) == 0x4567
    assert dev.read(0xB, 1) == 0x89
    dev.write(0x9, 1, 0x00)
    assert dev.read(0x8, 4) == 0x89AB00EF


def test_eight_byte_access_spanning_two_registers_is_split_low_first() -> None:
    dev = Scratch()
    dev.write(0x0, 8, 0xBBBBBBBB_AAAAAAAA)
    assert dev.values["A"] == 0xAAAAAAAA and dev.values["B"] == 0xBBBBBBBB
    assert dev.read(0x0, 8) == 0xBBBBBBBB_AAAAAAAA


def test_undefined_offsets_logged_observed_and_harmless(caplog: pytest.LogCaptureFixture) -> None:
    dev = Scratch()
    seen: list[MmioAccess] = []
    dev.observer = seen.append
    before = dict(dev.values)
    with caplog.at_level(logging.WARNING, logger="septum.mmio"):
        assert dev.read(0x40, 4) == 0
        dev.write(0x40, 4, 0x1234)
        dev.write(0x10, 4, 0x1)  # read-only register
        assert dev.read(0x200, 4) == 0  # past the window's size
    assert dev.values == before
    assert [(a.offset, a.register, a.is_write) for a in seen] == [
        (0x40, None, False), (0x40, None, True), (0x10, None, True), (0x200, None, False)]
    messages = [r.getMessage() for r in caplog.records if r.name == "septum.mmio"]
    assert len(messages) == 4
    assert "read-only register ID" in messages[2]
    assert all("scratch" in m for m in messages)


def test_observer_sees_defined_accesses_with_register_names() -> None:
    dev = Scratch()
    seen: list[MmioAccess] = []
    dev.observer = seen.append
    dev.write(0x4, 4, 7)
    assert dev.read(0x4, 4) == 7
    assert seen == [MmioAccess("scratch", 4, "B", 4, 7, True), MmioAccess("scratch", 4, "B", 4, 7, False)]


def test_save_restore_is_a_deep_picklable_copy() -> None:
    dev = Scratch()
    dev.write(0, 4, 5)
    state = pickle.loads(pickle.dumps(dev.save()))
    dev.write(0, 4, 9)
    dev.restore(state)
    assert dev.read(0, 4) == 5
    dev.write(0, 4, 6)
    assert state["values"]["A"] == 5


def test_irq_line_forwards_levels() -> None:
    got: list[bool] = []
    line = IrqLine(got.append)
    line.set(True)
    line.set(False)
    assert got == [True, False] and line.level is False
    IrqLine().set(True)  # a wire to nowhere is fine


def test_buffer_dma_bounds() -> None:
    ram = bytearray(64)
    dma = BufferDma(ram, 0x8000_0000)
    dma.write(0x8000_0010, b"abc")
    assert dma.read(0x8000_000F, 5) == b"\0abc\0"
    for addr, n in ((0x7FFF_FFFF, 1), (0x8000_003F, 2), (0x9000_0000, 1)):
        with pytest.raises(DmaError) as info:
            dma.read(addr, n)
        assert f"{addr:#x}" in str(info.value)
    with pytest.raises(DmaError):
        dma.write(0x8000_0040, b"x")


def _fresh_devices(tmp_path: Path) -> list[Device]:
    from septum.hypervisor.devices.clint import Clint
    from septum.hypervisor.devices.finisher import TestFinisher
    from septum.hypervisor.devices.plic import Plic
    from septum.hypervisor.devices.rtc import GoldfishRtc
    from septum.hypervisor.devices.uart import Uart16550
    from septum.hypervisor.devices.virtio_blk import VirtioBlk
    from septum.hypervisor.devices.virtio_mmio import VirtioMmio

    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(4096))
    dma = BufferDma(bytearray(64), 0x8000_0000)
    return [Clint(lambda: 0, lambda b, l: None), Plic(lambda b, l: None),
            Uart16550(IrqLine(), lambda b: None), TestFinisher(lambda k, c: None),
            GoldfishRtc(lambda: 0, IrqLine(), 0), VirtioMmio(1),
            VirtioBlk(IrqLine(), dma, disk)]


#: Registers whose read has side effects or whose value is not a constant
#: (time, claims, FIFO pops, the divisor latch behind DLAB, configuration).
_DYNAMIC = {"RBR", "DLL", "DLM", "TIME_LOW", "TIME_HIGH", "DeviceID", "DeviceFeatures",
            "QueueNumMax", "Config", "finisher"} | {f"claim{c}" for c in range(2)}


def test_every_register_table_states_the_power_on_value(tmp_path: Path) -> None:
    """The tables' reset column (datasheet / QEMU values) is what each
    device really reads right after construction."""
    checked = 0
    for dev in _fresh_devices(tmp_path):
        for reg in dev.REGISTERS:
            if "R" not in reg.access or reg.name in _DYNAMIC:
                continue
            width = min(reg.width, 4)
            assert dev.read(reg.offset, width) == reg.reset & ((1 << (8 * width)) - 1), (dev.name, reg.name)
            checked += 1
    assert checked > 100
