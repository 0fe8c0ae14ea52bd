"""Line coverage (hypervisor/coverage.py): exact counts on a loop whose
iterations are known, lcov round trip, the annotated listing, the CLI, and
the kernel's line coverage over the kernel's test systems (printed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from septum.hypervisor import cli
from septum.hypervisor.coverage import Coverage, CoverageResult, parse_lcov
from septum.hypervisor.machine import Machine
from septum.tests.bench import bareguest
from septum.toolchain.build import KERNEL_DIR, build
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


def test_kernel_line_coverage(tmp_path, capsys):
    """Runs the kernel's test systems that power off by themselves and
    reports the kernel's line coverage (the target, 90%, is for later)."""
    total = CoverageResult()
    for manifest in ("syscalls.toml", "pingpong.toml", "preempt.toml"):
        elf = build(TASKS / manifest, tmp_path / (manifest + ".elf")).elf
        m = Machine(ram_size=128 << 20)
        m.boot(bios=str(elf))
        cov = Coverage(m).start()
        assert m.run(max_insns=10_000_000).kind == "poweroff"
        cov.stop()
        total = total.merge(cov.result(read_line_table(elf)).select(KERNEL_DIR))
    hit, lines = total.totals()
    assert {Path(f).name for f in total.files} >= {"entry.S", "trap.S", "ipc.S", "sched.S"}
    with capsys.disabled():
        print(f"\nkernel line coverage: {hit}/{lines} = {total.percent():.1f}%")
    assert 0 < hit < lines
