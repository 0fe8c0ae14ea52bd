"""Smoke test of the device benchmark: it runs on a small size, its virtio
request really returns the disk's bytes, and it prints its table (no timing
is asserted)."""

from __future__ import annotations

from pathlib import Path

from septum.tests.bench import bench_devices


def test_bench_devices_runs_and_prints_a_table(capsys) -> None:  # type: ignore[no-untyped-def]
    assert bench_devices.main(["--ops", "200"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("access")
    names = [line[:28].strip() for line in out[1:]]
    assert names == ["uart LSR read", "uart THR write", "clint mtime read (32-bit)",
                     "plic claim+complete", "virtio-blk 4 KiB read"]


def test_bench_devices_results_are_correct(tmp_path: Path) -> None:
    rows = bench_devices.run(100, tmp_path)  # raises SystemExit if a request failed
    assert [n for _, n, _ in rows] == [100, 100, 100, 50, 2]
    assert all(rate > 0 for _, _, rate in rows)
