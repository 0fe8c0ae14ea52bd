"""Snapshot save and restore (``Machine.snapshot``/``restore``) beside a cold
boot of the same image to the same point.

The image is the bundled system (the ``septum build`` default manifest:
firmware + kernel + tasks).  The point is the end of the slice in which the
kernel's banner appeared on the console (found once, as an exact
retired-instruction count K, deterministic).  Each run: a cold boot (new
``Machine``, ``boot``, ``run(max_insns=K)``); a snapshot there; the system
runs on for at most :data:`RUN_ON` instructions (dirtying pages, printing;
it may power off sooner) and must end exactly as an uninterrupted cold run
does; then ``restore`` puts it back, checked to be at K with the same
console text, and the restored machine must again run on exactly as the
cold one.  Then a second snapshot is taken there (after the run on: RAM is
a copy-on-write mapping of the first, so only the changed pages are
copied), the first is restored again, and the machine must once more run
on exactly as the cold one.

    python -m septum.tests.bench.bench_snapshot [--quick] [--runs N]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Sequence

from septum.hypervisor.machine import Machine
from septum.tests.bench import runner
from septum.toolchain.build import build
from septum.toolchain.build_cli import DEFAULT_MANIFEST

#: Console text that marks the point the snapshot is taken at (the kernel's
#: banner, printed whatever the tasks are).
MARK = b"Septum microkernel: "
#: Instructions run after the point (less if the system powers off).
RUN_ON = 2_000_000
BUDGET = 200_000_000
RAM = 128 << 20


def _boot(elf: Path) -> Machine:
    m = Machine(ram_size=RAM)
    m.boot(bios=str(elf))
    return m


def find_point(elf: Path) -> int:
    """Retired instructions until the console shows :data:`MARK`."""
    m = _boot(elf)
    try:
        stop = m.run(max_insns=BUDGET, until=lambda: MARK in m.uart_output)
        if stop.kind != "until":
            raise RuntimeError(f"{elf.name}: never printed {MARK.decode()!r} ({stop})")
        return m.instret
    finally:
        m.close()


def finish(m: Machine) -> tuple[str, bytes, int]:
    """Run ``m`` on for :data:`RUN_ON` instructions at most: (stop kind,
    console text, instructions)."""
    stop = m.run(max_insns=RUN_ON)
    return stop.kind, bytes(m.uart_output), m.instret


def collect(quick: bool = False, runs: int = 3,
            progress: runner.Progress = runner.quiet) -> dict[str, object]:
    """The ``snapshot`` section (see tests/bench/runner.py)."""
    sec = runner.section("snapshot")
    with tempfile.TemporaryDirectory(prefix="septum-bench-") as tmp:
        elf = build(DEFAULT_MANIFEST, Path(tmp) / "system.elf").elf
        point = find_point(elf)
        ref = _boot(elf)
        ref.run(max_insns=point)
        at_point = bytes(ref.uart_output)
        reference_end = finish(ref)
        ref.close()
        cold, save, restore, save2, restore2, pages2 = [], [], [], [], [], []
        for i in range(runs):
            progress(f"snapshot: run {i + 1}/{runs} (point {point:,} insns)")
            t0 = time.perf_counter()
            m = _boot(elf)
            m.run(max_insns=point)
            cold.append((time.perf_counter() - t0) * 1e3)
            try:
                if m.instret != point or bytes(m.uart_output) != at_point:
                    raise RuntimeError("cold boot did not reach the same point")
                t0 = time.perf_counter()
                snap = m.snapshot()
                save.append((time.perf_counter() - t0) * 1e3)
                if finish(m) != reference_end:
                    raise RuntimeError("the run after a snapshot differs from a cold one")
                t0 = time.perf_counter()
                m.restore(snap)
                restore.append((time.perf_counter() - t0) * 1e3)
                if m.instret != point or bytes(m.uart_output) != at_point:
                    raise RuntimeError("restore did not put the machine back at the point")
                if finish(m) != reference_end:
                    raise RuntimeError("the restored machine ran differently from a cold one")
                t0 = time.perf_counter()
                later = m.snapshot()
                save2.append((time.perf_counter() - t0) * 1e3)
                pages2.append(later.ram.changed_pages)
                t0 = time.perf_counter()
                m.restore(snap)
                restore2.append((time.perf_counter() - t0) * 1e3)
                if finish(m) != reference_end:
                    raise RuntimeError("the second restore ran differently from a cold one")
                m.restore(later)
                if m.instret != reference_end[2] or bytes(m.uart_output) != reference_end[1]:
                    raise RuntimeError("the later snapshot did not restore its own state")
            finally:
                m.close()
    sec["params"] = {"image": str(DEFAULT_MANIFEST.name), "point": MARK.decode(),
                     "ram_bytes": RAM}
    sec["exact"] = {"insns_to_point": point, "insns_point_plus_run_on": reference_end[2]}
    sec["figures"] = [runner.figure("cold boot to the point", "ms", cold),
                      runner.figure("snapshot (save)", "ms", save),
                      runner.figure(f"restore (after {RUN_ON:,} insns or power-off)", "ms",
                                    restore),
                      runner.figure("second snapshot (changed pages only)", "ms", save2),
                      runner.figure("pages it copied", "pages", pages2),
                      runner.figure("restore of the first again", "ms", restore2)]
    sec["ratios"] = [runner.ratio("cold boot / restore", cold, restore)]
    sec["notes"] = ["cold boot = new Machine + boot(bios=IMAGE) + run to the point; "
                    "snapshots copy the CPU context, every device's state and the RAM "
                    "pages changed since the image RAM maps (hypervisor/ram.py); the "
                    "first snapshot writes the touched pages once into that image"]
    return sec


def main(argv: Sequence[str] | None = None) -> int:
    """Print the ``snapshot`` table."""
    return runner.module_main("snapshot", argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
