"""RISC-V instruction encodings and the mnemonic table the assembler matches.

Encoders, one per format (R, I, S, B, U, J, AMO, CSR and the RVC formats),
turn field values into instruction words and check every immediate's range.
:data:`TABLE` maps a mnemonic to its alternatives, tried in order exactly as
GNU ``as`` tries the entries of ``riscv-opc.c``: compressed aliases first
(only when RVC is enabled and every immediate is a known constant), then the
base instruction, then the macro expansion.  That ordering is what makes our
automatic compression choose what GNU chooses.

An alternative is an :class:`Alt`: an operand pattern, the extension it needs,
an optional condition on the operand values, and how to build it — a 32-bit or
16-bit encoder, a relaxable branch/jump, or a macro that expands to further
statements (``li``, ``la``, ``call`` …).

Operand pattern letters (comma separated, GNU's where they exist):

====  =====================================================
d s t rd, rs1, rs2 (any integer register)
j     12-bit signed immediate (``imm``)
o(s)  memory operand ``imm(rs1)`` (offset may be empty)
(s)   AMO address ``(rs1)`` (``0(rs1)`` accepted)
u     20-bit upper immediate
> <   6-bit / 5-bit shift amount
p a   branch / jump target (label, or constant offset)
E     CSR (name or number)
Z     5-bit CSR immediate
P Q   fence predecessor / successor sets
A c   symbol address (load/store/la macros; call/tail)
I     any 64-bit constant (``li``)
====  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from septum.toolchain.expr import lo12

__all__ = ["RangeErr", "Alt", "TABLE", "enc_r", "enc_i", "enc_s", "enc_b",
           "enc_u", "enc_j", "enc_cj", "enc_cb", "li_sequence", "NOP", "C_NOP",
           "fits_signed"]

NOP = 0x00000013
C_NOP = 0x0001


class RangeErr(Exception):
    """An operand value is out of range (message names value and range)."""


def fits_signed(v: int, bits: int) -> bool:
    return -(1 << (bits - 1)) <= v < (1 << (bits - 1))


def _chk_s(v: int, bits: int, what: str = "immediate") -> int:
    if not fits_signed(v, bits):
        raise RangeErr(f"{what} {v} out of range {-(1 << (bits - 1))}..{(1 << (bits - 1)) - 1}")
    return v & ((1 << bits) - 1)


def _chk_u(v: int, bits: int, what: str = "immediate") -> int:
    if not 0 <= v < (1 << bits):
        raise RangeErr(f"{what} {v} out of range 0..{(1 << bits) - 1}")
    return v


# ---------------------------------------------------------------------------
# 32-bit formats
# ---------------------------------------------------------------------------


def enc_r(op: int, f3: int, f7: int, rd: int, rs1: int, rs2: int) -> int:
    return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def enc_i(op: int, f3: int, rd: int, rs1: int, imm: int) -> int:
    return (_chk_s(imm, 12) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op


def enc_s(op: int, f3: int, rs1: int, rs2: int, imm: int) -> int:
    imm = _chk_s(imm, 12)
    return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op


def enc_b(f3: int, rs1: int, rs2: int, off: int) -> int:
    if off & 1:
        raise RangeErr(f"misaligned branch target: offset {off} is odd")
    if not fits_signed(off, 13):
        raise RangeErr(f"branch offset {off} out of range -4096..4094")
    o = off & 0x1FFF
    return (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) \
        | (f3 << 12) | (((o >> 1) & 0xF) << 8) | (((o >> 11) & 1) << 7) | 0x63


def enc_u(op: int, rd: int, imm: int) -> int:
    if not 0 <= imm <= 0xFFFFF:
        raise RangeErr(f"upper immediate {imm} out of range 0..1048575")
    return (imm << 12) | (rd << 7) | op


def enc_j(rd: int, off: int) -> int:
    if off & 1:
        raise RangeErr(f"misaligned jump target: offset {off} is odd")
    if not fits_signed(off, 21):
        raise RangeErr(f"jump offset {off} out of range -1048576..1048574")
    o = off & 0x1FFFFF
    return (((o >> 20) & 1) << 31) | (((o >> 1) & 0x3FF) << 21) | (((o >> 11) & 1) << 20) \
        | (((o >> 12) & 0xFF) << 12) | (rd << 7) | 0x6F


# ---------------------------------------------------------------------------
# 16-bit (RVC) formats
# ---------------------------------------------------------------------------


def _cr(r: int) -> bool:
    return 8 <= r <= 15


def _ci(f3: int, rd: int, imm6: int, op: int) -> int:
    imm6 &= 0x3F
    return (f3 << 13) | ((imm6 >> 5) << 12) | (rd << 7) | ((imm6 & 31) << 2) | op


def enc_cj(f3: int, off: int) -> int:
    """c.j / c.jal."""
    if off & 1:
        raise RangeErr(f"misaligned jump target: offset {off} is odd")
    if not fits_signed(off, 12):
        raise RangeErr(f"jump offset {off} out of range -2048..2046")
    o = off & 0xFFF
    bits = (((o >> 11) & 1) << 12) | (((o >> 4) & 1) << 11) | (((o >> 8) & 3) << 9) \
        | (((o >> 10) & 1) << 8) | (((o >> 6) & 1) << 7) | (((o >> 7) & 1) << 6) \
        | (((o >> 1) & 7) << 3) | (((o >> 5) & 1) << 2)
    return (f3 << 13) | bits | 0x1


def enc_cb(f3: int, rs1: int, off: int) -> int:
    """c.beqz / c.bnez."""
    if off & 1:
        raise RangeErr(f"misaligned branch target: offset {off} is odd")
    if not fits_signed(off, 9):
        raise RangeErr(f"branch offset {off} out of range -256..254")
    o = off & 0x1FF
    bits = (((o >> 8) & 1) << 12) | (((o >> 3) & 3) << 10) | (((o >> 6) & 3) << 5) \
        | (((o >> 1) & 3) << 3) | (((o >> 5) & 1) << 2)
    return (f3 << 13) | bits | ((rs1 - 8) << 7) | 0x1


def _c_addi4spn(rd: int, imm: int) -> int:
    return (((imm >> 4) & 3) << 11) | (((imm >> 6) & 0xF) << 7) | (((imm >> 2) & 1) << 6) \
        | (((imm >> 3) & 1) << 5) | ((rd - 8) << 2)


def _c_lw(f3: int, r: int, rs1: int, imm: int) -> int:
    return (f3 << 13) | (((imm >> 3) & 7) << 10) | ((rs1 - 8) << 7) | (((imm >> 2) & 1) << 6) \
        | (((imm >> 6) & 1) << 5) | ((r - 8) << 2)


def _c_ld(f3: int, r: int, rs1: int, imm: int) -> int:
    return (f3 << 13) | (((imm >> 3) & 7) << 10) | ((rs1 - 8) << 7) | (((imm >> 6) & 3) << 5) \
        | ((r - 8) << 2)


def _c_addi16sp(imm: int) -> int:
    i = imm & 0x3FF
    return (3 << 13) | (((i >> 9) & 1) << 12) | (2 << 7) | (((i >> 4) & 1) << 6) \
        | (((i >> 6) & 1) << 5) | (((i >> 7) & 3) << 3) | (((i >> 5) & 1) << 2) | 1


def _c_lwsp(rd: int, imm: int) -> int:
    return (2 << 13) | (((imm >> 5) & 1) << 12) | (rd << 7) | (((imm >> 2) & 7) << 4) \
        | (((imm >> 6) & 3) << 2) | 2


def _c_ldsp(rd: int, imm: int) -> int:
    return (3 << 13) | (((imm >> 5) & 1) << 12) | (rd << 7) | (((imm >> 3) & 3) << 5) \
        | (((imm >> 6) & 7) << 2) | 2


def _c_swsp(rs2: int, imm: int) -> int:
    return (6 << 13) | (((imm >> 2) & 0xF) << 9) | (((imm >> 6) & 3) << 7) | (rs2 << 2) | 2


def _c_sdsp(rs2: int, imm: int) -> int:
    return (7 << 13) | (((imm >> 3) & 7) << 10) | (((imm >> 6) & 7) << 7) | (rs2 << 2) | 2


def _c_arith(f6: int, f2: int, rd: int, rs2: int) -> int:
    return (f6 << 10) | ((rd - 8) << 7) | (f2 << 5) | ((rs2 - 8) << 2) | 1


def _c_cr(f4: int, rd: int, rs2: int) -> int:
    return (f4 << 12) | (rd << 7) | (rs2 << 2) | 2


def _c_shift(f2: int, rd: int, sh: int) -> int:
    """c.srli (f2=0), c.srai (1), c.andi (2) on rd'."""
    sh &= 0x3F
    return (4 << 13) | ((sh >> 5) << 12) | (f2 << 10) | ((rd - 8) << 7) | ((sh & 31) << 2) | 1


