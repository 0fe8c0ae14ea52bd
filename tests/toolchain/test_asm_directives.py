"""Data directives, strings, sections, symbols and expressions.

Expressions are checked against GNU ``as`` on random trees (its precedence,
-1 for a true comparison, truncating division, arithmetic right shift), and
every data directive against GNU's bytes.
"""

from __future__ import annotations

import random

import pytest

from septum.toolchain import AsmError, Source, asm, assemble
from septum.toolchain.image import SectionFlags

from .asm_gen import directive_program
from .asm_ref import GnuFailed, gnu_bytes, gnu_image

BASE = 0x80000000

_OPS = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "==", "!=", "<", ">", "<=", ">=",
        "&&", "||", "<>"]


def _rand_expr(r: random.Random, depth: int) -> str:
    if depth == 0 or r.random() < 0.25:
        return r.choice([str(r.randint(0, 300)), hex(r.randint(0, 1 << 40)), "0b1011", "017",
                         "'a'", "C1", "C2", "(-5)", "'\\n'"])
    k = r.random()
    if k < 0.15:
        return r.choice(["-", "~", "!"]) + "(" + _rand_expr(r, depth - 1) + ")"
    if k < 0.3:
        return "(" + _rand_expr(r, depth - 1) + ")"
    op = r.choice(_OPS)
    right = _rand_expr(r, depth - 1)
    if op in ("/", "%"):
        right = f"(({right}) | 1)"  # never zero
    if op in ("<<", ">>"):
        right = f"(({right}) & 31)"
    return f"{_rand_expr(r, depth - 1)} {op} {right}"


@pytest.mark.parametrize("seed", range(3))
def test_random_expressions_equal_gnu(seed):
    r = random.Random(seed)
    exprs = [_rand_expr(r, 4) for _ in range(150)]
    src = ".equ C1, 1234\n.set C2, -77\n.data\n" + "".join(f".dword {e}\n" for e in exprs)
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_data_directives_equal_gnu():
    src = r"""
    .data
a:  .byte 1, 2, -1, 255, 'x', 0x1ff
    .half 0x1234, -2
    .short 7
    .2byte 9
    .word 0xdeadbeef, -1, a
    .long 3
    .4byte 4
    .int 5
    .dword 0x1122334455667788, a + 4, end - a
    .quad -1
    .8byte 8
    .ascii "ab\n\t\\\"", "c"
    .asciz "x\101\x42y"
    .string "s"
    .zero 3
    .space 5, 0xaa
    .skip 2, 7
    .fill 3, 2, 0x1234
    .balign 8
    .p2align 2, 0xcc
    .align 4
    .byte 2
end:
    .section .rodata
r:  .word r
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_section_order_flags_and_nobits():
    src = """
    .section .data.x, "aw"
    .word 1
    .bss
    .zero 16
    .section .rodata.s, "a"
    .byte 3
    .text
_start: nop
    .section .text.extra, "ax", @progbits
    ret
    .section .mynobits, "aw", @nobits
    .zero 8
    .section .note.x
    .byte 9
"""
    img = assemble([Source("s.S", src)], base=0x1000)
    names = [s.name for s in img.sections]
    assert names == [".text", ".text.extra", ".rodata.s", ".data.x", ".bss", ".mynobits",
                     ".note.x"]
    bss = img.section(".bss")
    assert bss.nobits and bss.size == 16 and bss.data == b""
    assert img.section(".text").flags == SectionFlags.ALLOC | SectionFlags.EXECINSTR
    assert img.section(".data.x").flags == SectionFlags.ALLOC | SectionFlags.WRITE
    assert not img.section(".note.x").flags & SectionFlags.ALLOC  # no flags: not loaded
    addrs = [s.address for s in img.loadable()]
    assert addrs == sorted(addrs) and addrs[0] == 0x1000
    assert img.entry == 0x1000


def test_symbols_types_sizes_and_equ():
    src = """
    .globl f
    .type f, @function
f:  addi a0, a0, 1
    ret
    .size f, . - f
    .equ K, 42
    K2 = K * 2
    .set here, f + 2
    .data
    .type obj, %object
obj: .word 1, 2
    .size obj, 8
