"""Random, valid assembly lines for every mnemonic: the differential tests' input.

For each mnemonic Septum's assembler supports (RV64IMAC, Zicsr, Zifencei, the
privileged instructions, explicit ``c.*`` forms and the GNU pseudo-
instructions), :data:`FORMS` holds a function that draws a complete, valid
operand string with hypothesis — registers in x-names and ABI names,
immediates across their whole legal range with the edges favoured, CSRs by
name and by number, fence sets, ``c.*`` operands obeying their register and
immediate constraints.  The ranges come from the RISC-V unprivileged ISA
(20191213), chapters 2, 4, 7, 8, 9, 16 and 25 ("RV32/64G instruction set
listings") and the privileged ISA; the spelling is GNU as's.

Branch and jump targets are labels: ``L0``..``L{LABELS-1}`` named labels spread
over a batch (in reach of a 13-bit branch offset for batches of a few hundred
instructions), and numeric local labels ``1:`` placed every few lines for the
short-reach compressed branches (``c.beqz``/``c.bnez``/``c.j``, ±256 bytes).
"""

from __future__ import annotations

from typing import Callable

from hypothesis import strategies as st

from septum.toolchain.riscv import CSR_ALIASES, CSR_NAMES

LABELS = 8
#: Lines between numeric labels ``1:`` in a batch (keeps ``1b``/``1f`` near).
LOCAL_LABEL_EVERY = 12

ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
       "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
       "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
       "t3", "t4", "t5", "t6"]

Draw = Callable[[st.SearchStrategy], object]


def reg_name(n: int, draw: Draw) -> str:
    """Register ``n`` spelled as ``xN``, its ABI name, or ``fp`` for x8."""
    choices = [f"x{n}", ABI[n]] + (["fp"] if n == 8 else [])
    return draw(st.sampled_from(choices))


def reg(draw: Draw, lo: int = 0, hi: int = 31, exclude: tuple[int, ...] = ()) -> str:
    # Favour the registers compressed forms can name (x8..x15, and x0/x1/x2)
    # so that automatic compression is exercised often.
    favoured = [r for r in (0, 1, 2, 8, 9, 10, 11, 12, 13, 14, 15)
                if lo <= r <= hi and r not in exclude]
    anyreg = st.integers(lo, hi).filter(lambda r: r not in exclude)
    n = draw(st.one_of(anyreg, st.sampled_from(favoured)) if favoured else anyreg)
    return reg_name(n, draw)


def creg(draw: Draw) -> str:
    """One of the eight registers a 3-bit compressed field names (x8..x15)."""
    return reg(draw, 8, 15)


