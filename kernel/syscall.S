# syscall.S — system call dispatch and the calls that are not IPC.
#
# One dispatch point (a jump table indexed by a7); every handler reads its
# arguments from a0..a6 (still live from the trap) or from the trap frame,
# writes its results into the caller's trap frame, and ends with a jump to
# the scheduler.  Expected failures return codes (kernel/ABI.md); nothing a
# task passes can make the kernel fault.
#
# All handlers: in: s0 = caller's TCB, sp = kernel stack, a0..a7 = the
# caller's registers.  Never return.

    .include "abi.inc"
    .include "config.inc"

    .text

    .globl syscall_dispatch
syscall_dispatch:
    li      t0, SYS_COUNT
    bgeu    a7, t0, sys_bad
    la      t0, syscall_table
    slli    t1, a7, 3
    add     t0, t0, t1
    ld      t0, 0(t0)
    jr      t0

sys_bad:
    li      a0, ERR_BAD_SYSCALL
    j       sys_ret_a0

# Shared exits: store a0 as the caller's status and reschedule.
    .globl sys_ret_a0, sys_ret_ok, sys_deny, sys_bad_task, sys_bad_buffer, sys_bad_arg
sys_ret_ok:
    li      a0, ERR_OK
sys_ret_a0:
    sd      a0, TF_A0(s0)
    j       sched_return
sys_bad_task:
    li      a0, ERR_BAD_TASK
    j       sys_ret_a0
sys_bad_buffer:
    li      a0, ERR_BAD_BUFFER
    j       sys_ret_a0
sys_bad_arg:
    li      a0, ERR_BAD_ARG
    j       sys_ret_a0
# sys_deny — authority refused: count it against the caller.
sys_deny:
    ld      t0, TCB_DENIALS(s0)
    addi    t0, t0, 1
    sd      t0, TCB_DENIALS(s0)
    li      a0, ERR_DENIED
    j       sys_ret_a0

# require_supervisor — fall through (ret) only for the supervisor.
require_supervisor:
    ld      t0, TCB_DESC(s0)
    ld      t0, DESC_FLAGS(t0)
    andi    t0, t0, DF_SUPERVISOR
    beqz    t0, sys_deny
    ret

# YIELD: give the CPU to an equal-priority peer, if any.
sys_yield:
    li      a0, ERR_OK
    sd      a0, TF_A0(s0)
    j       sched_rotate

# EXIT (a0 = code): stop this incarnation; the supervisor is told.
sys_exit:
    mv      a2, a0
    li      a1, CAUSE_EXIT
    ld      a3, TF_PC(s0)
    addi    a3, a3, -4          # the ecall itself
    li      a4, TS_EXITED
    mv      a0, s0
    call    task_fault
    j       sched_return

# LOG (a0 = buffer, a1 = length): print bytes of the caller's memory.
sys_log:
    li      t0, LOG_MAX
    bgtu    a1, t0, sys_bad_arg
    mv      a2, a1
    mv      a1, a0
    mv      a0, s0
    li      a3, PERM_R
    call    check_buf
    bnez    a0, sys_bad_buffer
    ld      a0, TF_A0(s0)
    ld      a1, TF_A1(s0)
    call    klog_user
    j       sys_ret_ok

# SHUTDOWN (a0 = code), supervisor only: power off through SBI SRST.
sys_shutdown:
    call    require_supervisor
    ld      a0, TF_A0(s0)
    snez    a0, a0
    .globl kernel_shutdown
# kernel_shutdown — a0 = 0 for a clean power-off, 1 for a failure.
kernel_shutdown:
    mv      a1, a0              # reason: SBI_SRST_NO_REASON / SBI_SRST_FAILURE
    li      a0, SBI_SRST_SHUTDOWN
    li      a6, 0               # function 0: system_reset
    li      a7, SBI_EXT_SRST
    ecall
1:  wfi                         # the firmware refused: stop here
    j       1b

