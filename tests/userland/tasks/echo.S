# echo.S — a server for tests: replies to every request with a2 * 2 and
# its own id in a3.
    .include "abi.inc"
    .text
    .globl _start
_start:
    mv      s0, a0              # our id
1:  li      a0, RECVMODE_OPEN
    li      a1, 0
    li      a6, 0
    call    sys_recv
    bnez    a0, 1b
    mv      a0, a1
    slli    a2, a2, 1
    mv      a3, s0
    li      a1, 0
    li      a6, 0
    call    sys_reply
    j       1b