def edge_int(draw: Draw, lo: int, hi: int, step: int = 1) -> int:
    """An integer in [lo, hi] that is a multiple of ``step``, edges favoured."""
    edges = [v for v in (lo, hi, 0, step, -step, lo + step, hi - step) if lo <= v <= hi
             and v % step == 0]
    ranges = [st.sampled_from(edges), st.integers(-(-lo // step), hi // step).map(
        lambda k: k * step)]
    # Small values too (what the 6-bit compressed immediates can hold).
    small_lo, small_hi = max(lo, -32 * step), min(hi, 31 * step)
    if small_lo <= small_hi:
        ranges.append(st.integers(-(-small_lo // step), small_hi // step).map(lambda k: k * step))
    return draw(st.one_of(*ranges))


def num(draw: Draw, value: int) -> str:
    """``value`` written in decimal or hex (GNU accepts both, with sign)."""
    if draw(st.booleans()):
        return str(value)
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def imm(draw: Draw, lo: int, hi: int, step: int = 1, nonzero: bool = False) -> str:
    v = edge_int(draw, lo, hi, step)
    if nonzero and v == 0:
        v = step
    return num(draw, v)


def label(draw: Draw) -> str:
    return f"L{draw(st.integers(0, LABELS - 1))}"


def local_label(draw: Draw) -> str:
    return draw(st.sampled_from(["1b", "1f"]))


def csr(draw: Draw) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(sorted(CSR_NAMES) + sorted(CSR_ALIASES)))
    return num(draw, edge_int(draw, 0, 0xFFF))


# --- operand shapes -----------------------------------------------------------

def r_type(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}, {reg(d)}"


def i_type(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}, {imm(d, -2048, 2047)}"


def shift64(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}, {imm(d, 0, 63)}"


def shift32(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}, {imm(d, 0, 31)}"


def mem(d: Draw) -> str:
    return f"{reg(d)}, {imm(d, -2048, 2047)}({reg(d)})"


def branch(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}, {label(d)}"


def branch_z(d: Draw) -> str:
    return f"{reg(d)}, {label(d)}"


def u_type(d: Draw) -> str:
    return f"{reg(d)}, {imm(d, 0, 0xFFFFF)}"


def jal(d: Draw) -> str:
    return d(st.sampled_from([f"{reg(d)}, {label(d)}", label(d)]))


def jalr(d: Draw) -> str:
    forms = [f"{reg(d)}, {imm(d, -2048, 2047)}({reg(d)})",
             f"{reg(d)}, {reg(d)}, {imm(d, -2048, 2047)}",
             f"{reg(d)}, 0({reg(d)})",
             reg(d)]
    return d(st.sampled_from(forms))


def csr_reg(d: Draw) -> str:
    return f"{reg(d)}, {csr(d)}, {reg(d)}"


def csr_imm(d: Draw) -> str:
    return f"{reg(d)}, {csr(d)}, {imm(d, 0, 31)}"


FENCE_SETS = ["i", "o", "r", "w", "io", "ir", "iw", "or", "ow", "rw",
              "ior", "iow", "irw", "orw", "iorw"]


def fence(d: Draw) -> str:
    if d(st.booleans()):
        return ""
    return f"{d(st.sampled_from(FENCE_SETS))}, {d(st.sampled_from(FENCE_SETS))}"


def none(d: Draw) -> str:
    return ""


def sfence_vma(d: Draw) -> str:
    return d(st.sampled_from(["", reg(d), f"{reg(d)}, {reg(d)}"]))


def lr(d: Draw) -> str:
    return f"{reg(d)}, ({reg(d)})"


def amo(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}, ({reg(d)})"


def rd_rs(d: Draw) -> str:
    return f"{reg(d)}, {reg(d)}"


def rd_only(d: Draw) -> str:
    return reg(d)


def rs_only(d: Draw) -> str:
    return reg(d)


def csr_read(d: Draw) -> str:
    return f"{reg(d)}, {csr(d)}"


def csr_write(d: Draw) -> str:
    return f"{csr(d)}, {reg(d)}"


def csr_write_imm(d: Draw) -> str:
    return f"{csr(d)}, {imm(d, 0, 31)}"


#: Whether ``call rd, label`` is generated.  GNU as 2.40 expands it as
#: ``auipc t1; jalr rd, t1`` (t1 as the scratch register); see test_vs_gnu.
CALL_WITH_RD = True


def call(d: Draw) -> str:
    if CALL_WITH_RD and d(st.booleans()):
        return f"{reg(d, exclude=(0,))}, {label(d)}"
    return label(d)


def tail(d: Draw) -> str:
    return label(d)


def jump(d: Draw) -> str:
    return label(d)


def jump_via(d: Draw) -> str:
    """``jump label, temp``: auipc temp + jalr zero (temp must not be x0)."""
    return f"{label(d)}, {reg(d, 1)}"


# Compressed forms (RVC chapter 16).  rd != 0 where the spec reserves it.

def c_addi(d: Draw) -> str:
    return f"{reg(d, 1)}, {imm(d, -32, 31, nonzero=True)}"


def c_addiw(d: Draw) -> str:
    return f"{reg(d, 1)}, {imm(d, -32, 31)}"


def c_li(d: Draw) -> str:
    return f"{reg(d, 1)}, {imm(d, -32, 31)}"


def c_lui(d: Draw) -> str:
    v = d(st.one_of(st.integers(1, 0x1F), st.integers(0xFFFE0, 0xFFFFF),
                    st.sampled_from([1, 0x1F, 0xFFFE0, 0xFFFFF])))
    return f"{reg(d, 1, exclude=(2,))}, {num(d, v)}"


def c_addi16sp(d: Draw) -> str:
    return f"sp, {imm(d, -512, 496, 16, nonzero=True)}"


def c_addi4spn(d: Draw) -> str:
    return f"{creg(d)}, sp, {imm(d, 4, 1020, 4)}"


def c_slli(d: Draw) -> str:
    return f"{reg(d, 1)}, {imm(d, 1, 63)}"


def c_shift(d: Draw) -> str:
    return f"{creg(d)}, {imm(d, 1, 63)}"


def c_andi(d: Draw) -> str:
    return f"{creg(d)}, {imm(d, -32, 31)}"


def c_mv(d: Draw) -> str:
    return f"{reg(d, 1)}, {reg(d, 1)}"


def c_alu(d: Draw) -> str:
    return f"{creg(d)}, {creg(d)}"


def c_mem(scale: int) -> Callable[[Draw], str]:
    def form(d: Draw) -> str:
        return f"{creg(d)}, {imm(d, 0, 31 * scale, scale)}({creg(d)})"
    return form


def c_load_sp(scale: int) -> Callable[[Draw], str]:
    def form(d: Draw) -> str:
        return f"{reg(d, 1)}, {imm(d, 0, 63 * scale, scale)}(sp)"
    return form


def c_store_sp(scale: int) -> Callable[[Draw], str]:
    def form(d: Draw) -> str:
        return f"{reg(d)}, {imm(d, 0, 63 * scale, scale)}(sp)"
    return form


def c_jr(d: Draw) -> str:
    return reg(d, 1)


def c_branch(d: Draw) -> str:
    return f"{creg(d)}, {local_label(d)}"


def c_j(d: Draw) -> str:
    return local_label(d)


def _table() -> dict[str, Callable[[Draw], str]]:
    t: dict[str, Callable[[Draw], str]] = {}
    for m in ("add sub sll slt sltu xor srl sra or and addw subw sllw srlw sraw "
              "mul mulh mulhsu mulhu div divu rem remu mulw divw divuw remw remuw").split():
        t[m] = r_type
    for m in "addi slti sltiu xori ori andi addiw".split():
        t[m] = i_type
    for m in "slli srli srai".split():
        t[m] = shift64
    for m in "slliw srliw sraiw".split():
        t[m] = shift32
    for m in "lb lh lw ld lbu lhu lwu sb sh sw sd".split():
        t[m] = mem
    for m in "beq bne blt bge bltu bgeu bgt ble bgtu bleu".split():
        t[m] = branch
    for m in "beqz bnez blez bgez bltz bgtz".split():
        t[m] = branch_z
    t["lui"] = t["auipc"] = u_type
    t["jal"] = jal
    t["jalr"] = jalr
    for m in "csrrw csrrs csrrc".split():
        t[m] = csr_reg
    for m in "csrrwi csrrsi csrrci".split():
        t[m] = csr_imm
    t["fence"] = fence
    for m in "fence.i fence.tso ecall ebreak mret sret wfi nop ret unimp".split():
        t[m] = none
    t["sfence.vma"] = sfence_vma
    for w in ("w", "d"):
        for order in ("", ".aq", ".rl", ".aqrl"):
            t[f"lr.{w}{order}"] = lr
            t[f"sc.{w}{order}"] = amo
            for op in "swap add xor and or min max minu maxu".split():
                t[f"amo{op}.{w}{order}"] = amo
    for m in "mv not neg negw sext.w seqz snez sltz sgtz".split():
        t[m] = rd_rs
    t["j"] = jump
    t["jr"] = rs_only
    t["call"] = call
    t["tail"] = tail
    t["csrr"] = csr_read
    for m in "csrw csrs csrc".split():
        t[m] = csr_write
    for m in "csrwi csrsi csrci".split():
        t[m] = csr_write_imm
    for m in "rdtime rdcycle rdinstret".split():
        t[m] = rd_only
    # Compressed.
    t["c.addi"] = c_addi
    t["c.addiw"] = c_addiw
    t["c.li"] = c_li
    t["c.lui"] = c_lui
    t["c.addi16sp"] = c_addi16sp
    t["c.addi4spn"] = c_addi4spn
    t["c.slli"] = c_slli
    t["c.srli"] = t["c.srai"] = c_shift
    t["c.andi"] = c_andi
    t["c.mv"] = t["c.add"] = c_mv
    for m in "c.sub c.xor c.or c.and c.subw c.addw".split():
        t[m] = c_alu
    t["c.lw"] = t["c.sw"] = c_mem(4)
    t["c.ld"] = t["c.sd"] = c_mem(8)
    t["c.lwsp"] = c_load_sp(4)
    t["c.ldsp"] = c_load_sp(8)
    t["c.swsp"] = c_store_sp(4)
    t["c.sdsp"] = c_store_sp(8)
    t["c.jr"] = t["c.jalr"] = c_jr
    t["c.beqz"] = t["c.bnez"] = c_branch
    t["c.j"] = c_j
    # GNU's older spellings and extra aliases.
    t["move"] = rd_rs
    t["sbreak"] = t["scall"] = none
    t["sgt"] = t["sgtu"] = r_type
    t["zext.b"] = rd_rs
    t["jump"] = jump_via
    t["pause"] = none  # needs Zihintpause in GNU as (see test_vs_gnu)
    for m in "c.nop c.ebreak c.unimp".split():
        t[m] = none
    return t


#: mnemonic -> operand drawer, for every mnemonic the differential tests cover.
FORMS: dict[str, Callable[[Draw], str]] = _table()

#: Mnemonics whose bytes are not unique (li, la, lla are checked by running
#: them instead) or that GNU and Septum both treat as data-dependent.
SEMANTIC_ONLY = frozenset({"li", "la", "lla"})

COMPRESSED = frozenset(m for m in FORMS if m.startswith("c."))


def line(draw: Draw, mnemonic: str) -> str:
    ops = FORMS[mnemonic](draw)
    return f"    {mnemonic} {ops}".rstrip()


@st.composite
def batch(draw, mnemonics: list[str], size: int, cover: bool = False) -> list[str]:
    """``size`` instruction lines drawn from ``mnemonics`` with labels placed:
    named labels ``L0``.. at random lines (every one defined exactly once) and
    ``1:`` every :data:`LOCAL_LABEL_EVERY` lines plus one at each end.  With
    ``cover``, every mnemonic appears at least once (in random order)."""
    names = [draw(st.sampled_from(mnemonics)) for _ in range(size)]
    if cover:
        names = draw(st.permutations(list(mnemonics) + names))
    size = len(names)
    body = [line(draw, m) for m in names]
    out = ["1:"]
    spots = sorted(draw(st.lists(st.integers(0, size), min_size=LABELS, max_size=LABELS)))
    for i, text in enumerate(body):
        while spots and spots[0] == i:
            out.append(f"L{LABELS - len(spots)}:")
            spots.pop(0)
        if i and i % LOCAL_LABEL_EVERY == 0:
            out.append("1:")
        out.append(text)
    while spots:
        out.append(f"L{LABELS - len(spots)}:")
        spots.pop(0)
    out.append("1:")
    return out
