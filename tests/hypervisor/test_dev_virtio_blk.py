"""virtio-mmio v2 + virtio-blk: registers, feature negotiation, real split
virtqueues built in a bytearray "RAM", every request type, bad input, and
snapshots (Virtual I/O Device specification 1.1, §2.6, §4.2.2, §5.2)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from septum.hypervisor import memmap
from septum.hypervisor.devices.base import BufferDma, IrqLine
from septum.hypervisor.devices.virtio_blk import DiskError, VirtioBlk
from septum.hypervisor.devices.virtio_mmio import VirtioMmio

RAM_BASE = 0x8000_0000
RAM_SIZE = 0x20000
QSIZE = 8
DESC, AVAIL, USED, BUF = RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000, RAM_BASE + 0x4000

# Register offsets (spec §4.2.2).
MAGIC, VERSION, DEVICE_ID, VENDOR_ID = 0x000, 0x004, 0x008, 0x00C
DEVICE_FEATURES, DEVICE_FEATURES_SEL = 0x010, 0x014
DRIVER_FEATURES, DRIVER_FEATURES_SEL = 0x020, 0x024
QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
INTERRUPT_STATUS, INTERRUPT_ACK, STATUS = 0x060, 0x064, 0x070
QUEUE_DESC, QUEUE_DRIVER, QUEUE_DEVICE = 0x080, 0x090, 0x0A0
CONFIG_GENERATION, CONFIG = 0x0FC, 0x100

# Status bits, descriptor flags, feature bits, request types (spec §2.1, §2.6.5, §5.2).
ACKNOWLEDGE, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
VERSION_1, INDIRECT_DESC, BLK_F_RO, BLK_F_BLK_SIZE, BLK_F_FLUSH = 32, 28, 5, 6, 9
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD = 0, 1, 4, 8, 11
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2

SECTORS = 16
PATTERN = bytes((i * 7 + i // 512) & 0xFF for i in range(SECTORS * 512))


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(PATTERN)
    return path


class Driver:
    """A minimal virtio-blk driver: builds split virtqueues in RAM."""

    def __init__(self, dev: VirtioBlk | VirtioMmio, ram: bytearray, irq: IrqLine) -> None:
        self.dev, self.ram, self.irq = dev, ram, irq
        self.avail_idx = 0
        self.free = BUF

    def r(self, off: int) -> int:
        return self.dev.read(off, 4)

    def w(self, off: int, value: int) -> None:
        self.dev.write(off, 4, value)

    def w64(self, off: int, value: int) -> None:
        self.w(off, value & 0xFFFF_FFFF)
        self.w(off + 4, value >> 32)

    def features(self) -> int:
        self.w(DEVICE_FEATURES_SEL, 0)
        low = self.r(DEVICE_FEATURES)
        self.w(DEVICE_FEATURES_SEL, 1)
        return low | (self.r(DEVICE_FEATURES) << 32)

    def init(self, accept: int | None = None, qsize: int = QSIZE) -> None:
        """The driver initialisation sequence of spec §3.1.1."""
        self.w(STATUS, 0)
        self.w(STATUS, ACKNOWLEDGE)
        self.w(STATUS, ACKNOWLEDGE | DRIVER)
        accept = self.features() if accept is None else accept
        for sel in (0, 1):
            self.w(DRIVER_FEATURES_SEL, sel)
            self.w(DRIVER_FEATURES, (accept >> (32 * sel)) & 0xFFFF_FFFF)
        self.w(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK)
        assert self.r(STATUS) & FEATURES_OK
        self.w(QUEUE_SEL, 0)
        assert self.r(QUEUE_READY) == 0
        self.w(QUEUE_NUM, qsize)
        self.w64(QUEUE_DESC, DESC)
        self.w64(QUEUE_DRIVER, AVAIL)
        self.w64(QUEUE_DEVICE, USED)
        self.w(QUEUE_READY, 1)
        self.w(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
        self.qsize = qsize

    # ----- memory --------------------------------------------------------

    def alloc(self, n: int, data: bytes = b"") -> int:
        addr = self.free
        self.free += (n + 15) & ~15
        self.poke(addr, data.ljust(n, b"\xEE"))
        return addr

    def poke(self, addr: int, data: bytes) -> None:
        self.ram[addr - RAM_BASE : addr - RAM_BASE + len(data)] = data

    def peek(self, addr: int, n: int) -> bytes:
        return bytes(self.ram[addr - RAM_BASE : addr - RAM_BASE + n])

    def write_descs(self, table: int, descs: list[tuple[int, int, int, int]]) -> None:
        for i, (addr, length, flags, nxt) in enumerate(descs):
            self.poke(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    # ----- requests ------------------------------------------------------

    def submit(self, descs: list[tuple[int, int, int, int]], head: int = 0,
               avail_flags: int = 0) -> tuple[int, int]:
        """Put a chain in the table, publish it, notify; return the used element."""
        self.write_descs(DESC, descs)
        self.poke(AVAIL + 4 + 2 * (self.avail_idx % self.qsize), struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.poke(AVAIL, struct.pack("<HH", avail_flags, self.avail_idx))
        self.w(QUEUE_NOTIFY, 0)
        used_idx = struct.unpack("<H", self.peek(USED + 2, 2))[0]
        elem = USED + 4 + 8 * ((used_idx - 1) % self.qsize)
        return struct.unpack("<II", self.peek(elem, 8))

    def request(self, rtype: int, sector: int = 0, *, data_in: int = 0,
                data_out: bytes = b"") -> tuple[int, bytes, int]:
        """One request as a 3-descriptor chain: (status, data read, used len)."""
        header = self.alloc(16, struct.pack("<IIQ", rtype, 0, sector))
        status = self.alloc(1)
        descs = [(header, 16, F_NEXT, 1)]
        if data_out:
            descs.append((self.alloc(len(data_out), data_out), len(data_out), F_NEXT, 2))
        buf = 0
        if data_in:
            buf = self.alloc(data_in)
            descs.append((buf, data_in, F_WRITE | F_NEXT, 2))
        descs.append((status, 1, F_WRITE, 0))
        head, used_len = self.submit(descs)
        assert head == 0
        return self.peek(status, 1)[0], self.peek(buf, data_in) if data_in else b"", used_len


def make(disk: Path, **kwargs: object) -> tuple[VirtioBlk, Driver]:
    ram = bytearray(RAM_SIZE)
    irq = IrqLine()
    dev = VirtioBlk(irq, BufferDma(ram, RAM_BASE), disk, index=kwargs.pop("index", 0), **kwargs)  # type: ignore[arg-type]
    return dev, Driver(dev, ram, irq)


# ----- registers ------------------------------------------------------------


def test_identity_and_reset_values(disk: Path) -> None:
    dev, drv = make(disk, index=7)
    assert dev.base == memmap.VIRTIO_BASE + 7 * memmap.VIRTIO_SIZE and dev.name == "virtio7"
    assert drv.r(MAGIC) == int.from_bytes(b"virt", "little")
    assert drv.r(VERSION) == 2
    assert drv.r(DEVICE_ID) == 2  # block device
    assert drv.r(VENDOR_ID) == int.from_bytes(b"QEMU", "little")
    for off in (STATUS, INTERRUPT_STATUS, QUEUE_READY, CONFIG_GENERATION):
        assert drv.r(off) == 0
    assert drv.r(QUEUE_NUM_MAX) == 256
    drv.w(QUEUE_SEL, 1)  # only one queue exists
    assert drv.r(QUEUE_NUM_MAX) == 0


def test_offered_features(disk: Path, tmp_path: Path) -> None:
    dev, drv = make(disk)
    f = drv.features()
    for bit in (VERSION_1, INDIRECT_DESC, BLK_F_BLK_SIZE, BLK_F_FLUSH):
        assert f >> bit & 1
    assert not f >> BLK_F_RO & 1
    assert not f >> 29 & 1  # EVENT_IDX not offered
    _, ro = make(disk, readonly=True)
    assert ro.features() >> BLK_F_RO & 1


def test_config_space(disk: Path) -> None:
    dev, drv = make(disk)
    assert dev.read(CONFIG, 4) | (dev.read(CONFIG + 4, 4) << 32) == SECTORS  # capacity
    assert dev.read(CONFIG, 8) == SECTORS
    assert dev.read(CONFIG + 0x14, 4) == 512  # blk_size
    assert dev.read(CONFIG + 0x14, 1) == 0 and dev.read(CONFIG + 0x15, 1) == 2  # byte access


def test_features_ok_requires_version_1(disk: Path) -> None:
    dev, drv = make(disk)
    drv.w(STATUS, ACKNOWLEDGE | DRIVER)
    drv.w(DRIVER_FEATURES_SEL, 1)
    drv.w(DRIVER_FEATURES, 0)
    drv.w(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK)
    assert drv.r(STATUS) == ACKNOWLEDGE | DRIVER  # refused
    drv.w(STATUS, 0)
    assert drv.r(STATUS) == 0


def test_empty_slot(disk: Path) -> None:
    slot = VirtioMmio(3)
    assert slot.base == 0x1000_4000
    assert slot.read(MAGIC, 4) == 0x74726976 and slot.read(VERSION, 4) == 2
    assert slot.read(DEVICE_ID, 4) == 0
    slot.write(STATUS, 4, ACKNOWLEDGE)
    assert slot.read(STATUS, 4) == 0


def test_legacy_and_misaligned_registers_are_undefined(disk: Path) -> None:
    dev, drv = make(disk)
    assert dev.read(0x040, 4) == 0  # QueuePFN is legacy-only
    assert dev.read(MAGIC + 1, 1) == 0


# ----- requests -------------------------------------------------------------


def test_read_sectors(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    status, data, used = drv.request(T_IN, 3, data_in=1024)
    assert status == S_OK
    assert data == PATTERN[3 * 512 : 5 * 512]
    assert used == 1024 + 1
    assert drv.r(INTERRUPT_STATUS) & 1 and drv.irq.level is True
    drv.w(INTERRUPT_ACK, 1)
    assert drv.r(INTERRUPT_STATUS) == 0 and drv.irq.level is False


def test_write_then_flush_reaches_the_host_file(disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    dev, drv = make(disk)
    drv.init()
    payload = bytes(range(256)) * 2
    status, _, used = drv.request(T_OUT, 5, data_out=payload)
    assert status == S_OK and used == 1
    with open(disk, "rb") as f:  # a separate handle sees the write
        f.seek(5 * 512)
        assert f.read(512) == payload
    assert synced == []
    status, _, _ = drv.request(T_FLUSH)
    assert status == S_OK and len(synced) == 1
    # The other sectors are untouched.
    assert disk.read_bytes()[: 5 * 512] == PATTERN[: 5 * 512]


def test_get_id_returns_the_20_byte_serial(disk: Path) -> None:
    dev, drv = make(disk, serial="disk-42")
    drv.init()
    status, data, used = drv.request(T_GET_ID, data_in=20)
    assert status == S_OK and data == b"disk-42".ljust(20, b"\0") and used == 21


def test_unsupported_request(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    assert drv.request(T_DISCARD, data_out=bytes(16))[0] == S_UNSUPP


@pytest.mark.parametrize("sector, n", [(SECTORS, 512), (SECTORS - 1, 1024), (2**63, 512), (0, 100)])
def test_out_of_range_or_partial_sector_is_ioerr(disk: Path, sector: int, n: int) -> None:
    dev, drv = make(disk)
    drv.init()
    assert drv.request(T_IN, sector, data_in=n)[0] == S_IOERR
    assert drv.request(T_OUT, sector, data_out=bytes(n))[0] == S_IOERR
    assert disk.read_bytes() == PATTERN


def test_read_only_disk_refuses_writes(disk: Path) -> None:
    dev, drv = make(disk, readonly=True)
    drv.init()
    assert drv.request(T_OUT, 0, data_out=bytes(512))[0] == S_IOERR
    assert drv.request(T_IN, 0, data_in=512)[1] == PATTERN[:512]
    assert disk.read_bytes() == PATTERN


def test_chain_split_across_many_descriptors(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    hdr = struct.pack("<IIQ", T_IN, 0, 1)
    a = drv.alloc(4, hdr[:4])
    b = drv.alloc(12, hdr[4:])
    bufs = [drv.alloc(100), drv.alloc(412), drv.alloc(1)]
    head, used = drv.submit([(a, 4, F_NEXT, 1), (b, 12, F_NEXT, 2),
                             (bufs[0], 100, F_WRITE | F_NEXT, 3),
                             (bufs[1], 412, F_WRITE | F_NEXT, 4),
                             (bufs[2], 1, F_WRITE, 0)])
    assert used == 513
    assert drv.peek(bufs[0], 100) + drv.peek(bufs[1], 412) == PATTERN[512:1024]
    assert drv.peek(bufs[2], 1) == bytes([S_OK])


def test_indirect_descriptors(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    header = drv.alloc(16, struct.pack("<IIQ", T_IN, 0, 2))
    buf, status = drv.alloc(512), drv.alloc(1)
    table = drv.alloc(48)
    drv.write_descs(table, [(header, 16, F_NEXT, 1), (buf, 512, F_WRITE | F_NEXT, 2),
                            (status, 1, F_WRITE, 0)])
    head, used = drv.submit([(table, 48, F_INDIRECT, 0)])
    assert used == 513 and drv.peek(status, 1) == bytes([S_OK])
    assert drv.peek(buf, 512) == PATTERN[1024:1536]


def test_several_requests_in_one_notify_and_ring_wraparound(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init(qsize=4)
    for i in range(10):  # more than the ring size: indices wrap
        status, data, _ = drv.request(T_IN, i, data_in=512)
        assert status == S_OK and data == PATTERN[i * 512 : (i + 1) * 512]
    assert struct.unpack("<H", drv.peek(USED + 2, 2))[0] == 10


def test_no_interrupt_flag_suppresses_the_interrupt(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    status = drv.alloc(1)
    header = drv.alloc(16, struct.pack("<IIQ", T_FLUSH, 0, 0))
    drv.submit([(header, 16, F_NEXT, 1), (status, 1, F_WRITE, 0)], avail_flags=1)
    assert drv.peek(status, 1) == bytes([S_OK])
    assert drv.r(INTERRUPT_STATUS) == 0 and drv.irq.level is False


# ----- bad addresses and malformed rings -------------------------------------


def test_data_buffer_outside_ram_is_ioerr(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    header = drv.alloc(16, struct.pack("<IIQ", T_IN, 0, 0))
    status = drv.alloc(1)
    drv.submit([(header, 16, F_NEXT, 1), (0x1000_0000, 512, F_WRITE | F_NEXT, 2),
                (status, 1, F_WRITE, 0)])
    assert drv.peek(status, 1) == bytes([S_IOERR])
    assert not drv.r(STATUS) & NEEDS_RESET
    header = drv.alloc(16, struct.pack("<IIQ", T_OUT, 0, 0))
    drv.submit([(header, 16, F_NEXT, 1), (RAM_BASE + RAM_SIZE - 8, 512, F_NEXT, 2),
                (status, 1, F_WRITE, 0)])
    assert drv.peek(status, 1) == bytes([S_IOERR])
    assert disk.read_bytes() == PATTERN


def needs_reset(drv: Driver) -> bool:
    return bool(drv.r(STATUS) & NEEDS_RESET)


def test_descriptor_table_outside_ram_needs_reset(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    drv.w64(QUEUE_DESC, 0x4000_0000)
    drv.request(T_IN, 0, data_in=512)
    assert needs_reset(drv)
    assert drv.r(INTERRUPT_STATUS) & 2 and drv.irq.level is True  # configuration change
    # Reset and re-initialise: the device works again.
    drv.avail_idx = 0
    drv.init()
    assert not needs_reset(drv)
    assert drv.request(T_IN, 0, data_in=512)[0] == S_OK


@pytest.mark.parametrize("descs", [
    [(RAM_BASE + 0x8000, 16, F_NEXT, 9)],  # next index past the table
    [(RAM_BASE + 0x8000, 16, F_NEXT, 1), (RAM_BASE + 0x8100, 16, F_NEXT, 0)],  # a loop
    [(RAM_BASE + 0x8000, 16, F_WRITE | F_NEXT, 1), (RAM_BASE + 0x8100, 16, F_NEXT, 2),
     (RAM_BASE + 0x8200, 1, F_WRITE, 0)],  # readable after writable
    [(RAM_BASE + 0x8000, 16, 0, 0)],  # no status byte
    [(RAM_BASE + 0x8000, 20, F_INDIRECT, 0)],  # indirect table not a multiple of 16
])
def test_malformed_chains_need_reset(disk: Path, descs: list[tuple[int, int, int, int]]) -> None:
    dev, drv = make(disk)
    drv.init()
    drv.submit(descs)
    assert needs_reset(drv)
    assert disk.read_bytes() == PATTERN


def test_used_ring_outside_ram_needs_reset(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    drv.w64(QUEUE_DEVICE, 0xFFFF_FFFF_FFFF_F000)
    drv.request(T_FLUSH)
    assert needs_reset(drv)


# ----- host file and snapshots ------------------------------------------------


def test_missing_disk_image_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DiskError) as info:
        VirtioBlk(IrqLine(), BufferDma(bytearray(16), RAM_BASE), tmp_path / "nope.img")
    assert "nope.img" in str(info.value) and "\n" not in str(info.value)


def test_snapshot_restores_registers_and_queue_state(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    drv.request(T_IN, 0, data_in=512)
    state = dev.save()
    ram_copy = bytes(drv.ram)
    drv.request(T_IN, 1, data_in=512)
    dev.restore(state)
    drv.ram[:] = ram_copy  # the machine restores RAM alongside
    drv.avail_idx = 1
    status, data, _ = drv.request(T_IN, 1, data_in=512)
    assert status == S_OK and data == PATTERN[512:1024]
    assert struct.unpack("<H", drv.peek(USED + 2, 2))[0] == 2


def test_disk_contents_not_rolled_back_by_default(disk: Path) -> None:
    dev, drv = make(disk)
    drv.init()
    state = dev.save()
    drv.request(T_OUT, 0, data_out=b"\x55" * 512)
    dev.restore(state)
    assert disk.read_bytes()[:512] == b"\x55" * 512


def test_snapshot_mode_overlay_rolls_back_and_spares_the_host_file(disk: Path) -> None:
    dev, drv = make(disk, snapshot=True)
    drv.init()
    state = dev.save()
    assert drv.request(T_OUT, 2, data_out=b"\x77" * 512)[0] == S_OK
    assert drv.request(T_IN, 2, data_in=1024)[1] == b"\x77" * 512 + PATTERN[1536:2048]
    assert drv.request(T_FLUSH)[0] == S_OK
    assert disk.read_bytes() == PATTERN
    dev.restore(state)
    drv.avail_idx = 0
    drv.init()
    assert drv.request(T_IN, 2, data_in=512)[1] == PATTERN[1024:1536]
