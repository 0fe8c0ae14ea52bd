# ipc.S — synchronous IPC, the complete slow path: CALL, RECV, REPLY,
# REPLY_RECV, and the bulk copies between the two parties' buffers.
#
# Message: four words in a2..a5 both ways.  Bulk: the caller names one
# buffer (a1 = address, a6 = length) that the request is copied from and
# the reply is copied into; the receiver names its receive buffer in RECV,
# the replier its reply buffer in REPLY.  Each buffer is checked against its
# owner's regions when its owner names it, so a copy can never fail later.
# Senders wait in no queue: a receiver scans the tasks for those in
# SEND_WAIT on it and takes the most urgent (lowest priority number, then
# lowest index).  kernel/model.py implements the same rules.

    .include "abi.inc"
    .include "config.inc"

# COUNT tcb, field, tmp — one more message in the IPC counter at field of
# the TCB in register tcb (TCB_SENT / TCB_RECEIVED).  A 32-bit add and
# store: the count wraps modulo 2**32 and the word's high half stays 0.
.macro COUNT tcb, field, tmp
    lw      \tmp, \field(\tcb)
    addi    \tmp, \tmp, 1
    sw      \tmp, \field(\tcb)
.endm

    .text

# check_buf — is [a1, a1 + a2) inside one region of task a0 with perms a3?
# Length 0 always passes.  Overflow-safe: ptr >= base, len <= size and
# ptr - base <= size - len, all unsigned.
# In: a0 = TCB, a1 = address, a2 = length, a3 = PERM_* bits needed.
# Out: a0 = 0 if the buffer is acceptable, 1 if not.  Clobbers: t0-t5.
    .globl check_buf
check_buf:
    beqz    a2, 3f
    ld      t0, TCB_DESC(a0)
    ld      t1, DESC_NREGIONS(t0)
    ld      t2, DESC_REGIONS(t0)
1:  beqz    t1, 2f
    ld      t3, REGION_PERM(t2)
    and     t3, t3, a3
    bne     t3, a3, 4f
    ld      t3, REGION_BASE(t2)
    ld      t4, REGION_SIZE(t2)
    bltu    a1, t3, 4f
    bgtu    a2, t4, 4f
    sub     t5, a1, t3          # offset in the region
    sub     t4, t4, a2          # room left for the start
    bleu    t5, t4, 3f
4:  addi    t2, t2, REGION_ENTRY_SIZE
    addi    t1, t1, -1
    j       1b
2:  li      a0, 1
    ret
3:  li      a0, 0
    ret

# ipc_deliver — hand a sender's message to a receiver blocked in (or
# entering) RECV.  In: a0 = sender TCB, a1 = receiver TCB.
# Receiver gets: a0 = RECV_MESSAGE, a1 = sender id, a2..a5 = words,
# a6 = bytes copied, a7 = the sender's buffer length; it becomes READY and
# the sender waits for the reply.  Counts the message on both sides.
# Clobbers: a0-a2, t0, t1.
    .globl ipc_deliver
ipc_deliver:
    COUNT   a0, TCB_SENT, t0
    COUNT   a1, TCB_RECEIVED, t0
    li      t0, RECV_MESSAGE
    sd      t0, TF_A0(a1)
    ld      t0, TCB_ID(a0)
    sd      t0, TF_A1(a1)
    ld      t0, TF_A2(a0)
    sd      t0, TF_A2(a1)
    ld      t0, TF_A3(a0)
    sd      t0, TF_A3(a1)
    ld      t0, TF_A4(a0)
    sd      t0, TF_A4(a1)
    ld      t0, TF_A5(a0)
    sd      t0, TF_A5(a1)
    ld      t0, TCB_BUFLEN(a0)
    sd      t0, TF_A7(a1)
    ld      t1, TCB_BUFLEN(a1)
    bleu    t0, t1, 1f
    mv      t0, t1              # copy min(sender's, receiver's) bytes
1:  sd      t0, TF_A6(a1)
    sd      zero, TCB_STATE(a1) # TS_READY
.if CONFIG_FASTPATH
    sd      a0, TCB_PARTNER(a1) # the fast path may reply to it
.endif
    li      t1, TS_REPLY_WAIT
    sd      t1, TCB_STATE(a0)
    mv      a2, t0
    ld      t0, TCB_BUF(a0)
    ld      a0, TCB_BUF(a1)     # destination: the receiver's buffer
    mv      a1, t0
    tail    kcopy

