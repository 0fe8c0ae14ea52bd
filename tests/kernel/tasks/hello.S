# hello.S — the smallest system: one supervisor task that prints and powers off.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    PUTS    msg
    li      a0, 0
    SYS     SYS_SHUTDOWN
1:  j       1b
    .section .rodata
msg: .asciz "hello from task 0\n"
