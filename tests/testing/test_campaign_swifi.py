"""The swifi rig's mechanics: where faults land and how outcomes are told.

A fault the spec says must trap (the shell's saved pc pointed at an
unmapped address: an instruction page fault in U-mode) is seen as a
restart by the supervisor and the system answers; a fault that breaks the
kernel itself (its system-call dispatcher overwritten with an illegal
instruction: a trap from S-mode, the kernel's panic path) is classified as
a kernel crash; every injection kind changes exactly the state it names.
"""

from __future__ import annotations

import random

import pytest

from septum.testing.campaign import swifi


@pytest.fixture(scope="module")
def rig():
    r = swifi.SwifiRig()
    yield r
    r.close()


def test_bad_pc_in_a_server_is_restarted_and_the_system_answers(rig):
    rig.fresh()
    shell = rig.names.index("shell")
    rig.m.write_phys(rig.tcb(shell) + swifi.TF_PC, (0x10).to_bytes(8, "little"))
    answer = rig.command("put k v")
    assert answer is not None
    log = rig.out[rig.out_mark:].decode(errors="replace")
    # Exc.INST_PAGE_FAULT = 12 (privileged spec, scause), tval = the pc.
    assert f"kernel: task {shell:#x} stopped: cause=0xc tval=0x10" in log
    assert "supervisor: shell faulted" in log
    again = rig.command("put k v")
    assert again == "ok\n"
    assert rig.command("get k") == "v\n"


def test_broken_kernel_is_a_crash(rig, monkeypatch):
    from septum.tests.kernel.ipcbench import symbols
    from septum.hypervisor.boot_cli import DEFAULT_MANIFEST, cached_build

    elf, _ = cached_build(DEFAULT_MANIFEST)
    dispatch = symbols(elf)["syscall_dispatch"]
    dispatch += swifi._KVA_OFFSET if dispatch < 0x8000_0000 else 0

    def break_kernel(rng, target, kind):
        rig.m.write_phys(dispatch, bytes(4))  # all zeros: an illegal instruction
        # The kernel runs it at its virtual address: drop every translation.
        rig.m.cpu.uc.ctl_flush_tb()
        return "kernel dispatcher zeroed"

    monkeypatch.setattr(rig, "inject", break_kernel)
    res = rig.run_fault(0, 0)
    assert res.outcome == "crash", res
    assert "kernel panic" in rig.out.decode(errors="replace")


@pytest.mark.parametrize("kind", swifi.KINDS)
def test_each_kind_changes_the_target_only(rig, kind):
    rig.fresh()
    rng = random.Random(kind)
    regions = {n: rig.regions(i) for i, n in enumerate(rig.names)}
    span = lambda rs: [(b, s) for b, s, _ in rs]  # noqa: E731

    def dump() -> dict[str, bytes]:
        out = {}
        for i, name in enumerate(rig.names):
            mem = b"".join(rig.m.read_phys(b, s) for b, s in span(regions[name]))
            out[name] = rig.m.read_phys(rig.tcb(i), 8 * 33) + mem
        return out

    for target in swifi.TARGETS:
        before = dump()
        detail = rig.inject(rng, target, kind)
        after = dump()
        changed = {n for n in rig.names if before[n] != after[n]}
        # A random word may equal the old one; a bit flip always changes.
        assert changed == {target} or (kind in ("insn", "wild") and not changed), detail


def test_reboot_keeps_the_disk(rig):
    rig.fresh()
    assert rig.command("put k v") == "ok\n"
    mark = len(rig.out)
    assert rig.reboot() is not None
    assert b"Septum microkernel" in rig.out[mark:]
    assert rig.command("get k") == "v\n"


def test_records_gone_from_the_disk_are_lost(rig, monkeypatch):
    def wipe_disk(rng, target, kind):
        # The disk back to blank, and storage made to fault (pc 0x10 is
        # unmapped) so its restart reads the blank disk.
        rig.m.disk.overlay.clear()
        storage = rig.names.index("storage")
        rig.m.write_phys(rig.tcb(storage) + swifi.TF_PC, (0x10).to_bytes(8, "little"))
        return "disk wiped"

    monkeypatch.setattr(rig, "inject", wipe_disk)
    res = rig.run_fault(0, 3)  # fault 3 of seed 0 is a register fault: at the prompt
    assert res.acked == swifi.RECORDS
    assert res.outcome == "not_recovered", res
    assert res.lost == res.acked, res
