"""Differential tests: Septum's assembler against GNU as 2.40 on the same source.

Both sides assemble one batch file of a few hundred random, valid instructions
(:mod:`.operands` draws them for every mnemonic in the assembler's own table,
so nothing is missed) with ``-march=rv64imac_zicsr_zifencei``; GNU's output is
linked (``-mno-relax``, ``ld --no-relax``) and the ``.text`` bytes compared.

* ``.option norvc``: every non-compressed mnemonic, bytes equal, all 4-byte.
* explicit ``c.*`` mnemonics (under ``.option rvc``; GNU 2.40 rejects ``c.*``
  under ``norvc``), bytes equal.
* ``.option rvc``: the same non-compressed mnemonics, so that GNU's automatic
  compression choices (including branches to labels near and far, which both
  assemblers shorten to ``c.beqz``/``c.bnez``/``c.j`` when in reach) must match
  ours byte for byte.
* ``li`` with random 64-bit values (edge-biased: 0, ±1, 2^11, 2^31, 2^32-1,
  2^63, sparse bit patterns) and ``la``/``lla`` to labels in a far ``.data``
  and to absolute symbols: both programs run in Unicorn and every register
  result must equal the value asked for.  Each snippet sits in its own 64-byte
  slot so that bytes are also compared snippet by snippet.  Where they differ
  (GNU's choice is not the only correct one), the register results still
  agree; the measured differences are:

  - ``li rd, V`` with V in [2^64-2048, 2^64) written as an *unsigned*
    number: GNU emits ``addi rd, zero, V-2^64``, Septum ``addiw`` (same
    value).  Every other value tried gives identical bytes.
  - ``la``/``lla rd, SYM`` with SYM an absolute symbol (``.equ``): GNU loads
    the value with ``lui``/``addiw`` (and rejects values beyond signed 32
    bits), Septum emits ``auipc``/``addi`` relative to the PC (so the value
    must be within 2 GiB of the code).  For labels the bytes are identical.
* ``pause`` needs Zihintpause in GNU as (``-march=..._zihintpause``); Septum
  accepts it under the base march, so it is compared with that one extra
  extension on GNU's side.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn.riscv_const import UC_RISCV_REG_PC

from septum.toolchain import Source, assemble
from septum.toolchain.disasm import disassemble
from septum.toolchain.isa import TABLE
from septum.tests.toolchain import gnu
from septum.tests.toolchain.operands import FORMS, SEMANTIC_ONLY, batch

MARCH = gnu.MARCH
BASE = 0x8000_0000
PLAIN = sorted(m for m in TABLE if not m.startswith("c.") and m not in SEMANTIC_ONLY
               and m != "pause")
EXPLICIT_C = sorted(m for m in TABLE if m.startswith("c."))
#: Known differences under ``.option rvc``: none left.
RVC_KNOWN_DIFFERENT: frozenset[str] = frozenset()
RVC_PLAIN = [m for m in PLAIN if m not in RVC_KNOWN_DIFFERENT]
# No shrinking: each example is one GNU run, and explain() already names the
# first differing line, which is what a shrunk example would show.
SETTINGS = dict(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))


def ours(source: str, base: int = BASE, **layout: int):
    return assemble([Source("batch.S", source)], base=base, layout={".text": base, **layout},
                    march=MARCH)


def explain(source: str, image, theirs: bytes) -> str:
    """Where the bytes first differ: the source line and both decodings."""
    text = image.section(".text").data
    n = next((i for i in range(min(len(text), len(theirs))) if text[i] != theirs[i]),
             min(len(text), len(theirs)))
    entry = None
    for e in image.lines:
        if e.address <= BASE + n:
            entry = e
    start = entry.address - BASE if entry else n & ~1
    where = source.splitlines()[entry.line - 1].strip() if entry else "?"
    mine = disassemble(text[start:start + 12], BASE + start)
    gnus = disassemble(theirs[start:start + 12], BASE + start)
    return (f"first difference at {BASE + n:#x} (line {entry.line if entry else '?'}: {where!r})\n"
            f"  ours: {[(hex(i.address), f'{i.raw:x}', i.text()) for i in mine]}\n"
            f"  GNU : {[(hex(i.address), f'{i.raw:x}', i.text()) for i in gnus]}\n"
            f"  lengths: ours {len(text)}, GNU {len(theirs)}")


def compare(source: str, tmp_path) -> bytes:
    ref = gnu.build(source, base=BASE, workdir=tmp_path)
    image = ours(source)
    text = image.section(".text").data
    assert text == ref.text, explain(source, image, ref.text)
    return text


def test_every_mnemonic_has_a_generator():
    """The assembler's table is the list of mnemonics: each has operand forms."""
    assert set(TABLE) - SEMANTIC_ONLY - set(FORMS) == set()
    assert len(PLAIN) > 150 and len(EXPLICIT_C) >= 30


