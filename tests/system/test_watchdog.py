"""The supervisor's watchdog (userland/supervision.py, supervisor.S,
lib/watch.S) on the default system, through septum.testing's `system`,
`console` and `inject` fixtures: a server that loops without faulting is
found, stopped at once (TASK_STOP) and restarted after the back-off, its
clients get the dead code and carry on; a task given up on stays stopped."""

from __future__ import annotations

import re
from pathlib import Path

from septum.kernel.abi import TaskState, Tcb, Trapframe
from septum.toolchain.assembler import asm
from septum.userland import supervision

HUNG = r"supervisor: {} faulted: cause=hung \(missed {} heartbeats\)"
BACKOFF = 100_000  # the first restart's back-off: 10 ms (supervisor.S BACKOFF_BASE)


def _loop_console(m, inject) -> None:
    """Make the console loop: its receive ring told it holds 2**40 bytes.
    rx_head is a checked pair (console.S: the value, then its complement);
    only a corruption of both words passes its self-check."""
    bad = 1 << 40
    m.write_phys(inject.task_phys("console", m.symbols["rx_head"]),
                 bad.to_bytes(8, "little") + (~bad % 2**64).to_bytes(8, "little"))


def _ps(console) -> dict[str, list[str]]:
    console.sendline("ps")
    console.expect(r" 4  attack[^\n]*\n")
    text = console.output.decode(errors="replace").replace("\r", "")
    rows = {}
    for line in text.rsplit("ID NAME", 1)[1].splitlines()[1:]:
        cols = line.split()
        if len(cols) == 9 and cols[0].isdigit():
            rows[cols[1]] = cols
    return rows


def test_a_looping_server_is_found_and_restarted(system, console, inject):
    m = system.machine
    # A corrupted word in the console's data: its receive ring claims 2**40
    # typed bytes, so the next delivery loops over them -- no IPC, no RECV,
    # no fault: a hang only a watchdog sees.
    _loop_console(m, inject)
    start = m.clock()
    console.sendline("help")  # its interrupt wakes the console into the loop
    console.expect(HUNG.format("console", supervision.MISSES), timeout=1000)
    found = m.clock()
    # Runnable at MISSES heartbeats in a row after the one that first saw
    # it so: found within MISSES + 1 periods of the hang.
    assert supervision.MISSES * supervision.HEARTBEAT <= found - start \
        <= (supervision.MISSES + 1) * supervision.HEARTBEAT
    console.expect("supervisor: restarting console in 10 ms")
    console.expect("supervisor: restarted console")
    assert m.clock() - found <= BACKOFF + supervision.HEARTBEAT
    # The shell's READLINE on the hung console got the dead code; its
    # client library took the new generation and asked the new console.
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")
    rows = _ps(console)
    assert rows["console"][4] == "1" and int(rows["console"][8], 16) >> 16 == 1
    # The less urgent tasks the looping console starved meanwhile (the
    # attack task and any task appended, runnable since the snapshot) were
    # excused, not taken for hung.
    assert all(rows[t][4] == "0" for t in rows if t != "console")


def test_a_busy_server_answers_the_pings(system, console):
    # Floods keep the console runnable across heartbeats; it answers each
    # ping at its next RECV, so it is never taken for hung.
    m = system.machine
    start = m.clock()
    floods = 0
    while m.clock() - start < (supervision.MISSES + 2) * supervision.HEARTBEAT and floods < 200:
        console.sendline("attack flood")
        console.expect("1000 answered")
        floods += 1
    assert m.clock() - start >= (supervision.MISSES + 2) * supervision.HEARTBEAT
    assert "hung" not in console.output.decode(errors="replace")
    rows = _ps(console)
    assert all(rows[t][4] == "0" for t in rows)


def test_spin_attack_is_stopped_by_the_watchdog(system, console):
    console.sendline("attack spin")
    console.expect("septum> ")
    console.expect(HUNG.format("attack", supervision.MISSES), timeout=1000)
    console.expect("supervisor: restarted attack")
    console.sendline("attack peer")
    console.expect(r"-> DENIED")


def test_crash_is_a_real_fault_at_the_watch_library(system, console, inject):
    console.sendline("crash console")
    stop = console.expect(r"kernel: task 0x1 stopped: cause=(0x[0-9a-f]+) tval=(0x[0-9a-f]+) "
                          r"pc=(0x[0-9a-f]+)\r?\n")
    cause, tval, pc = (int(g, 16) for g in stop.groups())
    # Load page fault (privileged spec: cause 13, tval = the address, 0).
    assert (cause, tval) == (13, 0)
    # The faulting instruction is lib/watch.S's load from address 0.
    word = system.machine.read_phys(inject.task_phys("console", pc), 4)
    assert word == asm("ld t0, 0(zero)", pc)
    console.expect(re.escape(f"supervisor: console faulted: cause=0xd pc={pc:#x} tval=0x0"))
    console.expect("supervisor: restarted console")
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s")


