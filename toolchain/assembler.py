"""The RISC-V assembler: GNU ``as`` syntax in, a linked :class:`Image` out.

Design
------
One pass per source file turns text into *pieces* — one per (file, section)
— holding *items*: literal bytes (merged), fixed-size deferred encodings
(an instruction or datum whose value needs a symbol), relaxable branches and
jumps, and alignment padding.  Everything that can be decided from what is
already known (constants, ``.equ`` defined earlier, the ``.option rvc`` state)
is decided then, as GNU ``as`` does, so that compression choices match it.
Macros, ``.rept``/``.irp``, ``.include`` and conditionals are expanded on the
fly from a stack of line frames.

Linking concatenates same-named sections from all files in file order (each
piece aligned to its own alignment), orders output sections (code, read-only,
read-write, NOBITS; see :func:`assemble`), places them at ``base`` or at the
addresses pinned by ``layout``, then relaxes branches to a fixpoint (sizes
only grow, so it terminates) and finally evaluates every deferred item with
all symbols known.

GNU compatibility decisions
---------------------------
* We reproduce ``riscv64-unknown-elf-as -march=... -mno-relax`` followed by
  ``ld``: no linker relaxation (``call`` stays ``auipc``+``jalr``, ``la`` stays
  ``auipc``+``addi``), and code alignment is filled as GNU does without
  relaxation (a zero byte if odd, one ``c.nop`` if needed, then ``nop``).
* Automatic compression follows the order of GNU's opcode table: compressed
  aliases are tried first, only when every immediate is a constant known at
  that point (a forward ``.equ`` is not, exactly as in GNU).
* Branches and jumps to labels are relaxed as GNU's ``relaxed_branch_length``
  does: when the target is defined in the same section of the same file,
  ``beqz``/``bnez``/``beq``/``bne`` against ``x0`` with an RVC register (and
  explicit ``c.beqz``/``c.bnez``) become ``c.beqz``/``c.bnez`` within
  ±256 B, ``j``/``c.j`` become ``c.j`` within ±2 KiB, a conditional branch out
  of ±4 KiB becomes an inverted branch over a ``jal`` (6 bytes from a
  compressible one, 8 otherwise).  A target in another file or section (or
  an absolute symbol) gets GNU's worst case: ``jal`` for jumps, inverted
  branch + ``jal`` (8 bytes) for conditional branches.  Where two sizes are
  both self-consistent (a target exactly at a reach limit), GNU's answer
  depends on its frag algorithm — an estimate that sees later frags at
  address 0, then in-order passes — so :func:`_gnu_relax` replays that
  algorithm on each file's section, frags split where GNU splits them.
* GNU pads the end of every code section of a file to the section's
  alignment with nops; so do we (data sections are not padded).  A code
  alignment no larger than an instruction's (2 bytes with RVC, 4 without)
  pads nothing at all, as in GNU's ``riscv_frag_align_code``.
* A ``.set``/``.equ`` redefinition is a new symbol for later uses; earlier
  uses keep the definition that was in force, and a use before any
  definition takes the first (GNU clones a redefined symbol).
* Quoted macro arguments lose their quotes, as in GNU.
* A constant branch/jump operand is an offset, not an address (as GNU).
* ``li`` uses GNU's ``load_const`` sequence (lui/addiw, then slli/addi steps);
  each step is compressed like any instruction.  ``la``/``lla`` of a
  constant already known is ``load_const`` too (GNU's rule), otherwise
  ``auipc``+``addi``; either way the value or addend must fit in 32 bits.
  ``call rd, sym`` builds the address in ``t1``, as GNU does.
* Expression precedence and comparison results (-1 for true) are GNU's.
* ``.L*`` symbols, numeric local labels and internal labels are not exported.

Known differences from GNU ``as``
---------------------------------
* Label differences (and ``.``) in one section with no relaxable branch or
  alignment between them are constants at once (``.space 64 - (. - start)``,
  ``li a0, end - start``); GNU rejects most of these.
* ``li`` of a value known only once the image is laid out -- a difference
  with a later label (``li a0, end - start``), labels of other sections --
  is accepted (GNU as 2.40 and llvm-mc reject it): it assembles exactly as
  ``li`` of the final value, its size found with the branch sizes at link
  time (:class:`_LiVar`).  The labels must cancel out (a value that moves
  with the image is an error naming the operand; use ``la`` for addresses).
  Should the value shrink to a shorter sequence during that fixpoint (sizes
  only grow), the room left is filled with nops.
* More lenient: a plain symbol or a forward ``.equ`` is accepted where GNU
  demands a constant or ``%lo()`` etc. in an immediate (the value is
  range-checked at link time and never compressed); ``lw a0, CONST`` (a
  load/store of a constant address) is accepted as PC-relative; ``pause``
  needs no ``zihintpause`` in ``-march``.
* ``.org`` takes a constant offset (from the file's section start, as in
  GNU); ``.insn`` and floating point are not supported; ``.weak`` is a
  global whose undefined references are 0; ``.comm``/``.lcomm`` allocate in
  this file's ``.bss`` (there is no COMMON merging).
* No linker relaxation (see above): ``call`` is always 8 bytes.
* Unknown sections without flags are non-allocated, as in GNU; ``.L*`` and
  internal labels are not in the symbol table, as in GNU's output.
* GNU's frags also break when its internal buffers fill up; we do not model
  that, so a branch exactly at a reach limit in a very large file may, in
  rare cases, get a different (still valid) size.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from septum.toolchain.errors import AsmError
from septum.toolchain.expr import (ExprError, NotConstant, evaluate, fold,
                                   parse_expr, symbols_in, lo12, wrap64)
from septum.toolchain.image import Image, LineEntry, Section, SectionFlags, Symbol
from septum.toolchain.isa import (C_NOP, NOP, TABLE, RangeErr, enc_b, enc_cb, li_sequence,
                                  enc_cj, enc_j, fits_signed)
from septum.toolchain.riscv import CSR_ALIASES, CSR_NAMES, GPR_NAMES

__all__ = ["Source", "asm", "assemble", "parse_march", "DEFAULT_MARCH"]

DEFAULT_MARCH = "rv64imac_zicsr_zifencei"


@dataclass
class Source:
    """One assembly source: a name (used in errors and the line table, and
    to resolve relative ``.include``) and its text."""

    name: str
    text: str


# ---------------------------------------------------------------------------
# -march
# ---------------------------------------------------------------------------

_MARCH_RE = re.compile(r"rv64([a-z]*)((?:_[a-z0-9]+)*)$")


def parse_march(march: str) -> frozenset[str]:
    """The extensions named by ``march`` (``i m a c zicsr zifencei``)."""
    if not isinstance(march, str):
        raise AsmError("<march>", 0, f"bad -march {march!r}: expected a string")
    m = _MARCH_RE.match(march.strip().lower())
    if not m:
        raise AsmError("<march>", 0, f"bad -march {march!r}: expected rv64 followed by extensions")
    exts = {"i"}
    letters = m.group(1)
    if letters.startswith("g"):
        letters = "imafd" + letters[1:]
        exts |= {"zicsr", "zifencei"}
    elif not letters.startswith("i"):
        raise AsmError("<march>", 0, f"bad -march {march!r}: must start with rv64i or rv64g")
    for ch in letters:
        if ch not in "imacfd":
            raise AsmError("<march>", 0, f"bad -march {march!r}: unsupported extension {ch!r}")
        exts.add(ch)
    for z in m.group(2).split("_")[1:]:
        if z not in ("zicsr", "zifencei"):
            raise AsmError("<march>", 0, f"bad -march {march!r}: unsupported extension {z!r}")
        exts.add(z)
    return frozenset(exts)


# ---------------------------------------------------------------------------
# Items
# ---------------------------------------------------------------------------


# GNU as keeps frags in an obstack of 4064-byte chunks (16 bytes of chunk
# header); each frag starts with a 120-byte header on x86-64 hosts, at a
# 16-byte aligned offset.  A frag ends where the chunk has no room left for
# the next emission, which moves label addresses that GNU's branch estimate
# reads.  Calibrated against riscv64-unknown-elf-as 2.40 (Debian).
_GNU_CHUNK = 4064
_GNU_FRAG_HEADER = 120
#: Bytes GNU reserves for a code-alignment frag (MAX_MEM_FOR_RS_ALIGN_CODE).
_GNU_ALIGN_CODE_MAX = 7
#: Bytes GNU reserves for a relaxable branch (its worst case).
_GNU_RELAX_MAX = 8


class _Data:
    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()


class _Zero:
    """``size`` zero bytes, stored as a count (NOBITS sections, big fills)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class _Fix:
    """A fixed-size item encoded at link time: ``fn(addr, ev) -> bytes``."""

    __slots__ = ("size", "fn", "origin")

    def __init__(self, size, fn, origin):
        self.size = size
        self.fn = fn
        self.origin = origin


class _Relax:
    """A branch or jump to a label: 2, 4, 6 or 8 bytes (see module doc)."""

    __slots__ = ("size", "jump", "rvc", "f3", "rs1", "rs2", "rd", "tree", "tsym",
                 "addend", "origin", "idx")

    def __init__(self, jump, rvc, f3, rs1, rs2, rd, tree, tsym, addend, origin, idx):
        self.jump = jump
        self.rvc = rvc
        self.f3 = f3
        self.rs1 = rs1
        self.rs2 = rs2
        self.rd = rd
        self.tree = tree
        self.tsym = tsym
        self.addend = addend
        self.origin = origin
        self.idx = idx
        self.size = 2 if rvc else 4


class _LiVar:
    """``li rd, expr`` whose value is known only once the image is laid out
    (``end - start`` with ``end`` a later label, or labels of other
    sections): GNU's ``load_const`` sequence for the final value, its size
    found by the link-time fixpoint (see :meth:`_Linker._place`)."""

    __slots__ = ("size", "rd", "tree", "rvc", "exts", "origin", "text", "cache")

    def __init__(self, rd, tree, rvc, exts, origin, text):
        self.rd = rd
        self.tree = tree
        self.rvc = rvc
        self.exts = exts
        self.origin = origin
        self.text = text
        self.cache: dict[int, bytes] = {}
        self.size = len(self.encode(0))

    def encode(self, value: int) -> bytes:
        """The bytes of ``li rd, value`` as this ``li`` would assemble them."""
        hit = self.cache.get(value)
        if hit is None:
            a = _Assembler(self.exts, (), {})
            src = ("" if self.rvc else ".option norvc\n") + f"li x{self.rd}, {value}"
            a.run_file("<li>", src)
            hit = self.cache[value] = _Linker(a, 0, {".text": 0}).link().to_binary()
        return hit


class _Align:
    """Padding to an alignment, or (``org`` set) to an offset from the start
    of the piece (``.org``)."""

    __slots__ = ("align", "fill", "width", "maxskip", "code", "size", "org", "origin")

    def __init__(self, align, fill, width, maxskip, code, org=None, origin=None):
        self.align = align
        self.fill = fill
        self.width = width
        self.maxskip = maxskip
        self.code = code
        self.size = 0
        self.org = org
        self.origin = origin


