"""The storage server's disk completions are interrupt-driven
(userland/storage/blk.S): the manifest routes virtio7's PLIC source to the
task; while a request is in flight the server sleeps in a notifications-only
RECV (NOTIFY_WAIT), then acknowledges the device (InterruptStatus ->
InterruptACK) and the kernel (IRQ_ACK).

Septum's board completes a request at its QueueNotify, so most tests here
give the disk QEMU's behaviour instead: :class:`storage_rig.SlowDisk`
completes each request some virtual time later.  A polling driver would
never be in NOTIFY_WAIT then (it YIELDs, staying READY)."""

from __future__ import annotations

from pathlib import Path

from septum.hypervisor import memmap
from septum.hypervisor.machine import DISK_SLOT, Machine
from septum.kernel.abi import Tcb, TaskState
from septum.testing.inject import Injector
from septum.toolchain.manifest import load_manifest

from .storage_rig import (
    BUDGET, OK, ROOT, SlowDisk, Script, build_system, client_lines, make_disk, replay, symbol)

DISK_IRQ = memmap.VIRTIO_IRQ_BASE + DISK_SLOT
PLIC_S_CONTEXT = 1
STORAGE, CLIENT = 1, 2  # task indices in the rig's manifest (tsuper first)
SLOW_TICKS = 20_000  # 2 ms of virtual time per request
SPARE_BIT = 1 << 5  # a notification bit nobody routes or sends


def _script() -> Script:
    s = Script()
    for i in range(6):
        s.put(b"k%d" % (i % 3), b"value %d" % i)
    return s.get(b"k1").delete(b"k2").crash().get(b"k0").ls()


def _boot(elf: Path, disk: Path, slow: int = 0) -> tuple[Machine, SlowDisk | None]:
    m = Machine(ram_size=128 << 20, disk=str(disk))
    m.boot(bios=str(elf))
    return m, (SlowDisk(m, slow) if slow else None)


def _state(m: Machine, task: int) -> int:
    addr = m.symbols["tcbs"] + task * Tcb.SIZE + Tcb.STATE
    return int.from_bytes(m.read_phys(addr, 8), "little")


def _finish(m: Machine) -> list[str]:
    stop = m.run(max_insns=BUDGET)
    out = m.uart_output.decode(errors="replace")
    assert stop.kind == "poweroff" and stop.exit_code == 0, (stop, out[-2000:])
    return client_lines([ln for ln in out.splitlines()
                         if ln.split(" ", 1)[0] in ("put", "get", "del", "ls")])


def _interrupt_clean(m: Machine) -> None:
    """The device's line is down and the PLIC source unmasked: nothing of a
    request's interrupt is left behind."""
    assert m.virtio[DISK_SLOT].interrupt_status == 0
    assert not m.plic.pending >> DISK_IRQ & 1
    assert m.plic.enable[PLIC_S_CONTEXT] >> DISK_IRQ & 1


def test_the_system_manifest_routes_the_disk_interrupt_to_storage():
    storage = load_manifest(ROOT / "userland" / "system.toml").task("storage")
    assert DISK_IRQ in storage.interrupts


def test_the_server_sleeps_while_the_disk_works(tmp_path):
    elf = build_system(tmp_path, _script())
    m, slow = _boot(elf, make_disk(tmp_path / "d.img", 200), SLOW_TICKS)
    assert slow is not None
    try:
        # Each time the kernel goes idle (nothing READY): is the server
        # asleep with a request in flight?  Requests are told apart by how
        # many completed before.
        slept_through: set[int] = set()
        while True:
            stop = m.run(max_insns=BUDGET, breakpoints=[m.symbols["idle"]])
            if stop.kind != "breakpoint":
                break
            if slow.due and _state(m, STORAGE) == TaskState.NOTIFY_WAIT:
                slept_through.add(slow.completed)
        out = m.uart_output.decode(errors="replace")
        assert stop.kind == "poweroff" and stop.exit_code == 0, (stop, out[-2000:])
        # Every request of the run was slept through: the mount's reads and
        # format, two per PUT and DEL (write + flush), the restart's mount.
        assert slow.completed >= 7 * 2 + 2
        assert slept_through == set(range(slow.completed))
        _interrupt_clean(m)
    finally:
        m.close()


