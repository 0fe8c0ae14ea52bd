"""Boot to the prompt and every shell command, through `septum boot --script`."""

from __future__ import annotations

import re

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.kernel.abi import TaskState  # noqa: F401  (the states ps names)
from septum.toolchain.manifest import load_manifest

from .conftest import ps_rows

TASKS = ["supervisor", "console", "storage", "shell", "attack"]


def _task_count() -> int:
    """Tasks in the system `septum boot` runs (the kernel's banner)."""
    return len(load_manifest(DEFAULT_MANIFEST).tasks)


def test_boots_to_the_prompt_and_powers_off(boot):
    r = boot(["poweroff"])
    assert r.rc == 0
    assert r.out.startswith(f"Septum microkernel: {_task_count():#x} tasks\n")
    assert "supervisor: up\n" in r.out
    assert "Septum shell. Type 'help' for the commands.\n" in r.out
    assert r.after("poweroff") == "supervisor: powering off\n"
    assert r.out.endswith("supervisor: powering off\n")


def test_help_lists_every_command(boot):
    r = boot(["help", "poweroff"])
    listed = [line.split()[0] for line in r.after("help").splitlines()]
    assert listed == ["help", "ps", "put", "get", "del", "ls", "crash", "attack",
                      "uptime", "reboot", "poweroff"]


def test_ps_shows_every_task(boot):
    r = boot(["ps", "poweroff"])
    rows = ps_rows(r.after("ps"))
    assert list(rows)[:len(TASKS)] == TASKS  # (tasks appended later come after)
    # Index, priority (system manifest), restarts, denials, id (generation 0).
    assert [rows[t][0] for t in TASKS] == ["0", "1", "2", "3", "4"]
    assert [rows[t][2] for t in TASKS] == ["0", "1", "2", "2", "2"]
    assert all(rows[t][4:6] == ["0", "0"] for t in TASKS)
    assert [rows[t][8] for t in TASKS] == ["0x0", "0x1", "0x2", "0x3", "0x4"]
    # The shell waits for the supervisor's reply; idle servers wait for
    # requests
    # (a server that has not had the CPU yet since boot is still ready).
    assert rows["shell"][3] == "reply-wait"
    # (storage may still wait for its disk's interrupt, mounting).
    assert all(rows[t][3] in ("ready", "recv-wait") for t in ("console", "attack"))
    assert rows["storage"][3] in ("ready", "recv-wait", "notify-wait")


def test_ps_counts_ipc_messages(boot):
    # kernel/ABI.md TASK_STATUS a7: every message the kernel delivers counts
    # once for its sender (sent) and once for its receiver (recv).
    r = boot(["ps", "put k v", "attack flood", "ps", "poweroff"])
    before, after = ps_rows(r.after("ps")), ps_rows(r.after("ps", 2))
    sent = {t: int(after[t][6]) - int(before[t][6]) for t in TASKS}
    recv = {t: int(after[t][7]) - int(before[t][7]) for t in TASKS}
    # The PUT: a request storage received, a reply it sent.
    assert sent["storage"] >= 1 and recv["storage"] >= 1
    # The flood: 1000 calls the console received and answered, on top of
    # what the shell and the attack task printed through it.
    assert sent["attack"] >= 1000 and recv["attack"] >= 1000
    assert recv["console"] >= 1000 + 1 and sent["console"] >= 1000 + 1
    # ps's own SUP_STATUS calls: one per task, answered.
    assert sent["shell"] >= len(TASKS) and sent["supervisor"] >= len(TASKS)


def test_storage_commands(boot):
    r = boot(["put colour deep blue sea", "get colour", "put size 42", "ls",
              "del colour", "get colour", "del colour", "ls", "get", "poweroff"])
    assert r.rc == 0
    assert r.after("put colour deep blue sea") == "ok\n"
    assert r.after("get colour") == "deep blue sea\n"
    assert r.after("ls") == "colour\nsize\n(2 keys)\n"
    assert r.after("del colour") == "ok\n"
    assert r.after("get colour", 2) == "not found\n"
    assert r.after("del colour", 2) == "not found\n"
    assert r.after("ls", 2) == "size\n(1 keys)\n"
    assert r.after("get") == "error: bad request\n"  # no key: length 0


def test_uptime_is_virtual_and_advances(boot):
    r = boot(["uptime", "uptime", "poweroff"])
    times = [float(re.fullmatch(r"up (\d+\.\d{3}) s \(virtual time\)\n", r.after("uptime", n))
                   .group(1)) for n in (1, 2)]
    assert 0 <= times[0] <= times[1]
    # Deterministic: the same script gives the same times.
    again = boot(["uptime", "uptime", "poweroff"])
    assert again.out == r.out


def test_unknown_and_incomplete_commands(boot):
    r = boot(["frobnicate now", "attack", "attack nonsense", "crash nobody", "crash supervisor",
              "", "   ", "poweroff"])
    assert r.after("frobnicate now") == "unknown command: frobnicate (try 'help')\n"
    kinds = "attack KIND: kernel memory device peer buffers flood spin\n"
    assert r.after("attack") == kinds and r.after("attack nonsense") == kinds
    assert r.after("crash nobody") == "crash: no task named nobody\n"
    assert r.after("crash supervisor") == "crash: the supervisor cannot restart itself\n"
    assert r.rc == 0


def test_line_editing_backspace(boot):
    # DEL erases the last character typed (the console edits the line).
    r = boot("put k abx\x7fc\nget k\npoweroff\n")
    assert r.after("get k") == "abc\n"


def test_reboot_resets_the_machine(boot):
    r = boot(["put survivor yes", "reboot", "get survivor", "poweroff"])
    assert r.rc == 0
    assert "supervisor: rebooting\n" in r.out
    assert r.out.count(f"Septum microkernel: {_task_count():#x} tasks\n") == 2
    # The disk outlives the reset: the record is read back after the reboot.
    assert r.after("get survivor") == "yes\n"
