"""HTIF: the host-target interface of spike, through ``tohost``/``fromhost``.

An ELF with a ``tohost`` symbol (riscv-tests, many bare-metal test suites)
talks to the host by storing a 64-bit command there::

    bits 63..56  device     bits 55..48  command     bits 47..0  payload

* device 0, command 0, payload odd: end of test, exit code ``payload >> 1``
  (``tohost = 1`` is a pass, exit code 0);
* device 0, command 0, payload even: pointer to a ``magic_mem`` syscall
  block of eight 64-bit words; ``SYS_write`` (64) to fd 1/2 is served (the
  bytes go to the console), the result lands in word 0 and ``fromhost``
  is set to 1, as spike's front-end server does;
* device 1 (bcd, the console), command 1: write the payload's low byte.

The host clears ``tohost`` once it has taken a command.  The machine polls
``tohost`` at every slice boundary (one 8-byte read per slice), so a command
is seen at most one slice after the store — no hook on the data path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from septum.hypervisor.machine import Machine

SYS_WRITE = 64
DEV_SYSCALL = 0
DEV_BCD = 1
BCD_WRITE = 1


class Htif:
    """The tohost/fromhost mailbox of machine ``m``."""

    def __init__(self, m: "Machine", tohost: int, fromhost: int | None) -> None:
        self.m = m
        self.tohost = tohost
        self.fromhost = fromhost

    def _read64(self, addr: int) -> int:
        return int.from_bytes(self.m.read_phys(addr, 8), "little")

    def _write64(self, addr: int, value: int) -> None:
        self.m.cpu.uc.mem_write(addr, value.to_bytes(8, "little"))

    def poll(self) -> None:
        """Serve a pending command, if any (called between slices)."""
        value = self._read64(self.tohost)
        if not value:
            return
        self._write64(self.tohost, 0)
        device, cmd, payload = value >> 56, (value >> 48) & 0xFF, value & ((1 << 48) - 1)
        if device == DEV_SYSCALL and cmd == 0:
            if payload & 1:
                self.m.request_stop("poweroff", payload >> 1)
            else:
                self._syscall(payload)
        elif device == DEV_BCD and cmd == BCD_WRITE:
            self.m.console_write(bytes((payload & 0xFF,)))

    def _syscall(self, block: int) -> None:
        try:
            words = [self._read64(block + 8 * i) for i in range(4)]
        except Exception:  # a bad pointer: the guest's mistake, answered -1
            words = [0, 0, 0, 0]
        num, fd, buf, length = words
        result = -1
        if num == SYS_WRITE and fd in (1, 2):
            try:
                self.m.console_write(self.m.read_phys(buf, length))
                result = length
            except Exception:
                result = -14  # -EFAULT
        try:
            self._write64(block, result & ((1 << 64) - 1))
        except Exception:
            pass
        if self.fromhost is not None:
            self._write64(self.fromhost, 1)

    def save(self) -> object:
        """HTIF keeps its state in guest RAM: nothing of its own."""
        return None

    def restore(self, state: object) -> None:
        """Nothing to restore (see :meth:`save`)."""
