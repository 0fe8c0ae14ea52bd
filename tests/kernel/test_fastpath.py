"""The IPC fast path: same results as the slow path, fewer instructions."""

from __future__ import annotations

from .ipcbench import build_pingpong, round_trip


def test_pingpong_same_results_fewer_instructions(tmp_path):
    fast, out_fast, _ = round_trip(build_pingpong(tmp_path / "fast.elf", True))
    slow, out_slow, _ = round_trip(build_pingpong(tmp_path / "slow.elf", False))
    for out in (out_fast, out_slow):
        assert "FAIL" not in out
        assert "ok pingpong.replies" in out and "ok pingpong.bench" in out
        assert "ok pingpong.serverwaits" in out and "ping: done" in out
    assert out_fast == out_slow
    # Deterministic instruction counts (not time): the fast path is taken.
    assert fast < slow
