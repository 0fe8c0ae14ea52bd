"""Random assembly lines for the assembler-core differential tests.

Registers are drawn mostly from the ones that decide compression (x0, ra, sp,
the RVC registers x8..x15) and immediates mostly from the edges of the RVC and
base ranges (RISC-V unprivileged ISA, chapters 2 and 16), so that every
compression alias of GNU's opcode table is exercised on both sides of its
conditions.  A fixed seed makes every batch reproducible.
"""

from __future__ import annotations

import random

ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2",
       "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9",
       "s10", "s11", "t3", "t4", "t5", "t6"]

R3 = ("add sub sll slt sltu xor srl sra or and addw subw sllw srlw sraw mul mulh mulhsu "
      "mulhu div divu rem remu mulw divw divuw remw remuw").split()
I12 = "addi slti sltiu xori ori andi addiw add and or xor slt sltu addw".split()
SH6 = "slli srli srai sll srl sra".split()
SH5 = "slliw srliw sraiw sllw srlw sraw".split()
LOADS = "lb lh lw ld lbu lhu lwu".split()
STORES = "sb sh sw sd".split()
TWO = "mv move not neg negw sext.w seqz snez sltz sgtz zext.b".split()
AMO = "amoswap amoadd amoxor amoand amoor amomin amomax amominu amomaxu".split()
CSRS = ["mstatus", "mtvec", "sepc", "satp", "cycle", "time", "0x7c0", "pmpaddr3",
        "mhpmcounter4", "sstatus", "mhartid", "1952", "dscratch0", "pmpcfg0"]
EDGES = [0, 1, -1, 4, 8, 16, 31, 32, -32, -33, 64, 124, 128, 248, 252, 256, 496, 504, 508,
         512, -512, 1020, 1024, 2047, -2048]