class _Piece:
    """The part of one output section contributed by one file."""

    __slots__ = ("name", "flags", "nobits", "items", "align", "unit", "lines", "base",
                 "offs", "relax", "closed", "touched", "gfrags", "gu", "gcap", "vseg", "voff")

    def __init__(self, name, flags, nobits, unit, align):
        self.name = name
        self.flags = flags
        self.nobits = nobits
        self.items: list = []
        self.align = align
        self.unit = unit
        self.lines: list[tuple[int, int, str, int]] = []
        self.base = 0
        self.offs: list[int] = []
        self.relax: list[_Relax] = []
        self.closed = True
        self.touched = False
        # GNU as's frags for this (file, section), as [fixed size, variable
        # part], and the state of its frag obstack (bytes used, capacity of
        # the current chunk): needed to reproduce its branch relaxation,
        # which reads stale frag addresses (see _gnu_relax).
        self.gfrags: list[list] = [[0, None]]
        # Variable-size items so far, and bytes since the last one: two
        # positions with the same ``vseg`` are a known distance apart.
        self.vseg = 0
        self.voff = 0
        self.gu = _GNU_FRAG_HEADER
        self.gcap = _GNU_CHUNK - 16


class _Sym:
    __slots__ = ("name", "kind", "piece", "idx", "tree", "value", "origin", "busy", "gfrag",
                 "goff", "vseg", "voff")

    def __init__(self, name, kind, origin, piece=None, idx=0, tree=None, value=None):
        self.name = name
        self.kind = kind  # "label" or "equ"
        self.piece = piece
        self.idx = idx
        self.tree = tree
        self.value = value
        self.origin = origin
        self.busy = False
        self.gfrag = 0
        self.goff = 0
        self.vseg = 0
        self.voff = 0


class _Unit:
    """Everything one source file defined."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pieces: dict[str, _Piece] = {}
        self.symbols: dict[str, _Sym] = {}
        self.globals: dict[str, tuple[str, int]] = {}
        self.types: dict[str, str] = {}
        self.sizes: dict[str, tuple] = {}
        self.local_counts: dict[str, int] = {}
        self.weak: set[str] = set()
        #: every definition of each .equ/.set symbol, in order
        self.versions: dict[str, list[_Sym]] = {}


class _Undefined(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _display(name: str) -> str:
    """A symbol name as the user wrote it (numeric local labels)."""
    name = name.split("\x03")[0]
    if "\x02" in name:
        return name.split("\x02")[0] + "b/f"
    return name


# ---------------------------------------------------------------------------
# Lexical helpers
# ---------------------------------------------------------------------------

_LABEL_RE = re.compile(r"\s*([A-Za-z_.$][A-Za-z0-9_.$]*|[0-9]+)\s*:(?!=)")
_ASSIGN_RE = re.compile(r"\s*([A-Za-z_.$][A-Za-z0-9_.$]*)\s*=(?!=)\s*(.*)$")
_HEAD_RE = re.compile(r"\s*(\S+)\s*(.*)$", re.S)
_MEM_RE = re.compile(r"^(.*)\(\s*([A-Za-z0-9]+)\s*\)\s*$", re.S)
_MACRO_ARG_RE = re.compile(r"\\([A-Za-z_][A-Za-z0-9_]*|@|\(\))")
_FENCE_RE = re.compile(r"i?o?r?w?$")
_SYMNAME_RE = re.compile(r"[A-Za-z_.$][A-Za-z0-9_.$]*$")


def _strip_c_comments(text: str) -> str:
    """Blank out ``/* ... */`` comments (keeping newlines), outside strings."""
    out = []
    i, n = 0, len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"' or c == "\n":
                in_str = False
            i += 1
        elif c == '"':
            in_str = True
            out.append(c)
            i += 1
        elif c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
        elif c == "'":
            out.append(text[i:i + 2])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _split_statements(line: str) -> list[str]:
    """Statements of one line: comments (``#``) removed, split at ``;``."""
    if '"' not in line and "'" not in line:
        h = line.find("#")
        if h >= 0:
            line = line[:h]
        if ";" in line:
            return line.split(";")
        return [line]
    out, cur = [], []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            cur.append(line[i:j + 1])
            i = j + 1
        elif c == "'":
            if i + 1 < n and line[i + 1] == "\\":
                cur.append(line[i:i + 3])
                i += 3
            else:
                cur.append(line[i:i + 2])
                i += 2
            if i < n and line[i] == "'":
                cur.append("'")
                i += 1
        elif c == "#":
            break
        elif c == ";":
            out.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(c)
            i += 1
    out.append("".join(cur))
    return out


def _split_operands(text: str) -> list[str]:
    """Operands separated by top-level commas (parentheses, strings kept)."""
    text = text.strip()
    if not text:
        return []
    if "(" not in text and '"' not in text and "'" not in text:
        return [t.strip() for t in text.split(",")]
    out, cur, depth = [], [], 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c == "'":
            k = 3 if text[i + 1:i + 2] == "\\" else 2
            if text[i + k:i + k + 1] == "'":
                k += 1
            cur.append(text[i:i + k])
            i += k
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    out.append("".join(cur).strip())
    return out


_STR_ESC = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11, "a": 7, "e": 27,
            "\\": 92, '"': 34, "'": 39}


