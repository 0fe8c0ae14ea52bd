"""DWARF line tables: the ``address -> file:line`` map of an image, encoded.

The ELF writer (:mod:`septum.toolchain.elf`) stores an image's line table the
way GNU ``as -g`` does for assembly sources: one compile unit per section that
has line entries, each unit a ``DW_TAG_compile_unit`` whose ``DW_AT_stmt_list``
points at its own line-number program in ``.debug_line``.  Binutils
(``objdump -dl``, ``readelf --debug-dump``) and pyelftools find lines through
the compile units, and ``.debug_aranges`` lets them go straight to the unit
covering an address.

Versions are chosen for the widest reach: line programs are DWARF 3 (what
GNU as 2.40 writes, and what every pyelftools and binutils reads), compile
units DWARF 3 with inline strings, ``.debug_aranges`` version 2.  The byte
layouts follow the DWARF 3 standard, sections 6.1.2 (aranges), 6.2 (line
number information) and 7.5 (unit headers, abbreviations).
"""

from __future__ import annotations

import posixpath
import struct
from dataclasses import dataclass, field

from septum.toolchain.image import LineEntry

# Standard opcodes (DWARF 3 §6.2.5.2) and extended opcodes (§6.2.5.3).
DW_LNS_copy = 1
DW_LNS_advance_pc = 2
DW_LNS_advance_line = 3
DW_LNS_set_file = 4
DW_LNE_end_sequence = 1
DW_LNE_set_address = 2

# The line program header parameters, the same as GNU as uses: any special
# opcode covers a line delta in [LINE_BASE, LINE_BASE + LINE_RANGE).
LINE_BASE = -5
LINE_RANGE = 14
OPCODE_BASE = 13
#: Operand counts of the standard opcodes 1..12 (DWARF 3 §6.2.5.2).
STANDARD_OPCODE_LENGTHS = (0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)

# Debugging information entries (DWARF 3 §7.5.4, figures 18–21).
DW_TAG_compile_unit = 0x11
DW_CHILDREN_no = 0
DW_AT_name = 0x03
DW_AT_stmt_list = 0x10
DW_AT_low_pc = 0x11
DW_AT_high_pc = 0x12
DW_AT_language = 0x13
DW_AT_comp_dir = 0x1B
DW_AT_producer = 0x25
DW_FORM_addr = 0x01
DW_FORM_data2 = 0x05
DW_FORM_data4 = 0x06
DW_FORM_string = 0x08
DW_LANG_Mips_Assembler = 0x8001  # what GNU as records for assembly sources

LINE_VERSION = 3
INFO_VERSION = 3
ARANGES_VERSION = 2
ADDRESS_SIZE = 8
PRODUCER = "septum as"