class Gen:
    """A seeded generator of valid GNU-syntax instruction lines."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def reg(self) -> str:
        r = self.r
        if r.random() < 0.8:
            return ABI[r.choice([0, 1, 2, 8, 9, 10, 15, 16, 31, 5])]
        n = r.randrange(32)
        return r.choice([ABI[n], f"x{n}"])

    def imm(self, lo: int, hi: int) -> int:
        r = self.r
        v = r.choice(EDGES + [lo, hi]) if r.random() < 0.7 else r.randint(lo, hi)
        return max(lo, min(hi, v))

    def li_value(self) -> int:
        r = self.r
        return r.choice([r.randint(-2**63, 2**64 - 1), r.randint(-5000, 5000),
                         r.randint(-2**31, 2**31), 1 << r.randrange(64),
                         (1 << r.randrange(64)) - 1, -(1 << r.randrange(63)),
                         r.randrange(64) << r.randrange(50), 0x1000 * r.randint(-40, 40)])

    def line(self) -> str:
        r, reg, imm = self.r, self.reg, self.imm
        k = r.randrange(14)
        a = reg()
        same = a if r.random() < 0.6 else reg()
        if k == 0:
            return f"{r.choice(R3)} {reg()}, {reg()}, {reg()}"
        if k == 1:
            return f"{r.choice(I12)} {a}, {same}, {imm(-2048, 2047)}"
        if k == 2:
            return f"{r.choice(SH6)} {a}, {same}, {imm(0, 63)}"
        if k == 3:
            return f"{r.choice(SH5)} {a}, {same}, {imm(0, 31)}"
        if k == 4:
            return f"{r.choice(LOADS)} {a}, {imm(-2048, 2047)}({reg()})"
        if k == 5:
            return f"{r.choice(STORES)} {a}, {imm(-2048, 2047)}({reg()})"
        if k == 6:
            return f"{r.choice(TWO)} {a}, {reg()}"
        if k == 7:
            return f"li {a}, {self.li_value()}"
        if k == 8:
            return f"lui {a}, {r.choice([1, 31, 32, 0xfffe0, 0xfffff, 0, 0x80000, r.randrange(1 << 20)])}"
        if k == 9:
            return r.choice([
                f"jr {a}", f"jalr {a}", "ret", "nop", "ebreak", "unimp", f"jalr {a}, 0({reg()})",
                f"jalr {reg()}, {a}", f"jr 4({a})", f"jalr {reg()}, {a}, {imm(-2048, 2047)}",
                "ecall", "wfi", "mret", "sret", "fence", "fence.i", "fence.tso", "sfence.vma",
                f"sfence.vma {a}", f"sfence.vma {a}, {reg()}", f"jalr {a}, {reg()}"])
        if k == 10:
            c = r.choice(CSRS)
            return r.choice([
                f"csrr {a}, {c}", f"csrw {c}, {a}", f"csrs {c}, {a}", f"csrc {c}, {a}",
                f"csrwi {c}, {imm(0, 31)}", f"csrsi {c}, {imm(0, 31)}", f"csrci {c}, {imm(0, 31)}",
                f"csrrw {a}, {c}, {reg()}", f"csrrs {a}, {c}, {imm(0, 31)}",
                f"csrrci {a}, {c}, {imm(0, 31)}", f"csrw {c}, {imm(0, 31)}",
                f"csrrsi {a}, {c}, {imm(0, 31)}", f"csrrc {a}, {c}, {reg()}",
                f"rdtime {a}", f"rdcycle {a}", f"rdinstret {a}"])
        if k == 11:
            w, o = r.choice("wd"), r.choice(["", ".aq", ".rl", ".aqrl"])
            return r.choice([f"{r.choice(AMO)}.{w}{o} {a}, {reg()}, ({reg()})",
                             f"lr.{w}{o} {a}, ({reg()})", f"sc.{w}{o} {a}, {reg()}, ({reg()})"])
        if k == 12:
            sh = imm(-64, 1020)
            return r.choice([
                f"add {a}, {a}, {reg()}", f"add {a}, {reg()}, {a}", f"addi {a}, sp, {sh}",
                f"addi sp, sp, {sh}", f"add sp, sp, {sh}", f"add {a}, zero, {imm(-40, 40)}",
                f"addi {a}, zero, {imm(-40, 40)}", f"add {a}, {reg()}, zero",
                f"add {a}, zero, {reg()}", f"addi {a}, {reg()}, 0", f"lw {a}, {imm(-8, 260)}(sp)",
                f"ld {a}, {imm(-8, 520)}(sp)", f"sw {a}, {imm(-8, 260)}(sp)",
                f"sd {a}, {imm(-8, 520)}(sp)", f"sext.w {a}, {a}", f"addiw {a}, {a}, 0",
                f"andi {a}, {a}, {imm(-40, 40)}", f"and {a}, {a}, {imm(-40, 40)}",
                f"sub {a}, {a}, {reg()}", f"and {a}, {reg()}, {a}", f"subw {a}, {a}, {reg()}",
                f"addw {a}, {a}, {imm(-40, 40)}", f"or {a}, {reg()}, {a}", f"xor {a}, {a}, {reg()}"])
        return r.choice([
            f"fence {r.choice(['r', 'w', 'rw', 'iorw', 'io', 'o', 'ow'])}, "
            f"{r.choice(['r', 'w', 'rw', 'iorw', 'i', 'ir'])}",
            f"c.addi {a}, {imm(-32, 31)}", "c.nop", "c.ebreak", f"c.li a0, {imm(-32, 31)}",
            f"c.lui a1, {r.choice([1, 31, 0xfffe0, 0xfffff])}", f"c.mv a0, {ABI[r.randrange(1, 32)]}",
            f"c.add a2, {ABI[r.randrange(1, 32)]}", f"c.jr {ABI[r.randrange(1, 32)]}",
            f"c.jalr {ABI[r.randrange(1, 32)]}", f"c.lw a0, {4 * r.randrange(32)}(a1)",
            f"c.ld s0, {8 * r.randrange(32)}(a5)", f"c.sw a0, {4 * r.randrange(32)}(a1)",
            f"c.sd s0, {8 * r.randrange(32)}(a5)", f"c.lwsp ra, {4 * r.randrange(64)}(sp)",
            f"c.ldsp t0, {8 * r.randrange(64)}(sp)", f"c.swsp zero, {4 * r.randrange(64)}(sp)",
            f"c.sdsp t6, {8 * r.randrange(64)}(sp)", f"c.slli t1, {r.randrange(1, 64)}",
            f"c.srli a0, {r.randrange(1, 64)}", f"c.srai a0, {r.randrange(1, 64)}",
            f"c.andi s1, {imm(-32, 31)}", "c.sub a0, a1", "c.xor a0, a1", "c.or a0, a1",
            "c.and a0, a1", "c.subw a0, a1", "c.addw a0, a1",
            f"c.addi16sp sp, {16 * r.choice([-32, -1, 1, 31])}",
            f"c.addi4spn a0, sp, {4 * r.randrange(1, 256)}", f"c.addiw a0, {imm(-32, 31)}",
            "c.unimp"])

    def batch(self, n: int) -> list[str]:
        return [self.line() for _ in range(n)]

    def relax_program(self) -> str:
        """Labels, branches and jumps separated by gaps near every reach limit."""
        r = self.r
        n = r.randint(3, 12)
        lines = []
        for i in range(n):
            lines.append(f"L{i}:")
            t = f"L{r.randrange(n)}"
            rr = r.choice(["a0", "s1", "t0", "a5"])
            lines.append(r.choice([
                f"beqz {rr}, {t}", f"bnez {rr}, {t}", f"j {t}", f"beq {rr}, a1, {t}",
                f"bne {rr}, zero, {t}", f"jal {t}", f"blt a0, a1, {t}", f"bgtz a0, {t}",
                f"j {t}+2", f"bleu a0, a1, {t}"]))
            size = r.choice([r.randint(0, 300), r.randint(0, 5000), r.choice(
                [240, 248, 250, 252, 254, 256, 258, 2040, 2044, 2046, 2048, 4088, 4090, 4092,
                 4094, 4096])])
            if r.random() < 0.5:
                lines.append(f".space {size & ~1}")
            else:
                body = "nop" if r.random() < 0.5 else "addi a0, a0, 100"
                lines.append(f".rept {size // 4}\n{body}\n.endr")
            if r.random() < 0.2:
                lines.append(r.choice([".align 2", ".align 3", ".balign 8", ".p2align 4"]))
            if r.random() < 0.3:
                lines.append(r.choice([
                    ".word 5", ".byte 1, 2", ".half 3", ".dword 7", ".zero 2", ".ascii \"ab\"",
                    "c.j L0", f"c.beqz a0, L{r.randrange(n)}",
                    ".option push\n.option norvc\naddi a0, a0, 1\n.option pop",
                    ".data\n.word 1\n.text"]))
        return "\n".join(lines) + "\n"


def directive_program(seed: int) -> str:
    """A random mix of sections, labels, data, alignment, fills, strings,
    .equ/.set, .rept, instructions and label arithmetic."""
    r = random.Random(seed)
    out: list[str] = []  # .byte S before any .set S: GNU binds it to the first
    labels: list[str] = []
    sec = ".text"
    for i in range(r.randint(5, 40)):
        k = r.randrange(12)
        if k == 0:
            sec = r.choice([".text", ".data", ".section .rodata", ".bss"])
            out.append(sec)
        elif k == 1:
            labels.append(f"l{i}")
            out.append(f"l{i}:")
        elif k == 2 and sec != ".bss":
            size = r.choice([".byte", ".half", ".word", ".dword", ".2byte", ".4byte", ".8byte"])
            vals = [str(r.randint(-300, 300)) for _ in range(r.randint(1, 3))]
            if labels and size in (".word", ".dword", ".4byte", ".8byte") and r.random() < 0.5:
                a = r.choice(labels)
                vals += [a, f"{a} + {r.randint(0, 9)}"]
            out.append(f"{size} " + ", ".join(vals))
        elif k == 3:
            out.append(r.choice([".align 2", ".align 3", ".p2align 1", ".balign 8", ".balign 4, 0x5a",
                                 ".p2align 3,,2", ".balign 16,,5", ".align 4", ".balign 2"]))
        elif k == 4:
            out.append(r.choice([".zero 3", ".skip 9", ".space 0"] if sec == ".bss" else
                                [".zero 3", ".space 5, 7", ".skip 2", ".fill 2, 4, 0x11223344",
                                 ".space 0"]))
        elif k == 5 and sec != ".bss":
            out.append(r.choice(['.ascii "ab"', '.asciz "x\\ty"', '.string "q"', '.ascii "a", "bc"']))
        elif k == 6 and sec == ".text":
            out.append(r.choice(["nop", "addi a0, a0, 3", "li t0, 0x12345", "ret", "c.nop",
                                 "mv a1, a2", "lui a0, 5"]))
        elif k == 7:
            out.append(f".equ E{i}, {r.randint(-50, 50)} * 3 + {r.randint(0, 9)}")
            out.append(f".set S, {r.randint(0, 9)}")
        elif k == 8 and sec != ".bss":
            out.append(f".rept {r.randint(0, 3)}\n.byte S\n.endr")
        elif k == 9 and sec == ".text" and labels:
            out.append(r.choice([f"j {r.choice(labels)}", f"beqz a0, {r.choice(labels)}"]))
        elif k == 10 and sec != ".bss" and len(labels) >= 2:
            a, b = r.sample(labels, 2)
            out.append(f".word {a} - {b}")
        elif k == 11 and sec == ".text":
            out.append(r.choice([".option push\n.option norvc\nnop\n.option pop",
                                 "la a0, l0" if "l0" in labels else "nop",
                                 "call l1" if "l1" in labels else "nop"]))
    return "\n".join(out) + "\n"


def link_program(seed: int) -> list[str]:
    """2-4 files calling, jumping and branching into each other's globals,
    loading each other's data from several sections with alignments."""
    r = random.Random(seed)
    n = r.randint(2, 4)
    files = []
    for f in range(n):
        lines = [f".globl g{f}", f".globl d{f}", ".text", f"g{f}:"]
        for _ in range(r.randint(1, 12)):
            o = r.randrange(n)
            lines.append(r.choice([
                f"call g{o}", f"j g{o}", f"beqz a0, g{o}", f"la a0, d{o}", f"lw a1, d{o}", "nop",
                "addi a0, a0, 1", f"tail g{o}", f"bnez s0, g{o}", ".align 3", f"jal g{o}"]))
        lines.append(r.choice([".data", ".section .rodata", '.section .sdata, "aw"']))
        lines.append(r.choice(["", ".align 3", ".balign 16", ".p2align 2"]))
        lines.append(f"d{f}: .dword g{r.randrange(n)}, {r.randint(0, 100)}")
        lines.append(r.choice(["", ".bss\n.align 4\n.zero 32", ".byte 1, 2, 3"]))
        files.append("\n".join(lines) + "\n")
    return files
