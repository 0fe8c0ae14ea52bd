"""Manifest validation: every mistake names the key at fault."""

from __future__ import annotations

import pytest

from septum.toolchain.errors import ImageError
from septum.toolchain.manifest import DEVICES, parse_manifest
from septum.hypervisor import memmap


@pytest.fixture
def src(tmp_path):
    (tmp_path / "a.S").write_text("nop\n")
    return tmp_path / "system.toml"


GOOD = """
[kernel]
tick = 5000
[tasks.sup]
source = "a.S"
priority = 0
supervisor = true
calls = ["drv"]
[tasks.drv]
source = ["a.S"]
priority = 2
stack = 8192
notifies = ["sup"]
devices = ["uart0", "virtio3"]
interrupts = { uart0 = 4, virtio3 = 5 }
"""


def test_good_manifest(src):
    m = parse_manifest(GOOD, src)
    assert m.tick == 5000
    assert [t.name for t in m.tasks] == ["sup", "drv"]
    assert m.supervisor.name == "sup"
    drv = m.task("drv")
    assert drv.index == 1 and drv.stack == 8192 and drv.priority == 2
    assert drv.interrupts == {memmap.UART0_IRQ: 4, memmap.VIRTIO_IRQ_BASE + 3: 5}
    assert [d.base for d in drv.devices] == [memmap.UART0_BASE,
                                             memmap.VIRTIO_BASE + 3 * memmap.VIRTIO_SIZE]
    assert DEVICES["test"].base == memmap.TEST_BASE


@pytest.mark.parametrize("edit, key", [
    (("tick = 5000", "tick = 5"), "kernel.tick"),
    (("tick = 5000", "tock = 1"), "kernel.tock"),
    (("priority = 2", "priority = 8"), "tasks.drv.priority"),
    (("priority = 2", 'priority = "2"'), "tasks.drv.priority"),
    (("stack = 8192", "stack = 100"), "tasks.drv.stack"),
    (('calls = ["drv"]', 'calls = ["nobody"]'), "tasks.sup.calls"),
    (('calls = ["drv"]', 'calls = ["sup"]'), "tasks.sup.calls"),
    (('devices = ["uart0", "virtio3"]', 'devices = ["uart9", "virtio3"]'), "tasks.drv.devices"),
    (("uart0 = 4", "uart0 = 31"), "tasks.drv.interrupts.uart0"),
    (("uart0 = 4", "uart0 = 5"), "tasks.drv.interrupts.virtio3"),  # bit used twice
    (('source = ["a.S"]', 'source = ["missing.S"]'), "tasks.drv.source"),
    (("supervisor = true", "supervisor = false"), "tasks"),
    (("stack = 8192", "colour = 1"), "tasks.drv.colour"),
])
def test_errors_name_the_key(src, edit, key):
    with pytest.raises(ImageError) as exc:
        parse_manifest(GOOD.replace(*edit), src)
    assert f": {key}:" in str(exc.value)
    assert str(src) in str(exc.value)


def test_interrupt_needs_the_device(src):
    text = GOOD.replace('devices = ["uart0", "virtio3"]', 'devices = ["virtio3"]')
    with pytest.raises(ImageError, match="tasks.drv.interrupts.uart0"):
        parse_manifest(text, src)


def test_device_granted_twice(src):
    text = GOOD.replace('calls = ["drv"]', 'calls = ["drv"]\ndevices = ["uart0"]')
    with pytest.raises(ImageError, match="already granted"):
        parse_manifest(text, src)


def test_bad_toml(src):
    with pytest.raises(ImageError, match="invalid TOML"):
        parse_manifest("[tasks\n", src)
