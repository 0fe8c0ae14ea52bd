"""Complaints (SUP_COMPLAIN, userland/lib/msg.inc): a client that got a
wrong answer tells the supervisor, which restarts the server as if it had
faulted; the client sends its request again.  Each case is a real
injected fault on the default system:

- storage answering ``bad request`` to every PUT (its dispatch corrupted):
  the shell's lib/store.S complains, storage is restarted, the PUT is sent
  again and acknowledged;
- a bit of a typed line flipped between the console's reply and the
  shell's check of its line sum: the console is complained about, the
  line is refused (``error: line corrupted, type it again``), nothing is
  stored.
"""

from __future__ import annotations

from septum.tests.userland.test_storage_checks import (after_recv, cmd, code_of,
                                                       task_symbol)


def test_storage_saying_bad_request_is_complained_about_and_restarted(system, console):
    # Its dispatch corrupted (the constant of the PUT comparison): every
    # PUT falls through to `bad request`.  The shell built the request
    # itself, so the answer is wrong: it complains and sends it again.
    base, code = code_of(system, "storage")
    at = after_recv(system)
    li_t0_1 = (0b010 << 13 | 5 << 7 | 1 << 2 | 0b01).to_bytes(2, "little")  # c.li t0, 1
    va = at + code[at - base:at - base + 32].index(li_t0_1)
    nxt = int.from_bytes(code[va - base + 2:va - base + 4], "little")
    system.inject.corrupt_instruction("storage", va=va,
                                      value=nxt << 16 | (0b010 << 13 | 5 << 7 | 9 << 2 | 0b01))
    out = cmd(console, "put k1 v1")
    assert "supervisor: storage faulted: cause=complaint from shell" in out
    assert out.endswith("\nok\n") and "bad request" not in out
    assert "v1" in cmd(console, "get k1")


def test_a_line_changed_on_receipt_is_complained_about(system, console):
    # The bit flips between the console's reply and the shell's check of
    # the line sum: the console is blamed (restarted) and nothing is done.
    console.sendline("put k1 v1")
    stop = system.machine.run(max_insns=50_000_000,
                              breakpoints=[task_symbol(system, "shell", "line_sum")])
    assert stop.kind == "breakpoint"
    line = task_symbol(system, "shell", "line")
    system.inject.flip_memory("shell", va=line + 8, bit=3)  # "v1" -> "v9"
    console.expect(rb"line corrupted.*\n.*septum> ", timeout=1000)
    out = console.output.decode(errors="replace").rsplit("put k1 v1", 1)[1]
    assert "supervisor: console faulted: cause=complaint from shell" in out
    assert "\nok" not in out
    out = cmd(console, "get k1")
    assert "not found" in out and "v9" not in out
