"""Benchmark of the board: compute speed against bare Unicorn, trap round
trips through the trap unit, and real QEMU on the same image for reference.

Run ``python -m septum.tests.bench.bench_board [--loop N] [--ecalls N]``;
it prints a table and asserts nothing about time (figures, not tests).

* compute: a guest loop of ``4 * N`` instructions run by :class:`Machine`
  (slices, exact counting, devices, no per-instruction hooks) and by a bare
  Unicorn engine with no hooks at all, on the same binary; the ratio is
  bare time / Machine time (target >= 0.8).  The Machine runs with its
  default block clock (hypervisor/blockclock.py: one C callback per
  translated block; the table says whether the compiled callback or the
  Python fallback ran) and, for reference, with ``clock="count"``
  (Unicorn's per-instruction count, what the board used before).
  Another row runs bare Unicorn in ``count=`` slices: the cost of
  Unicorn's per-instruction counting hook on its own.
  ``--python-clock N`` adds a row with the Python block clock on an
  N-iteration loop (it is far slower: a ctypes callback per block).
* ecall: ``N`` U-mode ``ecall``s, each a full trap through the trap unit to
  an M-mode handler that returns with ``mret`` (target >= 100,000/s).
* qemu: the compute image under ``qemu-system-riscv64 -M virt -bios none``
  (wall time including QEMU's start-up).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from dataclasses import dataclass

from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc
from unicorn import riscv_const as rc

from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_bin, build_elf

COMPUTE = r"""
.globl _start
_start:
    li a0, {n}
    li a1, 0
loop:
    add a1, a1, a0
    xor a2, a1, a0
    addi a0, a0, -1
    bnez a0, loop
done:
    la t0, result
    sd a1, 0(t0)
    POWEROFF
.align 3
result: .dword 0
"""

ECALLS = r"""
.globl _start
_start:
    la t0, handler
    csrw mtvec, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    li t0, 0x1800
    csrc mstatus, t0          # MPP = U
    la t0, user
    csrw mepc, t0
    li s0, {n}
    mret
.align 2
handler:
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
.align 2
user:
    ecall
    addi s0, s0, -1
    bnez s0, user
    POWEROFF
"""


@dataclass
class Result:
    """One benchmark's figures."""

    name: str
    seconds: float
    work: int
    unit: str
    note: str = ""

    @property
    def rate(self) -> float:
        return self.work / self.seconds if self.seconds else 0.0


