# tsuper.S — the storage tests' supervisor.  A CALL with a2 = 1 restarts
# the storage task (TASK_RESTART: a "crash" from outside), a2 = 2 powers
# off; a fault notification restarts every stopped task and says so.
    .include "abi.inc"
    .include "manifest.inc"
    .section .rodata
restarted: .ascii "tsuper: restarted a stopped task\n"
.equ restarted_len, . - restarted

    .text
    .globl _start
_start:
    li      s1, -1                      # nobody to reply to yet
loop:
    mv      a0, s1
    li      a1, 0
    li      a2, 0
    li      a6, 0
    li      a7, SYS_REPLY_RECV
    ecall
    li      s1, -1
    bnez    a0, faults
    mv      s1, a1
    li      t0, 2
    beq     a2, t0, off
    li      a0, TASK_STORAGE
    li      a7, SYS_TASK_RESTART
    ecall
    j       loop
off:
    li      a0, 0
    li      a7, SYS_SHUTDOWN
    ecall
1:  j       1b
faults:
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, loop
    mv      a0, s2
    li      a7, SYS_TASK_STATUS
    ecall
    andi    a1, a1, STATUS_STATE_MASK   # (a waiting task's peer in bits 15:8)
    li      t0, TS_FAULTED
    bltu    a1, t0, 2f
    mv      a0, s2
    li      a7, SYS_TASK_RESTART
    ecall
    la      a0, restarted
    li      a1, restarted_len
    li      a7, SYS_LOG
    ecall
2:  addi    s2, s2, 1
    j       1b
