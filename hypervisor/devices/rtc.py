"""The Goldfish real-time clock (``google,goldfish-rtc``), IRQ 11.

Register map (QEMU hw/rtc/goldfish_rtc.c; Android's GOLDFISH-VIRTUAL-HARDWARE)::

    0x00  TIME_LOW         R/W  low 32 bits of the time in ns since 1970;
                                a read latches the high half for TIME_HIGH
    0x04  TIME_HIGH        R/W  the latched high half (write: set the high half)
    0x08  ALARM_LOW        R/W  low half of the alarm; a write arms the alarm
    0x0c  ALARM_HIGH       R/W  high half of the alarm (write it first)
    0x10  IRQ_ENABLED      R/W  bit 0: raise the IRQ when the alarm fires
    0x14  CLEAR_ALARM      W    disarm the alarm
    0x18  ALARM_STATUS     R    1 while an alarm is armed
    0x1c  CLEAR_INTERRUPT  W    acknowledge the interrupt

Time is deterministic: ns = epoch_ns + clock() * 100 (the clock ticks at 10
MHz) + an offset that guest writes of TIME_LOW/TIME_HIGH change.  The
default epoch is 2026-01-01T00:00:00Z, never the host's clock.
"""

from __future__ import annotations

from septum.hypervisor import memmap

from .base import R, RW, W, Clock, Device, Field, IrqLine, Register, extract, merge

#: 2026-01-01T00:00:00Z in ns since the Unix epoch: the board's default wall clock.
DEFAULT_EPOCH_NS = 1_767_225_600 * 1_000_000_000

#: Nanoseconds per tick of the 10 MHz virtual clock.
NS_PER_TICK = 1_000_000_000 // memmap.TIMEBASE_FREQ

MASK64 = (1 << 64) - 1

RTC_TIME_LOW = 0x00
RTC_TIME_HIGH = 0x04
RTC_ALARM_LOW = 0x08
RTC_ALARM_HIGH = 0x0C
RTC_IRQ_ENABLED = 0x10
RTC_CLEAR_ALARM = 0x14
RTC_ALARM_STATUS = 0x18
RTC_CLEAR_INTERRUPT = 0x1C


class GoldfishRtc(Device):
    """Wall clock with one alarm, driven by the virtual clock."""

    REGISTERS = (
        Register(RTC_TIME_LOW, "TIME_LOW", 4, RW, 0, (), "ns since 1970, low half (latches high)"),
        Register(RTC_TIME_HIGH, "TIME_HIGH", 4, RW, 0, (), "latched high half"),
        Register(RTC_ALARM_LOW, "ALARM_LOW", 4, RW, 0, (), "alarm low half; write arms"),
        Register(RTC_ALARM_HIGH, "ALARM_HIGH", 4, RW, 0, (), "alarm high half"),
        Register(RTC_IRQ_ENABLED, "IRQ_ENABLED", 4, RW, 0, (Field("IRQ_ENABLED", 0),)),
        Register(RTC_CLEAR_ALARM, "CLEAR_ALARM", 4, W, 0),
        Register(RTC_ALARM_STATUS, "ALARM_STATUS", 4, R, 0, (Field("ALARM_RUNNING", 0),)),
        Register(RTC_CLEAR_INTERRUPT, "CLEAR_INTERRUPT", 4, W, 0),
    )
    STATE = ("tick_offset", "alarm_next", "alarm_running", "irq_pending", "irq_enabled",
             "time_high")

    def __init__(self, clock: Clock, irq: IrqLine, epoch_ns: int = DEFAULT_EPOCH_NS, *,
                 name: str = "rtc", base: int = memmap.RTC_BASE) -> None:
        super().__init__(name, base, memmap.RTC_SIZE)
        self.clock = clock
        self.irq = irq
        self.epoch_ns = epoch_ns
        self.tick_offset = 0  # ns added by guest writes to TIME_*
        self.alarm_next = 0
        self.alarm_running = 0
        self.irq_pending = 0
        self.irq_enabled = 0
        self.time_high = 0
        self._level: bool | None = None
        self.reset()

    def now_ns(self) -> int:
        """The RTC's current time in ns since 1970."""
        return (self.epoch_ns + self.clock() * NS_PER_TICK + self.tick_offset) & MASK64

    # ----- the alarm --------------------------------------------------------

    def _fire_if_due(self) -> None:
        if self.alarm_running and self.alarm_next <= self.now_ns():
            self.alarm_running = 0
            self.irq_pending = 1

    def next_event(self) -> int | None:
        """The virtual clock value at which the armed alarm fires, or None."""
        if not self.alarm_running:
            return None
        due_ns = self.alarm_next - self.epoch_ns - self.tick_offset
        # Round up: the alarm fires at the first tick whose time is >= alarm_next.
        return max(0, -(-due_ns // NS_PER_TICK))

    def advance(self, now: int) -> None:
        """Fire the alarm if the virtual time has reached it."""
        self._fire_if_due()
        self.update_irq()

    # ----- registers --------------------------------------------------------

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        off = reg.offset
        if off == RTC_TIME_LOW:
            now = self.now_ns()
            self.time_high = now >> 32
            value = now & 0xFFFF_FFFF
        elif off == RTC_TIME_HIGH:
            value = self.time_high
        elif off == RTC_ALARM_LOW:
            value = self.alarm_next & 0xFFFF_FFFF
        elif off == RTC_ALARM_HIGH:
            value = self.alarm_next >> 32
        elif off == RTC_IRQ_ENABLED:
            value = self.irq_enabled
        else:  # ALARM_STATUS
            self._fire_if_due()
            self.update_irq()
            value = self.alarm_running
        return extract(value, rel, size)

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        off = reg.offset
        if off in (RTC_TIME_LOW, RTC_TIME_HIGH):
            now = self.now_ns()
            shift = 0 if off == RTC_TIME_LOW else 32
            half = merge((now >> shift) & 0xFFFF_FFFF, rel, size, value)
            new = (now & ~(0xFFFF_FFFF << shift)) | (half << shift)
            self.tick_offset = (self.tick_offset + new - now) & MASK64
        elif off == RTC_ALARM_LOW:
            low = merge(self.alarm_next & 0xFFFF_FFFF, rel, size, value)
            self.alarm_next = (self.alarm_next & ~0xFFFF_FFFF) | low
            self.alarm_running = 1
            self._fire_if_due()
        elif off == RTC_ALARM_HIGH:
            high = merge(self.alarm_next >> 32, rel, size, value)
            self.alarm_next = (self.alarm_next & 0xFFFF_FFFF) | (high << 32)
        elif off == RTC_IRQ_ENABLED:
            self.irq_enabled = merge(self.irq_enabled, rel, size, value) & 1
        elif off == RTC_CLEAR_ALARM:
            self.alarm_running = 0
        elif off == RTC_CLEAR_INTERRUPT:
            self.irq_pending = 0
        self.update_irq()

    def reset(self) -> None:
        """As QEMU: alarm, pending and enable cleared; the time keeps going."""
        self.alarm_next = 0
        self.alarm_running = 0
        self.irq_pending = 0
        self.irq_enabled = 0
        self.update_irq(force=True)

    # ----- interrupts -------------------------------------------------------

    def update_irq(self, force: bool = False) -> None:
        """IRQ = an alarm fired (not yet cleared) and IRQ_ENABLED."""
        level = bool(self.irq_pending and self.irq_enabled)
        if force or level != self._level:
            self._level = level
            self.irq.set(level)
