"""The virtio-mmio transport, version 2 (modern), and empty slots.

Register map (Virtual I/O Device specification 1.1, §4.2.2)::

    0x000 MagicValue        R   0x74726976 ("virt")
    0x004 Version           R   2
    0x008 DeviceID          R   0 = no device, 2 = block
    0x00c VendorID          R   0x554d4551 ("QEMU")
    0x010 DeviceFeatures    R   32 features selected by DeviceFeaturesSel
    0x014 DeviceFeaturesSel W
    0x020 DriverFeatures    W   32 features selected by DriverFeaturesSel
    0x024 DriverFeaturesSel W
    0x030 QueueSel          W
    0x034 QueueNumMax       R   0 when the selected queue does not exist
    0x038 QueueNum          W
    0x044 QueueReady        RW
    0x050 QueueNotify       W   the queue index; requests complete right here
    0x060 InterruptStatus   R   bit 0 used buffer, bit 1 configuration change
    0x064 InterruptACK      W
    0x070 Status            RW  writing 0 resets the device
    0x080 QueueDescLow/High       W  descriptor table
    0x090 QueueDriverLow/High     W  available ring
    0x0a0 QueueDeviceLow/High     W  used ring
    0x0fc ConfigGeneration  R
    0x100 Config            R   device-specific configuration space

Legacy (version 1) registers such as QueuePFN do not exist here and are
logged as undefined.  Note: QEMU 7.2's virtio-mmio defaults to the legacy
interface (``force-legacy=true``); ``-global virtio-mmio.force-legacy=false``
gives the modern one this board implements.  QEMU puts the first
``-device virtio-blk-device`` in the highest slot (7, 0x1000_8000, PLIC
source 8): the machine does the same with its disk.

An empty slot (:class:`VirtioMmio` with no device) answers MagicValue,
Version and VendorID, reads 0 elsewhere and ignores (and logs) writes, as
QEMU's transport without a backend does.

Split virtqueues are walked by :class:`VirtQueue`; a subclass (the device)
implements :meth:`VirtioMmio.handle_request` for one descriptor chain.
A malformed ring or chain (bad index, loop, ring outside RAM) makes the
device set DEVICE_NEEDS_RESET and raise a configuration change interrupt
(spec §2.1.2); it never raises into the host.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from septum.hypervisor import memmap

from .base import R, RW, W, Device, Dma, DmaError, Field, IrqLine, Register, extract

log = logging.getLogger("septum.mmio")

VIRT_MAGIC = 0x74726976  # "virt", little-endian
VIRT_VERSION = 2
VIRT_VENDOR = 0x554D4551  # "QEMU", little-endian, as QEMU's transport reports

# Device status bits (spec §2.1).
STATUS_ACKNOWLEDGE = 1
STATUS_DRIVER = 2
STATUS_DRIVER_OK = 4
STATUS_FEATURES_OK = 8
STATUS_DEVICE_NEEDS_RESET = 0x40
STATUS_FAILED = 0x80

# InterruptStatus bits.
INT_USED_BUFFER = 1
INT_CONFIG_CHANGE = 2

# Reserved feature bits (spec §6).
VIRTIO_F_RING_INDIRECT_DESC = 28
VIRTIO_F_RING_EVENT_IDX = 29
VIRTIO_F_VERSION_1 = 32

# Split virtqueue layout (spec §2.6).
VIRTQ_DESC_F_NEXT = 1
VIRTQ_DESC_F_WRITE = 2
VIRTQ_DESC_F_INDIRECT = 4
VIRTQ_AVAIL_F_NO_INTERRUPT = 1
DESC_SIZE = 16
USED_ELEM_SIZE = 8

CONFIG_OFFSET = 0x100

REGISTERS = (
    Register(0x000, "MagicValue", 4, R, VIRT_MAGIC),
    Register(0x004, "Version", 4, R, VIRT_VERSION),
    Register(0x008, "DeviceID", 4, R, 0),
    Register(0x00C, "VendorID", 4, R, VIRT_VENDOR),
    Register(0x010, "DeviceFeatures", 4, R, 0),
    Register(0x014, "DeviceFeaturesSel", 4, W, 0),
    Register(0x020, "DriverFeatures", 4, W, 0),
    Register(0x024, "DriverFeaturesSel", 4, W, 0),
    Register(0x030, "QueueSel", 4, W, 0),
    Register(0x034, "QueueNumMax", 4, R, 0),
    Register(0x038, "QueueNum", 4, W, 0),
    Register(0x044, "QueueReady", 4, RW, 0),
    Register(0x050, "QueueNotify", 4, W, 0),
    Register(0x060, "InterruptStatus", 4, R, 0,
             (Field("UsedBuffer", 0), Field("ConfigChange", 1))),
    Register(0x064, "InterruptACK", 4, W, 0),
    Register(0x070, "Status", 4, RW, 0,
             (Field("ACKNOWLEDGE", 0), Field("DRIVER", 1), Field("DRIVER_OK", 2),
              Field("FEATURES_OK", 3), Field("DEVICE_NEEDS_RESET", 6), Field("FAILED", 7))),
    Register(0x080, "QueueDescLow", 4, W, 0),
    Register(0x084, "QueueDescHigh", 4, W, 0),
    Register(0x090, "QueueDriverLow", 4, W, 0),
    Register(0x094, "QueueDriverHigh", 4, W, 0),
    Register(0x0A0, "QueueDeviceLow", 4, W, 0),
    Register(0x0A4, "QueueDeviceHigh", 4, W, 0),
    Register(0x0FC, "ConfigGeneration", 4, R, 0),
)


#: QueueDesc/Driver/Device halves: (VirtQueue attribute, bit shift).
_QUEUE_ADDRESS = {
    "QueueDescLow": ("desc", 0), "QueueDescHigh": ("desc", 32),
    "QueueDriverLow": ("driver", 0), "QueueDriverHigh": ("driver", 32),
    "QueueDeviceLow": ("device", 0), "QueueDeviceHigh": ("device", 32),
}


class VirtqError(Exception):
    """A ring or descriptor chain is malformed (the device needs a reset)."""


@dataclass
class VirtQueue:
    """The driver-programmed state of one split virtqueue."""

    num_max: int
    num: int = 0
    ready: int = 0
    desc: int = 0
    driver: int = 0  # the available ring
    device: int = 0  # the used ring
    last_avail: int = 0  # next available-ring entry the device will consume
    used_idx: int = 0  # the device's used-ring index

    def reset(self) -> None:
        """Back to the state after a device reset."""
        self.num = self.ready = self.desc = self.driver = self.device = 0
        self.last_avail = self.used_idx = 0


@dataclass
class Chain:
    """One request: the device-readable then device-writable buffers of a
    descriptor chain, as (guest address, length) pairs, and its head index."""

    head: int
    readable: list[tuple[int, int]] = field(default_factory=list)
    writable: list[tuple[int, int]] = field(default_factory=list)

    @property
    def writable_len(self) -> int:
        """Total bytes the device may write."""
        return sum(n for _, n in self.writable)


def gather(dma: Dma, segments: list[tuple[int, int]], skip: int = 0) -> bytes:
    """The bytes of ``segments`` from byte ``skip`` on (DmaError outside RAM)."""
    out = bytearray()
    for addr, n in segments:
        if skip >= n:
            skip -= n
            continue
        out += dma.read(addr + skip, n - skip)
        skip = 0
    return bytes(out)


def scatter(dma: Dma, segments: list[tuple[int, int]], data: bytes) -> int:
    """Write ``data`` across ``segments`` in order; return bytes written."""
    done = 0
    for addr, n in segments:
        if done >= len(data):
            break
        piece = data[done : done + n]
        dma.write(addr, piece)
        done += len(piece)
    return done


class VirtioMmio(Device):
    """A virtio-mmio slot; with no subclass, an empty one (DeviceID 0)."""

    REGISTERS = REGISTERS
    STATE = ("status", "device_features_sel", "driver_features_sel", "driver_features",
             "queue_sel", "interrupt_status", "queues")

    #: The virtio device type (0 = none).
    DEVICE_ID = 0
    #: Number of virtqueues and their maximum size.
    NUM_QUEUES = 0
    QUEUE_NUM_MAX = 0

    def __init__(self, index: int = 0, irq: IrqLine | None = None, dma: Dma | None = None, *,
                 name: str | None = None, base: int | None = None) -> None:
        if not 0 <= index < memmap.VIRTIO_COUNT:
            raise ValueError(f"virtio-mmio slot {index} out of range 0..{memmap.VIRTIO_COUNT - 1}")
        super().__init__(name or f"virtio{index}",
                         memmap.VIRTIO_BASE + index * memmap.VIRTIO_SIZE if base is None else base,
                         memmap.VIRTIO_SIZE)
        self.index = index
        self.irq = irq if irq is not None else IrqLine()
        self.dma = dma
        self.status = 0
        self.device_features_sel = 0
        self.driver_features_sel = 0
        self.driver_features = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        self.queues = [VirtQueue(self.QUEUE_NUM_MAX) for _ in range(self.NUM_QUEUES)]
        self._level: bool | None = None
        self._config_reg = Register(CONFIG_OFFSET, "Config", len(self.config_space()), R)
        self.reset()

    # ----- what a device provides -------------------------------------------

    @property
    def device_features(self) -> int:
        """The feature bits the device offers (64 bits)."""
        return 0

    def config_space(self) -> bytes:
        """The device-specific configuration space at 0x100."""
        return b""

    def handle_request(self, queue: int, chain: Chain) -> int:
        """Serve one request; return the bytes written into ``chain.writable``.
        May raise DmaError (the device then needs a reset)."""
        raise NotImplementedError

    def device_reset(self) -> None:
        """Reset device-specific state (called from reset and Status = 0)."""

    # ----- register access ----------------------------------------------------

    def lookup(self, offset: int, size: int, is_write: bool) -> Register | None:
        if offset >= CONFIG_OFFSET and self._config_reg.width:
            if not is_write and offset + size <= CONFIG_OFFSET + self._config_reg.width:
                return self._config_reg
            return None
        if size != 4 or offset & 3:
            # The spec allows only 32-bit aligned accesses below the config space.
            return None
        return super().lookup(offset, size, is_write)

    def _queue(self) -> VirtQueue | None:
        return self.queues[self.queue_sel] if self.queue_sel < len(self.queues) else None

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        name = reg.name
        if name == "Config":
            return extract(int.from_bytes(self.config_space(), "little"), rel, size)
        if name in ("MagicValue", "Version", "VendorID"):
            return reg.reset
        if self.DEVICE_ID == 0:
            return 0
        q = self._queue()
        if name == "DeviceID":
            return self.DEVICE_ID
        if name == "DeviceFeatures":
            return (self.device_features >> (32 * self.device_features_sel)) & 0xFFFF_FFFF \
                if self.device_features_sel < 2 else 0
        if name == "QueueNumMax":
            return q.num_max if q else 0
        if name == "QueueReady":
            return q.ready if q else 0
        if name == "InterruptStatus":
            return self.interrupt_status
        if name == "Status":
            return self.status
        return 0  # ConfigGeneration: the configuration never changes

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        name = reg.name
        if self.DEVICE_ID == 0:
            log.warning("%s: write of %#x to %s of an empty virtio-mmio slot", self.name,
                        value, name)
            return
        q = self._queue()
        if name == "DeviceFeaturesSel":
            self.device_features_sel = value
        elif name == "DriverFeaturesSel":
            self.driver_features_sel = value
        elif name == "DriverFeatures":
            if self.driver_features_sel < 2 and not self.status & STATUS_FEATURES_OK:
                shift = 32 * self.driver_features_sel
                self.driver_features = (self.driver_features & ~(0xFFFF_FFFF << shift)) | (value << shift)
        elif name == "QueueSel":
            self.queue_sel = value
        elif name == "InterruptACK":
            self.interrupt_status &= ~value
        elif name == "Status":
            self._write_status(value)
        elif name == "QueueNotify":
            self.notify(value)
        elif q is None:
            log.warning("%s: %s write for queue %d, which does not exist", self.name, name,
                        self.queue_sel)
        elif name == "QueueNum":
            q.num = value
        elif name == "QueueReady":
            q.ready = value & 1
        else:
            attr, shift = _QUEUE_ADDRESS[name]
            old = getattr(q, attr)
            setattr(q, attr, (old & ~(0xFFFF_FFFF << shift)) | (value << shift))
        self.update_irq()

    def _write_status(self, value: int) -> None:
        if value == 0:
            self.reset()
            return
        value &= 0xFF
        if value & STATUS_FEATURES_OK and not self.status & STATUS_FEATURES_OK:
            # FEATURES_OK sticks only for an acceptable subset (spec §3.1.1):
            # a modern device requires VERSION_1 and refuses unoffered bits.
            accepted = self.driver_features & (1 << VIRTIO_F_VERSION_1)
            if not accepted or self.driver_features & ~self.device_features:
                value &= ~STATUS_FEATURES_OK
        # DEVICE_NEEDS_RESET is the device's to set: the driver cannot clear it.
        self.status = value | (self.status & STATUS_DEVICE_NEEDS_RESET)

    # ----- the virtqueue engine ---------------------------------------------

    def _needs_reset(self, why: str) -> None:
        log.warning("%s: %s: device needs reset", self.name, why)
        self.status |= STATUS_DEVICE_NEEDS_RESET
        if self.status & STATUS_DRIVER_OK:
            self.interrupt_status |= INT_CONFIG_CHANGE

    def _read_chain(self, q: VirtQueue, head: int) -> Chain:
        dma = self.dma
        assert dma is not None
        chain = Chain(head)
        table, limit, index = q.desc, q.num, head
        seen = 0
        indirect = False
        while True:
            if index >= limit:
                raise VirtqError(f"descriptor index {index} >= table size {limit}")
            seen += 1
            if seen > limit:
                raise VirtqError("descriptor chain loops")
            addr, length, flags, nxt = struct.unpack("<QIHH", dma.read(table + DESC_SIZE * index, DESC_SIZE))
            if flags & VIRTQ_DESC_F_INDIRECT:
                if indirect or flags & VIRTQ_DESC_F_NEXT:
                    raise VirtqError("nested or chained indirect descriptor")
                if not self.device_features & (1 << VIRTIO_F_RING_INDIRECT_DESC):
                    raise VirtqError("indirect descriptor without the feature")
                if length == 0 or length % DESC_SIZE:
                    raise VirtqError(f"indirect table length {length} is not a multiple of 16")
                table, limit, index, seen, indirect = addr, length // DESC_SIZE, 0, 0, True
                continue
            if flags & VIRTQ_DESC_F_WRITE:
                chain.writable.append((addr, length))
            elif chain.writable:
                raise VirtqError("device-readable descriptor after a writable one")
            else:
                chain.readable.append((addr, length))
            if not flags & VIRTQ_DESC_F_NEXT:
                return chain
            index = nxt

    def notify(self, queue: int) -> None:
        """QueueNotify: serve every available request of ``queue`` now."""
        if queue >= len(self.queues):
            log.warning("%s: notify of queue %d, which does not exist", self.name, queue)
            return
        q = self.queues[queue]
        if not q.ready or self.status & STATUS_DEVICE_NEEDS_RESET or self.dma is None:
            return
        if not 0 < q.num <= q.num_max:
            self._needs_reset(f"queue {queue} size {q.num} not in 1..{q.num_max}")
            return
        dma = self.dma
        served = False
        try:
            flags, avail_idx = struct.unpack("<HH", dma.read(q.driver, 4))
            while q.last_avail != avail_idx:
                slot = q.driver + 4 + 2 * (q.last_avail % q.num)
                head = int.from_bytes(dma.read(slot, 2), "little")
                chain = self._read_chain(q, head)
                written = self.handle_request(queue, chain)
                elem = q.device + 4 + USED_ELEM_SIZE * (q.used_idx % q.num)
                dma.write(elem, struct.pack("<II", head, written))
                q.used_idx = (q.used_idx + 1) & 0xFFFF
                # The element must be visible before the index that publishes it.
                dma.write(q.device + 2, q.used_idx.to_bytes(2, "little"))
                q.last_avail = (q.last_avail + 1) & 0xFFFF
                served = True
        except (DmaError, VirtqError) as exc:
            self._needs_reset(f"queue {queue}: {exc}")
            self.update_irq()
            return
        if served and not flags & VIRTQ_AVAIL_F_NO_INTERRUPT:
            self.interrupt_status |= INT_USED_BUFFER
        self.update_irq()

    # ----- reset, interrupts, snapshots -------------------------------------

    def reset(self) -> None:
        self.status = 0
        self.device_features_sel = 0
        self.driver_features_sel = 0
        self.driver_features = 0
        self.queue_sel = 0
        self.interrupt_status = 0
        for q in self.queues:
            q.reset()
        self.device_reset()
        self.update_irq(force=True)

    def update_irq(self, force: bool = False) -> None:
        """The interrupt line is high while InterruptStatus is non-zero."""
        level = self.interrupt_status != 0
        if force or level != self._level:
            self._level = level
            self.irq.set(level)
