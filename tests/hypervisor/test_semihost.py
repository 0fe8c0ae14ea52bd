"""RISC-V semihosting: the slli/ebreak/srai sequence, the calls picolibc
uses, and picolibc's printf/exit compared with real QEMU."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_elf

SEMI = r"""
.option norelax
.macro SEMI
    .option push
    .option norvc
    .balign 16
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    .option pop
.endm
"""

PROGRAM = SEMI + r"""
.globl _start
_start:
    li a0, 0x04          # SYS_WRITE0
    la a1, msg
    SEMI
    li a0, 0x03          # SYS_WRITEC
    la a1, ch
    SEMI
    li a0, 0x01          # SYS_OPEN ":tt" for writing
    la a1, openblk
    SEMI
    la t0, writeblk
    sd a0, 0(t0)         # the handle
    li a0, 0x05          # SYS_WRITE -> a0 = bytes not written
    la a1, writeblk
    SEMI
    mv s1, a0
    li a0, 0x10          # SYS_CLOCK
    SEMI
    mv s2, a0
    li a0, 0x07          # SYS_READC
    SEMI
    mv s3, a0
    li a0, 0x15          # SYS_GET_CMDLINE
    la a1, cmdblk
    SEMI
    mv s4, a0
    li a0, 0x18          # SYS_EXIT, ADP_Stopped_ApplicationExit, subcode 42
    la a1, exitblk
    SEMI
1:  j 1b
msg: .asciz "semi"
ch: .byte '-'
tt: .asciz ":tt"
.align 3
openblk: .dword tt, 4, 3
writeblk: .dword 0, msg, 3
exitblk: .dword 0x20026, 42
cmdblk: .dword cmdbuf, 64
cmdbuf: .zero 64
"""


def test_semihosting_calls() -> None:
    m = Machine(ram_size=16 << 20, semihosting=True, bootargs="a b c")
    m.boot(kernel=str(build_elf(PROGRAM)))
    m.semihost.stdin += b"Z"  # type: ignore[union-attr]
    r = m.run(max_insns=100_000)
    assert (r.kind, r.exit_code) == ("poweroff", 42)
    assert bytes(m.uart_output) == b"semi-sem"
    assert m.regs.s1 == 0  # every byte written
    assert m.regs.s2 == m.clock() // 100_000 or m.regs.s2 <= m.clock() // 100_000
    assert m.regs.s3 == ord("Z")
    assert m.regs.s4 == 0
    assert m.read_phys(m.symbols["cmdbuf"], 6) == b"a b c\0"


def test_semihosting_off_means_breakpoint_trap() -> None:
    m = Machine(ram_size=16 << 20, semihosting=False)
    m.boot(kernel=str(build_elf(PROGRAM)))
    r = m.run(max_insns=100_000)
    assert r.kind != "poweroff"
    assert not m.uart_output
    assert m.trap.counts.get(3)  # Exc.BREAKPOINT was delivered


HELLO_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    printf("hello %d from picolibc\n", 42);
    fputs("to stderr\n", stderr);
    exit(3);
}
"""


@pytest.fixture(scope="module")
def picolibc_hello() -> Path:
    d = Path(tempfile.mkdtemp(prefix="septum-picolibc-"))
    (d / "hello.c").write_text(HELLO_C)
    subprocess.run(
        ["riscv64-unknown-elf-gcc", "--specs=picolibc.specs", "--oslib=semihost",
         "-march=rv64imafdc", "-mabi=lp64d", "-mcmodel=medany", "-O2",
         "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x200000",
         "-Wl,--defsym=__ram=0x80200000", "-Wl,--defsym=__ram_size=0x200000",
         "-o", str(d / "hello.elf"), str(d / "hello.c")], check=True, capture_output=True)
    return d / "hello.elf"


def test_picolibc_printf_matches_qemu(picolibc_hello: Path) -> None:
    m = Machine(semihosting=True)
    m.boot(kernel=str(picolibc_hello))
    r = m.run(max_insns=10_000_000)
    q = subprocess.run(["qemu-system-riscv64", "-M", "virt", "-nographic", "-bios", "none",
                        "-kernel", str(picolibc_hello), "-semihosting"],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.kind == "poweroff"
    assert r.exit_code == q.returncode == 3
    # QEMU prints stdout and stderr to its own stdout/stderr; ours share the console.
    assert bytes(m.uart_output) == q.stdout + q.stderr
    assert b"hello 42 from picolibc\n" in q.stdout + q.stderr