# Validity of RVC immediates (as GNU's VALID_RVC_* macros).
def _v6(v: int) -> bool:
    return -32 <= v < 32


def _v6nz(v: int) -> bool:
    return v != 0 and -32 <= v < 32


def _vlui(v: int) -> bool:
    return 1 <= v < 32 or 0xFFFE0 <= v <= 0xFFFFF


def _vsh(v: int) -> bool:
    return 0 < v < 64


def _vuim(v: int, scale: int, bits: int) -> bool:
    return v >= 0 and v % scale == 0 and v < (1 << bits)


def _v4spn(v: int) -> bool:
    return 0 < v < 1024 and v % 4 == 0


def _v16sp(v: int) -> bool:
    return v != 0 and -512 <= v < 512 and v % 16 == 0


# ---------------------------------------------------------------------------
# The mnemonic table
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Alt:
    """One way to assemble a mnemonic.

    ``kind``: ``"w"`` 32-bit word, ``"h"`` 16-bit word, ``"br"`` branch,
    ``"jal"`` jump, ``"macro"`` expansion.  ``build(v)`` gets the operand
    values (``rd``, ``rs1``, ``rs2``, ``imm``, ``csr`` …) and returns the word
    (or the macro's statements).  ``cond(v)`` filters alternatives, mostly the
    compressed ones.  For ``br``/``jal``, ``build`` is unused and ``info``
    carries (f3, is_compressed) / (is_compressed,).
    """

    pattern: tuple[str, ...]
    ext: str
    kind: str
    build: Callable[[dict], object] | None = None
    cond: Callable[[dict], bool] | None = None
    info: tuple = ()
    needs_const: bool = False  # every immediate must be known when matching