1:  .word 1b
"""
    img = assemble([Source("y.S", src)], base=0x2000)
    f = img.symbol("f")
    assert (f.value, f.size, f.kind, f.binding, f.section) == (0x2000, 4, "func", "global", ".text")
    assert img.symbol("K").value == 42 and img.symbol("K").section is None
    assert img.symbol("K2").value == 84
    here = img.symbol("here")
    assert here.value == 0x2002 and here.section == ".text"
    obj = img.symbol("obj")
    assert (obj.kind, obj.size, obj.binding) == ("object", 8, "local")
    assert not any(s.name.startswith("1") for s in img.symbols)  # numeric labels hidden


def test_numeric_local_labels_equal_gnu():
    src = """
1:  nop
    j 1b
    j 1f
1:  beqz a0, 1b
    bnez a0, 2f
    nop
2:  j 1b
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_option_push_pop_line_separators_and_comments_equal_gnu():
    src = ("nop; .option push; .option norvc; nop; .option pop; nop # comment; nop\n"
           "/* a C comment\n over lines */ addi a0, a0, 1 /* another */\n"
           ".byte '#', ';'  # characters that look like comments\n"
           ".ascii \"a;b#c\"\n")
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_label_differences_known_early_are_constants():
    # An extension over GNU (which rejects these): differences of labels with
    # no relaxable branch or alignment between them are constants at once.
    # The expected bytes are GNU's for the same program with the numbers
    # written out (mid - start = 8, padding to 16, 8 bytes from mid, 30 in all).
    ours = """
start: nop
    addi a0, a0, 1
    .word 5
mid:
    li a0, mid - start
    addi a1, a1, mid - start
    .space 16 - (. - start)
    .if (. - start) != 16
    .error "not reached"
    .endif
    li a2, . - mid
    .rept (mid - start) / 2
    nop
    .endr
    .word end - start
end:
"""
    gnu = """
start: nop
    addi a0, a0, 1
    .word 5
mid:
    li a0, 8
    addi a1, a1, 8
    .space 4
    li a2, 8
    nop; nop; nop; nop
    .word 30
"""
    assert asm(ours, BASE) == gnu_bytes(gnu, BASE)
    with pytest.raises(AsmError, match="constant"):
        asm("a: j b\n.space 10 - (. - a)\nb: nop\n")  # a relaxable jump in between


def test_org_equals_gnu():
    src = ("nop\n.org 0x10\nnop\n.org 0x20, 0xff\nj 1f\n.org 0x40\n1: nop\n"
           ".data\n.byte 1\n.org 8, 0x33\n.byte 2\n")
    assert asm(src, BASE) == gnu_bytes(src, BASE)
    with pytest.raises(AsmError) as e:
        asm(".space 8\n.org 4\n")
    assert e.value.line == 2 and "behind" in e.value.message


def test_big_nobits_and_fills_are_sized_not_stored():
    img = assemble([Source("b.S", "nop\n.space 8000\nx: nop\n.bss\n.space 100000000\n"
                                  "y: .zero 16\n.byte 0\nz:\n")], base=0x1000)
    text, bss = img.section(".text"), img.section(".bss")
    assert text.size == len(text.data) == 8004 and text.data[2:8002] == bytes(8000)
    assert bss.nobits and bss.data == b"" and bss.size == 100000017
    assert img.symbol("z").value == bss.address + 100000017
    assert [e.line for e in img.lines] == [1, 2, 3, 5, 6, 7]


@pytest.mark.parametrize("chunk", range(2))
def test_random_directive_programs_equal_gnu(chunk):
    checked = 0
    for seed in range(chunk * 20, chunk * 20 + 20):
        src = directive_program(seed)
        try:
            gnu = gnu_bytes(src, BASE)
        except GnuFailed:
            continue  # e.g. a branch to a misaligned label: GNU rejects it too
        assert asm(src, BASE) == gnu, f"seed {seed}:\n{src}"
        checked += 1
    assert checked >= 12


def test_small_code_alignment_is_no_padding_like_gnu():
    # GNU: an alignment no larger than an instruction's (2 with RVC, 4
    # without) pads nothing in code, it only raises the section alignment.
    src = "nop\n.byte 3\n.p2align 1\naddi a0, a0, 3\n.option norvc\n.balign 4\nnop\n"
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_set_redefinitions_bind_uses_like_gnu():
    # A use before any definition takes the first; a use between two .set
    # takes the one in force (also for label-based values).
    src = """
    .data
    .byte S, S
    .set S, 1
    .byte S
    .set S, 4
    .byte S
    .word T
    .set T, l1
    .word T
    .set T, T + 8
    .word T
l1: .word 1
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)
