"""HTIF through tohost/fromhost, as spike: exit codes, bcd putchar, the
magic-memory SYS_write."""

from __future__ import annotations

import pytest

from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import build_elf

PROGRAM = r"""
.globl _start
_start:
    la s0, tohost
    # device 1 (bcd), command 1: putchar 'H', then 'i'
    li t1, (1 << 56) | (1 << 48) | 'H'
    call send
    li t1, (1 << 56) | (1 << 48) | 'i'
    call send
    # device 0: SYS_write(1, msg, 4) through a magic_mem block
    la t1, block
    call send
    la t2, fromhost
3:  ld t3, 0(t2)
    beqz t3, 3b
    li t1, {exit_value}
    sd t1, 0(s0)
4:  j 4b
send:
    sd t1, 0(s0)
1:  ld t1, 0(s0)          # the host clears tohost once it took the command
    bnez t1, 1b
    ret
.align 3
block: .dword 64, 1, msg, 4, 0, 0, 0, 0
msg: .ascii "!ok\n"
.align 3
.globl tohost
tohost: .dword 0
.globl fromhost
fromhost: .dword 0
"""


@pytest.mark.parametrize("exit_value,code", [(1, 0), ((5 << 1) | 1, 5), ((200 << 1) | 1, 200)])
def test_htif_exit_codes_and_console(exit_value: int, code: int) -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(PROGRAM.format(exit_value=exit_value))))
    assert m.htif is not None
    r = m.run(max_insns=1_000_000)
    assert (r.kind, r.exit_code) == ("poweroff", code)
    assert bytes(m.uart_output) == b"Hi!ok\n"
    # SYS_write's result (bytes written) is in the block's first word.
    assert int.from_bytes(m.read_phys(m.symbols["block"], 8), "little") == 4


def test_no_tohost_no_htif() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(build_elf(".globl _start\n_start: POWEROFF\n")))
    assert m.htif is None
