"""More model agreement for the fast-path kernel (kernel/fastpath.S).

The fast path's guards rest on hints the slow path keeps in each TCB (the
last eligible server, the caller last delivered, the scheduler's summary
word); a stale hint would deliver a message or a reply that the slow path
would not.  These systems are generated like tests/kernel/test_model.py's
(restarts, faults, stale ids, notifications, queued callers), from other
seeds, and run on the fast-path kernel only; every result, TCB and buffer
must match kernel/model.py.  The second test checks that the fast path is
really taken in such a run (fewer instructions than the slow kernel for
the same results).
"""

from __future__ import annotations

import pytest

from septum.hypervisor.machine import Machine
from septum.tests.kernel.test_model import BUDGET, _check_against_model, _write_system
from septum.toolchain.build import build

SEEDS = range(100, 116)


@pytest.mark.parametrize("seed", SEEDS)
def test_fastpath_kernel_agrees_with_model(tmp_path, seed):
    n = 3 + seed % 4
    manifest, sysdesc, scripts = _write_system(tmp_path, seed, n)
    _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath=True)


def _instructions_to_power_off(elf) -> int:
    m = Machine(ram_size=128 << 20)
    try:
        m.boot(bios=str(elf))
        stop = m.run(max_insns=BUDGET)
        assert stop.kind == "poweroff", (stop, m.uart_output.decode(errors="replace"))
        return m.instret
    finally:
        m.close()


def test_fastpath_taken_in_pingpong_with_same_output(tmp_path):
    from .ipcbench import TASKS
    fast = build(TASKS / "pingpong.toml", tmp_path / "f.elf", fastpath=True).elf
    slow = build(TASKS / "pingpong.toml", tmp_path / "s.elf", fastpath=False).elf
    # 1001 round trips: the fast kernel must save far more than the summary
    # word costs on its few slow exits.
    assert _instructions_to_power_off(fast) + 1001 * 100 < _instructions_to_power_off(slow)


def test_reply_hint_forgotten_when_the_caller_restarts(tmp_path):
    """A server holds a fast-path caller (its reply hint); the supervisor
    restarts that caller, whose new incarnation then waits on another
    server.  A REPLY_RECV naming the new id must not reach it (the model:
    not waiting for us, the reply is skipped)."""
    from septum.kernel.abi import Sys, task_id
    from septum.tests.kernel.test_model import F_LAST_SENDER, _write
    sup, c, s, s2 = 0, 1, 2, 3
    sysdesc = [{"prio": 2, "client": True, "calls": [], "notifies": [s]},
               {"prio": 1, "client": True, "calls": [s, s2], "notifies": []},
               {"prio": 0, "client": False, "calls": [], "notifies": []},
               {"prio": 0, "client": False, "calls": [], "notifies": []}]
    call = lambda j: (0, Sys.CALL, task_id(j, 0), 0, 1, 2, 3, 4, 0)  # noqa: E731
    serve = (F_LAST_SENDER, Sys.REPLY_RECV, 0, 0, 5, 6, 7, 8, 0)
    recv = (0, Sys.RECV, 0, 0, 0, 0, 0, 0, 0)
    scripts = [
        [(0, Sys.TASK_RESTART, c, 0, 0, 0, 0, 0, 0), (0, Sys.NOTIFY, task_id(s, 0), 1, 0, 0, 0, 0, 0)],
        [call(s2), call(s), call(s)],  # the second CALL to s is a fast one
        [serve, serve, recv, (0, Sys.REPLY_RECV, task_id(c, 1), 0, 9, 9, 9, 9, 0)],
        [serve, serve, recv],
    ]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath=True)
    assert model.tasks[c].state == 2 and model.tasks[c].wait == s2  # REPLY_WAIT on s2
