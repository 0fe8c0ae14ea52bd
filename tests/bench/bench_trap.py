"""Trap round trips through Septum's trap unit: a U-mode loop of ``ecall``s,
each taken to an M-mode handler (or, delegated by ``medeleg``, to an S-mode
handler) that steps ``xepc`` over the ecall and returns with ``xret``.

Beside it, bare Unicorn runs the same image twice: with an empty Python
``UC_HOOK_INTR`` (Unicorn's raw cost of reaching Python on an ecall, with no
trap entry at all: the hook returns and the U-mode loop continues after the
ecall, so the handler never runs there), and with a minimal Python trap
entry to M (the same round trip as Septum's, with none of the trap unit's
generality).  Guest instructions per round trip
are exact (the difference of two runs' retired-instruction counts divided
by the difference in ecalls).

    python -m septum.tests.bench.bench_trap [--quick] [--runs N]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from unicorn import Uc
from unicorn import riscv_const as rc

from septum.tests.bench import bareguest, runner
from septum.toolchain.riscv import Exc, Mstatus, PmpCfg

FULL_CALLS = 100_000
QUICK_CALLS = 2_000

GUEST = """\
    .option norvc
    .text
    .globl _start
_start:
    la      t0, m_handler
    csrw    mtvec, t0
    la      t0, s_handler
    csrw    stvec, t0
    li      t0, -1              # one NAPOT region over everything: U may run and store
    csrw    pmpaddr0, t0
    li      t0, {pmpcfg}
    csrw    pmpcfg0, t0
    li      t0, {medeleg}
    csrw    medeleg, t0
    li      t0, {mpp}
    csrc    mstatus, t0         # MPP = U
    la      t0, user
    csrw    mepc, t0
    mret
user:
    la      t0, calls           # a load, not li: the same code for every count
    ld      s0, 0(t0)
    beqz    s0, done
1:  ecall
    addi    s0, s0, -1
    bnez    s0, 1b
    j       done
m_handler:
    csrr    t0, mepc
    addi    t0, t0, 4           # mepc is the ecall: return after it
    csrw    mepc, t0
    mret
s_handler:
    csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    sret
    .data
    .balign 8
calls:
    .dword  {calls}
"""

#: (label, medeleg) of each handler level.
LEVELS = (("M", 0), ("S", 1 << Exc.ECALL_U))


def build(calls: int, medeleg: int, out: Path) -> bareguest.Guest:
    """The ecall-loop guest."""
    return bareguest.build(GUEST.format(
        calls=calls, medeleg=medeleg, mpp=int(Mstatus.MPP),
        pmpcfg=int(PmpCfg.A_NAPOT | PmpCfg.R | PmpCfg.W | PmpCfg.X)), out)


def _empty_hook(uc: object, intno: int, user: object) -> None:
    # Nothing: Unicorn resumes after the ecall.
    pass


_MPP_CLEAR = ~int(Mstatus.MPIE | Mstatus.MIE | Mstatus.MPP)
_MIE, _MPIE = int(Mstatus.MIE), int(Mstatus.MPIE)


def _minimal_entry(uc: Uc, intno: int, user: object) -> None:
    """The least a Python trap entry to M can do, with the binding's
    reg_read/reg_write and plain ints: epc, cause, tval, mstatus, level, pc
    (no delegation check, no statistics)."""
    prev = uc.reg_read(rc.UC_RISCV_REG_PRIV)
    epc = uc.reg_read(rc.UC_RISCV_REG_PC) - 4
    uc.reg_write(rc.UC_RISCV_REG_PRIV, 3)
    uc.reg_write(rc.UC_RISCV_REG_MEPC, epc)
    uc.reg_write(rc.UC_RISCV_REG_MCAUSE, intno + prev)
    uc.reg_write(rc.UC_RISCV_REG_MTVAL, 0)
    status = uc.reg_read(rc.UC_RISCV_REG_MSTATUS)
    mpie = _MPIE if status & _MIE else 0
    uc.reg_write(rc.UC_RISCV_REG_MSTATUS, (status & _MPP_CLEAR) | mpie | (prev << 11))
    uc.reg_write(rc.UC_RISCV_REG_PC, uc.reg_read(rc.UC_RISCV_REG_MTVEC) & ~3)


def collect(quick: bool = False, runs: int = 3,
            progress: runner.Progress = runner.quiet) -> dict[str, object]:
    """The ``trap`` section (see tests/bench/runner.py)."""
    calls = QUICK_CALLS if quick else FULL_CALLS
    sec = runner.section("trap")
    sec["params"] = {"ecalls": calls}
    with tempfile.TemporaryDirectory(prefix="septum-bench-") as tmp:
        for level, medeleg in LEVELS:
            guest = build(calls, medeleg, Path(tmp) / f"trap{level}.elf")
            # One ecall, so that both runs share every instruction but the
            # extra round trips.
            one = build(1, medeleg, Path(tmp) / f"trap{level}1.elf")
            _, base = bareguest.run_septum(one)
            sep, bare, minimal = [], [], []
            insns = 0
            for i in range(runs):
                progress(f"trap: U -> {level}, run {i + 1}/{runs} ({calls:,} ecalls)")
                host, insns = bareguest.run_septum(guest)
                sep.append(calls / host)
                if level == "M":
                    bare.append(calls / bareguest.run_unicorn(guest, intr_hook=_empty_hook))
                    minimal.append(calls / bareguest.run_unicorn(guest, intr_hook=_minimal_entry))
            extra, rest = divmod(insns - base, calls - 1)
            if rest:
                raise RuntimeError(f"trap: {insns - base} instructions for {calls - 1} "
                                   "round trips is not a whole number per trip")
            sec["exact"][f"insns_per_round_trip_U_to_{level}"] = extra
            sec["figures"].append(runner.figure(f"septum, U ecall -> {level} handler -> U",
                                                "trips/s", sep))
            if bare:
                sec["figures"].append(runner.figure(
                    "bare Unicorn, empty UC_HOOK_INTR", "ecalls/s", bare))
                sec["figures"].append(runner.figure(
                    "bare Unicorn, minimal Python trap entry to M", "trips/s", minimal))
                sec["ratios"].append(runner.ratio("septum (U->M) / bare hook", sep, bare))
                sec["ratios"].append(runner.ratio("septum (U->M) / minimal entry", sep, minimal))
    sec["notes"] = [
        "target (issue 3): >= 100,000 round trips/s through the trap unit",
        "bare Unicorn, empty hook: no trap entry, the hook returns and the loop "
        "continues; it measures only Unicorn's cost of calling Python on an ecall",
        "bare Unicorn, minimal entry: the handler runs as on Septum (7 instructions "
        "per trip), entered by a Python hook of 10 register calls: the floor for a Python trap unit",
    ]
    return sec


def main(argv: Sequence[str] | None = None) -> int:
    """Print the ``trap`` table."""
    return runner.module_main("trap", argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
