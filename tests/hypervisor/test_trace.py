"""Instruction trace (hypervisor/trace.py): block capture decoded to the exact
instruction sequence, checked against a naive per-instruction UC_HOOK_CODE
tracer on the same run (the peer); file round trip, filters, detailed mode,
the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from unicorn import UC_HOOK_CODE

from septum.hypervisor import cli
from septum.hypervisor.machine import Machine
from septum.hypervisor.trace import (TraceData, Tracer, filter_insns, format_insn,
                                     load_symbols, task_of_section, tasks_from_elf)
from septum.tests.bench import bareguest
from septum.toolchain.build import build
from septum.toolchain.elf import read_symbols
from septum.toolchain.riscv import Exc

TASKS = Path(__file__).resolve().parent.parent / "kernel" / "tasks"

#: M-mode guest: a loop, then a load from an unmapped address in the middle
#: of a block (access fault: the run loop delivers it) whose handler skips
#: the load, then an ecall from M whose handler skips it too.
FAULT_GUEST = """\
    .option norvc
    .text
    .globl _start
_start:
    la      t0, handler
    csrw    mtvec, t0
    li      t0, 3
1:  addi    t0, t0, -1
    bnez    t0, 1b
    li      t1, 0x100
    addi    a0, zero, 7
    .globl faulting
faulting:
    ld      a1, 0(t1)
    addi    a0, a0, 1
    .globl calling
calling:
    ecall
    addi    a0, a0, 1
    j       done
    .balign 4
handler:
    csrr    t2, mepc
    addi    t2, t2, 4
    csrw    mepc, t2
    mret
