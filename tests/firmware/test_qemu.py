"""The firmware on real QEMU (``qemu-system-riscv64 -M virt``), driven by the
S-mode test payload: every SBI call's result, PMP isolation of the firmware
region, interrupt forwarding, and every way of ending a run.

Expected values come from the SBI 2.0 specification (through
:mod:`septum.firmware.sbi`) and the privileged specification's cause codes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from septum.firmware import sbi
from septum.firmware.sbi import Ext, HsmState, SbiError
from septum.hypervisor.memmap import FIRMWARE_BASE, KERNEL_BASE
from septum.tests.firmware import helpers
from septum.toolchain.riscv import CAUSE_INTERRUPT, Exc, Irq

OK = SbiError.SUCCESS
NOT_SUPPORTED = SbiError.NOT_SUPPORTED
INVALID = SbiError.INVALID_PARAM

#: name -> (error, value) for every call whose value the spec or this
#: firmware's documented choices fix.
EXPECTED: dict[str, tuple[int, int]] = {
    "boot.hartid": (0, 0),
    "base.get_spec_version": (OK, sbi.SPEC_VERSION),
    "base.get_impl_id": (OK, sbi.IMPL_ID),
    "base.get_impl_version": (OK, sbi.IMPL_VERSION),
    "base.probe.base": (OK, 1),
    "base.probe.time": (OK, 1),
    "base.probe.ipi": (OK, 1),
    "base.probe.rfence": (OK, 1),
    "base.probe.hsm": (OK, 1),
    "base.probe.srst": (OK, 1),
    "base.probe.dbcn": (OK, 1),
    "base.probe.legacy_putchar": (OK, 1),
    "base.probe.legacy_getchar": (OK, 1),
    "base.probe.unknown": (OK, 0),
    "base.bad_fid": (NOT_SUPPORTED, 0),
    "unknown_extension": (NOT_SUPPORTED, 0),
    "ipi.send_ipi.self": (OK, 0),
    "ipi.send_ipi.all": (OK, 0),
    "ipi.send_ipi.nobody": (OK, 0),
    "ipi.send_ipi.hart1": (INVALID, 0),
    "ipi.send_ipi.base1": (INVALID, 0),
    "rfence.remote_fence_i": (OK, 0),
    "rfence.remote_sfence_vma": (OK, 0),
    "rfence.remote_sfence_vma_asid": (OK, 0),
    "rfence.remote_fence_i.hart1": (INVALID, 0),
    "rfence.remote_hfence_gvma": (NOT_SUPPORTED, 0),
    "hsm.hart_get_status.0": (OK, HsmState.STARTED),
    "hsm.hart_get_status.1": (INVALID, 0),
    "hsm.hart_start.0": (SbiError.ALREADY_AVAILABLE, 0),
    "hsm.hart_start.1": (INVALID, 0),
    "hsm.hart_suspend.reserved": (INVALID, 0),
    "hsm.hart_suspend.platform": (INVALID, 0),
    "hsm.hart_suspend.non_retentive": (NOT_SUPPORTED, 0),
    "hsm.hart_stop": (SbiError.FAILED, 0),
    "hsm.hart_suspend.retentive": (OK, 0),
    "time.set_timer.future": (OK, 0),
    "time.set_timer.past": (OK, 0),
    "time.bad_fid": (NOT_SUPPORTED, 0),
    "dbcn.console_write": (OK, len("dbcn: hello\n")),
    "dbcn.console_write.firmware": (INVALID, 0),
    "dbcn.console_write.straddle": (INVALID, 0),
    "dbcn.console_write.wrap": (INVALID, 0),
    "dbcn.console_write.base_hi": (INVALID, 0),
    "dbcn.console_write_byte": (OK, 0),
    "dbcn.console_read": (OK, 0),  # no input: nothing read
    "dbcn.console_read.firmware": (INVALID, 0),
    "dbcn.bad_fid": (NOT_SUPPORTED, 0),
    "srst.reserved_type": (INVALID, 0),
    "srst.vendor_type": (INVALID, 0),
    "srst.reserved_reason": (INVALID, 0),
    "srst.vendor_reason": (INVALID, 0),
    "srst.bad_fid": (NOT_SUPPORTED, 0),
}


def _trap(cause: int, tval: int) -> str:
    return f"trap: scause={cause:#018x} stval={tval:#018x}"


def _irq(code: int) -> str:
    return f"irq: scause={CAUSE_INTERRUPT | code:#018x}"


def test_every_sbi_result(qemu_run: helpers.Run) -> None:
    results = helpers.parse_results(qemu_run.output)
    got = {name: results.get(name) for name in EXPECTED}
    assert got == EXPECTED


def test_probe_agrees_with_the_python_table(qemu_run: helpers.Run) -> None:
    results = helpers.parse_results(qemu_run.output)
    probed = {"base": Ext.BASE, "time": Ext.TIME, "ipi": Ext.IPI, "rfence": Ext.RFENCE,
              "hsm": Ext.HSM, "srst": Ext.SRST, "dbcn": Ext.DBCN,
              "legacy_putchar": Ext.LEGACY_CONSOLE_PUTCHAR,
              "legacy_getchar": Ext.LEGACY_CONSOLE_GETCHAR}
    for name, ext in probed.items():
        assert results[f"base.probe.{name}"][1] == int(ext in sbi.SUPPORTED_EXTENSIONS), name


def test_legacy_getchar_without_input_is_minus_one(qemu_run: helpers.Run) -> None:
    # a legacy call returns a0 only: the payload's a1 marker comes back as it was
    assert helpers.parse_results(qemu_run.output)["legacy.console_getchar"] == (-1, 0x5EB71)
    assert "read: []" in qemu_run.output.splitlines()


def test_console_output_of_dbcn_calls(qemu_run: helpers.Run) -> None:
    lines = qemu_run.output.splitlines()
    # console_write printed its buffer just before its own report; the two
    # write_byte calls printed "!" and a newline.
    i = lines.index("dbcn: hello")
    assert lines[i + 1].startswith("dbcn.console_write err=0 ")
    j = lines.index("!")
    assert lines[j + 1].startswith("dbcn.console_write_byte err=0 ")
    # nothing of the firmware region leaked through the refused writes
    assert lines[i + 2].startswith("dbcn.console_write.firmware err=")


def test_firmware_region_is_out_of_bounds_for_s_mode(qemu_run: helpers.Run) -> None:
    lines = qemu_run.output.splitlines()
    start = lines.index("srst.bad_fid err=-2 val=0x0000000000000000") + 1
    assert lines[start:start + 5] == [
        _trap(Exc.LOAD_ACCESS_FAULT, FIRMWARE_BASE),
        _trap(Exc.LOAD_ACCESS_FAULT, KERNEL_BASE - 8),  # the region's last dword
        _trap(Exc.STORE_ACCESS_FAULT, FIRMWARE_BASE + 0x1000),
        _trap(Exc.INST_ACCESS_FAULT, FIRMWARE_BASE),
        "pmp: own memory readable",
    ]


def test_interrupts_reach_s_mode_in_order(qemu_run: helpers.Run) -> None:
    lines = helpers.payload_lines(qemu_run.output)
    events = [line.split(" err=")[0] if " err=" in line else line
              for line in lines if line.startswith(("irq:", "ipi.", "time.", "hsm.hart_suspend.r"))]
    ssi, sti = _irq(Irq.SSI), _irq(Irq.STI)
    assert events == [
        "ipi.send_ipi.self", ssi, "ipi.send_ipi.all", ssi, "ipi.send_ipi.nobody",
        "ipi.send_ipi.hart1", "ipi.send_ipi.base1",
        "hsm.hart_suspend.reserved",
        "time.set_timer.future", sti, "time.set_timer.past", sti,
        "hsm.hart_suspend.retentive", sti, "time.bad_fid",
    ]


def test_shutdown_exits_zero(qemu_run: helpers.Run) -> None:
    assert qemu_run.output.splitlines()[-1] == "srst: shutdown"
    assert qemu_run.returncode == 0


def test_shutdown_for_system_failure_exits_one(gnu_firmware: Path, fw_dir: Path) -> None:
    run = helpers.run_qemu(gnu_firmware, helpers.build_payload(fw_dir, final=1))
    assert run.output.splitlines()[-1] == "srst: shutdown, system failure"
    assert run.returncode == sbi.ResetReason.SYSTEM_FAILURE  # the finisher's code field


def test_cold_reboot_restarts_the_payload(gnu_firmware: Path, fw_dir: Path) -> None:
    kernel = helpers.build_payload(fw_dir, final=2)
    cmd = [helpers.QEMU, "-M", "virt", "-smp", "1", "-nographic", "-monitor", "none",
           "-serial", "stdio", "-bios", str(gnu_firmware), "-kernel", str(kernel)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    starts = 0
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if raw.rstrip(b"\r\n") == b"payload: start":
                starts += 1
                if starts == 2:  # the finisher's reset rebooted firmware and payload
                    break
    finally:
        proc.kill()
        proc.wait(timeout=helpers.QEMU_TIMEOUT)
    assert starts == 2


def test_firmware_fault_is_reported_and_fails_the_run(gnu_firmware_selftest: Path,
                                                      fw_dir: Path) -> None:
    run = helpers.run_qemu(gnu_firmware_selftest, helpers.build_payload(fw_dir, final=3))
    with open(gnu_firmware_selftest, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        fault_pc = symtab.get_symbol_by_name("sbi_selftest_fault")[0]["st_value"]
    assert run.output.splitlines()[-1] == (
        f"septum-sbi: fatal trap mcause={Exc.LOAD_ACCESS_FAULT:#018x} "
        f"mepc={fault_pc:#018x} mtval={0:#018x}")
    assert run.returncode == sbi.FIRMWARE_FAULT_CODE


def test_selftest_extension_only_in_selftest_builds(gnu_firmware_selftest: Path,
                                                    fw_dir: Path) -> None:
    # The default build answers the self-test EID like any unknown one: the
    # payload's final call then returns and it reports the result.
    run = helpers.run_qemu(helpers.build_firmware(fw_dir), helpers.build_payload(fw_dir, final=3))
    assert helpers.parse_results(run.output)["srst.returned"] == (NOT_SUPPORTED, 0)
    assert run.returncode == sbi.ResetReason.SYSTEM_FAILURE


def test_other_harts_park(gnu_firmware: Path, payload: Path, qemu_run: helpers.Run) -> None:
    # With two harts the second one waits in wfi and never disturbs hart 0.
    cmd = [helpers.QEMU, "-M", "virt", "-smp", "2", "-m", "128M", "-nographic",
           "-monitor", "none", "-serial", "stdio", "-no-reboot",
           "-bios", str(gnu_firmware), "-kernel", str(payload)]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=helpers.QEMU_TIMEOUT)
    assert proc.stdout.decode("latin-1").replace("\r\n", "\n") == qemu_run.output
    assert proc.returncode == 0
