# victim.S — task of restart.toml: waits for "go" (notification bit 0 from
# the supervisor), runs the instruction at victim_probe (the one
# tests/kernel/test_restart.py corrupts), checks its result, tells the
# supervisor it is done (bit 0), then waits (the supervisor restarts it
# once for a second round).
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    ARGS    RECVMODE_NOTIFICATIONS_ONLY
    SYS     SYS_RECV
    li      s1, 41
    .globl victim_probe
victim_probe:
    addi    s1, s1, 1
    CHECK   s1, 42, victim.probe
    .globl victim_done
victim_done:
    ARGS    TASK_RSUPER, 1          # generation 0: nobody restarts rsuper
    SYS     SYS_NOTIFY
1:  ARGS    RECVMODE_NOTIFICATIONS_ONLY
    SYS     SYS_RECV
    j       1b
