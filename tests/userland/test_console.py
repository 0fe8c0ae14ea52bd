"""The console server: several READLINE clients wait at once and are
served in the order they asked, while the console goes on serving WRITEs;
line editing; CR LF endings; raw READs.  Every call is answered at once
(CONS_WAIT, then the console's NOTIFY, then the call again: through the
host's proxy), CONS_BUSY and CONS_BAD_REQUEST, the line sum against a
Python model, and the console's fail-stop self-checks on injected bit
flips (the default system: the supervisor restarts it and it serves
again)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from septum.hypervisor.boot_cli import DEFAULT_MANIFEST
from septum.hypervisor.machine import Machine
from septum.kernel.abi import Layout, TaskState, Tcb
from septum.testing.ipc import CONS, Ipc, line_sum
from septum.toolchain.build import DEFAULT_SLOT, build
from septum.toolchain.riscv import Exc

TASKS = Path(__file__).parent / "tasks"


class Board:
    """A built test system on the board, with the console's reader count."""

    def __init__(self, tmp_path: Path, manifest: str) -> None:
        res = build(TASKS / manifest, tmp_path / "console.elf")
        with open(res.elf, "rb") as f:
            syms = ELFFile(f).get_section_by_name(".symtab")
            (sym,) = syms.get_symbol_by_name("nreaders")  # the console's only
        self.nreaders = sym["st_value"]
        self.m = Machine()
        self.m.boot(bios=str(res.elf))

    def readers(self) -> int:
        return int.from_bytes(self.m.read_phys(self.nreaders, 8), "little")

    def until(self, cond) -> None:
        stop = self.m.run(max_insns=20_000_000, until=cond)
        assert stop.kind == "until", (stop, self.m.uart_output)

    def type(self, data: bytes, waiting: int) -> None:
        """Type ``data`` once ``waiting`` readers are queued."""
        self.until(lambda: self.readers() == waiting)
        self.m.uart_feed(data)

    def expect(self, text: bytes) -> None:
        self.until(lambda: text in self.m.uart_output)


def test_readers_are_served_in_the_order_they_asked(tmp_path):
    b = Board(tmp_path, "readers.toml")
    # Both readers wait in READLINE; their "ready" lines were WRITEs the
    # console served meanwhile (while the other reader was queued).
    b.type(b"one\r\n", waiting=2)
    b.expect(b" got one\r\n")
    b.type(b"two\n", waiting=2)
    b.expect(b" got two\r\n")
    b.type(b"three\r", waiting=2)
    b.expect(b" got three\r\n")
    out = b.m.uart_output.decode()
    assert "reader 2 ready\r\n" in out and "reader 3 ready\r\n" in out
    who = {line: re.search(rf"reader (\d) got {line}\r\n", out).group(1)
           for line in ("one", "two", "three")}
    # The line went to the reader at the head of the queue, which then
    # asked again behind the other: they alternate.
    assert who["one"] != who["two"] and who["three"] == who["one"]
    # Echo: what was typed, CR LF for each line end; LF after CR is one end.
    assert out.count("one\r\n") == 2 and "three\r\n" in out


def test_line_editing(tmp_path):
    b = Board(tmp_path, "readers.toml")
    # Backspace (BS and DEL) erases; the echo shows "\b \b"; other control
    # characters are ignored; an empty line is a line.
    b.type(b"thrx\x08ee\x7f\x7fe\x01e\r", waiting=2)
    b.expect(b" got three\r\n")
    assert b"thrx\b \bee\b \b\b \bee\r\n" in b.m.uart_output
    b.type(b"\r", waiting=2)
    b.expect(b" got \r\n")


def test_raw_read_then_line(tmp_path):
    b = Board(tmp_path, "mixed.toml")
    # READ: the bytes there, at most the buffer's 8, without echo; the rest
    # waits for the next read (a READLINE here: edited and echoed).
    b.type(b"abcdefghij", waiting=1)
    b.expect(b"raw got abcdefgh\r\n")
    b.type(b"k\r", waiting=1)
    b.expect(b"line got ijk\r\n")
    out = bytes(b.m.uart_output)
    assert out.count(b"abcdefgh") == 1  # no echo of the raw bytes
    assert b"ijk\r\nline got" in out


