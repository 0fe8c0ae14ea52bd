# fastpath.S — IPC fast path: CALL and REPLY_RECV with register messages.
#
# fastpath_entry is stvec: it sends every trap but an ecall of CALL or
# REPLY_RECV to trap.S (trap_save_all) at the cost of one saved register.
# The two calls are entered with
#   sp = the current task's TCB, sscratch = its user sp, sepc = the ecall,
#   a0..a7 = its arguments, t0 = 0 (the user's t0 is in TF_T0),
#   ra, gp, tp, s0-s11 = still the user's.
# Each guard falls back to trap_save_all (the complete slow path) when the
# case is not the common one.  The guards only read; state changes start at
# the POINT OF NO RETURN.  The result must be exactly what the slow path
# would produce (kernel/model.py is the judge).  The ABI leaves t0-t6, and
# a6-a7 after CALL, undefined: only what it preserves (ra sp gp tp s0-s11)
# is saved and loaded, and every t register ends holding a kernel value or
# the resumed task's own, never the other task's.
#
# Switching directly to the partner is legal only when the scheduler would
# pick it; the running task is always a most urgent READY one, so
#  - CALL: the server must be strictly more urgent than the caller;
#  - REPLY_RECV: no other READY task may be as urgent as the caller.
# Guards are cheap because the slow path keeps four hints per TCB:
#  - TCB_LASTSRV: a server this task has CALLed that is granted to it and
#    more urgent (both static), so "a0 == its id" is the whole check;
#  - TCB_PARTNER: the caller last delivered to this task while it still
#    waits for our reply (reset by every reply and every kill), else the
#    task itself;
#  - TCB_URGENT: the other tasks at least as urgent (static), plus the two
#    FPW flag bits;
#  - TCB_FPW: written by the scheduler (fp_summary) at every slow exit:
#    the READY tasks other than the running one, a sender is queued
#    somewhere, this task has notifications pending.  Neither fast path
#    changes any of these (each swaps the running task with a task that
#    was not READY), so the word stays exact until the next slow exit.
# Assembled only with CONFIG_FASTPATH (septum build --no-fastpath drops it).

    .include "abi.inc"
    .include "config.inc"

.if CONFIG_FASTPATH
    .text

# SAVE_PRESERVED — the current task's (sp = its TCB) ra gp tp s0-s11.
.macro SAVE_PRESERVED
    sd      ra, TF_RA(sp)
    sd      gp, TF_GP(sp)
    sd      tp, TF_TP(sp)
    sd      s0, TF_S0(sp)
    sd      s1, TF_S1(sp)
    sd      s2, TF_S2(sp)
    sd      s3, TF_S3(sp)
    sd      s4, TF_S4(sp)
    sd      s5, TF_S5(sp)
    sd      s6, TF_S6(sp)
    sd      s7, TF_S7(sp)
    sd      s8, TF_S8(sp)
    sd      s9, TF_S9(sp)
    sd      s10, TF_S10(sp)
    sd      s11, TF_S11(sp)
.endm

# RESUME — enter the task whose TCB is t1 (sscratch already = t1) with
# a0..a7 as they are; only what the ABI preserves is loaded.
.macro RESUME
    ld      t6, TCB_SATP(t1)
    csrw    satp, t6                    # its own ASID: no sfence.vma
    ld      t6, TF_PC(t1)
    csrw    sepc, t6                    # sstatus: SPP = U, SPIE = 1 already
    ld      ra, TF_RA(t1)
    ld      gp, TF_GP(t1)
    ld      tp, TF_TP(t1)
    ld      s0, TF_S0(t1)
    ld      s1, TF_S1(t1)
    ld      s2, TF_S2(t1)
    ld      s3, TF_S3(t1)
    ld      s4, TF_S4(t1)
    ld      s5, TF_S5(t1)
    ld      s6, TF_S6(t1)
    ld      s7, TF_S7(t1)
    ld      s8, TF_S8(t1)
    ld      s9, TF_S9(t1)
    ld      s10, TF_S10(t1)
    ld      s11, TF_S11(t1)
    ld      sp, TF_SP(t1)
    sret
.endm

# fastpath_entry — stvec.  As trap_entry, then the dispatch: in this file,
# so that its branches reach their targets directly.
    .balign 4
    .globl fastpath_entry
