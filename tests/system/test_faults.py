"""Faults contained and repaired: crash each server while its clients go on;
every attack demo contained, the kernel and the other tasks unaffected."""

from __future__ import annotations

import re

from septum.hypervisor import memmap
from septum.kernel.abi import Layout
from septum.toolchain.build import DEFAULT_SLOT
from septum.toolchain.riscv import Exc

from .conftest import KERNEL_STOP, crash_reply, links_watch, ps_rows

ATTACK = 4  # manifest index of the attack task
SHELL = 3
#: The tasks these scenarios involve (a task appended to the manifest,
#: such as the host-link proxy, is left out of the comparisons).
TASKS = ("supervisor", "console", "storage", "shell", "attack")


def test_crash_each_server_in_turn(boot):
    # `crash attack` answers before the attack task has faulted (it faults
    # when it next runs); `crash shell` next lets it run, so that `attack
    # peer` then reaches its new incarnation rather than racing its fault.
    r = boot(["put k before", "crash console", "get k", "crash storage", "get k",
              "put k after", "crash attack", "crash shell", "attack peer", "get k", "ps",
              "poweroff"])
    assert r.rc == 0
    # A real fault: the task's receive loop (lib/watch.S) answers the crash
    # bit with a load from address 0 -- a load page fault, tval 0 -- which
    # the kernel records and the supervisor logs; the shell makes its own.
    stops = {int(t, 16): (int(c, 16), int(v, 16), pc) for t, c, v, pc in KERNEL_STOP.findall(r.out)}
    for name, index in (("console", 1), ("storage", 2), ("shell", SHELL), ("attack", ATTACK)):
        if name != "shell" and not links_watch(name):
            # No receive loop that could answer: restarted as before.
            assert f"supervisor: restart requested: {name}\n" in r.out
            assert r.after(f"crash {name}").endswith(crash_reply(name))
            continue
        assert stops[index][:2] == (Exc.LOAD_PAGE_FAULT, 0)
        pc = stops[index][2]
        assert f"supervisor: {name} faulted: cause={Exc.LOAD_PAGE_FAULT:#x} pc={pc} tval=0x0\n" \
            in r.out
        base = Layout.TASKS_BASE + index * DEFAULT_SLOT
        assert base <= int(pc, 16) < base + DEFAULT_SLOT
        if name != "shell":
            assert f"supervisor: crash requested: {name}\n" in r.out
            assert r.after(f"crash {name}").endswith(crash_reply(name))
    assert "crash: shell: faulting now (a load from address 0)\n" in r.after("crash shell")
    # Clients carry on: the shell's next request after each restart reaches
    # the new incarnation (the kernel answers the stale id with the dead
    # code, the client library retries with the new generation).
    assert r.after("get k") == "before\n"
    assert r.after("get k", 2).endswith("before\n")  # the record survived storage's restart
    assert "-> DENIED" in r.after("attack peer")
    # The shell itself restarted: its banner again, then its commands work.
    assert "Septum shell. Type 'help' for the commands.\n" in r.after("crash shell")
    assert r.after("get k", 3) == "after\n"
    rows = ps_rows(r.after("ps"))
    assert {t: rows[t][4] for t in TASKS} == {"supervisor": "0", "console": "1", "storage": "1",
                                            "shell": "1", "attack": "1"}
    # Each restart is a new generation: the id's bits 31:16.
    assert {t: int(rows[t][8], 16) >> 16 for t in TASKS} == {
        "supervisor": 0, "console": 1, "storage": 1, "shell": 1, "attack": 1}


