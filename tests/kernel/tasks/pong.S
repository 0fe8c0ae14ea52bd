# pong.S — server of pingpong.toml: replies word + 1 on each word, with
# REPLY_RECV and no buffers (the fast path's case).
    .include "abi.inc"
    .include "manifest.inc"
    .text
    .globl _start
_start:
    li      a0, RECVMODE_OPEN
    li      a6, 0
    li      a7, SYS_RECV
    ecall
1:  mv      a0, a1              # reply to the sender
    addi    a2, a2, 1
    addi    a3, a3, 1
    addi    a4, a4, 1
    addi    a5, a5, 1
    li      a6, 0
    li      a7, SYS_REPLY_RECV
    ecall
    j       1b
