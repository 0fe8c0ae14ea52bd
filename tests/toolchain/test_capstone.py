"""Round trip through capstone: what we assemble, capstone reads back.

Random lines for every single-instruction mnemonic of the assembler's table
(:mod:`.operands`) are assembled by Septum; each instruction's bytes are
decoded by capstone, and both the source line and capstone's text are brought
to one canonical form — the base instruction and its operand values — before
comparing.  Canonicalisation expands the aliases either side may use (``mv``,
``beqz``, ``ret``, ``csrw``, ``sext.w``, ``j`` ...), numbers registers, CSRs
(names or numbers) and immediates, and turns branch labels into the offsets
capstone prints.

Capstone 5 does not know every encoding GNU as accepts; the mnemonics whose
bytes it cannot decode are listed in :data:`CAPSTONE_UNKNOWN` (checked: they
must stay undecodable, so the list cannot silently go stale).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, Phase, given, settings

from septum.toolchain import Source, assemble
from septum.toolchain.disasm import disassemble
from septum.toolchain.isa import TABLE
from septum.toolchain.riscv import CSR_ALIASES, CSR_NAMES
from septum.tests.toolchain.operands import ABI, SEMANTIC_ONLY, batch

BASE = 0x1000
#: Pseudo-instructions that expand to more than one instruction.
MULTI = frozenset({"call", "tail", "jump"}) | SEMANTIC_ONLY
SINGLE = sorted(m for m in TABLE if m not in MULTI and not m.startswith("c."))
COMPRESSED = sorted(m for m in TABLE if m.startswith("c."))
#: Mnemonics capstone 5.0 cannot decode (it would show their bytes as data):
#: none at present; ``pause`` decodes as ``fence w, unknown`` (fence w,0).
CAPSTONE_UNKNOWN: frozenset[str] = frozenset()
SETTINGS = dict(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))

REGS = {f"x{i}": i for i in range(32)} | {n: i for i, n in enumerate(ABI)} | {"fp": 8}
CSRS = CSR_NAMES | CSR_ALIASES


def _capstone_csr_names() -> dict[str, int]:
    """The CSR names capstone prints (some outside the privileged spec 1.12,
    e.g. the N extension's ``ustatus``), learnt from capstone itself by
    decoding ``csrrc x1, N, x2`` for every N (a form no alias hides), on top
    of the specification's names."""
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64)
    names = dict(CSRS)
    for n in range(4096):
        word = (n << 20) | (2 << 15) | (3 << 12) | (1 << 7) | 0x73
        for insn in md.disasm(word.to_bytes(4, "little"), 0):
            name = insn.op_str.split(", ")[1]
            if not re.fullmatch(r"-?(0x)?[0-9a-f]+", name):
                names[name] = n
    return names


CAPSTONE_CSRS = _capstone_csr_names()


def value(tok: str, labels: dict[str, int], pc: int, csrs: dict[str, int] = CSRS):
    tok = tok.strip()
    if tok in REGS:
        return ("x", REGS[tok])
    if tok in csrs:
        return ("n", csrs[tok])
    if tok in labels:
        return ("n", labels[tok] - pc)
    if tok == "unknown":  # capstone's name for an empty fence set
        return ("set", "")
    if re.fullmatch(r"[iorw]+", tok):
        return ("set", "".join(sorted(tok)))
    return ("n", int(tok, 0))


def operands(text: str, labels: dict[str, int], pc: int, csrs: dict[str, int] = CSRS) -> list:
    out = []
    for tok in [t for t in text.split(",") if t.strip()]:
        m = re.fullmatch(r"\s*(.*?)\((\w+)\)\s*", tok)
        if m:  # imm(reg) or (reg)
            out.append(value(m.group(1) or "0", labels, pc, csrs))
            out.append(value(m.group(2), labels, pc, csrs))
        else:
            out.append(value(tok, labels, pc, csrs))
    return out


X0, RA = ("x", 0), ("x", 1)
ZERO = ("n", 0)


