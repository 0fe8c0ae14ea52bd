"""A virtio block device (virtio-blk, device ID 2) backed by a host file.

Specification: Virtual I/O Device 1.1, §5.2.  Transport: :mod:`.virtio_mmio`.

Features offered: VIRTIO_F_VERSION_1 (required from the driver),
VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
VIRTIO_BLK_F_FLUSH, and VIRTIO_BLK_F_RO for a read-only disk.  EVENT_IDX is
not offered.  One request queue of up to 256 entries (QEMU's default).

Configuration space (``struct virtio_blk_config``)::

    0x00 capacity  u64  in 512-byte sectors (file size // 512)
    0x08 size_max  u32  0 (feature not offered)
    0x0c seg_max   u32  254 (queue size - 2, as QEMU)
    0x10 geometry  u16 cylinders, u8 heads, u8 sectors: 0
    0x14 blk_size  u32  512
    0x18 topology  8 bytes of 0
    0x20 writeback u8 0, unused u8, num_queues u16 1

Requests (header: u32 type, u32 reserved, u64 sector; data; u8 status),
completed synchronously on QueueNotify, so runs are deterministic:

- VIRTIO_BLK_T_IN (0) reads, VIRTIO_BLK_T_OUT (1) writes, whole sectors;
  a sector range past the capacity, a length not a multiple of 512, a write
  to a read-only disk, or a data buffer outside RAM -> VIRTIO_BLK_S_IOERR.
- VIRTIO_BLK_T_FLUSH (4): ``os.fsync`` on the host file, so a flushed write
  is on the host file (writes already reach the file with ``os.pwrite``).
- VIRTIO_BLK_T_GET_ID (8): the 20-byte serial (NUL padded).
- anything else -> VIRTIO_BLK_S_UNSUPP.

Compared with QEMU 7.2's virtio-blk (tests/hypervisor/test_dev_virtio_qemu.py
runs one guest on both): same answers, with two deliberate differences.
FEATURES_OK does not stick unless the driver accepts VIRTIO_F_VERSION_1
(spec §6.1 lets a device fail then; QEMU accepts).  A failed request's used
length counts the bytes really written (the status byte: spec §2.6.8 "SHOULD
set len to the exact number of bytes written"); QEMU reports the whole
writable length.  QEMU's offered features also include more optional bits.

Fault injection: :attr:`VirtioBlk.request_hook`, when set, sees every
well-formed request first (``hook(type, sector, nbytes)``) and may fail it
by returning a status (``VIRTIO_BLK_S_IOERR``): the request then does
nothing at all (no data moved, no write reaches the disk) and completes
with that status.  ``None`` lets it be served normally.

The host file is opened once.  Snapshots (``save``/``restore``) hold the
transport and queue state only: by default the disk contents are NOT rolled
back.  With ``snapshot=True`` (like QEMU's ``-snapshot``) writes go to an
in-memory copy-on-write overlay of sectors instead of the file; the overlay
is part of ``save()``, so restoring a snapshot rolls the disk back too, and
the host file is never modified (FLUSH then has nothing to sync).
"""

from __future__ import annotations

import os
import struct
import weakref
from typing import Callable

from septum.toolchain.errors import SeptumError

from .base import Dma, DmaError, IrqLine
from .virtio_mmio import (
    VIRTIO_F_RING_INDIRECT_DESC,
    VIRTIO_F_VERSION_1,
    Chain,
    VirtioMmio,
    VirtqError,
    gather,
    scatter,
)

VIRTIO_ID_BLOCK = 2

# Feature bits (spec §5.2.3).
VIRTIO_BLK_F_SIZE_MAX = 1
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_GEOMETRY = 4
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9

# Request types and status values (spec §5.2.6).
VIRTIO_BLK_T_IN = 0
VIRTIO_BLK_T_OUT = 1
VIRTIO_BLK_T_FLUSH = 4
VIRTIO_BLK_T_GET_ID = 8
VIRTIO_BLK_S_OK = 0
VIRTIO_BLK_S_IOERR = 1
VIRTIO_BLK_S_UNSUPP = 2

SECTOR_SIZE = 512
VIRTIO_BLK_ID_BYTES = 20
REQUEST_HEADER = struct.Struct("<IIQ")
QUEUE_SIZE = 256

#: ``request_hook(type, sector, nbytes) -> status | None`` (see the module
#: docstring): ``nbytes`` is the payload of a write, the buffer of a read.
RequestHook = Callable[[int, int, int], "int | None"]


class DiskError(SeptumError):
    """A disk image cannot be used."""


