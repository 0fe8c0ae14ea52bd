"""Smoke test of bench_trace: it runs on a small size and its results are
correct (the compact trace decodes to every instruction retired); no timing
is asserted."""

from __future__ import annotations

from pathlib import Path

from septum.tests.bench import bench_mips, bench_trace


def test_bench_trace_measure_is_exact(tmp_path):
    iters = 500
    g = bench_mips.build(iters, tmp_path / "loop.elf")
    r = bench_trace.measure(g.elf, bios=False)
    # No traps in the loop guest: every instruction retired and was decoded,
    # and the naive tracer saw each one once.
    assert r["compact_traps"] == 0
    assert r["compact_retired"] == r["insns"] == r["naive_records"]
    # ... and the same (pc, privilege, bits) for each.
    assert r["compact_not_in_naive"] == 0
    # MROM stub (6) + 4 set-up + 6 per iteration + jump out (1) + exit (4).
    assert r["insns"] == 6 + 4 + 6 * iters + 1 + 4


def test_bench_trace_main_prints_table(capsys):
    assert bench_trace.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("guest") and "compact/naive" in out[0]
    assert any(l.startswith("kernel pingpong") for l in out)
