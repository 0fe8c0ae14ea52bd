"""Benchmark: lines assembled per second, Septum's assembler beside GNU as + ld.

Generates a realistic assembly file (functions with labels, loops and
branches, ``li``/``la``/``call``, CSR accesses, loads/stores, a data section
with strings and words, a ``.bss``), then times, in the same run, Septum's
``assemble`` (and the ELF writer) and ``riscv64-unknown-elf-as`` followed by
``ld``, as subprocesses, on the same file.  Prints the median of N runs with
min and max, lines per second, and the ratio.  Prints figures; asserts no
timing.

    python -m septum.tests.bench.bench_asm --lines 10000 --runs 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

from septum.toolchain import Source, assemble

GNU_AS = "riscv64-unknown-elf-as"
GNU_LD = "riscv64-unknown-elf-ld"
MARCH = "rv64imac_zicsr_zifencei"
BASE = 0x8000_0000

REGS = ["a0", "a1", "a2", "a3", "a4", "a5", "t0", "t1", "t2", "s1", "s2", "s3"]


def generate(lines: int, seed: int = 1) -> str:
    """About ``lines`` lines of assembly (instructions, labels, directives)."""
    rng = random.Random(seed)
    out = [".option rvc", ".text", ".globl _start", "_start:",
           "    li sp, 0x80800000", "    call f0", "1:  wfi", "    j 1b"]
    data = [".data"]
    func = 0
    while len(out) + len(data) < lines:
        name = f"f{func}"
        out += ["", f".globl {name}", f".type {name}, @function", f"{name}:",
                "    addi sp, sp, -16", "    sd ra, 8(sp)"]
        for blk in range(rng.randint(2, 5)):
            out.append(f".L{name}_{blk}:")
            for _ in range(rng.randint(4, 12)):
                r1, r2, r3 = (rng.choice(REGS) for _ in range(3))
                k = rng.random()
                if k < 0.30:
                    op = rng.choice(["add", "sub", "and", "or", "xor", "sll", "mul", "addw"])
                    out.append(f"    {op} {r1}, {r2}, {r3}")
                elif k < 0.50:
                    op = rng.choice(["addi", "andi", "ori", "xori", "slti"])
                    out.append(f"    {op} {r1}, {r2}, {rng.randint(-2048, 2047)}")
                elif k < 0.62:
                    op = rng.choice(["ld", "lw", "lbu", "sd", "sw", "sb"])
                    out.append(f"    {op} {r1}, {rng.randint(-64, 64) * 8}(sp)")
                elif k < 0.72:
                    out.append(f"    li {r1}, {rng.choice([rng.randint(-30, 30), rng.getrandbits(32), rng.getrandbits(64)])}")
                elif k < 0.78:
                    out.append(f"    la {r1}, msg{rng.randint(0, max(0, func // 4))}")
                elif k < 0.90:
                    op = rng.choice(["beq", "bne", "blt", "bgeu"])
                    out.append(f"    {op} {r1}, {r2}, .L{name}_{rng.randint(0, blk)}")
                elif k < 0.95:
                    out.append(f"    csrr {r1}, {rng.choice(['sstatus', 'sepc', 'scause', 'stval'])}")
                else:
                    out.append(f"    call f{rng.randint(0, func)}")
        out += ["    ld ra, 8(sp)", "    addi sp, sp, 16", "    ret",
                f".size {name}, . - {name}"]
        if func % 4 == 0:
            data += [f"msg{func // 4}: .asciz \"message {func}\"", ".balign 8",
                     f"tab{func // 4}: .dword {rng.getrandbits(64)}, {rng.getrandbits(32)}",
                     f"    .word {rng.getrandbits(32)}, {rng.getrandbits(16)}"]
        func += 1
    # Every la target must exist.
    return "\n".join(out + data + [".bss", "buf: .zero 4096", ""])


def time_septum(source: str) -> float:
    t0 = time.perf_counter()
    image = assemble([Source("bench.S", source)], base=BASE, march=MARCH)
    image.to_elf()
    return time.perf_counter() - t0


def time_gnu(path: Path, workdir: Path) -> float:
    obj, elf = workdir / "bench.o", workdir / "bench.elf"
    t0 = time.perf_counter()
    subprocess.run([GNU_AS, f"-march={MARCH}", "-mabi=lp64", str(path), "-o", str(obj)],
                   check=True, capture_output=True)
    subprocess.run([GNU_LD, "-e", "0", f"-Ttext={BASE:#x}", str(obj), "-o", str(elf)],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def measure(lines: int, runs: int) -> dict[str, list[float]]:
    """Run both assemblers ``runs`` times on a ``lines``-line file; seconds per run."""
    source = generate(lines)
    with tempfile.TemporaryDirectory(prefix="septum-bench-") as tmp:
        work = Path(tmp)
        path = work / "bench.S"
        path.write_text(source)
        result: dict[str, list[float]] = {"septum": [], "gnu": []}
        for _ in range(runs):
            result["septum"].append(time_septum(source))
            result["gnu"].append(time_gnu(path, work))
    return result


def table(lines: int, result: dict[str, list[float]]) -> str:
    rows = [f"assembling a {lines}-line file ({len(result['septum'])} runs each)",
            f"{'assembler':<22}{'median s':>10}{'min s':>10}{'max s':>10}{'lines/s':>12}"]
    med = {}
    for name, label in (("septum", "septum assemble+ELF"), ("gnu", "GNU as + ld")):
        ts = result[name]
        med[name] = statistics.median(ts)
        rows.append(f"{label:<22}{med[name]:>10.4f}{min(ts):>10.4f}{max(ts):>10.4f}"
                    f"{lines / med[name]:>12,.0f}")
    rows.append(f"ratio (septum time / GNU time): {med['septum'] / med['gnu']:.1f}x")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=10_000, help="lines in the generated file")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each assembler")
    args = parser.parse_args(argv)
    if args.lines < 10 or args.runs < 1:
        parser.error("--lines must be >= 10 and --runs >= 1")
    lines = len(generate(args.lines).splitlines())
    print(table(lines, measure(args.lines, args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