@settings(max_examples=5, **SETTINGS)
@given(lines=batch(PLAIN, 120, cover=True))
def test_every_mnemonic_norvc_equals_gnu(lines, tmp_path):
    text = compare(".option norvc\n" + "\n".join(lines) + "\n", tmp_path)
    # Under norvc nothing is compressed: every parcel is a 4-byte instruction.
    assert all(i.size == 4 for i in disassemble(text, BASE))


@settings(max_examples=6, **SETTINGS)
@given(lines=batch(EXPLICIT_C, 150, cover=True))
def test_every_compressed_mnemonic_equals_gnu(lines, tmp_path):
    text = compare(".option rvc\n" + "\n".join(lines) + "\n", tmp_path)
    assert all(i.size == 2 for i in disassemble(text, BASE))


@settings(max_examples=4, **SETTINGS)
@given(lines=batch(RVC_PLAIN, 200, cover=True))
def test_automatic_compression_equals_gnu(lines, tmp_path):
    text = compare(".option rvc\n" + "\n".join(lines) + "\n", tmp_path)
    # The batches are biased towards compressible operands: some are chosen.
    assert any(i.size == 2 for i in disassemble(text, BASE))


def test_option_push_pop_and_default_compression(tmp_path):
    src = ("addi a0, a0, 1\n.option push\n.option norvc\naddi a0, a0, 1\n"
           "beqz a0, 1f\n.option pop\naddi a0, a0, 1\nbeqz a0, 1f\n1: ret\n")
    text = compare(src, tmp_path)
    assert [i.size for i in disassemble(text, BASE)] == [2, 4, 4, 2, 2, 2]


def test_pause_equals_gnu_with_zihintpause(tmp_path):
    ref = gnu.build("pause\n", base=BASE, workdir=tmp_path, march=MARCH + "_zihintpause")
    assert ours("pause\n").section(".text").data == ref.text


# --- li / la / lla, executed ---------------------------------------------------

RESULTS = 0x10000  # a scratch page where each snippet stores its result
EDGES = [0, 1, -1, 2**11, 2**11 - 1, -(2**11), 2**12, 2**31, 2**31 - 1, -(2**31),
         2**32 - 1, 2**32, 2**63, 2**63 - 1, 2**64 - 1, 0x8000_0800, 0x7FFF_F800,
         0xFFFF_FFFF_8000_0000, 0x1_0000_0001, 0x1234_5678_9ABC_DEF0]


#: Sparse bit patterns: up to four bits set anywhere in 64.
SPARSE = st.lists(st.integers(0, 63), max_size=4).map(lambda bits: sum(1 << b for b in set(bits)))


@st.composite
def li_value(draw) -> int:
    v = draw(st.one_of(st.sampled_from(EDGES), st.integers(-(2**63), 2**64 - 1),
                       st.integers(-4096, 4096), SPARSE,
                       st.integers(-(2**31), 2**32)))
    if draw(st.booleans()) and v >= 0:
        v = -v if v <= 2**63 else v  # negative spellings too
    return v


# s1 holds RESULTS; never the destination of li/la so stores stay valid.
DEST = [r for r in range(1, 32) if r != 9]


def run_rv64(code: bytes, base: int, steps: int) -> bytes:
    """Execute ``code`` at ``base`` in Unicorn; return the results page."""
    mu = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    size = (len(code) + 0xFFF) & ~0xFFF
    mu.mem_map(base, size)
    mu.mem_map(RESULTS, 0x1000)
    mu.mem_write(base, code)
    mu.emu_start(base, base + len(code), count=steps)
    assert mu.reg_read(UC_RISCV_REG_PC) == base + len(code)
    return bytes(mu.mem_read(RESULTS, 0x1000))


def results_of(page: bytes, n: int) -> list[int]:
    return list(struct.unpack_from(f"<{n}Q", page))


#: Bytes of each li snippet; a snippet is padded to this so that snippets can
#: be compared one by one (the longest li sequence is 8 instructions).
SLOT = 64


