"""The supervisor's watchdog rules beyond the hung task (userland/
supervisor/supervisor.S, userland/supervision.py), each proved on a real
system with a real misbehaving task:

* unanswered call: storage made deaf by an injected fault (the branch
  after its RECV nopped, campaign fault 94's spot: every request is taken
  for a notification and never answered) is blamed through the shell's
  waiting CALL, restarted (its code restored), and the shell's request
  then answered; a chain client -> middle -> deaf (tests/system/watchdog/)
  blames deaf, the end of the chain, never middle, until it gives up;
* interrupt storm: the console's UART base (its saved ``s0``) flipped, as
  campaign fault 1914, so it never drains the receive FIFO and loops on
  the raised interrupt;
* complaint: SUP_COMPLAIN through the supervisor's protocol (a task
  granted the call; a bad index; the supervisor itself; a task already
  restarting; a task without the grant; the same complaint about the
  restarted task, which fails the complainer);

and the negatives: an idle system with the shell at its prompt, typing
long lines, the attack flood, a burst of puts and host-link calls through
the proxy fail nobody -- by any rule, the deaf-driver rule
(tests/system/test_deaf_driver.py) and the code scrub
(tests/system/test_code_scrub.py) included: the console, storage and the
proxy acknowledge every interrupt before their next RECV.
"""

from __future__ import annotations

import re
from pathlib import Path

from septum.kernel.abi import TaskState, Tcb
from septum.testing.ipc import Ipc
from septum.userland import supervision

HERE = Path(__file__).parent / "watchdog"
FAILED = re.compile(rb"supervisor: \w+ faulted: cause=(hung|unanswered|storm|complaint|deaf"
                    rb"|code corrupted)")
UNANSWERED = r"supervisor: {} faulted: cause=unanswered \({} waited (\d+) heartbeats\)"
STORM = r"supervisor: {} faulted: cause=storm \((\d+) notifications in a heartbeat\)"
NOP_C = 0x0001  # c.nop (RVC: c.addi x0, 0)


def _state(m, inject, task: str) -> TaskState:
    return TaskState(int.from_bytes(m.read_phys(inject.tcb(task) + Tcb.STATE, 8), "little")
                     & 0xFF)


def _run_heartbeats(m, n: int) -> None:
    start = m.clock()
    stop = m.run(until=lambda: m.clock() >= start + n * supervision.HEARTBEAT)
    assert stop.kind == "until", stop


def _failures(console) -> list[bytes]:
    return [mt.group(0) for mt in FAILED.finditer(console.output)]


# ----- unanswered calls ------------------------------------------------------------


def test_deaf_storage_is_blamed_by_its_waiting_caller(system, console, inject):
    m = system.machine
    # Storage waits in RECV; its saved pc is the c.beqz that tells a message
    # from a notification.  Nopped, every request is handled as bits and
    # never answered: storage still answers pings and moves its counters.
    pc = inject.read_reg("storage", "pc")
    word = int.from_bytes(m.read_phys(inject.task_phys("storage", pc), 4), "little")
    assert word & 0xE003 == 0xC001, hex(word)  # c.beqz (RVC quadrant 1, funct3 110)
    inject.corrupt_instruction("storage", pc, (word & 0xFFFF_0000) | NOP_C)
    start = m.clock()
    console.sendline("put deaf ear")
    got = console.expect(UNANSWERED.format("storage", "shell"), timeout=1000)
    assert int(got.group(1)) == supervision.MISSES
    # Seen waiting at MISSES heartbeats in a row: within MISSES + 1 periods.
    assert m.clock() - start <= (supervision.MISSES + 1) * supervision.HEARTBEAT
    console.expect("supervisor: restarting storage in 10 ms")
    console.expect("supervisor: restarted storage")
    # TASK_RESTART restored storage's code; the shell's client library
    # resent the request to the new incarnation.
    console.expect("septum> ")
    console.sendline("get deaf")
    console.expect("\near")
    assert [f for f in _failures(console)] == [b"supervisor: storage faulted: cause=unanswered"]


