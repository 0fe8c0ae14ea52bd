"""``septum run`` (the real command line, a subprocess) against real QEMU and
bare Unicorn on one compute-bound guest image.

bench_mips.py measures the board in-process (``Machine.run``); this is what a
user sees end to end: process start, image load, run, exit status.  The
guest is bench_mips's integer loop (6 instructions an iteration, M-mode,
powers off through the test finisher).  Every figure is the median of N
runs with min and max:

* wall seconds of ``septum run IMAGE`` and of ``qemu-system-riscv64 -M virt
  -bios none -kernel IMAGE``, start-up included;
* MIPS of each with start-up removed: (time of N iterations - time of a
  zero-iteration build of the same guest) / guest instructions
  (``None`` when noise makes the difference non-positive);
* bare Unicorn with no hooks on the same instructions (the stock wheel, in
  a subprocess: bareguest.run_unicorn_stock);
* the exit status of every run (0 expected) and the exact instruction count
  (from Septum's board, checked equal across runs).

    python -m septum.tests.bench.bench_vs_qemu [--iters N] [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from septum.tests.bench import bareguest, bench_mips

QEMU = "qemu-system-riscv64"
#: 240 M instructions: several times the CLI's start-up, so that the
#: start-up's noise does not swamp the difference.
DEFAULT_ITERS = 40_000_000
DEFAULT_RUNS = 3


def septum_cli_seconds(elf: Path) -> tuple[float, int]:
    """(wall seconds, exit status) of ``septum run ELF`` in a subprocess."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "septum.hypervisor", "run", str(elf)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=3600)
    return time.perf_counter() - t0, proc.returncode


def qemu_seconds(elf: Path) -> tuple[float, int]:
    """(wall seconds, exit status) of QEMU virt running ``elf`` bare."""
    t0 = time.perf_counter()
    proc = subprocess.run([QEMU, "-M", "virt", "-m", "128M", "-nographic", "-monitor", "none",
                           "-serial", "null", "-bios", "none", "-kernel", str(elf)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=3600)
    return time.perf_counter() - t0, proc.returncode


def _mips(insns: int, full: float, zero: float) -> float | None:
    return insns / (full - zero) / 1e6 if full > zero else None


def run(iters: int, runs: int) -> dict[str, object]:
    """Measure; return the rows (name -> list of values) and exact facts."""
    if shutil.which(QEMU) is None:
        raise SystemExit(f"{QEMU} is not installed")
    rows: dict[str, list[float | None]] = {
        "septum run: wall s": [], "septum run: MIPS (minus start-up)": [],
        "QEMU: wall s": [], "QEMU: MIPS (minus start-up)": [],
        "bare Unicorn, no hooks: MIPS": [],
    }
    statuses: list[int] = []
    counts: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="septum-bench-vsq-") as tmp:
        guest = bench_mips.build(iters, Path(tmp) / "loop.elf")
        empty = bench_mips.build(0, Path(tmp) / "loop0.elf")
        for _ in range(runs):
            _, insns = bareguest.run_septum(guest)
            counts.add(insns)
            s_full, st1 = septum_cli_seconds(guest.elf)
            s_zero, st2 = septum_cli_seconds(empty.elf)
            q_full, st3 = qemu_seconds(guest.elf)
            q_zero, st4 = qemu_seconds(empty.elf)
            statuses += [st1, st2, st3, st4]
            rows["septum run: wall s"].append(s_full)
            rows["septum run: MIPS (minus start-up)"].append(_mips(insns, s_full, s_zero))
            rows["QEMU: wall s"].append(q_full)
            rows["QEMU: MIPS (minus start-up)"].append(_mips(insns, q_full, q_zero))
            rows["bare Unicorn, no hooks: MIPS"].append(
                insns / bareguest.run_unicorn_stock(guest) / 1e6)
    return {"rows": rows, "statuses": statuses, "insns": sorted(counts), "iters": iters}


def _stats(values: list[float | None]) -> tuple[str, str, str]:
    got = [v for v in values if v is not None]
    if not got:
        return ("-", "-", "-")
    return tuple(f"{v:,.2f}" for v in (statistics.median(got), min(got), max(got)))  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; exit status 1 if a guest run did not exit 0."""
    ap = argparse.ArgumentParser(prog="bench_vs_qemu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=DEFAULT_ITERS, help="loop iterations")
    ap.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="runs per figure")
    args = ap.parse_args(argv)
    res = run(args.iters, args.runs)
    insns = res["insns"]
    print(f"guest: {args.iters:,} iterations, {insns[0]:,} instructions"  # type: ignore[index]
          f" (exact, from _start), {args.runs} runs")
    print(f"{'figure':<36} {'median':>12} {'min':>12} {'max':>12}")
    for name, values in res["rows"].items():  # type: ignore[union-attr]
        med, lo, hi = _stats(values)
        print(f"{name:<36} {med:>12} {lo:>12} {hi:>12}")
    rows = res["rows"]
    sep = [v for v in rows["septum run: MIPS (minus start-up)"] if v]  # type: ignore[index]
    qem = [v for v in rows["QEMU: MIPS (minus start-up)"] if v]  # type: ignore[index]
    if sep and qem:
        print(f"{'septum run / QEMU (medians)':<36} {statistics.median(sep) / statistics.median(qem):>12.3f}")
    bad = [s for s in res["statuses"] if s != 0]  # type: ignore[union-attr]
    if bad or len(insns) != 1:  # type: ignore[arg-type]
        print(f"error: exit statuses {res['statuses']}, instruction counts {insns}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
