"""The firmware's numbers: the generated include is current, and the values
are the SBI 2.0 specification's (EIDs spell their names in ASCII, errors and
function IDs as the spec's tables list them)."""

from __future__ import annotations

import pytest

from septum import firmware
from septum.firmware import sbi
from septum.firmware.sbi import Ext, SbiError
from septum.hypervisor import memmap
from septum.toolchain.riscv import Exc, Irq, PmpCfg


def test_committed_include_is_current() -> None:
    committed = (firmware.source_dir() / sbi.INCLUDE_NAME).read_text()
    assert committed == sbi.include_text(), "run: python -m septum.firmware.sbi"


def test_main_writes_the_include(tmp_path) -> None:
    out = tmp_path / "x.inc"
    assert sbi.main([str(out)]) == 0
    assert out.read_text() == sbi.include_text()


@pytest.mark.parametrize("ext, name", [
    (Ext.TIME, b"TIME"), (Ext.IPI, b"sPI"), (Ext.RFENCE, b"RFNC"), (Ext.HSM, b"HSM"),
    (Ext.SRST, b"SRST"), (Ext.DBCN, b"DBCN")])
def test_extension_ids_spell_their_names(ext: Ext, name: bytes) -> None:
    assert ext == int.from_bytes(name, "big")


def test_error_codes_are_the_specs() -> None:
    # SBI 2.0 table "Standard SBI Errors": 0, then -1 .. -9 in this order.
    names = ["SUCCESS", "FAILED", "NOT_SUPPORTED", "INVALID_PARAM", "DENIED",
             "INVALID_ADDRESS", "ALREADY_AVAILABLE", "ALREADY_STARTED", "ALREADY_STOPPED",
             "NO_SHMEM"]
    assert [e.name for e in sorted(SbiError, reverse=True)] == names
    assert [int(e) for e in sorted(SbiError, reverse=True)] == list(range(0, -10, -1))


def test_spec_version_is_2_0() -> None:
    assert sbi.SPEC_VERSION >> 24 == 2 and sbi.SPEC_VERSION & 0xFFFFFF == 0
    assert sbi.SPEC_VERSION >> 31 == 0  # bit 31 must be zero


def test_impl_id_is_not_a_registered_one() -> None:
    # Registered IDs are 0 (BBL) .. 11 (bhyve) in the SBI 2.0 table.
    assert sbi.IMPL_ID > 11


def test_pmp_napot_encoding() -> None:
    # Privileged spec table 3.10: yyyy...y011 encodes a 32-byte NAPOT range.
    assert sbi.pmp_napot(0x1000, 32) == (0x1000 >> 2) | 0b011
    assert sbi.pmp_napot(0x8000_0000, 8) == 0x8000_0000 >> 2
    with pytest.raises(ValueError):
        sbi.pmp_napot(0x8000_1000, 0x20_0000)  # not aligned to its size
    with pytest.raises(ValueError):
        sbi.pmp_napot(0, 24)  # not a power of two


def test_pmp_covers_exactly_the_firmware_region() -> None:
    addr = sbi.FW_PMPADDR0
    ones = (addr ^ (addr + 1)).bit_length() - 1  # trailing ones
    size = 1 << (ones + 3)
    base = (addr & ~((1 << ones) - 1)) << 2
    assert (base, size) == (memmap.FIRMWARE_BASE, memmap.KERNEL_BASE - memmap.FIRMWARE_BASE)
    cfg0, cfg1 = sbi.FW_PMPCFG0 & 0xFF, sbi.FW_PMPCFG0 >> 8
    assert cfg0 == PmpCfg.A_NAPOT  # no R, W, X for S and U; not locked: M unaffected
    assert cfg1 == PmpCfg.A_NAPOT | PmpCfg.R | PmpCfg.W | PmpCfg.X


def test_delegation() -> None:
    assert not sbi.MEDELEG & (1 << Exc.ECALL_S)  # the SBI stays in M
    assert sbi.MEDELEG & (1 << Exc.ECALL_U)
    for exc in (Exc.INST_PAGE_FAULT, Exc.LOAD_PAGE_FAULT, Exc.STORE_PAGE_FAULT,
                Exc.ILLEGAL_INSTRUCTION, Exc.BREAKPOINT, Exc.LOAD_ACCESS_FAULT):
        assert sbi.MEDELEG & (1 << exc)
    assert sbi.MIDELEG == sum(1 << i for i in (Irq.SSI, Irq.STI, Irq.SEI))


def test_firmware_layout_stays_inside_its_region() -> None:
    assert memmap.FIRMWARE_BASE < sbi.FW_FRAME < sbi.FW_STACK_TOP <= sbi.FW_VAR_RAM_TOP
    assert sbi.FW_VAR_RAM_TOP + 8 <= sbi.FIRMWARE_END == memmap.KERNEL_BASE


def test_sources_are_every_assembly_file() -> None:
    srcs = firmware.sources()
    assert srcs[0].name == "entry.S"
    assert sorted(p.name for p in srcs) == sorted(
        p.name for p in firmware.source_dir().glob("*.S"))
    assert all(p.is_file() for p in srcs)


def test_defines() -> None:
    assert firmware.defines() == {}
    assert firmware.defines(selftest=True) == {firmware.SELFTEST_SYMBOL: 1}