def _parse_string(tok: str) -> bytes:
    """The bytes of one string literal ``"..."`` with C escapes."""
    tok = tok.strip()
    if len(tok) < 2 or tok[0] != '"' or tok[-1] != '"':
        raise ExprError(f"expected a string literal, got {tok!r}")
    body = tok[1:-1]
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        i += 1
        if i >= n:
            raise ExprError(f"string ends in a backslash: {tok!r}")
        c = body[i]
        if c in "01234567":
            j = i
            while j < n and j < i + 3 and body[j] in "01234567":
                j += 1
            out.append(int(body[i:j], 8) & 0xFF)
            i = j
        elif c in "xX":
            j = i + 1
            while j < n and body[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 1:
                raise ExprError(f"bad \\x escape in {tok!r}")
            out.append(int(body[i + 1:j], 16) & 0xFF)
            i = j
        else:
            out.append(_STR_ESC.get(c, ord(c) & 0xFF))
            i += 1
    return bytes(out)


def _known_flags(name: str) -> tuple[str, bool] | None:
    """Default (flags, nobits) of the well-known section names."""
    if name == ".text" or name.startswith(".text.") or name in (".init", ".fini"):
        return "ax", False
    if name.startswith((".rodata", ".srodata")):
        return "a", False
    if name.startswith((".data", ".sdata", ".tdata")):
        return "aw", False
    if name.startswith((".bss", ".sbss", ".tbss")):
        return "aw", True
    return None


def _kind_rank(p_name: str, flags: str, nobits: bool) -> tuple[int, int]:
    if "a" not in flags:
        return 4, 0
    if nobits:
        return 3, (0 if p_name.startswith(".bss") else 1 if p_name.startswith(".sbss") else 2)
    if "x" in flags:
        return 0, (0 if p_name.startswith(".text") else 1)
    if "w" in flags:
        return 2, (0 if p_name.startswith(".data") else 1 if p_name.startswith(".sdata") else 2)
    return 1, (0 if p_name.startswith(".rodata") else 1)


def _nop_fill(n: int) -> bytes:
    """Code padding as GNU ``as -mno-relax`` writes it."""
    out = bytearray()
    if n % 2:
        out.append(0)
    if (n - len(out)) % 4 == 2:
        out += C_NOP.to_bytes(2, "little")
    while len(out) < n:
        out += NOP.to_bytes(4, "little")
    return bytes(out)


class _Mismatch(Exception):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


_KIND_NAMES = {"d": "a register", "s": "a register", "t": "a register",
               "j": "an immediate", "u": "an immediate", ">": "a shift amount",
               "<": "a shift amount", "Z": "a 5-bit immediate", "I": "a constant",
               "o(s)": "a memory operand offset(reg)", "(s)": "an address (reg)",
               "p": "a branch target", "a": "a jump target", "E": "a CSR name or number",
               "P": "fence flags (iorw)", "Q": "fence flags (iorw)", "A": "a symbol",
               "c": "a symbol"}

_EXT_NAMES = {"m": "M", "a": "A", "c": "C", "cx": "C", "zicsr": "Zicsr", "zifencei": "Zifencei"}


# ---------------------------------------------------------------------------
# The assembler proper
# ---------------------------------------------------------------------------


class _Frame:
    """A source of lines: a file, or a macro/.rept/.irp expansion."""

    __slots__ = ("lines", "pos", "file", "origin", "kind", "cond_depth")

    def __init__(self, lines, file, origin=None, kind="file", cond_depth=0):
        self.lines = lines
        self.pos = 0
        self.file = file  # for .include resolution and line numbers
        self.origin = origin  # (file, line) for every line of an expansion
        self.kind = kind
        self.cond_depth = cond_depth  # .if depth when the frame began


class _Assembler:
    """Turns source files into units of pieces and symbols (see module doc)."""

    def __init__(self, exts: frozenset[str], include_dirs: Iterable, defines: dict[str, int]):
        self.exts = exts
        self.include_dirs = [str(d) for d in include_dirs]
        self.defines = dict(defines)
        self.units: list[_Unit] = []
        self.macros: dict[str, tuple[list, list[str], tuple]] = {}
        self.macro_counter = 0
        self.internal = 0
        self.rvc_seen = False  # an .option rvc anywhere (ELF EF_RISCV_RVC)
        #: ``li`` items sized at link time: (piece, item).
        self.livars: list[tuple[_Piece, _LiVar]] = []

    # -- errors ------------------------------------------------------------
    def err(self, message: str, origin=None):
        f, ln = origin or self.origin
        return AsmError(f, ln, message)

    # -- per-file driver ----------------------------------------------------
    def run_file(self, name: str, text: str) -> None:
        unit = _Unit(name)
        self.units.append(unit)
        self.unit = unit
        self.rvc = "c" in self.exts
        self.option_stack: list[bool] = []
        self.cond: list[list[bool]] = []  # [active, taken, parent_active]
        self.sec_stack: list[tuple[_Piece, _Piece | None]] = []
        self.prev_piece: _Piece | None = None
        self.piece = self._get_piece(".text", None, None)
        self.origin = (name, 0)
        self.ended = False
        self.frames: list[_Frame] = []
        self._push_text(text, name)
        self._loop()
        if self.cond:
            raise self.err("unterminated .if (missing .endif)", self.cond[-1][3])
        # GNU as pads the end of each code section to the section's
        # alignment with nops (data sections are left as they are).
        for p in unit.pieces.values():
            if "x" in p.flags and p.items and p.align > 1 and not p.nobits:
                p.items.append(_Align(p.align, None, 1, None, True))

    def _push_text(self, text: str, name: str) -> None:
        if "/*" in text:
            text = _strip_c_comments(text)
        self.frames.append(_Frame(text.split("\n"), name, cond_depth=len(self.cond)))

    def _loop(self) -> None:
        frames = self.frames
        while frames and not self.ended:
            fr = frames[-1]
            if fr.pos >= len(fr.lines):
                frames.pop()
                if fr.kind == "file" and len(self.cond) > fr.cond_depth:
                    raise self.err("unterminated .if (missing .endif)", self.cond[-1][3])
                continue
            raw = fr.lines[fr.pos]
            fr.pos += 1
            self.origin = fr.origin if fr.origin is not None else (fr.file, fr.pos)
            self._line(raw, fr)

    def _line(self, raw: str, fr: _Frame) -> None:
        for stmt in _split_statements(raw):
            if not stmt or stmt.isspace():
                continue
            self._statement(stmt, fr)
            if self.ended:
                return

    # -- statements ---------------------------------------------------------
    def _statement(self, stmt: str, fr: _Frame | None) -> None:
        if self.cond and not self.cond[-1][0]:
            self._inactive(stmt)
            return
        # labels
        while True:
            m = _LABEL_RE.match(stmt)
            if not m:
                break
            self._define_label(m.group(1))
            stmt = stmt[m.end():]
        if not stmt.strip():
            return
        m = _ASSIGN_RE.match(stmt)
        if m and not m.group(1).startswith("."):
            self._set(m.group(1), m.group(2), "=")
            return
        m = _HEAD_RE.match(stmt)
        head, rest = m.group(1), m.group(2).strip()
        if head[0] == ".":
            low = head.lower()
            fn = _DIRECTIVES.get(low)
            if fn is None:
                if head in self.macros:
                    self._invoke_macro(head, rest)
                    return
                if low.startswith(".cfi_"):
                    return
                raise self.err(f"unknown directive {head}")
            fn(self, rest, fr, low)
            return
        if head in self.macros:
            self._invoke_macro(head, rest)
            return
        self._instruction(head.lower(), rest)

    def _inactive(self, stmt: str) -> None:
        """Inside a false conditional: only track nesting."""
        while True:
            m = _LABEL_RE.match(stmt)
            if not m:
                break
            stmt = stmt[m.end():]
        m = _HEAD_RE.match(stmt)
        if not m:
            return
        head = m.group(1).lower()
        if head.startswith(".if"):
            self.cond.append([False, True, False, self.origin])
        elif head in (".else", ".elseif", ".endif"):
            _DIRECTIVES[head](self, m.group(2).strip(), None, head)

    # -- symbols ------------------------------------------------------------
    def _new_internal(self, stem: str) -> str:
        self.internal += 1
        return f".L{stem}{self.internal}"

    def _close(self) -> None:
        self.piece.closed = True

    def _define_label(self, name: str) -> None:
        unit = self.unit
        if name[0].isdigit():
            n = unit.local_counts.get(name, 0) + 1
            unit.local_counts[name] = n
            name = f"{name}\x02{n}"
        old = unit.symbols.get(name)
        if old is not None:
            raise self.err(f"duplicate symbol '{name}' (first defined at "
                           f"{old.origin[0]}:{old.origin[1]})")
        p = self.piece
        p.closed = True
        p.touched = True
        s = unit.symbols[name] = _Sym(name, "label", self.origin, p, len(p.items))
        s.gfrag = len(p.gfrags) - 1
        s.goff = p.gfrags[-1][0]
        s.vseg, s.voff = p.vseg, p.voff

    def _here_label(self) -> str:
        name = self._new_internal("dot")
        p = self.piece
        p.closed = True
        s = self.unit.symbols[name] = _Sym(name, "label", self.origin, p, len(p.items))
        s.gfrag = len(p.gfrags) - 1
        s.goff = p.gfrags[-1][0]
        s.vseg, s.voff = p.vseg, p.voff
        return name

    def _lref(self, ref: str) -> str:
        num, d = ref[:-1], ref[-1]
        n = self.unit.local_counts.get(num, 0)
        if d == "b":
            if n == 0:
                raise ExprError(f"local label '{ref}' has no earlier definition '{num}:'")
            return f"{num}\x02{n}"
        return f"{num}\x02{n + 1}"

    def _const_sym(self, name: str) -> int:
        s = self.unit.symbols.get(name)
        if s is not None:
            if s.kind == "equ" and s.value is not None:
                return s.value
            raise NotConstant(name)
        if name in self.defines:
            return self.defines[name]
        raise NotConstant(name)

    def _parse(self, text: str):
        try:
            return parse_expr(text, self._lref)
        except ExprError as e:
            raise self.err(str(e)) from None

    def _const(self, tree):
        """The value of ``tree`` if known now, else ``None``."""
        try:
            return evaluate(tree, self._const_sym)
        except NotConstant:
            return self._label_difference(tree)
        except ExprError as e:
            raise self.err(str(e)) from None

    def _label_difference(self, tree):
        """The value of ``tree`` when its labels (and ``.``) in the current
        section occur only in differences GNU can compute now — no relaxable
        branch or alignment between them — e.g. ``(. - start) != 16``.
        ``None`` if it cannot be known yet."""
        p = self.piece

        def lin(t):
            # a linear form: ({segment: coefficient}, constant)
            tag = t[0]
            if tag == "n":
                return {}, t[1]
            if tag == ".":
                return {p.vseg: 1}, p.voff
            if tag == "s":
                try:
                    return {}, self._const_sym(t[1])
                except NotConstant:
                    pass
                sy = self.unit.symbols.get(t[1])
                if sy is None or sy.kind != "label" or sy.piece is not p:
                    raise NotConstant(t[1])
                return {sy.vseg: 1}, sy.voff
            if tag == "u":
                d, c = lin(t[2])
                if t[1] == "-":
                    return {k: -v for k, v in d.items()}, wrap64(-c)
                if d:
                    raise NotConstant("label")
                return {}, evaluate(("u", t[1], ("n", c)), self._const_sym)
            if tag == "b":
                da, ca = lin(t[2])
                db, cb = lin(t[3])
                if t[1] in ("+", "-"):
                    sign = 1 if t[1] == "+" else -1
                    d = dict(da)
                    for k, v in db.items():
                        d[k] = d.get(k, 0) + sign * v
                        if not d[k]:
                            del d[k]
                    return d, wrap64(ca + sign * cb)
                if da or db:
                    raise NotConstant("label")
                return {}, evaluate(("b", t[1], ("n", ca), ("n", cb)), self._const_sym)
            if tag == "r" and t[1] in ("hi", "lo"):
                d, c = lin(t[2])
                if d:
                    raise NotConstant("label")
                return {}, evaluate(("r", t[1], ("n", c)), self._const_sym)
            raise NotConstant("expression")

        try:
            d, c = lin(tree)
        except NotConstant:
            return None
        except ExprError as e:
            raise self.err(str(e)) from None
        return None if d else c

    def _need_const(self, text: str, what: str) -> int:
        tree = self._parse(text)
        v = self._const(tree)
        if v is None:
            raise self.err(f"{what} must be a constant known at this point: {text.strip()!r}")
        return v

    def _defer_tree(self, tree):
        """``tree`` for evaluation at link time, meaning what it means now:
        constants folded to their current values, and every symbol set by
        .equ/.set pinned to its current definition (a later .set makes a new
        symbol, as in GNU; a forward reference binds to the first one)."""
        tree = fold(tree, self._const_sym)
        versions = self.unit.versions
        if versions:
            tree = _rename(tree, lambda n: f"{n}\x03{len(versions[n])}" if n in versions else n)
        return tree

    def _set(self, name: str, text: str, how: str) -> None:
        if not _SYMNAME_RE.match(name):
            raise self.err(f"bad symbol name {name!r} in {how}")
        tree = self._parse(text)
        unit = self.unit
        old = unit.symbols.get(name)
        if old is not None and (old.kind == "label" or how == ".equiv"):
            raise self.err(f"duplicate symbol '{name}' (first defined at "
                           f"{old.origin[0]}:{old.origin[1]})")
        v = self._const(tree)
        if v is not None:
            sym = _Sym(name, "equ", self.origin, value=v)
        else:
            tree = self._defer_tree(tree)
            if _has_dot(tree):
                tree = _replace_dot(tree, ("s", self._here_label()))
            sym = _Sym(name, "equ", self.origin, tree=tree)
        unit.symbols[name] = sym
        unit.versions.setdefault(name, []).append(sym)

    # -- sections -------------------------------------------------------------
    def _get_piece(self, name: str, flags: str | None, typ: str | None) -> _Piece:
        unit = self.unit
        p = unit.pieces.get(name)
        if p is not None:
            return p
        known = _known_flags(name)
        nobits = False
        if flags is None:
            flags, nobits = known if known else ("", False)
        elif known:
            nobits = known[1]
        if typ is not None:
            nobits = typ == "nobits"
        align = (2 if "c" in self.exts else 4) if "x" in flags else 1
        p = _Piece(name, flags, nobits, unit, align)
        unit.pieces[name] = p
        return p

    def _switch(self, name: str, flags: str | None = None, typ: str | None = None) -> None:
        self.prev_piece = self.piece
        self.piece = self._get_piece(name, flags, typ)
        self.piece.touched = True

    # -- emission ---------------------------------------------------------------
    def _line_entry(self) -> None:
        p = self.piece
        items = p.items
        if items and not p.closed and type(items[-1]) in (_Data, _Zero):
            last = items[-1]
            p.lines.append((len(items) - 1, len(last.buf) if type(last) is _Data else last.size,
                            self.origin[0], self.origin[1]))
        else:
            p.lines.append((len(items), 0, self.origin[0], self.origin[1]))

    def _emit_zeros(self, n: int) -> None:
        """``n`` zero bytes without materialising them."""
        p = self.piece
        items = p.items
        if not p.closed and items and type(items[-1]) is _Zero:
            items[-1].size += n
        else:
            items.append(_Zero(n))
            p.closed = False

    def _emit(self, data: bytes) -> None:
        p = self.piece
        if p.nobits and any(data):
            raise self.err(f"non-zero data in NOBITS section {p.name}")
        items = p.items
        if not p.closed and items and type(items[-1]) is _Data:
            items[-1].buf += data
        else:
            d = _Data()
            d.buf += data
            items.append(d)
            p.closed = False

    # -- GNU frag model (see _gnu_relax) ----------------------------------------
    def _gnu_new_frag(self, p: _Piece, need: int = 0) -> None:
        u = min((p.gu + 15) & ~15, p.gcap)
        if p.gcap - u < _GNU_FRAG_HEADER:
            size = _GNU_CHUNK
            if need:  # frag_grow enlarges the chunk for a big emission
                size = max(size, (2 * need if need < 0x10000 else need + 0x10000)
                           + _GNU_FRAG_HEADER)
            p.gcap = size - 16
            u = 0
        p.gu = u + _GNU_FRAG_HEADER
        p.gfrags.append([0, None])

    def _gnu_more(self, n: int) -> None:
        """GNU's frag_more(n): fixed bytes, in a new frag if the chunk is full."""
        p = self.piece
        while p.gcap - p.gu < n:
            self._gnu_new_frag(p, n)
        p.gu += n
        p.gfrags[-1][0] += n
        p.voff += n

    def _gnu_bytes(self, count: int) -> None:
        """``count`` one-byte frag_more calls (strings, .byte)."""
        p = self.piece
        p.voff += count
        while count:
            room = p.gcap - p.gu
            if room >= count:
                p.gu += count
                p.gfrags[-1][0] += count
                return
            if room > 0:
                p.gu += room
                p.gfrags[-1][0] += room
                count -= room
            self._gnu_new_frag(p, 1)

    def _gnu_var(self, max_chars: int, var) -> None:
        """GNU's frag_var: ``var`` (a relaxable item, an alignment, or the
        fixed size of a fill) ends the current frag."""
        p = self.piece
        while p.gcap - p.gu < max_chars:
            self._gnu_new_frag(p, max_chars)
        p.gu += max_chars
        p.gfrags[-1][1] = var
        self._gnu_new_frag(p)
        if type(var) is int:
            p.voff += var
        else:
            p.vseg += 1
            p.voff = 0

    def _emit_item(self, item) -> None:
        p = self.piece
        if p.nobits:
            raise self.err(f"instructions or relocated data in NOBITS section {p.name}")
        if type(item) is _Fix:
            self._gnu_more(item.size)
        p.items.append(item)
        p.closed = True

    def _emit_word(self, word: int, size: int) -> None:
        self._line_entry()
        self._gnu_more(size)
        self._emit(word.to_bytes(size, "little"))

    # -- instructions -------------------------------------------------------------
    def _operand(self, kind: str, tok: str, i: int, v: dict, cache: dict) -> None:
        if kind in ("d", "s", "t"):
            r = GPR_NAMES.get(tok)
            if r is None:
                raise _Mismatch(i, f"expected a register, got {tok!r}")
            v["rd" if kind == "d" else "rs1" if kind == "s" else "rs2"] = r
            return
        if kind == "o(s)" or kind == "(s)":
            m = _MEM_RE.match(tok)
            if not m or m.group(2) not in GPR_NAMES:
                raise _Mismatch(i, f"expected offset(register), got {tok!r}")
            v["rs1"] = GPR_NAMES[m.group(2)]
            off = m.group(1).strip()
            if kind == "(s)":
                if off and self._tree_const(off, i, cache) != 0:
                    raise _Mismatch(i, f"expected (register) with no offset, got {tok!r}")
                return
            if not off:
                v["imm"] = 0
                v["imm_t"] = None
                return
            tree, c = self._expr_operand(off, i, cache)
            v["imm"] = c
            v["imm_t"] = tree
            if c is not None and _has_reloc(tree):
                v["imm_rel"] = True
            return
        if kind == "E":
            num = CSR_NAMES.get(tok)
            if num is None:
                num = CSR_ALIASES.get(tok)
            if num is None:
                if GPR_NAMES.get(tok) is not None:
                    raise _Mismatch(i, f"expected a CSR, got register {tok!r}")
                tree, c = self._expr_operand(tok, i, cache)
                if c is None:
                    raise _Mismatch(i, f"unknown CSR {tok!r}")
                if not 0 <= c <= 0xFFF:
                    raise _Mismatch(i, f"CSR number {c} out of range 0..4095")
                num = c
            v["csr"] = num
            return
        if kind in ("P", "Q"):
            bits = 0
            t = tok.strip().lower()
            # GNU takes the letters in the order i, o, r, w (each optional).
            if not t or not _FENCE_RE.match(t):
                raise _Mismatch(i, f"expected fence flags (a non-empty subset of 'iorw' "
                                   f"in that order), got {tok!r}")
            for ch in t:
                bits |= {"i": 8, "o": 4, "r": 2, "w": 1}[ch]
            v["pred" if kind == "P" else "succ"] = bits
            return
        if GPR_NAMES.get(tok) is not None:
            raise _Mismatch(i, f"expected {_KIND_NAMES[kind]}, got register {tok!r}")
        if kind in ("A", "c"):
            self._expr_operand(tok, i, cache)
            v["sym"] = tok
            return
        tree, c = self._expr_operand(tok, i, cache)
        if kind in ("p", "a"):
            v["target"] = c
            v["target_t"] = tree
            return
        v["imm"] = c
        v["imm_t"] = tree
        v["imm_src"] = tok
        if c is not None and _has_reloc(tree):
            v["imm_rel"] = True

    def _expr_operand(self, tok: str, i: int, cache: dict):
        hit = cache.get(tok)
        if hit is None:
            if not tok:
                raise _Mismatch(i, "missing operand")
            try:
                tree = parse_expr(tok, self._lref)
            except ExprError as e:
                raise _Mismatch(i, f"{e}") from None
            try:
                c = evaluate(tree, self._const_sym)
            except NotConstant:
                c = self._label_difference(tree)
            except ExprError as e:
                raise _Mismatch(i, f"{e}") from None
            hit = cache[tok] = (tree, c)
        return hit

    def _tree_const(self, tok, i, cache):
        return self._expr_operand(tok, i, cache)[1]

    def _instruction(self, mnem: str, rest: str) -> None:
        alts = TABLE.get(mnem)
        if alts is None:
            raise self.err(f"unknown mnemonic '{mnem}'")
        ops = _split_operands(rest)
        nops = len(ops)
        cache: dict = {}
        best: _Mismatch | None = None
        best_c = False
        range_err: str | None = None
        ext_err: str | None = None
        for alt in alts:
            ext = alt.ext
            if ext == "c" and not self.rvc:
                continue
            if ext == "cx":
                if not self.rvc:
                    ext_err = f"'{mnem}' needs the C extension (and .option rvc)"
                    continue
            elif ext not in self.exts and ext != "c":
                ext_err = f"'{mnem}' needs extension {_EXT_NAMES.get(ext, ext)} (not in -march)"
                continue
            if len(alt.pattern) != nops:
                continue
            v = {"rd": 0, "rs1": 0, "rs2": 0}
            try:
                for i, kind in enumerate(alt.pattern):
                    self._operand(kind, ops[i], i, v, cache)
            except _Mismatch as mm:
                if best is None or mm.index > best.index or (best_c and ext != "c"):
                    best = mm
                    best_c = ext == "c"
                continue
            kind = alt.kind
            if kind == "br" or kind == "jal":
                if self._branch(alt, v, mnem):
                    return
                continue
            if alt.needs_const and (v.get("imm", 0) is None or "imm_rel" in v):
                # GNU never compresses an operand written with %hi/%lo/...
                continue
            if alt.cond is not None and not alt.cond(v):
                continue
            if kind == "macro":
                self._macro_insn(alt, v, mnem)
                return
            if kind in ("cj", "cb"):
                self._explicit_cbranch(alt, v, mnem)
                return
            size = 2 if kind == "h" else 4
            if v.get("imm", 0) is None:
                self._defer_insn(alt, v, size, mnem)
                return
            try:
                word = alt.build(v)
            except RangeErr as e:
                if ext == "cx":
                    raise self.err(f"{e} in '{mnem} {rest}'") from None
                range_err = range_err or str(e)
                continue
            self._emit_word(word, size)
            return
        if range_err:
            raise self.err(f"{range_err} in '{mnem} {rest}'")
        if best is not None:
            raise self.err(f"bad operand {best.index + 1} of '{mnem}': {best.message}")
        if ext_err:
            raise self.err(ext_err)
        counts = sorted({len(a.pattern) for a in alts})
        raise self.err(f"'{mnem}' takes {' or '.join(map(str, counts))} operand(s), got {nops}")

    def _defer_insn(self, alt, v, size, mnem) -> None:
        tree = self._defer_tree(v["imm_t"])
        build = alt.build
        origin = self.origin

        def fn(addr, ev):
            vv = dict(v)
            vv["imm"] = ev(tree, addr)
            try:
                return build(vv).to_bytes(size, "little")
            except RangeErr as e:
                raise AsmError(origin[0], origin[1], f"{e} in '{mnem}'") from None

        if mnem == "auipc" and tree[0] == "r" and tree[1] == "pcrel_hi":
            fn.hi_tree = tree[2]
        self._line_entry()
        self._emit_item(_Fix(size, fn, origin))

    def _branch(self, alt, v, mnem) -> bool:
        """Branches and jumps; returns False if this alternative does not fit."""
        rvc = alt.info[0] if alt.kind == "jal" else alt.info[1]
        if alt.cond is not None and not alt.cond(v):
            return False
        off = v["target"]
        if alt.kind == "jal":
            rd = alt.info[1] if alt.info[1] is not None else v["rd"]
            if off is not None:
                try:
                    word = enc_cj(5, off) if rvc else enc_j(rd, off)
                except RangeErr as e:
                    if rvc:
                        return False
                    raise self.err(f"{e} in '{mnem}'") from None
                self._emit_word(word, 2 if rvc else 4)
                return True
            self._relax(True, rvc, 0, 0, 0, rd, v["target_t"])
            return True
        f3 = alt.info[0]
        if off is not None:
            try:
                if rvc:
                    word = enc_cb(6 + f3, v["rs1"], off)
                else:
                    word = enc_b(f3, v["rs1"], v["rs2"], off)
            except RangeErr as e:
                if rvc:
                    return False
                raise self.err(f"{e} in '{mnem}'") from None
            self._emit_word(word, 2 if rvc else 4)
            return True
        self._relax(False, rvc, f3, v["rs1"], v["rs2"], 0, v["target_t"])
        return True

    def _relax(self, jump, rvc, f3, rs1, rs2, rd, tree) -> None:
        tree = self._defer_tree(tree)
        tsym, addend = None, 0
        if _has_dot(tree):
            tree = _replace_dot(tree, ("s", self._here_label()))
        t = tree
        if t[0] == "s":
            tsym = t[1]
        elif t[0] == "b" and t[1] in "+-" and t[2][0] == "s" and t[3][0] == "n":
            tsym, addend = t[2][1], (t[3][1] if t[1] == "+" else -t[3][1])
        elif t[0] == "b" and t[1] == "+" and t[3][0] == "s" and t[2][0] == "n":
            tsym, addend = t[3][1], t[2][1]
        p = self.piece
        self._line_entry()
        item = _Relax(jump, rvc, f3, rs1, rs2, rd, tree, tsym, addend, self.origin, len(p.items))
        if p.nobits:
            raise self.err(f"instructions in NOBITS section {p.name}")
        self._gnu_var(_GNU_RELAX_MAX, item)
        p.items.append(item)
        p.closed = True
        p.relax.append(item)

    def _li_var(self, v) -> None:
        """``li`` of a value known only at link time (see :class:`_LiVar`)."""
        tree = self._defer_tree(v["imm_t"])
        text = repr(v.get("imm_src", "").strip())
        if _has_reloc(tree):
            raise self.err(f"'li' needs a constant, not a relocation: {text}")
        if _has_dot(tree):
            tree = _replace_dot(tree, ("s", self._here_label()))
        p = self.piece
        if p.nobits:
            raise self.err(f"instructions in NOBITS section {p.name}")
        self._line_entry()
        item = _LiVar(v["rd"], tree, self.rvc, self.exts, self.origin, text)
        self._gnu_more(item.size)
        # Its size is variable: no distance across it is known now.
        p.vseg += 1
        p.voff = 0
        p.items.append(item)
        p.closed = True
        self.livars.append((p, item))

    def _explicit_cbranch(self, alt, v, mnem) -> None:
        f3 = alt.info[0]
        if alt.kind == "cb" and not 8 <= v["rs1"] <= 15:
            raise self.err(f"bad operand 1 of '{mnem}': register must be one of x8..x15")
        origin = self.origin

        def enc(off):
            return enc_cj(f3, off) if alt.kind == "cj" else enc_cb(f3, v["rs1"], off)

        if v["target"] is not None:
            try:
                self._emit_word(enc(v["target"]), 2)
            except RangeErr as e:
                raise self.err(f"{e} in '{mnem}'") from None
            return
        # GNU relaxes an explicit c.j/c.beqz/c.bnez to a label like j/beqz/bnez.
        if alt.kind == "cj":
            self._relax(True, True, 0, 0, 0, 0, v["target_t"])
        else:
            self._relax(False, True, f3 - 6, v["rs1"], 0, 0, v["target_t"])

    def _macro_insn(self, alt, v, mnem) -> None:
        if "I" in alt.pattern and v["imm"] is None:
            if mnem == "li":
                self._li_var(v)
                return
            raise self.err(f"'{mnem}' needs a constant known at this point "
                           f"(use la/lla for addresses)")
        if mnem in ("la", "lla"):
            # GNU: la/lla of a constant known now is load_const (li), and the
            # constant or a symbol's addend must fit in signed 32 bits.
            tree, c = self._expr_operand(v["sym"], 1, {})
            addend = c
            if c is None:
                t = fold(tree, self._const_sym)
                addend = t[3][1] if t[0] == "b" and t[1] in "+-" and t[3][0] == "n" else 0
                addend = -addend if t[0] == "b" and t[1] == "-" else addend
            if not fits_signed(addend, 32):
                raise self.err(f"offset too large: {addend:#x} does not fit in 32 bits "
                               f"in '{mnem}'")
            if c is not None:
                for stmt in li_sequence(v["rd"], c):
                    self._statement(stmt, None)
                return
        stmts = alt.build(v)
        label = None
        for s in stmts:
            if "{L}" in s:
                if label is None:
                    label = self._new_internal("pcrel_hi")
                s = s.replace("{L}", label)
            self._statement(s, None)

    # -- macros -------------------------------------------------------------------
    def _collect(self, fr: _Frame | None, openers: tuple[str, ...], closer: str,
                 what: str) -> list[str]:
        """Raw lines up to the matching ``closer``, from the current frame."""
        start = self.origin
        if fr is None:
            raise self.err(f"{what} cannot be used here")
        depth = 1
        body: list[str] = []
        while fr.pos < len(fr.lines):
            raw = fr.lines[fr.pos]
            fr.pos += 1
            s = raw.strip().lower()
            m = re.match(r"(?:[A-Za-z_.$][\w.$]*:\s*)*(\.[a-z]+)", s)
            d = m.group(1) if m else ""
            if d in openers:
                depth += 1
            elif d == closer or (closer == ".endm" and d == ".endmacro"):
                depth -= 1
                if depth == 0:
                    return body
            body.append(raw)
        raise self.err(f"unterminated {what} (missing {closer})", start)

    def _invoke_macro(self, name: str, rest: str) -> None:
        body, params, origin_def = self.macros[name]
        args = _split_operands(rest) if rest.strip() else []
        if len(args) == 1 and len(params) > 1 and " " in args[0].strip() \
                and '"' not in args[0] and "(" not in args[0]:
            args = [a for a in re.split(r"\s+", args[0].strip()) if a]
        # GNU strips the quotes around an argument ("a b" passes a b).
        args = [a[1:-1] if len(a) >= 2 and a[0] == a[-1] == '"' else a for a in args]
        values: dict[str, str] = {}
        positional = []
        for a in args:
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*(.*)$", a, re.S)
            if m and any(p[0] == m.group(1) for p in params):
                values[m.group(1)] = m.group(2)
            else:
                positional.append(a)
        pi = 0
        for idx, (pname, default, qual) in enumerate(params):
            if pname in values:
                continue
            if qual == "vararg":
                values[pname] = ", ".join(positional[pi:])
                pi = len(positional)
                continue
            if pi < len(positional):
                values[pname] = positional[pi]
                pi += 1
            elif qual == "req":
                raise self.err(f"missing value for required argument '{pname}' of macro '{name}'")
            else:
                values[pname] = default
        if pi < len(positional):
            raise self.err(f"too many arguments to macro '{name}' ({len(positional)} given, "
                           f"{len(params)} expected)")
        self.macro_counter += 1
        counter = str(self.macro_counter - 1)

        def sub(m):
            key = m.group(1)
            if key == "@":
                return counter
            if key == "()":
                return ""
            return values.get(key, m.group(0))

        lines = [_MACRO_ARG_RE.sub(sub, ln) if "\\" in ln else ln for ln in body]
        if len(self.frames) > 200:
            raise self.err(f"macro '{name}' nested too deeply (recursive?)")
        self.frames.append(_Frame(lines, self.origin[0], origin=self.origin, kind="macro",
                                  cond_depth=len(self.cond)))

    # -- finishing ---------------------------------------------------------------------


def _tree_any(tree, pred) -> bool:
    """True when ``pred`` holds for ``tree`` or any node below it."""
    if pred(tree):
        return True
    tag = tree[0]
    if tag == "u" or tag == "r":
        return _tree_any(tree[2], pred)
    if tag == "b":
        return _tree_any(tree[2], pred) or _tree_any(tree[3], pred)
    return False


def _has_reloc(tree) -> bool:
    return _tree_any(tree, lambda t: t[0] == "r")


def _rename(tree, fn):
    """``tree`` with every symbol name ``n`` replaced by ``fn(n)``."""
    tag = tree[0]
    if tag == "s":
        return ("s", fn(tree[1]))
    if tag == "u" or tag == "r":
        return (tag, tree[1], _rename(tree[2], fn))
    if tag == "b":
        return ("b", tree[1], _rename(tree[2], fn), _rename(tree[3], fn))
    return tree


def _has_dot(tree) -> bool:
    return _tree_any(tree, lambda t: t[0] == ".")


def _replace_dot(tree, repl):
    tag = tree[0]
    if tag == ".":
        return repl
    if tag == "u" or tag == "r":
        # %pcrel_hi(.) is relative to the instruction itself, which is what
        # the label at the current position is too.
        return (tag, tree[1], _replace_dot(tree[2], repl))
    if tag == "b":
        return ("b", tree[1], _replace_dot(tree[2], repl), _replace_dot(tree[3], repl))
    return tree


# ---------------------------------------------------------------------------
# Directives
# ---------------------------------------------------------------------------

_DIRECTIVES: dict[str, Callable] = {}


def _directive(*names):
    def deco(fn):
        for n in names:
            _DIRECTIVES[n] = fn
        return fn
    return deco


@_directive(".text", ".data", ".rodata", ".bss", ".sdata", ".sbss")
def _d_simple_section(a: _Assembler, rest, fr, name):
    a._switch(name)


@_directive(".section", ".pushsection")
def _d_section(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not ops or not ops[0]:
        raise a.err(f"{name} needs a section name")
    sname = ops[0].strip('"')
    flags = None
    typ = None
    if len(ops) > 1:
        f = ops[1].strip()
        if not (f.startswith('"') and f.endswith('"')):
            raise a.err(f"bad section flags {f!r} (expected a quoted string like \"ax\")")
        flags = "".join(ch for ch in f[1:-1] if ch in "awx")
    if len(ops) > 2:
        t = ops[2].strip().lstrip("@%").lower()
        if t not in ("progbits", "nobits", "note", "init_array", "fini_array", "preinit_array"):
            raise a.err(f"bad section type {ops[2]!r}")
        typ = "nobits" if t == "nobits" else "progbits"
    if name == ".pushsection":
        a.sec_stack.append((a.piece, a.prev_piece))
    a._switch(sname, flags, typ)


@_directive(".popsection")
def _d_popsection(a: _Assembler, rest, fr, name):
    if not a.sec_stack:
        raise a.err(".popsection without .pushsection")
    a.piece, a.prev_piece = a.sec_stack.pop()


@_directive(".previous")
def _d_previous(a: _Assembler, rest, fr, name):
    if a.prev_piece is None:
        raise a.err(".previous without an earlier section")
    a.piece, a.prev_piece = a.prev_piece, a.piece


def _names(a, rest, what):
    names = [n.strip() for n in rest.split(",") if n.strip()]
    if not names:
        raise a.err(f"{what} needs a symbol name")
    for n in names:
        if not _SYMNAME_RE.match(n):
            raise a.err(f"bad symbol name {n!r} in {what}")
    return names


@_directive(".globl", ".global", ".weak")
def _d_globl(a: _Assembler, rest, fr, name):
    for n in _names(a, rest, name):
        a.unit.globals.setdefault(n, a.origin)
        if name == ".weak":
            a.unit.weak.add(n)


@_directive(".comm", ".lcomm")
def _d_comm(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if len(ops) not in (2, 3) or not _SYMNAME_RE.match(ops[0]):
        raise a.err(f"{name} needs a symbol, a size and an optional alignment")
    size = a._need_const(ops[1], f"{name} size")
    align = a._need_const(ops[2], f"{name} alignment") if len(ops) == 3 else min(
        16, 1 << max(0, size - 1).bit_length())
    if size < 0 or size > 1 << 28 or align <= 0 or align & (align - 1):
        raise a.err(f"bad {name} size {size} or alignment {align}")
    saved, prev = a.piece, a.prev_piece
    a._switch(".bss")
    p = a.piece
    if align > 1:
        p.align = max(p.align, align)
        item = _Align(align, 0, 1, None, False)
        a._gnu_var(1, item)
        p.items.append(item)
        p.closed = True
    a._define_label(ops[0])
    a._emit_zeros(size)
    if name == ".comm":
        a.unit.globals.setdefault(ops[0], a.origin)
    a.unit.types.setdefault(ops[0], "object")
    a.unit.sizes[ops[0]] = (("n", size), a.origin)
    a.piece, a.prev_piece = saved, prev


@_directive(".local")
def _d_local(a: _Assembler, rest, fr, name):
    for n in _names(a, rest, name):
        a.unit.globals.pop(n, None)


@_directive(".hidden", ".protected", ".internal", ".extern", ".file", ".ident",
            ".attribute", ".loc", ".loc_mark_labels", ".addrsig", ".addrsig_sym")
def _d_ignore(a, rest, fr, name):
    return


@_directive(".type")
def _d_type(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if len(ops) != 2:
        raise a.err(".type needs a symbol and a type (e.g. .type f, @function)")
    t = ops[1].strip().lstrip("@%").lower()
    kinds = {"function": "func", "stt_func": "func", "object": "object", "stt_object": "object",
             "notype": "notype", "stt_notype": "notype"}
    if t not in kinds:
        raise a.err(f"unknown symbol type {ops[1]!r}")
    a.unit.types[ops[0]] = kinds[t]


@_directive(".size")
def _d_size(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if len(ops) != 2:
        raise a.err(".size needs a symbol and an expression")
    tree = a._parse(ops[1])
    tree = a._defer_tree(tree)
    if _has_dot(tree):
        tree = _replace_dot(tree, ("s", a._here_label()))
    a.unit.sizes[ops[0]] = (tree, a.origin)


@_directive(".equ", ".set", ".equiv", ".eqv")
def _d_equ(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if len(ops) < 2:
        raise a.err(f"{name} needs a symbol and a value")
    a._set(ops[0], ",".join(ops[1:]), name)


_DATA_SIZES = {".byte": 1, ".half": 2, ".short": 2, ".2byte": 2, ".word": 4, ".long": 4,
               ".4byte": 4, ".int": 4, ".dword": 8, ".quad": 8, ".8byte": 8}


@_directive(*_DATA_SIZES)
def _d_data(a: _Assembler, rest, fr, name):
    size = _DATA_SIZES[name]
    ops = _split_operands(rest)
    if not ops:
        return
    mask = (1 << (size * 8)) - 1
    a._line_entry()
    for op in ops:
        if not op:
            raise a.err(f"empty value in {name}")
        tree = a._parse(op)
        v = a._const(tree)
        if v is not None:
            if size == 1:
                a._gnu_bytes(1)
            else:
                a._gnu_more(size)
            a._emit((v & mask).to_bytes(size, "little"))
            continue
        tree = a._defer_tree(tree)
        origin = a.origin

        def fn(addr, ev, tree=tree):
            return (ev(tree, addr) & mask).to_bytes(size, "little")

        a._emit_item(_Fix(size, fn, origin))


@_directive(".ascii", ".asciz", ".string")
def _d_ascii(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not ops:
        raise a.err(f"{name} needs a string")
    a._line_entry()
    for op in ops:
        try:
            b = _parse_string(op)
        except ExprError as e:
            raise a.err(str(e)) from None
        b += b"\0" if name != ".ascii" else b""
        a._gnu_bytes(len(b))
        a._emit(b)


@_directive(".zero", ".space", ".skip")
def _d_space(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not ops or len(ops) > 2:
        raise a.err(f"{name} needs a size and an optional fill byte")
    n = a._need_const(ops[0], f"{name} size")
    fill = a._need_const(ops[1], f"{name} fill") & 0xFF if len(ops) == 2 and name != ".zero" else 0
    if n < 0 or n > 1 << 28:
        raise a.err(f"{name} size {n} out of range 0..{1 << 28}")
    a._line_entry()
    if fill == 0 and (n > 4096 or a.piece.nobits):
        a._emit_zeros(n)
    else:
        a._emit(bytes([fill]) * n)
    if n:
        a._gnu_var(1, n)
        a.piece.closed = True


@_directive(".fill")
def _d_fill(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not 1 <= len(ops) <= 3:
        raise a.err(".fill needs repeat[, size[, value]]")
    rep = a._need_const(ops[0], ".fill repeat")
    size = a._need_const(ops[1], ".fill size") if len(ops) > 1 else 1
    val = a._need_const(ops[2], ".fill value") if len(ops) > 2 else 0
    if rep < 0 or size < 0 or rep * size > 1 << 28:
        raise a.err(f".fill {rep}, {size} out of range")
    size = min(size, 8)
    a._line_entry()
    # GNU writes the value in at most 4 bytes, zero-extended beyond.
    one = (val & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    a._emit(one[:size] * rep)
    if rep and size:
        a._gnu_var(size, rep * size)
        a.piece.closed = True


@_directive(".align", ".p2align", ".balign", ".balignw", ".balignl", ".p2alignw", ".p2alignl")
def _d_align(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not ops or len(ops) > 3 or not ops[0]:
        raise a.err(f"{name} needs an alignment")
    n = a._need_const(ops[0], f"{name} alignment")
    if name.startswith(".balign"):
        if n <= 0 or n & (n - 1):
            raise a.err(f"{name} alignment {n} is not a power of 2")
        align = n
    else:
        if not 0 <= n <= 16:
            raise a.err(f"{name} alignment {n} out of range 0..16")
        align = 1 << n
    width = {"w": 2, "l": 4}.get(name[-1], 1)
    fill = None
    if len(ops) > 1 and ops[1]:
        fill = a._need_const(ops[1], f"{name} fill")
    maxskip = None
    if len(ops) > 2 and ops[2]:
        maxskip = a._need_const(ops[2], f"{name} max skip")
    p = a.piece
    p.align = max(p.align, align)
    if align <= 1:
        return
    code = "x" in p.flags and fill is None
    if code and align <= (2 if a.rvc else 4):
        # GNU (riscv_frag_align_code): no smaller than an instruction's
        # alignment means no padding at all; only the section's alignment.
        return
    item = _Align(align, fill, width, maxskip, code)
    a._gnu_var(_GNU_ALIGN_CODE_MAX if code else width, item)
    p.items.append(item)
    p.closed = True


@_directive(".org")
def _d_org(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not 1 <= len(ops) <= 2 or not ops[0]:
        raise a.err(".org needs an offset and an optional fill byte")
    off = a._need_const(ops[0], ".org offset")
    fill = a._need_const(ops[1], ".org fill") & 0xFF if len(ops) == 2 else 0
    if not 0 <= off <= 1 << 28:
        raise a.err(f".org offset {off:#x} out of range")
    p = a.piece
    item = _Align(1, fill, 1, None, False, org=off, origin=a.origin)
    a._gnu_var(1, item)
    p.items.append(item)
    p.closed = True


@_directive(".option")
def _d_option(a: _Assembler, rest, fr, name):
    opt = rest.strip().lower()
    if opt == "rvc":
        # GNU allows this without C in -march: it enables C from here on.
        a.rvc = True
        a.rvc_seen = True
    elif opt == "norvc":
        a.rvc = False
    elif opt == "push":
        a.option_stack.append(a.rvc)
    elif opt == "pop":
        if not a.option_stack:
            raise a.err(".option pop without .option push")
        a.rvc = a.option_stack.pop()
    elif opt in ("relax", "norelax", "pic", "nopic", "csr-check", "no-csr-check"):
        pass
    elif opt.startswith("arch"):
        spec = opt[4:].lstrip(" ,")
        for part in spec.split(","):
            part = part.strip()
            if part == "+c":
                a.rvc = True
                a.rvc_seen = True
            elif part == "-c":
                a.rvc = False
    else:
        raise a.err(f"unknown .option {rest.strip()!r}")


@_directive(".macro")
def _d_macro(a: _Assembler, rest, fr, name):
    m = re.match(r"\s*([A-Za-z_.$][A-Za-z0-9_.$]*)\s*,?\s*(.*)$", rest, re.S)
    if not m:
        raise a.err(f"bad .macro name {rest.strip()!r}")
    mname = m.group(1)
    params = []
    ptext = m.group(2).strip()
    if ptext:
        ptext = re.sub(r"\s*=\s*", "=", ptext)
        for part in re.split(r"\s*,\s*|\s+", ptext):
            if not part:
                continue
            default = ""
            qual = ""
            if "=" in part:
                part, default = part.split("=", 1)
            if ":" in part:
                part, qual = part.split(":", 1)
                if qual not in ("req", "vararg"):
                    raise a.err(f"bad macro parameter qualifier ':{qual}'")
            if not re.match(r"[A-Za-z_][A-Za-z0-9_]*$", part):
                raise a.err(f"bad macro parameter name {part!r}")
            params.append((part, default, qual))
    body = a._collect(fr, (".macro",), ".endm", f".macro {mname}")
    a.macros[mname] = (body, params, a.origin)


@_directive(".endm", ".endmacro")
def _d_endm(a, rest, fr, name):
    raise a.err(f"{name} without .macro")


@_directive(".exitm")
def _d_exitm(a: _Assembler, rest, fr, name):
    for fr2 in reversed(a.frames):
        if fr2.kind == "macro":
            fr2.pos = len(fr2.lines)
            del a.cond[fr2.cond_depth:]
            return
    raise a.err(".exitm outside a macro")


@_directive(".purgem")
def _d_purgem(a: _Assembler, rest, fr, name):
    a.macros.pop(rest.strip(), None)


@_directive(".rept")
def _d_rept(a: _Assembler, rest, fr, name):
    n = a._need_const(rest, ".rept count")
    body = a._collect(fr, (".rept", ".irp", ".irpc"), ".endr", ".rept")
    if n < 0 or n * max(1, len(body)) > 5_000_000:
        raise a.err(f".rept count {n} out of range")
    a.frames.append(_Frame(body * n, a.origin[0], origin=a.origin, kind="rept",
                           cond_depth=len(a.cond)))


@_directive(".irp", ".irpc")
def _d_irp(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not ops or not re.match(r"[A-Za-z_][A-Za-z0-9_]*$", ops[0]):
        raise a.err(f"{name} needs a parameter name")
    pname = ops[0]
    if name == ".irp":
        values = ops[1:] or [""]
    else:
        values = list(",".join(ops[1:]).strip()) or [""]
    body = a._collect(fr, (".rept", ".irp", ".irpc"), ".endr", name)
    pat = re.compile(r"\\(" + re.escape(pname) + r"(?![A-Za-z0-9_])|\(\))")
    lines = []
    for val in values:
        for ln in body:
            lines.append(pat.sub(lambda m, val=val: "" if m.group(1) == "()" else val, ln))
    a.frames.append(_Frame(lines, a.origin[0], origin=a.origin, kind="rept",
                           cond_depth=len(a.cond)))


@_directive(".endr")
def _d_endr(a, rest, fr, name):
    raise a.err(".endr without .rept/.irp")


@_directive(".include")
def _d_include(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if len(ops) != 1:
        raise a.err(".include needs one file name in quotes")
    try:
        fname = _parse_string(ops[0]).decode("utf-8", "replace")
    except ExprError:
        raise a.err(f".include needs a quoted file name, got {rest.strip()!r}") from None
    path = _find_include(fname, a.origin[0] if fr is None else fr.file, a.include_dirs)
    if path is None:
        raise a.err(f"cannot find include file '{fname}'")
    if sum(1 for f in a.frames if f.kind == "file") > 64:
        raise a.err(f"includes nested too deeply at '{fname}' (recursive .include?)")
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise a.err(f"cannot read include file '{fname}': {e.strerror}") from None
    a._push_text(text, path)


@_directive(".incbin")
def _d_incbin(a: _Assembler, rest, fr, name):
    ops = _split_operands(rest)
    if not 1 <= len(ops) <= 3:
        raise a.err(".incbin needs \"file\"[, skip[, count]]")
    try:
        fname = _parse_string(ops[0]).decode("utf-8", "replace")
    except ExprError:
        raise a.err(".incbin needs a quoted file name") from None
    path = _find_include(fname, a.origin[0] if fr is None else fr.file, a.include_dirs)
    if path is None:
        raise a.err(f"cannot find .incbin file '{fname}'")
    data = Path(path).read_bytes()
    skip = a._need_const(ops[1], ".incbin skip") if len(ops) > 1 else 0
    count = a._need_const(ops[2], ".incbin count") if len(ops) > 2 else len(data) - skip
    a._line_entry()
    chunk = data[skip:skip + count]
    a._gnu_more(len(chunk))
    a._emit(chunk)


def _find_include(fname: str, current: str, dirs: list[str]) -> str | None:
    if os.path.isabs(fname):
        return fname if os.path.isfile(fname) else None
    for d in [os.path.dirname(current)] + dirs:
        p = os.path.join(d, fname) if d else fname
        if os.path.isfile(p):
            return p
    return None


def _cond_push(a: _Assembler, value: bool) -> None:
    parent = not a.cond or a.cond[-1][0]
    a.cond.append([parent and value, value, parent, a.origin])


@_directive(".if", ".ifne")
def _d_if(a: _Assembler, rest, fr, name):
    _cond_push(a, a._need_const(rest, name + " condition") != 0)


@_directive(".ifeq")
def _d_ifeq(a, rest, fr, name):
    _cond_push(a, a._need_const(rest, name + " condition") == 0)


@_directive(".ifgt", ".ifge", ".iflt", ".ifle")
def _d_ifcmp(a, rest, fr, name):
    v = a._need_const(rest, name + " condition")
    _cond_push(a, {".ifgt": v > 0, ".ifge": v >= 0, ".iflt": v < 0, ".ifle": v <= 0}[name])


@_directive(".ifdef", ".ifndef", ".ifnotdef")
def _d_ifdef(a: _Assembler, rest, fr, name):
    sym = rest.strip()
    if not _SYMNAME_RE.match(sym):
        raise a.err(f"{name} needs a symbol name, got {sym!r}")
    defined = sym in a.unit.symbols or sym in a.defines
    _cond_push(a, defined if name == ".ifdef" else not defined)


@_directive(".ifb", ".ifnb")
def _d_ifb(a, rest, fr, name):
    blank = not rest.strip()
    _cond_push(a, blank if name == ".ifb" else not blank)


@_directive(".ifc", ".ifnc")
def _d_ifc(a, rest, fr, name):
    ops = _split_operands(rest)
    if len(ops) != 2:
        raise a.err(f"{name} needs two strings")
    x, y = (o.strip().strip("'\"") for o in ops)
    _cond_push(a, (x == y) if name == ".ifc" else (x != y))


@_directive(".else")
def _d_else(a: _Assembler, rest, fr, name):
    if not a.cond:
        raise a.err(".else without .if")
    c = a.cond[-1]
    c[0] = c[2] and not c[1]
    c[1] = True


@_directive(".elseif")
def _d_elseif(a: _Assembler, rest, fr, name):
    if not a.cond:
        raise a.err(".elseif without .if")
    c = a.cond[-1]
    if c[1] or not c[2]:
        c[0] = False
        return
    v = a._need_const(rest, ".elseif condition") != 0
    c[0] = v
    c[1] = v


@_directive(".endif")
def _d_endif(a: _Assembler, rest, fr, name):
    if not a.cond:
        raise a.err(".endif without .if")
    a.cond.pop()


@_directive(".err")
def _d_err(a, rest, fr, name):
    raise a.err(".err encountered")


@_directive(".error")
def _d_error(a, rest, fr, name):
    msg = rest.strip()
    if msg.startswith('"'):
        try:
            msg = _parse_string(msg).decode("utf-8", "replace")
        except ExprError:
            pass
    raise a.err(msg or ".error encountered")


@_directive(".warning", ".print")
def _d_warning(a, rest, fr, name):
    return


@_directive(".end")
def _d_end(a: _Assembler, rest, fr, name):
    # Stop reading the current file (GNU: the rest of the input is ignored).
    while a.frames:
        f = a.frames.pop()
        if f.kind == "file":
            break
    if not a.frames:
        a.ended = True


# ---------------------------------------------------------------------------
# Linking
# ---------------------------------------------------------------------------


def _fits(r: _Relax, val: int) -> bool:
    """Whether ``r`` at its current size reaches a target ``val`` away."""
    if r.size == 2:
        return fits_signed(val, 12 if r.jump else 9)
    if r.size == 4:
        return fits_signed(val, 21 if r.jump else 13)
    return fits_signed(val - r.size + 4, 21)


def _next_size(r: _Relax, size: int) -> int:
    if r.jump:
        return 4
    return {2: 4, 4: 6 if r.rvc else 8, 6: 8}.get(size, 8)


def _branch_length(r: _Relax, val: int | None) -> int:
    """GNU's ``relaxed_branch_length``: ``val`` is the distance to a target in
    the same section of the same file, ``None`` for any other target."""
    if val is None:
        return 4 if r.jump else 8
    if r.rvc and fits_signed(val, 12 if r.jump else 9):
        return 2
    if fits_signed(val, 21 if r.jump else 13):
        return 4
    if not r.jump and r.rvc:
        return 6
    return 4 if r.jump else 8


def _gnu_relax(p: _Piece) -> None:
    """Choose the sizes of ``p``'s relaxable branches as GNU ``as`` does.

    GNU splits a section into frags (ending at each relaxable branch,
    alignment and fill, and wherever its frag obstack runs out of room),
    estimates each branch with the frag addresses known so far — a later
    frag still has address 0, so a forward target looks near when the branch
    is near the section start — then repeats passes that update addresses in
    order (a later frag keeps last pass's address) until no size changes.
    Reproducing that, rather than any fixpoint, is what makes our sizes
    equal to GNU's where a target sits exactly at a reach limit.  Addresses
    here are relative to the piece, as GNU's are to the file's section.
    """
    frags = p.gfrags
    nfr = len(frags)
    fix = [f[0] for f in frags]
    var = [f[1] for f in frags]
    frag_of: dict[int, int] = {}
    for f in range(nfr):
        if var[f] is not None and type(var[f]) is not int:
            frag_of[id(var[f])] = f
    targets = {}
    for r in p.relax:
        s = p.unit.symbols.get(r.tsym) if r.tsym is not None else None
        if s is not None and s.kind == "label" and s.piece is p:
            targets[id(r)] = (s.gfrag, s.goff)
        else:
            targets[id(r)] = None
    addr = [0] * nfr

    def length(f: int, r: _Relax) -> int:
        t = targets[id(r)]
        if t is None:
            return _branch_length(r, None)
        return _branch_length(r, addr[t[0]] + t[1] + r.addend - (addr[f] + fix[f]))

    def pad(a: int, it: _Align) -> int:
        if it.org is not None:
            return max(0, it.org - a)
        n = (-a) % it.align
        return 0 if it.maxskip is not None and n > it.maxskip else n

    a = 0
    for f in range(nfr):
        addr[f] = a
        a += fix[f]
        it = var[f]
        if it is None:
            continue
        if type(it) is int:
            a += it
            continue
        it.size = pad(a, it) if type(it) is _Align else length(f, it)
        a += it.size
    for npass in range(200):
        stretch = 0
        changed = False
        for f in range(nfr):
            addr[f] += stretch
            it = var[f]
            if it is None or type(it) is int:
                continue
            if type(it) is _Align:
                new = pad(addr[f] + fix[f], it)
            else:
                new = length(f, it)
                if npass > 100:
                    new = max(new, it.size)  # guarantee termination
            if new != it.size:
                stretch += new - it.size
                it.size = new
                changed = True
        if not changed:
            break


class _OutSection:
    def __init__(self, name, flags, nobits, rank, order):
        self.name = name
        self.flags = flags
        self.nobits = nobits
        self.rank = rank
        self.order = order
        self.pieces: list[_Piece] = []
        self.address = 0
        self.size = 0
        self.align = 1


class _Linker:
    """Places the units' pieces, relaxes branches and resolves everything."""

    def __init__(self, asm_: _Assembler, base: int, layout: dict[str, int]):
        self.a = asm_
        self.base = base
        self.layout = layout
        self.globals: dict[str, tuple[_Unit, _Sym]] = {}

    def link(self) -> Image:
        self._collect_globals()
        outs = self._sections()
        self._place(outs)
        return self._emit(outs)

    def _collect_globals(self) -> None:
        for unit in self.a.units:
            for name in unit.globals:
                s = unit.symbols.get(name)
                if s is None:
                    continue
                prev = self.globals.get(name)
                if prev is not None:
                    o = prev[1].origin
                    raise AsmError(s.origin[0], s.origin[1],
                                   f"duplicate global symbol '{name}' (first defined at {o[0]}:{o[1]})")
                self.globals[name] = (unit, s)

    def _sections(self) -> list[_OutSection]:
        outs: dict[str, _OutSection] = {}
        order = 0
        for unit in self.a.units:
            for p in unit.pieces.values():
                if not p.touched and not p.items:
                    continue
                o = outs.get(p.name)
                if o is None:
                    rank = _kind_rank(p.name, p.flags, p.nobits)
                    o = outs[p.name] = _OutSection(p.name, p.flags, p.nobits, rank, order)
                    order += 1
                o.pieces.append(p)
                o.align = max(o.align, p.align)
        return sorted(outs.values(), key=lambda o: (o.rank, o.order))

    def _layout_once(self, outs) -> None:
        cursor = self.base
        for o in outs:
            alloc = "a" in o.flags
            if o.name in self.layout:
                addr = self.layout[o.name]
            elif alloc:
                addr = (cursor + o.align - 1) & -o.align
            else:
                addr = 0
            o.address = addr
            a = addr
            for p in o.pieces:
                a = (a + p.align - 1) & -p.align
                p.base = a
                offs = []
                app = offs.append
                for it in p.items:
                    app(a)
                    t = type(it)
                    if t is _Data:
                        a += len(it.buf)
                    elif t is _Align:
                        if it.org is not None:
                            pad = it.org - (a - p.base)
                            if pad < 0:
                                raise AsmError(it.origin[0], it.origin[1],
                                               f".org {it.org:#x} is behind the current offset "
                                               f"{a - p.base:#x} of {p.name}")
                        else:
                            pad = (-a) % it.align
                            if it.maxskip is not None and pad > it.maxskip:
                                pad = 0
                        it.size = pad
                        a += pad
                    else:
                        a += it.size
                app(a)
                p.offs = offs
            o.size = a - addr
            if alloc:
                cursor = max(cursor, a) if o.name not in self.layout else a

    def _label_addr(self, s: _Sym) -> int:
        return s.piece.offs[s.idx]

    def _place(self, outs) -> None:
        for o in outs:
            for p in o.pieces:
                if p.relax:
                    _gnu_relax(p)
        self._layout_once(outs)
        # Safety net: should the frag model ever disagree with the real
        # layout, grow any branch that cannot reach (sizes only grow).
        relax = [(p, r) for o in outs for p in o.pieces for r in p.relax]
        livars = self.a.livars
        for p, it in livars:
            self._li_check(p, it)
        for _ in range(100):
            grown = False
            if livars:
                # An li's sequence follows its value, which follows the
                # layout; sizes only grow, so this terminates.
                self._forget_deferred()
                for p, it in livars:
                    n = len(it.encode(self._li_value(p, it)))
                    if n > it.size:
                        it.size = n
                        grown = True
            for p, r in relax:
                s = p.unit.symbols.get(r.tsym) if r.tsym is not None else None
                if s is None or s.kind != "label" or s.piece is not p:
                    continue
                val = p.offs[s.idx] + r.addend - p.offs[r.idx]
                if not _fits(r, val):
                    r.size = _next_size(r, r.size)
                    grown = True
            if not grown:
                break
            self._layout_once(outs)
        if livars:
            self._forget_deferred()
        # overlap check among allocated sections
        placed = sorted((o for o in outs if "a" in o.flags and o.size), key=lambda o: o.address)
        for x, y in zip(placed, placed[1:]):
            if x.address + x.size > y.address:
                raise AsmError("<layout>", 0, f"section {x.name} [{x.address:#x}..{x.address + x.size:#x}) "
                                              f"overlaps section {y.name} at {y.address:#x}")


    # -- li of a link-time value -----------------------------------------------------
    def _forget_deferred(self) -> None:
        """Drop cached values of .equ/.set symbols defined by expressions:
        evaluated before the layout is final, they may be stale."""
        for unit in self.a.units:
            for syms in unit.versions.values():
                for s in syms:
                    if s.tree is not None:
                        s.value = None

    def _is_label(self, unit: _Unit, name: str) -> bool:
        if "\x03" in name:
            return False
        s = unit.symbols.get(name)
        if s is None:
            g = self.globals.get(name)
            s = g[1] if g is not None else None
        return s is not None and s.kind == "label"

    def _li_check(self, p: _Piece, it: _LiVar) -> None:
        """An li's value must not move with the image: its labels must
        cancel out (``end - start``), as a constant's would."""
        def weight(t) -> int:
            tag = t[0]
            if tag == "n":
                return 0
            if tag == "s":
                return 1 if self._is_label(p.unit, t[1]) else 0
            if tag == "u":
                w = weight(t[2])
                if t[1] == "-":
                    return -w
                if w:
                    raise ValueError
                return 0
            if tag == "b":
                wa, wb = weight(t[2]), weight(t[3])
                if t[1] == "+":
                    return wa + wb
                if t[1] == "-":
                    return wa - wb
                if wa or wb:
                    raise ValueError
                return 0
            raise ValueError

        try:
            ok = weight(it.tree) == 0
        except ValueError:
            ok = False
        if not ok:
            o = it.origin
            raise AsmError(o[0], o[1], f"'li' needs a constant: {it.text} depends on where "
                           "the image is placed (a difference of two addresses is a constant; "
                           "use la/lla for an address)")

    def _li_value(self, p: _Piece, it: _LiVar) -> int:
        return self._eval(p, it.tree, 0, self.resolver(p.unit), it.origin)

    def _li_bytes(self, p: _Piece, it: _LiVar, sym) -> bytes:
        data = it.encode(self._eval(p, it.tree, 0, sym, it.origin))
        # Sizes only grow during the fixpoint: a value that came back down
        # to a shorter sequence keeps its room, filled with nops.
        return data + _nop_fill(it.size - len(data))

    # -- evaluation ---------------------------------------------------------------------
    def resolver(self, unit: _Unit) -> Callable[[str], int]:
        defines = self.a.defines

        def sym(name: str) -> int:
            if "\x03" in name:  # a pinned .equ/.set definition
                base, k = name.split("\x03")
                return self._value(unit, unit.versions[base][int(k) - 1])
            s = unit.symbols.get(name)
            if s is not None and s.kind == "equ" and name in unit.versions:
                s = unit.versions[name][0]  # a forward reference: the first definition
            if s is None:
                g = self.globals.get(name)
                if g is None:
                    if name in defines:
                        return defines[name]
                    if name in unit.weak:
                        return 0  # an undefined weak reference is 0, as ld makes it
                    raise _Undefined(name)
                return self._value(g[0], g[1])
            return self._value(unit, s)

        return sym

    def _value(self, unit: _Unit, s: _Sym) -> int:
        if s.kind == "label":
            return s.piece.offs[s.idx]
        if s.value is not None:
            return s.value
        if s.busy:
            raise AsmError(s.origin[0], s.origin[1], f"symbol '{s.name}' is defined in terms of itself")
        s.busy = True
        try:
            v = evaluate(s.tree, self.resolver(unit))
        except _Undefined as u:
            raise AsmError(s.origin[0], s.origin[1], f"undefined symbol '{_display(u.name)}'") from None
        except ExprError as e:
            raise AsmError(s.origin[0], s.origin[1], str(e)) from None
        finally:
            s.busy = False
        s.value = v
        return v

    def _pcrel_lo(self, unit: _Unit, origin):
        def lo(addr: int) -> int:
            hi = self.auipcs.get(addr)
            if hi is None:
                raise AsmError(origin[0], origin[1],
                               f"%pcrel_lo: no auipc with %pcrel_hi at {addr:#x}")
            return lo12(hi - addr)
        return lo

    def _emit(self, outs) -> Image:
        # PC-relative high parts: auipc address -> target, for %pcrel_lo.
        self.auipcs: dict[int, int] = {}
        img = Image()
        # Evaluate every auipc's %pcrel_hi target first, for %pcrel_lo.
        for o in outs:
            for p in o.pieces:
                sym = self.resolver(p.unit)
                for i, it in enumerate(p.items):
                    if type(it) is _Fix:
                        hi_tree = getattr(it.fn, "hi_tree", None)
                        if hi_tree is not None:
                            addr = p.offs[i]
                            self.auipcs[addr] = self._eval(p, hi_tree, addr, sym, it.origin)
        for o in outs:
            data = bytearray()
            for p in o.pieces:
                if o.nobits:  # nothing to write: only the line table
                    for idx, off, f, ln in p.lines:
                        img.lines.append(LineEntry(p.offs[idx] + off, f, ln))
                    continue
                sym = self.resolver(p.unit)
                start = p.base - o.address
                if len(data) < start:
                    data += bytes(start - len(data))
                for i, it in enumerate(p.items):
                    addr = p.offs[i]
                    t = type(it)
                    if t is _Data:
                        data += it.buf
                    elif t is _Zero:
                        if not o.nobits:
                            data += bytes(it.size)
                    elif t is _Align:
                        if it.size:
                            data += self._pad(it)
                    elif t is _Fix:
                        data += self._fix(p, it, addr, sym)
                    elif t is _LiVar:
                        data += self._li_bytes(p, it, sym)
                    else:
                        data += self._encode_relax(it, addr, sym)
                for idx, off, f, ln in p.lines:
                    img.lines.append(LineEntry(p.offs[idx] + off, f, ln))
            flags = SectionFlags(0)
            if "a" in o.flags:
                flags |= SectionFlags.ALLOC
            if "w" in o.flags:
                flags |= SectionFlags.WRITE
            if "x" in o.flags:
                flags |= SectionFlags.EXECINSTR
            if o.nobits:
                img.sections.append(Section(o.name, o.address, b"", flags, o.align, True, o.size))
            else:
                img.sections.append(Section(o.name, o.address, bytes(data), flags, o.align))
        img.lines.sort(key=lambda e: e.address)
        self._symbols(img)
        start = img.symbol("_start")
        if start is not None:
            img.entry = start.value
        else:
            text = img.section(".text")
            img.entry = text.address if text is not None else (img.loadable()[0].address
                                                                if img.loadable() else 0)
        return img

    def _pad(self, it: _Align) -> bytes:
        n = it.size
        if it.code:
            return _nop_fill(n)
        fill = it.fill or 0
        if it.width == 1:
            return bytes([fill & 0xFF]) * n
        unit = (fill & ((1 << (8 * it.width)) - 1)).to_bytes(it.width, "little")
        return (unit * (n // it.width + 1))[:n]

    def _eval(self, p: _Piece, tree, addr: int, sym, origin) -> int:
        try:
            return evaluate(tree, sym, addr, self._pcrel_lo(p.unit, origin))
        except _Undefined as u:
            raise AsmError(origin[0], origin[1], f"undefined symbol '{_display(u.name)}'") from None
        except ExprError as e:
            raise AsmError(origin[0], origin[1], str(e)) from None

    def _fix(self, p: _Piece, it: _Fix, addr: int, sym) -> bytes:
        def ev(tree, a):
            return self._eval(p, tree, a, sym, it.origin)

        return it.fn(addr, ev)

    def _encode_relax(self, r: _Relax, addr: int, sym) -> bytes:
        o = r.origin
        try:
            target = evaluate(r.tree, sym, addr)
        except _Undefined as u:
            raise AsmError(o[0], o[1], f"undefined symbol '{_display(u.name)}'") from None
        except ExprError as e:
            raise AsmError(o[0], o[1], str(e)) from None
        off = target - addr
        try:
            if r.jump:
                if r.size == 2:
                    return enc_cj(5, off).to_bytes(2, "little")
                return enc_j(r.rd, off).to_bytes(4, "little")
            if r.size == 2:
                return enc_cb(6 + r.f3, r.rs1, off).to_bytes(2, "little")
            if r.size == 4:
                return enc_b(r.f3, r.rs1, r.rs2, off).to_bytes(4, "little")
            if r.size == 6:
                return (enc_cb(6 + (r.f3 ^ 1), r.rs1, 6).to_bytes(2, "little")
                        + enc_j(0, off - 2).to_bytes(4, "little"))
            return (enc_b(r.f3 ^ 1, r.rs1, r.rs2, 8).to_bytes(4, "little")
                    + enc_j(0, off - 4).to_bytes(4, "little"))
        except RangeErr as e:
            raise AsmError(o[0], o[1], f"{e} (target {target:#x} from {addr:#x})") from None

    def _symbols(self, img: Image) -> None:
        seen_globals = set()
        for unit in self.a.units:
            sym = self.resolver(unit)
            for name, s in unit.symbols.items():
                if "\x02" in name or name.startswith(".L"):
                    continue
                try:
                    value = self._value(unit, s)
                except AsmError:
                    # An unused .equ of an undefined symbol: like GNU, only a
                    # use is an error (reported at the use).
                    continue
                section = None
                if s.kind == "label":
                    section = s.piece.name
                elif s.tree is not None:
                    for n in symbols_in(s.tree):
                        t = unit.symbols.get(n) or (self.globals.get(n) or (None, None))[1]
                        if t is not None and t.kind == "label":
                            section = t.piece.name
                            break
                size = 0
                if name in unit.sizes:
                    tree, origin = unit.sizes[name]
                    try:
                        size = evaluate(tree, sym)
                    except _Undefined as u:
                        raise AsmError(origin[0], origin[1],
                                       f"undefined symbol '{_display(u.name)}'") from None
                    except ExprError as e:
                        raise AsmError(origin[0], origin[1], str(e)) from None
                binding = "global" if name in unit.globals else "local"
                if binding == "global":
                    seen_globals.add(name)
                img.symbols.append(Symbol(name, value & ((1 << 64) - 1), size,
                                          unit.types.get(name, "notype"), binding, section))
        for name, v in self.a.defines.items():
            if name not in seen_globals:
                img.symbols.append(Symbol(name, v & ((1 << 64) - 1), 0, "notype", "global", None))


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def assemble(sources, *, base: int = 0, layout: dict[str, int] | None = None,
             march: str = DEFAULT_MARCH, include_dirs=(),
             defines: dict[str, int] | None = None) -> Image:
    """Assemble and link ``sources`` into an :class:`Image`.

    ``sources`` is a list of :class:`Source` or paths (``str``/``Path``).
    Same-named sections from all files are concatenated in file order, each
    piece aligned to its own alignment.  Output sections are ordered code
    (``.text*`` first), read-only (``.rodata*`` first), read-write
    (``.data*``, ``.sdata*``, others), then NOBITS (``.bss*``, ``.sbss*``);
    within a group, in order of first appearance.  ``layout`` pins section
    names to addresses; other sections follow the previous one, aligned,
    starting at ``base``.  The entry point is ``_start`` if defined, else the
    start of ``.text``.  Raises :class:`AsmError` for any bad input.
    """
    if isinstance(sources, (str, Path, Source)):
        sources = [sources]
    exts = parse_march(march)
    if not isinstance(base, int) or base < 0:
        raise AsmError("<layout>", 0, f"bad base address {base!r}")
    for k, v in (layout or {}).items():
        if not isinstance(k, str) or not isinstance(v, int) or v < 0:
            raise AsmError("<layout>", 0, f"bad layout entry {k!r}: {v!r}")
    for k, v in (defines or {}).items():
        if not isinstance(k, str) or not _SYMNAME_RE.match(k) or not isinstance(v, int):
            raise AsmError("<defines>", 0, f"bad define {k!r}={v!r}")
    if isinstance(include_dirs, (str, os.PathLike)):
        include_dirs = [include_dirs]
    try:
        include_dirs = [os.fspath(d) for d in include_dirs]
    except TypeError:
        raise AsmError("<include_dirs>", 0, f"bad include_dirs {include_dirs!r}") from None
    a = _Assembler(exts, include_dirs, {k: wrap64(v) for k, v in (defines or {}).items()})
    for src in sources:
        if isinstance(src, Source):
            name, text = src.name, src.text
            if not isinstance(name, str) or not isinstance(text, str):
                raise AsmError(str(name), 0, "a Source needs a str name and str text")
        elif not isinstance(src, (str, os.PathLike)):
            raise AsmError("<sources>", 0, f"not a Source or a path: {src!r}"[:200])
        else:
            name = str(src)
            try:
                text = Path(src).read_text(encoding="utf-8", errors="replace")
            except OSError as e:
                raise AsmError(name, 0, f"cannot read source file: {e.strerror}") from None
        try:
            a.run_file(name, text)
        except RecursionError:
            raise AsmError(name, 0, "expression or macro nesting too deep") from None
    try:
        img = _Linker(a, base, dict(layout or {})).link()
    except RecursionError:
        raise AsmError("<link>", 0, "symbol definitions nested too deeply") from None
    img.march = march.strip().lower()
    if a.rvc_seen:
        img.rvc = True
    return img


def asm(source: str, address: int = 0, *, march: str = DEFAULT_MARCH,
        include_dirs=()) -> bytes:
    """Assemble a snippet, keystone-style: ``.text`` at ``address``, other
    sections following in order; returns the loaded sections' bytes (flat)."""
    img = assemble([Source("<asm>", source)], base=address, layout={".text": address},
                   march=march, include_dirs=include_dirs)
    return img.to_binary()