TABLE: dict[str, list[Alt]] = {}


def _add(name: str, pattern: str, ext: str, kind: str, build=None, cond=None,
         info: tuple = ()) -> None:
    pat = tuple(p for p in pattern.split(",") if p) if pattern else ()
    TABLE.setdefault(name, []).append(
        Alt(pat, ext, kind, build, cond, info, needs_const=(ext == "c")))


def _w(name, pattern, build, ext="i", cond=None):
    _add(name, pattern, ext, "w", build, cond)


def _h(name, pattern, build, cond=None):
    _add(name, pattern, "c", "h", build, cond)


def _m(name, pattern, build, ext="i", cond=None):
    _add(name, pattern, ext, "macro", build, cond)


# --- RV64I / M register-register --------------------------------------------
_RR = {
    "add": (0x33, 0, 0), "sub": (0x33, 0, 0x20), "sll": (0x33, 1, 0), "slt": (0x33, 2, 0),
    "sltu": (0x33, 3, 0), "xor": (0x33, 4, 0), "srl": (0x33, 5, 0), "sra": (0x33, 5, 0x20),
    "or": (0x33, 6, 0), "and": (0x33, 7, 0),
    "addw": (0x3B, 0, 0), "subw": (0x3B, 0, 0x20), "sllw": (0x3B, 1, 0), "srlw": (0x3B, 5, 0),
    "sraw": (0x3B, 5, 0x20),
}
_MUL = {
    "mul": (0x33, 0), "mulh": (0x33, 1), "mulhsu": (0x33, 2), "mulhu": (0x33, 3),
    "div": (0x33, 4), "divu": (0x33, 5), "rem": (0x33, 6), "remu": (0x33, 7),
    "mulw": (0x3B, 0), "divw": (0x3B, 4), "divuw": (0x3B, 5), "remw": (0x3B, 6),
    "remuw": (0x3B, 7),
}
_IMM = {"addi": 0, "slti": 2, "sltiu": 3, "xori": 4, "ori": 6, "andi": 7}
_LOAD = {"lb": 0, "lh": 1, "lw": 2, "ld": 3, "lbu": 4, "lhu": 5, "lwu": 6}
_STORE = {"sb": 0, "sh": 1, "sw": 2, "sd": 3}
_BR = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}


def _rr(name):
    op, f3, f7 = _RR[name]
    return lambda v: enc_r(op, f3, f7, v["rd"], v["rs1"], v["rs2"])


def _ii(f3, op=0x13):
    return lambda v: enc_i(op, f3, v["rd"], v["rs1"], v["imm"])


def _sh(op, f3, f7_or_f6, bits):
    def b(v):
        sh = _chk_u(v["imm"], bits, "shift amount")
        return (f7_or_f6 << 25) | (sh << 20) | (v["rs1"] << 15) | (f3 << 12) | (v["rd"] << 7) | op
    return b


def _mov_cond(v):
    return v["rd"] != 0 and v["rs2"] != 0


cr = _cr

# Compressed register-register forms shared by several mnemonics.
_C_ARITH = {"sub": (0x23, 0), "xor": (0x23, 1), "or": (0x23, 2), "and": (0x23, 3),
            "subw": (0x27, 0), "addw": (0x27, 1)}


def _c3(name):
    f6, f2 = _C_ARITH[name]
    return lambda v: _c_arith(f6, f2, v["rd"], v["rs2"])


# add
_h("add", "d,s,t", lambda v: _c_cr(9, v["rd"], v["rs2"]),
   lambda v: v["rd"] == v["rs1"] != 0 and v["rs2"] != 0)
_h("add", "d,t,s", lambda v: _c_cr(9, v["rd"], v["rs2"]),
   lambda v: v["rd"] == v["rs1"] != 0 and v["rs2"] != 0)
_h("add", "d,s,t", lambda v: _c_cr(8, v["rd"], v["rs2"]),
   lambda v: v["rs1"] == 0 and v["rd"] != 0 and v["rs2"] != 0)
_h("add", "d,s,j", lambda v: _ci(0, v["rd"], v["imm"], 1),
   lambda v: v["rd"] == v["rs1"] != 0 and _v6(v["imm"]))
_h("add", "d,s,j", lambda v: _c_addi4spn(v["rd"], v["imm"]),
   lambda v: cr(v["rd"]) and v["rs1"] == 2 and _v4spn(v["imm"]))
_h("add", "d,s,j", lambda v: _c_addi16sp(v["imm"]),
   lambda v: v["rd"] == v["rs1"] == 2 and _v16sp(v["imm"]))
# addi
_h("addi", "d,s,j", lambda v: _c_addi4spn(v["rd"], v["imm"]),
   lambda v: cr(v["rd"]) and v["rs1"] == 2 and _v4spn(v["imm"]))
_h("addi", "d,s,j", lambda v: _ci(0, v["rd"], v["imm"], 1),
   lambda v: v["rd"] == v["rs1"] != 0 and _v6nz(v["imm"]))
_h("addi", "d,s,j", lambda v: C_NOP,
   lambda v: v["rd"] == v["rs1"] == 0 and v["imm"] == 0)
