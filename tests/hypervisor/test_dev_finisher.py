"""SiFive test finisher: 0x5555 pass, 0x3333 | code << 16 fail, 0x7777
reset (QEMU hw/misc/sifive_test.c); anything else is logged and ignored."""

from __future__ import annotations

import logging

import pytest

from septum.hypervisor.devices.finisher import TestFinisher


def make() -> tuple[TestFinisher, list[tuple[str, int]]]:
    calls: list[tuple[str, int]] = []
    return TestFinisher(lambda kind, code: calls.append((kind, code))), calls


def test_pass_fail_reset() -> None:
    dev, calls = make()
    dev.write(0, 4, 0x5555)
    dev.write(0, 4, (42 << 16) | 0x3333)
    dev.write(0, 4, 0x7777)
    assert calls == [("pass", 0), ("fail", 42), ("reset", 0)]


def test_fail_code_through_halfword_stores() -> None:
    dev, calls = make()
    dev.write(0, 4, (0xFFFF << 16) | 0x3333)
    assert calls == [("fail", 0xFFFF)]


def test_other_values_are_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    dev, calls = make()
    with caplog.at_level(logging.WARNING, logger="septum.mmio"):
        dev.write(0, 4, 0x1234)
    assert calls == []
    assert any("0x1234" in r.getMessage() for r in caplog.records)


def test_reads_return_zero_and_reset_is_harmless() -> None:
    dev, calls = make()
    assert dev.read(0, 4) == 0
    dev.reset()
    dev.restore(dev.save())
    assert calls == []
