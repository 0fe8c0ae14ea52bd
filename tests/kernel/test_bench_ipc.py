"""Smoke test of tests/bench/bench_ipc.py (its figures are not asserted)."""

from __future__ import annotations

from septum.tests.bench import bench_ipc


def test_bench_ipc_runs(capsys):
    assert bench_ipc.main(["--fastpath-only"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("fast path"))
    assert int(row.split()[2]) > 0
