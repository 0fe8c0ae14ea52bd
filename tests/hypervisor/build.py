"""Build small RISC-V test programs for the hypervisor tests.

Uses GNU ``as``/``ld`` from Debian's ``binutils-riscv64-unknown-elf`` (a
peer tool the CI installs): a program is assembly source, linked at
``base`` (0x8000_0000 by default) with ``_start`` as its entry.  Results are
cached per source text in a temporary directory so each program is built once
per test session.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

_CACHE = Path(tempfile.gettempdir()) / f"septum-hvtest-{__import__('os').getuid()}"

#: Handy definitions every test program may use.
PRELUDE = """
    .equ UART0, 0x10000000
    .equ TEST, 0x100000
    .equ CLINT, 0x2000000
    .equ MTIMECMP, 0x2004000
    .equ MTIME, 0x200bff8
    .macro POWEROFF
        li t6, TEST
        li t5, 0x5555
        sw t5, 0(t6)
    1:  j 1b
    .endm
    .macro EXIT code
        li t6, TEST
        li t5, (\\code << 16) | 0x3333
        sw t5, 0(t6)
    1:  j 1b
    .endm
    .macro PUTC reg
        li t6, UART0
        sb \\reg, 0(t6)
    .endm
"""


def build_elf(source: str, base: int = 0x8000_0000, march: str = "rv64gc_zicsr_zifencei",
              prelude: bool = True, extra_ld: tuple[str, ...] = ()) -> Path:
    """Assemble and link ``source``; return the ELF's path."""
    text = (PRELUDE if prelude else "") + source
    key = hashlib.sha256(f"{text}|{base}|{march}|{extra_ld}".encode()).hexdigest()[:20]
    _CACHE.mkdir(exist_ok=True)
    elf = _CACHE / f"{key}.elf"
    if elf.exists():
        return elf
    src = _CACHE / f"{key}.S"
    obj = _CACHE / f"{key}.o"
    src.write_text(text)
    subprocess.run(["riscv64-unknown-elf-as", f"-march={march}", "-o", str(obj), str(src)],
                   check=True, capture_output=True)
    tmp = _CACHE / f"{key}.tmp.elf"
    subprocess.run(["riscv64-unknown-elf-ld", "-nostdlib", "-N", "-Ttext", hex(base), "-e", "_start",
                    *extra_ld, "-o", str(tmp), str(obj)], check=True, capture_output=True)
    tmp.replace(elf)
    return elf


def build_bin(source: str, base: int = 0x8000_0000, **kw: object) -> Path:
    """Like :func:`build_elf` but return a flat binary (objcopy -O binary)."""
    elf = build_elf(source, base, **kw)  # type: ignore[arg-type]
    out = elf.with_suffix(".bin")
    if not out.exists():
        subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(out)],
                       check=True, capture_output=True)
    return out


#: Print "hello" over the UART (PRELUDE's PUTC), then exit with code 7.
HELLO = r"""
.globl _start
_start:
    la s0, msg
1:  lbu a0, 0(s0)
    beqz a0, 2f
    PUTC a0
    addi s0, s0, 1
    j 1b
2:  EXIT 7
msg: .asciz "hello\n"
"""

#: Echo UART input (polling LSR.DR) until a '.' arrives, then power off.
ECHO = r"""
.globl _start
_start:
    li s1, UART0
1:  lbu t0, 5(s1)
    andi t0, t0, 1
    beqz t0, 1b
    lbu a0, 0(s1)
    sb a0, 0(s1)
    li t1, '.'
    bne a0, t1, 1b
    POWEROFF
"""


#: A program skeleton for trap tests: M-mode setup, then ``body`` runs at
#: privilege ``mode`` (0 U, 1 S, 3 M) with Bare translation and a PMP entry
#: that grants everything; ``mtrap``/``strap`` are the trap vectors (loops the
#: tests put breakpoints on).  ``{setup}`` runs in M just before entry.
TRAP_SKELETON = r"""
.globl _start
_start:
    la t0, mtrap
    csrw mtvec, t0
    la t0, strap
    csrw stvec, t0
    li t0, {medeleg}
    csrw medeleg, t0
    li t0, {mideleg}
    csrw mideleg, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    {setup}
    li t0, 0x1800
    csrc mstatus, t0
    li t0, {mode} << 11
    csrs mstatus, t0
    la t0, body
    li t1, {entry_offset}
    add t0, t0, t1
    csrw mepc, t0
    mret
.align 2
body:
    {body}
.align 2
mtrap:
    j mtrap
.align 2
strap:
    j strap
{extra}
"""


def trap_program(body: str, mode: int = 0, medeleg: int = 0, mideleg: int = 0,
                 setup: str = "", extra: str = "", entry_offset: int = 0) -> Path:
    """Build a :data:`TRAP_SKELETON` program; return its ELF path.
    ``entry_offset`` is added to ``body``'s address for the mret (to enter
    through an alias mapping)."""
    return build_elf(TRAP_SKELETON.format(body=body, mode=mode, medeleg=medeleg,
                                          mideleg=mideleg, setup=setup, extra=extra,
                                          entry_offset=entry_offset))