"""


def _naive(m: Machine) -> list[int]:
    pcs: list[int] = []
    m.cpu.uc.hook_add(UC_HOOK_CODE, lambda uc, a, s, u: pcs.append(a))
    return pcs


def _traced_run(elf: Path, bios: bool, max_insns: int | None = None,
                symbols_from: Path | None = None) -> tuple[Machine, Tracer, list[int]]:
    m = Machine(ram_size=128 << 20)
    if bios:
        m.boot(bios=str(elf))
    else:
        m.boot(bios="none", kernel=str(elf))
    tasks = tasks_from_elf(elf)
    tr = Tracer(m, load_symbols([elf]), tasks).start()
    pcs = _naive(m)
    m.run(max_insns=max_insns)
    tr.stop()
    return m, tr, pcs


@pytest.fixture(scope="module")
def fault_guest(tmp_path_factory) -> bareguest.Guest:
    return bareguest.build(FAULT_GUEST, tmp_path_factory.mktemp("trace") / "fault.elf")


@pytest.fixture(scope="module")
def hello(tmp_path_factory) -> Path:
    return build(TASKS / "syscalls.toml", tmp_path_factory.mktemp("trace") / "sys.elf").elf


#: Fetch faults: no instruction began, the naive tracer saw nothing.
FETCH = {Exc.INST_PAGE_FAULT, Exc.INST_ACCESS_FAULT, Exc.INST_ADDR_MISALIGNED}


def _retired_from_naive(pcs: list[int], traps: list) -> list[int]:
    """The naive tracer sees every instruction that began, in order; drop the
    ones that trapped (they did not retire).  Its list position is the global
    instruction index, except that an instruction faulting before any of its
    code runs never reaches a UC_HOOK_CODE hook: a fetch fault (not counted
    by instret either) or an illegal instruction at the start of a
    translated block (counted: later positions shift by one)."""
    drop, shift = set(), 0
    for t in traps:
        cause, epc = t.trap
        if cause in FETCH:
            continue
        k = t.index - shift
        if k < len(pcs) and pcs[k] == epc:
            drop.add(k)
        else:
            shift += 1
    return [pc for k, pc in enumerate(pcs) if k not in drop]


def test_bare_guest_matches_naive_tracer(fault_guest):
    m, tr, pcs = _traced_run(fault_guest.elf, bios=False)
    data = tr.data()
    seq = list(data.instructions())
    traps = [t for t in seq if t.trap is not None]
    assert [t.trap for t in traps] == [(Exc.LOAD_ACCESS_FAULT, fault_guest.addr("faulting")),
                                      (Exc.ECALL_M, fault_guest.addr("calling"))]
    got = [t.address for t in seq if t.trap is None]
    assert got == _retired_from_naive(pcs, traps)
    # Every instruction that began is either retired or a trap: Septum's
    # instret counts both.
    assert len(got) + len(traps) == m.instret == data.end


@pytest.fixture(scope="module")
def sys_run(hello):
    return _traced_run(hello, bios=True)


def test_kernel_system_matches_naive_tracer(sys_run):
    m, tr, pcs = sys_run
    seq = list(tr.data().instructions())
    traps = [t for t in seq if t.trap is not None]
    assert any(t.trap[0] in FETCH for t in traps)  # the faulty task jumps into the kernel
    assert len(traps) > 100  # ecalls from U and S, faults of the faulty task
    got = [t.address for t in seq if t.trap is None]
    assert got == _retired_from_naive(pcs, traps)
    # Privilege levels seen: firmware M, kernel S, tasks U.
    assert {t.priv for t in seq if t.trap is None} == {0, 1, 3}


def test_budget_cut_mid_block(fault_guest):
    # A budget that ends inside a block: exactly that many instructions.
    for n in (1, 9, 11):
        m, tr, pcs = _traced_run(fault_guest.elf, bios=False, max_insns=n)
        got = list(tr.data().instructions())
        assert len(got) == n == m.instret
        assert [t.address for t in got] == pcs[:n]


def test_text_format_spike_style(fault_guest):
    _, tr, _ = _traced_run(fault_guest.elf, bios=False)
    lines = [format_insn(t) for t in tr.data().instructions()]
    # QEMU's reset stub starts with auipc t0, 0 at 0x1000 in M-mode.
    assert lines[0].startswith("core   0: 3 0x0000000000001000 (0x00000297) auipc t0, 0")
    start = next(l for l in lines if "<_start>" in l)
    assert re.match(r"core   0: 3 0x0000000080000000 \(0x[0-9a-f]{8}\) ", start)
    assert "core   0: exception load_access_fault, epc 0x%016x" % fault_guest.addr("faulting") \
        in lines


def test_file_round_trip_and_filters(fault_guest, tmp_path):
    _, tr, _ = _traced_run(fault_guest.elf, bios=False)
    path = tmp_path / "t.sptrace"
    tr.save(path)
    back = TraceData.load(path)
    a = [format_insn(t) for t in tr.data().instructions()]
    b = [format_insn(t) for t in back.instructions()]
    assert a == b
    lo, hi = fault_guest.addr("_start"), fault_guest.addr("faulting")
    sel = list(filter_insns(back, back.instructions(), lo=lo, hi=hi))
    assert sel and all(lo <= t.address < hi for t in sel)
    win = list(filter_insns(back, back.instructions(), window=(3, 4)))
    assert [t.index for t in win] == [3, 4, 5, 6]
    sym = list(filter_insns(back, back.instructions(), symbol="handler"))
    assert len(sym) == 2 * 4 and all(t.insn.symbol.startswith("handler") for t in sym)
    assert list(filter_insns(back, back.instructions(), priv="U")) == []


def test_task_and_priv_filters(sys_run):
    _, tr, _ = sys_run
    data = tr.data()
    tasks = {t.name: t for t in data.tasks}
    assert set(tasks) == {"super", "server", "faulty", "idle"}
    sel = list(filter_insns(data, data.instructions(), task="server", priv="U"))
    lo, hi = min(r[0] for r in tasks["server"].ranges), max(r[1] for r in tasks["server"].ranges)
    assert sel and all(t.priv == 0 and lo <= t.address < hi for t in sel)


def test_task_symbols_are_qualified_by_section(sys_run, hello):
    """A task's pc resolves among its own symbols (the ELF's .task.NAME.*
    sections): each task's ``_start`` reads ``NAME:_start``, though every
    task has one."""
    _, tr, _ = sys_run
    data = tr.data()
    starts = {task_of_section(s.section): s.value for s in read_symbols(hello)
              if s.name == "_start" and task_of_section(s.section)}
    assert set(starts) == {"super", "server", "faulty", "idle"}
    assert len(set(starts.values())) == 4
    first = {}
    user = 0
    for ti in data.instructions():
        if ti.trap is not None:
            continue
        first.setdefault(ti.address, ti.insn.symbol)
        if ti.priv == 0:
            user += 1
            assert ti.insn.symbol.startswith(data.task_of(ti) + ":"), ti
    assert user > 0
    for task, addr in starts.items():
        assert first[addr] == f"{task}:_start"
    # A runtime routine every task links: each copy under its own task.
    shared = [s for s in read_symbols(hello) if s.name == "rt_ok"]
    assert len({task_of_section(s.section) for s in shared}) >= 2
    sym = data.symbolizer()
    for s in shared:
        assert sym.lookup(s.value) == f"{task_of_section(s.section)}:rt_ok"
        assert sym.lookup(s.value + 4) == f"{task_of_section(s.section)}:rt_ok+0x4"


def test_cli_show_task_symbols(sys_run, tmp_path, capsys):
    _, tr, _ = sys_run
    path = tmp_path / "sys.sptrace"
    tr.save(path)
    assert cli.main(["trace", "show", str(path), "--task", "server", "--priv", "U"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all("<server:" in l for l in out)
    assert cli.main(["trace", "show", str(path), "--symbol", "server:_start"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all("<server:_start" in l for l in out)
    # A bare name is the firmware's or the kernel's when they have one ...
    assert cli.main(["trace", "show", str(path), "--symbol", "_start"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all("<_start" in l for l in out)
    # ... else ambiguous when several tasks define it.
    assert cli.main(["trace", "show", str(path), "--symbol", "rt_ok"]) == 2
    err = capsys.readouterr().err
    assert "give TASK:rt_ok" in err and err.count("\n") == 1
    assert cli.main(["trace", "show", str(path), "--symbol", "nosuch:_start"]) == 2


def test_detailed_register_writes(fault_guest):
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(fault_guest.elf))
    tr = Tracer(m, load_symbols([fault_guest.elf]), detailed=True).start()
    m.run()
    tr.stop()
    seq = [t for t in tr.data().instructions() if t.trap is None]
    li = next(t for t in seq if t.insn.text() == "addi a0, zero, 7")
    assert li.writes == [(10, 7)]
    assert "a0 0x0000000000000007" in format_insn(li, detailed=True)


def test_cli_show(fault_guest, tmp_path, capsys):
    _, tr, _ = _traced_run(fault_guest.elf, bios=False)
    path = tmp_path / "t.sptrace"
    tr.save(path)
    assert cli.main(["trace", "show", str(path), "--symbol", "handler", "--window", "0:1000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 8 and all("<handler" in l for l in out)
    assert cli.main(["trace", "show", str(path), "--priv", "X"]) == 2
    assert cli.main(["trace", "show", str(path), "--task", "nope"]) == 2
    bad = tmp_path / "bad"
    bad.write_bytes(b"not a trace")
    assert cli.main(["trace", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a Septum trace file" in err and "Traceback" not in err


@pytest.mark.parametrize("mode", ["text", "detailed"])
def test_run_option_text_modes(fault_guest, tmp_path, mode):
    import argparse

    from septum.hypervisor.trace_cli import add_observe_arguments, attach_observers

    p = argparse.ArgumentParser()
    add_observe_arguments(p)
    out = tmp_path / "t.txt"
    args = p.parse_args(["--trace", str(out), "--trace-mode", mode])
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(fault_guest.elf))
    close = attach_observers(m, args, [fault_guest.elf])
    m.run()
    close()
    lines = out.read_text().splitlines()
    assert len([l for l in lines if "exception" not in l]) == m.instret - 2
    li = next(l for l in lines if "addi a0, zero, 7" in l)
    assert ("a0 0x0000000000000007" in li) == (mode == "detailed")


def test_trace_across_reset(fault_guest):
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(fault_guest.elf))
    tr = Tracer(m, load_symbols([fault_guest.elf])).start()
    m.run()
    first = m.instret
    m.reset()
    m.run()
    tr.stop()
    assert "restore" not in m.__dict__ and "reset" not in m.__dict__  # wrappers gone
    seq = list(tr.data().instructions())
    marks = [i for i, t in enumerate(seq) if t.trap is not None and "snapshot" in format_insn(t)]
    assert len(marks) == 1
    before, after = seq[:marks[0]], seq[marks[0] + 1:]
    # The same program twice: the same lines, indices still increasing.
    assert [format_insn(t) for t in before] == [format_insn(t) for t in after]
    assert len(before) == first
    idx = [t.index for t in seq if t.trap is None]
    assert idx == sorted(idx) and len(set(idx)) == len(idx)