_h("addi", "d,s,j", lambda v: _c_addi16sp(v["imm"]),
   lambda v: v["rd"] == v["rs1"] == 2 and _v16sp(v["imm"]))
_h("addi", "d,s,j", lambda v: _ci(2, v["rd"], v["imm"], 1),
   lambda v: v["rs1"] == 0 and v["rd"] != 0 and _v6(v["imm"]))
_h("addi", "d,s,j", lambda v: _c_cr(8, v["rd"], v["rs1"]),
   lambda v: v["rd"] != 0 and v["rs1"] != 0 and v["imm"] == 0)
# addiw / addw / subw / sub / and / or / xor
_h("addiw", "d,s,j", lambda v: _ci(1, v["rd"], v["imm"], 1),
   lambda v: v["rd"] == v["rs1"] != 0 and _v6(v["imm"]))
_h("addw", "d,s,j", lambda v: _ci(1, v["rd"], v["imm"], 1),
   lambda v: v["rd"] == v["rs1"] != 0 and _v6(v["imm"]))
for _n in ("addw", "and", "or", "xor"):
    _h(_n, "d,s,t", _c3(_n), lambda v: v["rd"] == v["rs1"] and cr(v["rd"]) and cr(v["rs2"]))
    _h(_n, "d,t,s", _c3(_n), lambda v: v["rd"] == v["rs1"] and cr(v["rd"]) and cr(v["rs2"]))
for _n in ("sub", "subw"):
    _h(_n, "d,s,t", _c3(_n), lambda v: v["rd"] == v["rs1"] and cr(v["rd"]) and cr(v["rs2"]))
_h("and", "d,s,j", lambda v: _c_shift(2, v["rd"], v["imm"]),
   lambda v: v["rd"] == v["rs1"] and cr(v["rd"]) and _v6(v["imm"]))
_h("andi", "d,s,j", lambda v: _c_shift(2, v["rd"], v["imm"]),
   lambda v: v["rd"] == v["rs1"] and cr(v["rd"]) and _v6(v["imm"]))
# shifts
for _n in ("slli", "sll"):
    _h(_n, "d,s,>", lambda v: _ci(0, v["rd"], v["imm"], 2),
       lambda v: v["rd"] == v["rs1"] != 0 and _vsh(v["imm"]))
for _n, _f in (("srli", 0), ("srl", 0), ("srai", 1), ("sra", 1)):
    _h(_n, "d,s,>", (lambda f: lambda v: _c_shift(f, v["rd"], v["imm"]))(_f),
       lambda v: v["rd"] == v["rs1"] and cr(v["rd"]) and _vsh(v["imm"]))
# mv / li / lui / sext.w
for _n in ("mv", "move"):
    _h(_n, "d,t", lambda v: _c_cr(8, v["rd"], v["rs2"]), _mov_cond)
_h("li", "d,j", lambda v: _ci(3, v["rd"], v["imm"] >> 12, 1),
   lambda v: v["rd"] not in (0, 2) and v["imm"] % 4096 == 0 and v["imm"] != 0
   and -(1 << 17) <= v["imm"] < (1 << 17))
_h("li", "d,j", lambda v: _ci(2, v["rd"], v["imm"], 1),
   lambda v: v["rd"] != 0 and _v6(v["imm"]))
_h("lui", "d,u", lambda v: _ci(3, v["rd"], v["imm"], 1),
   lambda v: v["rd"] not in (0, 2) and _vlui(v["imm"]))
_h("sext.w", "d,s", lambda v: _ci(1, v["rd"], 0, 1), lambda v: v["rd"] == v["rs1"] != 0)
# loads and stores
_h("lw", "d,o(s)", lambda v: _c_lw(2, v["rd"], v["rs1"], v["imm"]),
   lambda v: cr(v["rd"]) and cr(v["rs1"]) and _vuim(v["imm"], 4, 7))
_h("lw", "d,o(s)", lambda v: _c_lwsp(v["rd"], v["imm"]),
   lambda v: v["rd"] != 0 and v["rs1"] == 2 and _vuim(v["imm"], 4, 8))
_h("ld", "d,o(s)", lambda v: _c_ldsp(v["rd"], v["imm"]),
   lambda v: v["rd"] != 0 and v["rs1"] == 2 and _vuim(v["imm"], 8, 9))
_h("ld", "d,o(s)", lambda v: _c_ld(3, v["rd"], v["rs1"], v["imm"]),
   lambda v: cr(v["rd"]) and cr(v["rs1"]) and _vuim(v["imm"], 8, 8))
_h("sw", "t,o(s)", lambda v: _c_lw(6, v["rs2"], v["rs1"], v["imm"]),
   lambda v: cr(v["rs2"]) and cr(v["rs1"]) and _vuim(v["imm"], 4, 7))
_h("sw", "t,o(s)", lambda v: _c_swsp(v["rs2"], v["imm"]),
   lambda v: v["rs1"] == 2 and _vuim(v["imm"], 4, 8))
_h("sd", "t,o(s)", lambda v: _c_ld(7, v["rs2"], v["rs1"], v["imm"]),
   lambda v: cr(v["rs2"]) and cr(v["rs1"]) and _vuim(v["imm"], 8, 8))
_h("sd", "t,o(s)", lambda v: _c_sdsp(v["rs2"], v["imm"]),
   lambda v: v["rs1"] == 2 and _vuim(v["imm"], 8, 9))
