"""RISC-V disassembly over capstone, with symbols, branch targets and lines.

:func:`disassemble` decodes a byte string into :class:`Insn` records (RV64GC,
compressed instructions included); :func:`format_listing` prints them the way
``objdump -d`` does: a ``<symbol>:`` header where a symbol starts, one line per
instruction with its raw encoding, branch and jump targets as absolute
addresses annotated ``<sym+0x10>``, and optionally ``file:line`` whenever the
source line changes.  :class:`Disassembler` keeps a per-block cache for the
tracer, which decodes each translated block once.

Capstone's RISC-V quirks, handled here:

* it stops at the first bytes it cannot decode (reserved encodings, or
  instructions it does not know): those become ``.short 0x....`` (a 16-bit
  parcel, low bits != 11) or ``.word 0x........`` and decoding resumes after
  them — it never raises;
* the immediate of a branch or jump (``beq``, ``jal``, ``c.j``...) is printed as
  the *offset* from the instruction, not the target: we add the address;
* it prints some aliases (``j``, ``beqz``, ``mv``, ``ret``, ``csrw``) and a
  swapped ``bge`` for ``ble``, as GNU objdump does without ``-M no-aliases``;
* a CSR it has no name for comes out in decimal: we print it in hex.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Sequence

import capstone

from septum.toolchain.image import LineEntry, Symbol

#: Mnemonics (as capstone prints them) whose last operand is a PC-relative
#: branch or jump offset.
PC_RELATIVE = frozenset({
    "beq", "bne", "blt", "bge", "bltu", "bgeu",
    "beqz", "bnez", "blez", "bgez", "bltz", "bgtz",
    "bgt", "ble", "bgtu", "bleu",
    "j", "jal", "c.j", "c.jal", "c.beqz", "c.bnez",
})


@dataclass(frozen=True)
class Insn:
    """One decoded instruction (or undecodable parcel shown as data).

    ``raw`` is the encoding as an integer (little-endian bytes); ``target`` is
    the absolute destination of a branch or jump, else ``None``; ``symbol`` is
    ``"name"`` or ``"name+0x10"`` for the instruction's own address (empty when
    no symbol precedes it); ``line`` is the source line covering it, if known.
    """

    address: int
    size: int
    raw: int
    mnemonic: str
    op_str: str
    symbol: str = ""
    target: int | None = None
    target_symbol: str = ""
    line: LineEntry | None = None

    @property
    def is_data(self) -> bool:
        """True for bytes capstone could not decode (``.word``/``.short``)."""
        return self.mnemonic.startswith(".")

    def text(self) -> str:
        """``mnemonic op_str`` as one string (no address, no annotation)."""
        return f"{self.mnemonic} {self.op_str}".rstrip()


class Symbolizer:
    """Address -> ``name+offset`` from a list of symbols.

    Only symbols that label code or data are used: absolute symbols
    (``section is None``, e.g. ``.equ`` constants), empty names and the
    assembler's internal names (``$x``, ``.L...``) are ignored.  Where several
    symbols share an address, a global one is preferred, then the first given.
    """

    def __init__(self, symbols: Iterable[Symbol] = ()) -> None:
        chosen: dict[int, Symbol] = {}
        self._all_at: dict[int, list[str]] = {}
        for s in symbols:
            if not s.name or s.section is None or s.name.startswith(("$", ".L")):
                continue
            self._all_at.setdefault(s.value, []).append(s.name)
            old = chosen.get(s.value)
            if old is None or (old.binding != "global" and s.binding == "global"):
                chosen[s.value] = s
        self._addrs = sorted(chosen)
        self._names = [chosen[a].name for a in self._addrs]

    def __bool__(self) -> bool:
        return bool(self._addrs)

    def lookup(self, address: int) -> str:
        """``"name"`` or ``"name+0x10"`` for the nearest symbol at or below
        ``address``; ``""`` when there is none."""
        i = bisect_right(self._addrs, address) - 1
        if i < 0:
            return ""
        off = address - self._addrs[i]
        return self._names[i] if off == 0 else f"{self._names[i]}+{off:#x}"

    def label_at(self, address: int) -> str | None:
        """The preferred symbol name starting exactly at ``address``, or ``None``."""
        i = bisect_right(self._addrs, address) - 1
        if i >= 0 and self._addrs[i] == address:
            return self._names[i]
        return None


class LineMap:
    """Address -> :class:`LineEntry` (the nearest entry at or below it)."""

    def __init__(self, lines: Iterable[LineEntry] = ()) -> None:
        self._entries = sorted(lines, key=lambda e: e.address)
        self._addrs = [e.address for e in self._entries]

    def lookup(self, address: int, floor: int = 0) -> LineEntry | None:
        """The entry covering ``address`` that starts at or after ``floor``,
        or ``None``."""
        i = bisect_right(self._addrs, address) - 1
        if i < 0 or self._addrs[i] < floor:
            return None
        return self._entries[i]


def _capstone() -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_RISCV,
                     capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    md.detail = False
    return md


def _data_parcel(data: bytes, off: int, address: int) -> tuple[int, str, int]:
    """(size, mnemonic, raw) for undecodable bytes at ``data[off:]``."""
    left = len(data) - off
    if left >= 4 and data[off] & 3 == 3:
        return 4, ".word", int.from_bytes(data[off:off + 4], "little")
    if left >= 2:
        return 2, ".short", int.from_bytes(data[off:off + 2], "little")
    return 1, ".byte", data[off]


def _relocate_target(mnemonic: str, op_str: str, address: int) -> tuple[str, int | None]:
    """Rewrite a branch's relative offset as its absolute target."""
    if mnemonic not in PC_RELATIVE:
        return op_str, None
    head, _, last = op_str.rpartition(", ")
    try:
        offset = int(last, 0)
    except ValueError:
        return op_str, None
    target = (address + offset) & (1 << 64) - 1
    return (f"{head}, {target:#x}" if head else f"{target:#x}"), target