# ----- prompt answers: CONS_WAIT, the console's NOTIFY, the call again -------

HOST = TASKS / "hostcons.toml"     # boss, console, the host's proxy
CONSOLE_INDEX = 1                  # manifest order in every system here
#: A call answered "at once": the guest retires a few thousand instructions
#: for it (a WRITE of one byte takes about 2,000; a console that kept the
#: caller waiting for input would not answer at all).
AT_ONCE_INSNS = 10_000


def console_symbol(system, name: str) -> int:
    """The console task's symbol ``name`` (task symbols may repeat across
    tasks: the one inside the console's slot)."""
    base = Layout.TASKS_BASE + CONSOLE_INDEX * DEFAULT_SLOT
    with open(system.elf, "rb") as f:
        syms = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name) or []
        (value,) = {s["st_value"] for s in syms if base <= s["st_value"] < base + DEFAULT_SLOT}
    return value


def u64(m, addr: int) -> int:
    return int.from_bytes(m.read_phys(addr, 8), "little")


def booted(system_for, manifest: Path):
    """``manifest``'s system (no shell) once its console and proxy wait for
    work: before that the proxy's server ids are not set up."""
    s = system_for(manifest, ready=b"tasks")
    m, ipc = s.machine, Ipc(s)
    waiting = (TaskState.RECV_WAIT, TaskState.NOTIFY_WAIT)
    tcb = s.inject.tcb
    up = lambda: all(TaskState(u64(m, tcb(t) + Tcb.STATE)) in waiting  # noqa: E731
                     for t in ("console", "proxy"))
    assert m.run(max_insns=5_000_000, until=up).kind == "until"
    return s, ipc


def host(system_for):
    return booted(system_for, HOST)


def test_readline_answers_at_once_then_notifies(system_for):
    s, ipc = host(system_for)
    m = s.machine
    start = m.instret
    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)
    assert r.ok and r.words[0] == CONS["CONS_WAIT"] and r.data == b""
    assert m.instret - start < AT_ONCE_INSNS
    assert u64(m, console_symbol(s, "nreaders")) == 1  # remembered
    # Nothing typed: asking again changes nothing (same place, still waiting).
    assert ipc.call("console", CONS["CONS_READLINE"], buflen=64).words[0] == CONS["CONS_WAIT"]
    assert u64(m, console_symbol(s, "nreaders")) == 1
    s.console.send(b"hello\r")
    assert ipc.wait_notified(timeout=10)  # the console's bit reached the proxy
    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)
    assert r.ok and r.words[:3] == (CONS["CONS_OK"], 5, line_sum(b"hello"))
    assert r.data == b"hello"
    assert b"hello\r\n" in bytes(m.uart_output)  # echoed as typed
    assert u64(m, console_symbol(s, "nreaders")) == 0
    # And no second notification is owed: the next call waits again.
    assert ipc.call("console", CONS["CONS_READLINE"], buflen=64).words[0] == CONS["CONS_WAIT"]
    assert not ipc.wait_notified(timeout=5)


def test_read_answers_at_once_then_notifies(system_for):
    s, ipc = host(system_for)
    m = s.machine
    start = m.instret
    r = ipc.call("console", CONS["CONS_READ"], buflen=8)
    assert r.ok and r.words[0] == CONS["CONS_WAIT"]
    assert m.instret - start < AT_ONCE_INSNS
    s.console.send(b"xyz")
    assert ipc.wait_notified(timeout=10)
    r = ipc.call("console", CONS["CONS_READ"], buflen=8)
    assert r.ok and r.words[:2] == (CONS["CONS_OK"], 3) and r.data == b"xyz"
    assert b"xyz" not in bytes(m.uart_output)  # raw: no echo


