"""The toolchain's subcommands: ``septum asm`` and ``septum disasm``.

``septum asm`` assembles and links one or more GNU-syntax sources into an
ELF64 executable (and optionally a flat binary); ``septum disasm`` lists an
ELF's code with symbols, branch targets and, on request, source lines.  Bad
input — an assembly error, a missing or unreadable file, an unusable ELF —
prints one line (``file:line: error: message`` for assembly errors) and exits
with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from septum.toolchain.errors import AsmError, ImageError, SeptumError

DEFAULT_OUTPUT = "a.elf"

ASM_EPILOG = f"""\
Without -o the ELF goes to {DEFAULT_OUTPUT!r} in the current directory.
Addresses and values accept C syntax: 0x80000000, 0o17, 0b101, 42.

examples:
  septum asm boot.S -o boot.elf --base 0x80000000
  septum asm a.S b.S -o prog.elf --bin prog.bin --section .data=0x80200000
  septum asm -I include --defsym NHARTS=1 start.S
"""

DISASM_EPILOG = """\
Without --section, every executable section is listed; --start/--stop limit
the listing to an address range (stop exclusive).
"""


def _address(text: str) -> int:
    """An argparse type: a non-negative integer in C syntax."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"not a 64-bit address: {text!r}")
    return value


def _assignment(text: str) -> tuple[str, int]:
    """An argparse type: ``NAME=VALUE`` with VALUE an integer in C syntax."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: not a number: {value!r}") from None


def add_commands(subparsers: Any) -> None:
    """Register ``asm`` and ``disasm`` on the ``septum`` command's subparsers."""
    p = subparsers.add_parser(
        "asm", help="assemble and link RISC-V sources into an ELF (and a flat binary)",
        description="Assemble GNU-syntax RV64IMAC (+Zicsr, Zifencei) sources and "
                    "link them into one ELF64 executable with symbols and a DWARF "
                    "line table.",
        epilog=ASM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", metavar="SOURCE.S", help="assembly source files, linked in this order")
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="OUT.elf",
                   help=f"the ELF file to write (default: {DEFAULT_OUTPUT})")
    p.add_argument("--bin", metavar="OUT.bin", help="also write a flat binary (lowest loaded address to end of data)")
    p.add_argument("--base", type=_address, default=0, metavar="ADDR",
                   help="address of the first section (default 0); later sections follow it")
    p.add_argument("--section", type=_assignment, action="append", default=[],
                   metavar="NAME=ADDR", help="place section NAME at ADDR (repeatable)")
    p.add_argument("-I", "--include-dir", action="append", default=[], metavar="DIR",
                   dest="include_dirs", help="search DIR for .include files (repeatable)")
    p.add_argument("--march", default="rv64imac_zicsr_zifencei",
                   help="ISA string, as GNU as takes it (default: %(default)s)")
    p.add_argument("--defsym", type=_assignment, action="append", default=[],
                   metavar="SYM=VAL", help="define absolute symbol SYM as VAL (repeatable)")
    p.set_defaults(func=cmd_asm)

    d = subparsers.add_parser(
        "disasm", help="disassemble an ELF with symbols (and source lines)",
        description="List the code of an ELF file: symbol headers, raw encodings, "
                    "branch targets annotated with symbols.",
        epilog=DISASM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("image", metavar="IMAGE.elf", help="the ELF file to disassemble")
    d.add_argument("--section", metavar="NAME", help="list only this section (any section with contents)")
    d.add_argument("--start", type=_address, metavar="ADDR", help="first address to list")
    d.add_argument("--stop", type=_address, metavar="ADDR", help="address to stop before")
    d.add_argument("--lines", action="store_true", help="show file:line from the DWARF line table")
    d.set_defaults(func=cmd_disasm)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def cmd_asm(args: argparse.Namespace) -> int:
    """``septum asm``: assemble, link, write the ELF (and --bin)."""
    from septum.toolchain import Source, assemble

    for path in args.sources:
        if not os.path.isfile(path):
            what = "no such file" if not os.path.exists(path) else "not a regular file"
            return _fail(f"{path}: error: {what}")
    try:
        sources = [Source(path, Path(path).read_text(encoding="utf-8"))
                   for path in args.sources]
        image = assemble(sources, base=args.base, layout=dict(args.section) or None,
                             march=args.march, include_dirs=tuple(args.include_dirs),
                             defines=dict(args.defsym) or None)
        image.march = args.march  # for Tag_RISCV_arch and EF_RISCV_RVC
        elf = image.to_elf()
    except AsmError as exc:
        return _fail(str(exc))
    except SeptumError as exc:
        return _fail(f"{args.sources[0]}: error: {exc}")
    except OSError as exc:
        return _fail(f"{exc.filename or args.sources[0]}: error: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        return _fail(f"{args.sources[0]}: error: not UTF-8 text ({exc.reason})")
    try:
        Path(args.output).write_bytes(elf)
        if args.bin:
            Path(args.bin).write_bytes(image.to_binary())
    except OSError as exc:
        return _fail(f"{exc.filename}: error: cannot write: {exc.strerror or exc}")
    return 0


def _listing_sections(elf: Any, name: str | None) -> list[Any]:
    from elftools.elf.constants import SH_FLAGS

    if name is not None:
        sec = elf.get_section_by_name(name)
        if sec is None:
            raise ImageError(f"no section {name!r}")
        if sec["sh_type"] == "SHT_NOBITS":
            raise ImageError(f"section {name!r} has no contents (NOBITS)")
        return [sec]
    return [s for s in elf.iter_sections()
            if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_type"] != "SHT_NOBITS"]


def disassemble_elf(path: str | os.PathLike, section: str | None = None,
                    start: int | None = None, stop: int | None = None,
                    lines: bool = False) -> str:
    """The ``septum disasm`` listing of the ELF at ``path`` as a string.

    Raises :class:`ImageError` for an unreadable ELF or an unknown section.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    from septum.toolchain.disasm import Disassembler, Symbolizer, format_listing
    from septum.toolchain.elf import read_line_table, read_symbols

    raw = Path(path).read_bytes()
    import io

    try:
        elf = ELFFile(io.BytesIO(raw))
        secs = _listing_sections(elf, section)
        symbols = read_symbols(raw)
        table = read_line_table(raw) if lines else []
    except ELFError as exc:
        raise ImageError(f"{os.fspath(path)}: not a readable ELF file: {exc}") from None
    except ImageError as exc:
        raise ImageError(f"{os.fspath(path)}: {exc}") from None
    symz = Symbolizer(symbols)
    dis = Disassembler(symz, table, cache_size=0)
    out = [f"\n{os.fspath(path)}:     file format elf64-littleriscv\n\n"]
    for sec in secs:
        addr = sec["sh_addr"]
        data = sec.data()
        lo = max(addr, start) if start is not None else addr
        hi = min(addr + len(data), stop) if stop is not None else addr + len(data)
        if lo >= hi:
            continue
        insns = dis.decode(data[lo - addr:hi - addr], lo)
        out.append(f"\nDisassembly of section {sec.name}:\n")
        out.append(format_listing(insns, show_lines=lines, symbols=symz))
    return "".join(out)


def cmd_disasm(args: argparse.Namespace) -> int:
    """``septum disasm``: print the listing of an ELF file."""
    if not os.path.isfile(args.image):
        what = "no such file" if not os.path.exists(args.image) else "not a regular file"
        return _fail(f"{args.image}: error: {what}")
    if args.start is not None and args.stop is not None and args.stop < args.start:
        return _fail(f"{args.image}: error: --stop {args.stop:#x} is below --start {args.start:#x}")
    try:
        text = disassemble_elf(args.image, args.section, args.start, args.stop, args.lines)
    except SeptumError as exc:
        msg = str(exc)
        return _fail(msg if ": error: " in msg else msg.replace(": ", ": error: ", 1))
    sys.stdout.write(text)
    return 0
