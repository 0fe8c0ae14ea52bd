# vtarget.S — task of verify.toml: TASK_VERIFY is the supervisor's alone
# (DENIED, counted); then it tells vsuper it is ready and waits forever.
# vtarget_park is the instruction after that wait's ecall (the one a
# "hot" code fault would hit); vtarget_cold is never executed.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    ARGS    TASK_VSUPER
    SYS     SYS_TASK_VERIFY
    CHECK   a0, ERR_DENIED, vtarget.denied
    ARGS    TASK_VSUPER, 1
    SYS     SYS_NOTIFY
1:  ARGS    RECVMODE_NOTIFICATIONS_ONLY
    SYS     SYS_RECV
    .globl vtarget_park
vtarget_park:
    j       1b
    .globl vtarget_cold
vtarget_cold:
    li      a0, 1
    SYS     SYS_EXIT
    .data
    .globl vtarget_data
vtarget_data:
    .dword  0x5eed
