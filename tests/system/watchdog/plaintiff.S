# plaintiff.S — SUP_COMPLAIN through the supervisor's protocol: about
# `victim`, at once again (it is restarting), about task 99 and about the
# supervisor itself; logs "plaintiff: <op> -> <status digit>" for each,
# then waits for ever.  Built twice: as a task granted `calls =
# ["supervisor"]` (plaintiff) and as one without the grant (outsider,
# which only tries the first complaint: the kernel denies it).
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"
    .text
    .globl _start
_start:
    mv      s0, a0              # our id: who we are
    li      a0, TASK_VICTIM
    call    complain
    li      t0, TASK_PLAINTIFF
    bne     s0, t0, 9f          # the outsider stops here
    li      a0, TASK_VICTIM
    call    complain
    li      a0, 99
    call    complain
    li      a0, SUPERVISOR_TASK
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
