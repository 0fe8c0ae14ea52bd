"""The SiFive test finisher (``sifive,test0``): how a guest powers off.

One 32-bit register at offset 0 (QEMU hw/misc/sifive_test.c)::

    bits 15:0   status: 0x5555 FINISHER_PASS, 0x3333 FINISHER_FAIL,
                        0x7777 FINISHER_RESET
    bits 31:16  code: the exit code that goes with FINISHER_FAIL

A write of PASS calls ``on_finish("pass", 0)``, of FAIL
``on_finish("fail", code)``, of RESET ``on_finish("reset", 0)``.  Any other
value is logged and ignored, as QEMU ignores it.  Reads return 0.
"""

from __future__ import annotations

from typing import Callable

from septum.hypervisor import memmap

from .base import RW, Device, Field, Register, log, merge

FINISHER_FAIL = 0x3333
FINISHER_PASS = 0x5555
FINISHER_RESET = 0x7777

#: ``on_finish(kind, code)``: kind is "pass", "fail" or "reset".
FinishCallback = Callable[[str, int], None]


class TestFinisher(Device):
    """The poweroff/reboot device at 0x10_0000."""

    __test__ = False  # not a pytest test class despite the name

    REGISTERS = (
        Register(0x0, "finisher", 4, RW, 0, (Field("status", 0, 16), Field("code", 16, 16)),
                 "write a status (and code) to end the run"),
    )
    STATE = ()

    def __init__(self, on_finish: FinishCallback, *, name: str = "test",
                 base: int = memmap.TEST_BASE) -> None:
        super().__init__(name, base, memmap.TEST_SIZE)
        self.on_finish = on_finish

    def read_register(self, reg: Register, rel: int, size: int) -> int:
        return 0

    def write_register(self, reg: Register, rel: int, size: int, value: int) -> None:
        word = merge(0, rel, size, value)
        status, code = word & 0xFFFF, (word >> 16) & 0xFFFF
        if status == FINISHER_PASS:
            self.on_finish("pass", 0)
        elif status == FINISHER_FAIL:
            self.on_finish("fail", code)
        elif status == FINISHER_RESET:
            self.on_finish("reset", 0)
        else:
            log.warning("%s: ignored finisher value %#x", self.name, word)

    def reset(self) -> None:
        """Nothing to reset: the finisher holds no state."""
