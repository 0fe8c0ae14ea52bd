# idle.S — a supervisor that only waits (for tests of other tasks).
    .include "abi.inc"
    .text
    .globl _start
_start:
1:  li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    call    sys_recv
    j       1b
