"""The GDB remote stub (hypervisor/gdbstub.py) driven by the real gdb-multiarch.

Each test builds a small guest with Septum's own assembler, runs the stub on
an ephemeral port in a background thread and drives ``gdb-multiarch -batch``
against it.  Expected values come from the guest's source (what the code
stores) or from the machine itself, never from the stub's own reply.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from septum.hypervisor.errors import MachineError
from septum.hypervisor.gdbstub import (DEBUG_CSRS, GdbServer, add_gdb_arguments, parse_spec,
                                       target_xml)
from septum.hypervisor.machine import Machine, StopReason
from septum.toolchain import Source, assemble
from septum.toolchain.elf import write_elf_file
from septum.toolchain.riscv import CSR

GDB = "gdb-multiarch"
TIMEOUT = 60

#: Counts ``counter`` up to 3 through a loop, then exits with code 7 through
#: the test finisher (0x3333 | 7 << 16).
LOOP_SRC = """
    .globl _start
_start:
    la t0, counter
    li a0, 0x1234
loop:
    ld t1, 0(t0)
after_load:
    addi t1, t1, 1
store:
    sd t1, 0(t0)
after_store:
    li t2, 3
    blt t1, t2, loop
done:
    li t6, 0x100000
    li t5, (7 << 16) | 0x3333
    sw t5, 0(t6)
hang:
    j hang
    .data
    .align 3
counter:
    .dword 0
other:
    .dword 0x1122334455667788
"""

#: Spins forever: only Ctrl-C stops it.
SPIN_SRC = """
    .globl _start
_start:
    li a1, 0
spin:
    addi a1, a1, 1
    j spin
"""

#: Turns on Sv39 with two gigapages: VA 0x8000_0000 and VA 0x4000_0000 both
#: map PA 0x8000_0000; drops to S-mode and spins at ``in_s``.
SV39_SRC = """
    .equ SATP_SV39, 8 << 60
    .equ PTE_VRWXAD, 0xcf
    .globl _start
_start:
    li t0, -1
    srli t0, t0, 10
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    la t0, root
    li t1, (0x80000000 >> 12) << 10 | PTE_VRWXAD
    sd t1, 8(t0)
    sd t1, 16(t0)
    srli t2, t0, 12
    li t3, SATP_SV39
    or t2, t2, t3
    csrw satp, t2
    sfence.vma
    li t0, 1 << 11
    csrw mstatus, t0
    la t0, in_s
    csrw mepc, t0
    mret
in_s:
    j in_s
    .data
    .align 12
root:
    .zero 4096
marker:
    .dword 0xfeedface12345678
"""


def _build(tmp_path: Path, name: str, src: str) -> Path:
    img = assemble([Source(f"{name}.S", src)], base=0x8000_0000)
    path = tmp_path / f"{name}.elf"
    write_elf_file(img, path)
    return path


class Stub:
    """A booted machine served by a GdbServer in a background thread."""

    def __init__(self, elf: Path, wait: bool = True) -> None:
        self.m = Machine(ram_size=16 << 20)
        self.m.boot(bios="none", kernel=str(elf))
        self.logs: list[str] = []
        self.server = GdbServer(self.m, port=0, log=self.logs.append)
        self.result: StopReason | BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(wait,), daemon=True)
        self.thread.start()

    def _run(self, wait: bool) -> None:
        try:
            self.result = self.server.serve(wait)
        except BaseException as exc:  # reported by finish()
            self.result = exc

    def finish(self) -> StopReason | None:
        """Wait for the serving thread to end; its StopReason."""
        self.thread.join(TIMEOUT)
        self.server.close()
        assert not self.thread.is_alive(), "stub thread did not end"
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def gdb(stub: Stub, elf: Path, *cmds: str, check_exit: bool = True) -> str:
    """Run gdb-multiarch in batch mode against ``stub``; its stdout+stderr."""
    argv = [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
            "-ex", "set confirm off", "-ex", f"target remote 127.0.0.1:{stub.server.port}"]
    for c in cmds:
        argv += ["-ex", c]
    argv.append(str(elf))
    p = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    return p.stdout + p.stderr


def values(out: str) -> list[str]:
    """The ``$N = value`` results of gdb's print commands, in order."""
    return re.findall(r"^\$\d+ = (.*)$", out, re.M)


@pytest.fixture
def loop_elf(tmp_path: Path) -> Path:
    return _build(tmp_path, "loop", LOOP_SRC)


