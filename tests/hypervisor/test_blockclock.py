"""The block clock (hypervisor/blockclock.py) against count mode.

``Machine(clock="count")`` runs every slice with Unicorn's per-instruction
count, the way the board always counted; the block clock counts per
translated block, natively (the compiled callback) or in Python (the ctypes
fallback).  The three must agree on everything a guest or a caller can see
at an exact point: retired instructions, pc, registers and console output
after an instruction budget, at a breakpoint, at a trap; and the two block
clock implementations must agree on everything, always.

Expected values all come from count-mode runs (the reference) or from the
guests' own arithmetic, never from the block clock itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from septum.hypervisor.blockclock import count_insns, native_library
from septum.hypervisor.machine import COUNT_MODE_BELOW, Machine
from septum.tests.hypervisor import peer
from septum.tests.hypervisor.build import build_elf
from septum.toolchain.riscv import Exc

#: The three clocks: (clock, clock_impl).
CLOCKS = [("count", "auto"), ("block", "native"), ("block", "python")]

#: A compute loop with compressed and full-size instructions mixed.
COMPUTE = r"""
.globl _start
_start:
    li a0, {n}
    li a1, 0
loop:
    add a1, a1, a0
    c.addi a1, 3
    xor a2, a1, a0
    addi a0, a0, -1
    bnez a0, loop
    POWEROFF
"""

#: Faults inside blocks: an illegal instruction and an access fault (a load
#: from an unmapped physical address) in the middle of straight-line code,
#: each handler skipping the faulting instruction.
FAULTS = r"""
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s0, 200
    li s1, 0
again:
    addi s1, s1, 1
    addi s1, s1, 1
    .word 0xffffffff             # illegal, mid-block
    addi s1, s1, 1
    li t1, 0x40000000
    ld t2, 0(t1)                 # load access fault, mid-block
    addi s1, s1, 1
    c.addi s1, 1
    addi s0, s0, -1
    bnez s0, again
    POWEROFF
.align 2
handler:
    csrr t3, mepc
    lhu t4, 0(t3)
    andi t4, t4, 3
    li t5, 3
    addi t3, t3, 2
    bne t4, t5, 1f
    addi t3, t3, 2
1:  csrw mepc, t3
    addi s2, s2, 1
    mret
"""

#: Self-modifying code: patch an addi's immediate, fence.i, run it.
SMC = r"""
.globl _start
_start:
    li s0, 50
    li s1, 0
    la t0, patched
again:
    lw t1, 0(t0)
    li t2, 0x00100000            # +1 in the I-type immediate (bit 20)
    add t1, t1, t2
    sw t1, 0(t0)
    fence.i
patched:
    .word 0x00048493             # addi s1, s1, 0 (never compressed)
    addi s0, s0, -1
    bnez s0, again
    POWEROFF
"""

#: Timer interrupts at absolute mtimecmp values (no mtime read first), wfi
#: between them; the handler moves mtimecmp on by a fixed step.
TIMER = r"""
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li s0, 0
    li t0, MTIMECMP
    li t1, 1003
    sd t1, 0(t0)
    li t0, 0x80                  # MTIE
    csrw mie, t0
    csrsi mstatus, 8             # MIE
spin:
    addi s1, s1, 1
    c.addi s1, 2
    li t2, 6
    blt s0, t2, spin
    csrw mie, zero
    POWEROFF
.align 2
.globl handler
handler:
    addi s0, s0, 1
    li t0, MTIMECMP
    ld t1, 0(t0)
    addi t1, t1, 777
    sd t1, 0(t0)
    mret
