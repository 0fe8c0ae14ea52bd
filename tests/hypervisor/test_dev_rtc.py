"""Goldfish RTC: deterministic time from the virtual clock, the alarm and
its interrupt (QEMU hw/rtc/goldfish_rtc.c register semantics)."""

from __future__ import annotations

import calendar
import pickle

from septum.hypervisor.devices.base import IrqLine
from septum.hypervisor.devices.rtc import DEFAULT_EPOCH_NS, GoldfishRtc

TIME_LOW, TIME_HIGH, ALARM_LOW, ALARM_HIGH = 0x00, 0x04, 0x08, 0x0C
IRQ_ENABLED, CLEAR_ALARM, ALARM_STATUS, CLEAR_INTERRUPT = 0x10, 0x14, 0x18, 0x1C
NS_PER_TICK = 100  # a 10 MHz timebase


class Board:
    def __init__(self, epoch_ns: int = DEFAULT_EPOCH_NS) -> None:
        self.now = 0
        self.irq = IrqLine()
        self.rtc = GoldfishRtc(lambda: self.now, self.irq, epoch_ns)

    def tick(self, n: int) -> None:
        self.now += n
        self.rtc.advance(self.now)

    def time(self) -> int:
        low = self.rtc.read(TIME_LOW, 4)
        return (self.rtc.read(TIME_HIGH, 4) << 32) | low

    def alarm(self, ns: int) -> None:
        self.rtc.write(ALARM_HIGH, 4, ns >> 32)
        self.rtc.write(ALARM_LOW, 4, ns & 0xFFFF_FFFF)


def test_default_epoch_is_2026_01_01_utc() -> None:
    assert DEFAULT_EPOCH_NS == calendar.timegm((2026, 1, 1, 0, 0, 0)) * 10**9
    b = Board()
    assert b.time() == DEFAULT_EPOCH_NS


def test_reset_values() -> None:
    b = Board()
    for off in (ALARM_LOW, ALARM_HIGH, IRQ_ENABLED, ALARM_STATUS):
        assert b.rtc.read(off, 4) == 0
    assert b.irq.level is False


def test_time_advances_with_the_virtual_clock_only() -> None:
    b = Board(epoch_ns=5_000)
    b.tick(10_000_000)  # one virtual second
    assert b.time() == 5_000 + 10**9
    assert b.time() == 5_000 + 10**9  # no host time leaks in


def test_time_high_is_latched_by_time_low() -> None:
    b = Board(epoch_ns=0xFFFF_FF00)
    assert b.rtc.read(TIME_LOW, 4) == 0xFFFF_FF00
    b.tick(10)  # crosses 2**32 ns
    assert b.rtc.read(TIME_HIGH, 4) == 0  # still the latched half
    assert b.rtc.read(TIME_LOW, 4) == (0xFFFF_FF00 + 1000) & 0xFFFF_FFFF
    assert b.rtc.read(TIME_HIGH, 4) == 1


def test_setting_the_time() -> None:
    b = Board()
    b.rtc.write(TIME_HIGH, 4, 0)
    b.rtc.write(TIME_LOW, 4, 1234)
    assert b.time() == 1234
    b.tick(1)
    assert b.time() == 1234 + NS_PER_TICK


def test_alarm_fires_and_interrupts() -> None:
    b = Board()
    b.rtc.write(IRQ_ENABLED, 4, 1)
    due = DEFAULT_EPOCH_NS + 1_000_050  # 1.00005 ms after the epoch
    b.alarm(due)
    assert b.rtc.read(ALARM_STATUS, 4) == 1
    assert b.rtc.next_event() == 10_001  # first tick whose time >= alarm
    b.tick(10_000)
    assert b.irq.level is False
    b.tick(1)
    assert b.irq.level is True
    assert b.rtc.read(ALARM_STATUS, 4) == 0 and b.rtc.next_event() is None
    b.rtc.write(CLEAR_INTERRUPT, 4, 1)
    assert b.irq.level is False


def test_alarm_in_the_past_fires_at_once_and_irq_enable_gates() -> None:
    b = Board()
    b.alarm(0)
    assert b.rtc.read(ALARM_STATUS, 4) == 0
    assert b.irq.level is False  # pending, but IRQ_ENABLED is 0
    b.rtc.write(IRQ_ENABLED, 4, 1)
    assert b.irq.level is True


def test_clear_alarm_disarms() -> None:
    b = Board()
    b.rtc.write(IRQ_ENABLED, 4, 1)
    b.alarm(DEFAULT_EPOCH_NS + 100)
    b.rtc.write(CLEAR_ALARM, 4, 1)
    assert b.rtc.next_event() is None
    b.tick(100)
    assert b.irq.level is False


def test_snapshot_round_trip() -> None:
    b = Board()
    b.rtc.write(IRQ_ENABLED, 4, 1)
    b.alarm(DEFAULT_EPOCH_NS + 500)
    state = pickle.loads(pickle.dumps(b.rtc.save()))
    saved_now = b.now
    b.tick(5)
    assert b.irq.level is True
    b.now = saved_now  # the machine restores its virtual clock with the devices
    b.rtc.restore(state)
    assert b.irq.level is False and b.rtc.read(ALARM_STATUS, 4) == 1