# jumps
_h("jr", "s", lambda v: _c_cr(8, v["rs1"], 0), lambda v: v["rs1"] != 0)
_h("jalr", "s", lambda v: _c_cr(9, v["rs1"], 0), lambda v: v["rs1"] != 0)
_h("ret", "", lambda v: _c_cr(8, 1, 0))
_h("nop", "", lambda v: C_NOP)
_h("ebreak", "", lambda v: 0x9002)
_h("sbreak", "", lambda v: 0x9002)  # GNU compresses the old name too
_h("unimp", "", lambda v: 0x0000)

# Base register-register and immediate forms (after the compressed ones).
for _n in _RR:
    _w(_n, "d,s,t", _rr(_n))
for _n, (_op, _f3) in _MUL.items():
    _w(_n, "d,s,t", (lambda op, f3: lambda v: enc_r(op, f3, 1, v["rd"], v["rs1"], v["rs2"]))(_op, _f3),
       ext="m")
for _n, _f3 in _IMM.items():
    _w(_n, "d,s,j", _ii(_f3))
# GNU accepts the register-register mnemonic with an immediate third operand.
for _n, _i in (("add", "addi"), ("and", "andi"), ("or", "ori"), ("xor", "xori"),
               ("slt", "slti"), ("sltu", "sltiu"), ("addw", "addiw")):
    _w(_n, "d,s,j", _ii(_IMM.get(_i, 0), 0x1B if _n == "addw" else 0x13))
_w("addiw", "d,s,j", _ii(0, 0x1B))
for _n, _f3, _f in (("slli", 1, 0), ("srli", 5, 0), ("srai", 5, 0x20)):
    _w(_n, "d,s,>", _sh(0x13, _f3, _f, 6))
    _w(_n[:-1], "d,s,>", _sh(0x13, _f3, _f, 6))  # sll rd, rs, shamt
for _n, _f3, _f in (("slliw", 1, 0), ("srliw", 5, 0), ("sraiw", 5, 0x20)):
    _w(_n, "d,s,<", _sh(0x1B, _f3, _f, 5))
    _w(_n[:-2] + "w", "d,s,<", _sh(0x1B, _f3, _f, 5))  # sllw rd, rs, shamt
for _n, _f3 in _LOAD.items():
    _w(_n, "d,o(s)", _ii(_f3, 0x03))
for _n, _f3 in _STORE.items():
    _w(_n, "t,o(s)", (lambda f3: lambda v: enc_s(0x23, f3, v["rs1"], v["rs2"], v["imm"]))(_f3))
_w("lui", "d,u", lambda v: enc_u(0x37, v["rd"], v["imm"]))
_w("auipc", "d,u", lambda v: enc_u(0x17, v["rd"], v["imm"]))

# Aliases built from base instructions.
_w("nop", "", lambda v: NOP)
_w("mv", "d,s", lambda v: enc_i(0x13, 0, v["rd"], v["rs1"], 0))
_w("move", "d,s", lambda v: enc_i(0x13, 0, v["rd"], v["rs1"], 0))
_add("li", "d,j", "i", "w", lambda v: enc_i(0x13, 0, v["rd"], 0, v["imm"]))
TABLE["li"][-1] = Alt(TABLE["li"][-1].pattern, "i", "w", TABLE["li"][-1].build,
                      needs_const=True)  # li never takes a symbol (GNU: illegal operands)
