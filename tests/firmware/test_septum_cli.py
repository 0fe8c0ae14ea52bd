"""``septum run -bios FW -kernel PAYLOAD``, the QEMU-like command line, runs
the firmware and payload as ``qemu-system-riscv64 -bios FW -kernel PAYLOAD``
does: the same console output (except the CPU's identity registers) and the
same exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from septum import firmware
from septum.firmware import sbi
from septum.tests.firmware import helpers

#: Lines that show the emulated CPU model's identity CSRs, not the firmware's.
IDENTITY = ("base.get_mvendorid ", "base.get_marchid ", "base.get_mimpid ")


@pytest.fixture(scope="module")
def septum_firmware(fw_dir: Path) -> Path:
    path = fw_dir / "fw-cli-selftest.elf"
    path.write_bytes(firmware.build(selftest=True).to_elf())
    return path


def septum_run(bios: Path, kernel: Path) -> helpers.Run:
    proc = subprocess.run(
        [sys.executable, "-m", "septum.hypervisor", "run", "-bios", str(bios),
         "-kernel", str(kernel), "--max-insns", "20000000"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=helpers.QEMU_TIMEOUT)
    return helpers.Run(proc.stdout.decode("latin-1").replace("\r\n", "\n"), proc.returncode)


def _comparable(output: str) -> list[str]:
    return [line for line in output.splitlines() if not line.startswith(IDENTITY)]


@pytest.mark.parametrize("final, status", [
    (0, 0),
    (1, sbi.ResetReason.SYSTEM_FAILURE),
    (3, sbi.FIRMWARE_FAULT_CODE),
])
def test_septum_run_matches_qemu(septum_firmware: Path, fw_dir: Path, final: int,
                                 status: int) -> None:
    kernel = helpers.build_payload(fw_dir, final=final)
    ours = septum_run(septum_firmware, kernel)
    qemu = helpers.run_qemu(septum_firmware, kernel)
    assert _comparable(ours.output) == _comparable(qemu.output)
    assert len(_comparable(ours.output)) > 60
    assert ours.returncode == qemu.returncode == status