def canonical(mnemonic: str, ops: list) -> tuple:
    """Expand aliases into (base mnemonic, operand values)."""
    m, o = mnemonic, ops
    table = {
        "nop": lambda: ("addi", [X0, X0, ZERO]),
        "mv": lambda: ("addi", [o[0], o[1], ZERO]),
        "move": lambda: ("addi", [o[0], o[1], ZERO]),
        "not": lambda: ("xori", [o[0], o[1], ("n", -1)]),
        "neg": lambda: ("sub", [o[0], X0, o[1]]),
        "negw": lambda: ("subw", [o[0], X0, o[1]]),
        "sext.w": lambda: ("addiw", [o[0], o[1], ZERO]),
        "seqz": lambda: ("sltiu", [o[0], o[1], ("n", 1)]),
        "snez": lambda: ("sltu", [o[0], X0, o[1]]),
        "sltz": lambda: ("slt", [o[0], o[1], X0]),
        "sgtz": lambda: ("slt", [o[0], X0, o[1]]),
        "sgt": lambda: ("slt", [o[0], o[2], o[1]]),
        "sgtu": lambda: ("sltu", [o[0], o[2], o[1]]),
        "zext.b": lambda: ("andi", [o[0], o[1], ("n", 255)]),
        "beqz": lambda: ("beq", [o[0], X0, o[1]]),
        "bnez": lambda: ("bne", [o[0], X0, o[1]]),
        "blez": lambda: ("bge", [X0, o[0], o[1]]),
        "bgez": lambda: ("bge", [o[0], X0, o[1]]),
        "bltz": lambda: ("blt", [o[0], X0, o[1]]),
        "bgtz": lambda: ("blt", [X0, o[0], o[1]]),
        "bgt": lambda: ("blt", [o[1], o[0], o[2]]),
        "ble": lambda: ("bge", [o[1], o[0], o[2]]),
        "bgtu": lambda: ("bltu", [o[1], o[0], o[2]]),
        "bleu": lambda: ("bgeu", [o[1], o[0], o[2]]),
        "j": lambda: ("jal", [X0, o[0]]),
        "jr": lambda: ("jalr", [X0, o[0], ZERO]),
        "ret": lambda: ("jalr", [X0, RA, ZERO]),
        "csrr": lambda: ("csrrs", [o[0], o[1], X0]),
        "csrw": lambda: ("csrrw", [X0, o[0], o[1]]),
        "csrs": lambda: ("csrrs", [X0, o[0], o[1]]),
        "csrc": lambda: ("csrrc", [X0, o[0], o[1]]),
        "csrwi": lambda: ("csrrwi", [X0, o[0], o[1]]),
        "csrsi": lambda: ("csrrsi", [X0, o[0], o[1]]),
        "csrci": lambda: ("csrrci", [X0, o[0], o[1]]),
        "rdtime": lambda: ("csrrs", [o[0], ("n", 0xC01), X0]),
        "rdcycle": lambda: ("csrrs", [o[0], ("n", 0xC00), X0]),
        "rdinstret": lambda: ("csrrs", [o[0], ("n", 0xC02), X0]),
        "scall": lambda: ("ecall", []),
        "sbreak": lambda: ("ebreak", []),
        "unimp": lambda: ("csrrw", [X0, ("n", 0xC00), X0]),
        "pause": lambda: ("fence", [("set", "w"), ("set", "")]),
    }
    # Capstone's F-extension CSR aliases (fflags=1, frm=2, fcsr=3) and the
    # RV32 counter-high reads, printed whatever the source said.
    for name, num in (("flags", 1), ("rm", 2), ("csr", 3)):
        table[f"fr{name}"] = lambda num=num: ("csrrs", [o[0], ("n", num), X0])
        table[f"fs{name}"] = lambda num=num: (
            ("csrrw", [o[0], ("n", num), o[1]]) if len(o) == 2 else ("csrrw", [X0, ("n", num), o[0]]))
        table[f"fs{name}i"] = lambda num=num: (
            ("csrrwi", [o[0], ("n", num), o[1]]) if len(o) == 2 else ("csrrwi", [X0, ("n", num), o[0]]))
    for name, num in (("cycleh", 0xC80), ("timeh", 0xC81), ("instreth", 0xC82)):
        table[f"rd{name}"] = lambda num=num: ("csrrs", [o[0], ("n", num), X0])
    if m in table:
        m, o = table[m]()
    if m == "jal" and len(o) == 1:
        o = [RA, o[0]]
    if m == "jalr":
        if len(o) == 1:
            o = [RA, o[0], ZERO]
        elif len(o) == 3 and o[1][0] == "n":  # jalr rd, imm(rs1) -> rd, rs1, imm
            o = [o[0], o[2], o[1]]
    if m == "fence" and not o:
        o = [("set", "iorw"), ("set", "iorw")]
    if m == "sfence.vma":
        o = (o + [X0, X0])[:2]
    if m in ("ld", "lw", "lh", "lb", "lbu", "lhu", "lwu", "sd", "sw", "sh", "sb") or \
            re.fullmatch(r"c\.(l|s)[wd](sp)?", m):
        pass  # rd, imm, rs1 on both sides already
    return (m, tuple(o))


