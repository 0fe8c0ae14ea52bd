"""Loading and booting as QEMU virt: ELF by PT_LOAD physical address, flat
binaries, MROM reset stub + fw_dynamic_info, DTB placement, -bios, and bad
input as one clear error."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import capstone
import pytest

from septum.hypervisor import memmap
from septum.hypervisor.errors import MachineError
from septum.hypervisor.loader import FW_DYN_OFFSET, default_bios
from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_bin, build_elf
from septum.toolchain.errors import ImageError, SeptumError

HELLO = r"""
.globl _start
_start:
    la s0, msg
1:  lbu a0, 0(s0)
    beqz a0, 2f
    PUTC a0
    addi s0, s0, 1
    j 1b
2:  EXIT 9
msg: .asciz "flat\n"
"""


def test_reset_stub_is_qemus() -> None:
    # hw/riscv/boot.c riscv_setup_rom_reset_vec, RV64: decoded by capstone.
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(HELLO)))
    code = m.read_phys(memmap.MROM_BASE, 24)
    md = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    text = [f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(code, memmap.MROM_BASE)]
    assert text == ["auipc t0, 0", "addi a2, t0, 0x28", "csrr a0, mhartid",
                    "ld a1, 0x20(t0)", "ld t0, 0x18(t0)", "jr t0"]
    start, fdt = struct.unpack("<QQ", m.read_phys(memmap.MROM_BASE + 24, 16))
    assert start == m.symbols["_start"]
    assert fdt == m.dtb_address
    # fw_dynamic_info right after: magic, version 2, next_addr, next_mode S.
    info = struct.unpack("<6Q", m.read_phys(memmap.MROM_BASE + FW_DYN_OFFSET, 48))
    assert info == (0x4942534F, 2, 0, 1, 0, 0)


def test_dtb_is_placed_like_qemu() -> None:
    for ram in (16 << 20, 128 << 20):
        m = Machine(ram_size=ram)
        m.boot(kernel=str(build_elf(HELLO)))
        head = m.read_phys(m.dtb_address, 8)
        magic, size = struct.unpack(">II", head)
        assert magic == 0xD00DFEED
        assert m.dtb_address == memmap.dtb_address(ram, size)


def test_flat_binary_runs_at_dram_base() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(build_bin(HELLO)))
    r = m.run(max_insns=100_000)
    assert (r.kind, r.exit_code, bytes(m.uart_output)) == ("poweroff", 9, b"flat\n")


def test_load_binary_bytes_and_entry() -> None:
    m = Machine(ram_size=16 << 20)
    m.load_binary(build_bin(HELLO).read_bytes(), 0x8000_0000)
    m.boot(entry=0x8000_0000)
    assert m.run(max_insns=100_000).exit_code == 9


def test_elf_segments_load_at_physical_address(tmp_path: Path) -> None:
    elf = build_elf(HELLO)
    moved = tmp_path / "lma.elf"
    subprocess.run(["riscv64-unknown-elf-objcopy", "--change-section-lma", ".text+0x100000",
                    str(elf), str(moved)], check=True, capture_output=True)
    m = Machine(ram_size=16 << 20)
    entry = m.load_elf(moved)
    text = build_bin(HELLO).read_bytes()
    assert entry == 0x8000_0000
    assert m.read_phys(0x8010_0000, len(text)) == text
    assert m.read_phys(0x8000_0000, 16) == bytes(16)


def test_firmware_and_kernel_fw_dynamic_next_addr() -> None:
    fw = build_bin(HELLO)
    kernel = build_bin(".globl _start\n_start: j _start\n", base=memmap.KERNEL_BASE)
    m = Machine(ram_size=16 << 20)
    m.boot(bios=str(fw), kernel=str(kernel))
    info = struct.unpack("<6Q", m.read_phys(memmap.MROM_BASE + FW_DYN_OFFSET, 48))
    assert info[2] == memmap.KERNEL_BASE and info[3] == 1
    assert m.read_phys(memmap.KERNEL_BASE, 2) == kernel.read_bytes()[:2]
    assert m.run(max_insns=100_000).exit_code == 9  # the firmware ran first


def test_bios_default_boots_opensbi() -> None:
    m = Machine()
    m.boot(bios="default")
    assert default_bios().endswith("fw_dynamic.bin")
    r = m.run(max_insns=60_000_000, until=lambda: b"Boot HART ID" in m.uart_output)
    assert r.kind == "until"
    out = bytes(m.uart_output)
    assert b"OpenSBI" in out and b"Platform Console Device   : uart8250" in out
    assert b"Platform Timer Device     : aclint-mtimer @ 10000000Hz" in out


def test_missing_file() -> None:
    m = Machine(ram_size=16 << 20)
    with pytest.raises(MachineError, match="no such file"):
        m.boot(kernel="/nonexistent/image.elf")


def test_truncated_elf(tmp_path: Path) -> None:
    data = build_elf(HELLO).read_bytes()
    cut = tmp_path / "cut.elf"
    cut.write_bytes(data[:100])
    with pytest.raises(ImageError) as info:
        Machine(ram_size=16 << 20).boot(kernel=str(cut))
    assert "cut.elf" in str(info.value) and "\n" not in str(info.value)


def test_non_riscv_elf() -> None:
    host_elf = Path("/bin/true")
    with pytest.raises(ImageError, match="not an RV64 RISC-V ELF"):
        Machine(ram_size=16 << 20).boot(kernel=str(host_elf))


def test_segment_outside_ram() -> None:
    elf = build_elf(HELLO, base=0x9000_0000)
    with pytest.raises(MachineError, match="outside RAM"):
        Machine(ram_size=16 << 20).boot(kernel=str(elf))


def test_errors_are_septum_errors() -> None:
    assert issubclass(MachineError, SeptumError) and issubclass(ImageError, SeptumError)
