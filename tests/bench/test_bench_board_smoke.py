"""Smoke test of tests/bench/bench_board.py on a small size: the benchmark
runs and its guests compute the right results (no timing asserted)."""

from __future__ import annotations

from septum.tests.bench import bench_board


def test_bench_board_small() -> None:
    res = bench_board.run(loop=2_000, ecalls=300, qemu=True)
    assert res["machine_sum"] == res["bare_sum"] == bench_board.expected_sum(2_000)
    assert res["ecall_count"] == 300
    machine = res["machine"]
    assert isinstance(machine, bench_board.Result) and machine.work >= 4 * 2_000
    qemu = res["qemu"]
    assert qemu is not None and "exit 0" in qemu.note


def test_bench_board_main_prints_table(capsys: object) -> None:
    assert bench_board.main(["--loop", "1000", "--ecalls", "100", "--no-qemu"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "ecall" in out and "bare Unicorn" in out
