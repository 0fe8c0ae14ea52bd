# rsuper.S — supervisor of restart.toml: says "go" to the victim; on a
# fault notification restarts it and says "go" to the new incarnation; when
# the victim is done prints the number of restarts and powers off.  A
# second fault (the restored code still wrong) is a failure.
# s2 = restarts so far, s3 = the victim's current id.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    li      s2, 0
    li      s3, TASK_VICTIM
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
