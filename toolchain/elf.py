"""ELF64 RISC-V executables: write an :class:`Image`, read symbols and lines back.

:func:`write_elf` serialises a linked image as an ``ET_EXEC`` file for
``EM_RISCV``, little-endian, soft-float ABI.  The file holds:

* one ``PT_LOAD`` segment per run of address-contiguous ALLOC sections with
  equal flags (a NOBITS section such as ``.bss`` may end a run: its segment's
  ``p_memsz`` exceeds ``p_filesz``).  Segments are aligned to their largest
  section alignment, not to pages, so the file stays small;
* section headers for every image section, then ``.riscv.attributes``
  (``Tag_RISCV_arch``, so that objdump picks the right ISA), the DWARF line
  table (:mod:`septum.toolchain.dwarf`), ``.symtab``, ``.strtab`` and
  ``.shstrtab``.

:func:`read_symbols` and :func:`read_line_table` read any ELF (ours or GNU's)
back through pyelftools; the hypervisor's loader, tracer and coverage use them.

Layouts and numbers are from the System V ABI (ELF-64 Object File Format 1.5)
and the RISC-V ELF psABI (``EF_RISCV_RVC``, ``SHT_RISCV_ATTRIBUTES``, the
attribute tags).
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from septum.toolchain.dwarf import LineUnit, encode_debug_sections, uleb128
from septum.toolchain.errors import ImageError
from septum.toolchain.image import Image, LineEntry, Section, SectionFlags, Symbol

# ELF identification and header values (gABI §"ELF Header").
ELFCLASS64 = 2
ELFDATA2LSB = 1
EV_CURRENT = 1
ELFOSABI_NONE = 0
ET_EXEC = 2
EM_RISCV = 243
EHDR_SIZE = 64
PHDR_SIZE = 56
SHDR_SIZE = 64
SYM_SIZE = 24

# RISC-V psABI e_flags.
EF_RISCV_RVC = 0x1
EF_RISCV_FLOAT_ABI_SOFT = 0x0

# Section types and special indices.
SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_NOBITS = 8
SHT_RISCV_ATTRIBUTES = 0x70000003
SHN_UNDEF = 0
SHN_ABS = 0xFFF1

# Program header types and flags.
PT_LOAD = 1
PF_X = 0x1
PF_W = 0x2
PF_R = 0x4

# Symbol binding and type (st_info = bind << 4 | type).
STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2
STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3
STT_FILE = 4
_KIND_TO_STT = {"notype": STT_NOTYPE, "object": STT_OBJECT, "func": STT_FUNC}
_STT_TO_KIND = {v: k for k, v in _KIND_TO_STT.items()}
_BIND_TO_STB = {"local": STB_LOCAL, "global": STB_GLOBAL, "weak": STB_WEAK}

# RISC-V attributes (psABI "Attributes"): format version 'A', vendor "riscv".
ATTR_FORMAT_VERSION = ord("A")
Tag_File = 1
Tag_RISCV_stack_align = 4
Tag_RISCV_arch = 5
STACK_ALIGN = 16  # the LP64 ABI's stack alignment

#: Versions of each extension, as binutils 2.40 spells them in Tag_RISCV_arch
#: (the ratified versions of the unprivileged spec, 20191213).
EXTENSION_VERSIONS = {
    "i": "2p1", "e": "2p0", "m": "2p0", "a": "2p1", "f": "2p2", "d": "2p2",
    "q": "2p2", "c": "2p0", "zicsr": "2p0", "zifencei": "2p0",
    "zmmul": "1p0",
}
DEFAULT_MARCH = "rv64imac_zicsr_zifencei"


#: Canonical order of single-letter extensions (ISA manual, "ISA Extension
#: Naming Conventions"); ``z*`` extensions sort by their second letter's place
#: in it, then alphabetically.
CANONICAL_ORDER = "iemafdqlcbkjtpvnh"
#: Extensions implied by others, as binutils 2.40 adds them to Tag_RISCV_arch.
IMPLIED = {"g": ("i", "m", "a", "f", "d", "zicsr", "zifencei"),
           "m": ("zmmul",), "f": ("zicsr",), "d": ("f",), "q": ("d",)}


def arch_attribute(march: str) -> str:
    """The ``Tag_RISCV_arch`` string for ``march`` as GNU as 2.40 writes it, e.g.
    ``rv64imac_zicsr_zifencei`` ->
    ``rv64i2p1_m2p0_a2p1_c2p0_zicsr2p0_zifencei2p0_zmmul1p0`` (implied
    extensions added, canonical order).

    Raises :class:`ImageError` naming ``march`` if it is not ``rv32``/``rv64``
    followed by single-letter extensions and ``_z*`` extensions.
    """
    m = re.fullmatch(r"(rv(?:32|64))([a-z]*)((?:_[a-z][a-z0-9]*)*)", march.lower())
    if not m or not m.group(2) or m.group(2)[0] not in "ieg":
        raise ImageError(f"bad -march string {march!r}")
    base, singles, multi = m.groups()
    todo = list(singles) + multi.split("_")[1:]
    names: set[str] = set()
    while todo:
        n = todo.pop()
        if n not in names:
            names.add(n)
            todo.extend(IMPLIED.get(n, ()))
    names.discard("g")

    def key(n: str) -> tuple[int, int, str]:
        if len(n) == 1:
            return (0, CANONICAL_ORDER.find(n) % 64, n)
        if n[0] == "z" and len(n) > 1 and n[1] in CANONICAL_ORDER:
            return (1, CANONICAL_ORDER.index(n[1]), n)
        return (2, 0, n)

    parts = [f"{n}{EXTENSION_VERSIONS.get(n, '2p0' if len(n) == 1 else '1p0')}"
             for n in sorted(names, key=key)]
    return base + "_".join(parts)


def _has_rvc(image: Image) -> bool:
    rvc = getattr(image, "rvc", None)
    if rvc is not None:
        return bool(rvc)
    march = getattr(image, "march", None) or DEFAULT_MARCH
    m = re.fullmatch(r"rv(?:32|64)([a-z]*).*", march.lower())
    return bool(m and "c" in m.group(1))


def _align_up(value: int, align: int) -> int:
    return value if align <= 1 else (value + align - 1) // align * align


def _pow2(align: int) -> int:
    """``align`` if it is a power of two, else the next one (ELF requires it)."""
    if align <= 1:
        return 1
    return 1 << (align - 1).bit_length()


class _StrTab:
    """An ELF string table under construction (index 0 is the empty string)."""

    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self._index: dict[str, int] = {"": 0}

    def add(self, s: str) -> int:
        if s not in self._index:
            self._index[s] = len(self.data)
            self.data += s.encode() + b"\0"
        return self._index[s]


@dataclass
class _Out:
    """One section as it goes to the file."""

    name: str
    sh_type: int
    flags: int
    addr: int
    data: bytes
    size: int
    align: int
    link: int = 0
    info: int = 0
    entsize: int = 0
    offset: int = 0


def _segments(sections: list[Section]) -> list[list[Section]]:
    """Group loadable sections into runs that one PT_LOAD can cover."""
    runs: list[list[Section]] = []
    for s in sorted((s for s in sections if s.flags & SectionFlags.ALLOC and s.size),
                    key=lambda s: s.address):
        if runs:
            last = runs[-1][-1]
            if (last.end == s.address and last.flags == s.flags
                    and not last.nobits):
                runs[-1].append(s)
                continue
        runs.append([s])
    return runs


def _check(image: Image) -> None:
    names = [s.name for s in image.sections]
    for s in image.sections:
        if names.count(s.name) > 1:
            raise ImageError(f"duplicate section {s.name!r}")
        if not s.nobits and len(s.data) != s.size:
            raise ImageError(f"section {s.name!r}: size {s.size} but {len(s.data)} bytes of data")
        if s.address < 0 or s.end > 1 << 64:
            raise ImageError(f"section {s.name!r} at {s.address:#x} does not fit in 64 bits")
    loaded = sorted((s for s in image.loadable() if s.size), key=lambda s: s.address)
    for a, b in zip(loaded, loaded[1:]):
        if b.address < a.end:
            raise ImageError(f"sections {a.name!r} and {b.name!r} overlap at {b.address:#x}")


def _symtab(image: Image, index_of: dict[str, int], strtab: _StrTab) -> tuple[bytes, int]:
    """The ``.symtab`` contents and the index of its first global symbol."""
    rows = [struct.pack("<IBBHQQ", 0, 0, 0, SHN_UNDEF, 0, 0)]
    # The gABI requires every STB_LOCAL symbol before the first non-local one.
    ordered = ([s for s in image.symbols if s.binding == "local"]
               + [s for s in image.symbols if s.binding != "local"])
    first_global = 1 + sum(1 for s in image.symbols if s.binding == "local")
    for sym in ordered:
        if sym.kind not in _KIND_TO_STT:
            raise ImageError(f"symbol {sym.name!r}: unknown kind {sym.kind!r}")
        if sym.binding not in _BIND_TO_STB:
            raise ImageError(f"symbol {sym.name!r}: unknown binding {sym.binding!r}")
        if sym.section is None:
            shndx = SHN_ABS
        elif sym.section in index_of:
            shndx = index_of[sym.section]
        else:
            raise ImageError(f"symbol {sym.name!r} is in unknown section {sym.section!r}")
        info = _BIND_TO_STB[sym.binding] << 4 | _KIND_TO_STT[sym.kind]
        rows.append(struct.pack("<IBBHQQ", strtab.add(sym.name), info, 0, shndx,
                                sym.value & (1 << 64) - 1, sym.size))
    return b"".join(rows), first_global


def _attributes(march: str) -> bytes:
    attrs = (uleb128(Tag_RISCV_stack_align) + uleb128(STACK_ALIGN)
             + uleb128(Tag_RISCV_arch) + arch_attribute(march).encode() + b"\0")
    file_sub = uleb128(Tag_File) + struct.pack("<I", 1 + 4 + len(attrs)) + attrs
    vendor = b"riscv\0"
    subsection = struct.pack("<I", 4 + len(vendor) + len(file_sub)) + vendor + file_sub
    return bytes([ATTR_FORMAT_VERSION]) + subsection


def _line_units(image: Image) -> list[LineUnit]:
    """One unit per section holding line entries, in address order."""
    units: list[LineUnit] = []
    secs = sorted((s for s in image.sections if s.size), key=lambda s: s.address)
    entries = sorted(image.lines, key=lambda e: e.address)
    for s in secs:
        mine = [e for e in entries if s.address <= e.address < s.end]
        if mine:
            units.append(LineUnit(s.address, s.end, mine))
    return units


def write_elf(image: Image) -> bytes:
    """Serialise ``image`` as an ELF64 RISC-V ``ET_EXEC`` file and return its bytes.

    Raises :class:`ImageError` for an image that cannot be written (overlapping
    or duplicate sections, a symbol in an unknown section).
    """
    _check(image)
    march = getattr(image, "march", None) or DEFAULT_MARCH
    shstr = _StrTab()
    strtab = _StrTab()

    outs: list[_Out] = [_Out("", SHT_NULL, 0, 0, b"", 0, 0)]
    by_name: dict[str, _Out] = {}
    for s in image.sections:
        o = _Out(s.name, SHT_NOBITS if s.nobits else SHT_PROGBITS, int(s.flags),
                 s.address, b"" if s.nobits else bytes(s.data), s.size, _pow2(s.align))
        by_name[s.name] = o
        outs.append(o)
    index_of = {name: outs.index(o) for name, o in by_name.items()}

    outs.append(_Out(".riscv.attributes", SHT_RISCV_ATTRIBUTES, 0, 0,
                     _attributes(march), 0, 1))
    dbg = encode_debug_sections(_line_units(image))
    if dbg.debug_line:
        for name, data in ((".debug_aranges", dbg.debug_aranges),
                           (".debug_info", dbg.debug_info),
                           (".debug_abbrev", dbg.debug_abbrev),
                           (".debug_line", dbg.debug_line)):
            outs.append(_Out(name, SHT_PROGBITS, 0, 0, data, 0, 1))
    symtab_data, first_global = _symtab(image, index_of, strtab)
    symtab = _Out(".symtab", SHT_SYMTAB, 0, 0, symtab_data, 0, 8,
                  info=first_global, entsize=SYM_SIZE)
    outs.append(symtab)
    strtab_out = _Out(".strtab", SHT_STRTAB, 0, 0, b"", 0, 1)
    outs.append(strtab_out)
    symtab.link = len(outs) - 1
    shstrtab_out = _Out(".shstrtab", SHT_STRTAB, 0, 0, b"", 0, 1)
    outs.append(shstrtab_out)
    for o in outs:
        shstr.add(o.name)
    strtab_out.data = bytes(strtab.data)
    shstrtab_out.data = bytes(shstr.data)
    for o in outs:
        if o.sh_type != SHT_NOBITS:
            o.size = len(o.data)

    # Lay out the file: headers, then loadable sections run by run (each run's
    # file offset congruent to its address modulo its alignment), then the
    # rest, then the section header table.
    runs = _segments(image.sections)
    offset = EHDR_SIZE + PHDR_SIZE * len(runs)
    phdrs: list[bytes] = []
    placed: set[str] = set()
    for run in runs:
        p_align = max(_pow2(s.align) for s in run)
        first = run[0]
        offset += (first.address - offset) % p_align
        seg_offset = offset
        for s in run:
            o = by_name[s.name]
            o.offset = seg_offset + (s.address - first.address)
            placed.add(s.name)
        filesz = sum(s.size for s in run if not s.nobits)
        memsz = run[-1].end - first.address
        offset = seg_offset + filesz
        flags = PF_R
        if first.flags & SectionFlags.WRITE:
            flags |= PF_W
        if first.flags & SectionFlags.EXECINSTR:
            flags |= PF_X
        phdrs.append(struct.pack("<IIQQQQQQ", PT_LOAD, flags, seg_offset,
                                 first.address, first.address, filesz, memsz, p_align))
    for o in outs[1:]:
        if o.name in placed and o.name in by_name:
            continue
        if o.sh_type == SHT_NOBITS:
            o.offset = offset
            continue
        offset = _align_up(offset, o.align)
        o.offset = offset
        offset += len(o.data)
    shoff = _align_up(offset, 8)

    buf = bytearray(shoff + SHDR_SIZE * len(outs))
    ident = b"\x7fELF" + bytes([ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE]) + bytes(8)
    e_flags = EF_RISCV_FLOAT_ABI_SOFT | (EF_RISCV_RVC if _has_rvc(image) else 0)
    struct.pack_into("<16sHHIQQQIHHHHHH", buf, 0, ident, ET_EXEC, EM_RISCV, EV_CURRENT,
                     image.entry & (1 << 64) - 1, EHDR_SIZE if phdrs else 0, shoff,
                     e_flags, EHDR_SIZE, PHDR_SIZE, len(phdrs), SHDR_SIZE, len(outs),
                     len(outs) - 1)
    buf[EHDR_SIZE:EHDR_SIZE + PHDR_SIZE * len(phdrs)] = b"".join(phdrs)
    for i, o in enumerate(outs):
        if o.sh_type not in (SHT_NOBITS, SHT_NULL):
            buf[o.offset:o.offset + len(o.data)] = o.data
        if i:
            struct.pack_into("<IIQQQQIIQQ", buf, shoff + SHDR_SIZE * i, shstr.add(o.name),
                             o.sh_type, o.flags, o.addr, o.offset, o.size, o.link,
                             o.info, o.align, o.entsize)
    return bytes(buf)


# ---------------------------------------------------------------------------
# Reading back (any ELF, through pyelftools)
# ---------------------------------------------------------------------------

ElfSource = str | os.PathLike | bytes | bytearray


def _open(source: ElfSource) -> tuple["ELFFile", BinaryIO]:  # noqa: F821
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    if isinstance(source, (bytes, bytearray)):
        stream: BinaryIO = io.BytesIO(bytes(source))
        label = "<bytes>"
    else:
        label = os.fspath(source)
        stream = open(label, "rb")
    try:
        return ELFFile(stream), stream
    except ELFError as exc:
        stream.close()
        raise ImageError(f"{label}: not a readable ELF file: {exc}") from None


def read_symbols(source: ElfSource) -> list[Symbol]:
    """The named symbols of an ELF file (path or bytes), in table order.

    Section and file symbols (and the null symbol) are left out; a symbol's
    ``section`` is its section's name, or ``None`` if absolute or undefined.
    Returns an empty list when the file has no ``.symtab``.
    """
    from elftools.elf.sections import SymbolTableSection

    elf, stream = _open(source)
    with stream:
        tab = elf.get_section_by_name(".symtab")
        if not isinstance(tab, SymbolTableSection):
            return []
        out: list[Symbol] = []
        for sym in tab.iter_symbols():
            stt = sym["st_info"]["type"]
            if not sym.name or stt in ("STT_SECTION", "STT_FILE"):
                continue
            shndx = sym["st_shndx"]
            section = None
            if isinstance(shndx, int) and shndx != SHN_UNDEF:
                section = elf.get_section(shndx).name
            kind = {"STT_FUNC": "func", "STT_OBJECT": "object"}.get(stt, "notype")
            binding = "global" if sym["st_info"]["bind"] == "STB_GLOBAL" else (
                "weak" if sym["st_info"]["bind"] == "STB_WEAK" else "local")
            out.append(Symbol(sym.name, sym["st_value"], sym["st_size"], kind,
                              binding, section))
        return out


def read_line_table(source: ElfSource) -> list[LineEntry]:
    """The ``address -> file:line`` rows of an ELF file's DWARF line programs.

    Rows are sorted by address (stable for equal addresses); end-of-sequence
    rows are left out.  File names are joined with their include directory
    (directory index 0 gives the bare name).  Returns an empty list when the
    file has no DWARF line information.
    """
    from elftools.common.exceptions import ELFError

    elf, stream = _open(source)
    with stream:
        if not elf.has_dwarf_info():
            return []
        try:
            # Relocatable objects carry RISC-V relocations against their DWARF
            # that pyelftools cannot apply; their addresses stay section-relative.
            dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
            return _line_rows(dwarf)
        except (ELFError, KeyError, ValueError) as exc:
            raise ImageError(f"{_label(source)}: unreadable DWARF line table: {exc}") from None


def _label(source: ElfSource) -> str:
    return "<bytes>" if isinstance(source, (bytes, bytearray)) else os.fspath(source)


def _line_rows(dwarf: "DWARFInfo") -> list[LineEntry]:  # noqa: F821
    """Every row of every compile unit's line program, sorted by address."""
    rows: list[LineEntry] = []
    for cu in dwarf.iter_CUs():
        prog = dwarf.line_program_for_CU(cu)
        if prog is None:
            continue
        header = prog.header
        version = header["version"]
        dirs = [_text(d) for d in header["include_directory"]]
        files = header["file_entry"]
        for entry in prog.get_entries():
            state = entry.state
            if state is None or state.end_sequence:
                continue
            # DWARF < 5 numbers files from 1; DWARF 5 from 0.
            index = state.file - 1 if version < 5 else state.file
            if not 0 <= index < len(files):
                name = f"<file {state.file}>"
            else:
                fe = files[index]
                name = _text(fe.name)
                d = fe.dir_index
                if version < 5 and d > 0 and d <= len(dirs):
                    name = posixpath.join(dirs[d - 1], name)
                elif version >= 5 and 0 < d < len(dirs):
                    name = posixpath.join(dirs[d], name)
            rows.append(LineEntry(state.address, name, state.line))
    rows.sort(key=lambda e: e.address)
    return rows


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def write_elf_file(image: Image, path: str | os.PathLike) -> None:
    """Write ``image`` as an ELF file at ``path``."""
    Path(path).write_bytes(write_elf(image))
