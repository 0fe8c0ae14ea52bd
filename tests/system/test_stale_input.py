"""The console's stale-input rule (userland/console/console.S, "Stale
input"): typed input that no reader has come for in CONS_INPUT_STALE
(msg.inc) makes the console complain (SUP_COMPLAIN) about the task that
called READLINE/READ last, and the supervisor restarts it.

The positive case is a shell broken without faulting: its lib/cons.S
wait loop corrupted so that it ignores the console's "call again" bit and
its own CONS_POLL deadline (the ``and`` that picks the bit out becomes
``li t0, 0``).  It waits in a notifications-only RECV for ever: blocked
in IPC, so the watchdog counts it healthy, and it waits on nobody, so no
unanswered-call rule blames anyone.  The negatives: typing ahead while
commands run (the attack spin and flood among them), an idle system, and
a line typed slowly with pauses longer than CONS_INPUT_STALE.
"""

from __future__ import annotations

import re
from pathlib import Path

from septum.kernel.abi import RegionPerm, TaskState, Tcb
from septum.testing.ipc import CONS, Ipc
from septum.userland import supervision

HELD = Path(__file__).parent / "stale" / "held.toml"
STALE = CONS["CONS_INPUT_STALE"]  # timebase ticks (10 MHz)
TICKS_PER_MS = 10_000
COMPLAINT = "supervisor: shell faulted: cause=complaint from console"
FAILED = re.compile(rb"supervisor: \w+ faulted: cause=[^\r\n]*")
# `and t0, a0, t0` (R-type: funct7 0, rs2 t0=5, rs1 a0=10, funct3 7, rd
# t0=5, OP 0x33): lib/cons.S's cons_wait picking the console's bit out of
# the bits received; the only such word in the shell's text.
AND_T0_A0_T0 = (5 << 20) | (10 << 15) | (7 << 12) | (5 << 7) | 0x33
LI_T0_0 = (5 << 7) | 0x13  # addi t0, zero, 0


def _shell_text_word(system, inject, word: int) -> int:
    """The virtual address of the one occurrence of ``word`` in the
    shell's executable region."""
    m = system.machine
    hits = []
    for base, size, perm in inject.regions("shell"):
        if not perm & RegionPerm.X:
            continue
        data = m.read_phys(inject.task_phys("shell", base), size)
        hits += [base + i for i in range(0, size - 3, 2)
                 if int.from_bytes(data[i:i + 4], "little") == word]
    assert len(hits) == 1, [hex(h) for h in hits]
    return hits[0]


def _state(system, inject, task: str) -> TaskState:
    raw = system.machine.read_phys(inject.tcb(task) + Tcb.STATE, 8)
    return TaskState(int.from_bytes(raw, "little") & 0xFF)


def _idle(system) -> None:
    m = system.machine
    stop = m.run(until=lambda: m.in_wfi)
    assert stop.kind == "until", stop


def _run_ms(system, ms: int) -> None:
    m = system.machine
    end = m.clock() + ms * TICKS_PER_MS
    stop = m.run(until=lambda: m.clock() >= end)
    assert stop.kind == "until", stop


def _failures(console) -> list[bytes]:
    return [mt.group(0) for mt in FAILED.finditer(console.output)]


