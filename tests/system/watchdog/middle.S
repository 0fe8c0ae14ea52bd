# middle.S — a server that serves each request by calling `deaf`, then
# answers its caller with the status of that call (a2): the middle link
# of a chain client -> middle -> deaf.  While it waits on deaf it is in a
# CALL itself, so the watchdog must blame deaf, never middle.
    .include "abi.inc"
    .include "manifest.inc"
    .text
    .globl _start
_start:
1:  li      a0, RECVMODE_OPEN
    li      a1, 0
    li      a6, 0
    call    watch_recv
    bnez    a0, 1b              # a notification: nothing for us
    mv      s1, a1              # the caller
    la      a0, deaf_id
    li      a1, 0
    li      a2, 1
    li      a6, 0
    call    ipc_call_once       # a dead code comes back (the slot follows it)
    mv      a2, a0
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply
    j       1b

    .data
    .balign 4
deaf_id: .word TASK_DEAF
