"""Peripheral access log (``--log-mmio``): every guest access to a device.

:class:`MmioLog` sets each device's ``observer`` (devices/base.py) and writes
one line per access — virtual time, pc, direction, device, register name,
offset, size, value::

    t=1234 pc=0x80000012 W uart0.THR+0x0/1 = 0x41

Undefined offsets show ``?`` as the register name.

The pc: DESIGN.md §3 says Unicorn's PC is stale inside ``mmio_map``
callbacks.  Measured under :meth:`Machine.run` it is exact — the address of
the accessing instruction — because the run loop always passes an
instruction count to ``emu_start``: Unicorn's per-instruction counting
helper synchronises the PC before every instruction, and Septum's build of
Unicorn sets it from the accessing instruction before every device access
(hypervisor/unicorn_build.py; tests/hypervisor/
test_mmiolog.py checks loads and stores in the middle of a block against the
symbols).  A ``UC_HOOK_MEM_*`` hook on the device window was measured too and
is *worse* there: it sees the PC of an earlier instruction.  So the observer
reads ``cpu.pc`` directly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, TextIO

from septum.hypervisor.devices.base import MmioAccess


@dataclass(frozen=True)
class MmioRecord:
    """One logged access: the device's report plus time and pc."""

    time: int
    pc: int
    access: MmioAccess

    def text(self) -> str:
        """The log line."""
        a = self.access
        reg = a.register if a.register is not None else "?"
        arrow = "W" if a.is_write else "R"
        op = "=" if a.is_write else "->"
        return (f"t={self.time} pc={self.pc:#x} {arrow} {a.device}.{reg}+{a.offset:#x}/"
                f"{a.size} {op} {a.value:#x}")


class MmioLog:
    """Log device accesses of ``machine`` to ``stream`` (and keep them in
    :attr:`records` when ``keep``)."""

    def __init__(self, machine: object, stream: TextIO | None = None,
                 keep: bool = False) -> None:
        self.m = machine
        self.stream = stream
        self.keep = keep
        self.records: list[MmioRecord] = []
        self.sink: Callable[[MmioRecord], None] | None = None

    def start(self) -> "MmioLog":
        """Install the observers."""
        for dev in self.m.devices:  # type: ignore[attr-defined]
            dev.observer = self._observe
        return self

    def stop(self) -> None:
        """Remove the observers."""
        for dev in self.m.devices:  # type: ignore[attr-defined]
            if dev.observer == self._observe:
                dev.observer = None

    def _observe(self, access: MmioAccess) -> None:
        pc = self.m.cpu.pc  # type: ignore[attr-defined]
        rec = MmioRecord(int(self.m.time), pc, access)  # type: ignore[attr-defined]
        if self.keep:
            self.records.append(rec)
        if self.stream is not None:
            self.stream.write(rec.text() + "\n")
        if self.sink is not None:
            self.sink(rec)


def open_log(path: str | None) -> TextIO:
    """The stream for ``--log-mmio [FILE]``: the file, or stderr when none/``-``."""
    if path in (None, "", "-"):
        return sys.stderr
    return open(path, "w")
