# task.S — task life cycle: (re)initialisation, faults, notifications.
#
# A task's memory is (re)built from the image on every start: its code and
# initial data get the pristine copy the builder keeps in the tables area,
# the rest of its writable region is zeroed.  The code is read-only to the
# task, but not to the world (a debugger, a fault injector, a stray DMA):
# restoring it too makes a restart a real fresh start.  The kernel reaches
# task memory through its window onto DRAM (VA = PA + KWINDOW - KWINDOW_PA),
# never through the task's own mappings.

    .include "abi.inc"
    .include "config.inc"

    .text

# kcopy — copy a2 bytes from physical a1 to physical a0.
# Clobbers: a0, a1, a2, t0, t1.
    .globl kcopy
kcopy:
    li      t1, KWINDOW - KWINDOW_PA
    add     a0, a0, t1
    add     a1, a1, t1
1:  beqz    a2, 2f
    lbu     t0, 0(a1)
    sb      t0, 0(a0)
    addi    a0, a0, 1
    addi    a1, a1, 1
    addi    a2, a2, -1
    j       1b
2:  ret

# kcopy8 — copy a2 bytes from physical a1 to physical a0, a doubleword at a
# time (both 8-byte aligned, a2 a multiple of 8: the restart recipe is).
# Clobbers: a0, a1, a2, t0, t1.
kcopy8:
    li      t1, KWINDOW - KWINDOW_PA
    add     a0, a0, t1
    add     a1, a1, t1
    add     a2, a2, a1          # end of the source
1:  bgeu    a1, a2, 2f
    ld      t0, 0(a1)
    sd      t0, 0(a0)
    addi    a0, a0, 8
    addi    a1, a1, 8
    j       1b
2:  ret

# kcompare16 — compare a2 bytes at physical a0 with physical a1, two
# doublewords a turn (both 8-byte aligned, a2 a nonzero multiple of 16: a
# code region is whole pages; unrolled because the supervisor's scrub runs
# it at every heartbeat).  Returns a0 = 0 if equal, else 1 + the byte
# offset (from a0) of the first differing byte.
# Clobbers: a0-a3, t0, t1.
    .globl kcompare16
kcompare16:
    li      t1, KWINDOW - KWINDOW_PA
    add     a0, a0, t1
    add     a1, a1, t1
    mv      a3, a0              # the start, for the offset
    add     a2, a2, a0          # the end
1:  ld      t0, 0(a0)
    ld      t1, 0(a1)
    bne     t0, t1, 2f
    ld      t0, 8(a0)
    ld      t1, 8(a1)
    addi    a0, a0, 16
    addi    a1, a1, 16
    bne     t0, t1, 3f
    bltu    a0, a2, 1b
    li      a0, 0
    ret
3:  addi    a0, a0, -8          # the pair's second doubleword differs
2:  xor     t0, t0, t1          # little-endian: the lowest nonzero byte of
    sub     a0, a0, a3          # the difference is the first in memory
    addi    a0, a0, 1
4:  andi    t1, t0, 0xff
    bnez    t1, 5f
    srli    t0, t0, 8
    addi    a0, a0, 1
    j       4b
5:  ret

# kzero — zero a1 bytes at physical a0 (8-byte aligned, multiple of 8).
# Clobbers: a0, a1, t1.
kzero:
    li      t1, KWINDOW - KWINDOW_PA
    add     a0, a0, t1
    add     a1, a1, a0
1:  bgeu    a0, a1, 2f
    sd      zero, 0(a0)
    addi    a0, a0, 8
    j       1b
2:  ret

# task_init — start a task afresh from its static descriptor.
# In: a0 = TCB (TCB_DESC, TCB_INDEX and TCB_ID already set).
# Clobbers: a0-a2, t0, t1.  Keeps the fault record, the denial count and
# the IPC counters.
    .globl task_init
