"""The GDB remote stub (hypervisor/gdbstub.py) driven by the real gdb-multiarch.

Each test builds a small guest with Septum's own assembler, runs the stub on
an ephemeral port in a background thread and drives ``gdb-multiarch -batch``
against it.  Expected values come from the guest's source (what the code
stores) or from the machine itself, never from the stub's own reply.
"""

from __future__ import annotations

import os
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
    addi t1, t1, 1
store:
    sd t1, 0(t0)
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
