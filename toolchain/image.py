"""What the assembler produces: an image of placed sections, symbols and lines.

An :class:`Image` is the linked result of one build — every section at its
final address, every symbol resolved, and a line table mapping addresses back
to ``file:line``.  The ELF writer (:mod:`septum.toolchain.elf`) and the flat
binary writer serialise it; the hypervisor's loader and tracer read the ELF
back through pyelftools.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from enum import IntFlag


class SectionFlags(IntFlag):
    """ELF section flags (``SHF_*``) the assembler understands."""

    WRITE = 0x1
    ALLOC = 0x2
    EXECINSTR = 0x4


@dataclass
class Section:
    """One output section at its final address.

    ``data`` holds the contents; for a NOBITS section (``.bss``) it is empty
    and ``size`` gives the length.
    """

    name: str
    address: int
    data: bytes
    flags: SectionFlags
    align: int = 1
    nobits: bool = False
    size: int = -1  # -1: len(data)

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = len(self.data)

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass
class Symbol:
    """A resolved symbol.

    ``kind`` is ``"func"``, ``"object"`` or ``"notype"`` (from ``.type``);
    ``binding`` is ``"global"`` or ``"local"``; ``section`` is the output
    section's name, or ``None`` for an absolute symbol (``.equ``).
    """

    name: str
    value: int
    size: int = 0
    kind: str = "notype"
    binding: str = "local"
    section: str | None = None


@dataclass(frozen=True)
class LineEntry:
    """The instruction or data at ``address`` came from ``file`` line ``line``."""

    address: int
    file: str
    line: int


@dataclass
class Image:
    """A linked program: sections, symbols, line table and entry point."""

    sections: list[Section] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    lines: list[LineEntry] = field(default_factory=list)  # sorted by address
    entry: int = 0
    #: The ISA the code was assembled for (ELF ``Tag_RISCV_arch``).
    march: str = "rv64imac_zicsr_zifencei"
    #: Whether the code may contain compressed instructions (ELF
    #: ``EF_RISCV_RVC``); ``None``: infer from ``march`` (GNU as sets the flag
    #: when the C extension is enabled or ``.option rvc`` appears).
    rvc: bool | None = None

    def symbol(self, name: str) -> Symbol | None:
        """The symbol called ``name`` (globals first), or ``None``."""
        found = None
        for sym in self.symbols:
            if sym.name == name:
                if sym.binding == "global":
                    return sym
                found = found or sym
        return found

    def section(self, name: str) -> Section | None:
        """The section called ``name``, or ``None``."""
        return next((s for s in self.sections if s.name == name), None)

    def line_for(self, address: int) -> LineEntry | None:
        """The line-table entry covering ``address``, or ``None`` if none does."""
        keys = [e.address for e in self.lines]
        i = bisect_right(keys, address) - 1
        if i < 0:
            return None
        entry = self.lines[i]
        if not any(s.address <= address < s.end for s in self.sections
                   if s.address <= entry.address < s.end):
            return None
        return entry

    def loadable(self) -> list[Section]:
        """Sections that occupy memory when loaded (ALLOC), by address."""
        return sorted((s for s in self.sections if s.flags & SectionFlags.ALLOC),
                      key=lambda s: s.address)

    def to_binary(self) -> bytes:
        """A flat binary from the lowest loadable address to the end of the
        last section with contents (NOBITS sections at the end are left out;
        gaps are zero-filled)."""
        secs = [s for s in self.loadable() if s.size]
        if not secs:
            return b""
        base = secs[0].address
        with_bits = [s for s in secs if not s.nobits]
        if not with_bits:
            return b""
        end = max(s.end for s in with_bits)
        out = bytearray(end - base)
        for s in with_bits:
            out[s.address - base:s.end - base] = s.data
        return bytes(out)

    def to_elf(self) -> bytes:
        """The image as an ELF64 RISC-V executable (see :mod:`.elf`)."""
        from septum.toolchain.elf import write_elf

        return write_elf(self)