task_init:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    mv      s1, a0
    ld      t0, TCB_DESC(s1)
    ld      a0, DESC_DATA_DST(t0)   # code and initial data (one copy)
    ld      a1, DESC_DATA_SRC(t0)
    ld      a2, DESC_DATA_LEN(t0)
    call    kcopy8
    fence.i                     # the task's code was just written (as data)
    ld      t0, TCB_DESC(s1)
    ld      a0, DESC_ZERO_DST(t0)
    ld      a1, DESC_ZERO_LEN(t0)
    call    kzero
    mv      t0, s1              # every saved register starts at 0
    addi    t1, s1, TF_PC
1:  sd      zero, 0(t0)
    addi    t0, t0, 8
    bltu    t0, t1, 1b
    ld      t0, TCB_DESC(s1)
    ld      t1, DESC_ENTRY(t0)
    sd      t1, TF_PC(s1)
    ld      t1, DESC_SP(t0)
    sd      t1, TF_SP(s1)
    ld      t1, DESC_SATP(t0)
    sd      t1, TCB_SATP(s1)
    ld      t1, DESC_PRIO(t0)
    sd      t1, TCB_PRIO(s1)
    ld      t1, TCB_ID(s1)
    sd      t1, TF_A0(s1)       # a task starts with its own id in a0
    sd      zero, TCB_STATE(s1) # TS_READY
    sd      zero, TCB_NOTIF(s1)
    sd      zero, TCB_WAIT(s1)
    sd      zero, TCB_BUF(s1)
    sd      zero, TCB_BUFLEN(s1)
    sd      zero, TCB_DEADLINE(s1)
    sd      zero, TCB_TBITS(s1)
.if CONFIG_FASTPATH
    sd      s1, TCB_LASTSRV(s1) # no fast-path hints yet (itself: never taken)
    sd      s1, TCB_PARTNER(s1)
.endif
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    addi    sp, sp, 16
    ret

# task_fault — record why a task stopped, report it, then task_kill it.
# In: a0 = TCB, a1 = cause, a2 = tval, a3 = pc, a4 = TS_FAULTED / TS_EXITED.
    .globl task_fault
task_fault:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    mv      s1, a0
    mv      s2, a4
    sd      a1, TCB_CAUSE(s1)
    sd      a2, TCB_TVAL(s1)
    sd      a3, TCB_EPC(s1)
    la      a0, msg_task
    call    kputs
    ld      a0, TCB_INDEX(s1)
    call    kputhex
    la      a0, msg_cause
    call    kputs
    ld      a0, TCB_CAUSE(s1)
    call    kputhex
    la      a0, msg_tval
    call    kputs
    ld      a0, TCB_TVAL(s1)
    call    kputhex
    la      a0, msg_pc
    call    kputs
    ld      a0, TCB_EPC(s1)
    call    kputhex
    li      a0, '\n'
    call    kputc
    mv      a0, s1
    mv      a1, s2
    li      a2, 1
    call    task_kill
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    addi    sp, sp, 32
    ret

# task_kill — end an incarnation: new generation, callers released.
# In: a0 = TCB, a1 = new state, a2 = 1 to notify the supervisor.
# Every task blocked in CALL on this one (SEND_WAIT or REPLY_WAIT) gets the
# dead code carrying the new generation and becomes READY.
# Clobbers: a0-a7, t0-t4.
    .globl task_kill
task_kill:
    sd      a1, TCB_STATE(a0)
    sd      zero, TCB_DEADLINE(a0)
    ld      t0, TCB_ID(a0)
    srli    t1, t0, ID_GEN_SHIFT
    addi    t1, t1, 1
    li      t2, ID_GEN_MASK
    and     t1, t1, t2          # the generation wraps at 16 bits
    ld      t3, TCB_INDEX(a0)
    slli    t0, t1, ID_GEN_SHIFT
    or      t0, t0, t3
    sd      t0, TCB_ID(a0)
    li      t4, DEAD_BASE
    or      t4, t4, t1          # the dead code callers receive
    la      a3, tcbs
    li      a4, TASK_COUNT
    slli    a4, a4, TCB_SHIFT
    add     a4, a4, a3
