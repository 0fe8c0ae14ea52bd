"""Septum's build of Unicorn (hypervisor/unicorn_build.py): the count per
translated block against Unicorn's count hook before every instruction.

The reference is always the per-instruction count: the same patched library
with the block count switched off (``cpu.tb_wanted = False``: Unicorn's own
code path, hook and all), and, in a subprocess, the stock wheel from PyPI
(``SEPTUM_UNICORN=stock``).  Everything a caller can see must agree at every
stop: retired instructions, pc, privilege, registers, console output, trap
records, stop reasons -- over slices of every length, so that budgets end
inside blocks, at their first and last instructions, at traps, at device
accesses and at timer interrupts.

CI builds the library (``.ci/run``: ``septum unicorn build``); so does
anyone who follows the README's quick start.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from septum.hypervisor import unicorn_build
from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_elf
from septum.tests.hypervisor.test_blockclock import COMPUTE, FAULTS, SMC, TIMER

#: A guest that reprograms its timer from inside slices (the run loop then
#: lowers the count limit in place, from a device write in mid-block), reads
#: mtime, prints over the UART and sleeps in wfi.
RETARGET = r"""
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s0, 0
    li t0, 0x80                  # MTIE
    csrw mie, t0
    csrsi mstatus, 8             # MIE
again:
    li t0, MTIME
    ld t1, 0(t0)
    addi t1, t1, 37              # 370 instructions from now
    li t0, MTIMECMP
    sd t1, 0(t0)
    addi s1, s1, 1
    c.addi s1, 2
    li t2, 'a'
    add t2, t2, s0
    PUTC t2
    wfi
    li t2, 12
    blt s0, t2, again
    csrw mie, zero
    POWEROFF
.align 2
handler:
    addi s0, s0, 1
    li t0, MTIMECMP
    li t1, -1
    sd t1, 0(t0)
    mret
"""

#: Device interrupts raised from inside slices: each byte written to the
#: UART raises its transmitter-empty interrupt (through PLIC context 0, M
#: external) at once, between long stretches of computation; the handler
#: folds every interrupted pc into s3, so the state at the end says where
#: each interrupt was taken.
UART_IRQ = r"""
.equ PLIC, 0x0c000000
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t0, PLIC + 4 * 10
    li t1, 1
    sw t1, 0(t0)                 # priority of IRQ 10
    li t0, PLIC + 0x2000
    li t1, 1 << 10
    sw t1, 0(t0)                 # enabled for context 0
    li t0, PLIC + 0x200000
    sw zero, 0(t0)               # threshold 0
    li t0, UART0
    li t1, 2
    sb t1, 1(t0)                 # IER: transmitter empty
    li t0, 0x800                 # MEIE
    csrw mie, t0
    csrsi mstatus, 8
    li s0, 40                    # bytes
    li s3, 0
outer:
    li s1, {n}                   # a stretch of computation
inner:
    add s2, s2, s1
    c.addi s2, 1
    addi s1, s1, -1
    bnez s1, inner
    li t2, 'A'
    PUTC t2
    addi s0, s0, -1
    bnez s0, outer
    csrw mie, zero
    POWEROFF
.align 2
handler:
    csrr t3, mepc
    slli s3, s3, 1
    xor s3, s3, t3
    li t4, UART0
    lbu t5, 2(t4)                # IIR: clears the transmitter-empty interrupt
    li t4, PLIC + 0x200004
    lw t5, 0(t4)                 # claim
    sw t5, 0(t4)                 # complete
    addi s4, s4, 1
    mret
