"""``septum.firmware.build()``: the firmware assembled by Septum's own
assembler boots on real QEMU and behaves exactly as the GNU-built one."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum import firmware
from septum.firmware import sbi
from septum.hypervisor.memmap import FIRMWARE_BASE
from septum.tests.firmware import helpers
from septum.toolchain.riscv import Exc
from septum.toolchain.image import Image


@pytest.fixture(scope="module")
def image() -> Image:
    return firmware.build()


@pytest.fixture(scope="module")
def septum_firmware(image: Image, fw_dir: Path) -> Path:
    path = fw_dir / "fw-septum.elf"
    path.write_bytes(image.to_elf())
    return path


def test_image_layout(image: Image) -> None:
    assert image.entry == FIRMWARE_BASE
    assert image.symbol("_start").value == FIRMWARE_BASE
    text = image.section(".text")
    assert text is not None and text.address == FIRMWARE_BASE
    # everything loadable stays below the variables page at the region's top
    assert max(s.end for s in image.loadable()) <= sbi.FW_FRAME - 0x1000
    assert image.symbol("sbi_selftest_fault") is None  # not in a default build


def test_same_behaviour_as_the_gnu_build(septum_firmware: Path, qemu_run: helpers.Run,
                                         payload: Path) -> None:
    run = helpers.run_qemu(septum_firmware, payload)
    assert run.output == qemu_run.output
    assert run.returncode == qemu_run.returncode == 0
    assert helpers.parse_results(run.output)["base.get_impl_id"] == (0, sbi.IMPL_ID)


def test_selftest_build_reports_its_fault(fw_dir: Path) -> None:
    image = firmware.build(selftest=True)
    fault = image.symbol("sbi_selftest_fault")
    assert fault is not None
    path = fw_dir / "fw-septum-selftest.elf"
    path.write_bytes(image.to_elf())
    run = helpers.run_qemu(path, helpers.build_payload(fw_dir, final=3))
    assert run.output.splitlines()[-1] == (
        f"septum-sbi: fatal trap mcause={Exc.LOAD_ACCESS_FAULT:#018x} "
        f"mepc={fault.value:#018x} mtval={0:#018x}")
    assert run.returncode == sbi.FIRMWARE_FAULT_CODE
