"""The device contract of Septum's board: register maps, interrupt lines, DMA.

Every memory-mapped device of the board is a :class:`Device`: a register map
(a table of :class:`Register` rows with the datasheet's names) plus the state
behind it and ONE method, :meth:`Device.update_irq`, that recomputes the
device's interrupt output(s) from that state.  It is called after every change
of state (the style of QEMU's hw/char/serial.c and Renode's peripherals).

The contract the machine (hypervisor/machine.py) relies on
==========================================================

``Device`` attributes and methods::

    name: str          "uart0", "clint", "plic", "test", "rtc", "virtio0".."virtio7"
    base: int          guest physical base address
    size: int          architected size of the window (the machine may map a
                       larger, page-rounded window: offsets >= size are
                       undefined and handled like any undefined offset)
    read(offset, size) -> int
        offset relative to base; size 1, 2, 4 or 8.  Unicorn hands 8-byte
        accesses to mmio callbacks as two 4-byte ones, low half first; an
        8-byte access that no single register covers is split the same way.
    write(offset, size, value) -> None
    reset() -> None    back to power-on state (interrupt outputs re-announced)
    next_event() -> int | None
        the virtual time (mtime ticks, 10 MHz) at which the device next
        changes state by itself (timer compare, RTC alarm), or None.
    advance(now) -> None
        bring state and interrupt lines up to virtual time ``now``.
    save() -> object   a deep, picklable copy of all guest-visible state
    restore(state) -> None
        put that state back and re-announce every interrupt output's level
        (so a restored CPU's mip and the device agree).
    observer: Callable[[MmioAccess], None] | None
        optional access log hook (issue 6's --log-mmio), called after every
        access, defined or not, with an :class:`MmioAccess`.

Undefined offsets (and reads of write-only / writes of read-only registers)
are logged through the ``logging`` logger ``"septum.mmio"`` at WARNING and
reported to the observer with ``register=None``; reads of them return 0 and
writes are ignored.  Nothing is dropped silently.  A guest's mistake never
raises a Python exception out of ``read``/``write``.

Time: a device that needs time takes ``clock: Callable[[], int]`` returning
the current virtual mtime (ticks of 10 MHz), advanced by the machine with
retired instructions, never the host clock.

Interrupts: a device drives a PLIC source through an :class:`IrqLine`
(``line.set(level)``; the PLIC hands them out with ``plic.line(n)``).  The
CLINT and the PLIC drive the hart's ``mip`` through
``on_irq(mip_bit: int, level: bool)`` where ``mip_bit`` is the bit number
(:class:`septum.toolchain.riscv.Irq`: MSI 3, MTI 7, SEI 9, MEI 11); they call
it when a level changes, and unconditionally from ``reset``/``restore``.

DMA: bus-master devices (virtio) take a ``dma`` object implementing
:class:`Dma` (``read(addr, n) -> bytes``, ``write(addr, data)``) over guest
physical memory, which raises :class:`DmaError` for any address outside RAM.

Constructors (one module each)::

    Clint(clock, on_irq)                                devices/clint.py
        .mtime (property), .set_mtime(v)
    Plic(on_irq); plic.line(n) -> IrqLine               devices/plic.py
    Uart16550(irq, on_tx); uart.feed(data: bytes)       devices/uart.py
    TestFinisher(on_finish)   on_finish(kind, code)     devices/finisher.py
        kind: "pass" (code 0), "fail" (code), "reset" (code 0)
    GoldfishRtc(clock, irq, epoch_ns=DEFAULT_EPOCH_NS)  devices/rtc.py
    VirtioMmio(index=0, irq=None, dma=None)             devices/virtio_mmio.py
        an empty slot (DeviceID 0) at VIRTIO_BASE + index * VIRTIO_SIZE
    VirtioBlk(irq, dma, path, readonly=False, *, index=0, serial=None,
              snapshot=False)                           devices/virtio_blk.py
        raises DiskError (a SeptumError) when the image cannot be opened;
        .close() closes the host file

Each constructor also accepts keyword-only ``name``/``base`` overrides;
defaults come from hypervisor/memmap.py.  Constructors reset the device, so
they announce the initial interrupt levels at once (``on_irq`` /
``irq.set``): the CLINT reports MTIP high, as QEMU has it out of reset
(mtimecmp 0 <= mtime 0).

Mapping: Unicorn's ``mmio_map`` needs page-sized windows; map
``size`` rounded up to 4 KiB and pass offsets through unchanged.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Iterable, Protocol

from septum.toolchain.errors import SeptumError

#: Logger for undefined or misused MMIO accesses (``--log-mmio`` and tests).
log = logging.getLogger("septum.mmio")

#: ``on_irq(mip_bit, level)`` of the CLINT and PLIC.
IrqCallback = Callable[[int, bool], None]
#: ``clock()`` -> current virtual mtime in ticks.
Clock = Callable[[], int]


class DmaError(SeptumError):
    """A device's DMA touched guest physical memory that is not RAM."""

    def __init__(self, addr: int, length: int) -> None:
        self.addr = addr
        self.length = length
        super().__init__(f"DMA of {length} bytes at {addr:#x} is outside RAM")