fastpath_entry:
    csrrw   sp, sscratch, sp
    beqz    sp, kernel_trap             # sscratch was 0: the trap came from S-mode
    sd      t0, TF_T0(sp)               # t0 is the only scratch the check needs
    csrr    t0, scause
    addi    t0, t0, -CAUSE_ECALL_U
    bnez    t0, 1f                      # not an ecall: every register matters
    beqz    a7, fastpath_call           # SYS_CALL is 0
    addi    t0, a7, -SYS_REPLY_RECV
    beqz    t0, fastpath_reply_recv
1:  ld      t0, TF_T0(sp)
    j       trap_save_all

# CALL (a7 = SYS_CALL = 0): a0 = server id, a2..a5 = words, a6 = 0.
    .globl fastpath_call
fastpath_call:
    bnez    a6, fp_slow                 # guard: no bulk data
    ld      t1, TCB_LASTSRV(sp)         # t1 = server TCB (granted, more urgent)
    ld      t2, TCB_ID(t1)
    bne     t2, a0, fp_slow             # guard: a0 names it, current generation
    ld      t3, TCB_STATE(t1)
    addi    t3, t3, -TS_RECV_WAIT
    bnez    t3, fp_slow                 # guard: it waits in an open RECV
    # ============================================================
    # ==                 POINT OF NO RETURN                     ==
    # ==  from here on the call is delivered; nothing may fail  ==
    # ============================================================
    SAVE_PRESERVED
    csrrw   t5, sscratch, t1            # the caller's sp out, the server's TCB in
    sd      t5, TF_SP(sp)
    csrr    t6, sepc
    addi    t6, t6, 4                   # resume after the ecall
    sd      t6, TF_PC(sp)
    li      t5, TS_REPLY_WAIT
    sd      t5, TCB_STATE(sp)
    ld      t4, TCB_INDEX(t1)
    sd      t4, TCB_WAIT(sp)
    sd      zero, TCB_BUFLEN(sp)        # no buffer (TCB_BUF is then never read)
    sd      zero, TCB_STATE(t1)         # the server: READY, with the message
    sd      sp, TCB_PARTNER(t1)         # ... and may answer with the fast path
    li      t3, 1                       # one message: the caller's SENT and
    addi    t2, sp, TCB_SENT            # the server's RECEIVED (32-bit adds,
    amoadd.w zero, t3, (t2)             # as the slow path's COUNT: modulo 2**32)
    addi    t2, t1, TCB_RECEIVED
    amoadd.w zero, t3, (t2)
    li      a0, RECV_MESSAGE
    ld      a1, TCB_ID(sp)              # sender id; a2..a5 are the words;
    RESUME                              # a6 = 0 copied, a7 = 0 its length

# REPLY_RECV_FAST buffer — the rest of REPLY_RECV once the receive buffer
# is known good: buffer = 0 when there is none (a6 = 0: nothing to clear,
# and TCB_BUF is never read while TCB_BUFLEN is 0), 1 when there is one.
.macro REPLY_RECV_FAST buffer
    ld      t1, TCB_PARTNER(sp)         # t1 = caller TCB, if one waits on us
    beq     t1, sp, fp_slow
    ld      t2, TCB_ID(t1)
    bne     t2, a0, fp_slow             # guard: a0 names it, current generation
    ld      t3, TCB_FPW(sp)
    ld      t4, TCB_URGENT(t1)
    and     t3, t3, t4
    bnez    t3, fp_slow                 # guard: no other READY task as urgent as
                                        # the caller, no queued sender, no
                                        # notification pending for us
    # ============================================================
    # ==                 POINT OF NO RETURN                     ==
    # ==  the reply is delivered and we block in an open RECV   ==
    # ============================================================
    SAVE_PRESERVED
    csrrw   t5, sscratch, t1            # our sp out, the caller's TCB in
    sd      t5, TF_SP(sp)
    csrr    t6, sepc
    addi    t6, t6, 4
    sd      t6, TF_PC(sp)
    li      t5, TS_RECV_WAIT
    sd      t5, TCB_STATE(sp)
.if \buffer
    sd      a1, TCB_BUF(sp)
.endif
    sd      a6, TCB_BUFLEN(sp)
    sd      sp, TCB_PARTNER(sp)         # replied: nobody waits on us now
    sd      zero, TCB_STATE(t1)         # the caller: READY with the reply
    li      a0, ERR_OK
    li      a1, 0                       # no bulk data copied
