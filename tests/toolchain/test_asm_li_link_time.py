"""``li rd, end - start`` with a label defined later (issue 3, item 5).

GNU as 2.40 (and llvm-mc 14) reject ``li`` of anything not constant when
the line is read.  Septum accepts a value that is constant once the image is
laid out and does not move with it (labels cancel out), and emits exactly
what ``li rd, VALUE`` would: the peer check assembles, with GNU, the same
program with each such ``li`` replaced by the literal value Septum found,
and requires the same bytes *and* the same label differences in GNU's
layout (so the value is self-consistent even when the ``li`` lies between
the labels and its own size counts)."""

from __future__ import annotations

import re

import pytest

from septum.toolchain import AsmError, Source, asm, assemble

from .asm_ref import gnu_image

BASE = 0x80000000
LI = re.compile(r"li\s+(\w+),\s*\{([^}]*)\}")


def check_against_gnu(template: str) -> None:
    """``{expr}`` marks each link-time li operand in ``template``."""
    ours = LI.sub(lambda m: f"li {m.group(1)}, {m.group(2)}", template)
    img = assemble([Source("t.S", ours)], base=BASE, layout={".text": BASE})
    values = {s.name: s.value for s in img.symbols}

    def value(expr: str) -> int:
        return eval(expr, {}, dict(values))  # label names and + - only

    exprs = [m.group(2) for m in LI.finditer(template)]
    gnu_src = LI.sub(lambda m: f"li {m.group(1)}, {value(m.group(2))}", template)
    gnu, gsyms = gnu_image([gnu_src], BASE)
    assert asm(ours, BASE) == gnu
    for e in exprs:
        assert eval(e, {}, dict(gsyms)) == value(e), e


CASES = {
    "small forward": "start:\n li a1, {end - start}\n nop\n .word 7\nend:\n",
    "li inside, c.li limit": "start:\n li a0, {end - start}\n .space 29\nend:\n",
    "li inside, just past c.li": "start:\n li a0, {end - start}\n .space 30\nend:\n",
    "li before, addi": "li a2, {end - mid}\nmid:\n .space 1500\nend:\n",
    "lui+addiw with branches between": (
        "start:\n li a3, {end - start}\n beqz a0, end\n .space 5000\n bnez a1, start\n"
        " li a4, {end - mid}\nmid:\n j end\n .space 70000\nend:\n ret\n"),
    "negative": "start:\n li a5, {start - end}\n .space 3000\nend:\n",
    "no rvc": ".option norvc\nstart:\n li a1, {end - start}\n .space 8\nend:\n",
    "other section": (
        "li s0, {dend - dstart}\n nop\n .data\ndstart:\n .space 40\n .word 1\ndend:\n"),
    "scaled": "start:\n li t0, {3 * (end - start) + 4096}\n .space 100\nend:\n",
}


@pytest.mark.parametrize("name", CASES)
def test_link_time_li_equals_gnu_li_of_the_value(name: str) -> None:
    check_against_gnu(CASES[name])


def test_dot_in_li_is_the_li_itself() -> None:
    a = asm("li a0, . - x\n.space 40\nx:\n", BASE)
    b = asm("here: li a0, here - x\n.space 40\nx:\n", BASE)
    assert a == b


def test_gnu_still_rejects_it() -> None:
    # The reason this is a documented extension, not a GNU reproduction.
    with pytest.raises(AssertionError):
        gnu_image(["start:\n li a1, end - start\n nop\nend:\n"], BASE)


@pytest.mark.parametrize("src,words", [
    ("li a0, later\nlater: nop\n", "depends on where the image is placed"),
    ("li a0, 2 * later\nlater: nop\n", "depends on where the image is placed"),
    ("li a0, end * start\nstart: nop\nend:\n", "depends on where the image is placed"),
    ("li a0, %hi(x)\nx: nop\n", "not a relocation"),
    ("li a0, nowhere - 4\n", "undefined symbol 'nowhere'"),
])
def test_unresolvable_li_is_a_precise_error(src: str, words: str) -> None:
    with pytest.raises(AsmError) as e:
        asm(src, BASE)
    assert words in str(e.value) and ":1:" in str(e.value)
