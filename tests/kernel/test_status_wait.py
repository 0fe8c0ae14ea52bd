"""TASK_STATUS's state word (kernel/ABI.md): bits 15:8 name the task a
caller waits on in SEND_WAIT and REPLY_WAIT, and are 0 in every other
state -- also when the TCB's WAIT word still holds the server of a call
that is over.  A directed system, fast path on and off, compared with
kernel/model.py (every result, TCB and buffer); the random scripts of
tests/kernel/test_model.py read the word too.

The system: a server (most urgent) receives one CALL and then waits for
a notification without answering it, a second client's CALL finds the
server busy; the supervisor (least urgent) reads the three, wakes the
server, which answers the first call; the first client then exits.
"""

from __future__ import annotations

from septum.kernel.abi import (Err, Sys, TaskState, TaskStatusWord, status_word,
                               task_id)
from septum.tests.kernel.test_model import F_LAST_SENDER, _check_against_model, _write

NRECV = (0, Sys.RECV, 1, 0, 0, 0, 0, 0, 0)


def _op(number: int, a0: int = 0, a1: int = 0) -> tuple[int, ...]:
    return (0, number, a0, a1, 0, 0, 0, 0, 0)


def test_status_word_names_the_server_a_caller_waits_on(tmp_path, fastpath):
    sup, c1, srv, c2 = 0, 1, 2, 3
    sysdesc = [{"prio": 3, "client": True, "calls": [], "notifies": [srv]},
               {"prio": 1, "client": True, "calls": [srv], "notifies": []},
               {"prio": 0, "client": False, "calls": [], "notifies": []},
               {"prio": 2, "client": True, "calls": [srv], "notifies": []}]
    scripts = [
        [_op(Sys.TASK_STATUS, c1), _op(Sys.TASK_STATUS, srv), _op(Sys.TASK_STATUS, c2),
         _op(Sys.NOTIFY, task_id(srv, 0), 1),
         _op(Sys.TASK_STATUS, c1), _op(Sys.TASK_STATUS, c2), _op(Sys.TASK_STATUS, sup)],
        [(0, Sys.CALL, task_id(srv, 0), 0, 1, 2, 3, 4, 0)],
        [(0, Sys.RECV, 0, 0, 0, 0, 0, 0, 0), NRECV,
         (F_LAST_SENDER, Sys.REPLY, 0, 0, 5, 6, 7, 8, 0), NRECV],
        [(0, Sys.CALL, task_id(srv, 0), 0, 1, 2, 3, 4, 0)],
    ]
    manifest = _write(tmp_path, sysdesc, scripts)
    model = _check_against_model(tmp_path, sysdesc, scripts, manifest, fastpath)
    word = [r.regs[1] for r in model.tasks[sup].results]
    assert [r.regs[0] for r in model.tasks[sup].results] == [Err.OK] * 7
    shift = TaskStatusWord.WAIT_SHIFT
    # Received, not answered: REPLY_WAIT on the server; the second caller
    # was never received: SEND_WAIT on it; the server itself waits on nobody.
    assert word[0] == TaskState.REPLY_WAIT | srv << shift
    assert word[1] == TaskState.NOTIFY_WAIT
    assert word[2] == TaskState.SEND_WAIT | srv << shift
    # Answered and exited: the stale WAIT word is not reported.
    assert word[4] == TaskState.EXITED
    assert word[5] == TaskState.SEND_WAIT | srv << shift
    assert word[6] == TaskState.READY  # the supervisor, running
    assert model.tasks[c1].results[0].regs[2:6] == [5, 6, 7, 8]


def test_status_word_helper_keeps_the_state_in_the_low_byte():
    for state in TaskState:
        for wait in (0, 1, 31):
            w = status_word(state, wait)
            assert w & TaskStatusWord.STATE_MASK == state
            waiting = state in (TaskState.SEND_WAIT, TaskState.REPLY_WAIT)
            assert w >> TaskStatusWord.WAIT_SHIFT == (wait if waiting else 0)
            held = status_word(state, wait, held=True)
            assert held == w | TaskStatusWord.IRQ_HELD
            assert held & TaskStatusWord.STATE_MASK == state