def li_bytes_may_differ(value: int) -> bool:
    """The one known case where our ``li`` bytes differ from GNU's (the
    register result is the same): a value in [2^64-2048, 2^64) spelled as
    an unsigned number.  GNU emits ``addi rd, zero, imm``; Septum emits
    ``addiw rd, zero, imm`` (both give the sign-extended 12-bit value)."""
    return 2**64 - 2048 <= value < 2**64


@settings(max_examples=6, **SETTINGS)
@given(values=st.lists(li_value(), min_size=40, max_size=60),
       regs=st.lists(st.sampled_from(DEST), min_size=60, max_size=60),
       rvc=st.booleans())
def test_li_results_equal_gnu_in_unicorn(values, regs, rvc, tmp_path):
    body = [".option rvc" if rvc else ".option norvc", "lui s1, %d" % (RESULTS >> 12),
            f".balign {SLOT}"]
    for i, v in enumerate(values):
        r = f"x{regs[i]}"
        body += [f"li {r}, {v}", f"sd {r}, {8 * i}(s1)", f".balign {SLOT}"]
    source = "\n".join(body) + "\n"
    ref = gnu.build(source, base=BASE, workdir=tmp_path)
    mine = ours(source).section(".text").data
    want = [v & (2**64 - 1) for v in values]
    n = len(values)
    assert results_of(run_rv64(ref.text, BASE, 10 * len(ref.text)), n) == want
    assert results_of(run_rv64(mine, BASE, 10 * len(mine)), n) == want
    assert len(mine) == len(ref.text) == SLOT * (n + 1)
    for i, v in enumerate(values):
        slot = slice(SLOT * (i + 1), SLOT * (i + 2))
        if not li_bytes_may_differ(v):
            assert mine[slot] == ref.text[slot], (v, mine[slot].hex(), ref.text[slot].hex())


@st.composite
def far_address(draw) -> int:
    """A .data address within auipc+addi reach of code at BASE (and clear of
    the code itself, which takes less than 64 KiB)."""
    lo, hi = BASE - 2**31 + 0x1000, BASE + 2**31 - 0x10000
    addr = draw(st.one_of(st.integers(lo, hi), st.sampled_from(
        [lo, hi, BASE + 0x10000, BASE + 0x10800, BASE + 0x17FF0, BASE - 0x1000])))
    if BASE - 0x100 <= addr < BASE + 0x10000:
        addr += 0x10100
    return max(lo, min(hi, addr)) & ~0xF


#: Absolute values both assemblers can ``la``: GNU loads them with
#: ``lui``/``addiw`` and rejects values outside signed 32 bits ("offset too
#: large"); Septum uses ``auipc``/``addi`` and needs them within 2 GiB of the
#: code at BASE.
ABSOLUTE = st.one_of(st.integers(0x1000, 0x7FFF_F000),
                     st.sampled_from([0x1000, 0x800, 0x7FF, 0x1000_0000, 0x7FFF_F000]))


@settings(max_examples=6, **SETTINGS)
@given(data_at=far_address(),
       picks=st.lists(st.tuples(st.sampled_from(["la", "lla"]), st.integers(0, 15),
                                st.sampled_from(DEST), st.booleans()),
                      min_size=20, max_size=50),
       consts=st.lists(ABSOLUTE, min_size=4, max_size=4),
       rvc=st.booleans())