class Dma(Protocol):
    """Guest physical memory as a bus master sees it."""

    def read(self, addr: int, n: int) -> bytes:
        """Return ``n`` bytes at ``addr``; raise :class:`DmaError` outside RAM."""
        ...

    def write(self, addr: int, data: bytes) -> None:
        """Store ``data`` at ``addr``; raise :class:`DmaError` outside RAM."""
        ...


class BufferDma:
    """:class:`Dma` over a ``bytearray`` that stands for RAM at ``base``.

    Used by tests and by anything that holds RAM as a Python buffer.
    """

    def __init__(self, buffer: bytearray, base: int) -> None:
        self.buffer = buffer
        self.base = base

    def _check(self, addr: int, n: int) -> int:
        start = addr - self.base
        if n < 0 or start < 0 or start + n > len(self.buffer):
            raise DmaError(addr, n)
        return start

    def read(self, addr: int, n: int) -> bytes:
        """Return ``n`` bytes at ``addr``; raise :class:`DmaError` outside RAM."""
        start = self._check(addr, n)
        return bytes(self.buffer[start : start + n])

    def write(self, addr: int, data: bytes) -> None:
        """Store ``data`` at ``addr``; raise :class:`DmaError` outside RAM."""
        start = self._check(addr, len(data))
        self.buffer[start : start + len(data)] = data


class IrqLine:
    """One interrupt wire from a device to an interrupt controller input.

    ``set(level)`` drives the wire; the receiver's callback runs on every call
    (receivers are idempotent), and ``level`` remembers the last value.
    An ``IrqLine()`` with no receiver is a wire to nowhere (tests, empty slots).
    """

    __slots__ = ("_sink", "level")

    def __init__(self, sink: Callable[[bool], None] | None = None) -> None:
        self._sink = sink
        self.level = False

    def set(self, level: bool) -> None:
        """Drive the wire high (True) or low (False)."""
        self.level = bool(level)
        if self._sink is not None:
            self._sink(self.level)


@dataclass(frozen=True)
class MmioAccess:
    """One guest access to a device, as reported to ``Device.observer``.

    ``register`` is the register's name, or None for an undefined offset (or
    a read of a write-only / write to a read-only register); ``value`` is
    the value read or written (0 for an undefined read).
    """

    device: str
    offset: int
    register: str | None
    size: int
    value: int
    is_write: bool


@dataclass(frozen=True)
class Field:
    """A bit field of a register: ``name`` as the datasheet spells it,
    ``lsb`` its lowest bit, ``width`` its width in bits."""

    name: str
    lsb: int
    width: int = 1

    @property
    def mask(self) -> int:
        """The field's bits in place."""
        return ((1 << self.width) - 1) << self.lsb


#: Register access kinds: readable, writable, or both.
R, W, RW = "R", "W", "RW"


@dataclass(frozen=True)
class Register:
    """One row of a device's register table.

    ``width`` is in bytes; ``access`` is ``R``, ``W`` or ``RW``; ``reset`` is
    the power-on value; ``fields`` name its bits.  Two rows may share an
    offset when one is read-only and the other write-only (16550 RBR/THR).
    """

    offset: int
    name: str
    width: int
    access: str
    reset: int = 0
    fields: tuple[Field, ...] = field(default=())
    doc: str = ""

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError if the register has none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")


class RegisterMap:
    """Byte-offset lookup over a table of :class:`Register` rows.

    Keeps one map for reads and one for writes so that read-only and
    write-only registers may share an offset.
    """

    def __init__(self, registers: Iterable[Register]) -> None:
        self.registers: tuple[Register, ...] = tuple(registers)
        self.by_name: dict[str, Register] = {r.name: r for r in self.registers}
        self._read: dict[int, Register] = {}
        self._write: dict[int, Register] = {}
        for reg in self.registers:
            for byte in range(reg.offset, reg.offset + reg.width):
                if "R" in reg.access:
                    self._read[byte] = reg
                if "W" in reg.access:
                    self._write[byte] = reg

    def find(self, offset: int, size: int, is_write: bool) -> Register | None:
        """The register that wholly contains ``[offset, offset+size)`` for
        this direction, or None."""
        reg = (self._write if is_write else self._read).get(offset)
        if reg is None or offset + size > reg.offset + reg.width:
            return None
        return reg

    def any_at(self, offset: int) -> Register | None:
        """Any register covering ``offset`` in either direction (for naming
        misdirected accesses in the log), or None."""
        return self._read.get(offset) or self._write.get(offset)


def extract(value: int, rel: int, size: int) -> int:
    """The ``size`` bytes at byte ``rel`` of a little-endian register value."""
    return (value >> (8 * rel)) & ((1 << (8 * size)) - 1)