"""


def _machine(clock: str, impl: str, elf: Path | str, **kw: object) -> Machine:
    m = Machine(ram_size=16 << 20, clock=clock, clock_impl=impl, **kw)
    m.boot(bios="none", kernel=str(elf))
    return m


def _state(m: Machine) -> tuple:
    return (m.instret, m.pc, m.priv, tuple(m.cpu.gpr(i) for i in range(32)),
            bytes(m.uart_output))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blockclock")


def test_native_clock_is_built() -> None:
    # CI and this machine have gcc: the optional extension must be there
    # (the Python fallback is for hosts without a compiler).
    assert native_library() is not None
    assert Machine(ram_size=16 << 20, clock="block").clock_impl == "native"
    assert Machine(ram_size=16 << 20, clock="block", clock_impl="python").clock_impl == "python"
    assert Machine(ram_size=16 << 20).clock_mode == "count"     # the default
    assert Machine(ram_size=16 << 20, clock="count").clock_impl == "count"


def test_count_insns_rvc_lengths() -> None:
    # addi (4 bytes, low bits 11), c.addi (2, low bits 01), c.nop, lw.
    code = bytes.fromhex("13050500" "0505" "0100" "83a20200")
    assert count_insns(code) == 4
    assert count_insns(code[:6]) == 2


@pytest.mark.parametrize("budget", [1, COUNT_MODE_BELOW - 1, COUNT_MODE_BELOW,
                                    COUNT_MODE_BELOW + 1, 999, 10_007, 23_456])
def test_exact_budgets(budget: int) -> None:
    elf = build_elf(COMPUTE.format(n=20_000))
    states = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        r = m.run(max_insns=budget)
        assert r.kind == "budget"
        assert m.instret == budget
        # And again from there: budgets add up exactly.
        m.run(max_insns=budget)
        assert m.instret == 2 * budget
        states.append(_state(m))
    assert states[0] == states[1] == states[2]


def test_compute_to_poweroff_agrees() -> None:
    n = 3000
    elf = build_elf(COMPUTE.format(n=n))
    results = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        assert m.run().kind == "poweroff"
        # The loop's own arithmetic: a1 = sum(k + 3 for k = n..1).
        assert m.regs.a1 == n * (n + 1) // 2 + 3 * n
        results.append(m)
    # The poweroff store ends the run right after it under every clock:
    # same count, same pc (the store's), same registers.
    assert _state(results[0]) == _state(results[1]) == _state(results[2])


def _trap_log(m: Machine) -> list[tuple[int, int, int]]:
    log: list[tuple[int, int, int]] = []
    m.trap.on_trap = lambda cause, epc, tval, target: log.append(
        (cause, epc, m.instret + (m.blockclock.state.done if m._block_slice
                                  else m.cpu.counter)))
    return log


def test_faults_mid_block_count_as_in_count_mode() -> None:
    elf = build_elf(FAULTS)
    runs = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        log = _trap_log(m)
        # A budget that ends after all the faults but before the poweroff.
        r = m.run(max_insns=200 * 22)
        runs.append((_state(m), log, r.kind))
    assert runs[0] == runs[1] == runs[2]
    state, log, kind = runs[0]
    assert kind == "budget"
    causes = [c for c, _, _ in log]
    # The two faults alternate, one of each per pass of the loop.
    assert causes[:2] == [Exc.ILLEGAL_INSTRUCTION, Exc.LOAD_ACCESS_FAULT]
    assert causes.count(Exc.ILLEGAL_INSTRUCTION) - causes.count(Exc.LOAD_ACCESS_FAULT) in (0, 1)
    # s2 counts the handlers that got that far (the budget may end in one).
    assert len(causes) > 100 and len(causes) - state[3][18] in (0, 1)


@pytest.mark.parametrize("stop", [100, 250, 413])
def test_smc_guest_agrees(stop: int) -> None:
    # The guest powers off after 414 instructions (count mode): every
    # budget here ends inside it.
    elf = build_elf(SMC)
    states = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        m.run(max_insns=stop)
        states.append(_state(m))
    assert states[0] == states[1] == states[2]
    m = _machine("block", "native", elf)
    assert m.run().kind == "poweroff"
    assert m.regs.s1 == sum(range(1, 51))  # each pass adds the patched immediate


def test_timer_interrupts_at_count_mode_instret() -> None:
    elf = build_elf(TIMER)
    runs = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        handler = m.symbols["handler"]
        hits = []
        while True:
            r = m.run(breakpoints=[handler])
            if r.kind != "breakpoint":
                break
            hits.append((m.instret, m.csr_read(0x342), m.time))
        assert r.kind == "poweroff"
        runs.append(hits)
    assert len(runs[0]) == 6
    assert all(cause == (1 << 63) | 7 for _, cause, _ in runs[0])
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.parametrize("name", ["sv39", "timer"])
def test_peer_guests_agree_across_clocks(out: Path, name: str) -> None:
    elf = peer.build_asm_ours(name, out)
    ref = _machine("count", "auto", elf)
    assert ref.run(max_insns=20_000_000).kind == "poweroff"
    # Budgets that end all over the run, before the poweroff.
    steps = [ref.instret // 7 + k for k in range(6)]
    finals = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        states = []
        for step in steps:
            m.run(max_insns=step)
            states.append(_state(m))
        r = m.run(max_insns=20_000_000)
        finals.append((states, r.kind, r.exit_code, bytes(m.uart_output)))
    assert finals[0][0] == finals[1][0] == finals[2][0]
    assert finals[0][1:] == finals[1][1:] == finals[2][1:]
    assert finals[0][1] == "poweroff" and finals[0][2] == 0


def test_breakpoints_stop_with_count_mode_instret() -> None:
    elf = build_elf(FAULTS)
    seen = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        bp = m.symbols["again"] + 8  # the illegal word, mid-block
        stops = []
        for _ in range(5):
            r = m.run(breakpoints=[bp])
            assert r.kind == "breakpoint" and r.pc == bp
            stops.append(_state(m))
        seen.append(stops)
    assert seen[0] == seen[1] == seen[2]


#: A device line raised by a guest store mid-slice (CLINT msip): with
#: ``irq_early`` the block clock ends the slice before the next block, so
#: the interrupt arrives early but at the same instruction every time.
MSIP = r"""
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t0, 8                     # MSIE
    csrw mie, t0
    csrsi mstatus, 8
    li s0, 0
    li s2, 40
