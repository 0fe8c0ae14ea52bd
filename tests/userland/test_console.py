"""The console server: several READLINE clients wait at once and are
served in the order they asked, while the console goes on serving WRITEs;
line editing; CR LF endings; raw READs."""

from __future__ import annotations

import re
from pathlib import Path

from elftools.elf.elffile import ELFFile

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build

TASKS = Path(__file__).parent / "tasks"


class Board:
    """A built test system on the board, with the console's reader count."""

    def __init__(self, tmp_path: Path, manifest: str) -> None:
        res = build(TASKS / manifest, tmp_path / "console.elf")
        with open(res.elf, "rb") as f:
            syms = ELFFile(f).get_section_by_name(".symtab")
            (sym,) = syms.get_symbol_by_name("nreaders")  # the console's only
        self.nreaders = sym["st_value"]
        self.m = Machine()
        self.m.boot(bios=str(res.elf))

    def readers(self) -> int:
        return int.from_bytes(self.m.read_phys(self.nreaders, 8), "little")

    def until(self, cond) -> None:
        stop = self.m.run(max_insns=20_000_000, until=cond)
        assert stop.kind == "until", (stop, self.m.uart_output)

    def type(self, data: bytes, waiting: int) -> None:
        """Type ``data`` once ``waiting`` readers are queued."""
        self.until(lambda: self.readers() == waiting)
        self.m.uart_feed(data)

    def expect(self, text: bytes) -> None:
        self.until(lambda: text in self.m.uart_output)


def test_readers_are_served_in_the_order_they_asked(tmp_path):
    b = Board(tmp_path, "readers.toml")
    # Both readers wait in READLINE; their "ready" lines were WRITEs the
    # console served meanwhile (while the other reader was queued).
    b.type(b"one\r\n", waiting=2)
    b.expect(b" got one\r\n")
    b.type(b"two\n", waiting=2)
    b.expect(b" got two\r\n")
    b.type(b"three\r", waiting=2)
    b.expect(b" got three\r\n")
    out = b.m.uart_output.decode()
    assert "reader 2 ready\r\n" in out and "reader 3 ready\r\n" in out
    who = {line: re.search(rf"reader (\d) got {line}\r\n", out).group(1)
           for line in ("one", "two", "three")}
    # The line went to the reader at the head of the queue, which then
    # asked again behind the other: they alternate.
    assert who["one"] != who["two"] and who["three"] == who["one"]
    # Echo: what was typed, CR LF for each line end; LF after CR is one end.
    assert out.count("one\r\n") == 2 and "three\r\n" in out


def test_line_editing(tmp_path):
    b = Board(tmp_path, "readers.toml")
    # Backspace (BS and DEL) erases; the echo shows "\b \b"; other control
    # characters are ignored; an empty line is a line.
    b.type(b"thrx\x08ee\x7f\x7fe\x01e\r", waiting=2)
    b.expect(b" got three\r\n")
    assert b"thrx\b \bee\b \b\b \bee\r\n" in b.m.uart_output
    b.type(b"\r", waiting=2)
    b.expect(b" got \r\n")


def test_raw_read_then_line(tmp_path):
    b = Board(tmp_path, "mixed.toml")
    # READ: the bytes there, at most the buffer's 8, without echo; the rest
    # waits for the next read (a READLINE here: edited and echoed).
    b.type(b"abcdefghij", waiting=1)
    b.expect(b"raw got abcdefgh\r\n")
    b.type(b"k\r", waiting=1)
    b.expect(b"line got ijk\r\n")
    out = bytes(b.m.uart_output)
    assert out.count(b"abcdefgh") == 1  # no echo of the raw bytes
    assert b"ijk\r\nline got" in out