class VirtioBlk(VirtioMmio):
    """virtio-blk over virtio-mmio slot ``index`` (0..7), backed by ``path``."""

    DEVICE_ID = VIRTIO_ID_BLOCK
    NUM_QUEUES = 1
    QUEUE_NUM_MAX = QUEUE_SIZE
    STATE = VirtioMmio.STATE + ("overlay",)

    def __init__(self, irq: IrqLine, dma: Dma, path: str | os.PathLike[str],
                 readonly: bool = False, *, index: int = 0, serial: str | None = None,
                 snapshot: bool = False, name: str | None = None,
                 base: int | None = None) -> None:
        self.path = os.fspath(path)
        self.readonly = readonly
        #: Fault-injection hook (module docstring); not part of snapshots.
        self.request_hook: RequestHook | None = None
        self.snapshot = snapshot
        try:
            # The file is only ever read when writes go to the overlay.
            flags = os.O_RDONLY if readonly or snapshot else os.O_RDWR
            self._fd: int | None = os.open(self.path, flags)
            size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise DiskError(f"cannot open disk image {self.path!r}: {exc.strerror}") from None
        # Close the host file when the device is garbage collected, even if
        # its owner never calls close().
        self._closer = weakref.finalize(self, os.close, self._fd)
        self.capacity = size // SECTOR_SIZE
        ident = serial if serial is not None else f"septum-disk{index}"
        self.serial = ident.encode()[:VIRTIO_BLK_ID_BYTES].ljust(VIRTIO_BLK_ID_BYTES, b"\0")
        self.overlay: dict[int, bytes] = {}  # sector -> contents (snapshot mode)
        super().__init__(index, irq, dma, name=name, base=base)

    # ----- identity ---------------------------------------------------------

    @property
    def device_features(self) -> int:
        features = ((1 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_F_RING_INDIRECT_DESC)
                    | (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE)
                    | (1 << VIRTIO_BLK_F_FLUSH))
        if self.readonly:
            features |= 1 << VIRTIO_BLK_F_RO
        return features

    def config_space(self) -> bytes:
        return struct.pack("<QIIHBBI8xBBH", self.capacity, 0, QUEUE_SIZE - 2, 0, 0, 0,
                           SECTOR_SIZE, 0, 0, 1)

    # ----- the backing store ----------------------------------------------------

    def read_disk(self, offset: int, n: int) -> bytes:
        """``n`` bytes of the disk at byte ``offset`` (overlay first)."""
        assert self._fd is not None, "disk closed"
        if not self.overlay:
            return os.pread(self._fd, n, offset).ljust(n, b"\0")
        out = bytearray()
        for sector in range(offset // SECTOR_SIZE, (offset + n) // SECTOR_SIZE):
            data = self.overlay.get(sector)
            if data is None:
                data = os.pread(self._fd, SECTOR_SIZE, sector * SECTOR_SIZE).ljust(SECTOR_SIZE, b"\0")
            out += data
        return bytes(out)

    def write_disk(self, offset: int, data: bytes) -> None:
        """Store whole sectors at byte ``offset`` (file, or overlay)."""
        assert self._fd is not None, "disk closed"
        if self.snapshot:
            first = offset // SECTOR_SIZE
            for i in range(len(data) // SECTOR_SIZE):
                self.overlay[first + i] = data[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE]
        else:
            os.pwrite(self._fd, data, offset)

    def flush(self) -> None:
        """Make every completed write durable on the host file."""
        if self._fd is not None and not self.snapshot and not self.readonly:
            os.fsync(self._fd)

    def close(self) -> None:
        """Close the host file (the device is unusable afterwards)."""
        if self._fd is not None:
            self._closer()
            self._fd = None

    # ----- requests ---------------------------------------------------------

    def handle_request(self, queue: int, chain: Chain) -> int:
        assert self.dma is not None
        dma = self.dma
        total = chain.writable_len
        if total < 1:
            raise VirtqError(f"request at descriptor {chain.head} has no status byte")
        # The status byte is the last writable byte; data fills the rest.
        data_len = total - 1
        data_segs: list[tuple[int, int]] = []
        remaining = data_len
        for addr, n in chain.writable:
            take = min(n, remaining)
            if take:
                data_segs.append((addr, take))
            remaining -= take
        last_addr, last_len = chain.writable[-1]
        status_addr = last_addr + last_len - 1

        written = 0
        try:
            status, written = self._serve(chain, data_segs, data_len)
        except DmaError:
            status, written = VIRTIO_BLK_S_IOERR, 0
        dma.write(status_addr, bytes([status]))
        return written + 1

    def _serve(self, chain: Chain, data_segs: list[tuple[int, int]],
               data_len: int) -> tuple[int, int]:
        """(status, data bytes written) of one request."""
        dma = self.dma
        assert dma is not None
        readable = gather(dma, chain.readable)
        if len(readable) < REQUEST_HEADER.size:
            return VIRTIO_BLK_S_IOERR, 0
        rtype, _, sector = REQUEST_HEADER.unpack_from(readable)
        if self.request_hook is not None:
            nbytes = len(readable) - REQUEST_HEADER.size if rtype == VIRTIO_BLK_T_OUT else data_len
            status = self.request_hook(rtype, sector, nbytes)
            if status is not None:
                return status, 0
        if rtype == VIRTIO_BLK_T_IN:
            if not self._in_range(sector, data_len):
                return VIRTIO_BLK_S_IOERR, 0
            data = self.read_disk(sector * SECTOR_SIZE, data_len)
            return VIRTIO_BLK_S_OK, scatter(dma, data_segs, data)
        if rtype == VIRTIO_BLK_T_OUT:
            payload = readable[REQUEST_HEADER.size :]
            if self.readonly or not self._in_range(sector, len(payload)):
                return VIRTIO_BLK_S_IOERR, 0
            self.write_disk(sector * SECTOR_SIZE, payload)
            return VIRTIO_BLK_S_OK, 0
        if rtype == VIRTIO_BLK_T_FLUSH:
            self.flush()
            return VIRTIO_BLK_S_OK, 0
        if rtype == VIRTIO_BLK_T_GET_ID:
            return VIRTIO_BLK_S_OK, scatter(dma, data_segs, self.serial[:data_len])
        return VIRTIO_BLK_S_UNSUPP, 0

    def _in_range(self, sector: int, nbytes: int) -> bool:
        return nbytes % SECTOR_SIZE == 0 and sector * SECTOR_SIZE + nbytes <= self.capacity * SECTOR_SIZE