# find_sender — the most urgent task in SEND_WAIT on receiver a0.
# Out: a0 = its TCB, or 0.  Clobbers: t0-t5.
find_sender:
    ld      t0, TCB_INDEX(a0)
    la      t1, tcbs
    li      t2, TASK_COUNT
    slli    t2, t2, TCB_SHIFT
    add     t2, t2, t1
    li      a0, 0
    li      t5, 8               # best priority so far (none)
1:  bgeu    t1, t2, 3f
    ld      t3, TCB_STATE(t1)
    li      t4, TS_SEND_WAIT
    bne     t3, t4, 2f
    ld      t3, TCB_WAIT(t1)
    bne     t3, t0, 2f
    ld      t3, TCB_PRIO(t1)
    bgeu    t3, t5, 2f
    mv      a0, t1
    mv      t5, t3
2:  addi    t1, t1, TCB_SIZE
    j       1b
3:  ret

# reply_do — complete a caller's CALL.  In: a0 = caller TCB (in REPLY_WAIT
# on the replier), a1 = replier TCB (its a2..a5 are the reply words),
# a2 = reply buffer, a3 = its length (checked).  The caller gets a0 = OK,
# a1 = bytes copied into its buffer, a2..a5 = words; it becomes READY.
# Counts the reply on both sides.  Clobbers: a0-a3, t0, t1.
reply_do:
    COUNT   a1, TCB_SENT, t0
    COUNT   a0, TCB_RECEIVED, t0
    ld      t0, TF_A2(a1)
    sd      t0, TF_A2(a0)
    ld      t0, TF_A3(a1)
    sd      t0, TF_A3(a0)
    ld      t0, TF_A4(a1)
    sd      t0, TF_A4(a0)
    ld      t0, TF_A5(a1)
    sd      t0, TF_A5(a0)
    sd      zero, TF_A0(a0)     # ERR_OK
    sd      zero, TCB_STATE(a0) # TS_READY
.if CONFIG_FASTPATH
    sd      a1, TCB_PARTNER(a1) # none left for the fast path (safe if another waits)
.endif
    ld      t0, TCB_BUFLEN(a0)
    bleu    a3, t0, 1f
    mv      a3, t0
1:  sd      a3, TF_A1(a0)
    ld      a0, TCB_BUF(a0)
    mv      a1, a2
    mv      a2, a3
    tail    kcopy

# caller_of — validate the id in a0 as a task waiting for our reply.
# In: a0 = id, s0 = replier.  Out: a0 = ERR_OK and a1 = caller TCB, or
# a0 = the error (ERR_BAD_TASK, dead code, ERR_NOT_WAITING).  Clobbers t0-t2.
caller_of:
    slli    a0, a0, 32
    srli    a0, a0, 32
    li      t0, ID_INDEX_MASK
    and     t1, a0, t0
    li      t0, TASK_COUNT
    bgeu    t1, t0, 1f
    slli    t1, t1, TCB_SHIFT
    la      t0, tcbs
    add     a1, t1, t0
    ld      t0, TCB_ID(a1)
    bne     a0, t0, 2f
    ld      t0, TCB_STATE(a1)
    li      t2, TS_REPLY_WAIT
    bne     t0, t2, 3f
    ld      t0, TCB_WAIT(a1)
    ld      t2, TCB_INDEX(s0)
    bne     t0, t2, 3f
    li      a0, ERR_OK
    ret
1:  li      a0, ERR_BAD_TASK
    ret
2:  srli    t0, t0, ID_GEN_SHIFT
    li      a0, DEAD_BASE
    or      a0, a0, t0
    ret
3:  li      a0, ERR_NOT_WAITING
    ret

# CALL (a0 = server id, a1 = buffer, a2..a5 = words, a6 = buffer length).
# The caller blocks until the reply (or a dead code) arrives.
    .globl sys_call
sys_call:
    slli    a0, a0, 32          # ids are 32 bits
    srli    a0, a0, 32
    li      t0, ID_INDEX_MASK
    and     s2, a0, t0          # s2 = server index
    li      t0, TASK_COUNT
    bgeu    s2, t0, sys_bad_task
    ld      t0, TCB_DESC(s0)
    ld      t0, DESC_CALLS(t0)
    srl     t0, t0, s2
    andi    t0, t0, 1
    beqz    t0, sys_deny
    slli    t1, s2, TCB_SHIFT
    la      t0, tcbs
    add     s1, t1, t0          # s1 = server TCB
    ld      t0, TCB_ID(s1)
    mv      t1, s1
    bne     a0, t0, sys_dead_t1