def test_a_crash_request_not_carried_out_is_a_restart(system, console):
    # The spinning attack task never receives again, so it cannot answer
    # the crash bit: a heartbeat later the supervisor restarts it itself.
    console.sendline("attack spin")
    console.expect("septum> ")
    console.sendline("crash attack")
    console.expect("crash: attack told to fault; the supervisor restarts it")
    console.expect("supervisor: attack ignored the crash request: restarting it", timeout=1000)
    console.sendline("attack peer")
    console.expect(r"-> DENIED")
    assert "cause=hung" not in console.output.decode(errors="replace")


def _state(m, inject, task: str) -> TaskState:
    return TaskState(int.from_bytes(m.read_phys(inject.tcb(task) + Tcb.STATE, 8), "little"))


def _frame(m, inject, task: str) -> bytes:
    """The task's saved registers and pc (what it resumes with)."""
    return m.read_phys(inject.tcb(task), Trapframe.TF_PC + 8)


def _saved_pc(m, inject, task: str) -> int:
    return int.from_bytes(m.read_phys(inject.tcb(task) + Trapframe.TF_PC, 8), "little")


def test_a_looping_server_is_stopped_at_detection(system, console, inject):
    """TASK_STOP at detection: through the back-off the looping console is
    STOPPED and retires no instruction (a breakpoint on the loop, where it
    would resume, is never reached), then the restart brings it back."""
    m = system.machine
    _loop_console(m, inject)
    console.sendline("help")
    console.expect(HUNG.format("console", supervision.MISSES), timeout=1000)
    found = m.clock()
    assert _state(m, inject, "console") == TaskState.STOPPED
    frame, loop_pc = _frame(m, inject, "console"), _saved_pc(m, inject, "console")
    stop = m.run(breakpoints=[loop_pc], until=lambda: m.clock() >= found + BACKOFF // 2)
    assert stop.kind == "until", stop
    assert _state(m, inject, "console") == TaskState.STOPPED
    assert _frame(m, inject, "console") == frame
    console.expect("supervisor: restarting console in 10 ms")
    console.expect("supervisor: restarted console")
    assert _state(m, inject, "console") != TaskState.STOPPED
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)")


def test_a_hung_task_given_up_on_stays_stopped(system, console, inject):
    """Five hangs within the window: the supervisor gives up, and the
    spinning attack task stays STOPPED -- it never runs again, the other
    tasks work on, and ps shows it given up."""
    m = system.machine
    for k in range(5):
        console.sendline("attack spin")
        console.expect(HUNG.format("attack", supervision.MISSES), timeout=1000)
        assert _state(m, inject, "attack") == TaskState.STOPPED
    console.expect("supervisor: attack failed 5 times within 2000 ms: giving up")
    console.expect("supervisor: attack stays stopped")
    frame, spin_pc = _frame(m, inject, "attack"), _saved_pc(m, inject, "attack")
    start = m.clock()
    stop = m.run(breakpoints=[spin_pc],
                 until=lambda: m.clock() >= start + 3 * supervision.HEARTBEAT)
    assert stop.kind == "until", stop
    assert _state(m, inject, "attack") == TaskState.STOPPED
    assert _frame(m, inject, "attack") == frame
    console.sendline("put k stopped")
    console.sendline("get k")
    console.expect("\nstopped")
    rows = _ps(console)
    assert rows["attack"][3] == "given-up"
    assert all(rows[t][3] != "given-up" for t in rows if t != "attack")
    assert _state(m, inject, "attack") == TaskState.STOPPED


def test_ps_names_every_kernel_state():
    """ps prints a task's state from the shell's one table (state_names in
    userland/shell/shell.S), indexed by TaskState: it must name every state,
    STOPPED included, in TaskState order (an index past its end would print
    whatever follows it)."""
    src = (Path(supervision.__file__).parent / "shell" / "shell.S").read_text()
    labels = re.search(r"^state_names:.*\n\s+\.dword\s+([^\n#]+)", src, re.M).group(1)
    strings = dict(re.findall(r'^(\w+):\s+\.asciz\s+"([^"]*)"', src, re.M))
    names = [strings[label.strip()] for label in labels.split(",")]
    assert names == [s.name.lower().replace("_", "-") for s in TaskState]