next:
    li t0, CLINT
    li t1, 1
    sw t1, 0(t0)                 # raise msip
    addi s1, s1, 1
    addi s1, s1, 1
    j after
.globl after
after:
    addi s1, s1, 1
    blt s0, s2, next
    POWEROFF
.align 2
handler:
    li t0, CLINT
    sw zero, 0(t0)
    addi s0, s0, 1
    mret
"""


def test_raised_lines_are_deterministic() -> None:
    elf = build_elf(MSIP)
    runs = []
    for impl in ("native", "python", "native"):
        m = _machine("block", impl, elf, irq_early=True)
        log = []
        handler = m.symbols["handler"]
        while True:
            r = m.run(breakpoints=[handler])
            if r.kind != "breakpoint":
                break
            log.append((m.instret, m.csr_read(0x341)))
        assert r.kind == "poweroff"
        runs.append(log)
    assert len(runs[0]) == 40
    assert runs[0] == runs[1] == runs[2]
    # Taken at the first block boundary after the store: the block holding
    # the store ends with the jump, the next one starts at `after`.
    after = _machine("block", "native", elf).symbols["after"]
    assert {epc for _, epc in runs[0]} == {after}
    # Without it (the default) the line waits for the slice's end, later,
    # and again at the same instructions whichever implementation counts.
    late = []
    for clock, impl in CLOCKS[1:]:
        m = _machine(clock, impl, elf)
        handler = m.symbols["handler"]
        hits = []
        while m.run(breakpoints=[handler]).kind == "breakpoint":
            hits.append(m.instret)
        late.append(hits)
    assert len(late[0]) == 40 and late[0] == late[1]
    assert all(a > b for a, (b, _) in zip(late[0], runs[0]))


def test_count_clock_cli_flag(out: Path) -> None:
    elf = build_elf(COMPUTE.format(n=100))
    run = peer.septum_cli("run", str(elf), "--clock", "count")
    assert run.returncode == 0, run.stderr
    bad = peer.septum_cli("run", str(elf), "--clock", "bogus")
    assert bad.returncode == 2
    assert b"Traceback" not in bad.stderr


def test_unknown_clock_is_an_error() -> None:
    from septum.hypervisor.errors import MachineError
    with pytest.raises(MachineError, match="unknown clock"):
        Machine(ram_size=16 << 20, clock="icount")


def test_missing_native_clock_falls_back_and_says_so_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from septum.hypervisor import blockclock
    from septum.hypervisor.errors import MachineError
    monkeypatch.setattr(blockclock, "_NATIVE", [None])
    monkeypatch.setattr(blockclock, "_WARNED", [])
    with pytest.warns(RuntimeWarning, match="block clock is not built") as caught:
        a = Machine(ram_size=16 << 20, clock="block")
        b = Machine(ram_size=16 << 20, clock="block")
    assert len(caught) == 1
    assert a.clock_impl == b.clock_impl == "python"
    with pytest.raises(MachineError, match="not built"):
        Machine(ram_size=16 << 20, clock="block", clock_impl="native")


def test_foreign_code_hook_stops_count_as_in_count_mode() -> None:
    # The GDB stub's breakpoints: UC_HOOK_CODE on one address that stops
    # emulation; the stopped-at instruction counts as begun (gdbstub.py),
    # in count mode and under the block clock alike, at a block's first
    # instruction (`again`, a branch target) and in its middle.
    from unicorn import UC_HOOK_CODE
    elf = build_elf(FAULTS)
    seen = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        stops = []
        for offset in (0, 4, 0, 4):
            addr = m.symbols["again"] + offset
            hit: list[int] = []

            def stop(uc: object, address: int, size: int, user: object,
                     hit: list[int] = hit) -> None:
                if not hit:
                    hit.append(address)
                    uc.emu_stop()  # type: ignore[attr-defined]

            h = m.cpu.uc.hook_add(UC_HOOK_CODE, stop, None, addr, addr)
            m.cpu.uc.ctl_flush_tb()
            r = m.run(until=lambda hit=hit: bool(hit))
            m.cpu.uc.hook_del(h)
            assert r.kind == "until" and m.pc == addr
            stops.append(_state(m))
        seen.append(stops)
    assert seen[0] == seen[1] == seen[2]


#: Self-modifying code that changes instruction *lengths* under one address
#: and one block size: the 8 bytes at `patch` are two addi (2 instructions)
#: or four c.addi (4) in turn; the block [patch, patch+8) plus its `j`
#: always spans 10 bytes.  A count cached by address alone would go wrong.
SMC_LENGTHS = r"""
.globl _start
_start:
    li s0, 40
    li s1, 0
    la t0, patch
