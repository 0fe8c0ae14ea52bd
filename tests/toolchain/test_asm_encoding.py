"""Instruction encodings and automatic compression against GNU ``as``.

Every batch of random instruction lines (tests/toolchain/asm_gen.py) must
assemble to exactly the bytes GNU ``as -march=rv64imac_zicsr_zifencei
-mno-relax`` + ``ld`` produce: that covers base encodings, every GNU
compression alias with its conditions, pseudo-instructions, CSR names and
numbers, AMOs with their ordering suffixes and explicit ``c.*`` mnemonics.
``li`` sequences are also executed in Unicorn and must load the value.
"""

from __future__ import annotations

import pytest
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn.riscv_const import UC_RISCV_REG_X0

from septum.toolchain import AsmError, asm
from septum.toolchain.riscv import GPR_NAMES

from .asm_gen import Gen
from .asm_ref import gnu_bytes

BASE = 0x80000000


@pytest.mark.parametrize("seed", range(6))
def test_random_batches_equal_gnu(seed):
    lines = Gen(seed).batch(300)
    src = "\n".join(lines) + "\n"
    assert asm(src, BASE) == gnu_bytes(src, BASE)


@pytest.mark.parametrize("seed", range(2))
def test_without_c_extension_equal_gnu(seed):
    lines = [ln for ln in Gen(100 + seed).batch(300) if not ln.startswith("c.")]
    src = "\n".join(lines) + "\n"
    march = "rv64ima_zicsr_zifencei"
    assert asm(src, BASE, march=march) == gnu_bytes(src, BASE, march=march)


def test_option_norvc_region_equals_gnu():
    lines = [ln for ln in Gen(7).batch(120) if not ln.startswith("c.")]
    src = ("\n".join(lines[:40]) + "\n.option push\n.option norvc\n" + "\n".join(lines[40:80])
           + "\n.option pop\n" + "\n".join(lines[80:]) + "\n")
    ours = asm(src, BASE)
    assert ours == gnu_bytes(src, BASE)
    assert ours != asm("\n".join(lines) + "\n", BASE)  # the region really was uncompressed


def test_every_amo_and_ordering_suffix():
    lines = []
    for op in ("amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax",
               "amominu", "amomaxu"):
        for w in "wd":
            for o in ("", ".aq", ".rl", ".aqrl"):
                lines.append(f"{op}.{w}{o} a0, a1, (a2)")
                lines.append(f"lr.{w}{o} t0, (s1)")
                lines.append(f"sc.{w}{o} t0, t1, 0(s1)")
    src = "\n".join(lines) + "\n"
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_every_named_csr_equals_gnu():
    from septum.toolchain.riscv import CSR_ALIASES, CSR_NAMES
    names = sorted(set(CSR_NAMES) | set(CSR_ALIASES))
    src = "".join(f"csrr a0, {n}\ncsrw {n}, a1\ncsrsi {n}, 3\n" for n in names)
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_fence_sets_equal_gnu():
    sets = ["i", "o", "r", "w", "io", "rw", "iorw", "ir", "ow", "orw", "iw"]
    src = "".join(f"fence {p}, {s}\n" for p in sets for s in sets) + "fence\nfence.tso\n"
    assert asm(src, BASE) == gnu_bytes(src, BASE)
    with pytest.raises(AsmError, match="fence flags"):  # GNU also rejects the wrong order
        asm("fence wr, r\n")


def _run_li(code: bytes, reg: int) -> int:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(BASE, 0x10000)
    uc.mem_write(BASE, code)
    uc.emu_start(BASE, BASE + len(code))
    return uc.reg_read(UC_RISCV_REG_X0 + reg)


@pytest.mark.parametrize("seed", range(3))
def test_li_sequences_equal_gnu_and_load_the_value(seed):
    g = Gen(200 + seed)
    cases = [(g.reg(), g.li_value()) for _ in range(60)]
    cases = [(r if r not in ("zero", "x0") else "a0", v) for r, v in cases]
    src = "".join(f"li {r}, {v}\n" for r, v in cases)
    assert asm(src, BASE) == gnu_bytes(src, BASE)
    for r, v in cases:
        code = asm(f"li {r}, {v}\n", BASE)
        assert _run_li(code, GPR_NAMES[r]) == v % (1 << 64), (r, v)