def source_of(lines: list[str], image) -> tuple[dict[str, int], list[tuple[int, str, int, int]]]:
    """Label addresses, and (line number, text, address, size) per instruction line."""
    text = image.section(".text")
    first_addr: dict[int, int] = {}
    for e in image.lines:
        first_addr.setdefault(e.line, e.address)
    labels = {s.name: s.value for s in image.symbols}
    rows = []
    numbered = sorted(first_addr.items(), key=lambda kv: kv[1])
    ends = [a for _, a in numbered[1:]] + [text.end]
    for (line_no, addr), end in zip(numbered, ends):
        rows.append((line_no, lines[line_no - 1], addr, end - addr))
    return labels, rows


def local_labels(lines: list[str], image) -> list[tuple[int, int]]:
    """(source line, address) of every ``1:`` label (the next instruction's address)."""
    first_addr: dict[int, int] = {}
    for e in image.lines:
        first_addr.setdefault(e.line, e.address)
    out = []
    for i, text in enumerate(lines, start=1):
        if text.strip() == "1:":
            after = [a for ln, a in first_addr.items() if ln > i]
            out.append((i, min(after) if after else image.section(".text").end))
    return out


def round_trip(header: str, body: list[str]) -> tuple[set[str], set[str]]:
    """Assemble, decode each line, compare; returns (mnemonics checked,
    mnemonics capstone could not decode)."""
    lines = [header] + body
    image = assemble([Source("rt.S", "\n".join(lines) + "\n")], base=BASE,
                     layout={".text": BASE})
    data = image.section(".text").data
    labels, rows = source_of(lines, image)
    locals_ = local_labels(lines, image)
    checked: set[str] = set()
    unknown: set[str] = set()
    for src_line, src, addr, size in rows:
        mnemonic, _, ops = src.strip().partition(" ")
        if mnemonic.startswith("."):
            continue
        lab = dict(labels)
        before = [a for ln, a in locals_ if ln < src_line]
        after = [a for ln, a in locals_ if ln > src_line]
        if before:
            lab["1b"] = before[-1]
        if after:
            lab["1f"] = after[0]
        insns = disassemble(data[addr - BASE:addr - BASE + size], addr)
        assert len(insns) == 1 and insns[0].size == size, (src, insns)
        insn = insns[0]
        if insn.is_data:
            unknown.add(mnemonic)
            continue
        want = canonical(mnemonic, operands(ops, lab, addr))
        cs_ops = insn.op_str
        if insn.target is not None:  # the disassembler made it absolute: back to offset
            head, _, _ = cs_ops.rpartition(", ")
            cs_ops = f"{head}, {insn.target - addr}" if head else str(insn.target - addr)
        try:
            got = canonical(insn.mnemonic, operands(cs_ops, {}, addr, CAPSTONE_CSRS))
        except ValueError as exc:
            raise AssertionError(f"{src.strip()!r}: capstone says {insn.text()!r}: {exc}")
        assert got == want, f"{src.strip()!r} at {addr:#x}: capstone says " \
                            f"{insn.mnemonic} {insn.op_str} -> {got} != {want}"
        checked.add(mnemonic)
    return checked, unknown


@settings(max_examples=4, **SETTINGS)
@given(body=batch(SINGLE, 60, cover=True))
def test_every_instruction_round_trips_through_capstone(body):
    checked, unknown = round_trip(".option norvc", body)
    assert checked == set(SINGLE) - CAPSTONE_UNKNOWN
    assert unknown <= CAPSTONE_UNKNOWN


@settings(max_examples=4, **SETTINGS)
@given(body=batch(COMPRESSED, 60, cover=True))
def test_every_compressed_instruction_round_trips_through_capstone(body):
    checked, unknown = round_trip(".option rvc", body)
    assert checked == set(COMPRESSED) - CAPSTONE_UNKNOWN
    assert unknown <= CAPSTONE_UNKNOWN


def test_capstone_unknown_list_is_current():
    for mnemonic in CAPSTONE_UNKNOWN:
        image = assemble([Source("u.S", f"{mnemonic}\n")], base=BASE)
        insns = disassemble(image.section(".text").data, BASE)
        assert all(i.is_data for i in insns), (mnemonic, insns)


def test_canonical_form_expands_aliases():
    """Spot checks of the normaliser itself (spec: the listed pseudo-ops)."""
    def canon(text: str, pc: int = 0, labels=None):
        m, _, ops = text.partition(" ")
        return canonical(m, operands(ops, labels or {}, pc))

    assert canon("mv a0, a1") == canon("addi x10, x11, 0")
    assert canon("ret") == canon("jalr zero, 0(ra)") == canon("jalr x0, x1, 0")
    assert canon("ble a0, a1, L", 8, {"L": 0}) == canon("bge a1, a0, -8")
    assert canon("csrw mstatus, a0") == canon("csrrw zero, 0x300, a0")
    assert canon("fence") == canon("fence rwoi, wrio")
    assert canon("mv a0, a1") != canon("mv a1, a0")
