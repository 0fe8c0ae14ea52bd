# proxy.S — septum.testing's IPC proxy task: CALLs a server for the host.
#
# The host (testing/ipc.py) cannot make system calls, so this task makes
# them on its behalf: the host writes a request into proxy_mailbox with
# write_phys and bumps REQ_SEQ; the proxy sees it at its next poll, makes
# the CALL itself (so the kernel's authority and buffer checks apply to it
# exactly as the manifest grants this task), stores the reply and sets
# DONE_SEQ = REQ_SEQ.  Between requests it sleeps POLL_TICKS on its timer.
#
# Self-contained (no userland library), so it joins any manifest.
# The final design replaces the polling with a host-link device (an
# interrupt from the host): see docs/testing.md.
    .include "abi.inc"

# Mailbox layout (byte offsets; testing/ipc.py has the same table).
.equ MB_REQ_SEQ, 0          # host: bumped last, after the request fields
.equ MB_DONE_SEQ, 8         # proxy: = REQ_SEQ once the reply is stored
.equ MB_SERVER, 16          # a0 of the CALL: the server's id
.equ MB_WORDS, 24           # a2..a5 (4 words)
.equ MB_LEN, 56             # a6: bulk length (<= MB_BUF_SIZE)
.equ MB_STATUS, 64          # reply a0
.equ MB_RLEN, 72            # reply a1: bytes copied back into the buffer
.equ MB_RWORDS, 80          # reply a2..a5
.equ MB_CALLS, 112          # requests served (a liveness counter)
.equ MB_BUF, 128            # the bulk buffer, both ways
.equ MB_BUF_SIZE, 2048

.equ POLL_TICKS, 1000       # 100 us of virtual time between polls
.equ POLL_BIT, 1            # the notification bit the timer posts

    .text
    .globl _start
_start:
    la      s0, proxy_mailbox
loop:
    ld      t0, MB_REQ_SEQ(s0)
    ld      t1, MB_DONE_SEQ(s0)
    beq     t0, t1, idle
    ld      a0, MB_SERVER(s0)
    addi    a1, s0, MB_BUF
    ld      a2, MB_WORDS(s0)
    ld      a3, MB_WORDS+8(s0)
    ld      a4, MB_WORDS+16(s0)
    ld      a5, MB_WORDS+24(s0)
    ld      a6, MB_LEN(s0)
    li      t2, MB_BUF_SIZE
    bleu    a6, t2, 1f
    mv      a6, t2              # never let the host name more than our buffer
1:  li      a7, SYS_CALL
    ecall
    sd      a0, MB_STATUS(s0)
    sd      a1, MB_RLEN(s0)
    sd      a2, MB_RWORDS(s0)
    sd      a3, MB_RWORDS+8(s0)
    sd      a4, MB_RWORDS+16(s0)
    sd      a5, MB_RWORDS+24(s0)
    ld      t0, MB_CALLS(s0)
    addi    t0, t0, 1
    sd      t0, MB_CALLS(s0)
    ld      t0, MB_REQ_SEQ(s0)
    sd      t0, MB_DONE_SEQ(s0) # last: the reply is complete
    j       loop
idle:
    li      a0, 0               # no deadline: just read the time (a1)
    li      a1, 0
    li      a7, SYS_TIMER
    ecall
    li      t0, POLL_TICKS
    add     a0, a1, t0
    li      a1, POLL_BIT
    li      a7, SYS_TIMER
    ecall
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    li      a7, SYS_RECV
    ecall
    j       loop

    .data
    .balign 8
    .globl proxy_mailbox
proxy_mailbox:
    .zero MB_BUF + MB_BUF_SIZE