def test_input_already_there_is_answered_at_once(system_for):
    s, ipc = host(system_for)
    s.console.send(b"early\rraw")  # no reader yet: it waits in the ring
    s.machine.run(max_insns=200_000)
    r = ipc.console_read()  # one call: the line is there
    assert r.ok and r.words[:3] == (CONS["CONS_OK"], 5, line_sum(b"early")) and r.data == b"early"
    r = ipc.call("console", CONS["CONS_READ"], buflen=64)
    assert r.ok and r.words[:2] == (CONS["CONS_OK"], 3) and r.data == b"raw"


def test_busy_beyond_the_readers(system_for):
    s, ipc = booted(system_for, TASKS / "busy.toml")
    m = s.machine
    nreaders = console_symbol(s, "nreaders")
    stop = m.run(max_insns=20_000_000, until=lambda: u64(m, nreaders) == CONS["CONS_READERS"])
    assert stop.kind == "until", m.uart_output
    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)
    assert r.ok and r.words[0] == CONS["CONS_BUSY"]
    assert u64(m, nreaders) == CONS["CONS_READERS"]
    # The readers are still served, in the order they asked.
    s.console.send(b"first\r")
    s.console.expect(b"reader 2 got first\r\n", timeout=50)


def test_a_reader_the_console_may_not_notify_is_refused(system_for):
    s, ipc = booted(system_for, TASKS / "nonotify.toml")
    r = ipc.call("console", CONS["CONS_READLINE"], buflen=64)
    assert r.ok and r.words[0] == CONS["CONS_BAD_REQUEST"]
    assert ipc.call("console", CONS["CONS_READ"], buflen=64).words[0] == CONS["CONS_BAD_REQUEST"]
    tcb = s.inject.tcb("console")
    # The console asked the kernel (a NOTIFY of no bits): one denial each.
    assert int.from_bytes(s.machine.read_phys(tcb + Tcb.DENIALS, 8), "little") == 2
    assert ipc.call("console", CONS["CONS_WRITE"], data=b"still here\n").words[0] == CONS["CONS_OK"]
    s.console.expect(b"still here\r\n", timeout=10)


# A typed line as key strokes: printable bytes, BS and DEL (erase one).
KEYS = st.lists(st.one_of(st.integers(0x20, 0x7E), st.sampled_from([0x08, 0x7F])),
                max_size=40)


def edited(keys: list[int]) -> bytes:
    """The line the console's editor makes of ``keys`` (msg.inc CONS_LINE_MAX)."""
    line = bytearray()
    for k in keys:
        if k in (0x08, 0x7F):
            if line:
                line.pop()
        elif len(line) < CONS["CONS_LINE_MAX"]:
            line.append(k)
    return bytes(line)


@settings(max_examples=12, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=KEYS)
def test_line_sum_of_edited_lines(system_for, keys):
    s, ipc = host(system_for)
    assert ipc.call("console", CONS["CONS_READLINE"], buflen=256).words[0] == CONS["CONS_WAIT"]
    s.console.send(bytes(keys) + b"\r")
    r = ipc.console_read(buflen=256)
    want = edited(keys)
    # The console's running sum (kept per key, not recomputed) is what it
    # sends, and it agrees with the Python model of lib/sum.S's line_sum.
    assert r.ok and r.words[0] == CONS["CONS_OK"] and r.data == want
    assert r.words[1] == len(want) and r.words[2] == line_sum(want)


# ----- fail-stop self-checks: a flipped bit stops the console -----------------

#: (symbol, byte offset): a checked word's value or its complement, and a
#: reader entry's RD_CAP (readers[0] is the shell, waiting at its prompt).
CHECKED = [("rx_head", 0), ("rx_head", 8), ("rx_tail", 0), ("rx_tail", 12), ("nreaders", 0),
           ("nreaders", 8), ("line_len", 0), ("line_len", 15), ("line_done", 0),
           ("last_cr", 8), ("readers", 8)]
STOPPED = (r"supervisor: console faulted: cause=" + f"{Exc.ILLEGAL_INSTRUCTION:#x}"
           + r" pc=(0x[0-9a-f]+) tval=")
UNIMP = (0xC0001073).to_bytes(4, "little")  # unimp: csrrw x0, cycle, x0


