"""The same S-mode payload under QEMU's own OpenSBI (``-bios default``, the
reference SBI implementation, here v1.1 implementing SBI 1.0) and under our
firmware: every result must agree except the differences listed below, each
with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum.tests.firmware import helpers

#: Calls whose results differ for a known reason.
KNOWN_DIFFERENCES = {
    # Who we are: SBI 2.0 and our own implementation ID/version.
    "base.get_spec_version", "base.get_impl_id", "base.get_impl_version",
    # OpenSBI 1.1 predates the DBCN extension.
    "base.probe.dbcn", "dbcn.console_write", "dbcn.console_write.firmware",
    "dbcn.console_write.straddle", "dbcn.console_write.wrap", "dbcn.console_write.base_hi",
    "dbcn.console_write_byte", "dbcn.console_read", "dbcn.console_read.firmware",
    # SBI 2.0 made a hart mask naming a missing hart INVALID_PARAM; SBI 1.0
    # implementations skip such harts.
    "ipi.send_ipi.hart1", "rfence.remote_fence_i.hart1",
    # QEMU's default CPU has the H extension, which OpenSBI serves; we do not.
    "rfence.remote_hfence_gvma",
    # SBI 2.0: a platform-specific, unimplemented suspend type is
    # INVALID_PARAM; OpenSBI 1.1 answers NOT_SUPPORTED.
    "hsm.hart_suspend.platform",
}


@pytest.fixture(scope="module")
def runs(gnu_firmware: Path, fw_dir: Path) -> tuple[helpers.Run, helpers.Run]:
    payload = helpers.build_payload(fw_dir, peer=True)
    return helpers.run_qemu(gnu_firmware, payload), helpers.run_qemu("default", payload)


def test_results_agree_with_opensbi(runs: tuple[helpers.Run, helpers.Run]) -> None:
    ours, peer = (helpers.parse_results(r.output) for r in runs)
    assert set(ours) == set(peer)
    assert len(ours) > 40
    same = {k: v for k, v in ours.items() if k not in KNOWN_DIFFERENCES}
    assert same == {k: peer[k] for k in same}
    # and each listed difference is real (the list must not go stale)
    assert all(ours[k] != peer[k] for k in KNOWN_DIFFERENCES)


def test_interrupts_faults_and_exit_agree_with_opensbi(
        runs: tuple[helpers.Run, helpers.Run]) -> None:
    ours, peer = runs

    def events(run: helpers.Run) -> list[str]:
        return [line for line in helpers.payload_lines(run.output)
                if line.startswith(("irq:", "trap:", "pmp:", "srst:"))]

    # OpenSBI's region is smaller than ours (512 KiB): our extra probe of the
    # top of our 2 MiB region faults only here.
    extra = "trap: scause=0x0000000000000005 stval=0x00000000801ffff8"
    assert [e for e in events(ours) if e != extra] == events(peer)
    assert extra in events(ours)
    assert ours.returncode == peer.returncode == 0