#: Position of the CSR operand in capstone's operand list, per mnemonic.
_CSR_OPERAND = {"csrrw": 1, "csrrs": 1, "csrrc": 1, "csrrwi": 1, "csrrsi": 1, "csrrci": 1,
                "csrr": 1, "csrw": 0, "csrs": 0, "csrc": 0, "csrwi": 0, "csrsi": 0, "csrci": 0}


def _hex_csr(mnemonic: str, op_str: str) -> str:
    """Capstone prints CSRs it has no name for in decimal; show them in hex
    (``csrw 0x7c0, a0``), as objdump and the privileged spec's tables do."""
    pos = _CSR_OPERAND.get(mnemonic)
    if pos is None:
        return op_str
    ops = op_str.split(", ")
    if pos < len(ops) and ops[pos].isdigit():
        ops[pos] = hex(int(ops[pos]))
        return ", ".join(ops)
    return op_str


class Disassembler:
    """A capstone decoder with a cache of decoded blocks.

    ``block(data, address)`` returns the same tuple for the same bytes at the
    same address without decoding again; the cache keeps the ``cache_size``
    most recently used blocks.  Symbols and lines are applied at decode time,
    so make a new instance when they change.
    """

    def __init__(self, symbols: Iterable[Symbol] | Symbolizer | None = None,
                 lines: Iterable[LineEntry] | LineMap | None = None,
                 cache_size: int = 4096) -> None:
        self._md = _capstone()
        self.symbols = symbols if isinstance(symbols, Symbolizer) else Symbolizer(symbols or ())
        self.lines = lines if isinstance(lines, LineMap) else LineMap(lines or ())
        self._cache: OrderedDict[tuple[int, bytes], tuple[Insn, ...]] = OrderedDict()
        self._cache_size = cache_size
        self.hits = 0
        self.misses = 0

    def block(self, data: bytes, address: int) -> tuple[Insn, ...]:
        """The instructions of ``data`` placed at ``address`` (cached)."""
        key = (address, bytes(data))
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return found
        self.misses += 1
        insns = tuple(self.decode(data, address))
        self._cache[key] = insns
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return insns

    def decode(self, data: bytes, address: int) -> list[Insn]:
        """Decode all of ``data`` placed at ``address`` (uncached)."""
        data = bytes(data)
        out: list[Insn] = []
        off = 0
        sym = self.symbols
        while off < len(data):
            progressed = False
            for cs_insn in self._md.disasm(data[off:], address + off):
                addr = cs_insn.address
                op_str, target = _relocate_target(cs_insn.mnemonic, cs_insn.op_str, addr)
                op_str = _hex_csr(cs_insn.mnemonic, op_str)
                raw = int.from_bytes(cs_insn.bytes, "little")
                out.append(Insn(addr, cs_insn.size, raw, cs_insn.mnemonic, op_str,
                                sym.lookup(addr), target,
                                sym.lookup(target) if target is not None else "",
                                self.lines.lookup(addr, address)))
                off += cs_insn.size
                progressed = True
            if off < len(data):
                size, mnem, raw = _data_parcel(data, off, address + off)
                width = size * 2
                out.append(Insn(address + off, size, raw, mnem, f"0x{raw:0{width}x}",
                                sym.lookup(address + off), None, "",
                                self.lines.lookup(address + off, address)))
                off += size
            elif not progressed:
                break
        return out


