# vsuper.S — supervisor of verify.toml: waits for vtarget's "ready" (bit 0),
# then calls TASK_VERIFY on it forever.  tests/kernel/test_verify.py stops at
# vsuper_verified (just after the ecall) to read a0/a1, and changes
# vtarget's memory in between.  A difference reported is repaired by a
# TASK_RESTART (the next call must then find the code intact again).
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    ARGS    RECVMODE_NOTIFICATIONS_ONLY
    SYS     SYS_RECV
loop:
    ARGS    TASK_VTARGET
    SYS     SYS_TASK_VERIFY
    .globl vsuper_verified
vsuper_verified:
    beqz    a1, loop
    ARGS    TASK_VTARGET
    SYS     SYS_TASK_RESTART
    j       loop
