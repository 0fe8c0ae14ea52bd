"""TASK_STOP (kernel/ABI.md): directed model-agreement systems.

The random scripts of tests/kernel/test_model.py issue TASK_STOP too; these
systems pin down the cases that matter to the supervisor's watchdog and to
the fast path's hints, each run with the fast path on and off and compared
with kernel/model.py (every result, TCB and buffer):

- a server is stopped while a caller holds it as its fast-path server
  (Tcb.LASTSRV): the old id gets the dead code, the new one waits in
  SEND_WAIT until the server's TASK_RESTART serves it;
- a caller is stopped while its server holds it as its fast-path partner
  (Tcb.PARTNER): the server's reply to the new id is skipped, the stopped
  task stays STOPPED; stopping it again, stopping oneself, an index out of
  range and a non-supervisor's TASK_STOP are the documented errors;
- a faulted task that is stopped keeps its generation and fault record.
"""

from __future__ import annotations

from septum.kernel.abi import Err, Sys, TaskState, dead_code, task_id
from septum.tests.kernel.test_model import F_FAULT, F_LAST_SENDER, _check_against_model, _write

SERVE = (F_LAST_SENDER, Sys.REPLY_RECV, 0, 0, 5, 6, 7, 8, 0)
NRECV = (0, Sys.RECV, 1, 0, 0, 0, 0, 0, 0)


def _op(number: int, a0: int = 0, a1: int = 0) -> tuple[int, ...]:
    return (0, number, a0, a1, 0, 0, 0, 0, 0)


def _call(index: int, gen: int) -> tuple[int, ...]:
    return (0, Sys.CALL, task_id(index, gen), 0, 1, 2, 3, 4, 0)


def _status(model, index: int, k: int) -> list[int]:
    """The registers task ``index``'s op ``k`` returned."""
    return model.tasks[index].results[k].regs


def test_stopped_server_is_not_reached_through_the_callers_hint(tmp_path, fastpath):
    sup, c, s = 0, 1, 2
    sysdesc = [{"prio": 2, "client": True, "calls": [], "notifies": [c]},
               {"prio": 1, "client": True, "calls": [s], "notifies": []},
               {"prio": 0, "client": False, "calls": [], "notifies": []}]
    scripts = [
        [_op(Sys.TASK_STOP, s), _op(Sys.NOTIFY, task_id(c, 0), 1), _op(Sys.TASK_STATUS, s),
         _op(Sys.TASK_RESTART, s), _op(Sys.TASK_STATUS, c)],
        # The second CALL is a fast one; after the stop the old id is dead and
        # the new one waits for the restart.
        [_call(s, 0), _call(s, 0), NRECV, _call(s, 0), _call(s, 1)],
        [SERVE, SERVE, SERVE, SERVE],
    ]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    assert _status(model, sup, 0)[:2] == [Err.OK, task_id(s, 1)]
    assert _status(model, sup, 2)[1] == TaskState.STOPPED
    assert _status(model, c, 3)[0] == dead_code(1)
    assert _status(model, c, 4)[0] == Err.OK  # served by the restarted server
    assert model.tasks[s].id == task_id(s, 1)


def test_stopped_caller_is_not_reached_through_the_servers_hint(tmp_path, fastpath):
    sup, c, s = 0, 1, 2
    sysdesc = [{"prio": 2, "client": True, "calls": [], "notifies": [s]},
               {"prio": 1, "client": True, "calls": [s], "notifies": []},
               {"prio": 0, "client": False, "calls": [], "notifies": []}]
    scripts = [
        [_op(Sys.TASK_STOP, c), _op(Sys.NOTIFY, task_id(s, 0), 1), _op(Sys.TASK_STOP, c),
         _op(Sys.TASK_STOP, sup), _op(Sys.TASK_STOP, 99), _op(Sys.TASK_STATUS, c)],
        [_call(s, 0), _call(s, 0)],
        # The server first tries a stop (DENIED), then holds the caller as
        # its partner while it waits for a notification, then replies to
        # the caller's new id: skipped, nobody waits for it.
        [_op(Sys.TASK_STOP, c), SERVE, SERVE, NRECV,
         (0, Sys.REPLY_RECV, task_id(c, 1), 0, 9, 9, 9, 9, 0)],
    ]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    assert _status(model, s, 0)[0] == Err.DENIED and model.tasks[s].denials == 1
    assert _status(model, sup, 2)[:2] == [Err.OK, task_id(c, 1)]  # no second generation
    assert _status(model, sup, 3)[0] == Err.BAD_TASK
    assert _status(model, sup, 4)[0] == Err.BAD_TASK
    assert _status(model, sup, 5)[1:3] == [TaskState.STOPPED, task_id(c, 1)]
    assert model.tasks[c].state == TaskState.STOPPED
    assert model.tasks[s].state == TaskState.RECV_WAIT


def test_stopping_a_faulted_task_keeps_its_fault_record(tmp_path, fastpath):
    sup, c = 0, 1
    sysdesc = [{"prio": 2, "client": True, "calls": [], "notifies": []},
               {"prio": 1, "client": True, "calls": [], "notifies": []}]
    fault_addr = 0x8020_0000
    scripts = [[_op(Sys.TASK_STATUS, c), _op(Sys.TASK_STOP, c), _op(Sys.TASK_STATUS, c)],
               [(F_FAULT, 0, fault_addr, 0, 0, 0, 0, 0, 0)]]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    before, after = _status(model, sup, 0), _status(model, sup, 2)
    assert before[1] == TaskState.FAULTED and after[1] == TaskState.STOPPED
    assert after[2:5] == before[2:5] == [task_id(c, 1), 13, fault_addr]
