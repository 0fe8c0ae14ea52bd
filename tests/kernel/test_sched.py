"""Preemption: spinning lower-priority tasks never delay a more urgent one's
timer wake-ups by a time slice; equal priorities share the CPU."""

from __future__ import annotations

import re

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build
from septum.toolchain.manifest import load_manifest

from .conftest import TASKS, build_kernel, run_qemu


def _lateness(out: str) -> list[int]:
    return [int(x, 16) for x in re.findall(r"^late (0x[0-9a-f]+)$", out, re.M)]


def test_preemption_on_board(tmp_path, fastpath):
    tick = load_manifest(TASKS / "preempt.toml").tick
    res = build(TASKS / "preempt.toml", tmp_path / "p.elf", fastpath=fastpath)
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(res.elf))
    stop = m.run(max_insns=300_000_000)
    assert stop.kind == "poweroff" and stop.exit_code == 0
    out = m.uart_output.decode()
    late = _lateness(out)
    assert len(late) == 5
    # Virtual time: woken well within one time slice of its deadline,
    # though two tasks spin below it and never yield.
    assert all(0 <= x < tick for x in late), late
    assert "ok shared" in out  # both spinners reported ROUNDS times


def test_preemption_under_qemu(tmp_path, fastpath):
    res = build_kernel("preempt.toml", tmp_path / "p.elf", fastpath=fastpath)
    out = run_qemu(res.elf)
    assert len(_lateness(out)) == 5
    assert "ok shared" in out