def test_memory_attacks_fault_and_are_restarted(boot):
    r = boot(["attack kernel", "attack memory", "attack device", "ps", "put k v", "get k",
              "poweroff"])
    assert r.rc == 0
    stops = [m.groups() for m in KERNEL_STOP.finditer(r.out)]
    shell_base = Layout.TASKS_BASE + SHELL * DEFAULT_SLOT
    # (task, scause, stval): what the privileged spec says a U-mode load or
    # store through a page the task may not use raises.
    assert [(int(t, 16), int(c, 16), int(v, 16)) for t, c, v, _ in stops] == [
        (ATTACK, Exc.LOAD_PAGE_FAULT, Layout.KERNEL_BASE),
        (ATTACK, Exc.STORE_PAGE_FAULT, shell_base),
        (ATTACK, Exc.LOAD_PAGE_FAULT, memmap.UART0_BASE),
    ]
    for t, cause, tval, pc in stops:
        assert (f"supervisor: attack faulted: cause={cause} pc={pc} tval={tval}\n") in r.out
    # Back-off doubles with each failure in the window.
    assert [f"supervisor: restarting attack in {ms} ms" in r.out for ms in (10, 20, 40)] == \
        [True] * 3
    for kind in ("kernel", "memory", "device"):
        assert "shell: the attack task was stopped by the kernel (fault contained)\n" in \
            r.after(f"attack {kind}")
    rows = ps_rows(r.after("ps"))
    # Nobody else was touched; the kernel still schedules everyone.
    assert all(rows[t][4] == "0" for t in ("supervisor", "console", "storage", "shell"))
    assert r.after("get k") == "v\n"


def test_authority_and_buffer_attacks_are_refused(boot):
    r = boot(["attack peer", "attack buffers", "attack flood", "ps", "poweroff"])
    assert r.after("attack peer") == "attack: calling the supervisor (not granted) -> DENIED\n"
    assert r.after("attack buffers") == (
        "attack: console WRITE from kernel memory -> BAD_BUFFER\n"
        "attack: console WRITE from the shell's memory -> BAD_BUFFER\n"
        "attack: console WRITE wrapping around the address space -> BAD_BUFFER\n"
        "attack: console WRITE of 1 TiB from our own buffer -> BAD_BUFFER\n")
    assert r.after("attack flood") == (
        "attack: flooding the console with 1000 calls -> 1000 answered; "
        "the console still serves everyone\n")
    rows = ps_rows(r.after("ps"))
    assert rows["attack"][5] == "1"  # the one denial, counted by the kernel
    assert all(rows[t][4] == "0" for t in rows)  # no task stopped
    assert "stopped" not in r.out
    assert r.rc == 0


def test_spinning_at_a_server_priority_starves_nobody_and_the_watchdog_stops_it(boot):
    r = boot(["attack spin", "put k v", "get k", "attack peer", "attack peer", "ps",
              "poweroff"])
    assert r.rc == 0
    assert "attack: spinning forever at priority 2" in r.after("attack spin")
    # Storage and the shell share the attacker's priority: round robin.
    assert r.after("get k") == "v\n"
    # The attack task is watched: runnable, no pong, no IPC for two
    # heartbeats in a row is a hang, failed like a fault; the shell's call
    # to it, unanswered at two heartbeats in a row, blames it too (the
    # watchdog's unanswered-call rule): whichever comes first.  The shell's
    # call waits for the spinning task until then and gets the dead code.
    assert re.search(r"supervisor: attack faulted: cause=(hung \(missed 2 heartbeats\)|"
                     r"unanswered \(shell waited 2 heartbeats\))\n", r.out), r.out
    assert "supervisor: restarting attack in 10 ms\n" in r.out
    assert "shell: the attack task was stopped by the kernel (fault contained)\n" in \
        r.after("attack peer")
    # Restarted, it serves requests again.
    assert r.after("attack peer", 2).endswith("-> DENIED\n")
    rows = ps_rows(r.after("ps"))
    assert rows["attack"][4] == "1"
    assert all(rows[t][4] == "0" for t in ("supervisor", "console", "storage", "shell"))


def test_supervisor_gives_up_then_a_request_brings_it_back(boot):
    r = boot(["attack kernel"] * 5 + ["ps", "attack peer", "crash attack", "attack peer",
                                      "poweroff"])
    assert r.rc == 0
    assert "supervisor: attack failed 5 times within 2000 ms: giving up\n" in r.out
    assert "supervisor: attack stays stopped\n" in r.out
    assert ps_rows(r.after("ps"))["attack"][3] == "given-up"
    assert r.after("attack peer") == \
        "shell: the attack task is not running (the supervisor gave up on it)\n"
    assert r.after("attack peer", 2).endswith("-> DENIED\n")


def test_attacker_follows_a_restarted_console(boot):
    # The attack task's console id is stale after the restart: its calls
    # get the dead code, take the new generation and reach the new console,
    # whose kernel still refuses the bad buffers.
    r = boot(["crash console", "attack buffers", "poweroff"])
    assert r.after("attack buffers").count("-> BAD_BUFFER\n") == 4
    assert "DEAD" not in r.out