def test_registers_memory_and_detach_exit_code(loop_elf: Path) -> None:
    stub = Stub(loop_elf)
    sym = stub.m.symbols
    out = gdb(stub, loop_elf, "p/x $pc", "p/x $t0", "set $s1 = 0x55aa",
              "p/x $s1", "p/x *(long long *)&other", "set var *(long long *)&other = 42",
              "p *(long long *)&other", "x/2wx &other", "detach")
    vals = values(out)
    # The hart starts in QEMU's MROM reset stub, registers cleared.
    assert vals[0] == "0x1000", out
    assert vals[1] == "0x0"
    assert vals[2] == "0x55aa"
    assert vals[3] == "0x1122334455667788"
    assert vals[4] == "42"
    assert re.search(r":\s+0x0000002a\s+0x00000000", out), out
    r = stub.finish()
    assert r is not None and r.kind == "poweroff" and r.exit_code == 7
    assert int.from_bytes(stub.m.read_phys(sym["other"], 8), "little") == 42
    assert stub.m.regs.s1 == 0x55AA


def test_break_continue_stepi_csrs_kill(loop_elf: Path) -> None:
    stub = Stub(loop_elf)
    sym = stub.m.symbols
    out = gdb(stub, loop_elf, "break loop", "continue", "p/x $pc", "p/x $a0",
              "stepi", "stepi", "p/x $pc", "continue", "p/x $pc",
              "p *(long long *)&counter", "p/x $misa", "p/x $mstatus", "p $priv",
              "p/x $mtvec", "set $mscratch = 0xabc", "p/x $mscratch", "kill")
    vals = values(out)
    assert int(vals[0], 16) == sym["loop"], out
    assert vals[1] == "0x1234"
    # Two instructions (ld, addi) separate loop and store.
    assert int(vals[2], 16) == sym["store"]
    # The second visit of loop: the first iteration stored 1.
    assert int(vals[3], 16) == sym["loop"]
    assert vals[4] == "1"
    r = stub.finish()
    assert r is not None and r.kind == "killed"
    assert int(vals[5], 16) == stub.m.csr_read(CSR.MISA)
    assert int(vals[6], 16) == stub.m.csr_read(CSR.MSTATUS)
    assert "3" in vals[7] and "Machine" in vals[7] or vals[7] == "3", vals[7]
    assert int(vals[8], 16) == stub.m.csr_read(CSR.MTVEC)
    assert vals[9] == "0xabc"
    assert stub.m.csr_read(CSR.MSCRATCH) == 0xABC


def test_watchpoints_write_and_read(loop_elf: Path) -> None:
    stub = Stub(loop_elf)
    sym = stub.m.symbols
    out = gdb(stub, loop_elf, "watch *(long long *)&counter", "continue", "p/x $pc",
              "continue", "p/x $pc", "p $t1", "delete",
              "rwatch *(long long *)&counter", "continue", "p/x $pc", "delete", "continue")
    vals = values(out)
    # A write watchpoint reports after the store, with GDB's old/new values.
    assert int(vals[0], 16) == sym["after_store"], out
    assert "Old value = 0" in out and "New value = 1" in out
    assert int(vals[1], 16) == sym["after_store"]
    assert "New value = 2" in out
    assert vals[2] == "2"
    # A read watchpoint reports after the load.
    assert int(vals[3], 16) == sym["after_load"], out
    # Everything deleted: the guest runs to its exit code (7).
    assert "exited with code 07" in out
    r = stub.finish()
    assert r is not None and r.kind == "poweroff" and r.exit_code == 7
    # The store ran exactly once per iteration (no replay after a stop).
    assert int.from_bytes(stub.m.read_phys(sym["counter"], 8), "little") == 3