def disassemble(data: bytes, address: int, symbols: Iterable[Symbol] | None = None,
                lines: Iterable[LineEntry] | None = None) -> list[Insn]:
    """Decode ``data`` placed at ``address`` into a list of :class:`Insn`.

    Undecodable bytes become ``.short``/``.word``/``.byte`` entries; this never
    raises for any input.  Returns an empty list for empty ``data``.
    """
    return Disassembler(symbols, lines, cache_size=0).decode(data, address)


def format_insn(insn: Insn) -> str:
    """One listing line, objdump style: ``address: raw  mnemonic operands <sym>``."""
    raw = f"{insn.raw:0{insn.size * 2}x}"
    text = f"{insn.mnemonic}\t{insn.op_str}" if insn.op_str else insn.mnemonic
    if insn.target is not None and insn.target_symbol:
        text += f" <{insn.target_symbol}>"
    return f"{insn.address:8x}:\t{raw:<20}\t{text}"


def format_listing(insns: Sequence[Insn], show_lines: bool = False,
                   symbols: Iterable[Symbol] | Symbolizer | None = None) -> str:
    """An objdump-like listing of ``insns``.

    A ``\\n<address> <name>:`` header precedes each instruction where a symbol
    starts (symbols from ``symbols``, or else from each ``Insn.symbol`` with no
    offset), and with ``show_lines`` a ``file:line`` line precedes each
    instruction whose source line differs from the previous one's.  Returns
    the listing with a final newline, or ``""`` for no instructions.
    """
    symz = symbols if isinstance(symbols, Symbolizer) or symbols is None else Symbolizer(symbols)
    out: list[str] = []
    last_line: tuple[str, int] | None = None
    for i, insn in enumerate(insns):
        label = symz.label_at(insn.address) if symz is not None else (
            insn.symbol if insn.symbol and "+" not in insn.symbol else None)
        if label is None and i == 0 and insn.symbol:
            label = insn.symbol
        if label:
            out.append("")
            out.append(f"{insn.address:016x} <{label}>:")
        if show_lines and insn.line is not None:
            here = (insn.line.file, insn.line.line)
            if here != last_line:
                out.append(f"{insn.line.file}:{insn.line.line}")
                last_line = here
        out.append(format_insn(insn))
    return "\n".join(out) + "\n" if out else ""
