"""Watchdog benchmark: what the supervisor's heartbeats cost an idle system.

The default system is booted to the shell's prompt and left alone for a
stretch of virtual time; the figure is guest instructions retired per
virtual second (exact: virtual time is counted in instructions).  *on*:
userland/system.toml as it is; *off*: the same system with the
supervisor's ``notifies`` list removed, so it watches nobody and arms no
heartbeat (everything else identical).  Also printed: virtual ms from a
server starting to loop (the console, through a corrupted data word) to
the supervisor's "hung" line and to its restart.

    python -m septum.tests.bench.bench_watchdog [--seconds S] [--quick]

Prints figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path

from septum.hypervisor import boot_cli
from septum.hypervisor.machine import Machine
from septum.kernel.abi import Layout
from septum.toolchain.build import DEFAULT_SLOT
from septum.userland import supervision

#: Guest instructions allowed to reach the prompt (a safety net).
BOOT_BUDGET = 50_000_000
TICKS_PER_SECOND = 10_000_000  # timebase 10 MHz
TICKS_PER_MS = TICKS_PER_SECOND // 1000


def unwatched_manifest(folder: Path) -> Path:
    """A copy of the default system in ``folder`` whose supervisor
    watches nobody (its ``notifies`` line removed)."""
    src = boot_cli.DEFAULT_MANIFEST.parent
    dest = folder / src.name
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    manifest = dest / boot_cli.DEFAULT_MANIFEST.name
    text = manifest.read_text()
    head, rest = text.split("[tasks.supervisor]", 1)
    sup, tail = rest.split("\n[", 1)
    sup = re.sub(r"(?m)^notifies = .*\n", "", sup)
    manifest.write_text(head + "[tasks.supervisor]" + sup + "\n[" + tail)
    return manifest


def _booted(manifest: Path, disk_dir: Path) -> Machine:
    elf, _ = boot_cli.cached_build(manifest, log=lambda _: None)
    disk, _ = boot_cli._make_disk(str(disk_dir / f"disk-{os.getpid()}-{id(manifest)}.img"))
    m = Machine(ram_size=boot_cli.RAM_SIZE, disk=disk)
    m.boot(bios=str(elf))
    stop = m.run(max_insns=BOOT_BUDGET, until=lambda: boot_cli.PROMPT in m.uart_output)
    if stop.kind != "until":
        m.close()
        raise RuntimeError(f"{manifest}: no prompt ({stop})")
    return m


def idle_rate(manifest: Path, seconds: float, disk_dir: Path) -> dict[str, float]:
    """Boot ``manifest`` to the prompt, settle for one heartbeat, then run
    ``seconds`` of virtual time with no input: instructions per virtual
    second, the virtual seconds run (``virtual_s``), and the console output of
    that stretch (should be none)."""
    m = _booted(manifest, disk_dir)
    try:
        settle = m.clock() + supervision.HEARTBEAT
        m.run(until=lambda: m.clock() >= settle)
        start_t, start_i, start_out = m.clock(), m.instret, len(m.uart_output)
        end = start_t + int(seconds * TICKS_PER_SECOND)
        m.run(until=lambda: m.clock() >= end)
        span = (m.clock() - start_t) / TICKS_PER_SECOND
        return {"insns_per_s": (m.instret - start_i) / span, "virtual_s": span,
                "output": bytes(m.uart_output[start_out:]).decode(errors="replace")}
    finally:
        m.close()


def repair_time(disk_dir: Path) -> dict[str, float]:
    """Virtual ms from the console looping (its receive ring told it holds
    2**40 bytes, in both words of its checked pair, then a key typed) to the supervisor's "hung" line and to
    "restarted console"."""
    m = _booted(boot_cli.DEFAULT_MANIFEST, disk_dir)
    try:
        console = 1  # manifest index
        slot = Layout.TASKS_BASE + console * DEFAULT_SLOT
        head = m.symbols["rx_head"]
        assert slot <= head < slot + DEFAULT_SLOT  # physical = virtual for tasks
        # rx_head is a checked pair (console.S): the value, then its
        # complement; a corruption of both words at once is what its
        # self-check cannot see, and the editor loops.
        bad = 1 << 40
        m.write_phys(head, bad.to_bytes(8, "little") + (~bad % 2**64).to_bytes(8, "little"))
        start = m.clock()
        mark = len(m.uart_output)
        m.uart_feed(b"\n")
        out = lambda: bytes(m.uart_output[mark:])  # noqa: E731
        m.run(max_insns=500_000_000, until=lambda: b"console faulted: cause=hung" in out())
        found = m.clock()
        m.run(max_insns=500_000_000, until=lambda: b"restarted console" in out())
        done = m.clock()
        return {"found_ms": (found - start) / TICKS_PER_MS, "restarted_ms": (done - start) / TICKS_PER_MS}
    finally:
        m.close()


def main(argv: list[str] | None = None) -> int:
    """Print the idle cost with and without the watchdog, and the repair time."""
    p = argparse.ArgumentParser(prog="bench_watchdog", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="virtual seconds idle (default 2)")
    p.add_argument("--quick", action="store_true", help="0.2 virtual seconds (smoke test)")
    args = p.parse_args(argv)
    seconds = 0.2 if args.quick else args.seconds
    with tempfile.TemporaryDirectory(prefix="septum-bench-watchdog-") as tmp:
        tmp_path = Path(tmp)
        off = idle_rate(unwatched_manifest(tmp_path), seconds, tmp_path)
        on = idle_rate(boot_cli.DEFAULT_MANIFEST, seconds, tmp_path)
        fix = repair_time(tmp_path)
    print(f"idle system, {seconds:g} virtual s after the prompt "
          f"(heartbeat {supervision.HEARTBEAT / TICKS_PER_MS:g} ms):")
    print(f"  {'watchdog':<10} {'insns per virtual s':>20}")
    print(f"  {'off':<10} {off['insns_per_s']:>20,.0f}")
    print(f"  {'on':<10} {on['insns_per_s']:>20,.0f}")
    print(f"  cost: {on['insns_per_s'] - off['insns_per_s']:,.0f} insns/s "
          f"({(on['insns_per_s'] - off['insns_per_s']) / 1e8:.3%} of a nominal 100 MIPS hart)")
    print(f"console looping -> found hung: {fix['found_ms']:.1f} virtual ms; "
          f"restarted: {fix['restarted_ms']:.1f} virtual ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
