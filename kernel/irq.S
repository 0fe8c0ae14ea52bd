# irq.S — interrupts: the S-mode timer (through SBI) and the PLIC.
#
# Timer: one SBI timer serves both the time slice (next_tick) and the tasks'
# TIMER deadlines; it is always programmed to the earliest of them.
# PLIC: each source in the manifest belongs to one task and one of its
# notification bits.  On a claim the kernel masks the source (clears its
# enable bit for the S-mode context), completes the claim and posts the
# bit; the source stays masked until the owner's IRQ_ACK.

    .include "abi.inc"
    .include "config.inc"

    .text

# sbi_set_timer — SBI TIME set_timer(a0).  Clobbers a0, a1, a6, a7.
sbi_set_timer:
    li      a6, 0
    li      a7, SBI_EXT_TIME
    ecall
    ret

# timer_start — arm the first time slice.  Called once at boot.
    .globl timer_start
timer_start:
    rdtime  t0
    li      t1, TICK
    add     t0, t0, t1
    la      t1, next_tick
    sd      t0, 0(t1)
    li      t0, SIE_STIE | SIE_SEIE
    csrs    sie, t0
    tail    timer_program

# timer_program — program the SBI timer for the earliest event.
# Clobbers: a0, a1, a6, a7, t0-t2.
    .globl timer_program
timer_program:
    la      t0, next_tick
    ld      a0, 0(t0)
    la      t0, tcbs
    li      t1, TASK_COUNT
    slli    t1, t1, TCB_SHIFT
    add     t1, t1, t0
1:  bgeu    t0, t1, 3f
    ld      t2, TCB_DEADLINE(t0)
    beqz    t2, 2f
    bgeu    t2, a0, 2f
    mv      a0, t2
2:  addi    t0, t0, TCB_SIZE
    j       1b
3:  tail    sbi_set_timer

# timer_handle — the timer fired: post due deadlines, end the slice if due.
# Out: a0 = 1 if the time slice ended (rotate), else 0.
# Preserves s0; clobbers a0-a7, t0-t4.
    .globl timer_handle
timer_handle:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    sd      s3, 24(sp)
    rdtime  s2                  # now
    la      s1, tcbs
1:  li      t0, TASK_COUNT
    slli    t0, t0, TCB_SHIFT
    la      t1, tcbs
    add     t0, t0, t1
    bgeu    s1, t0, 3f
    ld      t2, TCB_DEADLINE(s1)
    beqz    t2, 2f
    bgtu    t2, s2, 2f
    sd      zero, TCB_DEADLINE(s1)
    mv      a0, s1
    ld      a1, TCB_TBITS(s1)
    call    notify_post
2:  addi    s1, s1, TCB_SIZE
    j       1b
3:  li      s3, 0
    la      t0, next_tick
    ld      t1, 0(t0)
    bltu    s2, t1, 4f
    li      s3, 1
    li      t1, TICK
    add     t1, t1, s2
    sd      t1, 0(t0)
4:  call    timer_program
    mv      a0, s3
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    ld      s3, 24(sp)
    addi    sp, sp, 32
    ret

# plic_init — give every routed source priority 1 and enable it for the
# S-mode context, threshold 0.  Called once at boot (physical = virtual).
    .globl plic_init
plic_init:
    la      t0, irq_table
    li      t1, IRQ_COUNT
1:  beqz    t1, 2f
    ld      t2, IRQE_IRQ(t0)
    slli    t3, t2, 2
    li      t4, PLIC_PRIORITY
    add     t3, t3, t4
    li      t4, 1
    sw      t4, 0(t3)
    addi    t0, t0, IRQE_ENTRY_SIZE
    addi    t1, t1, -1
    j       1b
2:  li      t0, PLIC_STHRESHOLD
    sw      zero, 0(t0)
    li      a0, -1
    li      a1, 1               # enable every routed source
    j       irq_set_enable

# irq_set_enable — set (a1 = 1) or clear (a1 = 0) the S-context enable bit
# of every routed source whose owner/bit matches: a0 = -1 matches all; else
# a0 = owner index and a2 = notification bits.  Clobbers: t0-t6.
irq_set_enable:
    la      t0, irq_table
    li      t1, IRQ_COUNT
