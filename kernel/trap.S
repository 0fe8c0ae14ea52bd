# trap.S — trap entry and exit: the only way into and out of the kernel.
#
# While a task runs, sscratch holds its TCB address (the trap frame is the
# TCB's first 264 bytes, offsets TF_* from kernel/abi.py).  While the kernel
# runs, sscratch is 0, so a trap taken in S-mode (a kernel bug) is recognised
# and reported instead of corrupting a task.  The kernel never enables SIE:
# it is not re-entrant, and interrupts are taken only from U-mode (or polled
# in the idle loop).

    .include "abi.inc"
    .include "config.inc"

    .text
    .balign 4

# trap_entry — stvec (with CONFIG_FASTPATH: fastpath_entry, which comes
# here for everything but CALL and REPLY_RECV).  Entered by the hart on any
# trap from U-mode.
# State on entry: sp = user sp, sscratch = current TCB, scause/sepc/stval set.
# Leaves: every user register saved; s0 = current TCB; sp = kernel stack;
# dispatches on scause.  Never returns (tasks resume through task_return).
    .globl trap_entry
trap_entry:
    csrrw   sp, sscratch, sp
    beqz    sp, kernel_trap     # sscratch was 0: the trap came from S-mode
# trap_save_all — the slow path: save every register.  The fast path's
# guards jump here when one fails (sp = TCB, sscratch = user sp, all user
# registers but t0-t6 intact: the ABI lets a system call clobber those).
    .globl trap_save_all
trap_save_all:
    sd      ra, TF_RA(sp)
    sd      gp, TF_GP(sp)
    sd      tp, TF_TP(sp)
    sd      t0, TF_T0(sp)
    sd      t1, TF_T1(sp)
    sd      t2, TF_T2(sp)
    sd      s0, TF_S0(sp)
    sd      s1, TF_S1(sp)
    sd      a0, TF_A0(sp)
    sd      a1, TF_A1(sp)
    sd      a2, TF_A2(sp)
    sd      a3, TF_A3(sp)
    sd      a4, TF_A4(sp)
    sd      a5, TF_A5(sp)
    sd      a6, TF_A6(sp)
    sd      a7, TF_A7(sp)
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
    sd      t3, TF_T3(sp)
    sd      t4, TF_T4(sp)
    sd      t5, TF_T5(sp)
    sd      t6, TF_T6(sp)
    csrr    t0, sscratch
    sd      t0, TF_SP(sp)       # the user's sp, parked in sscratch above
    csrr    t0, sepc
    sd      t0, TF_PC(sp)
    la      t0, cur_tcb         # the scheduler's "current": the task that
    sd      sp, 0(t0)           # trapped (the fast path switches silently)
    csrw    sscratch, zero      # now in the kernel
    mv      s0, sp
    la      sp, kstack_top
    csrr    t0, scause
    bltz    t0, trap_interrupt  # bit 63: asynchronous
    li      t1, CAUSE_ECALL_U
    bne     t0, t1, trap_fault
    # sepc points at the ecall; the task resumes after it.
    ld      t1, TF_PC(s0)
    addi    t1, t1, 4
    sd      t1, TF_PC(s0)
    j       syscall_dispatch    # a0..a7 still hold the task's arguments

# trap_interrupt — timer or external interrupt taken from U-mode.
# In: s0 = current TCB, t0 = scause.
trap_interrupt:
    slli    t0, t0, 1           # drop the interrupt bit
    srli    t0, t0, 1
    li      t1, IRQ_STI
    bne     t0, t1, 1f
    call    timer_handle        # a0 = 1 when the time slice is over
    bnez    a0, sched_rotate
    j       sched_return
1:  li      t1, IRQ_SEI
    bne     t0, t1, sched_return  # not delegated to us: ignore
    call    external_handle
    j       sched_return

# trap_fault — any other exception from U-mode: the task stops.
# In: s0 = current TCB, t0 = scause.
trap_fault:
    mv      a0, s0
    mv      a1, t0
    csrr    a2, stval
    ld      a3, TF_PC(s0)
    li      a4, TS_FAULTED
    call    task_fault
    j       sched_return

    .globl kernel_trap
# kernel_trap — a trap taken in S-mode: a kernel bug.  Report and power off.
kernel_trap:
    csrrw   sp, sscratch, sp    # back to the kernel stack; sscratch = 0
    la      a0, msg_kpanic
    call    kputs
    csrr    a0, scause
    call    kputhex
    la      a0, msg_sepc
    call    kputs
    csrr    a0, sepc
    call    kputhex
    la      a0, msg_stval
    call    kputs
    csrr    a0, stval
    call    kputhex
    li      a0, '\n'
    call    kputc
    li      a0, 1
    j       kernel_shutdown

# task_return — resume a task in U-mode.
# Called from: the scheduler (j).  In: a0 = TCB of the task to run.
# Installs its address space (its own ASID: no sfence.vma needed, each
# space's ASID is never reused), restores every register, sret.
    .globl task_return
task_return:
    ld      t0, TCB_SATP(a0)
    csrw    satp, t0
    ld      t0, TF_PC(a0)
    csrw    sepc, t0
    li      t0, SSTATUS_SPP
    csrc    sstatus, t0         # sret goes to U-mode
    li      t0, SSTATUS_SPIE
    csrs    sstatus, t0         # with interrupts enabled
    csrw    sscratch, a0
    mv      sp, a0
    ld      ra, TF_RA(sp)
    ld      gp, TF_GP(sp)
    ld      tp, TF_TP(sp)
    ld      t0, TF_T0(sp)
    ld      t1, TF_T1(sp)
    ld      t2, TF_T2(sp)
    ld      s0, TF_S0(sp)
    ld      s1, TF_S1(sp)
    ld      a0, TF_A0(sp)
    ld      a1, TF_A1(sp)
    ld      a2, TF_A2(sp)
    ld      a3, TF_A3(sp)
    ld      a4, TF_A4(sp)
    ld      a5, TF_A5(sp)
    ld      a6, TF_A6(sp)
    ld      a7, TF_A7(sp)
    ld      s2, TF_S2(sp)
    ld      s3, TF_S3(sp)
    ld      s4, TF_S4(sp)
    ld      s5, TF_S5(sp)
    ld      s6, TF_S6(sp)
    ld      s7, TF_S7(sp)
    ld      s8, TF_S8(sp)
    ld      s9, TF_S9(sp)
    ld      s10, TF_S10(sp)
    ld      s11, TF_S11(sp)
    ld      t3, TF_T3(sp)
    ld      t4, TF_T4(sp)
    ld      t5, TF_T5(sp)
    ld      t6, TF_T6(sp)
    ld      sp, TF_SP(sp)
    sret
    .balign 4                   # GNU as pads a section to its alignment: be explicit

    .section .rodata
msg_kpanic: .asciz "kernel panic: scause="
msg_sepc:   .asciz " sepc="
msg_stval:  .asciz " stval="
