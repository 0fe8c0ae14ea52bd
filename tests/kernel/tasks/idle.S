# idle.S — waits for notifications forever; nobody may call it.
    .include "abi.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    SYS     SYS_RECV
    j       _start