def stopped_at_a_check(system, console) -> None:
    """The console stops on one of its `unimp`s and comes back serving."""
    pc = int(console.expect(STOPPED, timeout=100).group(1), 16)
    word = system.machine.read_phys(system.inject.task_phys("console", pc), 4)
    assert word == UNIMP or word[:2] == b"\0\0"  # unimp, or c.unimp
    console.expect("supervisor: restarted console", timeout=200)
    console.sendline("uptime")
    console.expect(r"up \d+\.\d{3} s \(virtual time\)", timeout=1000)


@pytest.mark.parametrize("name,offset", CHECKED)
def test_a_flipped_checked_word_stops_the_console(system, console, name, offset):
    addr = console_symbol(system, name) + offset
    system.inject.flip_memory("console", addr, bit=3)
    console.sendline("help")  # the console takes the typed bytes: it reads them all
    stopped_at_a_check(system, console)


@pytest.mark.parametrize("name,index", [("line", 4), ("line_run", 0)])
def test_a_flipped_line_never_reaches_the_shell(system, console, name, index):
    console.send("put k typed")
    console.expect("put k typed")
    system.inject.flip_memory("console", console_symbol(system, name) + index, bit=1)
    console.send("\r")
    stopped_at_a_check(system, console)
    console.sendline("get k")
    console.expect("septum> ", timeout=1000)
    out = console.output.decode(errors="replace")
    after = out[out.index("put k typed"):]
    # The line went nowhere: no put was made, nothing acknowledged.
    assert "\nok" not in after.replace("\r", "") and "typed\r\nseptum" not in after
    console.sendline("put k typed")
    console.expect("ok", timeout=1000)  # typed again, it is stored
    console.sendline("get k")
    console.expect("typed", timeout=1000)


def test_waiting_readers_pass_other_bits_to_watch_bits(system):
    """lib/cons.S finds lib/watch.S's watch_bits through a weak reference:
    in a task that links watch.S (attack) its wait hands other bits there;
    in one that does not (the shell) the reference is 0 (bits dropped)."""
    m = system.machine
    with open(system.elf, "rb") as f:
        syms = ELFFile(f).get_section_by_name(".symtab")

        def of(task: str, name: str) -> list[int]:
            base = Layout.TASKS_BASE + system.inject.index(task) * DEFAULT_SLOT
            return [s["st_value"] for s in syms.get_symbol_by_name(name) or []
                    if base <= s["st_value"] < base + DEFAULT_SLOT]

        (hook,), (watch,) = of("attack", "cons_watch"), of("attack", "watch_bits")
        assert u64(m, hook) == watch
        (hook,) = of("shell", "cons_watch")
        assert u64(m, hook) == 0 and of("shell", "watch_bits") == []


def test_a_restarted_reader_does_not_get_the_line_of_its_old_incarnation(system, console):
    """The shell dies as the console hands it a line (its saved pc points
    nowhere: it faults on its way back from waiting); its new incarnation
    asks with a new id and starts afresh -- the line, which may be what
    killed it, is not replayed (as before, a line goes to one incarnation)."""
    system.inject.write_reg("shell", "pc", 0x10)
    console.sendline("put k poison")
    console.expect("supervisor: restarted shell")
    console.expect("septum> ")
    mark = len(console.output)
    console.sendline("get k")
    console.expect("septum> ")
    answer = console.output[mark:].decode(errors="replace")
    assert "not found" in answer and "poison" not in answer


def test_the_console_builds_as_gnu_builds_it(tmp_path):
    """console.S's macros (GETC/PUTC, `\\@` labels, `unimp`) and lib/cons.S's
    weak reference (0 in the shell, which has no watch_bits) assemble and
    link byte for byte as GNU as + ld make them (the default system)."""
    from septum.tests.kernel.test_build import _memory

    manifest = DEFAULT_MANIFEST
    ours = build(manifest, tmp_path / "ours.elf")
    gnu = build(manifest, tmp_path / "gnu.elf", backend="gnu")
    assert ours.tasks == gnu.tasks
    a, b = _memory(ours.elf), _memory(gnu.elf)
    assert not [hex(k) for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0)][:10]
