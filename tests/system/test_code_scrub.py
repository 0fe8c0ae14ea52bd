"""The supervisor's code scrub (userland/supervisor/supervisor.S,
check_code; the kernel's TASK_VERIFY): at each heartbeat one watched task
that is up, round robin, has its code compared with the pristine copy;
code that differs makes the task the suspect, verified at each heartbeat,
and still different at ``SCRUB_GRACE`` heartbeats in a row fails it
(``cause=code corrupted (offset <n>)``); the restart restores it, whatever
the corruption's symptom.

* SWIFI fault 9214 of seed 0 made directly: a random word over the
  shell's ``ipc_call`` just after its ecall.  The shell keeps running and
  loses its answers (no other rule can see that); the scrub finds it
  within one turn of the watched tasks, the shell is restarted, and a
  typed command is answered.
* An instruction that never runs (the shell's entry, run only at a
  start) corrupted: found too, and no fault is ever taken.
* A difference repaired within the grace (the suspect verifies intact)
  fails nobody.
* An idle system: the scrub goes round and fails nobody.
* A complainer whose code differs is failed instead of the task it
  accuses (SUP_COMPLAIN verifies the caller).
"""

from __future__ import annotations

import re
from pathlib import Path

from elftools.elf.elffile import ELFFile

from septum.userland import supervision

ECALL = 0x0000_0073
C_ADDIW_T1_M1 = 0x337D  # c.addiw t1, -1 (RVC quadrant 1): DEAD_HI's low bits
FAULT_9214_WORD = 0x19B9_58ED  # the word the campaign's fault 9214 writes
SCRUB = r"supervisor: {} faulted: cause=code corrupted \(offset (\d+)\)"
FAILED = re.compile(rb"supervisor: \w+ faulted: cause=[^\r\n]*")
HERE = Path(__file__).parent / "watchdog"


def _symbols(elf, name: str) -> list[int]:
    with open(elf, "rb") as f:
        tab = ELFFile(f).get_section_by_name(".symtab")
        return [s["st_value"] for s in tab.iter_symbols() if s.name == name]


def _in_region(values: list[int], region: tuple[int, int, int]) -> int:
    base, size, _ = region
    return next(v for v in values if base <= v < base + size)


def _bound(inject) -> int:
    """Heartbeats from a corruption to its task's failure, at most."""
    return inject.ntasks + 1 + supervision.SCRUB_GRACE


def _run_heartbeats(m, n: int) -> None:
    start = m.clock()
    stop = m.run(until=lambda: m.clock() >= start + n * supervision.HEARTBEAT)
    assert stop.kind == "until", stop


def test_fault_9214_is_found_and_the_shell_restarted(system, console, inject):
    m = system.machine
    code = inject.regions("shell")[0]
    ipc_call = _in_region(_symbols(system.elf, "ipc_call"), code)
    # The first ecall of ipc_call, then the fault's spot 10 bytes after it
    # (slli, srli, c.lui: the dead-code test of its answer).
    va = ipc_call
    half = lambda a: int.from_bytes(m.read_phys(inject.task_phys("shell", a), 2), "little")  # noqa: E731
    while half(va) | half(va + 2) << 16 != ECALL:
        va += 2
    spot = va + 4 + 10
    assert half(spot) == C_ADDIW_T1_M1, hex(half(spot))
    inject.corrupt_instruction("shell", spot, FAULT_9214_WORD)
    start = m.clock()
    console.sendline("put f9214 v1")
    got = console.expect(SCRUB.format("shell"), timeout=2000)
    assert int(got.group(1)) == spot - code[0]  # the word's first byte differs
    # One TASK_VERIFY per heartbeat: found within one turn of the tasks
    # (plus the heartbeat in progress), failed SCRUB_GRACE - 1 later.
    assert m.clock() - start <= _bound(inject) * supervision.HEARTBEAT
    console.expect("supervisor: restarting shell in 10 ms")
    console.expect("supervisor: restarted shell")
    assert half(spot) == C_ADDIW_T1_M1  # the restart restored the code
    console.expect("septum> ")
    console.sendline("put scrub answered")
    console.expect("ok")
    console.sendline("get scrub")
    console.expect("\nanswered")
    text = console.output.decode(errors="replace")
    assert [f for f in FAILED.findall(console.output)] == \
        [f"supervisor: shell faulted: cause=code corrupted (offset {spot - code[0]})".encode()]
    assert "kernel: task" not in text  # no fault was ever taken


