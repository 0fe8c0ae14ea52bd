"""End-to-end checks of the storage path (userland/storage/README.md,
"Checks"), each fired by a real injected fault on the default system:

- storage acting on stale registers (the ``mv`` that copies the op or the
  key length after RECV replaced by a no-op, the faults that destroyed
  records in the SWIFI campaign): the request's check word does not match
  what storage is about to do, storage stops itself, the shell's call is
  sent again to the restarted server and answered right; no record on the
  disk is overwritten;
- a flipped bit in storage's in-memory index: the entry's check word no
  longer matches, storage stops itself and rebuilds the index from the disk;
- a bit of a typed line flipped in the shell's buffer between the receipt
  check and the PUT: ``error: line corrupted, type it again``, no ``ok``,
  nothing stored, and the shell restarts itself; a shell whose own check
  code is corrupted does the same rather than blame storage;
- the check word itself (lib/check.S) against a Python model of its
  definition (proto.inc), through the host's IPC proxy.

The checks that end in a complaint to the supervisor:
test_storage_complaints.py.
"""

from __future__ import annotations

import re

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from septum.tests.userland.storage_rig import (BAD_REQUEST, GET, LIST, NOT_FOUND, OK, PUT,
                                               STORAGE, read_equs)

_FORMAT = read_equs(STORAGE / "log.inc")
_PROTO = read_equs(STORAGE / "proto.inc")
E_USED, E_VLEN, E_KEY = _FORMAT["E_USED"], _FORMAT["E_VLEN"], _FORMAT["E_KEY"]
E_VAL = E_KEY + _PROTO["STORE_KEY_MAX"]  # log.inc: the value follows the key's room
FAIL_REQUEST, FAIL_INDEX, FAIL_META = (_FORMAT[n] for n in ("FAIL_REQUEST", "FAIL_INDEX",
                                                             "FAIL_META"))
LOAD_PAGE_FAULT = 13  # RISC-V privileged spec, scause
STORAGE_INDEX, SHELL_INDEX = 2, 3  # userland/system.toml's order
SHELL_SUSPECTS_SELF = 8  # shell.S suspect_self: a load from address 8

#: Compressed ``c.mv rd, rs2`` (RVC: funct4 1000, rd, rs2, op 10) and ``c.nop``.
C_NOP = 0x0001


def c_mv(rd: int, rs2: int) -> int:
    return 0b1000 << 12 | rd << 7 | rs2 << 2 | 0b10


S0, S1, S2, S3, S4, A1, A2, A3, A4, A5 = 8, 9, 18, 19, 20, 11, 12, 13, 14, 15
STOPPED = re.compile(rb"kernel: task 0x(\w+) stopped: cause=0x(\w+) tval=0x(\w+)")


def check_word(op: int, key: bytes, value: bytes = b"") -> int:
    """proto.inc's check word: the shape in the high half, the line sum of
    key ++ value (length + sum of (i + 1) * byte[i], mod 2^32) in the low."""
    data = key + value
    low = (len(data) + sum((i + 1) * b for i, b in enumerate(data))) & 0xFFFF_FFFF
    return (op | len(key) << 8 | len(value) << 16) << 32 | low