def test_la_lla_results_equal_gnu_in_unicorn(data_at, picks, consts, rvc, tmp_path):
    """``la``/``lla`` to labels of a far ``.data`` and to absolute symbols.

    Register results must equal the symbol's value on both sides.  Bytes must
    equal GNU's for labels; for absolute symbols they differ by design of the
    two assemblers (GNU: ``lui``/``addiw``; Septum: ``auipc``/``addi``), see
    the module docstring."""
    body = [".option rvc" if rvc else ".option norvc"]
    body += [f".equ K{i}, {v}" for i, v in enumerate(consts)]
    body += [".text", "lui s1, %d" % (RESULTS >> 12), f".balign {SLOT}"]
    want_syms = []
    for i, (op, k, r, absolute) in enumerate(picks):
        sym = f"K{k % 4}" if absolute else f"D{k}"
        body += [f"{op} x{r}, {sym}", f"sd x{r}, {8 * i}(s1)", f".balign {SLOT}"]
        want_syms.append(sym)
    body += [".data"] + [f"D{k}: .dword {k}" for k in range(16)]
    source = "\n".join(body) + "\n"

    gnu.build(source, base=BASE, workdir=tmp_path)
    # Re-link GNU's object with .data at the chosen address.
    elf = tmp_path / "far.elf"
    r = gnu.run([gnu.tool("ld"), "--no-relax", "-e", "0", f"-Ttext={BASE:#x}",
                 f"-Tdata={data_at:#x}", str(tmp_path / "gnu.o"), "-o", str(elf)])
    assert r.returncode == 0, r.stderr
    binf = tmp_path / "far.bin"
    assert gnu.run([gnu.tool("objcopy"), "-O", "binary", "-j", ".text", str(elf),
                    str(binf)]).returncode == 0
    theirs = binf.read_bytes()
    image = ours(source, **{".data": data_at})
    mine = image.section(".text").data
    assert [image.symbol(f"D{k}").value for k in range(16)] == \
        [data_at + 8 * k for k in range(16)]
    want = [consts[int(sym[1:])] if sym.startswith("K") else image.symbol(sym).value
            for sym in want_syms]
    n = len(picks)
    assert results_of(run_rv64(theirs, BASE, 10 * len(theirs)), n) == want
    assert results_of(run_rv64(mine, BASE, 10 * len(mine)), n) == want
    assert len(mine) == len(theirs)
    for i, sym in enumerate(want_syms):
        if sym.startswith("D"):
            slot = slice(SLOT * (i + 1), SLOT * (i + 2))
            assert mine[slot] == theirs[slot], (picks[i], mine[slot].hex(), theirs[slot].hex())


@pytest.mark.parametrize("value", EDGES)
def test_li_bytes_equal_gnu_on_edges(value, tmp_path):
    src = f".option norvc\nli a0, {value}\n"
    ref = gnu.build(src, base=BASE, workdir=tmp_path)
    mine = ours(src).section(".text").data
    if li_bytes_may_differ(value):
        assert run_li(mine) == run_li(ref.text) == value & (2**64 - 1)
    else:
        assert mine == ref.text, explain(src, ours(src), ref.text)


def run_li(code: bytes) -> int:
    """a0 after running ``code`` (an li sequence into a0) in Unicorn."""
    from unicorn.riscv_const import UC_RISCV_REG_A0

    mu = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    mu.mem_map(BASE, 0x1000)
    mu.mem_write(BASE, code)
    mu.emu_start(BASE, BASE + len(code))
    return mu.reg_read(UC_RISCV_REG_A0)


# --- branches and jumps at various distances ------------------------------------

#: Gaps (bytes of .skip between a branch and its label) around every reach
#: threshold: c.beqz/c.bnez ±256 B, c.j ±2 KiB, b* ±4 KiB, and up to the
#: jal reach of ±1 MiB (beyond it GNU ld fails: as relaxes a far b* into an
#: inverted branch over a jal, never further).
GAPS = [0, 2, 200, 250, 252, 254, 256, 258, 2040, 2044, 2046, 2048, 2050, 4088,
        4092, 4094, 4096, 4100, 6000, 2**20 - 24, 2**20 - 16]
BRANCHES = ["beqz a0, {L}", "bnez s1, {L}", "beq a0, a1, {L}", "bltu t0, t1, {L}",
            "j {L}", "jal {L}", "c.j {L}", "c.beqz a2, {L}", "bgez a3, {L}"]


@settings(max_examples=15, **SETTINGS)
@given(picks=st.lists(st.tuples(st.sampled_from(BRANCHES), st.sampled_from(GAPS),
                                st.booleans()), min_size=4, max_size=10),
       rvc=st.booleans())
def test_branch_relaxation_at_every_distance_equals_gnu(picks, rvc, tmp_path):
    """Forward and backward branches whose targets lie just inside and just
    outside each reach; both assemblers pick the same (compressed, plain or
    inverted-branch-plus-jump) form."""
    body = [".option rvc" if rvc else ".option norvc"]
    for i, (form, gap, backward) in enumerate(picks):
        if form.startswith("c.") and (not rvc or gap > 200):
            continue  # explicit c.* must be in reach and under rvc (GNU errors otherwise)
        if backward:
            body += [f"B{i}:", "nop", f".skip {gap}", "    " + form.format(L=f"B{i}")]
        else:
            body += ["    " + form.format(L=f"F{i}"), f".skip {gap}", f"F{i}:", "nop"]
    compare("\n".join(body) + "\n", tmp_path)
