# rsuper.S — supervisor of restart.toml: says "go" to the victim; on a
# fault notification restarts it and says "go" to the new incarnation.  The
# victim runs twice: when it is done the first time, rsuper restarts it
# (alive: the restart stops it first) for a second round; after the second
# it prints the number of fault restarts and powers off.  A second fault
# (the restored code still wrong) is a failure.
# s2 = restarts after a fault, s3 = the victim's current id, s5 = rounds done.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    li      s2, 0
    li      s3, TASK_VICTIM
    li      s5, 0
go: ARGS    0, 1
    mv      a0, s3
    SYS     SYS_NOTIFY
wait:
    ARGS    RECVMODE_NOTIFICATIONS_ONLY
    SYS     SYS_RECV
    mv      s4, a1
    li      t0, 1 << NOTIFY_FAULT_BIT
    and     t0, s4, t0
    bnez    t0, fault
    andi    t0, s4, 1
    beqz    t0, wait
    addi    s5, s5, 1
    li      t0, 2
    bgeu    s5, t0, finish
    ARGS    TASK_VICTIM             # round 2: restart the live victim
    SYS     SYS_TASK_RESTART
    mv      s3, a1
    j       go
finish:
    PUTS    msg_restarts
    PUTHEX  s2
    PUTS    msg_nl
    ARGS    0
    SYS     SYS_SHUTDOWN
1:  j       1b
fault:
    bnez    s2, refault
    addi    s2, s2, 1
    ARGS    TASK_VICTIM
    SYS     SYS_TASK_RESTART
    mv      s3, a1
    j       go
refault:
    PUTS    msg_refault
    ARGS    1
    SYS     SYS_SHUTDOWN
2:  j       2b
    .section .rodata
msg_restarts: .asciz "rsuper: restarts="
msg_refault:  .asciz "FAIL rsuper.refault: the restarted victim faulted again\n"
msg_nl:       .asciz "\n"