again:
    andi t1, s0, 1
    beqz t1, 1f
    li t2, 0x0014849300148493    # addi s1, s1, 1 (x2)
    j 2f
1:  li t2, 0x0485048504850485    # c.addi s1, 1 (x4)
2:  sd t2, 0(t0)
    fence.i
    jal ra, patch
    addi s0, s0, -1
    bnez s0, again
    POWEROFF
.align 3
.globl patch
patch:
    .word 0, 0
    ret
"""


@pytest.mark.parametrize("stop", [150, 397, 600])
def test_smc_changing_lengths_agrees(stop: int) -> None:
    elf = build_elf(SMC_LENGTHS)
    states = []
    for clock, impl in CLOCKS:
        m = _machine(clock, impl, elf)
        assert m.run(max_insns=stop).kind == "budget"
        states.append(_state(m))
    assert states[0] == states[1] == states[2]
    m = _machine("block", "native", elf)
    assert m.run().kind == "poweroff"
    assert m.regs.s1 == 20 * 2 + 20 * 4  # the guest's own arithmetic


STORES = r"""
.globl _start
_start:
    sw t5, 0(t6)
    sd a1, -8(a0)
    sb a2, 2047(sp)
    c.sw a3, 4(a4)
    c.sd a5, 248(s1)
    c.swsp ra, 252(sp)
    c.sdsp s0, 504(sp)
    add a0, a0, a1
    POWEROFF
"""


def test_store_decoder_reads_the_assemblers_encodings() -> None:
    # Operands as GNU as was told them: (rs1, rs2, offset, width).
    from septum.hypervisor.machine import _cstore_operands, _store_operands
    m = _machine("count", "auto", build_elf(STORES))
    code = m.read_phys(m.symbols["_start"], 4 + 4 + 4 + 2 * 4 + 2)
    assert _store_operands(int.from_bytes(code[0:4], "little")) == (31, 30, 0, 4)
    assert _store_operands(int.from_bytes(code[4:8], "little")) == (10, 11, -8, 8)
    assert _store_operands(int.from_bytes(code[8:12], "little")) == (2, 12, 2047, 1)
    halves = [int.from_bytes(code[k:k + 2], "little") for k in range(12, 20, 2)]
    assert [_cstore_operands(h) for h in halves] == [
        (14, 13, 4, 4), (9, 15, 248, 8), (2, 1, 252, 4), (2, 8, 504, 8)]
    add = int.from_bytes(code[20:22], "little")  # c.add: not a store
    assert _cstore_operands(add) is None and _store_operands(0x00B50533) is None