def uleb128(value: int) -> bytes:
    """``value`` (>= 0) as unsigned LEB128."""
    if value < 0:
        raise ValueError(f"uleb128 of negative value {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb128(value: int) -> bytes:
    """``value`` as signed LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


@dataclass
class LineUnit:
    """The line entries of one section, as one compile unit will carry them.

    ``low``/``high`` bound the section (``high`` exclusive); ``entries`` are
    sorted by address and all lie in ``[low, high)``.
    """

    low: int
    high: int
    entries: list[LineEntry] = field(default_factory=list)


@dataclass
class DebugSections:
    """The encoded contents of the four DWARF sections."""

    debug_line: bytes
    debug_info: bytes
    debug_abbrev: bytes
    debug_aranges: bytes


def _file_table(entries: list[LineEntry]) -> tuple[list[str], list[tuple[str, int]], dict[str, int]]:
    """Include directories, (name, directory index) file entries, and the
    file-number of each path (1-based, as DWARF 3 numbers files)."""
    dirs: list[str] = []
    files: list[tuple[str, int]] = []
    number: dict[str, int] = {}
    for e in entries:
        if e.file in number:
            continue
        d, base = posixpath.split(e.file)
        if d and base:
            if d not in dirs:
                dirs.append(d)
            files.append((base, dirs.index(d) + 1))
        else:
            # No directory part (or a bare "dir/"): keep the path whole under
            # the compilation directory (index 0).
            files.append((e.file, 0))
        number[e.file] = len(files)
    return dirs, files, number


def _line_program(unit: LineUnit) -> bytes:
    """One DWARF 3 line-number program (header + one sequence) for ``unit``."""
    dirs, files, number = _file_table(unit.entries)
    header = bytearray()
    header += bytes([1, 1, LINE_BASE & 0xFF, LINE_RANGE, OPCODE_BASE])
    header += bytes(STANDARD_OPCODE_LENGTHS)
    for d in dirs:
        header += d.encode() + b"\0"
    header += b"\0"
    for name, dir_index in files:
        header += name.encode() + b"\0" + uleb128(dir_index) + b"\0\0"
    header += b"\0"

    prog = bytearray()
    prog += b"\0" + uleb128(1 + ADDRESS_SIZE) + bytes([DW_LNE_set_address])
    prog += struct.pack("<Q", unit.low)
    address, line, file_no = unit.low, 1, 1
    for e in unit.entries:
        if number[e.file] != file_no:
            file_no = number[e.file]
            prog += bytes([DW_LNS_set_file]) + uleb128(file_no)
        addr_delta = e.address - address
        line_delta = e.line - line
        special = None
        if LINE_BASE <= line_delta < LINE_BASE + LINE_RANGE:
            op = (line_delta - LINE_BASE) + LINE_RANGE * addr_delta + OPCODE_BASE
            if op <= 255:
                special = op
        if special is not None:
            prog.append(special)
        else:
            if line_delta:
                prog += bytes([DW_LNS_advance_line]) + sleb128(line_delta)
            if addr_delta:
                prog += bytes([DW_LNS_advance_pc]) + uleb128(addr_delta)
            prog.append(DW_LNS_copy)
        address, line = e.address, e.line
    if unit.high > address:
        prog += bytes([DW_LNS_advance_pc]) + uleb128(unit.high - address)
    prog += b"\0" + uleb128(1) + bytes([DW_LNE_end_sequence])

    after_length = struct.pack("<HI", LINE_VERSION, len(header)) + header + prog
    return struct.pack("<I", len(after_length)) + after_length


def _abbrev_table() -> bytes:
    attrs = [
        (DW_AT_stmt_list, DW_FORM_data4),
        (DW_AT_low_pc, DW_FORM_addr),
        (DW_AT_high_pc, DW_FORM_addr),  # DWARF 3: an address, not a length
        (DW_AT_name, DW_FORM_string),
        (DW_AT_comp_dir, DW_FORM_string),
        (DW_AT_producer, DW_FORM_string),
        (DW_AT_language, DW_FORM_data2),
    ]
    out = bytearray(uleb128(1) + uleb128(DW_TAG_compile_unit) + bytes([DW_CHILDREN_no]))
    for at, form in attrs:
        out += uleb128(at) + uleb128(form)
    out += b"\0\0" + b"\0"  # end of attributes, end of table
    return bytes(out)


def _compile_unit(stmt_list: int, unit: LineUnit, name: str, comp_dir: str) -> bytes:
    die = bytearray(uleb128(1))
    die += struct.pack("<IQQ", stmt_list, unit.low, unit.high)
    for s in (name, comp_dir, PRODUCER):
        die += s.encode() + b"\0"
    die += struct.pack("<H", DW_LANG_Mips_Assembler)
    after_length = struct.pack("<HIB", INFO_VERSION, 0, ADDRESS_SIZE) + die
    return struct.pack("<I", len(after_length)) + after_length


def _arange_set(info_offset: int, unit: LineUnit) -> bytes:
    # The header is 4+2+4+1+1 = 12 bytes; tuples start aligned to twice the
    # address size, so 4 bytes of padding come first.
    body = struct.pack("<HIBB", ARANGES_VERSION, info_offset, ADDRESS_SIZE, 0) + b"\0" * 4
    body += struct.pack("<QQ", unit.low, unit.high - unit.low)
    body += struct.pack("<QQ", 0, 0)
    return struct.pack("<I", len(body)) + body


def encode_debug_sections(units: list[LineUnit], comp_dir: str = "") -> DebugSections:
    """Encode one compile unit and line program per entry of ``units``.

    Each unit is named after its first entry's file.  Returns empty sections
    when ``units`` is empty.
    """
    line = bytearray()
    info = bytearray()
    aranges = bytearray()
    for unit in units:
        name = unit.entries[0].file if unit.entries else ""
        info_offset = len(info)
        info += _compile_unit(len(line), unit, name, comp_dir)
        line += _line_program(unit)
        aranges += _arange_set(info_offset, unit)
    abbrev = _abbrev_table() if units else b""
    return DebugSections(bytes(line), bytes(info), abbrev, bytes(aranges))