# TASK_STATUS (a0 = task index), supervisor only.
# Returns a1 = state (| the index waited on << 8 in SEND_WAIT / REPLY_WAIT,
# | STATUS_IRQ_HELD if a source of its is masked awaiting IRQ_ACK),
# a2 = id, a3 = cause, a4 = tval, a5 = pc, a6 = denials,
# a7 = RECEIVED << 32 | SENT (both counters' high halves are always 0).
sys_task_status:
    call    require_supervisor
    ld      a0, TF_A0(s0)
    li      t0, TASK_COUNT
    bgeu    a0, t0, sys_bad_task
    slli    t1, a0, TCB_SHIFT
    la      t0, tcbs
    add     t1, t1, t0
    ld      t0, TCB_STATE(t1)
    addi    t2, t0, -TS_SEND_WAIT   # TCB_WAIT is stale in every other state
    li      t3, TS_REPLY_WAIT - TS_SEND_WAIT
    bgtu    t2, t3, 1f
    ld      t2, TCB_WAIT(t1)    # whom it waits on: the watchdog's unanswered
    slli    t2, t2, STATUS_WAIT_SHIFT   # calls (a task index fits 8 bits)
    or      t0, t0, t2
1:  sd      t0, TF_A1(s0)
    ld      t0, TCB_ID(t1)
    sd      t0, TF_A2(s0)
    ld      t0, TCB_CAUSE(t1)
    sd      t0, TF_A3(s0)
    ld      t0, TCB_TVAL(t1)
    sd      t0, TF_A4(s0)
    ld      t0, TCB_EPC(t1)
    sd      t0, TF_A5(s0)
    ld      t0, TCB_DENIALS(t1)
    sd      t0, TF_A6(s0)
    lwu     t0, TCB_RECEIVED(t1)
    slli    t0, t0, 32
    lwu     t2, TCB_SENT(t1)
    or      t0, t0, t2
    sd      t0, TF_A7(s0)
    ld      a0, TF_A0(s0)       # bit 16: an interrupt awaits its IRQ_ACK
    call    irq_held
    ld      t0, TF_A1(s0)
    or      t0, t0, a0
    sd      t0, TF_A1(s0)
    j       sys_ret_ok

# supervised_target — TASK_RESTART's and TASK_STOP's checks: the caller is
# the supervisor (else sys_deny), a0 (the trap frame's) names another task
# (else sys_bad_task).  Returns s1 = that task's TCB.
supervised_target:
    mv      s2, ra
    call    require_supervisor
    ld      a0, TF_A0(s0)
    li      t0, TASK_COUNT
    bgeu    a0, t0, sys_bad_task
    ld      t0, TCB_INDEX(s0)
    beq     a0, t0, sys_bad_task  # stopping oneself would lose the reply
    slli    t1, a0, TCB_SHIFT
    la      t0, tcbs
    add     s1, t1, t0
    jr      s2

# TASK_RESTART (a0 = task index), supervisor only; returns a1 = new id.
sys_task_restart:
    call    supervised_target
    mv      a0, s1
    call    task_restart
    j       sys_ret_target_id

# TASK_STOP (a0 = task index), supervisor only: the task stays STOPPED until
# a TASK_RESTART; returns a1 = its id (the new generation if it was alive).
sys_task_stop:
    call    supervised_target
    mv      a0, s1
    call    task_stop
sys_ret_target_id:
    ld      t0, TCB_ID(s1)
    sd      t0, TF_A1(s0)
    j       sys_ret_ok

# TASK_VERIFY (a0 = task index), supervisor only: compare the task's code
# region (region 0, the R-X one, starting at the recipe's DATA_DST) with the
# pristine copy.  Returns a1 = 0 if equal, else 1 + the byte offset of the
# first difference.  Only the code: the initial data after it changes
# legitimately.
sys_task_verify:
    call    require_supervisor
    ld      a0, TF_A0(s0)
    li      t0, TASK_COUNT
    bgeu    a0, t0, sys_bad_task
    slli    t1, a0, TCB_SHIFT
    la      t0, tcbs
    add     t1, t1, t0
    ld      t0, TCB_DESC(t1)
    ld      a0, DESC_DATA_DST(t0)
    ld      a1, DESC_DATA_SRC(t0)
    ld      t1, DESC_REGIONS(t0)
    ld      a2, REGION_SIZE(t1)     # the builder lists the code region first
                                    # (whole pages: kcompare16 may pair them)
    call    kcompare16
    sd      a0, TF_A1(s0)
    j       sys_ret_ok