def test_slow_disk_gives_the_same_answers_and_disk(tmp_path):
    elf = build_system(tmp_path, _script())
    results = []
    for slow_ticks in (0, SLOW_TICKS):
        disk = make_disk(tmp_path / f"d{slow_ticks}.img", 200)
        m, slow = _boot(elf, disk, slow_ticks)
        try:
            lines = _finish(m)
            _interrupt_clean(m)
            assert slow is None or slow.completed > 0
        finally:
            m.close()
        results.append((lines, replay(disk.read_bytes()), disk.read_bytes()))
    (fast_lines, fast_map, fast_img), (slow_lines, slow_map, slow_img) = results
    assert fast_lines == slow_lines
    assert fast_lines[:6] == [f"put k{i % 3} {OK}" for i in range(6)]
    assert fast_lines[6:] == [f"get k1 {OK} value 4", f"del k2 {OK}",
                              f"get k0 {OK} value 3", f"ls {OK} 02 k0 k1"]
    assert fast_map == slow_map == {b"k0": b"value 3", b"k1": b"value 4"}
    assert fast_img == slow_img


def test_other_notification_bits_during_the_disk_wait_are_kept(tmp_path):
    elf = build_system(tmp_path, Script().put(b"a", b"1").get(b"a"))
    m, slow = _boot(elf, make_disk(tmp_path / "d.img", 200), SLOW_TICKS)
    assert slow is not None
    try:
        # The first PUT: wait for the server to sleep on its write.
        stop = m.run(max_insns=BUDGET, breakpoints=[symbol(elf, "op_put")])
        assert stop.kind == "breakpoint"
        stop = m.run(max_insns=BUDGET, breakpoints=[m.symbols["idle"]])
        assert stop.kind == "breakpoint"
        assert slow.due and _state(m, STORAGE) == TaskState.NOTIFY_WAIT
        # A bit arrives while it sleeps: pending with the disk's when the
        # completion wakes it (the kernel hands over every pending bit).
        notif = m.symbols["tcbs"] + STORAGE * Tcb.SIZE + Tcb.NOTIF
        m.write_phys(notif, (int.from_bytes(m.read_phys(notif, 8), "little")
                             | SPARE_BIT).to_bytes(8, "little"))
        # The request finishes first, then the kept bit reaches the
        # server's handler, and only once.
        stop = m.run(max_insns=BUDGET, breakpoints=[symbol(elf, "srv_notes")])
        assert stop.kind == "breakpoint"
        assert m.regs.a0 & SPARE_BIT
        assert int.from_bytes(m.read_phys(symbol(elf, "blk_notes"), 8), "little") == 0
        assert _state(m, CLIENT) == TaskState.READY  # answered already
        assert _finish(m) == [f"put a {OK}", f"get a {OK} 1"]
    finally:
        m.close()


def test_a_lost_disk_interrupt_costs_a_timeout_not_the_server(tmp_path):
    elf = build_system(tmp_path, _script())
    disk = make_disk(tmp_path / "d.img", 200)
    m, slow = _boot(elf, disk, SLOW_TICKS)
    try:
        line = Injector(m, ntasks=3).line(DISK_IRQ)
        line.drop = 3  # three completions never reach the PLIC
        lines = _finish(m)
        assert line.events.count("dropped") == 3
        _interrupt_clean(m)
    finally:
        m.close()
    assert lines[:6] == [f"put k{i % 3} {OK}" for i in range(6)]
    assert replay(disk.read_bytes()) == {b"k0": b"value 3", b"k1": b"value 4"}


def test_interrupts_taken_at_any_instruction_leave_nothing_behind(tmp_path):
    # Septum's board hands a raised line to the hart at the end of a slice.
    # Short slices end one between QueueNotify and the driver's ACK too:
    # then the kernel takes the interrupt, masks the source and posts the
    # bit, which the server's loop must acknowledge (blk_note -> blk_intr)
    # or the next interrupt would never come.
    elf = build_system(tmp_path, _script())
    late = 0
    for slice_insns in (7, 29, 97):
        disk = make_disk(tmp_path / f"d{slice_insns}.img", 200)
        m = Machine(ram_size=128 << 20, disk=str(disk), slice_insns=slice_insns)
        try:
            m.boot(bios=str(elf))
            while (stop := m.run(max_insns=BUDGET, breakpoints=[symbol(elf, "blk_intr")])
                   ).kind == "breakpoint":
                late += 1
            assert stop.kind == "poweroff" and stop.exit_code == 0, stop
            _interrupt_clean(m)
            out = m.uart_output.decode(errors="replace").splitlines()
        finally:
            m.close()
        assert [ln for ln in out if ln.startswith(("put", "get", "del", "ls"))][6:] == [
            f"get k1 {OK} value 4", f"del k2 {OK}", f"get k0 {OK} value 3", f"ls {OK} 02 k0 k1"]
        assert replay(disk.read_bytes()) == {b"k0": b"value 3", b"k1": b"value 4"}
    assert late > 0  # the late-interrupt path did run
