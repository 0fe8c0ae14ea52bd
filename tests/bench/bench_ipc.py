"""IPC benchmark: guest instructions per round trip, and round trips per
second of host time on Septum's board (whole trap unit included).

Run: ``python -m septum.tests.bench.bench_ipc [--fastpath-only]``.  Prints
figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from septum.tests.kernel.ipcbench import build_pingpong, round_trip

#: Round trips ping.S makes before the counted one.
PING_ROUND_TRIPS = 1000


def measure(fastpath: bool, workdir: Path) -> dict[str, float]:
    """Figures for one kernel build."""
    elf = build_pingpong(workdir / f"pp-{int(fastpath)}.elf", fastpath)
    t0 = time.perf_counter()
    count, out, total = round_trip(elf)
    host = time.perf_counter() - t0
    if "FAIL" in out or "ping: done" not in out:
        raise SystemExit(f"benchmark run failed:\n{out}")
    return {"insns": count, "total": total, "rt_per_s": (PING_ROUND_TRIPS + 1) / host}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fastpath-only", action="store_true")
    args = ap.parse_args(argv)
    modes = [True] if args.fastpath_only else [True, False]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [(fp, measure(fp, Path(tmp))) for fp in modes]
    print(f"{'kernel':<12}{'insns/round trip':>18}{'round trips/s (host)':>24}")
    for fp, r in rows:
        name = "fast path" if fp else "slow path"
        print(f"{name:<12}{r['insns']:>18}{r['rt_per_s']:>24.0f}")
    print("(seL4's RISC-V fast path: ~170 instructions for the same round trip)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
