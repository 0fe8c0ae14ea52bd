# fastpath.S — IPC fast path: CALL and REPLY_RECV with register messages.
#
# Entered from trap_entry before the full register save, with
#   sp = the current task's TCB, sscratch = its user sp, sepc = the ecall,
#   a0..a7 = its arguments, t0 = scratch (the user's t0 is in TF_T0),
#   ra, gp, tp, s0-s11 = still the user's.
# Each guard falls back to trap_save_all (the complete slow path) when the
# case is not the common one.  The guards only read; state changes start at
# the POINT OF NO RETURN.  The result must be exactly what the slow path
# would produce (kernel/model.py is the judge); the ABI leaves t0-t6, and
# a6-a7 after CALL, undefined, which is what makes the partial save legal.
# Switching directly to the partner is legal only when the scheduler would
# pick it: the current task is always the most urgent READY one, so
#  - CALL: the server must be strictly more urgent than the caller;
#  - REPLY_RECV: no other READY task may be as urgent as the caller.
# Assembled only with CONFIG_FASTPATH (septum build --no-fastpath drops it).

    .include "abi.inc"
    .include "config.inc"

.if CONFIG_FASTPATH
    .text

    .globl fastpath_call
fastpath_call:
    bnez    a6, fp_slow                 # guard: no bulk data
    srli    t1, a0, 32
    bnez    t1, fp_slow                 # guard: a clean 32-bit id
    li      t1, ID_INDEX_MASK
    and     t1, a0, t1                  # t1 = server index
    li      t2, TASK_COUNT
    bgeu    t1, t2, fp_slow             # guard: the task exists
    ld      t2, TCB_DESC(sp)
    ld      t2, DESC_CALLS(t2)
    srl     t2, t2, t1
    andi    t2, t2, 1
    beqz    t2, fp_slow                 # guard: the manifest grants the call
    slli    t3, t1, TCB_SHIFT
    la      t2, tcbs
    add     t3, t3, t2                  # t3 = server TCB
    ld      t2, TCB_ID(t3)
    bne     t2, a0, fp_slow             # guard: current generation
    ld      t2, TCB_STATE(t3)
    li      t4, TS_RECV_WAIT
    bne     t2, t4, fp_slow             # guard: the server waits in an open RECV
    ld      t2, TCB_PRIO(t3)
    ld      t4, TCB_PRIO(sp)
    bgeu    t2, t4, fp_slow             # guard: the server is more urgent
    # ============================================================
    # ==                 POINT OF NO RETURN                     ==
    # ==  from here on the call is delivered; nothing may fail  ==
    # ============================================================
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
    csrr    t2, sscratch
    sd      t2, TF_SP(sp)
    csrr    t2, sepc
    addi    t2, t2, 4                   # resume after the ecall
    sd      t2, TF_PC(sp)
    li      t2, TS_REPLY_WAIT
    sd      t2, TCB_STATE(sp)
    sd      t1, TCB_WAIT(sp)
    sd      a1, TCB_BUF(sp)
    sd      zero, TCB_BUFLEN(sp)
    sd      zero, TCB_STATE(t3)         # the server: READY, with the message
    li      a0, RECV_MESSAGE
    ld      a1, TCB_ID(sp)              # sender id; a2..a5 are the words
    li      a6, 0                       # bytes copied
    li      a7, 0                       # the caller's buffer length
    li      t5, 0                       # t5, t6 still hold the caller's values
    li      t6, 0
    j       fp_switch

    .globl fastpath_reply_recv
fastpath_reply_recv:
    beqz    a6, 5f                      # guard: the receive buffer, if any, is
    ld      t1, TCB_DESC(sp)            # inside one writable region (as check_buf;
    ld      t2, DESC_NREGIONS(t1)       # none fits: the slow path reports it)
    ld      t1, DESC_REGIONS(t1)
6:  beqz    t2, fp_slow
    ld      t4, REGION_PERM(t1)
    andi    t4, t4, PERM_W
    beqz    t4, 7f
    ld      t4, REGION_BASE(t1)
    ld      t5, REGION_SIZE(t1)
    bltu    a1, t4, 7f
    bgtu    a6, t5, 7f
    sub     t6, a1, t4
    sub     t5, t5, a6
    bleu    t6, t5, 5f