def test_li_of_label_is_rejected_like_gnu():
    with pytest.raises(AsmError) as e:
        asm("li a0, there\nthere: nop\n")
    assert e.value.line == 1 and "constant" in e.value.message


def test_la_call_tail_and_symbol_loads_equal_gnu():
    src = """
_start:
    la a0, msg
    lla a1, msg+3
    lw a2, word
    ld a3, word
    lbu a4, msg
    sw a2, word, t0
    sd a3, word, t1
    call fn
    call t0, fn
    tail fn
    jump fn, t2
fn: ret
    .data
msg: .asciz "hello"
    .align 3
word: .dword 0x1122334455667788
"""
    assert asm(src, BASE) == gnu_bytes(src, BASE)


def test_pcrel_hi_lo_pairs_equal_gnu():
    src = """
1:  auipc a0, %pcrel_hi(target)
    addi a0, a0, %pcrel_lo(1b)
2:  auipc a1, %pcrel_hi(target+0x1000)
    ld a2, %pcrel_lo(2b)(a1)
    sd a2, %pcrel_lo(2b)(a1)
    lui a3, %hi(target)
    addi a3, a3, %lo(target)
    lui a4, %hi(0x12345fff)
    addiw a4, a4, %lo(0x12345fff)
    .space 0x2345
target: nop
"""
    # %hi of an absolute address must fit in 32 bits: link low.
    assert asm(src, 0x10000) == gnu_bytes(src, 0x10000)


def test_hi_of_address_beyond_32_bits_is_an_error():
    with pytest.raises(AsmError) as e:
        asm("nop\nlui a0, %hi(x)\nx: nop\n", BASE)
    assert e.value.line == 2 and "%hi" in e.value.message


@pytest.mark.parametrize("seed", range(2))
def test_la_to_random_addresses_equal_gnu_and_loads_the_address(seed):
    import random
    r = random.Random(300 + seed)
    targets = [BASE + r.randint(-(1 << 31) + 0x1000, (1 << 31) - 0x10000) for _ in range(40)]
    targets += [BASE + d for d in (0, 0x7ff, 0x800, -0x800, -0x801, 0xfff, 0x1000)]
    regs = [r.choice(["a0", "t0", "s1", "ra", "x31"]) for _ in targets]
    # Symbols defined after use: auipc + addi (a constant known at the la
    # would be built like li instead, as GNU does).
    src = "".join(f"la {rg}, T{i}\n" for i, rg in enumerate(regs))
    src += "".join(f".equ T{i}, {t:#x}\n" for i, t in enumerate(targets))
    code = asm(src, BASE)
    assert code == gnu_bytes(src, BASE)
    for i, (t, rg) in enumerate(zip(targets, regs)):
        one = code[8 * i:8 * i + 8]  # auipc + addi, never compressed
        assert _run_at(one, BASE + 8 * i, GPR_NAMES[rg]) == t % (1 << 64), hex(t)


def test_la_of_a_known_constant_is_li_like_gnu():
    src = ".equ U, 0x1234\nla a1, U\nlla a2, 0x7ffff000\nla a4, -5\n"
    # load_const, not the li table: "addiw a4, zero, -5" stays 4 bytes
    assert asm(src, BASE) == gnu_bytes(src, BASE)
    with pytest.raises(AsmError, match="offset too large"):
        asm("la a0, 0x80000000\n")


def _run_at(code: bytes, addr: int, reg: int) -> int:
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    page = addr & ~0xFFF
    uc.mem_map(page, 0x2000)
    uc.mem_write(addr, code)
    uc.emu_start(addr, addr + len(code))
    return uc.reg_read(UC_RISCV_REG_X0 + reg)
