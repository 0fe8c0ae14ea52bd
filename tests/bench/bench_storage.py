"""Storage benchmark: guest instructions (exact, deterministic) and host
time per storage operation on Septum's board, through the test system of
tests/userland (a client task calling the storage server via
userland/lib/store.S; every PUT written and flushed).

Run: ``python -m septum.tests.bench.bench_storage [--ops N]``.  Each row
is the difference between a run of N operations and a run of none, divided
by N, so it includes the client's side (the library call and the LOG of
its result line); "mount" is the extra cost of a server start that replays N records.
The last row runs the PUTs again on a disk that completes each request
100 us of virtual time after its QueueNotify (QEMU's device completes
asynchronously; Septum's board at the QueueNotify itself).
Every run's script starts with a GET of a missing key, which the server
answers only once it has mounted: the server sleeps while its disk works,
and the client (less urgent) runs meanwhile, so without it a run of no
operations would power off before the mount ends.
Host time includes the host ``fsync`` of every FLUSH.  Nothing here asserts
a timing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from septum.tests.userland.storage_rig import OK, Script, build_system, make_disk, run_for

BUDGET = 2_000_000_000
#: Virtual time (mtime ticks, 10 MHz) from QueueNotify to completion in the
#: "disk completing later" row: 100 us.
SLOW_TICKS = 1000


def _measure(tmp: Path, name: str, script: Script, disk: Path,
             slow_ticks: int = 0) -> tuple[int, float, list[str]]:
    elf = build_system(tmp, script, name)
    t0 = time.perf_counter()
    lines, insns, kind = run_for(elf, disk, BUDGET, slow_ticks)
    elapsed = time.perf_counter() - t0
    if kind != "poweroff":
        raise SystemExit(f"bench_storage: {name} stopped by {kind}")
    return insns, elapsed, lines


def _mounted() -> Script:
    """A script whose first request returns only after the mount."""
    return Script().get(b"-")


def run(ops: int, tmp: Path) -> list[tuple[str, int, float]]:
    """(operation, guest instructions per op, host microseconds per op)."""
    sectors = 2 + 2 * max(64, ops + 2)  # no compaction inside the runs
    base_i, base_t, _ = _measure(tmp, "base", _mounted(), make_disk(tmp / "base.img", sectors))
    puts = _mounted()
    for i in range(ops):
        puts.put(b"k%d" % (i % 32), b"value %d" % i)
    disk = make_disk(tmp / "d.img", sectors)
    put_i, put_t, lines = _measure(tmp, "put", puts, disk)
    if sum(ln.endswith(f" {OK}") and ln.startswith("put ") for ln in lines) != ops:
        raise SystemExit("bench_storage: a PUT failed")
    gets = _mounted()
    for i in range(ops):
        gets.get(b"k%d" % (i % 32))
    mount_i, mount_t, _ = _measure(tmp, "mount", _mounted(), disk)
    get_i, get_t, lines = _measure(tmp, "get", gets, disk)
    if sum(ln.startswith("get ") and f" {OK} value " in ln for ln in lines) != ops:
        raise SystemExit("bench_storage: a GET failed")
    # The same PUTs on a disk that completes SLOW_TICKS after each
    # QueueNotify, as QEMU's does: the server sleeps through every request.
    slow_base_i, slow_base_t, _ = _measure(
        tmp, "slow-base", _mounted(), make_disk(tmp / "slow-base.img", sectors), SLOW_TICKS)
    slow_i, slow_t, lines = _measure(tmp, "slow-put", puts, make_disk(tmp / "slow.img", sectors),
                                     SLOW_TICKS)
    if sum(ln.endswith(f" {OK}") and ln.startswith("put ") for ln in lines) != ops:
        raise SystemExit("bench_storage: a PUT on the slow disk failed")
    rows = [("put (write + flush)", put_i - base_i, put_t - base_t),
            ("get", get_i - mount_i, get_t - mount_t),
            ("mount: replay per record", mount_i - base_i, mount_t - base_t),
            ("put, disk completing later", slow_i - slow_base_i, slow_t - slow_base_t)]
    return [(name, d_i // ops, max(d_t, 0.0) * 1e6 / ops) for name, d_i, d_t in rows]


def main(argv: list[str] | None = None) -> int:
    """Print the table; return 0."""
    ap = argparse.ArgumentParser(prog="bench_storage", description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=200, help="operations per run (default 200)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="septum-bench-storage-") as tmp:
        rows = run(args.ops, Path(tmp))
    print(f"{'operation':<28}{'guest insns/op':>16}{'host us/op':>12}")
    for name, insns, us in rows:
        print(f"{name:<28}{insns:>16}{us:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
