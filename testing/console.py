"""An expect-style console on a machine's UART, with timeouts in virtual time.

:class:`Console` watches everything the guest prints (``machine.uart_output``)
and types into its UART receiver.  ``expect(regex, timeout=ms)`` runs the
machine until the pattern appears after the last match, or until ``timeout``
milliseconds of *virtual* time (the CLINT's 10 MHz ``mtime``) have passed:
no host clock is involved, so a test passes or fails the same way on any
host.  :attr:`Console.transcript` is the whole conversation, attached to a
failing test's report by the plugin.
"""

from __future__ import annotations

import re

from septum.hypervisor.machine import Machine, StopReason
from septum.toolchain.errors import SeptumError

#: mtime ticks per virtual millisecond (the board's 10 MHz timebase).
TICKS_PER_MS = 10_000

#: Instructions ``expect`` lets the guest run at most, whatever its timeout:
#: a guard against a guest that spins without advancing virtual time.
MAX_EXPECT_INSNS = 2_000_000_000


class ExpectTimeout(SeptumError, AssertionError):
    """``expect`` gave up: the pattern did not appear in time (or the
    machine stopped).  An AssertionError, so pytest reports it as a test
    failure with the text seen."""


class Console:
    """Expect/send on ``machine``'s UART (see the module docstring)."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        #: Offset in ``uart_output`` where the next ``expect`` starts looking.
        self.pos = len(machine.uart_output)
        self._sent: list[tuple[int, bytes]] = []
        self.last_stop: StopReason | None = None

    @property
    def output(self) -> bytes:
        """Everything the guest printed (since boot or the snapshot's boot)."""
        return bytes(self.m.uart_output)

    @property
    def transcript(self) -> str:
        """Guest output with the host's input marked where it was typed
        (``«typed»``), as text."""
        out = self.output
        parts, last = [], 0
        for at, data in self._sent:
            at = min(at, len(out))
            parts.append(out[last:at].decode(errors="replace"))
            parts.append("\u00ab" + data.decode(errors="replace") + "\u00bb")
            last = at
        parts.append(out[last:].decode(errors="replace"))
        return "".join(parts)

    def send(self, data: bytes | str) -> None:
        """Type ``data`` into the UART."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        self._sent.append((len(self.m.uart_output), raw))
        self.m.uart_feed(raw)

    def sendline(self, line: bytes | str = b"") -> None:
        """Type ``line`` and a newline."""
        raw = line.encode() if isinstance(line, str) else bytes(line)
        self.send(raw + b"\n")

    def expect(self, pattern: bytes | str | re.Pattern, timeout: float = 1000) -> re.Match:
        """Run until ``pattern`` matches the output after the last match
        (or after the start); return the match (of bytes when ``pattern``
        is bytes, else of text).  ``timeout`` is in virtual milliseconds.
        Raises :class:`ExpectTimeout` when time runs out or the machine
        stops (poweroff, hang)."""
        text_mode = isinstance(pattern, str) or (isinstance(pattern, re.Pattern)
                                                  and isinstance(pattern.pattern, str))
        rx = re.compile(pattern) if not isinstance(pattern, re.Pattern) else pattern
        deadline = self.m.clock() + int(timeout * TICKS_PER_MS)
        found: list[re.Match] = []

        def check() -> bool:
            buf = self.m.uart_output[self.pos:]
            hay = bytes(buf).decode(errors="replace") if text_mode else bytes(buf)
            match = rx.search(hay)
            if match is not None:
                found.append(match)
                return True
            return self.m.clock() >= deadline

        start = self.m.instret
        if not check():
            while True:
                budget = MAX_EXPECT_INSNS - (self.m.instret - start)
                reason = self.m.run(max_insns=max(1, budget), until=check)
                self.last_stop = reason
                if reason.kind == "reset":
                    self.m.reset()
                    continue
                break
            if not found:
                check()  # stopped (poweroff, deadline): what was printed last counts
        if not found:
            state = "still running" if self.last_stop is None or \
                self.last_stop.kind == "until" else f"stopped: {self.last_stop}"
            raise ExpectTimeout(f"expected {rx.pattern!r} within {timeout} virtual ms; "
                                f"machine {state}; output since the "
                                f"last match: {bytes(self.m.uart_output[self.pos:])[-400:]!r}")
        match = found[0]
        consumed = match.end()
        if text_mode:
            consumed = len(match.string[:consumed].encode(errors="replace"))
        self.pos += consumed
        return match
