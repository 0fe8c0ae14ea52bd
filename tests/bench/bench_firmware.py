"""Benchmark: what an SBI call costs on Septum's board.

For each call, an S-mode loop makes it N times behind the firmware (built by
Septum's assembler). The same loop with a ``nop`` in place of the ``ecall``
gives the loop's own cost. The difference, divided by N, is the number of
guest instructions per call: the ecall, the firmware's trap entry, the
dispatch, the handler and the ``mret``. It is exact, because time is
virtual. The host figures are the wall time of the whole run, divided by N.

    python -m septum.tests.bench.bench_firmware [--calls N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from septum import firmware
from septum.firmware.sbi import BaseFid, DbcnFid, Ext, IpiFid, RfenceFid, TimeFid
from septum.hypervisor.machine import Machine
from septum.hypervisor.memmap import KERNEL_BASE
from septum.toolchain import Source, assemble

#: (label, EID, FID, a0, a1): calls whose side effects are harmless in a loop.
CALLS: tuple[tuple[str, int, int, int, int], ...] = (
    ("base.get_spec_version", Ext.BASE, BaseFid.GET_SPEC_VERSION, 0, 0),
    ("base.probe_extension", Ext.BASE, BaseFid.PROBE_EXTENSION, Ext.DBCN, 0),
    ("time.set_timer(-1)", Ext.TIME, TimeFid.SET_TIMER, -1, 0),
    ("ipi.send_ipi(nobody)", Ext.IPI, IpiFid.SEND_IPI, 0, 0),
    ("rfence.remote_sfence_vma", Ext.RFENCE, RfenceFid.REMOTE_SFENCE_VMA, 1, 0),
    ("dbcn.console_write_byte", Ext.DBCN, DbcnFid.CONSOLE_WRITE_BYTE, ord("."), 0),
    ("legacy.console_putchar", Ext.LEGACY_CONSOLE_PUTCHAR, 0, ord("."), 0),
    ("unknown extension", 0x0123_4567, 0, 0, 0),
)

_LOOP = """\
    .include "sbi_consts.inc"
    .option norvc
    .text
    .globl _start
_start:
    li      s0, {n}
    beqz    s0, 2f
1:  li      a0, {a0}
    li      a1, {a1}
    li      a7, {eid}
    li      a6, {fid}
    {insn}
    addi    s0, s0, -1
    bnez    s0, 1b
2:  li      a0, SBI_SRST_TYPE_SHUTDOWN
    li      a1, SBI_SRST_REASON_NO_REASON
    li      a7, SBI_EXT_SRST
    li      a6, SBI_SRST_SYSTEM_RESET
    ecall
3:  j       3b
"""


@dataclass
class Result:
    """One call's cost."""

    label: str
    insns_per_call: float
    host_us_per_call: float
    output_bytes: int


def _run(fw: Path, work: Path, call: tuple[str, int, int, int, int], n: int,
         insn: str) -> tuple[int, float, int]:
    """Run the loop; return (instructions retired, host seconds, output bytes)."""
    _, eid, fid, a0, a1 = call
    text = _LOOP.format(n=n, a0=a0, a1=a1, eid=int(eid), fid=int(fid), insn=insn)
    image = assemble([Source("bench_loop.S", text)], layout={".text": KERNEL_BASE},
                     include_dirs=(str(firmware.source_dir()),))
    kernel = work / "loop.elf"
    kernel.write_bytes(image.to_elf())
    m = Machine()
    m.boot(bios=str(fw), kernel=str(kernel))
    start = time.perf_counter()
    stop = m.run(max_insns=1000 * n + 1_000_000)
    elapsed = time.perf_counter() - start
    if (stop.kind, stop.exit_code) != ("poweroff", 0):
        raise RuntimeError(f"{call[0]}: the loop did not shut down cleanly: {stop}")
    return m.instret, elapsed, len(m.uart_output)


def measure(n: int = 2000, calls=CALLS) -> list[Result]:
    """Cost of each call in ``calls``, each made ``n`` times."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fw = work / "fw.elf"
        fw.write_bytes(firmware.build().to_elf())
        for call in calls:
            with_call, secs, out = _run(fw, work, call, n, "ecall")
            with_nop, base_secs, _ = _run(fw, work, call, n, "nop")
            results.append(Result(call[0], (with_call - with_nop) / n,
                                  max(secs - base_secs, 0.0) / n * 1e6, out))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per measurement")
    args = parser.parse_args(argv)
    rows = measure(args.calls)
    print(f"SBI calls on Septum's board, {args.calls} calls each")
    print(f"{'call':<28} {'guest insns/call':>17} {'host us/call':>13}")
    for r in rows:
        print(f"{r.label:<28} {r.insns_per_call:>17.1f} {r.host_us_per_call:>13.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
