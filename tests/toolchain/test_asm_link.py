"""Several files in one build: section concatenation, global symbols,
layout, entry point and the line table — compared with GNU as + ld."""

from __future__ import annotations

import pytest

from septum.toolchain import AsmError, Source, assemble

from .asm_gen import link_program
from .asm_ref import gnu_image

BASE = 0x80000000

A = """
    .globl _start
    .type _start, @function
_start:
    la sp, stack_top
    call helper
    lw a0, shared
    j _start
local_a: .word 1
    .data
    .byte 1
    .section .rodata
msg: .asciz "from a"
"""
B = """
    .globl helper, shared
helper:
    .align 3
    tail other
    .data
    .align 3
shared: .dword 0x55
local_a: .dword helper
    .bss
    .align 4
stack: .zero 256
    .globl stack_top
stack_top:
"""
C = """
    .section .text
    .globl other
other:
    beqz a0, helper
    ret
    .section .rodata
    .word shared
"""


def test_three_files_equal_gnu_bytes_and_symbols():
    img = assemble([Source("a.S", A), Source("b.S", B), Source("c.S", C)], base=BASE)
    gnu, syms = gnu_image([A, B, C], BASE)
    assert img.to_binary() == gnu
    for name in ("_start", "helper", "shared", "other", "stack_top", "stack", "msg"):
        assert img.symbol(name).value == syms[name], name
    assert img.entry == syms["_start"]
    # each file keeps its own local symbol of the same name
    assert sorted(s.value for s in img.symbols if s.name == "local_a") == sorted(
        [img.symbol("_start").value + 26, img.symbol("shared").value + 8])
    assert img.symbol("_start").binding == "global"


def test_layout_pins_sections_and_others_follow():
    img = assemble([Source("a.S", A), Source("b.S", B), Source("c.S", C)], base=0x1000,
                   layout={".text": 0x80000000, ".data": 0x80100000})
    text, rodata, data, bss = (img.section(n) for n in (".text", ".rodata", ".data", ".bss"))
    assert text.address == 0x80000000
    assert rodata.address == text.end
    assert data.address == 0x80100000
    assert bss.address == (data.end + 15) & ~15
    assert img.symbol("stack_top").value == bss.end


def test_overlapping_pinned_sections_are_an_error():
    with pytest.raises(AsmError, match="overlaps"):
        assemble([Source("a.S", ".space 64\n.data\n.word 1\n")], layout={".data": 0x10})


def test_entry_without_start_is_text_start():
    img = assemble([Source("a.S", ".data\n.word 1\n.text\nnop\n")], base=0x4000)
    assert img.entry == img.section(".text").address == 0x4000


def test_line_table_sorted_and_per_file():
    img = assemble([Source("a.S", A), Source("b.S", B), Source("c.S", C)], base=BASE)
    addrs = [e.address for e in img.lines]
    assert addrs == sorted(addrs)
    first = img.line_for(img.symbol("_start").value)
    assert (first.file, first.line) == ("a.S", 5)
    other = img.line_for(img.symbol("other").value)
    assert (other.file, other.line) == ("c.S", 5)
    # `la` expands to two instructions: both map to the la line
    assert img.line_for(BASE + 4).line == 5


def test_duplicate_global_across_files():
    with pytest.raises(AsmError) as e:
        assemble([Source("x.S", ".globl f\nf: ret\n"), Source("y.S", "nop\n.globl f\nf: ret\n")])
    assert (e.value.file, e.value.line) == ("y.S", 3)
    assert "duplicate" in e.value.message and "f" in e.value.message


def test_undefined_symbol_names_the_referencing_line():
    with pytest.raises(AsmError) as e:
        assemble([Source("x.S", "nop\n"), Source("y.S", "nop\nnop\ncall missing\n")])
    assert (e.value.file, e.value.line) == ("y.S", 3)
    assert "missing" in e.value.message


def test_local_symbol_of_another_file_is_not_visible():
    with pytest.raises(AsmError, match="undefined symbol 'hidden'"):
        assemble([Source("x.S", "hidden: ret\n"), Source("y.S", "j hidden\n")])


def test_sources_as_paths(tmp_path):
    p = tmp_path / "p.S"
    p.write_text("_start: nop\n")
    img = assemble([p, str(p).replace("p.S", "p.S")][:1])
    assert img.lines[0].file == str(p)
    with pytest.raises(AsmError) as e:
        assemble([tmp_path / "nope.S"])
    assert "nope.S" in str(e.value)


def test_weak_undefined_is_zero_and_comm_goes_to_bss():
    img = assemble([Source("w.S", ".weak maybe\n.comm buf, 64, 8\n.lcomm lbuf, 10\n"
                                  "la a1, buf\n.data\nd: .dword maybe\n")], base=0x1000)
    assert img.section(".data").data == bytes(8)
    buf = img.symbol("buf")
    bss = img.section(".bss")
    assert buf.section == ".bss" and buf.value % 8 == 0 and buf.size == 64
    assert buf.binding == "global" and img.symbol("lbuf").binding == "local"
    assert bss.nobits and bss.end >= img.symbol("lbuf").value + 10


@pytest.mark.parametrize("seed", range(12))
def test_random_multi_file_programs_equal_gnu(seed):
    files = link_program(seed)
    gnu, syms = gnu_image(files, BASE)
    img = assemble([Source(f"f{i}.S", t) for i, t in enumerate(files)], base=BASE)
    assert img.to_binary() == gnu
    for s in img.symbols:
        if s.binding == "global":
            assert s.value == syms[s.name], s.name