.if CONFIG_FASTPATH
    ld      t0, TCB_PRIO(s1)    # granted and more urgent: the fast path may
    ld      t1, TCB_PRIO(s0)    # take the next call to this server
    bgeu    t0, t1, 1f
    sd      s1, TCB_LASTSRV(s0)
1:
.endif
    mv      a0, s0
    mv      a2, a6
    li      a3, PERM_R | PERM_W
    call    check_buf           # a1 = buffer, still the caller's
    bnez    a0, sys_bad_buffer
    ld      t0, TF_A1(s0)
    sd      t0, TCB_BUF(s0)
    ld      t0, TF_A6(s0)
    sd      t0, TCB_BUFLEN(s0)
    sd      s2, TCB_WAIT(s0)
    li      t0, TS_SEND_WAIT
    sd      t0, TCB_STATE(s0)
    ld      t0, TCB_STATE(s1)
    li      t1, TS_RECV_WAIT
    bne     t0, t1, sched_return  # the server will find us when it receives
    mv      a0, s0
    mv      a1, s1
    call    ipc_deliver
    j       sched_return

# RECV (a0 = mode, a1 = buffer, a6 = buffer length).
    .globl sys_recv
sys_recv:
    li      t0, RECVMODE_NOTIFICATIONS_ONLY
    bgtu    a0, t0, sys_bad_arg
    mv      a0, s0
    mv      a2, a6
    li      a3, PERM_W
    call    check_buf
    bnez    a0, sys_bad_buffer
    ld      t0, TF_A1(s0)
    sd      t0, TCB_BUF(s0)
    ld      t0, TF_A6(s0)
    sd      t0, TCB_BUFLEN(s0)
    ld      a0, TF_A0(s0)
    # fall through
# recv_common — s0 receives in mode a0: pending notifications first, then
# the most urgent sender, else block.
    .globl recv_common
recv_common:
    ld      t0, TCB_NOTIF(s0)
    beqz    t0, 1f
    COUNT   s0, TCB_RECEIVED, t1
    li      t1, RECV_NOTIFICATION
    sd      t1, TF_A0(s0)
    sd      t0, TF_A1(s0)
    sd      zero, TCB_NOTIF(s0)
    j       sched_return
1:  li      t1, TS_NOTIFY_WAIT
    bnez    a0, 2f
    mv      a0, s0
    call    find_sender
    beqz    a0, 3f
    mv      a1, s0
    call    ipc_deliver
    j       sched_return
3:  li      t1, TS_RECV_WAIT
2:  sd      t1, TCB_STATE(s0)
    j       sched_return

# REPLY (a0 = caller id, a1 = buffer, a2..a5 = words, a6 = buffer length).
    .globl sys_reply
sys_reply:
    call    caller_of
    bnez    a0, sys_ret_a0
    mv      s1, a1
    mv      a0, s0
    ld      a1, TF_A1(s0)
    ld      a2, TF_A6(s0)
    li      a3, PERM_R
    call    check_buf
    bnez    a0, sys_bad_buffer
    mv      a0, s1
    mv      a1, s0
    ld      a2, TF_A1(s0)
    ld      a3, TF_A6(s0)
    call    reply_do
    j       sys_ret_ok

# REPLY_RECV (a0 = caller id, a1 = receive buffer, a2..a5 = reply words,
# a6 = receive buffer length).  The reply carries no bulk data; if a0 names
# no task waiting for our reply, the reply is skipped silently.  Then an
# open RECV.
    .globl sys_reply_recv
sys_reply_recv:
    mv      a0, s0
    mv      a2, a6
    li      a3, PERM_W
    call    check_buf
    bnez    a0, sys_bad_buffer
    ld      a0, TF_A0(s0)
    call    caller_of
    bnez    a0, 1f
    mv      a0, a1
    mv      a1, s0
    li      a2, 0
    li      a3, 0
    call    reply_do
1:  ld      t0, TF_A1(s0)
    sd      t0, TCB_BUF(s0)
    ld      t0, TF_A6(s0)
    sd      t0, TCB_BUFLEN(s0)
    li      a0, RECVMODE_OPEN
    j       recv_common