# NOTIFY (a0 = task id, a1 = bits).
sys_notify:
    slli    a0, a0, 32          # ids are 32 bits
    srli    a0, a0, 32
    li      t0, ID_INDEX_MASK
    and     t1, a0, t0
    li      t0, TASK_COUNT
    bgeu    t1, t0, sys_bad_task
    ld      t0, TCB_DESC(s0)
    ld      t0, DESC_NOTIFIES(t0)
    srl     t0, t0, t1
    andi    t0, t0, 1
    beqz    t0, sys_deny
    slli    t1, t1, TCB_SHIFT
    la      t0, tcbs
    add     t1, t1, t0
    ld      t0, TCB_ID(t1)
    bne     a0, t0, sys_dead_t1
    mv      a0, t1
    call    notify_post         # a1 = bits, still the caller's
    lw      t0, TCB_SENT(s0)    # posted: one message sent (32-bit count)
    addi    t0, t0, 1
    sw      t0, TCB_SENT(s0)
    j       sys_ret_ok

# sys_dead_t1 — the id named a past incarnation of the task at t1.
    .globl sys_dead_t1
sys_dead_t1:
    ld      t0, TCB_ID(t1)
    srli    t0, t0, ID_GEN_SHIFT
    li      a0, DEAD_BASE
    or      a0, a0, t0
    j       sys_ret_a0

# TIMER (a0 = deadline in timebase ticks, 0 = none; a1 = bits to post).
# Returns a1 = the current time.
sys_timer:
    sd      a0, TCB_DEADLINE(s0)
    sd      a1, TCB_TBITS(s0)
    rdtime  t0
    sd      t0, TF_A1(s0)
    call    timer_program
    j       sys_ret_ok

# IRQ_ACK (a0 = notification bits): unmask the caller's interrupts mapped to
# those bits.  Bits that name none of its interrupts: ERR_BAD_ARG, no effect.
sys_irq_ack:
    ld      t2, TCB_INDEX(s0)
    la      t3, irq_table
    li      t4, IRQ_COUNT
    li      t5, 0               # the caller's interrupt bits
1:  beqz    t4, 2f
    ld      t0, IRQE_OWNER(t3)
    bne     t0, t2, 3f
    ld      t0, IRQE_BIT(t3)
    li      t1, 1
    sll     t1, t1, t0
    or      t5, t5, t1
3:  addi    t3, t3, IRQE_ENTRY_SIZE
    addi    t4, t4, -1
    j       1b
2:  not     t0, t5
    and     t0, t0, a0
    bnez    t0, sys_bad_arg
    call    irq_unmask_bits     # a0 = bits, s0 = caller
    j       sys_ret_ok

    .section .rodata
    .balign 8
syscall_table:
    .dword  sys_call            # SYS_CALL
    .dword  sys_recv            # SYS_RECV
    .dword  sys_reply           # SYS_REPLY
    .dword  sys_reply_recv      # SYS_REPLY_RECV
    .dword  sys_notify          # SYS_NOTIFY
    .dword  sys_irq_ack         # SYS_IRQ_ACK
    .dword  sys_timer           # SYS_TIMER
    .dword  sys_yield           # SYS_YIELD
    .dword  sys_task_status     # SYS_TASK_STATUS
    .dword  sys_task_restart    # SYS_TASK_RESTART
    .dword  sys_exit            # SYS_EXIT
    .dword  sys_log             # SYS_LOG
    .dword  sys_shutdown        # SYS_SHUTDOWN
    .dword  sys_task_stop       # SYS_TASK_STOP
    .dword  sys_task_verify     # SYS_TASK_VERIFY
    .globl syscall_table, syscall_table_end
syscall_table_end:              # tests/kernel/test_build.py checks the size
