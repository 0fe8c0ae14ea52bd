"""Macros, repetition, conditionals and includes, against GNU ``as``."""

from __future__ import annotations

import pytest

from septum.toolchain import AsmError, Source, asm, assemble

from .asm_ref import gnu_bytes

BASE = 0x80000000


def test_macros_equal_gnu():
    src = r"""
    .macro push reg, off=0
    sd \reg, \off(sp)
    .endm
    .macro pair a b
    add \a, \a, \b
    .endm
    .macro lbl name
\name\()_x: addi a0, a0, 1
    .endm
    .macro uniq
    j 1f
    addi a0, a0, \@ + 1
1:
    .endm
    .macro sum first, rest:vararg
    .word \first
    .ifnb \rest
    sum \rest
    .endif
    .endm
    .macro req x:req, y=7
    .byte \x, \y
    .endm
    push s0
    push reg=ra, off=16
    push s1 8
    pair a0 a1
    pair t0, t1
    lbl foo
    j foo_x
    uniq
    uniq
    sum 1, 2, 3, 4
    req 5
    req y=1, x=2
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_rept_irp_irpc_equal_gnu():
    src = r"""
    .rept 3
    addi a0, a0, 1
    .endr
    .irp r, a0, a1, s0
    mv \r, zero
    .endr
    .irpc c, 0123
    .byte \c
    .endr
    .set i, 0
    .rept 4
    .set i, i + 1
    .word i
    .rept 2
    .byte i
    .endr
    .endr
    .rept 0
    ebreak
    .endr
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_conditionals_equal_gnu():
    src = """
    .equ A, 3
    .if A == 3
    .byte 1
    .if A > 5
    .byte 99
    .elseif A > 2
    .byte 2
    .else
    .byte 98
    .endif
    .else
    .byte 97
    .endif
    .ifdef A
    .byte 3
    .endif
    .ifndef NOPE
    .byte 4
    .else
    .byte 96
    .endif
    .ifdef NOPE
    .if 1/0
    .endif
    .byte 95
    .endif
    .ifeq A - 3
    .byte 5
    .endif
    .ifne A
    .byte 6
    .endif
    .ifc abc, abc
    .byte 7
    .endif
    .ifnc a, b
    .byte 8
    .endif
    .ifb
    .byte 9
    .endif
    .ifgt A
    .byte 10
    .endif
    .iflt A
    .byte 94
    .endif
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_include_relative_then_include_dirs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "inc").mkdir()
    (tmp_path / "sub" / "a.inc").write_text('.equ FROM_A, 5\n.include "b.inc"\n')
    (tmp_path / "sub" / "b.inc").write_text("li a0, FROM_A\n")
    (tmp_path / "inc" / "c.inc").write_text("li a1, 7\nbadinstr\n")
    main = tmp_path / "sub" / "main.S"
    main.write_text('.include "a.inc"\n.include "c.inc"\n')
    with pytest.raises(AsmError) as e:
        assemble([main], include_dirs=[tmp_path / "inc"])
    # the error names the included file and its line
    assert e.value.file.endswith("c.inc") and e.value.line == 2
    (tmp_path / "inc" / "c.inc").write_text("li a1, 7\n")
    img = assemble([str(main)], include_dirs=[str(tmp_path / "inc")])
    assert img.to_binary() == asm("li a0, 5\nli a1, 7\n")
    assert {e.file for e in img.lines} == {str(tmp_path / "sub" / "b.inc"),
                                            str(tmp_path / "inc" / "c.inc")}


def test_line_table_points_at_invoking_line_in_macros_and_rept():
    src = """.macro two
    nop
    addi a0, a0, 1
.endm
    two
    .rept 2
    ret
    .endr
    .word 1, 2
"""
    img = assemble([Source("m.S", src)])
    assert [(e.address, e.line) for e in img.lines] == [
        (0, 5), (2, 5), (4, 6), (6, 6), (8, 9)]
    assert all(e.file == "m.S" for e in img.lines)


def test_defines_act_like_defsym():
    img = assemble([Source("d.S", ".if FLAG\nli a0, VALUE\n.endif\n")],
                   defines={"FLAG": 1, "VALUE": 0x1234})
    assert img.to_binary() == asm("li a0, 0x1234\n")
    assert img.symbol("VALUE").value == 0x1234


def test_recursion_exitm_quoted_args_and_concatenation_equal_gnu():
    src = r"""
.macro rec n
.if \n
.byte \n
rec "(\n-1)"
.endif
.endm
rec 3
.macro early x
.byte 1
.if \x
.exitm
.endif
.byte 2
.endm
early 0
early 1
.macro outer a
.irp r, \a, 7
.byte \r
.endr
.endm
outer 5
.irp x
.byte 9
.endr
.macro cat p
\p\()_lbl: .byte 4
.endm
cat foo
.word foo_lbl
.macro say text
.asciz "\text"
.endm
say "two words"
"""
    assert asm(src, 0) == gnu_bytes(src, 0)
