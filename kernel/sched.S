# sched.S — fixed-priority, round-robin scheduling and the idle loop.
#
# The rule (the reference model implements the same, kernel/model.py):
# scan every task once, starting after the current one and ending with it;
# the first READY task with the lowest priority number wins.  Without
# rotation (after an ordinary system call or interrupt) the current task
# keeps the CPU if it is READY and no better task exists; with rotation
# (YIELD, end of a time slice) an equal-priority peer goes first.

    .include "abi.inc"
    .include "config.inc"

    .text

# sched_return / sched_rotate — pick the next task and resume it.
# Jumped to (j) at the end of every kernel path.  sp = kernel stack.
# Never returns.
    .globl sched_return, sched_rotate
sched_return:
    li      a0, 0
    j       schedule
sched_rotate:
    li      a0, 1
schedule:
    la      t0, cur_tcb
    ld      t1, 0(t0)           # current TCB
    ld      t2, TCB_INDEX(t1)
    li      t3, TASK_COUNT
    la      a7, tcbs
    li      a2, 0               # best TCB (0: none yet)
    li      a3, 8               # best priority, worse than any real one
    li      a4, 1
1:  add     a5, t2, a4          # scan index = (current + i) mod TASK_COUNT
    bltu    a5, t3, 2f
    sub     a5, a5, t3
2:  slli    a6, a5, TCB_SHIFT
    add     a6, a6, a7
    ld      t4, TCB_STATE(a6)
    bnez    t4, 3f              # TS_READY == 0
    ld      t4, TCB_PRIO(a6)
    bgeu    t4, a3, 3f
    mv      a2, a6
    mv      a3, t4
3:  addi    a4, a4, 1
    bleu    a4, t3, 1b
    bnez    a0, 4f              # rotating: the scan order decides
    ld      t4, TCB_STATE(t1)
    bnez    t4, 4f
    ld      t4, TCB_PRIO(t1)
    bgtu    t4, a3, 4f
    mv      a2, t1              # the current task keeps the CPU
4:  beqz    a2, idle
    mv      a0, a2
.if CONFIG_FASTPATH
    call    fp_summary          # what the fast path's guards need to know
.endif
    j       task_return

# idle — nothing is READY: wait for an interrupt with SIE clear (wfi still
# wakes on any pending interrupt enabled in sie), handle it, reschedule.
idle:
    wfi
    csrr    t0, sip
    andi    t0, t0, SIP_STIP
    beqz    t0, 1f
    call    timer_handle
1:  csrr    t0, sip
    li      t1, SIP_SEIP
    and     t0, t0, t1
    beqz    t0, 2f
    call    external_handle
2:  j       sched_return