def test_a_never_executed_instruction_is_found(system, console, inject):
    m = system.machine
    code = inject.regions("shell")[0]
    entry = _in_region(_symbols(system.elf, "_start"), code)
    old = m.read_phys(inject.task_phys("shell", entry), 2)
    inject.corrupt_instruction("shell", entry, 0)  # the illegal all-zero word
    _run_heartbeats(m, _bound(inject))
    text = console.output.decode(errors="replace")
    assert FAILED.findall(console.output) == \
        [f"supervisor: shell faulted: cause=code corrupted (offset {entry - code[0]})".encode()]
    assert "kernel: task" not in text
    console.expect("supervisor: restarted shell")
    console.expect("septum> ")
    assert m.read_phys(inject.task_phys("shell", entry), 2) == old
    console.sendline("get nothing")
    console.expect("septum> ")


def test_an_idle_system_goes_round_and_fails_nobody(system, console, inject):
    m = system.machine
    sup = inject.regions("supervisor")
    nxt = _in_region(_symbols(system.elf, "scrub_next"), sup[1])
    where = lambda: int.from_bytes(  # noqa: E731
        m.read_phys(inject.task_phys("supervisor", nxt), 8), "little")
    seen = set()
    for _ in range(10):
        _run_heartbeats(m, 1)
        seen.add(where())
    assert len(seen) >= 3  # the round robin moves on at every heartbeat
    assert FAILED.findall(console.output) == []
    assert "supervisor: restart" not in console.output.decode(errors="replace")


def test_a_difference_repaired_within_the_grace_fails_nobody(system, console, inject):
    m = system.machine
    code, sup_data = inject.regions("shell")[0], inject.regions("supervisor")[1]
    entry = _in_region(_symbols(system.elf, "_start"), code)
    suspect = inject.task_phys("supervisor", _in_region(_symbols(system.elf, "scrub_suspect"),
                                                        sup_data))
    read = lambda: int.from_bytes(m.read_phys(suspect, 8), "little")  # noqa: E731
    old = m.read_phys(inject.task_phys("shell", entry), 2)
    inject.corrupt_instruction("shell", entry, 0)
    _run_heartbeats(m, inject.ntasks + 1)
    assert read() == 1 + inject.index("shell")  # found: the suspect
    m.write_phys(inject.task_phys("shell", entry), old)  # repaired in time
    _run_heartbeats(m, supervision.SCRUB_GRACE + 1)
    assert read() == 0
    assert FAILED.findall(console.output) == []
    assert "supervisor: restart" not in console.output.decode(errors="replace")


def test_a_complainer_whose_code_differs_is_failed_instead(system_for):
    """SUP_COMPLAIN from a caller whose code differs from its pristine copy
    (tests/system/watchdog/complain.toml; a padding byte of the plaintiff's
    code region changed before it runs): the supervisor verifies the
    complainer first and fails it, not the task it accuses (the
    restarted plaintiff, its code restored, complains no more)."""
    s = system_for(HERE / "complain.toml", ready=b"supervisor: up\n")
    con, m, inject = s.console, s.machine, s.inject
    base, size, _ = inject.regions("plaintiff")[0]
    last = inject.task_phys("plaintiff", base + size - 1)
    old = m.read_phys(last, 1)
    m.write_phys(last, bytes([old[0] ^ 0x5A]))
    con.expect(SCRUB.format("plaintiff"))
    con.expect("supervisor: restarted plaintiff")
    _run_heartbeats(m, supervision.MISSES + 1)
    assert FAILED.findall(con.output) == \
        [f"supervisor: plaintiff faulted: cause=code corrupted (offset {size - 1})".encode()]
    assert m.read_phys(last, 1) == old  # the restart restored it
    assert "victim faulted" not in con.output.decode()
