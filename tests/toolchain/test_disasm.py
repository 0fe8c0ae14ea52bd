"""The disassembler: instruction boundaries, encodings and branch targets as
GNU objdump sees them, symbol annotation, undecodable bytes, the block cache.

The bytes under test come from GNU as (not from Septum's assembler), so these
tests check the disassembler on its own.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from septum.toolchain.disasm import PC_RELATIVE, Disassembler, Symbolizer, disassemble, format_listing
from septum.toolchain.elf import read_line_table, read_symbols
from septum.tests.toolchain import gnu

BASE = 0x8000_0000

SOURCE = """\
.option rvc
.globl _start
_start:
    addi a0, a0, 1
    c.addi a1, -3
    lui t0, 0x12345
    auipc t1, 0xfffff
    jal ra, far
    beq a0, a1, _start
    bne a2, zero, mid
    blt a3, a4, _start
    bgeu t0, t1, far
    c.j mid
    c.beqz a0, _start
    c.bnez s1, mid
    csrrw a0, mstatus, a1
    csrrsi zero, sie, 5
    csrrc t0, 0x7c0, t1
    lr.d.aq a0, (a1)
    sc.w.rl a2, a3, (a4)
    amoswap.d.aqrl a0, a1, (a2)
    amomaxu.w a0, a1, (a2)
    mul a0, a1, a2
    divuw a3, a4, a5
    remw t0, t1, t2
mid:
    fence rw, w
    fence.i
    sfence.vma a0, a1
    ecall
    ebreak
    c.ebreak
    wfi
    mret
    sret
    ld s0, -8(sp)
    sd ra, 2040(sp)
    c.ldsp a0, 8(sp)
    c.sdsp a1, 16(sp)
    c.lw a2, 4(a3)
    c.addi16sp sp, -64
    c.addi4spn a0, sp, 16
    slliw a0, a1, 31
    sraiw a0, a1, 1
    srai a0, a1, 63
    c.srai a0, 3
    c.andi s1, -1
    c.sub a0, a1
    c.addw a2, a3
    jalr t0, 12(t1)
    c.jr ra
    c.jalr a5
far:
    c.nop
    nop
