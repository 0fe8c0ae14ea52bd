"""The public API others code against: ``asm``, ``assemble``, ``Source``,
``AsmError`` and the ``Image`` they return."""

from __future__ import annotations

import pytest

from septum.toolchain import AsmError, Image, Source, asm, assemble

from .asm_ref import gnu_bytes


def test_asm_is_keystone_like():
    code = asm("addi a0, a0, 1\nret\n", 0x1000)
    assert code == bytes.fromhex("0505" "8280")  # c.addi a0, 1; c.jr ra (as GNU encodes them)
    assert asm("", 0x1000) == b""


def test_asm_places_other_sections_after_text():
    src = "la a0, d\nret\n.data\nd: .word 0x11223344\n"
    code = asm(src, 0x80000000)
    assert code == gnu_bytes(src, 0x80000000)
    assert code.endswith(bytes.fromhex("44332211"))


def test_asm_march_without_c_and_option_rvc():
    assert asm("addi a0, a0, 1\n", march="rv64ima_zicsr") == bytes.fromhex("13051500")
    assert asm(".option norvc\naddi a0, a0, 1\n.option rvc\naddi a0, a0, 1\n") == \
        bytes.fromhex("13051500" "0505")
    # as in GNU, .option rvc enables C even when -march lacks it
    src = ".option rvc\naddi a0, a0, 1\nc.nop\n"
    assert asm(src, march="rv64ima_zicsr") == gnu_bytes(src, 0, march="rv64ima_zicsr")
    assert assemble([Source("r.S", src)], march="rv64ima_zicsr").rvc is True
    with pytest.raises(AsmError, match="C extension"):
        asm("c.nop\n", march="rv64im")


def test_assemble_returns_image_and_error_is_one_line():
    img = assemble([Source("a.S", "_start: nop\n")], base=0x2000)
    assert isinstance(img, Image) and img.entry == 0x2000 and img.march
    with pytest.raises(AsmError) as e:
        assemble([Source("a.S", "nop\nbogus\n")])
    assert (e.value.file, e.value.line) == ("a.S", 2)
    assert str(e.value) == "a.S:2: error: unknown mnemonic 'bogus'"


def test_bad_defines_are_asmerrors():
    with pytest.raises(AsmError):
        assemble([Source("a.S", "nop\n")], defines={"1bad": 1})
    with pytest.raises(AsmError):
        assemble([Source("a.S", "nop\n")], defines={"X": "one"})


def test_bad_layout_and_base_are_asmerrors():
    with pytest.raises(AsmError, match="layout"):
        assemble([Source("a.S", "nop\n")], layout={".text": "0x1000"})
    with pytest.raises(AsmError, match="base"):
        assemble([Source("a.S", "nop\n")], base=-4)
