# preempt.S — supervisor of preempt.toml.  Two equal-priority spinners run
# below it.  (1) It sleeps on TIMER deadlines five times and logs how late
# each wake-up was (ticks): spinning tasks must not delay it.  (2) It waits
# until both spinners have reported in ROUNDS times: equal priorities share
# the CPU.  Then it powers off.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
.equ ROUNDS, 3
.equ SLEEP, 30000
.equ TIMER_BIT, 1 << 8
    .text
    .globl _start
_start:
    li      s9, 5
1:  li      a0, 0
    li      a1, 0
    SYS     SYS_TIMER           # a1 = now
    li      t0, SLEEP
    add     s10, a1, t0         # deadline
    mv      a0, s10
    li      a1, TIMER_BIT
    SYS     SYS_TIMER
2:  li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    SYS     SYS_RECV
    li      t0, TIMER_BIT
    and     t0, a1, t0
    beqz    t0, 2b              # a spinner's report: keep sleeping
    li      a0, 0
    li      a1, 0
    SYS     SYS_TIMER
    sub     s11, a1, s10        # lateness in ticks
    PUTS    late
    PUTHEX  s11
    PUTS    nl
    addi    s9, s9, -1
    bnez    s9, 1b
    # (2) count both spinners' reports
    li      s1, 0               # reports from spin_a
    li      s2, 0               # reports from spin_b
3:  li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    SYS     SYS_RECV
    andi    t0, a1, 1 << TASK_SPIN_A
    beqz    t0, 4f
    addi    s1, s1, 1
4:  andi    t0, a1, 1 << TASK_SPIN_B
    beqz    t0, 5f
    addi    s2, s2, 1
5:  li      t0, ROUNDS
    bltu    s1, t0, 3b
    bltu    s2, t0, 3b
    PUTS    shared
    li      a0, 0
    SYS     SYS_SHUTDOWN
6:  j       6b
    .section .rodata
late:   .asciz "late "
nl:     .asciz "\n"
shared: .asciz "ok shared\n"