7:  addi    t1, t1, REGION_ENTRY_SIZE
    addi    t2, t2, -1
    j       6b
5:  srli    t1, a0, 32
    bnez    t1, fp_slow                 # guard: a clean 32-bit id
    li      t1, ID_INDEX_MASK
    and     t1, a0, t1
    li      t2, TASK_COUNT
    bgeu    t1, t2, fp_slow             # guard: the task exists
    slli    t3, t1, TCB_SHIFT
    la      t2, tcbs
    add     t3, t3, t2                  # t3 = caller TCB
    ld      t2, TCB_ID(t3)
    bne     t2, a0, fp_slow             # guard: current generation
    ld      t2, TCB_STATE(t3)
    li      t4, TS_REPLY_WAIT
    bne     t2, t4, fp_slow             # guard: it waits for a reply ...
    ld      t2, TCB_WAIT(t3)
    ld      t4, TCB_INDEX(sp)
    bne     t2, t4, fp_slow             # ... from us
    ld      t2, TCB_NOTIF(sp)
    bnez    t2, fp_slow                 # guard: no notification to deliver
    # guard: no sender waits on us, and the caller will be the only READY
    # task of its priority or better
    ld      t5, TCB_PRIO(t3)
    la      t6, tcbs
    li      t1, TASK_COUNT << TCB_SHIFT
    add     t1, t1, t6
1:  bgeu    t6, t1, 4f
    beq     t6, t3, 3f
    ld      t2, TCB_STATE(t6)
    bnez    t2, 2f
    beq     t6, sp, 3f
    ld      t2, TCB_PRIO(t6)
    bleu    t2, t5, fp_slow             # a READY task as urgent as the caller
    j       3f
2:  addi    t2, t2, -TS_SEND_WAIT
    bnez    t2, 3f
    ld      t2, TCB_WAIT(t6)
    beq     t2, t4, fp_slow             # a sender is queued on us
3:  addi    t6, t6, TCB_SIZE
    j       1b
4:
    # ============================================================
    # ==                 POINT OF NO RETURN                     ==
    # ==  the reply is delivered and we block in an open RECV   ==
    # ============================================================
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
    csrr    t2, sscratch
    sd      t2, TF_SP(sp)
    csrr    t2, sepc
    addi    t2, t2, 4
    sd      t2, TF_PC(sp)
    li      t2, TS_RECV_WAIT
    sd      t2, TCB_STATE(sp)
    sd      a1, TCB_BUF(sp)
    sd      a6, TCB_BUFLEN(sp)
    sd      zero, TCB_STATE(t3)         # the caller: READY with the reply
    li      a0, ERR_OK
    li      a1, 0                       # no bulk data copied
    li      a6, 0
    li      a7, 0
    # fall through

# fp_switch — resume task t3 with a0..a7 as they are: restore what the
# ABI preserves.  t0-t6 then hold only kernel scratch values (both paths
# above overwrite or clear every temporary that held the other task's data).
fp_switch:
    la      t2, cur_tcb
    sd      t3, 0(t2)
    ld      t2, TCB_SATP(t3)
    csrw    satp, t2                    # its own ASID: no sfence.vma
    ld      t2, TF_PC(t3)
    csrw    sepc, t2                    # sstatus: SPP = U, SPIE = 1 already
    csrw    sscratch, t3
    ld      ra, TF_RA(t3)
    ld      sp, TF_SP(t3)
    ld      gp, TF_GP(t3)
    ld      tp, TF_TP(t3)
    ld      s0, TF_S0(t3)
    ld      s1, TF_S1(t3)
    ld      s2, TF_S2(t3)
    ld      s3, TF_S3(t3)
    ld      s4, TF_S4(t3)
    ld      s5, TF_S5(t3)
    ld      s6, TF_S6(t3)
    ld      s7, TF_S7(t3)
    ld      s8, TF_S8(t3)
    ld      s9, TF_S9(t3)
    ld      s10, TF_S10(t3)
    ld      s11, TF_S11(t3)
    sret

fp_slow:
    j       trap_save_all
.endif
