"""The host link (hypervisor/devices/hostlink.py): reset values, the
doorbell raising the interrupt, DONE completing the request and lowering
it, the guest's view through 4- and 8-byte accesses, snapshots, and its
place on the board (platform bus, PLIC source 64, device tree node)."""

from __future__ import annotations

import logging
import pickle

import fdt
import pytest

from septum.hypervisor import memmap
from septum.hypervisor.devices.base import IrqLine
from septum.hypervisor.devices.hostlink import (
    BUF_SIZE,
    HOSTLINK_MAGIC,
    Hostlink,
    HostlinkError,
)
from septum.hypervisor.dtb import build_dtb
from septum.hypervisor.machine import Machine
from septum.toolchain.assembler import asm

# Offsets as the module docstring's table gives them.
MAGIC, VERSION, STATUS, SEQ, DONE = 0x000, 0x004, 0x008, 0x00C, 0x010
SERVER, REQ_LEN, BUF_LEN, REQ_WORD0 = 0x018, 0x020, 0x028, 0x030
REPLY_STATUS, REPLY_LEN, REPLY_WORD0, BUF = 0x050, 0x058, 0x060, 0x800


def read64(dev: Hostlink, off: int) -> int:
    """An ``ld`` as Unicorn delivers it: two 4-byte halves, low first."""
    return dev.read(off, 4) | dev.read(off + 4, 4) << 32


def write64(dev: Hostlink, off: int, value: int) -> None:
    dev.write(off, 4, value & 0xFFFF_FFFF)
    dev.write(off + 4, 4, value >> 32)


@pytest.fixture
def link() -> tuple[Hostlink, IrqLine]:
    line = IrqLine()
    return Hostlink(line), line


def test_magic_is_hlnk_in_memory_order() -> None:
    assert HOSTLINK_MAGIC.to_bytes(4, "little") == b"hlnk"


def test_reset_values(link) -> None:
    dev, line = link
    assert dev.read(MAGIC, 4) == HOSTLINK_MAGIC and dev.read(VERSION, 4) == 1
    for off in (STATUS, SEQ):
        assert dev.read(off, 4) == 0
    for off in (SERVER, REQ_LEN, BUF_LEN, REPLY_STATUS, REPLY_LEN,
                *(REQ_WORD0 + 8 * i for i in range(4)), *(REPLY_WORD0 + 8 * i for i in range(4))):
        assert read64(dev, off) == 0, hex(off)
    assert all(dev.read(BUF + i, 8) == 0 for i in range(0, BUF_SIZE, 8))
    assert line.level is False and dev.reply() is None and not dev.busy


def test_doorbell_raises_the_irq_and_the_guest_sees_the_request(link) -> None:
    dev, line = link
    seq = dev.post(0x1_0002, (1, 2, 3, 1 << 63), b"keyvalue", buflen=64)
    assert seq == 1 and line.level is True and dev.busy
    assert dev.read(STATUS, 4) == 1 and dev.read(SEQ, 4) == 1
    assert read64(dev, SERVER) == 0x1_0002
    assert (read64(dev, REQ_LEN), read64(dev, BUF_LEN)) == (8, 64)
    assert [read64(dev, REQ_WORD0 + 8 * i) for i in range(4)] == [1, 2, 3, 1 << 63]
    assert read64(dev, BUF).to_bytes(8, "little") == b"keyvalue"
    assert dev.read(BUF + 8, 8) == 0  # the rest of the buffer is cleared
    assert dev.reply() is None


def test_done_completes_the_request_and_lowers_the_irq(link) -> None:
    dev, line = link
    seq = dev.post(3, (7,), b"abc", buflen=16)
    write64(dev, REPLY_STATUS, 0)
    write64(dev, REPLY_LEN, 5)
    for i, w in enumerate((10, 20, 30, 0xFFFF_FFFF_FFFF_FFFF)):
        write64(dev, REPLY_WORD0 + 8 * i, w)
    dev.write(BUF, 4, int.from_bytes(b"valu", "little"))
    dev.write(BUF + 4, 1, ord("e"))
    assert line.level is True  # the reply registers alone complete nothing
    dev.write(DONE, 4, seq)
    assert line.level is False and dev.read(STATUS, 4) == 0 and not dev.busy
    r = dev.reply()
    assert r is not None and r.seq == seq and r.status == 0 and r.length == 5
    assert r.words == (10, 20, 30, 0xFFFF_FFFF_FFFF_FFFF) and r.data == b"value"
    assert dev.served == 1


def test_done_with_a_stale_sequence_number_is_ignored(link) -> None:
    dev, line = link
    first = dev.post(1)
    dev.cancel()  # the host gave up on it
    assert line.level is False and dev.reply() is None
    second = dev.post(1)
    dev.write(DONE, 4, first)  # a late answer to the cancelled request
    assert line.level is True and dev.reply() is None
    dev.write(DONE, 4, second)
    assert line.level is False and dev.reply() is not None and dev.reply().seq == second


