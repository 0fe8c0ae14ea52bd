"""Compute-bound guest speed: Septum's ``Machine.run`` beside bare Unicorn
with no hooks and real QEMU, on the same image, in the same run.

The guest is an integer loop (add/xor/shift/sub, a counted branch) in
M-mode that powers off through the test finisher.  Guest instructions are
counted exactly by Septum's board (from ``_start`` through the power-off
store); bare Unicorn executes the same instructions (``emu_start`` from
``_start`` until the instruction after the store).  QEMU's figure removes
its start-up cost by running a zero-iteration build of the same guest and
taking the difference (``None`` when noise makes it negative).

    python -m septum.tests.bench.bench_mips [--quick] [--runs N]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from septum.hypervisor import unicorn_build
from septum.tests.bench import bareguest, runner

#: Loop iterations (6 instructions each).
FULL_ITERS = 20_000_000
QUICK_ITERS = 100_000

LOOP = """\
    .option norvc
    .text
    .globl _start
_start:
    li      t0, {iters}
    li      a0, 0
    li      a1, 1
    beqz    t0, done
1:  add     a0, a0, a1
    xor     a1, a1, a0
    slli    a2, a0, 3
    sub     a1, a1, a2
    addi    t0, t0, -1
    bnez    t0, 1b
    j       done
"""


def build(iters: int, out: Path) -> bareguest.Guest:
    """The loop guest with ``iters`` iterations."""
    return bareguest.build(LOOP.format(iters=iters), out)


def collect(quick: bool = False, runs: int = 3,
            progress: runner.Progress = runner.quiet) -> dict[str, object]:
    """The ``mips`` section (see tests/bench/runner.py)."""
    iters = QUICK_ITERS if quick else FULL_ITERS
    sec = runner.section("mips")
    with tempfile.TemporaryDirectory(prefix="septum-bench-") as tmp:
        guest = build(iters, Path(tmp) / "loop.elf")
        empty = build(0, Path(tmp) / "loop0.elf")
        sep, per_insn, bare, sliced, qemu = [], [], [], [], []
        insns = 0
        for i in range(runs):
            progress(f"mips: run {i + 1}/{runs} ({iters:,} iterations)")
            host, insns = bareguest.run_septum(guest)
            sep.append(insns / host / 1e6)
            host, _ = bareguest.run_septum(guest, tb_count=False)
            per_insn.append(insns / host / 1e6)
            bare.append(insns / bareguest.run_unicorn_stock(guest) / 1e6)
            sliced.append(insns / bareguest.run_unicorn_stock(
                guest, slice_insns=bareguest.SLICE_INSNS) / 1e6)
            t_full = runner.qemu_seconds(["-bios", "none", "-kernel", str(guest.elf)])
            t_zero = runner.qemu_seconds(["-bios", "none", "-kernel", str(empty.elf)])
            if t_full is None or t_zero is None:
                qemu.append(None)
            else:
                qemu.append(insns / (t_full - t_zero) / 1e6 if t_full > t_zero else None)
    sec["params"] = {"iterations": iters}
    sec["exact"] = {"guest_insns": insns}
    loaded = unicorn_build.loaded()
    sec["figures"] = [runner.figure(f"septum Machine.run ({loaded} unicorn)", "MIPS", sep),
                      runner.figure("septum Machine.run, count per instruction", "MIPS",
                                    per_insn),
                      runner.figure("bare Unicorn (stock wheel), no hooks", "MIPS", bare),
                      runner.figure(f"bare Unicorn (stock wheel), {bareguest.SLICE_INSNS}-insn "
                                    "slices", "MIPS", sliced)]
    sec["ratios"] = [runner.ratio("septum / bare Unicorn (target >= 0.8)", sep, bare),
                     runner.ratio("septum, count per instruction / bare Unicorn", per_insn,
                                  bare),
                     runner.ratio("septum / bare Unicorn in slices", sep, sliced)]
    if any(q is not None for q in qemu):
        sec["figures"].append(runner.figure("real QEMU (minus start-up)", "MIPS", qemu))
        sec["ratios"].append(runner.ratio("septum / QEMU", sep, qemu))
    else:
        sec["notes"].append("real QEMU: not installed, or its run was lost in start-up noise")
    sec["notes"].append("bare Unicorn in emu_start(count=N) slices is the same run loop "
                        "without Septum's devices, trap unit and Python between slices, "
                        "counting as stock Unicorn counts: a hook before every instruction")
    sec["notes"].append("septum counts per translated block with Septum's build of Unicorn "
                        "(septum unicorn build; hypervisor/unicorn_build.py), per instruction "
                        "without it; the two agree on every count")
    sec["notes"].append("QEMU: time(N iterations) - time(0 iterations), processes "
                        "started by the runner; -bios none -kernel IMAGE")
    return sec


def main(argv: Sequence[str] | None = None) -> int:
    """Print the ``mips`` table."""
    return runner.module_main("mips", argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
