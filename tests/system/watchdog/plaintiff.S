# plaintiff.S — SUP_COMPLAIN through the supervisor's protocol: about
# `victim`, at once again (it is restarting), about task 99 and about the
# supervisor itself, logging "plaintiff: complained -> <status digit>" for
# each; then, a heartbeat later (victim restarted meanwhile), about victim
# once more: the same complaint about a task its last complaint restarted,
# so the supervisor fails the plaintiff instead.  Restarted (generation
# 1), it only waits.  Built twice: as a task granted `calls =
# ["supervisor"]` (plaintiff) and as one without the grant (outsider,
# which only tries the first complaint: the kernel denies it).
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"
    .text
    .globl _start
_start:
    mv      s0, a0              # our id: who we are, which incarnation
    li      t0, TASK_OUTSIDER
    beq     s0, t0, 8f
    li      t0, TASK_PLAINTIFF
    bne     s0, t0, 9f          # the plaintiff restarted: nothing more
    li      a0, TASK_VICTIM
    call    complain
    li      a0, TASK_VICTIM
    call    complain
    li      a0, 99
    call    complain
    li      a0, SUPERVISOR_TASK
    call    complain
    li      a0, 0               # the time: TIMER returns it
    li      a1, 0
    call    sys_timer
    li      t0, WATCH_HEARTBEAT
    add     a0, a1, t0
    li      a1, 1
    call    sys_timer
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    call    sys_recv
8:  li      a0, TASK_VICTIM     # (the plaintiff: stopped in this call)
    call    complain
9:  li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    call    sys_recv
    j       9b

# complain(a0 = task index): CALL the supervisor, log the status (a0 if the
# kernel refused, else the reply's a2) as one digit.
complain:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a3, a0
    li      a0, SUPERVISOR_TASK
    li      a1, 0
    li      a2, SUP_COMPLAIN
    li      a6, 0
    call    sys_call
    beqz    a0, 1f
    mv      a2, a0              # the kernel's status (DENIED)
1:  addi    a2, a2, '0'
    la      t0, digit
    sb      a2, 0(t0)
    la      a0, said
    li      a1, said_len
    call    sys_log
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .data
said:  .ascii "plaintiff: complained -> "
digit: .ascii "?\n"
.equ said_len, . - said
