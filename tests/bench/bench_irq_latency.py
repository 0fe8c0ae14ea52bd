"""Interrupt latency in guest instructions: from the UART's interrupt line
rising (a byte fed into its receiver between slices) to the first
instruction of the owning task's handler, worst case over a sweep.

The system is tests/kernel/tasks/uartirq.toml: task ``uart`` owns UART0 and
its interrupt (a notification bit) and waits in ``RECV`` (notifications
only) at its label ``wait``; its handler's first instruction is the one
after that ``ecall``.  Once the task is blocked and the system idle, the
machine is snapshotted.  The idle kernel sleeps in ``wfi`` (label
``idle``, SIE clear) and handles what woke it inline, then reschedules.
Each sample restores the snapshot, then feeds one byte either right there
or ``j`` instructions after the kernel next wakes from that ``wfi`` (a
timer tick; from the snapshot if the kernel has no ``idle`` label), for
each ``j`` of a sweep through the tick's path, and counts retired
instructions until the handler's first instruction.  Counts are exact and
deterministic (virtual time); the host time per sample is shown for scale.

    python -m septum.tests.bench.bench_irq_latency [--quick] [--runs N]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

from elftools.elf.elffile import ELFFile

from septum.hypervisor.machine import WFI, Machine
from septum.kernel.abi import Layout
from septum.tests.bench import runner
from septum.tests.kernel.ipcbench import TASKS
from septum.toolchain.build import build

BUDGET = 50_000_000
#: Instructions the system runs after the task first reaches its ecall, so
#: that the kernel has blocked it and gone idle.
SETTLE_INSNS = 20_000
#: Offsets (instructions after the idle kernel wakes) at which a byte is fed.
FULL_SWEEP = range(0, 300, 1)
QUICK_SWEEP = range(0, 300, 30)
ECALL = 0x0000_0073


def _local_symbol(elf: Path, name: str, lo: int, hi: int) -> int:
    """Address of the symbol ``name`` inside [lo, hi) (task symbols are local)."""
    with open(elf, "rb") as f:
        for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if s.name == name and lo <= s["st_value"] < hi:
                return s["st_value"]
    raise KeyError(f"{elf.name}: no symbol {name!r} in [{lo:#x}, {hi:#x})")


def _insn_after(m: Machine, addr: int, insn: int, limit: int = 64) -> int:
    """Address of the first 32-bit instruction ``insn`` at or after ``addr``
    (code may mix 16- and 32-bit instructions: scan halfwords)."""
    code = m.read_phys(addr, limit + 4)
    for off in range(0, limit, 2):
        if int.from_bytes(code[off:off + 4], "little") == insn:
            return addr + off
    raise RuntimeError(f"no {insn:#010x} within {limit} bytes of {addr:#x}")


class Bench:
    """The booted, settled uartirq system and its snapshot."""

    def __init__(self, elf: Path, text: tuple[int, int]) -> None:
        self.m = Machine(ram_size=128 << 20)
        m = self.m
        m.boot(bios=str(elf))
        wait = _local_symbol(elf, "wait", text[0], text[0] + text[1])
        ecall = _insn_after(m, wait, ECALL)
        self.handler = ecall + 4
        try:
            idle = _local_symbol(elf, "idle", Layout.KERNEL_BASE, Layout.TABLES_BASE)
            self.wake: int | None = _insn_after(m, idle, WFI) + 4
        except (KeyError, RuntimeError):
            # A kernel without an ``idle: wfi``: sweep from the snapshot instead.
            self.wake = None
        stop = m.run(max_insns=BUDGET, breakpoints=[ecall])
        if stop.kind != "breakpoint":
            raise RuntimeError(f"the uart task never reached its RECV: {stop}")
        stop = m.run(max_insns=SETTLE_INSNS)
        if stop.kind not in ("budget", "hang"):
            raise RuntimeError(f"the system did not settle: {stop}")
        self.snap = m.snapshot()

    def sample(self, after_wake: int | None) -> int:
        """Latency of one byte fed at the snapshot (``None``) or
        ``after_wake`` instructions after the idle kernel next wakes."""
        m = self.m
        m.restore(self.snap)
        if after_wake is not None:
            if self.wake is not None:
                stop = m.run(max_insns=BUDGET, breakpoints=[self.wake])
                if stop.kind != "breakpoint":
                    raise RuntimeError(f"the idle kernel never woke: {stop}")
            if after_wake:
                m.run(max_insns=after_wake)
        m.uart_feed(b"x")
        fed = m.instret
        stop = m.run(max_insns=BUDGET, breakpoints=[self.handler])
        if stop.kind != "breakpoint":
            raise RuntimeError(f"the handler never ran after the interrupt: {stop}")
        return m.instret - fed

    def close(self) -> None:
        self.m.close()


def collect(quick: bool = False, runs: int = 3,
            progress: runner.Progress = runner.quiet) -> dict[str, object]:
    """The ``irq`` section (see tests/bench/runner.py)."""
    sweep = QUICK_SWEEP if quick else FULL_SWEEP
    points: list[int | None] = [None, *sweep]
    sec = runner.section("irq")
    sec["params"] = {"manifest": "tests/kernel/tasks/uartirq.toml", "samples": len(points),
                     "sweep_after_idle_wake": [sweep.start, sweep.stop, sweep.step]}
    latencies: list[int] | None = None
    per_sample: list[float] = []
    with tempfile.TemporaryDirectory(prefix="septum-bench-") as tmp:
        res = build(TASKS / "uartirq.toml", Path(tmp) / "uartirq.elf")
        bench = Bench(res.elf, res.task("uart").text)
        try:
            for i in range(runs):
                progress(f"irq: run {i + 1}/{runs} ({len(points)} samples)")
                t0 = time.perf_counter()
                got = [bench.sample(p) for p in points]
                per_sample.append((time.perf_counter() - t0) * 1e3 / len(points))
                if latencies is not None and got != latencies:
                    raise RuntimeError("irq: latencies differ between runs")
                latencies = got
        finally:
            bench.close()
    assert latencies is not None
    sec["params"]["sweep_from"] = "snapshot" if bench.wake is None else "idle wake"  # type: ignore[index]
    sec["exact"] = {"worst_insns": max(latencies), "best_insns": min(latencies),
                    "median_insns": int(statistics.median_low(latencies)),
                    "idle_insns": latencies[0]}
    sec["figures"] = [runner.figure("host time per sample (restore + run)", "ms", per_sample)]
    sec["notes"] = [
        "from uart_feed() (the PLIC line rises at once) to the task's first instruction "
        "after its RECV ecall; the hart sleeping in wfi retires nothing",
        "worst case over a feed at the snapshot and at each sweep offset after the idle "
        "kernel wakes from wfi (a timer tick)",
    ]
    return sec


def main(argv: Sequence[str] | None = None) -> int:
    """Print the ``irq`` table."""
    return runner.module_main("irq", argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
