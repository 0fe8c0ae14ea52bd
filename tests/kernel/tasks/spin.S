# spin.S — counts forever and never yields: every SPIN_BATCH iterations it
# tells the supervisor it is alive (NOTIFY, bit = its own index).  Only
# timer preemption can take the CPU from it.
    .include "abi.inc"
    .include "manifest.inc"
.equ SPIN_BATCH, 20000
    .text
    .globl _start
_start:
    li      t0, ID_INDEX_MASK
    and     s1, a0, t0          # a task starts with its id in a0
    li      s2, 1
    sll     s2, s2, s1          # its bit
1:  li      s3, SPIN_BATCH
2:  addi    s3, s3, -1
    bnez    s3, 2b
    li      a0, TASK_SUPER
    mv      a1, s2
    li      a7, SYS_NOTIFY
    ecall
    j       1b