def test_reply_data_is_capped_at_the_buffer_length(link) -> None:
    dev, _ = link
    seq = dev.post(1, (), b"x", buflen=4)
    write64(dev, REPLY_LEN, 100)  # a driver bug must not leak more than asked for
    dev.write(DONE, 4, seq)
    assert len(dev.reply().data) == 4


def test_host_side_errors(link) -> None:
    dev, _ = link
    with pytest.raises(HostlinkError, match="at most 4"):
        dev.post(1, (1, 2, 3, 4, 5))
    with pytest.raises(HostlinkError, match="holds 2048"):
        dev.post(1, (), b"", buflen=BUF_SIZE + 1)
    with pytest.raises(HostlinkError, match="2 bytes for 3 bytes"):
        dev.post(1, (), b"abc", buflen=2)
    dev.post(1)
    with pytest.raises(HostlinkError, match="still pending"):
        dev.post(1)


def test_guest_writes_to_request_registers_are_logged_and_ignored(link, caplog) -> None:
    dev, _ = link
    dev.post(5, (9,))
    with caplog.at_level(logging.WARNING, logger="septum.mmio"):
        dev.write(SERVER, 4, 0xDEAD)
        dev.write(REQ_WORD0, 4, 0xDEAD)
        dev.read(DONE, 4)
        dev.read(0x700, 4)
    assert read64(dev, SERVER) == 5 and read64(dev, REQ_WORD0) == 9
    text = caplog.text
    assert "write to read-only register SERVER" in text and "read of write-only register DONE" in text
    assert "undefined offset 0x700" in text


def test_reset_and_snapshot(link) -> None:
    dev, line = link
    dev.post(2, (1,), b"hi")
    saved = pickle.loads(pickle.dumps(dev.save()))
    dev.write(DONE, 4, 1)
    assert line.level is False
    dev.restore(saved)
    assert line.level is True and dev.busy and dev.read(BUF, 2) == int.from_bytes(b"hi", "little")
    dev.reset()
    assert line.level is False and dev.read(SEQ, 4) == 0 and dev.read(BUF, 2) == 0


def test_on_the_board_at_the_platform_bus_with_plic_source_64() -> None:
    # QEMU hw/riscv/virt.c: VIRT_PLATFORM_BUS at 0x4000000, size 0x2000000,
    # PLIC sources VIRT_PLATFORM_BUS_IRQ = 64 .. 95.
    assert (memmap.HOSTLINK_BASE, memmap.HOSTLINK_IRQ) == (0x0400_0000, 64)
    m = Machine(ram_size=4 << 20)  # the DTB lands at 2 MiB, clear of the code
    try:
        # A guest reads MAGIC and answers a request: DONE = SEQ.
        code = asm(f"""
            li   t0, {memmap.HOSTLINK_BASE:#x}
            lw   a0, {MAGIC}(t0)
            ld   a1, {SERVER}(t0)
            lw   a2, {SEQ}(t0)
            sd   a1, {REPLY_WORD0}(t0)
            sw   a2, {DONE}(t0)
        1:  j    1b
        """, memmap.DRAM_BASE)
        m.load_binary(code, memmap.DRAM_BASE)
        m.boot(entry=memmap.DRAM_BASE)
        m.hostlink.post(0x1234_5678_9ABC)
        assert (m.plic.levels >> memmap.HOSTLINK_IRQ) & 1
        m.run(max_insns=100)
        assert m.regs.a0 == HOSTLINK_MAGIC
        r = m.hostlink.reply()
        assert r is not None and r.words[0] == 0x1234_5678_9ABC
        assert not (m.plic.levels >> memmap.HOSTLINK_IRQ) & 1
    finally:
        m.close()


def test_device_tree_node() -> None:
    tree = fdt.parse_dtb(build_dtb(128 << 20))
    bus = tree.get_node("/platform-bus@4000000")
    assert bus.get_property("compatible").data == ["qemu,platform", "simple-bus"]
    node = tree.get_node("/platform-bus@4000000/hostlink@0")
    assert node.get_property("compatible").data == ["septum,hostlink"]
    assert list(node.get_property("reg").data) == [0, memmap.HOSTLINK_SIZE]
    assert list(node.get_property("interrupts").data) == [memmap.HOSTLINK_IRQ]


def test_the_proxy_include_matches_the_device() -> None:
    # userland/hostlink/hostlink.inc repeats the offsets for the assembly
    # driver: it must name each one as the device module does.
    import re
    from pathlib import Path

    from septum.hypervisor.devices import hostlink

    inc = Path(hostlink.__file__).resolve().parents[2] / "userland" / "hostlink" / "hostlink.inc"
    equs = dict(re.findall(r"^\.equ (\w+), (\w+)", inc.read_text(), re.M))
    assert equs
    for name, value in equs.items():
        if name == "HOSTLINK_BUF_SIZE":
            assert int(value, 0) == BUF_SIZE
        else:
            assert int(value, 0) == getattr(hostlink, name), name
