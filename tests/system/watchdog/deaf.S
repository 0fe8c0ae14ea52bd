# deaf.S — a server deaf to its callers: it receives (lib/watch.S answers
# the supervisor's pings, so it looks alive) and never replies.  Its
# callers wait in CALL for ever, unless the watchdog's unanswered-call rule
# blames it.
    .include "abi.inc"
    .text
    .globl _start
_start:
1:  li      a0, RECVMODE_OPEN
    li      a1, 0
    li      a6, 0
    call    watch_recv
    j       1b
