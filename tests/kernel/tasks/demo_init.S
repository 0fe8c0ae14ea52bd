# init.S — the minimal supervisor of the bundled system.toml.
#
# Says hello, then waits for the kernel's fault notification (bit 31); for
# every stopped task it prints the task's index and cause and restarts it,
# at most MAX_RESTARTS times in all; then it powers the system off.  The
# real supervisor (restart with back-off, fault log) is userland's issue 5.
    .include "abi.inc"
    .include "manifest.inc"

.equ MAX_RESTARTS, 2

# LOGSTR from, to — LOG the bytes [from, to).
.macro LOGSTR from, to
    la      a0, \from
    la      a1, \to
    sub     a1, a1, a0
    li      a7, SYS_LOG
    ecall
.endm

    .text
    .globl _start
_start:
    LOGSTR  hello, hello_end
    li      s1, 0               # restarts so far
wait:
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    li      a7, SYS_RECV
    ecall
    li      s2, 0               # scan every task
scan:
    li      t0, TASKS_TOTAL
    bgeu    s2, t0, wait
    mv      a0, s2
    li      a7, SYS_TASK_STATUS
    ecall
    andi    a1, a1, STATUS_STATE_MASK   # (a waiting task's peer in bits 15:8)
    li      t0, TS_FAULTED
    bltu    a1, t0, next        # still alive
    mv      s3, a3              # cause
    LOGSTR  stopped, stopped_end
    addi    a0, s2, '0'
    la      t0, digit
    sb      a0, 0(t0)
    LOGSTR  digit, digit_end
    LOGSTR  nl, nl_end
    li      t0, MAX_RESTARTS
    bgeu    s1, t0, done
    addi    s1, s1, 1
    mv      a0, s2
    li      a7, SYS_TASK_RESTART
    ecall
    LOGSTR  restarted, restarted_end
next:
    addi    s2, s2, 1
    j       scan
done:
    LOGSTR  bye, bye_end
    li      a0, 0
    li      a7, SYS_SHUTDOWN
    ecall
1:  j       1b

    .section .rodata
hello:     .ascii "init: system up\n"
hello_end:
stopped:   .ascii "init: task stopped: "
stopped_end:
restarted: .ascii "init: restarted it\n"
restarted_end:
bye:       .ascii "init: giving up, powering off\n"
bye_end:
nl:        .ascii "\n"
nl_end:
    .data
digit:     .byte 0
digit_end:
