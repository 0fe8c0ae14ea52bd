"""Smoke test of bench_vs_qemu: a small run's guests all exit 0, the exact
instruction count follows from the loop (6 per iteration plus the fixed
head and tail, the same across runs), and the table is printed (no timing is
asserted)."""

from __future__ import annotations

from septum.tests.bench import bench_vs_qemu


def test_bench_vs_qemu_small_run() -> None:
    res = bench_vs_qemu.run(iters=1000, runs=1)
    assert res["statuses"] == [0, 0, 0, 0]
    small = res["insns"]
    assert len(small) == 1
    res2 = bench_vs_qemu.run(iters=2000, runs=1)
    # 1000 more iterations of the 6-instruction loop body.
    assert res2["insns"][0] - small[0] == 6 * 1000
    assert all(len(v) == 1 for v in res2["rows"].values())


def test_bench_vs_qemu_main_prints_table(capsys) -> None:  # type: ignore[no-untyped-def]
    assert bench_vs_qemu.main(["--iters", "1000", "--runs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("guest: 1,000 iterations")
    assert [l.split("  ")[0] for l in out[2:7]] == [
        "septum run: wall s", "septum run: MIPS (minus start-up)", "QEMU: wall s",
        "QEMU: MIPS (minus start-up)", "bare Unicorn, no hooks: MIPS"]