_w("not", "d,s", lambda v: enc_i(0x13, 4, v["rd"], v["rs1"], -1))
_w("neg", "d,t", lambda v: enc_r(0x33, 0, 0x20, v["rd"], 0, v["rs2"]))
_w("negw", "d,t", lambda v: enc_r(0x3B, 0, 0x20, v["rd"], 0, v["rs2"]))
_w("sext.w", "d,s", lambda v: enc_i(0x1B, 0, v["rd"], v["rs1"], 0))
_w("zext.b", "d,s", lambda v: enc_i(0x13, 7, v["rd"], v["rs1"], 255))
_w("seqz", "d,s", lambda v: enc_i(0x13, 3, v["rd"], v["rs1"], 1))
_w("snez", "d,t", lambda v: enc_r(0x33, 3, 0, v["rd"], 0, v["rs2"]))
_w("sltz", "d,s", lambda v: enc_r(0x33, 2, 0, v["rd"], v["rs1"], 0))
_w("sgtz", "d,t", lambda v: enc_r(0x33, 2, 0, v["rd"], 0, v["rs2"]))
_w("sgt", "d,t,s", lambda v: enc_r(0x33, 2, 0, v["rd"], v["rs1"], v["rs2"]))
_w("sgtu", "d,t,s", lambda v: enc_r(0x33, 3, 0, v["rd"], v["rs1"], v["rs2"]))
_w("ret", "", lambda v: enc_i(0x67, 0, 0, 1, 0))
_w("jr", "s", lambda v: enc_i(0x67, 0, 0, v["rs1"], 0))
_w("jr", "o(s)", lambda v: enc_i(0x67, 0, 0, v["rs1"], v["imm"]))
_w("jr", "s,j", lambda v: enc_i(0x67, 0, 0, v["rs1"], v["imm"]))
_w("jalr", "s", lambda v: enc_i(0x67, 0, 1, v["rs1"], 0))
_w("jalr", "o(s)", lambda v: enc_i(0x67, 0, 1, v["rs1"], v["imm"]))
_w("jalr", "s,j", lambda v: enc_i(0x67, 0, 1, v["rs1"], v["imm"]))
_w("jalr", "d,s", lambda v: enc_i(0x67, 0, v["rd"], v["rs1"], 0))
_w("jalr", "d,o(s)", lambda v: enc_i(0x67, 0, v["rd"], v["rs1"], v["imm"]))
_w("jalr", "d,s,j", lambda v: enc_i(0x67, 0, v["rd"], v["rs1"], v["imm"]))
_w("ecall", "", lambda v: 0x00000073)
_w("scall", "", lambda v: 0x00000073)
_w("ebreak", "", lambda v: 0x00100073)
_w("sbreak", "", lambda v: 0x00100073)
_w("unimp", "", lambda v: 0xC0001073)  # csrrw x0, cycle, x0, as GNU
_w("mret", "", lambda v: 0x30200073)
_w("sret", "", lambda v: 0x10200073)
_w("wfi", "", lambda v: 0x10500073)
_w("sfence.vma", "", lambda v: 0x12000073)
_w("sfence.vma", "s", lambda v: enc_r(0x73, 0, 0x09, 0, v["rs1"], 0))
_w("sfence.vma", "s,t", lambda v: enc_r(0x73, 0, 0x09, 0, v["rs1"], v["rs2"]))
_w("fence", "", lambda v: 0x0FF0000F)
_w("fence", "P,Q", lambda v: (v["pred"] << 24) | (v["succ"] << 20) | 0x0F)
_w("fence.i", "", lambda v: 0x0000100F, ext="zifencei")
_w("fence.tso", "", lambda v: 0x8330000F)
_w("pause", "", lambda v: 0x0100000F)

# Branches: compressed candidates first (GNU "beqz Cs,Cp" and "beq Cs,Cz,Cp").
_add("beqz", "s,p", "c", "br", info=(0, True), cond=lambda v: cr(v["rs1"]))
_add("bnez", "s,p", "c", "br", info=(1, True), cond=lambda v: cr(v["rs1"]))
_add("beq", "s,t,p", "c", "br", info=(0, True), cond=lambda v: cr(v["rs1"]) and v["rs2"] == 0)
_add("bne", "s,t,p", "c", "br", info=(1, True), cond=lambda v: cr(v["rs1"]) and v["rs2"] == 0)
for _n, _f3 in _BR.items():
    _add(_n, "s,t,p", "i", "br", info=(_f3, False))
for _n, _f3, _pat in (("beqz", 0, "s,p"), ("bnez", 1, "s,p"), ("blez", 5, "t,p"),
                      ("bgez", 5, "s,p"), ("bltz", 4, "s,p"), ("bgtz", 4, "t,p"),
                      ("bgt", 4, "t,s,p"), ("ble", 5, "t,s,p"), ("bgtu", 6, "t,s,p"),
                      ("bleu", 7, "t,s,p")):
    _add(_n, _pat, "i", "br", info=(_f3, False))
_add("j", "a", "c", "jal", info=(True, 0))
_add("j", "a", "i", "jal", info=(False, 0))
_add("jal", "d,a", "i", "jal", info=(False, None))
_add("jal", "a", "i", "jal", info=(False, 1))

# Zicsr
_CSR = {"csrrw": 1, "csrrs": 2, "csrrc": 3}


def _csr(f3, rd=None, rs=None):
    def b(v):
        d = v["rd"] if rd is None else rd
        s = v["rs1"] if rs is None else rs
        return (v["csr"] << 20) | (s << 15) | (f3 << 12) | (d << 7) | 0x73
    return b


def _csri(f3, rd=None):
    def b(v):
        d = v["rd"] if rd is None else rd
        return (v["csr"] << 20) | (_chk_u(v["imm"], 5, "CSR immediate") << 15) | (f3 << 12) \
            | (d << 7) | 0x73
    return b


for _n, _f3 in _CSR.items():
    _w(_n, "d,E,s", _csr(_f3), ext="zicsr")
    _w(_n, "d,E,Z", _csri(_f3 + 4), ext="zicsr")
    _w(_n + "i", "d,E,Z", _csri(_f3 + 4), ext="zicsr")
_w("csrr", "d,E", _csr(2, rs=0), ext="zicsr")
for _n, _f3 in (("csrw", 1), ("csrs", 2), ("csrc", 3)):
    _w(_n, "E,s", _csr(_f3, rd=0), ext="zicsr")
    _w(_n, "E,Z", _csri(_f3 + 4, rd=0), ext="zicsr")
    _w(_n + "i", "E,Z", _csri(_f3 + 4, rd=0), ext="zicsr")
for _n, _num in (("rdcycle", 0xC00), ("rdtime", 0xC01), ("rdinstret", 0xC02)):
    _w(_n, "d", (lambda num: lambda v: (num << 20) | (2 << 12) | (v["rd"] << 7) | 0x73)(_num),
       ext="zicsr")

# A extension
_AMO = {"amoadd": 0, "amoswap": 1, "amoxor": 4, "amoor": 8, "amoand": 12,
        "amomin": 16, "amomax": 20, "amominu": 24, "amomaxu": 28}