def task_symbol(system, task: str, name: str) -> int:
    """The address of ``name`` as defined in ``task`` (every task is linked
    on its own: names repeat across tasks in the image's symbol table)."""
    spans = [(base, base + size) for base, size, _ in system.inject.regions(task)]
    with open(system.elf, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name and any(lo <= sym["st_value"] < hi for lo, hi in spans):
                return sym["st_value"]
    raise LookupError(f"{task} defines no {name}")


def code_of(system, task: str) -> tuple[int, bytes]:
    base, size, _ = system.inject.regions(task)[0]  # the text: the first region
    return base, system.machine.read_phys(system.inject.task_phys(task, base), size)


def nop_halfword(system, task: str, va: int) -> None:
    """Replace the 16-bit instruction at ``va`` with ``c.nop`` (the word
    written keeps the next halfword)."""
    base, code = code_of(system, task)
    nxt = int.from_bytes(code[va - base + 2:va - base + 4], "little")
    system.inject.corrupt_instruction(task, va=va, value=nxt << 16 | C_NOP)


def after_recv(system) -> int:
    """Storage's ``mv s1, a1`` right after its RECV: the request's copy
    (server.S, ``serve``), the only run of these five moves."""
    base, code = code_of(system, "storage")
    pattern = b"".join(c_mv(rd, rs).to_bytes(2, "little")
                       for rd, rs in ((S1, A1), (S2, A2), (S3, A3), (S4, A4), (S0, A5)))
    assert code.count(pattern) == 1
    return base + code.index(pattern)


def cmd(console, line: str, timeout: float = 500) -> str:
    """Type ``line``; what came out up to the next prompt (CR LF as LF)."""
    start = len(console.output)
    console.sendline(line)
    console.expect(rb"septum> ", timeout=timeout)
    out = console.output[start:].decode(errors="replace").replace("\r\n", "\n")
    return out[:out.rindex("septum> ")]


def stops(out: str | bytes, task: int) -> list[tuple[int, int]]:
    """(cause, tval) of every kernel line reporting ``task`` stopped."""
    raw = out.encode() if isinstance(out, str) else bytes(out)
    return [(int(c, 16), int(t, 16)) for i, c, t in STOPPED.findall(raw) if int(i, 16) == task]


def storage_stops(out: str | bytes) -> list[tuple[int, int]]:
    return stops(out, STORAGE_INDEX)


def shell_stops(out: str | bytes) -> list[tuple[int, int]]:
    return stops(out, SHELL_INDEX)


@pytest.mark.parametrize("mv, first, second", [
    # The op stays PUT: `get k1` would be a PUT of an empty value over k1.
    (c_mv(S2, A2), "put k1 v1", "put k2 v2"),
    # The key length stays 2: `get key1` would look up "ke" (a PUT, "ke").
    (c_mv(S3, A3), "put k1 v1", "put ke xx"),
])
def test_stale_request_registers_stop_storage_and_the_call_is_answered_right(
        system, console, mv, first, second):
    assert cmd(console, first).endswith("\nok\n")
    base, code = code_of(system, "storage")
    at = after_recv(system)
    va = at + code[at - base:at - base + 16].index(mv.to_bytes(2, "little"))
    nop_halfword(system, "storage", va)
    out = cmd(console, second)
    assert "ok" in out
    got_k1, got_key1 = cmd(console, "get k1"), cmd(console, "get key1")
    # Storage stopped itself on the request's check word (tval = its
    # FAIL_REQUEST site), was restarted with its code restored, and both
    # answers are right.
    assert (LOAD_PAGE_FAULT, FAIL_REQUEST) in storage_stops(console.output)
    assert got_k1.endswith("\nv1\n") and got_key1.endswith("\nnot found\n")
    # Nothing was overwritten: every record is still there.
    out = cmd(console, "get k1") + cmd(console, "get " + second.split()[1])
    assert "v1" in out and second.split()[2] in out


@pytest.mark.parametrize("field, bit", [
    (E_USED, 0),        # the entry looks free: `get` would say "not found"
    (E_KEY, 1),         # another key: likewise
    (E_VAL, 2),         # a wrong value
    (E_VLEN, 0),        # a wrong length
])
def test_a_flipped_index_bit_makes_storage_rebuild_the_index(system, console, field, bit):
    assert cmd(console, "put k1 v1").endswith("\nok\n")
    index = task_symbol(system, "storage", "log_index")
    # k1 is the first entry (the boot left the store empty).
    assert system.machine.read_phys(index + E_KEY, 2) == b"k1"
    system.inject.flip_memory("storage", va=index + field, bit=bit)
    out = cmd(console, "get k1")
    assert (LOAD_PAGE_FAULT, FAIL_INDEX) in storage_stops(out)
    assert out.endswith("\nv1\n")
    assert cmd(console, "put k2 v2").endswith("\nok\n") and "v1" in cmd(console, "get k1")


@pytest.mark.parametrize("word, bit", [(0, 1), (8, 5)])  # the value; its complement
def test_a_flipped_bit_of_the_log_position_stops_storage(system, console, word, bit):
    # log_next (the slot of the next record) is a checked pair: a flipped
    # bit would put the next record past a gap that the replay stops at.
    assert cmd(console, "put k1 v1").endswith("\nok\n")
    system.inject.flip_memory("storage", va=task_symbol(system, "storage", "log_next") + word,
                              bit=bit)
    out = cmd(console, "put k2 v2")
    assert (LOAD_PAGE_FAULT, FAIL_META) in storage_stops(out) and out.endswith("\nok\n")
    assert cmd(console, "get k1").endswith("\nv1\n")
    assert cmd(console, "get k2").endswith("\nv2\n")


def test_a_line_changed_before_the_put_is_never_acknowledged(system, console):
    # The line arrives intact; a bit of its value flips in the shell's
    # buffer before the pass that computes the request's check word.
    console.sendline("put k1 v1")
    stop = system.machine.run(max_insns=50_000_000,
                              breakpoints=[task_symbol(system, "shell", "line_pass")])
    assert stop.kind == "breakpoint"
    line = task_symbol(system, "shell", "line")
    assert system.machine.read_phys(line, 9) == b"put k1 v1"
    system.inject.flip_memory("shell", va=line + 7, bit=0)  # "v1" -> "w1"
    console.expect(rb"septum> ", timeout=500)
    out = console.output.decode(errors="replace").rsplit("put k1 v1", 1)[1]
    assert "error: line corrupted, type it again" in out and "ok" not in out
    # The line changed in the shell's own memory: the shell stops itself
    # (suspect_self, a load from address 8) and comes back.
    assert shell_stops(out) == [(LOAD_PAGE_FAULT, SHELL_SUSPECTS_SELF)]
    assert "not found" in cmd(console, "get k1")


def test_a_shell_whose_checks_are_broken_restarts_itself_not_storage(system, console):
    # The shell's own check_word corrupted (its shift of the key length:
    # every request it builds has another check word than line_pass
    # computed).  It must not blame storage for ever (that would get
    # storage given up on): it refuses, stops itself, and its restart
    # restores its code.
    at = task_symbol(system, "shell", "check_word")
    base, code = code_of(system, "shell")
    word = int.from_bytes(code[at - base:at - base + 4], "little")
    system.inject.corrupt_instruction("shell", va=at, value=word ^ 1 << 20)  # slli by 9
    out = cmd(console, "put k1 v1")
    assert "error: line corrupted, type it again" in out and "\nok" not in out
    assert "complaint" not in out and not storage_stops(out)
    assert shell_stops(out) == [(LOAD_PAGE_FAULT, SHELL_SUSPECTS_SELF)]
    assert cmd(console, "put k1 v1").endswith("\nok\n")
    assert cmd(console, "get k1").endswith("\nv1\n")


def test_check_words_match_the_model_and_a_wrong_one_stops_storage(ipc):
    key, value = b"colour", b"deep blue"
    c = check_word(PUT, key, value)
    r = ipc.call("storage", PUT, len(key), len(value), c, data=key + value)
    assert r.ok and r.words[0] == OK and r.words[2] == c  # the echo
    r = ipc.call("storage", GET, len(key), 0, check_word(GET, key), data=key, buflen=64)
    # The record's check word: the PUT's, computed by storage from the
    # entry it answers with.
    assert r.ok and r.words[:3] == (OK, len(value), c) and r.data[:len(value)] == value
    r = ipc.call("storage", GET, 3, 0, check_word(GET, b"red"), data=b"red", buflen=64)
    assert r.words[0] == NOT_FOUND and r.words[2] == check_word(GET, b"red")
    # Shapes the protocol does not have.
    assert ipc.call("storage", GET, 3, 1, 0, data=b"redx").words[0] == BAD_REQUEST
    assert ipc.call("storage", LIST, 1, 0, 0, data=b"r").words[0] == BAD_REQUEST
    # A PUT whose check word is not its own (one bit of the value's sum):
    # storage stops before writing anything; the caller gets the dead code.
    r = ipc.call("storage", PUT, len(key), 4, check_word(PUT, key, b"gray") ^ 1,
                 data=key + b"gray")
    assert r.status_name.startswith("DEAD")
    r = ipc.call("storage", GET, len(key), 0, check_word(GET, key), data=key, buflen=64,
                 timeout=300)
    assert r.words[:2] == (OK, len(value)) and r.data[:len(value)] == value


@settings(max_examples=10, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(min_size=1, max_size=32), value=st.binary(max_size=256))
def test_the_guests_check_words_are_the_definitions(ipc, key, value):
    # Every length up to the protocol's limits, every byte value: the
    # server's echo of a PUT and its record check word in a GET reply are
    # proto.inc's definition, computed in Python.
    ipc.system.restore()
    c = check_word(PUT, key, value)
    r = ipc.call("storage", PUT, len(key), len(value), c, data=key + value)
    assert r.words[0] == OK and r.words[2] == c
    r = ipc.call("storage", GET, len(key), 0, check_word(GET, key), data=key, buflen=300)
    assert r.words[:3] == (OK, len(value), c) and r.data[:len(value)] == value


def test_a_shell_whose_calls_keep_failing_is_failed_by_its_own_complaints(system, console):
    # The shell's id slot for the console corrupted (index 1 -> 17, no such
    # task): every READLINE fails at once (the shell waiting at its prompt
    # asks again every CONS_POLL, lib/cons.S).  READ_FAILURES in a row are
    # a complaint about the console, which is restarted; the failures go
    # on, the shell complains again, and the supervisor's complainer rule
    # fails the shell instead -- its restart restores the slot.  Nothing is
    # typed meanwhile.
    system.inject.flip_memory("shell", va=task_symbol(system, "shell", "cons_id"), bit=4)
    console.expect(rb"shell faulted: cause=complained about console again", timeout=3000)
    console.expect(rb"Septum shell.*\n.*septum> ", timeout=2000)
    out = console.output.decode(errors="replace")
    assert out.index("console faulted: cause=complaint from shell") < \
        out.index("shell faulted: cause=complained about console again")
    assert shell_stops(console.output) == []    # no fault of its own: failed
    assert cmd(console, "put k1 v1").endswith("\nok\n")
    assert cmd(console, "get k1").endswith("\nv1\n")


def test_a_value_changed_in_the_shells_copy_is_never_printed(system, console):
    # `get`: lib/store.S verifies the value it received, the shell checks
    # its own copy again just before printing it (the third check_word of
    # the command: the request, the reply, the copy).  A bit flipped in
    # that copy: no wrong value is printed, the shell restarts itself.
    assert cmd(console, "put k1 v1").endswith("\nok\n")
    console.sendline("get k1")
    at = task_symbol(system, "shell", "check_word")
    for _ in range(3):
        assert system.machine.run(max_insns=50_000_000, breakpoints=[at]).kind == "breakpoint"
        if _ < 2:
            system.machine.step()
    value = task_symbol(system, "shell", "value")
    assert system.machine.read_phys(value, 2) == b"v1"
    system.inject.flip_memory("shell", va=value + 1, bit=1)  # "v1" -> "v3"
    console.expect(rb"Septum shell.*\n", timeout=500)
    out = console.output.decode(errors="replace").rsplit("get k1", 1)[1]
    assert "error: storage answered wrongly (checked)" in out and "v3" not in out
    assert shell_stops(out) == [(LOAD_PAGE_FAULT, SHELL_SUSPECTS_SELF)]
    console.expect(rb"septum> ", timeout=500)
    assert cmd(console, "get k1").endswith("\nv1\n")
