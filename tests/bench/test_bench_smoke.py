"""Smoke tests of the benchmarks: each runs on a small size and its results are
correct (no timing is asserted)."""

from __future__ import annotations

from elftools.elf.elffile import ELFFile

from septum.tests.bench import bench_asm
from septum.tests.toolchain import gnu
from septum.toolchain import Source, assemble


def test_bench_asm_runs_and_prints_a_table(capsys):
    assert bench_asm.main(["--lines", "300", "--runs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("assembling a ")
    assert any(l.startswith("septum assemble+ELF") for l in out)
    assert any(l.startswith("GNU as + ld") for l in out)
    assert out[-1].startswith("ratio")


def test_bench_asm_source_assembles_like_gnu(tmp_path):
    source = bench_asm.generate(400, seed=7)
    assert len(source.splitlines()) >= 400
    ref = gnu.build(source, base=bench_asm.BASE, workdir=tmp_path)
    with open(ref.elf, "rb") as f:
        data_at = ELFFile(f).get_section_by_name(".data")["sh_addr"]
    # Place .data where GNU ld put it, so that la's offsets agree.
    image = assemble([Source("bench.S", source)], base=bench_asm.BASE,
                     layout={".text": bench_asm.BASE, ".data": data_at},
                     march=bench_asm.MARCH)
    assert image.section(".text").data == ref.text