def test_ctrl_c_stops_a_spinning_guest(tmp_path: Path) -> None:
    elf = _build(tmp_path, "spin", SPIN_SRC)
    stub = Stub(elf)
    argv = [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
            "-ex", f"target remote 127.0.0.1:{stub.server.port}", "-ex", "continue",
            "-ex", "p/x $pc", "-ex", "p $a1", "-ex", "kill", str(elf)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not stub.server.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stub.server.running
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert "SIGINT" in out, out
    vals = values(out)
    sym = stub.m.symbols
    assert sym["spin"] <= int(vals[0], 16) <= sym["spin"] + 8
    assert int(vals[1]) > 0
    r = stub.finish()
    assert r is not None and r.kind == "killed"


def test_attach_to_a_running_guest(tmp_path: Path) -> None:
    elf = _build(tmp_path, "spin", SPIN_SRC)
    stub = Stub(elf, wait=False)
    out = gdb(stub, elf, "p/x $pc", "p $a1", "detach")
    vals = values(out)
    sym = stub.m.symbols
    assert sym["spin"] <= int(vals[0], 16) <= sym["spin"] + 8, out
    assert stub.thread.is_alive()  # detached: the guest spins on
    stub.server.close()
    r = stub.finish()
    assert r is not None and r.kind == "until"
    assert stub.m.regs.a1 > int(vals[1])


def test_sv39_virtual_memory_and_satp(tmp_path: Path) -> None:
    elf = _build(tmp_path, "sv39", SV39_SRC)
    stub = Stub(elf)
    sym = stub.m.symbols
    alias = 0x4000_0000 + sym["marker"] - 0x8000_0000
    out = gdb(stub, elf, "break in_s", "continue", "p $priv", "p/x $satp",
              f"p/x *(unsigned long long *){alias:#x}", "p/x *(unsigned long long *)&marker",
              f"set var *(unsigned int *){alias:#x} = 0x600d", "x/gx 0x1000", "kill")
    vals = values(out)
    assert "Supervisor" in vals[0] or vals[0] == "1", out
    r = stub.finish()
    assert r is not None and r.kind == "killed"
    assert int(vals[1], 16) == stub.m.csr_read(CSR.SATP)
    assert int(vals[1], 16) >> 60 == 8
    assert vals[2] == "0xfeedface12345678"
    assert vals[3] == "0xfeedface12345678"
    # The write through the alias landed in the physical page.
    assert stub.m.read_phys(sym["marker"], 4) == (0x600D).to_bytes(4, "little")
    # 0x1000 is MROM physically, but not mapped under this satp in S-mode.
    assert "Cannot access memory at address 0x1000" in out


# ----- the protocol directly ------------------------------------------------------------

def _rsp(sock: socket.socket, payload: str) -> str:
    data = payload.encode("latin-1")
    sock.sendall(b"$" + data + b"#" + f"{sum(data) & 0xFF:02x}".encode())
    buf = b""
    while True:
        buf += sock.recv(65536)
        m = re.search(rb"\$([^#]*)#([0-9a-f]{2})", buf)
        if m:
            assert int(m.group(2), 16) == sum(m.group(1)) & 0xFF
            return m.group(1).decode("latin-1")


def _stop_pc(reply: str) -> int:
    return int.from_bytes(bytes.fromhex(reply.split("20:")[1][:16]), "little")


def test_raw_protocol_replies(loop_elf: Path) -> None:
    stub = Stub(loop_elf)
    with socket.create_connection(("127.0.0.1", stub.server.port), timeout=TIMEOUT) as s:
        sup = _rsp(s, "qSupported:multiprocess+;swbreak+;hwbreak+")
        assert "qXfer:features:read+" in sup and "swbreak+" in sup and "PacketSize=" in sup
        assert _rsp(s, "qAttached") == "1"
        assert _rsp(s, "qC") == "QC1"
        assert _rsp(s, "qfThreadInfo") == "m1"
        assert _rsp(s, "qsThreadInfo") == "l"
        assert _rsp(s, "vMustReplyEmpty") == ""
        assert _rsp(s, "Hg0") == "OK"
        assert _rsp(s, "?").startswith("T05thread:1;20:0010000000000000")
        # Nothing is mapped at physical 0 in M-mode: EFAULT, not a crash.
        assert _rsp(s, "m0,8") == "E14"
        assert _rsp(s, "M0,4:01020304") == "E14"
        assert _rsp(s, "p1ffff") == "E00"
        # X: binary data with the RSP escapes ('}' then byte ^ 0x20).
        other = stub.m.symbols["other"]
        assert _rsp(s, f"X{other:x},4:}}\x03}}\x04}}]\x01") == "OK"
        assert _rsp(s, f"m{other:x},4") == "23247d01"
        assert _rsp(s, f"M{other:x},2:aabb") == "OK"
        assert stub.m.read_phys(other, 4) == bytes((0xAA, 0xBB, 0x7D, 0x01))
        xml = _rsp(s, "qXfer:features:read:target.xml:0,3fff")
        assert xml[0] == "l" and xml[1:] == target_xml()
        # A breakpoint set inside code that has already been translated
        # (the loop body ran once) still hits, before its instruction runs.
        sym = stub.m.symbols
        assert _rsp(s, f"Z0,{sym['store']:x},4") == "OK"
        reply = _rsp(s, "c")
        assert reply.startswith("T05swbreak:;") and _stop_pc(reply) == sym["store"]
        assert _rsp(s, f"z0,{sym['store']:x},4") == "OK"
        assert _rsp(s, f"Z0,{sym['after_load']:x},2") == "OK"
        reply = _rsp(s, "c")
        assert _stop_pc(reply) == sym["after_load"]
        assert _rsp(s, f"m{sym['counter']:x},8") == "0100000000000000"
        assert _rsp(s, f"z0,{sym['after_load']:x},2") == "OK"
        # s: exactly one instruction (after_load is a 2-byte c.addi).
        assert _stop_pc(_rsp(s, "s")) == sym["store"]
        # Z1 hardware breakpoint, then vCont continue: stop reply with hwbreak.
        assert _rsp(s, "vCont?") == "vCont;c;C;s;S"
        assert _rsp(s, f"Z1,{stub.m.symbols['done']:x},4") == "OK"
        reply = _rsp(s, "vCont;c")
        assert reply.startswith("T05hwbreak:;") and _stop_pc(reply) == sym["done"]
        assert _rsp(s, f"z1,{stub.m.symbols['done']:x},4") == "OK"
        assert _rsp(s, "c") == "W07"
    r = stub.finish()
    assert r is not None and r.kind == "poweroff" and r.exit_code == 7


#: Sleeps with every interrupt disabled: the machine reports a hang.
WFI_SRC = """
    .globl _start
_start:
    wfi
    j _start
"""


def test_ctrl_c_while_the_guest_sleeps_forever(tmp_path: Path) -> None:
    elf = _build(tmp_path, "wfi", WFI_SRC)
    stub = Stub(elf)
    with socket.create_connection(("127.0.0.1", stub.server.port), timeout=TIMEOUT) as s:
        s.sendall(b"$c#63")
        deadline = time.monotonic() + TIMEOUT
        while not any("waiting for Ctrl-C" in line for line in stub.logs):
            if time.monotonic() > deadline:  # a hang guard, not a speed check
                pytest.fail("the stub never reported waiting for Ctrl-C")
            time.sleep(0.01)
        s.sendall(b"\x03")
        buf = b""
        while b"#" not in buf.partition(b"$")[2]:
            buf += s.recv(4096)
        reply = buf.partition(b"$")[2].partition(b"#")[0].decode()
        assert reply.startswith("T02thread:1;")
        pc = int.from_bytes(bytes.fromhex(reply.split("20:")[1][:16]), "little")
        assert stub.m.symbols["_start"] <= pc <= stub.m.symbols["_start"] + 6
        s.sendall(b"$k#6b")  # kill has no reply
    r = stub.finish()
    assert r is not None and r.kind == "killed"


def test_serve_parses_the_spec(loop_elf: Path) -> None:
    from septum.hypervisor.gdbstub import serve
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(loop_elf))
    result: list[StopReason] = []
    t = threading.Thread(target=lambda: result.append(serve(m, f"tcp::{port}", True)),
                         daemon=True)
    t.start()
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:  # a hang guard, not a speed check
                pytest.fail(f"nothing listens on port {port}")
            time.sleep(0.02)
    with s:
        assert _rsp(s, "c") == "W07"
    t.join(TIMEOUT)
    assert result and result[0].kind == "poweroff" and result[0].exit_code == 7