def expected_sum(n: int) -> int:
    """What COMPUTE leaves in ``result``: the sum n + (n-1) + ... + 1."""
    return (n * (n + 1) // 2) & ((1 << 64) - 1)


def bench_machine_compute(n: int, clock: str = "block",
                          clock_impl: str = "auto") -> tuple[Result, Machine]:
    """The compute loop on a :class:`Machine` with the given clock."""
    m = Machine(clock=clock, clock_impl=clock_impl)
    m.boot(kernel=str(build_elf(COMPUTE.format(n=n))))
    t = time.perf_counter()
    r = m.run()
    dt = time.perf_counter() - t
    assert r.kind == "poweroff"
    name = "compute (Machine)" if clock == "block" else "compute (Machine, count clock)"
    return Result(name, dt, m.instret, "insn", note=f"clock {m.clock_impl}"), m


def _bare_compute_guest(n: int) -> tuple[Uc, int]:
    """A bare Unicorn with the compute loop at 0x8000_0000, and its ``done``."""
    image = build_bin(COMPUTE.format(n=n)).read_bytes()
    syms = Machine(ram_size=16 << 20)
    syms.load_elf(build_elf(COMPUTE.format(n=n)))
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.ctl_set_cpu_model(rc.UC_CPU_RISCV64_SIFIVE_U54)
    uc.mem_map(0x8000_0000, 16 << 20)
    uc.mem_write(0x8000_0000, image)
    return uc, syms.symbols["done"]


def bench_bare_compute(n: int) -> tuple[Result, int]:
    uc, done = _bare_compute_guest(n)
    t = time.perf_counter()
    uc.emu_start(0x8000_0000, done)
    dt = time.perf_counter() - t
    return Result("compute (bare Unicorn)", dt, 2 + 4 * n, "insn"), uc.reg_read(rc.UC_RISCV_REG_A1)


def bench_bare_counted(n: int, slice_insns: int = 10_000) -> Result:
    """Bare Unicorn in ``count=`` slices, as exact counting needs (the
    per-instruction counter is Unicorn's own C hook)."""
    uc, done = _bare_compute_guest(n)
    pc = 0x8000_0000
    t = time.perf_counter()
    while pc != done:
        uc.emu_start(pc, done, count=slice_insns)
        pc = uc.reg_read(rc.UC_RISCV_REG_PC)
    dt = time.perf_counter() - t
    return Result("compute (bare Unicorn, count=)", dt, 2 + 4 * n, "insn",
                  note="10k-instruction slices")


def bench_ecalls(n: int) -> tuple[Result, Machine]:
    m = Machine()
    m.boot(kernel=str(build_elf(ECALLS.format(n=n))))
    t = time.perf_counter()
    r = m.run()
    dt = time.perf_counter() - t
    assert r.kind == "poweroff"
    return Result("U-mode ecall round trips", dt, m.trap.counts.get(8, 0), "trap"), m


def bench_qemu(n: int) -> Result | None:
    qemu = shutil.which("qemu-system-riscv64")
    if qemu is None:
        return None
    elf = build_elf(COMPUTE.format(n=n))
    t = time.perf_counter()
    p = subprocess.run([qemu, "-M", "virt", "-nographic", "-bios", "none", "-kernel", str(elf)],
                       capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    return Result("compute (real QEMU, wall)", dt, 2 + 4 * n, "insn",
                  note=f"exit {p.returncode}, includes start-up")


def _result_sum(m: Machine) -> int:
    return int.from_bytes(m.read_phys(m.symbols["result"], 8), "little")


def run(loop: int, ecalls: int, qemu: bool = True, python_clock: int = 0) -> dict[str, object]:
    """Run every benchmark; return the figures and the guests' results."""
    mc, m = bench_machine_compute(loop)
    kc, km = bench_machine_compute(loop, clock="count")
    bc, bare_sum = bench_bare_compute(loop)
    cc = bench_bare_counted(loop)
    ec, em = bench_ecalls(ecalls)
    out: dict[str, object] = {
        "machine": mc, "machine_count": kc, "bare": bc, "counted": cc, "ecall": ec,
        "ratio": bc.seconds / mc.seconds if mc.seconds else 0.0,
        "ratio_count_clock": bc.seconds / kc.seconds if kc.seconds else 0.0,
        "ratio_counted": cc.seconds / mc.seconds if mc.seconds else 0.0,
        "machine_sum": _result_sum(m), "count_sum": _result_sum(km),
        "clock_impl": m.clock_impl,
        "bare_sum": bare_sum, "ecall_count": em.trap.counts.get(8, 0),
    }
    if python_clock:
        pc, pm = bench_machine_compute(python_clock, clock_impl="python")
        out["python_clock"] = Result("compute (Machine, Python clock)", pc.seconds, pc.work,
                                     "insn", note=f"{python_clock} iterations")
        out["python_sum"] = _result_sum(pm)
    if qemu:
        out["qemu"] = bench_qemu(loop)
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loop", type=int, default=10_000_000, help="compute loop iterations")
    ap.add_argument("--ecalls", type=int, default=200_000, help="U-mode ecalls")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU reference run")
    ap.add_argument("--python-clock", type=int, default=0, metavar="N",
                    help="also time the Python block clock on an N-iteration loop")
    args = ap.parse_args(argv)
    res = run(args.loop, args.ecalls, qemu=not args.no_qemu, python_clock=args.python_clock)
    rows = [res["machine"], res["machine_count"], res["bare"], res["counted"], res["ecall"]]
    if res.get("python_clock"):
        rows.append(res["python_clock"])
    if res.get("qemu"):
        rows.append(res["qemu"])
    print(f"{'benchmark':32} {'seconds':>9} {'work':>12} {'rate':>16}  note")
    for r in rows:
        assert isinstance(r, Result)
        print(f"{r.name:32} {r.seconds:9.3f} {r.work:12d} {r.rate:12,.0f} {r.unit}/s  {r.note}")
    print(f"{'Machine / bare Unicorn speed':32} {res['ratio']:9.2f}  (target >= 0.8; "
          f"block clock: {res['clock_impl']})")
    print(f"{'  the same with the count clock':32} {res['ratio_count_clock']:9.2f}")
    print(f"{'Machine / bare counted slices':32} {res['ratio_counted']:9.2f}  "
          "(bare Unicorn paying for its per-instruction count hook)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