def merge(old: int, rel: int, size: int, value: int) -> int:
    """``old`` with the ``size`` bytes at byte ``rel`` replaced by ``value``
    (how a 32-bit half lands in a 64-bit register)."""
    mask = ((1 << (8 * size)) - 1) << (8 * rel)
    return (old & ~mask) | ((value << (8 * rel)) & mask)


class Device:
    """Base class of every memory-mapped device (see the module docstring).

    A subclass sets ``REGISTERS`` (or overrides :meth:`lookup`), lists its
    mutable state attributes in ``STATE`` (saved/restored by deep copy), and
    implements :meth:`read_register`, :meth:`write_register`, :meth:`reset`
    and :meth:`update_irq`.
    """

    #: The register table (class-level; build with :class:`Register` rows).
    REGISTERS: ClassVar[tuple[Register, ...]] = ()
    #: Names of the instance attributes that make up the device's state.
    STATE: ClassVar[tuple[str, ...]] = ()

    name: str
    base: int
    size: int

    def __init__(self, name: str, base: int, size: int) -> None:
        self.name = name
        self.base = base
        self.size = size
        self.observer: Callable[[MmioAccess], None] | None = None
        self.regmap = self._regmap()

    @classmethod
    def _regmap(cls) -> RegisterMap:
        # One map per class, built on first use: PLIC tables have hundreds of rows.
        cached = cls.__dict__.get("_REGMAP_CACHE")
        if cached is None:
            cached = RegisterMap(cls.REGISTERS)
            cls._REGMAP_CACHE = cached  # type: ignore[attr-defined]
        return cached

    # ----- the MMIO entry points -------------------------------------------

    def lookup(self, offset: int, size: int, is_write: bool) -> Register | None:
        """The register an access hits, or None if undefined.  Devices whose
        map depends on state (16550 DLAB) override this."""
        if offset >= self.size:
            return None
        return self.regmap.find(offset, size, is_write)

    def read(self, offset: int, size: int) -> int:
        """A guest load of ``size`` bytes at ``offset``; undefined reads give 0."""
        reg = self.lookup(offset, size, False)
        if reg is None:
            if size == 8 and self.lookup(offset, 4, False) is not None:
                low = self.read(offset, 4)
                return low | (self.read(offset + 4, 4) << 32)
            self._undefined(offset, size, 0, False)
            return 0
        value = self.read_register(reg, offset - reg.offset, size) & ((1 << (8 * size)) - 1)
        if self.observer is not None:
            self.observer(MmioAccess(self.name, offset, reg.name, size, value, False))
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        """A guest store of ``size`` bytes of ``value`` at ``offset``;
        undefined writes are logged and ignored."""
        value &= (1 << (8 * size)) - 1
        reg = self.lookup(offset, size, True)
        if reg is None:
            if size == 8 and self.lookup(offset, 4, True) is not None:
                self.write(offset, 4, value & 0xFFFF_FFFF)
                self.write(offset + 4, 4, value >> 32)
                return
            self._undefined(offset, size, value, True)
            return
        self.write_register(reg, offset - reg.offset, size, value)
        if self.observer is not None:
            self.observer(MmioAccess(self.name, offset, reg.name, size, value, True))

    def _undefined(self, offset: int, size: int, value: int, is_write: bool) -> None:
        other = self.lookup(offset, size, not is_write) if offset < self.size else None
        if other is not None:
            what = f"{'write to read-only' if is_write else 'read of write-only'} register {other.name}"
        else:
            what = f"{'write to' if is_write else 'read of'} undefined offset"
        if is_write:
            log.warning("%s: %s %#x (size %d, value %#x)", self.name, what, offset, size, value)
        else:
            log.warning("%s: %s %#x (size %d)", self.name, what, offset, size)
        if self.observer is not None:
            self.observer(MmioAccess(self.name, offset, None, size, value, is_write))

    # ----- what each device implements -------------------------------------

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        """Value of the ``size`` bytes at byte ``rel`` of ``reg`` (side
        effects of the read included)."""
        raise NotImplementedError

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        """Store ``size`` bytes of ``value`` at byte ``rel`` of ``reg``."""
        raise NotImplementedError

    def reset(self) -> None:
        """Return to the power-on state and re-announce interrupt outputs."""
        raise NotImplementedError

    def update_irq(self, force: bool = False) -> None:
        """THE function that recomputes the interrupt output(s) from state.
        ``force`` re-announces levels that did not change."""

    def next_event(self) -> int | None:
        """Virtual time of the next self-initiated change of state, or None."""
        return None

    def advance(self, now: int) -> None:
        """Bring state and interrupt lines up to virtual time ``now``."""

    def save(self) -> object:
        """A deep, picklable copy of the device's state."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.STATE}

    def restore(self, state: object) -> None:
        """Put back a :meth:`save` result and re-announce interrupt levels."""
        assert isinstance(state, dict)
        for name in self.STATE:
            setattr(self, name, copy.deepcopy(state[name]))
        self.update_irq(force=True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} @ {self.base:#x}+{self.size:#x}>"
