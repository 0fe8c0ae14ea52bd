"""Branch relaxation, compressed jumps and code alignment against GNU ``as``.

GNU chooses c.beqz/c.bnez/c.j, the full branch, or an inverted branch over a
``jal`` from the distance to a target in the same section of the same file,
with its own estimate-then-iterate frag algorithm; random programs with gaps
at every reach limit must come out byte-identical.
"""

from __future__ import annotations

import pytest

from septum.toolchain import AsmError, Source, asm, assemble

from .asm_gen import Gen
from .asm_ref import gnu_bytes, gnu_image

BASE = 0x80000000


@pytest.mark.parametrize("chunk", range(4))
def test_random_relaxation_programs_equal_gnu(chunk):
    for seed in range(chunk * 12, chunk * 12 + 12):
        src = Gen(1000 + seed).relax_program()
        assert asm(src, BASE) == gnu_bytes(src, BASE), f"seed {1000 + seed}:\n{src}"


@pytest.mark.parametrize("space", [4510, 4516, 4518, 4524, 7744])
@pytest.mark.parametrize("filler", [".half 3", ".ascii \"ab\"", "c.nop"])
def test_frag_chunk_breaks_equal_gnu(space, filler):
    # A forward branch whose target sits exactly at the reach limit: GNU's
    # answer depends on where its frag obstack ran out of room (see
    # assembler._gnu_relax), inside the 4 KiB of code between them.
    src = (f".space {space}\nbnez s1, 1f\n{filler}\n.rept 1022\naddi a0, a0, 100\n.endr\n"
           "1: nop\n")
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_reach_boundaries_equal_gnu():
    src = """
    beqz a0, 1f
    .space 250
1:  beqz a0, 2f
    .space 252
2:  bnez a1, 3f
    .space 256
3:  j 4f
    .space 2044
4:  j 5f
    .space 2046
5:  beq a0, a1, 6f
    .space 4090
6:  beq a0, a1, 7f
    .space 4096
7:  beqz a0, 8f
    .space 4096
8:  bgez a0, 1b
    jal 8b
    jal a0, 1b
    j .+10
    beqz a0, .-4
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_target_in_other_section_or_file_takes_gnu_worst_case():
    a = """
    .globl _start
_start:
    beqz a0, ext
    j ext
    beqz a0, data_label
    bnez s0, near
near: ret
    .data
data_label: .word 1
"""
    b = """
    .globl ext
ext: ret
"""
    img = assemble([Source("a.S", a), Source("b.S", b)], base=BASE)
    gnu, _ = gnu_image([a, b], BASE)
    assert img.to_binary() == gnu
    # beqz over j: 8 bytes; j to another file: 4-byte jal; local bnez: c.bnez
    assert img.symbol("near").value - BASE == 8 + 4 + 8 + 2


def test_code_alignment_padding_equals_gnu():
    src = """
    c.nop
    .align 3
    nop
    .p2align 4
    c.nop
    .balign 8
    .byte 1
    .align 3
    .word 5
    .align 2, 0x55
    .balign 16, 0, 3
    .balign 16
    nop
    .option norvc
    .align 4
    nop
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_explicit_compressed_jumps_to_labels_relax_like_gnu():
    src = "c.j far\nc.beqz a0, near\nc.bnez s1, far\nnear: nop\n.space 3000\nfar: nop\n"
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_explicit_compressed_branch_constant_out_of_range_is_an_error():
    with pytest.raises(AsmError) as e:
        asm("nop\nc.beqz a0, 300\n")
    assert e.value.line == 2 and "out of range" in e.value.message


def test_jump_out_of_range_is_an_error():
    with pytest.raises(AsmError) as e:
        assemble([Source("j.S", "nop\njal far\n.space 0x100000\nfar: nop\n")])
    assert (e.value.file, e.value.line) == ("j.S", 2)
    assert "out of range" in e.value.message


def test_misaligned_constant_branch_offset_is_an_error():
    with pytest.raises(AsmError) as e:
        asm("nop\nbeq a0, a1, 3\n")
    assert e.value.line == 2 and "misaligned" in e.value.message