"""


def gnu_text(tmp_path, source: str = SOURCE):
    ref = gnu.build(source, base=BASE, workdir=tmp_path)
    return ref


def objdump_rows(elf) -> list[tuple[int, str, int | None, str | None]]:
    """(address, raw hex, branch target, target annotation) from objdump -d."""
    rows = []
    for line in gnu.objdump_insns(elf, "-j", ".text"):
        m = re.match(r"([0-9a-f]+): ([0-9a-f]+) (\S+)\s*(.*)", line)
        assert m, line
        addr, raw, mnem, ops = m.groups()
        target = ann = None
        t = re.search(r"([0-9a-f]+) <([^>]+)>$", ops)
        if t:
            target, ann = int(t.group(1), 16), t.group(2)
        rows.append((int(addr, 16), raw, target, ann))
    return rows


def test_boundaries_encodings_and_targets_match_objdump(tmp_path):
    ref = gnu_text(tmp_path)
    expected = objdump_rows(ref.elf)
    insns = disassemble(ref.text, BASE, read_symbols(ref.elf))
    assert [(i.address, f"{i.raw:0{i.size * 2}x}") for i in insns] == \
        [(a, raw) for a, raw, _, _ in expected]
    assert not any(i.is_data for i in insns)
    for insn, (addr, _, target, ann) in zip(insns, expected):
        # objdump also annotates jalr/loads from a preceding auipc; only
        # PC-relative branches and jumps carry their own target.
        if insn.mnemonic in PC_RELATIVE:
            assert insn.target == target, (hex(addr), insn)
            assert insn.target_symbol == ann, (hex(addr), insn)
    # Every PC-relative branch and jump of the source was recognised.
    assert sum(1 for i in insns if i.target is not None) == 8


def test_symbol_of_each_instruction(tmp_path):
    ref = gnu_text(tmp_path)
    syms = read_symbols(ref.elf)
    insns = disassemble(ref.text, BASE, syms)
    mid = next(s.value for s in syms if s.name == "mid")
    assert insns[0].symbol == "_start"
    assert insns[1].symbol == f"_start+{insns[0].size:#x}"
    at_mid = next(i for i in insns if i.address == mid)
    assert at_mid.symbol == "mid"
    assert at_mid.mnemonic == "fence"


def test_listing_has_headers_targets_and_lines(tmp_path):
    ref = gnu.build(".option norvc\n_start:\n nop\nloop:\n j loop\n", base=BASE,
                    workdir=tmp_path, extra_as=("-g",))
    syms = read_symbols(ref.elf)
    lines = read_line_table(ref.elf)
    text = format_listing(disassemble(ref.text, BASE, syms, lines), show_lines=True,
                          symbols=syms)
    out = text.splitlines()
    assert f"{BASE:016x} <_start>:" in out
    assert f"{BASE + 4:016x} <loop>:" in out
    assert any(l.endswith("gnu.S:3") for l in out)
    assert any(l.endswith("gnu.S:5") for l in out)
    jump = next(l for l in out if "\tj\t" in l)
    assert jump.endswith(f"{BASE + 4:#x} <loop>")
    # Without show_lines, no file:line rows.
    plain = format_listing(disassemble(ref.text, BASE, syms, lines), symbols=syms)
    assert "gnu.S" not in plain


def test_undecodable_bytes_become_data():
    # 0x8000 is a reserved compressed encoding (quadrant 0, funct3 100);
    # 0xffffffff a reserved >32-bit-length encoding; 0x13 alone is a
    # truncated 32-bit instruction.
    data = b"\x00\x80" + b"\xff\xff\xff\xff" + b"\x13\x00\x00\x00" + b"\x13"
    insns = disassemble(data, 0x1000)
    assert [(i.address, i.size) for i in insns] == [(0x1000, 2), (0x1002, 4), (0x1006, 4),
                                                  (0x100a, 1)]
    assert insns[0].mnemonic == ".short" and insns[0].op_str == "0x8000"
    assert insns[1].mnemonic == ".word" and insns[1].op_str == "0xffffffff"
    assert insns[2].mnemonic == "nop" or insns[2].text() == "addi zero, zero, 0"
    assert insns[3].mnemonic == ".byte"
    assert disassemble(b"", 0) == []


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.binary(max_size=64), st.integers(0, 2**64 - 4096))
def test_any_bytes_decode_without_error_and_cover_the_input(data, address):
    address &= ~1
    insns = disassemble(data, address)
    assert sum(i.size for i in insns) == len(data)
    pos = address
    for i in insns:
        assert i.address == pos
        assert i.raw == int.from_bytes(data[pos - address:pos - address + i.size], "little")
        pos += i.size


def test_block_cache_reuses_decoded_blocks():
    dis = Disassembler()
    block = b"\x13\x05\x15\x00" + b"\x05\x05"  # addi a0,a0,1 ; c.addi a0,1
    first = dis.block(block, 0x2000)
    again = dis.block(bytearray(block), 0x2000)
    assert again is first
    assert (dis.hits, dis.misses) == (1, 1)
    moved = dis.block(block, 0x3000)
    assert moved[0].address == 0x3000 and dis.misses == 2
    small = Disassembler(cache_size=1)
    a = small.block(block, 0)
    small.block(block, 4)
    assert small.block(block, 0) is not a  # evicted


def test_symbolizer_prefers_globals_and_ignores_absolute_and_internal():
    from septum.toolchain.image import Symbol

    s = Symbolizer([
        Symbol("local_alias", 0x100, section=".text"),
        Symbol("entry", 0x100, binding="global", section=".text"),
        Symbol("CONST", 0x104, section=None),
        Symbol(".L0", 0x108, section=".text"),
        Symbol("$x", 0x108, section=".text"),
    ])
    assert s.lookup(0x100) == "entry"
    assert s.lookup(0x10c) == "entry+0xc"
    assert s.lookup(0xff) == ""
    assert s.label_at(0x104) is None


def test_unnamed_csr_numbers_are_hex():
    # csrrw x0, 0x7c0, a0 (0x7c051073) and csrrs a0, 0x7c1, x0 (0x7c102573):
    # 0x7c0-0x7ff are custom read/write CSRs with no standard name.
    insns = disassemble(bytes.fromhex("7310057c" "7325107c"), 0)
    assert insns[0].op_str == "0x7c0, a0"
    assert insns[1].op_str.startswith("a0, 0x7c1")
    named = disassemble(bytes.fromhex("73100530"), 0)  # csrw mstatus, a0
    assert named[0].op_str == "mstatus, a0"
