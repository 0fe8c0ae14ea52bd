"""Line coverage (hypervisor/coverage.py): exact counts on a loop whose
iterations are known, lcov round trip, the annotated listing, the CLI, only
code lines counted (as GNU as's line table), and the kernel's line coverage
over the kernel's test systems and tests/kernel/test_kernel_paths.py
(printed; target >= 90%)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from septum.hypervisor import cli
from septum.hypervisor.coverage import Coverage, CoverageResult, code_lines, parse_lcov
from septum.hypervisor.machine import Machine
from septum.tests.bench import bareguest
from septum.toolchain.build import KERNEL_DIR, build
from septum.toolchain.assembler import assemble
from septum.toolchain.elf import read_line_table

TASKS = Path(__file__).resolve().parent.parent / "kernel" / "tasks"
ITERS = 37

LOOP = f"""\
    .option norvc
    .text
    .globl _start
_start:
    li      t0, {ITERS}
    li      a0, 0
1:  addi    a0, a0, 3
    addi    t0, t0, -1
    bnez    t0, 1b
    beqz    a0, never
    j       done
never:
    addi    a0, a0, 1
    j       never
"""


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> tuple[bareguest.Guest, CoverageResult]:
    g = bareguest.build(LOOP, tmp_path_factory.mktemp("cov") / "loop.elf")
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(g.elf))
    cov = Coverage(m).start()
    assert m.run().kind == "poweroff"
    cov.stop()
    return g, cov.result(read_line_table(g.elf))


def _line_of(text: str, needle: str) -> int:
    return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)


def test_loop_counts(loop):
    g, res = loop
    (name, lines), = [(f, d) for f, d in res.files.items() if f.endswith("loop.S")]
    src = LOOP + "\n" + bareguest.EXIT
    assert lines[_line_of(src, "li      t0,")] == 1
    assert lines[_line_of(src, "addi    a0, a0, 3")] == ITERS
    assert lines[_line_of(src, "bnez    t0, 1b")] == ITERS
    assert lines[_line_of(src, "never:") + 1] == 0
    # li t2, 0x5555 expands to two instructions: the line still ran once.
    assert lines[_line_of(src, "li      t2,")] == 1
    hit, total = res.totals()
    assert 0 < hit < total


def test_lcov_round_trip_and_listing(loop, tmp_path):
    _, res = loop
    text = res.lcov()
    assert text.startswith("TN:") and "end_of_record" in text
    back = parse_lcov(text)
    assert back.files == res.files
    assert res.merge(res).files[next(iter(res.files))] == {
        k: 2 * v for k, v in res.files[next(iter(res.files))].items()}
    listing = res.listing()
    assert "#####" in listing and f"{ITERS:>9}:" in listing
    info = tmp_path / "c.info"
    info.write_text(text)
    assert cli.main(["coverage", str(info)]) == 0
    assert cli.main(["coverage", str(info), "--listing"]) == 0
    info.write_text("SF:a\nDA:x,1\n")
    assert cli.main(["coverage", str(info)]) == 2


def test_code_lines_match_gnu_as(tmp_path):
    """Only rows that address code count, as in GNU as's line table (which
    gives none to data directives): same lines, same file, both tools."""
    src = tmp_path / "mixed.S"
    src.write_text(MIXED)
    obj = tmp_path / "gnu.o"
    subprocess.run(["riscv64-unknown-elf-as", "-g", "-march=rv64gc", "-o", str(obj), str(src)],
                   check=True)
    gnu = {e.line for e in read_line_table(obj)}
    assert gnu == {_line_of(MIXED, "addi    a0, a0, 1"), _line_of(MIXED, "j       _start")}
    img = assemble([str(src)], base=0x8000_0000)
    assert {e.line for e in img.lines} > gnu  # Septum's assembler also marks the data
    elf = tmp_path / "mixed.elf"
    elf.write_bytes(img.to_elf())
    assert {e.line for e in code_lines(elf)} == gnu


MIXED = """\
    .text
    .globl _start
_start:
    addi    a0, a0, 1
    j       _start
    .section .rodata
msg: .asciz "data, never run"
    .data
word: .dword 5
    .bss
buf: .zero 64
"""


def test_kernel_line_coverage(tmp_path_factory, monkeypatch, capsys):
    """Runs the kernel's test systems that power off by themselves, and the
    scenarios of tests/kernel/test_kernel_paths.py, with the fast path and
    without it (the slow path is complete on its own), every machine under
    coverage; the kernel's line coverage must reach 90% (printed)."""
    from septum.tests.kernel import test_kernel_paths as paths

    runs: list[tuple[list[str], Coverage]] = []
    boot = Machine.boot

    def covered_boot(self, *args, **kw):
        result = boot(self, *args, **kw)
        elves = [str(v) for v in (*args, *kw.values())
                 if isinstance(v, (str, Path)) and str(v).endswith(".elf")]
        runs.append((elves, Coverage(self).start()))
        return result

    monkeypatch.setattr(Machine, "boot", covered_boot)
    scenarios = [getattr(paths, n) for n in dir(paths) if n.startswith("test_")]
    for fastpath in (True, False):
        tag = "fast" if fastpath else "slow"
        for manifest in ("syscalls.toml", "pingpong.toml", "preempt.toml"):
            tmp = tmp_path_factory.mktemp(f"{tag}-{manifest}")
            elf = build(TASKS / manifest, tmp / "sys.elf", fastpath=fastpath).elf
            m = Machine(ram_size=128 << 20)
            m.boot(bios=str(elf))
            assert m.run(max_insns=10_000_000).kind == "poweroff"
        for scenario in scenarios:
            scenario(tmp_path_factory.mktemp(f"{tag}-{scenario.__name__}"), fastpath)
    total = CoverageResult()
    for elves, cov in runs:
        cov.stop()
        for elf in elves:
            total = total.merge(cov.result(code_lines(elf)).select(KERNEL_DIR))
    hit, lines = total.totals()
    assert {Path(f).name for f in total.files} >= {"entry.S", "trap.S", "ipc.S", "sched.S",
                                                  "irq.S", "fastpath.S", "syscall.S"}
    with capsys.disabled():
        print(f"\nkernel line coverage: {hit}/{lines} = {total.percent():.1f}% "
              f"({len(runs)} machines)")
    assert total.percent() >= 90.0, total.listing()