for _w_d, _f3 in (("w", 2), ("d", 3)):
    for _ord, _bits in (("", 0), (".aq", 2), (".rl", 1), (".aqrl", 3)):
        for _n, _f5 in _AMO.items():
            _w(f"{_n}.{_w_d}{_ord}", "d,t,(s)",
               (lambda f5, f3, b: lambda v: enc_r(0x2F, f3, (f5 << 2) | b, v["rd"], v["rs1"], v["rs2"]))(_f5, _f3, _bits),
               ext="a")
        _w(f"lr.{_w_d}{_ord}", "d,(s)",
           (lambda f3, b: lambda v: enc_r(0x2F, f3, (2 << 2) | b, v["rd"], v["rs1"], 0))(_f3, _bits),
           ext="a")
        _w(f"sc.{_w_d}{_ord}", "d,t,(s)",
           (lambda f3, b: lambda v: enc_r(0x2F, f3, (3 << 2) | b, v["rd"], v["rs1"], v["rs2"]))(_f3, _bits),
           ext="a")


# Explicit compressed mnemonics (RV64C, no floating point).
def _need(cond_ok: bool, what: str) -> None:
    if not cond_ok:
        raise RangeErr(what)


def _creg(r: int, which: str) -> None:
    _need(cr(r), f"{which} must be one of x8..x15 (s0, s1, a0-a5) for this compressed instruction")


def _c_addi4spn_e(v):
    _creg(v["rd"], "rd")
    _need(v["rs1"] == 2, "c.addi4spn needs sp as its second operand")
    _need(_v4spn(v["imm"]), f"immediate {v['imm']} must be a non-zero multiple of 4 in 4..1020")
    return _c_addi4spn(v["rd"], v["imm"])


def _c_mem(f3, scale, bits, reg, fn):
    def b(v):
        _creg(v[reg], "register")
        _creg(v["rs1"], "base register")
        _need(_vuim(v["imm"], scale, bits),
              f"offset {v['imm']} must be a multiple of {scale} in 0..{(1 << bits) - scale}")
        return fn(f3, v[reg], v["rs1"], v["imm"])
    return b


def _c_sp(scale, bits, reg, fn, nz=False):
    def b(v):
        _need(v["rs1"] == 2, "base register must be sp")
        if nz:
            _need(v[reg] != 0, "rd must not be x0")
        _need(_vuim(v["imm"], scale, bits),
              f"offset {v['imm']} must be a multiple of {scale} in 0..{(1 << bits) - scale}")
        return fn(v[reg], v["imm"])
    return b


def _c_ci_e(f3, cond, what, nzrd=True):
    def b(v):
        if nzrd:
            _need(v["rd"] != 0, "rd must not be x0")
        _need(cond(v["imm"]), f"immediate {v['imm']} out of range {what}")
        return _ci(f3, v["rd"], v["imm"], 1)
    return b


def _c_lui_e(v):
    _need(v["rd"] not in (0, 2), "c.lui rd must not be x0 or sp")
    _need(_vlui(v["imm"]), f"immediate {v['imm']} out of range 1..31 or 0xfffe0..0xfffff")
    return _ci(3, v["rd"], v["imm"], 1)


def _c_a16_e(v):
    _need(v["rd"] == 2, "c.addi16sp needs sp")
    _need(_v16sp(v["imm"]), f"immediate {v['imm']} must be a non-zero multiple of 16 in -512..496")
    return _c_addi16sp(v["imm"])


def _c_sh_e(kind):
    def b(v):
        _need(_vsh(v["imm"]), f"shift amount {v['imm']} out of range 1..63")
        if kind == "slli":
            _need(v["rd"] != 0, "rd must not be x0")
            return _ci(0, v["rd"], v["imm"], 2)
        _creg(v["rd"], "rd")
        return _c_shift(0 if kind == "srli" else 1, v["rd"], v["imm"])
    return b


def _c_andi_e(v):
    _creg(v["rd"], "rd")
    _need(_v6(v["imm"]), f"immediate {v['imm']} out of range -32..31")
    return _c_shift(2, v["rd"], v["imm"])


def _c_ar_e(name):
    def b(v):
        _creg(v["rd"], "rd")
        _creg(v["rs2"], "rs2")
        return _c3(name)(v)
    return b


def _c_cr_e(f4, need_rs2):
    def b(v):
        _need(v["rd"] != 0, "rd must not be x0")
        if need_rs2:
            _need(v["rs2"] != 0, "rs2 must not be x0")
        return _c_cr(f4, v["rd"], v["rs2"])
    return b


def _c_jr_e(f4):
    def b(v):
        _need(v["rs1"] != 0, "rs1 must not be x0")
        return _c_cr(f4, v["rs1"], 0)
    return b


