"""The firmware and the test payload on Septum's own board: the output must
be QEMU's, line for line (except the CPU's identity registers, which belong
to the emulated CPU model), and every way of ending a run must be reported
as QEMU reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum import firmware
from septum.firmware import sbi
from septum.hypervisor.machine import Machine
from septum.tests.firmware import helpers
from septum.toolchain.riscv import Exc

#: Payload instructions to a finished run are ~100k; this bounds a hang.
MAX_INSNS = 20_000_000

#: Report lines that show the emulated CPU's identity CSRs.
IDENTITY = {"base.get_mvendorid": 0xF11, "base.get_marchid": 0xF12, "base.get_mimpid": 0xF13}


@pytest.fixture(scope="module")
def septum_firmware(fw_dir: Path) -> Path:
    """The default build, by Septum's assembler."""
    path = fw_dir / "fw-septum-default.elf"
    path.write_bytes(firmware.build().to_elf())
    return path


@pytest.fixture(scope="module")
def septum_firmware_selftest(fw_dir: Path) -> Path:
    path = fw_dir / "fw-septum-st.elf"
    path.write_bytes(firmware.build(selftest=True).to_elf())
    return path


def _run(bios: Path, kernel: Path) -> tuple[Machine, object, str]:
    m = Machine()
    m.boot(bios=str(bios), kernel=str(kernel))
    stop = m.run(max_insns=MAX_INSNS)
    return m, stop, bytes(m.uart_output).decode("latin-1")


def test_same_output_as_qemu(septum_firmware: Path, payload: Path,
                             qemu_run: helpers.Run) -> None:
    m, stop, out = _run(septum_firmware, payload)
    assert (stop.kind, stop.exit_code) == ("poweroff", 0)
    ours, qemu = out.splitlines(), qemu_run.output.splitlines()
    assert len(ours) == len(qemu)
    results = helpers.parse_results(out)
    for mine, theirs in zip(ours, qemu):
        name = mine.split(" ")[0]
        if name in IDENTITY:
            # the board's own CPU answers for these
            assert results[name] == (0, m.csr_read(IDENTITY[name]))
        else:
            assert mine == theirs


def test_system_failure_exit_code(septum_firmware: Path, fw_dir: Path) -> None:
    _, stop, out = _run(septum_firmware, helpers.build_payload(fw_dir, final=1))
    assert out.splitlines()[-1] == "srst: shutdown, system failure"
    assert (stop.kind, stop.exit_code) == ("poweroff", sbi.ResetReason.SYSTEM_FAILURE)


def test_cold_reboot_is_a_reset(septum_firmware: Path, fw_dir: Path) -> None:
    _, stop, out = _run(septum_firmware, helpers.build_payload(fw_dir, final=2))
    assert out.splitlines()[-1] == "srst: cold reboot"
    assert stop.kind == "reset"


def test_firmware_fault(septum_firmware_selftest: Path, fw_dir: Path) -> None:
    fault = firmware.build(selftest=True).symbol("sbi_selftest_fault")
    _, stop, out = _run(septum_firmware_selftest, helpers.build_payload(fw_dir, final=3))
    assert out.splitlines()[-1] == (
        f"septum-sbi: fatal trap mcause={Exc.LOAD_ACCESS_FAULT:#018x} "
        f"mepc={fault.value:#018x} mtval={0:#018x}")
    assert (stop.kind, stop.exit_code) == ("poweroff", sbi.FIRMWARE_FAULT_CODE)


def test_console_input(septum_firmware: Path, payload: Path) -> None:
    # Nine bytes typed before boot: console_read takes at most its 8, the
    # legacy getchar the ninth (its value in a0, a1 untouched).
    m = Machine()
    m.boot(bios=str(septum_firmware), kernel=str(payload))
    m.uart_feed(b"ABCDEFGHI")
    stop = m.run(max_insns=MAX_INSNS)
    out = bytes(m.uart_output).decode("latin-1")
    results = helpers.parse_results(out)
    assert results["dbcn.console_read"] == (0, 8)
    assert "read: [ABCDEFGH]" in out.splitlines()
    assert results["legacy.console_getchar"] == (ord("I"), 0x5EB71)
    assert (stop.kind, stop.exit_code) == ("poweroff", 0)