1:  bgeu    a3, a4, 3f
.if CONFIG_FASTPATH
    ld      t0, TCB_PARTNER(a3) # a server's fast-path caller dies: forget it
    bne     t0, a0, 5f
    sd      a3, TCB_PARTNER(a3)
5:
.endif
    ld      t0, TCB_STATE(a3)
    addi    t0, t0, -TS_SEND_WAIT
    li      t1, TS_REPLY_WAIT - TS_SEND_WAIT
    bgtu    t0, t1, 2f          # neither SEND_WAIT nor REPLY_WAIT
    ld      t0, TCB_WAIT(a3)
    bne     t0, t3, 2f
    sd      t4, TF_A0(a3)
    sd      zero, TCB_STATE(a3)
2:  addi    a3, a3, TCB_SIZE
    j       1b
3:  beqz    a2, 4f
    li      t0, SUPERVISOR_INDEX
    beq     t0, t3, 4f          # the supervisor is not told about itself
    la      a0, tcbs
    slli    t0, t0, TCB_SHIFT
    add     a0, a0, t0
    li      a1, 1
    slli    a1, a1, NOTIFY_FAULT_BIT
    tail    notify_post
4:  ret

# notify_post — OR bits into a task's notifications; wake it if it waits.
# In: a0 = TCB, a1 = bits.  Clobbers: t0, t1.
# A task in RECV (open or notifications-only) receives every pending bit at
# once: a0 = RECV_NOTIFICATION, a1 = bits, and the pending word is cleared;
# that delivery counts in its TCB_RECEIVED (whoever posted the bits).
    .globl notify_post
notify_post:
    ld      t0, TCB_NOTIF(a0)
    or      t0, t0, a1
    sd      t0, TCB_NOTIF(a0)
    beqz    t0, 1f
    ld      t1, TCB_STATE(a0)
    addi    t1, t1, -TS_RECV_WAIT
    li      t0, TS_NOTIFY_WAIT - TS_RECV_WAIT
    bgtu    t1, t0, 1f
    lw      t1, TCB_RECEIVED(a0)    # 32-bit: counts modulo 2**32
    addi    t1, t1, 1
    sw      t1, TCB_RECEIVED(a0)
    li      t1, RECV_NOTIFICATION
    sd      t1, TF_A0(a0)
    ld      t0, TCB_NOTIF(a0)
    sd      t0, TF_A1(a0)
    sd      zero, TCB_NOTIF(a0)
    sd      zero, TCB_STATE(a0)
1:  ret

# task_stop — the supervisor's TASK_STOP, and TASK_RESTART's first step:
# end the current incarnation if it is still alive (new generation, callers
# released, the supervisor not notified), and leave the task STOPPED.  A task
# already stopped (FAULTED, EXITED, STOPPED) keeps its generation and fault
# record; only its state becomes STOPPED.
# In: a0 = TCB.  Clobbers: a0-a7, t0-t4.
    .globl task_stop
task_stop:
    ld      t0, TCB_STATE(a0)
    li      t1, TS_FAULTED
    li      a1, TS_STOPPED
    bltu    t0, t1, 1f          # alive: task_kill sets the state
    sd      a1, TCB_STATE(a0)   # already stopped: generation already moved on
    ret
1:  li      a2, 0
    tail    task_kill

# task_restart — the supervisor's TASK_RESTART: stop the task (task_stop),
# then start it afresh.
# In: a0 = TCB.  Clobbers: a0-a7, t0-t4.
    .globl task_restart
task_restart:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    mv      s1, a0
    call    task_stop
    mv      a0, s1
    call    task_init
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    addi    sp, sp, 16
    ret

    .section .rodata
msg_task:  .asciz "kernel: task "
msg_cause: .asciz " stopped: cause="
msg_tval:  .asciz " tval="
msg_pc:    .asciz " pc="
