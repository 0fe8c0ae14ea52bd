# client.S — calls `middle` for ever, logging "client: answered" after each
# answer (the test counts them).
    .include "abi.inc"
    .include "manifest.inc"
    .text
    .globl _start
_start:
1:  la      a0, middle_id
    li      a1, 0
    li      a2, 1
    li      a6, 0
    call    ipc_call
    la      a0, answered
    li      a1, answered_len
    call    sys_log
    j       1b

    .section .rodata
answered: .ascii "client: answered\n"
.equ answered_len, . - answered
    .data
    .balign 4
middle_id: .word TASK_MIDDLE
