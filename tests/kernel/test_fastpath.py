"""The IPC fast path: same results as the slow path, fewer instructions."""

from __future__ import annotations

from .conftest import build_kernel, run_qemu
from .ipcbench import build_pingpong, round_trip


def test_pingpong_same_results_fewer_instructions(tmp_path):
    fast, out_fast, _ = round_trip(build_pingpong(tmp_path / "fast.elf", True))
    slow, out_slow, _ = round_trip(build_pingpong(tmp_path / "slow.elf", False))
    for out in (out_fast, out_slow):
        assert "FAIL" not in out
        assert "ok pingpong.replies" in out and "ok pingpong.bench" in out
        assert "ok pingpong.serverwaits" in out and "ping: done" in out
        assert "ok pingpong.ipccounts" in out  # counted alike on both paths
    assert out_fast == out_slow
    # Deterministic instruction counts (not time): the fast path is taken.
    assert fast < slow


#: The fast path's instruction budget for one IPC round trip (CALL and the
#: server's REPLY_RECV, from the caller's ecall to the instruction after it).
ROUND_TRIP_BUDGET = 150


def test_round_trip_within_budget(tmp_path):
    fast, out, _ = round_trip(build_pingpong(tmp_path / "fast.elf", True))
    assert "FAIL" not in out
    assert 0 < fast <= ROUND_TRIP_BUDGET


def test_pingpong_counts_on_qemu(tmp_path, fastpath):
    """The same checks (replies, IPC counters) under real QEMU."""
    out = run_qemu(build_kernel("pingpong.toml", tmp_path / "pp.elf", fastpath).elf)
    assert "FAIL" not in out, out
    assert "ok pingpong.replies" in out and "ok pingpong.ipccounts" in out, out