def test_a_chain_blames_its_end_until_the_supervisor_gives_up(system_for):
    s = system_for(HERE / "chain.toml", ready=b"supervisor: up\n")
    con, m = s.console, s.machine
    for k in range(5):
        con.expect(UNANSWERED.format("deaf", "middle"), timeout=3000)
    con.expect("supervisor: deaf failed 5 times within 2000 ms: giving up")
    con.expect("supervisor: deaf stays stopped")
    # Each blame released middle's call with the dead code, which middle
    # passed on: the client was answered five times.
    _run_heartbeats(m, 2 * supervision.MISSES + 2)
    text = con.output.decode()
    assert text.count("client: answered") == 5
    # middle waits on a task given up on, the client on middle: neither is
    # blamed, ever (middle is in a CALL itself; deaf is not up).
    assert "middle faulted" not in text and "client faulted" not in text
    assert _state(m, s.inject, "deaf") == TaskState.STOPPED
    assert _state(m, s.inject, "middle") == TaskState.SEND_WAIT
    assert _state(m, s.inject, "client") == TaskState.REPLY_WAIT


# ----- interrupt storm -----------------------------------------------------------


def test_console_interrupt_storm_is_failed(system, console, inject):
    m = system.machine
    # Campaign fault 1914 (seed 0): bit 4 of the console's saved s0, the
    # UART's base.  It reads the wrong registers, never drains the FIFO, and
    # the level-triggered interrupt keeps it looping RECV -> IRQ_ACK.
    inject.flip_register("console", "s0", 4)
    start = m.clock()
    console.sendline("help")
    got = console.expect(STORM.format("console"), timeout=1000)
    assert int(got.group(1)) > supervision.STORM
    assert m.clock() - start <= 2 * supervision.HEARTBEAT
    assert _state(m, inject, "console") == TaskState.STOPPED
    console.expect("supervisor: restarted console")
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    assert _failures(console) == [b"supervisor: console faulted: cause=storm"]


# ----- complaints ------------------------------------------------------------------


def test_complaints_through_the_supervisors_protocol(system_for):
    s = system_for(HERE / "complain.toml", ready=b"supervisor: up\n")
    con, m = s.console, s.machine
    con.expect("supervisor: victim faulted: cause=complaint from plaintiff")
    assert _state(m, s.inject, "victim") == TaskState.STOPPED
    con.expect("supervisor: restarting victim in 10 ms")
    # SUP_OK; SUP_OK again while it is restarting (nothing more happens);
    # SUP_BAD_REQUEST for index 99 and for the supervisor; the outsider's
    # CALL is refused by the kernel (DENIED = 1): it has no grant.
    for status in (0, 0, 3, 3, 1):
        con.expect(f"plaintiff: complained -> {status}\n")
    con.expect("supervisor: restarted victim")
    # A heartbeat later the plaintiff complains about the restarted victim
    # again: the complaint is suspect (victim's code was just restored),
    # the plaintiff is failed instead; restarted, it complains no more.
    con.expect("supervisor: plaintiff faulted: cause=complained about victim again "
               "after its restart")
    con.expect("supervisor: restarted plaintiff")
    _run_heartbeats(m, supervision.MISSES + 1)
    text = con.output.decode()
    assert text.count("faulted") == 2 and text.count("restarted victim") == 1
    assert text.count("plaintiff: complained") == 5
    assert _state(m, s.inject, "victim") == TaskState.RECV_WAIT
    assert _state(m, s.inject, "plaintiff") == TaskState.NOTIFY_WAIT
    assert int.from_bytes(m.read_phys(s.inject.tcb("outsider") + Tcb.DENIALS, 8),
                          "little") == 1


# ----- negatives --------------------------------------------------------------------


def test_idle_typing_and_floods_fail_nobody(system, console):
    m = system.machine
    # Idle with the shell at its prompt (it waits on the console's
    # notification, not in a CALL).
    _run_heartbeats(m, 4 * supervision.MISSES)
    # Long lines typed, each answered.
    for k in range(3):
        console.sendline("put long" + str(k) + " " + "x" * 150)
        console.expect("ok")
    # The attack flood: 1000 calls to the console per command.
    for k in range(3):
        console.sendline("attack flood")
        console.expect("1000 answered")
    # A burst of puts to storage.
    for k in range(20):
        console.sendline(f"put burst{k} value{k}")
        console.expect("ok")
    console.sendline("get burst19")
    console.expect("\nvalue19")
    _run_heartbeats(m, supervision.MISSES + 1)
    assert _failures(console) == []
    assert "supervisor: restart" not in console.output.decode(errors="replace")


def test_host_link_calls_fail_nobody(system, console):
    ipc = Ipc(system)
    m = system.machine
    start = m.clock()
    calls = 0
    while m.clock() - start < (supervision.MISSES + 2) * supervision.HEARTBEAT:
        r = ipc.call("storage", 99)  # an unknown op: answered at once
        assert r.ok
        calls += 1
    assert calls > 10
    assert _failures(console) == []