_EXPLICIT_C = [
    ("c.addi4spn", "d,s,j", _c_addi4spn_e),
    ("c.lw", "d,o(s)", _c_mem(2, 4, 7, "rd", _c_lw)),
    ("c.ld", "d,o(s)", _c_mem(3, 8, 8, "rd", _c_ld)),
    ("c.sw", "t,o(s)", _c_mem(6, 4, 7, "rs2", _c_lw)),
    ("c.sd", "t,o(s)", _c_mem(7, 8, 8, "rs2", _c_ld)),
    ("c.nop", "", lambda v: C_NOP),
    ("c.addi", "d,j", _c_ci_e(0, _v6, "-32..31", nzrd=False)),
    ("c.addiw", "d,j", _c_ci_e(1, _v6, "-32..31")),
    ("c.li", "d,j", _c_ci_e(2, _v6, "-32..31")),
    ("c.addi16sp", "d,j", _c_a16_e),
    ("c.lui", "d,u", _c_lui_e),
    ("c.srli", "d,>", _c_sh_e("srli")),
    ("c.srai", "d,>", _c_sh_e("srai")),
    ("c.slli", "d,>", _c_sh_e("slli")),
    ("c.andi", "d,j", _c_andi_e),
    ("c.sub", "d,t", _c_ar_e("sub")),
    ("c.xor", "d,t", _c_ar_e("xor")),
    ("c.or", "d,t", _c_ar_e("or")),
    ("c.and", "d,t", _c_ar_e("and")),
    ("c.subw", "d,t", _c_ar_e("subw")),
    ("c.addw", "d,t", _c_ar_e("addw")),
    ("c.lwsp", "d,o(s)", _c_sp(4, 8, "rd", _c_lwsp, nz=True)),
    ("c.ldsp", "d,o(s)", _c_sp(8, 9, "rd", _c_ldsp, nz=True)),
    ("c.swsp", "t,o(s)", _c_sp(4, 8, "rs2", _c_swsp)),
    ("c.sdsp", "t,o(s)", _c_sp(8, 9, "rs2", _c_sdsp)),
    ("c.jr", "s", _c_jr_e(8)),
    ("c.jalr", "s", _c_jr_e(9)),
    ("c.mv", "d,t", _c_cr_e(8, True)),
    ("c.add", "d,t", _c_cr_e(9, True)),
    ("c.ebreak", "", lambda v: 0x9002),
    ("c.unimp", "", lambda v: 0x0000),
]
for _n, _p, _b in _EXPLICIT_C:
    _add(_n, _p, "cx", "h", _b)
_add("c.j", "a", "cx", "cj", info=(5,))
_add("c.beqz", "s,p", "cx", "cb", info=(6,))
_add("c.bnez", "s,p", "cx", "cb", info=(7,))


# ---------------------------------------------------------------------------
# Macros
# ---------------------------------------------------------------------------


def li_sequence(rd: int, value: int) -> list[str]:
    """The statements GNU ``as`` (``load_const``) emits for ``li rd, value`` on
    RV64; each goes back through the table, so it is compressed as GNU's is."""
    value &= (1 << 64) - 1
    if value >> 63:
        value -= 1 << 64
    out: list[str] = []
    _load_const(rd, value, out)
    return out


def _load_const(rd: int, value: int, out: list[str]) -> None:
    lower = lo12(value)
    upper = value - lower
    upper = ((upper + (1 << 63)) % (1 << 64)) - (1 << 63)  # int64, as GNU computes it
    if not fits_signed(value, 32):
        shift = 12
        while ((upper >> shift) & 1) == 0:
            shift += 1
        upper >>= shift
        _load_const(rd, upper, out)
        out.append(f"slli x{rd}, x{rd}, {shift}")
        if lower:
            out.append(f"addi x{rd}, x{rd}, {lower}")
    else:
        hi_reg = 0
        if upper:
            out.append(f"lui x{rd}, {(upper & 0xFFFFFFFF) >> 12}")
            hi_reg = rd
        if lower or not hi_reg:
            out.append(f"addiw x{rd}, x{hi_reg}, {lower}")


_m("li", "d,I", lambda v: li_sequence(v["rd"], v["imm"]))


def _pcrel(first: str, second: str):
    """A two-instruction PC-relative macro; ``{L}`` is the auipc's label."""
    return lambda v: ["{L}:", first.format(L="{L}", **v), second.format(L="{L}", **v)]


for _n in ("la", "lla"):
    _m(_n, "d,A", _pcrel("auipc x{rd}, %pcrel_hi({sym})", "addi x{rd}, x{rd}, %pcrel_lo({L})"))
for _n in _LOAD:
    _m(_n, "d,A", _pcrel("auipc x{rd}, %pcrel_hi({sym})", _n + " x{rd}, %pcrel_lo({L})(x{rd})"))
for _n in _STORE:
    _m(_n, "t,A,s", _pcrel("auipc x{rs1}, %pcrel_hi({sym})", _n + " x{rs2}, %pcrel_lo({L})(x{rs1})"))
_m("call", "c", _pcrel("auipc x1, %pcrel_hi({sym})", "jalr x1, %pcrel_lo({L})(x1)"))
# GNU's "call rd, sym" builds the address in t1 (its opcode entry's rs1).
_m("call", "d,c", _pcrel("auipc x6, %pcrel_hi({sym})", "jalr x{rd}, %pcrel_lo({L})(x6)"))
_m("tail", "c", _pcrel("auipc x6, %pcrel_hi({sym})", "jalr x0, %pcrel_lo({L})(x6)"))
_m("jump", "c,s", _pcrel("auipc x{rs1}, %pcrel_hi({sym})", "jalr x0, %pcrel_lo({L})(x{rs1})"))

del _n
