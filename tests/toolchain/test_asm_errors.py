"""Every class of bad input: an AsmError with the right file, line and a
message naming the fault — and never any other exception, for any text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from septum.toolchain import AsmError, Source, asm, assemble

CASES = [
    # (source, line, words the message must contain)
    ("nop\nfrobnicate a0\n", 2, ["unknown mnemonic", "frobnicate"]),
    ("addi a0, a1\n", 1, ["addi", "operand"]),
    ("add a0, a1, 5x\n", 1, ["operand 3"]),
    ("addi a0, q9, 1\n", 1, ["operand 2", "q9"]),
    ("addi a0, a0, 5000\n", 1, ["5000", "-2048..2047"]),
    ("slli a0, a0, 64\n", 1, ["64", "0..63"]),
    ("lui a0, 0x100000\n", 1, ["1048576", "0..1048575"]),
    ("csrr a0, nosuchcsr\n", 1, ["nosuchcsr"]),
    ("csrwi mstatus, 32\n", 1, ["32", "0..31"]),
    ("c.addi4spn a0, sp, 2\n", 1, ["2", "multiple of 4"]),
    ("c.lw a0, 0(a6)\n", 1, ["x8..x15"]),
    ("nop\nbeq a0, a1, 5000\n", 2, ["branch offset 5000 out of range"]),
    ("beq a0, a1, 5\n", 1, ["misaligned"]),
    ("jal 0x200000\n", 1, ["out of range"]),
    ("nop\nj nowhere\n", 2, ["undefined symbol", "nowhere"]),
    ("nop\nj 1f\n", 2, ["undefined symbol", "1"]),
    ("j 1b\n", 1, ["1b"]),
    ("x: nop\nx: nop\n", 2, ["duplicate symbol", "x"]),
    ("x: nop\n.equ x, 1\n", 2, ["duplicate symbol"]),
    ("nop\n.macro m\nnop\n", 2, ["unterminated", ".macro"]),
    ("nop\n.rept 3\nnop\n", 2, ["unterminated", ".rept"]),
    ("nop\n.if 1\nnop\n", 2, ["unterminated", ".if"]),
    (".endif\n", 1, [".endif"]),
    (".else\n", 1, [".else"]),
    (".endm\n", 1, [".endm"]),
    (".endr\n", 1, [".endr"]),
    ('.include "does-not-exist.inc"\n', 1, ["does-not-exist.inc"]),
    (".frobnicate 1\n", 1, ["unknown directive", ".frobnicate"]),
    (".word 1/0\n", 1, ["division by zero"]),
    (".word 5 % 0\n", 1, ["division by zero"]),
    ("nop\n.word x / 0\nx:\n", 2, ["division by zero"]),
    ("nop\n.err\n", 2, [".err"]),
    ('.error "custom failure"\n', 1, ["custom failure"]),
    (".word (1\n", 1, ["')'"]),
    (".byte 1 +\n", 1, ["missing operand"]),
    ('.ascii "abc\n', 1, ["string"]),
    (".align 99\n", 1, ["99"]),
    (".balign 3\n", 1, ["power of 2"]),
    (".space x\nx:\n", 1, ["constant"]),
    (".rept y\n.endr\ny:\n", 1, ["constant"]),
    (".option bogus\n", 1, ["bogus"]),
    (".option pop\n", 1, ["pop"]),
    (".section\n", 1, [".section"]),
    (".macro m a\n.endm\nm 1, 2\n", 3, ["too many arguments"]),
    (".macro m a:req\n.endm\nm\n", 3, ["required", "a"]),
    (".bss\nnop\n", 2, ["NOBITS"]),
    (".bss\n.word 1\n", 2, ["NOBITS"]),
    ("li a0, sym\nsym:\n", 1, ["constant"]),
    ("%pcrel_lo_test: addi a0, a0, %pcrel_lo(x)\nx: nop\n", 1, ["pcrel_lo"]),
    ("ld a0, %hi(0x1)(a0, a1)\n", 1, ["operand"]),
    ("mul a0, a1, a2\n", 1, []),
    (".equ a, b\n.equ b, a\n.word a\n", 1, ["itself"]),
    ("fence.i\n", 1, []),
    ("c.nop\n", 1, []),
    (".macro r\nr\n.endm\nr\n", 4, ["nested too deeply"]),
]


@pytest.mark.parametrize("src,line,words", CASES)
def test_error_class(src, line, words):
    march = "rv64i_zicsr" if src in ("mul a0, a1, a2\n", "fence.i\n", "c.nop\n") else \
        "rv64imac_zicsr_zifencei"
    with pytest.raises(AsmError) as e:
        assemble([Source("bad.S", src)], march=march)
    err = e.value
    assert err.file == "bad.S"
    assert err.line == line, str(err)
    for w in words:
        assert w in err.message, (w, str(err))
    assert str(err).startswith(f"bad.S:{line}: error: ")
    assert "\n" not in str(err)


def test_extension_errors_name_the_extension():
    with pytest.raises(AsmError, match="extension M"):
        asm("mul a0, a1, a2\n", march="rv64i")
    with pytest.raises(AsmError, match="extension A"):
        asm("lr.w a0, (a1)\n", march="rv64i")
    with pytest.raises(AsmError, match="C extension"):
        asm("c.nop\n", march="rv64im")


def test_bad_march():
    for bad in ("rv32imac", "rv64xyz", "rv64imac_zfoo", "banana"):
        with pytest.raises(AsmError, match="march"):
            asm("nop\n", march=bad)


_LINE = st.lists(st.sampled_from(list("abcdeilmnorstuwxz0123456789 ,.()%:+-*/<>=!&|^~'\"\\#;@_\t")
                                           + [".word", ".macro", ".endm", ".rept", ".endr", ".if",
                                              ".endif", ".else", "addi", "a0", "sp", "%hi(", "%lo(",
                                              "%pcrel_lo(", "1:", "1b", "1f", ".equ", ".set",
                                              ".section", ".align", ".irp", ".include", "\\@",
                                              "li", "j", "beqz", "call", "csrr", "mstatus",
                                              ".option", "push", "pop", ".byte", ".ascii",
                                              "c.addi", "lw", "(sp)", ".space", ".fill"]),
                 max_size=24).map("".join)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, min_size=1, max_size=8))
def test_garbage_gives_asmerror_or_success(lines):
    src = "\n".join(lines) + "\n"
    try:
        img = assemble([Source("fuzz.S", src)])
    except AsmError as e:
        assert e.file in ("fuzz.S", "<layout>") or e.file.endswith(".inc")
        assert "\n" not in str(e)
    else:
        img.to_binary()


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.text(max_size=60))
def test_arbitrary_unicode_lines(text):
    try:
        asm(text)
    except AsmError:
        pass
