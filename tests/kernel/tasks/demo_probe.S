# probe.S — a compromised task of the demo: it announces itself and then
# tries to read the kernel's first word.  The MMU stops it; init restarts it.
    .include "abi.inc"
    .include "manifest.inc"
    .text
    .globl _start
_start:
    la      a0, msg
    la      a1, msg_end
    sub     a1, a1, a0
    li      a7, SYS_LOG
    ecall
    li      t0, KERNEL_BASE
    ld      t1, 0(t0)           # faults: the kernel is supervisor-only
1:  j       1b
    .section .rodata
msg: .ascii "probe: reading kernel memory...\n"
msg_end:
