"""Septum's in-process RISC-V toolchain (keystone's role for RV64).

``asm(source, address) -> bytes`` assembles a snippet; ``assemble(sources)``
assembles and links several files into an :class:`Image` (sections, symbols,
line table) that :mod:`septum.toolchain.elf` writes as an ELF executable.
"""

from septum.toolchain.assembler import DEFAULT_MARCH, Source, asm, assemble, parse_march
from septum.toolchain.errors import AsmError, ImageError, SeptumError
from septum.toolchain.image import Image, LineEntry, Section, SectionFlags, Symbol

__all__ = ["asm", "assemble", "Source", "AsmError", "ImageError", "SeptumError", "Image",
           "LineEntry", "Section", "SectionFlags", "Symbol", "parse_march", "DEFAULT_MARCH"]
