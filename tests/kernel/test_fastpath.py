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


def test_ipc_counters_wrap_modulo_2_32(tmp_path, fastpath):
    """A counter at 2**32 - 1 wraps to 0 on the next message, on either
    path, and its word's high half stays 0 (ABI.md: IPC counters)."""
    from septum.hypervisor.machine import Machine
    from septum.kernel.abi import Tcb

    from .ipcbench import BUDGET, symbols

    elf = build_pingpong(tmp_path / "pp.elf", fastpath)
    syms = symbols(elf)
    ping, pong = (syms["tcbs"] + i * Tcb.SIZE for i in (0, 1))
    m = Machine(ram_size=128 << 20)
    try:
        m.boot(bios=str(elf))
        assert m.run(max_insns=BUDGET, breakpoints=[syms["bench_ecall"]]).kind == "breakpoint"
        word = lambda a: int.from_bytes(m.read_phys(a, 8), "little")  # noqa: E731
        before = {a: word(a) for a in (ping + Tcb.SENT, ping + Tcb.RECEIVED,
                                       pong + Tcb.SENT, pong + Tcb.RECEIVED)}
        assert set(before.values()) == {1000}  # 1000 round trips so far
        for a in (ping + Tcb.SENT, pong + Tcb.RECEIVED):
            m.write_phys(a, (2**32 - 1).to_bytes(8, "little"))
        assert m.run(max_insns=BUDGET, breakpoints=[syms["bench_return"]]).kind == "breakpoint"
        # The request wrapped both; the reply counted normally.
        assert word(ping + Tcb.SENT) == 0 and word(pong + Tcb.RECEIVED) == 0
        assert word(pong + Tcb.SENT) == 1001 and word(ping + Tcb.RECEIVED) == 1001
    finally:
        m.close()
