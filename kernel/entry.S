# entry.S — the kernel's first instructions, at KERNEL_BASE (0x8020_0000).
#
# Entered by the SBI firmware (ours or OpenSBI) in S-mode with a0 = hart id
# and a1 = DTB address (unused: the manifest, not the DTB, describes the
# system), paging off, interrupts off.  Sets up the kernel stack and stvec,
# prints the banner, turns on paging (the kernel is mapped identically in
# every task's space), starts every task from the image, routes interrupts,
# arms the timer and enters the scheduler.  Allocates nothing, ever: every
# table is static, sized by the image builder.

    .include "abi.inc"
    .include "config.inc"

    .section .text.entry, "ax"
    .globl _start
_start:
    la      sp, kstack_top
    csrw    sscratch, zero      # in the kernel
.if CONFIG_FASTPATH
    la      t0, fastpath_entry  # CALL and REPLY_RECV are tried first
.else
    la      t0, trap_entry
.endif
    csrw    stvec, t0           # direct mode
    csrw    sie, zero
    la      a0, msg_banner
    call    kputs
    li      a0, TASK_COUNT
    call    kputhex
    la      a0, msg_tasks
    call    kputs
    # Any task's space maps the kernel: use the first one's until the
    # scheduler installs the right one.
    la      t0, task_descs
    ld      t0, DESC_SATP(t0)
    csrw    satp, t0
    sfence.vma
    # Each TCB: its descriptor, index, generation 0; then a fresh start.
    la      s1, tcbs
    la      s2, task_descs
    li      s3, 0
1:  sd      s2, TCB_DESC(s1)
    sd      s3, TCB_INDEX(s1)
    sd      s3, TCB_ID(s1)
    mv      a0, s1
    call    task_init
    addi    s1, s1, TCB_SIZE
    addi    s2, s2, DESC_SIZE
    addi    s3, s3, 1
    li      t0, TASK_COUNT
    bltu    s3, t0, 1b
.if CONFIG_FASTPATH
    call    fp_init
.endif
    call    plic_init
    call    timer_start
    # Enter the scheduler as if returning from the last task: it scans from
    # task 0 on.
    la      t0, cur_tcb
    li      t1, (TASK_COUNT - 1) << TCB_SHIFT
    la      t2, tcbs
    add     t1, t1, t2
    sd      t1, 0(t0)
    la      sp, kstack_top
    j       sched_rotate

    .section .rodata
msg_banner: .asciz "Septum microkernel: "
msg_tasks:  .asciz " tasks\n"

    .bss
    .balign 16
    .globl kstack_top, cur_tcb
kstack: .zero 8192
kstack_top:
cur_tcb: .zero 8