1:  beqz    t1, 4f
    li      t2, -1
    beq     a0, t2, 2f
    ld      t2, IRQE_OWNER(t0)
    bne     t2, a0, 3f
    ld      t2, IRQE_BIT(t0)
    srl     t2, a2, t2
    andi    t2, t2, 1
    beqz    t2, 3f
2:  ld      t2, IRQE_IRQ(t0)
    srli    t3, t2, 5           # word index of the enable bit
    slli    t3, t3, 2
    li      t4, PLIC_SENABLE
    add     t3, t3, t4
    andi    t2, t2, 31
    li      t4, 1
    sll     t4, t4, t2
    lw      t5, 0(t3)
    or      t6, t5, t4
    bnez    a1, 5f
    not     t4, t4
    and     t6, t5, t4
5:  sw      t6, 0(t3)
3:  addi    t0, t0, IRQE_ENTRY_SIZE
    addi    t1, t1, -1
    j       1b
4:  ret

# irq_unmask_bits — IRQ_ACK: re-enable s0's sources mapped to bits a0.
    .globl irq_unmask_bits
irq_unmask_bits:
    mv      a2, a0
    ld      a0, TCB_INDEX(s0)
    li      a1, 1
    j       irq_set_enable

# irq_held — TASK_STATUS's bit 16: a0 = a task index.  Out: a0 =
# STATUS_IRQ_HELD if some routed source of that task is masked, else 0.
# Only external_handle clears an enable bit (plic_init sets all, IRQ_ACK
# sets the owner's), so a masked source is exactly one delivered and not
# yet acknowledged -- by this incarnation or an earlier one (a restart
# leaves it masked).  Clobbers: t0-t5.
    .globl irq_held
irq_held:
    la      t0, irq_table
    li      t1, IRQ_COUNT
1:  beqz    t1, 3f
    ld      t2, IRQE_OWNER(t0)
    bne     t2, a0, 2f
    ld      t2, IRQE_IRQ(t0)
    srli    t3, t2, 5           # word index of the enable bit
    slli    t3, t3, 2
    li      t4, PLIC_SENABLE
    add     t3, t3, t4
    andi    t2, t2, 31
    lw      t5, 0(t3)
    srl     t5, t5, t2
    andi    t5, t5, 1
    beqz    t5, 4f              # masked: held
2:  addi    t0, t0, IRQE_ENTRY_SIZE
    addi    t1, t1, -1
    j       1b
3:  li      a0, 0
    ret
4:  li      a0, STATUS_IRQ_HELD
    ret

# external_handle — claim every pending source, mask it, complete it, post
# its owner's bit.  Preserves s0; clobbers a0-a7, t0-t6.
    .globl external_handle
external_handle:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s1, 8(sp)
1:  li      t0, PLIC_SCLAIM
    lw      s1, 0(t0)
    beqz    s1, 9f
    la      t0, irq_table       # find the route
    li      t1, IRQ_COUNT
2:  beqz    t1, 4f              # unrouted: complete and leave it enabled
    ld      t2, IRQE_IRQ(t0)
    beq     t2, s1, 3f
    addi    t0, t0, IRQE_ENTRY_SIZE
    addi    t1, t1, -1
    j       2b
3:  ld      a0, IRQE_OWNER(t0)
    ld      t2, IRQE_BIT(t0)
    li      a2, 1
    sll     a2, a2, t2
    li      a1, 0
    addi    sp, sp, -16
    sd      a0, 0(sp)
    sd      a2, 8(sp)
    call    irq_set_enable      # mask until the owner acknowledges
    ld      a0, 0(sp)
    ld      a1, 8(sp)
    addi    sp, sp, 16
    slli    a0, a0, TCB_SHIFT
    la      t0, tcbs
    add     a0, a0, t0
    call    notify_post
4:  li      t0, PLIC_SCLAIM
    sw      s1, 0(t0)           # complete
    j       1b
9:  ld      ra, 0(sp)
    ld      s1, 8(sp)
    addi    sp, sp, 16
    ret

    .bss
    .balign 8
next_tick: .zero 8
