"""The console server: several READLINE and READ clients wait at once,
served in the order they asked, while the console goes on serving WRITEs;
line editing; CR LF endings; raw reads."""

from __future__ import annotations

from pathlib import Path

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build

TASKS = Path(__file__).parent / "tasks"


def test_readers_are_served_in_turn(tmp_path):
    res = build(TASKS / "readers.toml", tmp_path / "readers.elf")
    m = Machine()
    m.boot(bios=str(res.elf))

    def until(text: bytes):
        stop = m.run(max_insns=20_000_000, until=lambda: text in m.uart_output)
        assert stop.kind == "until", (stop, m.uart_output)

    until(b"reader 3 ready\r\n")
    # Both readers wait in READLINE; their "ready" lines were WRITEs the
    # console served meanwhile.  Lines go to the readers in the order they
    # asked: reader 2 (index 2) asked first (same priority, lower index).
    m.uart_feed(b"one\r\n")
    until(b"reader 2 got one\r\n")
    m.uart_feed(b"two\n")
    until(b"reader 3 got two\r\n")
    # Next in the queue: the raw reader (8-byte buffer): the bytes as typed,
    # no echo; what is left goes to the next line reader.
    m.uart_feed(b"abcdefghij")
    until(b"raw got abcdefgh\r\n")
    m.uart_feed(b"\r")
    until(b"reader 2 got ij\r\n")
    assert b"abcdefgh" not in m.uart_output.replace(b"raw got abcdefgh", b"")
    # Editing: backspace (BS and DEL) erases; the echo shows "\b \b".
    m.uart_feed(b"thrx\x08ee\x7f\x7fee\r")
    until(b"reader 3 got three\r\n")
    out = m.uart_output.decode()
    assert "one\r\n" in out and "thrx\b \bee\b \b\b \bee\r\n" in out
    m.uart_feed(b"Z")
    until(b"raw got Z\r\n")
    # An empty line is a line too (LF right after a CR only ends the CR's line).
    m.uart_feed(b"\n\r")
    until(b"reader 2 got \r\n")
