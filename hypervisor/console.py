"""The terminal side of the board's UART: host stdin/stdout, QEMU-style.

* Output: every byte the guest sends (UART, HTIF, semihosting) goes to
  stdout at once (unbuffered).
* Input from a terminal: the tty is put in raw mode for the run (restored
  on exit, also on errors); keys go to the UART; **Ctrl-A X** quits, Ctrl-A
  Ctrl-A sends one Ctrl-A, Ctrl-A H prints this help.  Input is polled
  between slices (no thread) and waited for when the guest sleeps in
  ``wfi`` with nothing else to wake it.
* Input from a pipe or file: all of it is read at start and queued in the
  UART (and semihosting's stdin), so ``echo cmds | septum run ...`` is
  deterministic.
"""

from __future__ import annotations

import os
import select
import sys
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from septum.hypervisor.machine import Machine

CTRL_A = 0x01
HELP = (b"\r\nC-a x    exit emulator\r\nC-a h    print this help\r\n"
        b"C-a C-a  sends C-a\r\n")


class Console:
    """Attach machine ``m``'s console to the process's stdin/stdout."""

    def __init__(self, m: "Machine", stdin: BinaryIO | None = None,
                 stdout: BinaryIO | None = None) -> None:
        self.m = m
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.stdout = stdout if stdout is not None else sys.stdout.buffer
        self.quit = False
        self._escape = False
        self._saved_tty: list | None = None
        self.interactive = False
        try:
            self._fd = self.stdin.fileno()
            self.interactive = os.isatty(self._fd)
        except (OSError, ValueError, AttributeError):
            self._fd = -1

    def _emit(self, data: bytes) -> None:
        self.stdout.write(data)
        self.stdout.flush()

    def __enter__(self) -> "Console":
        self.m.console_sink = self._emit
        if self.interactive:
            import termios
            import tty

            self._saved_tty = termios.tcgetattr(self._fd)
            tty.setraw(self._fd)
            self.m.idle_hook = self._wait_input
        else:
            data = self.stdin.read() if self._fd >= 0 or hasattr(self.stdin, "read") else b""
            if data:
                self.m.uart_feed(data)
                if self.m.semihost is not None:
                    self.m.semihost.stdin += data
        return self

    def __exit__(self, *exc: object) -> None:
        self.m.console_sink = None
        self.m.idle_hook = None
        if self._saved_tty is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None

    # ----- terminal input ----------------------------------------------------

    def poll(self) -> bool:
        """Take any typed keys without blocking; True once Ctrl-A X was hit
        (the run loop's ``until`` condition)."""
        if self.interactive and not self.quit:
            ready, _, _ = select.select([self._fd], [], [], 0)
            if ready:
                self._take(os.read(self._fd, 256))
        return self.quit

    def _wait_input(self) -> bool:
        """The guest sleeps with nothing scheduled: block for a key."""
        if self.quit:
            return False
        select.select([self._fd], [], [])
        self._take(os.read(self._fd, 256))
        return not self.quit

    def _take(self, data: bytes) -> None:
        out = bytearray()
        for byte in data:
            if self._escape:
                self._escape = False
                if byte in (ord("x"), ord("X")):
                    self.quit = True
                    break
                if byte == CTRL_A:
                    out.append(CTRL_A)
                elif byte in (ord("h"), ord("H")):
                    self._emit(HELP)
            elif byte == CTRL_A:
                self._escape = True
            else:
                out.append(byte)
        if out:
            self.m.uart_feed(bytes(out))
            if self.m.semihost is not None:
                self.m.semihost.stdin += out
