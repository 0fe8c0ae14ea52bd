# whoami.S — a server for the ipc tests: tells each caller who it is.
#
# Every CALL is answered with a2 = the caller's id as the kernel reports it
# (RECV's a1: the kernel, not the caller, writes it), a3 = the request's
# first word, and the bulk bytes sent back unchanged.  A first word of
# WHOAMI_CRASH makes it fault while the caller waits (a load from address
# 0): the caller must get the dead code.
    .include "abi.inc"
.equ BUF_SIZE, 256
.equ WHOAMI_CRASH, 0xdead
    .section .rodata
ready: .ascii "whoami: ready\n"
    .text
    .globl _start
_start:
    la      a0, ready
    li      a1, 14              # len("whoami: ready\n")
    li      a7, SYS_LOG
    ecall
serve:
    li      a0, RECVMODE_OPEN
    la      a1, buf
    li      a6, BUF_SIZE
    li      a7, SYS_RECV
    ecall
    bnez    a0, serve           # a notification: nothing to answer
    li      t0, WHOAMI_CRASH
    bne     a2, t0, 1f
    ld      t0, 0(zero)         # fault mid-call
1:  mv      a0, a1              # REPLY to the caller
    mv      a3, a2              # its first word
    mv      a2, a1              # its id, as the kernel gave it
    la      a1, buf
    li      a4, 0
    li      a5, 0
    li      a7, SYS_REPLY       # a6: the bytes received, sent back
    ecall
    j       serve
    .data
buf: .zero BUF_SIZE