"""

GUESTS = {"compute": COMPUTE.format(n=3000), "faults": FAULTS, "smc": SMC, "timer": TIMER,
          "retarget": RETARGET, "uart_irq": UART_IRQ.format(n=700)}
#: The same with stretches long enough for long slices (3.7 M instructions).
LONG_UART_IRQ = UART_IRQ.format(n=23456)


def _state(m: Machine) -> tuple:
    return (m.instret, m.pc, m.priv, tuple(m.cpu.gpr(i) for i in range(32)),
            bytes(m.uart_output), dict(m.trap.counts))


def _sliced(m: Machine, seed: int, budget: int = 200_000) -> list[tuple]:
    """Run in slices of random lengths (1 to 400 instructions); the state
    after each."""
    rng = random.Random(seed)
    seen = []
    while m.instret < budget:
        r = m.run(max_insns=rng.choice((1, 2, 3, rng.randint(1, 40), rng.randint(1, 400))))
        seen.append((r.kind, r.exit_code) + _state(m))
        if r.kind != "budget":
            break
    return seen


def _machine(elf: Path, tb: bool) -> Machine:
    m = Machine(ram_size=16 << 20, clock="count")
    m.cpu.tb_wanted = tb
    m.boot(bios="none", kernel=str(elf))
    return m


def test_septum_unicorn_is_built_and_loaded() -> None:
    # CI and the README's quick start build it: the tests below must compare
    # the two ways of counting, not one with itself.
    assert unicorn_build.built(), f"not built: run 'septum unicorn build' ({unicorn_build.lib_dir()})"
    assert unicorn_build.loaded() == "septum"
    m = Machine(ram_size=16 << 20)
    assert m.cpu.tb_capable and m.cpu.tb_count


@pytest.mark.parametrize("name", sorted(GUESTS))
@pytest.mark.parametrize("seed", [1, 2])
def test_block_count_agrees_with_the_count_hook(name: str, seed: int) -> None:
    elf = build_elf(GUESTS[name])
    a = _machine(elf, tb=True)
    b = _machine(elf, tb=False)
    ra, rb = _sliced(a, seed), _sliced(b, seed)
    assert a.cpu.tb_count and not b.cpu.tb_count
    assert ra == rb
    assert ra[-1][0] == "poweroff"


@pytest.mark.parametrize("name", ["compute", "faults", "retarget"])
def test_one_long_run_agrees(name: str) -> None:
    elf = build_elf(GUESTS[name])
    a, b = _machine(elf, tb=True), _machine(elf, tb=False)
    assert a.run(max_insns=10**8) == b.run(max_insns=10**8)
    assert _state(a) == _state(b)


def test_breakpoints_stop_alike() -> None:
    elf = build_elf(GUESTS["faults"])
    a, b = _machine(elf, tb=True), _machine(elf, tb=False)
    handler = a.symbols["handler"] if "handler" in a.symbols else None
    assert handler is not None
    for _ in range(5):
        ra = a.run(max_insns=10**6, breakpoints=[handler])
        rb = b.run(max_insns=10**6, breakpoints=[handler])
        assert ra.kind == rb.kind == "breakpoint"
        assert _state(a) == _state(b)


@pytest.mark.parametrize("name", sorted(GUESTS) + ["long_uart_irq"])
def test_long_slices_are_invisible(name: str) -> None:
    # One emu_start of up to a million instructions while nothing needs a
    # boundary, short slices otherwise (Machine.long_slice_insns): the same
    # run, counted either way, as short slices only.
    elf = build_elf(LONG_UART_IRQ if name == "long_uart_irq" else GUESTS[name])
    runs = []
    for long in (0, 1_000_000):
        for tb in (True, False):
            m = _machine(elf, tb)
            m.long_slice_insns = long
            traps: list[tuple[int, int, int]] = []
            m.trap.on_trap = lambda c, e, t, tg, m=m: traps.append(  # type: ignore[misc]
                (c, e, m.instret + (m.cpu.counter if m._in_slice else 0)))
            r = m.run(max_insns=10**8)
            runs.append((r.kind, r.exit_code, _state(m), traps))
    assert runs[0][0] == "poweroff"
    assert all(r == runs[0] for r in runs[1:])


def test_long_slices_run_long() -> None:
    # ... and they do run long: a million-instruction stretch of computation
    # is one emu_start, not a hundred.
    m = _machine(build_elf(LONG_UART_IRQ), True)
    starts = []
    real = m.cpu.uc.emu_start
    m.cpu.uc.emu_start = lambda *a: (starts.append(a), real(*a))[1]  # type: ignore[method-assign]
    assert m.run(max_insns=10**8).kind == "poweroff"
    assert m.instret > 3_000_000
    assert len(starts) < m.instret // m.slice_insns // 2
    # An ``until`` keeps short slices, unless it is coarse (a terminal's poll).
    for coarse, few in ((False, False), (True, True)):
        m = _machine(build_elf(LONG_UART_IRQ), True)
        real = m.cpu.uc.emu_start
        starts = []
        m.cpu.uc.emu_start = lambda *a, real=real: (starts.append(a), real(*a))[1]  # type: ignore
        assert m.run(max_insns=10**8, until=lambda: False, until_coarse=coarse).kind == "poweroff"
        assert (len(starts) < m.instret // m.slice_insns // 2) == few


def test_build_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from septum.hypervisor import cli
    monkeypatch.setenv("SEPTUM_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "unicorn-2.1.4.tar.gz"
    bad.write_bytes(b"not the release")
    for argv, what in ((["--sdist", str(tmp_path / "missing.tar.gz")], "missing.tar.gz"),
                       (["--sdist", str(bad)], "sha256"),
                       (["-j", "0"], "--jobs 0")):
        assert cli.main(["unicorn", "build", *argv]) == 2
        err = capsys.readouterr().err
        assert what in err and err.count("\n") == 1, err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.so.2"))
    # A missing tool is named, with the packages that bring it.
    real_which = unicorn_build.shutil.which
    monkeypatch.setattr(unicorn_build.shutil, "which",
                        lambda name: None if name == "cmake" else real_which(name))
    assert cli.main(["unicorn", "build"]) == 2
    err = capsys.readouterr().err
    assert "cmake is not installed" in err and "apt-get install" in err and err.count("\n") == 1
    monkeypatch.setattr(unicorn_build.shutil, "which", real_which)
    # --optional (the README's quick start): say why, and let the next command run.
    assert cli.main(["unicorn", "build", "--optional", "--sdist", str(bad)]) == 0
    err = capsys.readouterr().err
    assert "not built" in err and "sha256" in err and "stock Unicorn" in err


def test_status_says_which_unicorn_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from septum.hypervisor import cli
    assert cli.main(["unicorn", "status"]) == 0
    out = capsys.readouterr().out
    assert "running:  septum unicorn 2.1.4 (count per translated block)" in out
    assert str(unicorn_build.lib_dir()) in out


def test_system_agrees_in_process(tmp_path: Path) -> None:
    # The whole system -- Sv39 address spaces, U/S/M traps, the timer,
    # the UART and virtio-blk, a task crashed and restarted -- in random
    # slices, counted per block and per instruction.
    import septum.testing.system as S
    elf = S.cached_build(S.DEFAULT_MANIFEST, log=lambda s: None)[0]
    lines = [b"put k1 hello\n", b"get k1\n", b"crash storage\n", b"get k1\n", b"uptime\n",
             b"ps\n"]
    runs = []
    for tb in (True, False):
        disk = tmp_path / f"disk-{tb}.img"
        disk.write_bytes(bytes(S.DISK_SIZE))
        m = Machine(ram_size=S.RAM_SIZE, disk=str(disk), clock="count")
        m.cpu.tb_wanted = tb
        m.boot(bios=str(elf))
        rng = random.Random(11)
        seen, typed, mark = [], 0, 0
        while m.instret < 30_000_000:
            r = m.run(max_insns=rng.randint(1, 30_000))
            seen.append((r.kind, m.instret, m.pc, m.priv))
            if b"septum> " in m.uart_output[mark:]:
                if typed == len(lines):
                    break
                m.uart_feed(lines[typed])
                typed += 1
                mark = len(m.uart_output)
        assert m.cpu.tb_count == tb
        runs.append((seen, bytes(m.uart_output), dict(m.trap.counts)))
        m.close()
    assert runs[0] == runs[1]
    out = runs[0][1]
    assert b"restarted storage" in out and out.count(b"hello") == 3  # typed, got, got again
    assert b"recv-wait" in out  # ps ran: every line was typed


#: Run in a subprocess: boot the default system, type two commands, and
#: print every stop as JSON.
_SYSTEM_SCRIPT = r"""
import hashlib, json, random, sys
from septum.hypervisor import unicorn_build
from septum.hypervisor.machine import Machine
import septum.testing.system as S
elf = S.cached_build(S.DEFAULT_MANIFEST, log=lambda s: None)[0]
m = Machine(ram_size=S.RAM_SIZE, clock="count")
m.boot(bios=str(elf))
rng = random.Random(7)
seen, typed, mark = [], 0, 0
lines = [b"help\n", b"put k2 world\n", b"crash console\n", b"get k2\n", b"ps\n"]
while m.instret < 30_000_000:
    r = m.run(max_insns=rng.randint(1, 20_000))
    seen.append([r.kind, m.instret, m.pc, m.priv, len(m.uart_output)])
    if r.kind not in ("budget", "until"):
        break
    if b"septum> " in m.uart_output[mark:]:
        if typed == len(lines):
            break
        m.uart_feed(lines[typed]); typed += 1; mark = len(m.uart_output)
print(json.dumps({"loaded": unicorn_build.loaded(), "tb": m.cpu.tb_count, "seen": seen,
                  "out": hashlib.sha256(bytes(m.uart_output)).hexdigest(),
                  "text": bytes(m.uart_output)[-400:].decode("latin-1")}))
"""


def _system_run(stock: bool) -> dict:
    env = dict(os.environ)
    env.pop("LIBUNICORN_PATH", None)
    if stock:
        env["SEPTUM_UNICORN"] = "stock"
    else:
        env.pop("SEPTUM_UNICORN", None)
    r = subprocess.run([sys.executable, "-c", _SYSTEM_SCRIPT], env=env, capture_output=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    return json.loads(r.stdout)


def test_system_run_agrees_with_the_stock_wheel() -> None:
    ours, stock = _system_run(False), _system_run(True)
    assert (ours["loaded"], ours["tb"]) == ("septum", True)
    assert (stock["loaded"], stock["tb"]) == ("stock", False)
    assert "recv-wait" in ours["text"]  # the output of ps: every command ran
    assert ours["seen"] == stock["seen"]
    assert ours["out"] == stock["out"]