.if \buffer
    li      a6, 0                       # a6, a7: undefined, but none of ours
.endif
    li      a7, 1                       # one message: our SENT and the
    addi    t2, sp, TCB_SENT            # caller's RECEIVED (32-bit adds)
    amoadd.w zero, a7, (t2)
    addi    t2, t1, TCB_RECEIVED
    amoadd.w zero, a7, (t2)
    RESUME
.endm

# REPLY_RECV: a0 = caller id, a1/a6 = receive buffer, a2..a5 = words.
    .globl fastpath_reply_recv
fastpath_reply_recv:
    bnez    a6, fp_rr_buffer            # guard: the buffer, if any, is writable
    REPLY_RECV_FAST 0

# The receive buffer must lie inside one writable region (as check_buf;
# none fits: the slow path reports it).
fp_rr_buffer:
    ld      t1, TCB_DESC(sp)
    ld      t2, DESC_NREGIONS(t1)
    ld      t1, DESC_REGIONS(t1)
1:  beqz    t2, fp_slow
    ld      t4, REGION_PERM(t1)
    andi    t4, t4, PERM_W
    beqz    t4, 2f
    ld      t4, REGION_BASE(t1)
    ld      t5, REGION_SIZE(t1)
    bltu    a1, t4, 2f
    bgtu    a6, t5, 2f
    sub     t6, a1, t4
    sub     t5, t5, a6
    bleu    t6, t5, 3f
2:  addi    t1, t1, REGION_ENTRY_SIZE
    addi    t2, t2, -1
    j       1b
3:  REPLY_RECV_FAST 1

fp_slow:
    j       trap_save_all

# fp_summary — called by the scheduler before it resumes task a0: store in
# every TCB the word TCB_FPW (see above).  Clobbers t0-t6.
    .globl fp_summary
fp_summary:
    la      t0, tcbs
    li      t1, TASK_COUNT << TCB_SHIFT
    add     t1, t1, t0                  # end of the TCB array
    li      t2, 0                       # the summary
    li      t3, 1                       # bit of the task at t4
    mv      t4, t0
1:  ld      t5, TCB_STATE(t4)
    bnez    t5, 2f
    or      t2, t2, t3                  # READY
    j       3f
2:  addi    t5, t5, -TS_SEND_WAIT
    bnez    t5, 3f
    li      t5, 1
    slli    t5, t5, FPW_SENDER_BIT
    or      t2, t2, t5                  # a sender is queued
3:  slli    t3, t3, 1
    addi    t4, t4, TCB_SIZE
    bltu    t4, t1, 1b
    ld      t3, TCB_INDEX(a0)
    li      t4, 1
    sll     t4, t4, t3
    xor     t2, t2, t4                  # a0 is READY: drop it
4:  ld      t5, TCB_NOTIF(t0)
    snez    t5, t5
    slli    t5, t5, FPW_NOTIFIED_BIT
    or      t5, t5, t2
    sd      t5, TCB_FPW(t0)
    addi    t0, t0, TCB_SIZE
    bltu    t0, t1, 4b
    ret

# fp_init — at boot, after every task_init: TCB_URGENT of each task = the
# other tasks whose priority number is not greater, and both FPW flags.
# Priorities never change (a restart reloads the same one).
# Clobbers a0, t0-t6.
    .globl fp_init
fp_init:
    la      t0, tcbs
    li      t1, TASK_COUNT << TCB_SHIFT
    add     t1, t1, t0
    mv      t2, t0                      # the task being filled in
1:  ld      t3, TCB_PRIO(t2)
    li      t4, 3
    slli    t4, t4, FPW_SENDER_BIT      # FPW_SENDER_BIT and FPW_NOTIFIED_BIT
    li      t5, 1                       # bit of the task at t6
    mv      t6, t0
2:  beq     t6, t2, 3f
    ld      a0, TCB_PRIO(t6)
    bgtu    a0, t3, 3f
    or      t4, t4, t5
3:  slli    t5, t5, 1
    addi    t6, t6, TCB_SIZE
    bltu    t6, t1, 2b
    sd      t4, TCB_URGENT(t2)
    addi    t2, t2, TCB_SIZE
    bltu    t2, t1, 1b
    ret
.endif