def test_a_shell_that_stopped_reading_is_restarted_by_the_consoles_complaint(
        system, console, inject):
    m = system.machine
    _idle(system)  # the shell waits at its prompt, in cons_wait's RECV
    va = _shell_text_word(system, inject, AND_T0_A0_T0)
    inject.corrupt_instruction("shell", va, LI_T0_0)
    start = m.clock()
    console.sendline("uptime")  # finished for the deaf shell: dropped later
    _run_ms(system, 100)
    console.sendline("help")    # unedited in the ring behind that line
    console.expect(COMPLAINT, timeout=2 * STALE / TICKS_PER_MS)
    waited = m.clock() - start
    # Not before the input waited CONS_INPUT_STALE; at the latest one
    # kernel tick after (the console's TIMER deadline, then its CALL).
    assert STALE <= waited <= STALE + 2 * 100_000, waited
    # Healthy to the watchdog all along: blocked in IPC, nobody blamed.
    console.expect("supervisor: restarting shell in 10 ms")
    console.expect("supervisor: restarted shell")
    console.expect("septum> ")
    # The new shell (its code restored) reads on: the line finished for
    # the old incarnation is dropped, the ring bytes typed after it are
    # edited for the new one and answered without being typed again.
    console.expect("help            this list")
    console.expect("septum> ")
    after = console.output[console.output.index(b"restarted shell"):]
    assert re.search(rb"up \d+\.\d{3} s", after) is None
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    # Once per incarnation, and the new shell is not complained about.
    _run_ms(system, 3 * STALE // TICKS_PER_MS)
    assert _failures(console) == [COMPLAINT.encode()]
    assert _state(system, inject, "shell") == TaskState.NOTIFY_WAIT


def test_typing_ahead_while_commands_run_is_no_complaint(system, console):
    # Each command line is followed at once by the next ones: the typed-
    # ahead bytes wait in the ring while the shell is busy.  The attack
    # spins at the shell's priority until the watchdog stops it (the
    # shell's command returned at once, but round robin shares the CPU);
    # the flood makes 1000 console calls.
    for line in ("attack spin", "uptime", "ps"):
        console.sendline(line)
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    console.expect("supervisor: restarted attack")
    for line in ("attack flood", "put ahead typed", "attack flood", "get ahead"):
        console.sendline(line)
    console.expect("1000 answered")
    console.expect("1000 answered")
    console.expect("\ntyped\r?\n")
    console.expect("septum> ")
    _run_ms(system, 3 * STALE // TICKS_PER_MS)
    assert b"complaint from console" not in console.output
    assert b"shell faulted" not in console.output


def test_an_idle_system_is_no_complaint(system, console):
    _run_ms(system, 4 * STALE // TICKS_PER_MS)
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    _run_ms(system, 2 * STALE // TICKS_PER_MS)
    assert b"complaint" not in console.output
    assert _failures(console) == []


def test_a_long_line_typed_slowly_is_no_complaint(system, console):
    # Pauses longer than CONS_INPUT_STALE between keystrokes: the bytes
    # are edited into the shell's line as they come (nothing waits for a
    # reader; the line waits for the user).
    pause = STALE * 6 // 5 // TICKS_PER_MS
    value = "slow-typing-" + "x" * 20
    for ch in "put slow " + value:
        console.send(ch)
        _run_ms(system, pause)
    console.send("\n")
    console.expect("ok")
    console.sendline("get slow")
    console.expect("\n" + value)
    assert b"complaint" not in console.output
    assert _failures(console) == []


def test_the_stale_window_covers_the_campaigns_probe():
    # The rule must act before the swifi campaign declares a hang (3 probes
    # of 500 ms of silence) and after any command's run time (~10 ms
    # measured; a watchdog restart of a server the shell waits on is
    # found within MISSES + 1 heartbeats), and it must not fire on a
    # healthy waiting reader, which asks again every CONS_POLL.
    from septum.testing.campaign import swifi
    assert STALE < swifi.GET_TRIES * swifi.PROBE_TIME
    assert STALE > (supervision.MISSES + 1) * supervision.HEARTBEAT
    assert STALE >= 2 * CONS["CONS_POLL"]


def test_a_reader_told_its_line_is_there_that_never_calls_back_is_complained_about(
        system_for):
    # The host's proxy, the console's only reader, asks for a line
    # (CONS_WAIT) and is told when one is typed, but the host never asks
    # again: the line waits for it.  Complained about after
    # CONS_INPUT_STALE, it is restarted and loses its place and that line
    # (as any restarted reader); asking again, it gets the next one.
    s = system_for(HELD, ready=b"supervisor: up\n")
    m, con = s.machine, s.console
    waiting = (TaskState.RECV_WAIT, TaskState.NOTIFY_WAIT)
    stop = m.run(max_insns=5_000_000,
                 until=lambda: all(_state(s, s.inject, t) in waiting for t in ("console", "proxy")))
    assert stop.kind == "until", stop
    ipc = Ipc(s)
    assert ipc.call("console", CONS["CONS_READLINE"], buflen=64).words[0] == CONS["CONS_WAIT"]
    start = m.clock()
    con.send(b"held\r")
    assert ipc.wait_notified(timeout=10)  # told; it does not call back
    con.expect("supervisor: proxy faulted: cause=complaint from console",
               timeout=2 * STALE / TICKS_PER_MS)
    assert STALE <= m.clock() - start <= STALE + 2 * 100_000
    con.expect("supervisor: restarted proxy")
    _run_ms(s, 50)
    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)
    assert r.ok and r.words[0] == CONS["CONS_WAIT"]  # the held line is gone
    con.send(b"next\r")
    r = ipc.console_read(buflen=64)
    assert r.ok and r.words[0] == CONS["CONS_OK"] and r.data == b"next"
    # Once per incarnation: the new proxy waits again, nobody complains.
    _run_ms(s, 2 * STALE // TICKS_PER_MS)
    assert _failures(con) == [b"supervisor: proxy faulted: cause=complaint from console"]