def test_target_xml_lists_core_csrs_and_priv() -> None:
    import xml.etree.ElementTree as ET
    root = ET.fromstring(target_xml().split("\n", 2)[2])
    regs = {r.get("name"): int(r.get("regnum")) for r in root.iter("reg")}
    assert regs["zero"] == 0 and regs["t6"] == 31 and regs["pc"] == 32
    for csr in DEBUG_CSRS:
        assert regs[csr.name.lower()] == 65 + int(csr)
    assert "priv" in regs
    assert len(set(regs.values())) == len(regs)


def test_gdb_spec_and_cli_options() -> None:
    import argparse
    assert parse_spec("tcp::1234") == ("127.0.0.1", 1234)
    assert parse_spec("tcp:0.0.0.0:4321") == ("0.0.0.0", 4321)
    for bad in ("1234", "tcp:1234", "udp::1", "tcp::99999"):
        with pytest.raises(MachineError, match=re.escape(bad)):
            parse_spec(bad)
    p = argparse.ArgumentParser()
    add_gdb_arguments(p)
    a = p.parse_args(["-s", "-S"])
    assert a.gdb == "tcp::1234" and a.gdb_wait
    a = p.parse_args(["--gdb", "tcp::5555"])
    assert a.gdb == "tcp::5555" and not a.gdb_wait
    assert p.parse_args([]).gdb is None


def test_serve_polls_until_while_gdb_runs_the_guest(tmp_path: Path) -> None:
    """serve()'s ``until`` (terminal input, a boot script) is polled while
    an attached debugger lets the guest run; when it ends the run, GDB
    hears that the program exited and serve returns kind ``until``."""
    elf = _build(tmp_path, "spin", SPIN_SRC)
    m = Machine(ram_size=16 << 20)
    m.boot(bios="none", kernel=str(elf))
    polls: list[int] = []

    def until() -> bool:
        polls.append(m.instret)
        return len(polls) > 5

    server = GdbServer(m, port=0, log=lambda msg: None)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(server.serve(True, until)),
                              daemon=True)
    thread.start()
    argv = [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
            "-ex", f"target remote 127.0.0.1:{server.port}", "-ex", "continue", str(elf)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    thread.join(TIMEOUT)
    server.close()
    text = out.stdout + out.stderr
    assert "exited normally" in text, text
    assert len(polls) == 6 and polls == sorted(polls) and polls[-1] > 0
    assert len(result) == 1 and result[0].kind == "until"  # type: ignore[attr-defined]
