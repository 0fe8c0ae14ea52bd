# libcheck.S — prints, through the kernel LOG, one line per check:
#   hex <fmt_hex> dec <fmt_dec>          for each of `values`
#   word <word_is result>                for each of `words`
#   call <status> <reply a2> <reply a3>  ipc_call to echo, before and after
#   slot <id slot>                       a TASK_RESTART of echo
# then powers off.
    .include "abi.inc"
    .include "manifest.inc"
    .text
    .globl _start
_start:
    la      s0, values
1:  ld      s1, 0(s0)
    li      t0, -1
    beq     s1, t0, 2f          # the table ends with ... -1, -1
    ld      t0, 8(s0)
    beq     s1, t0, 2f
    la      a0, t_hex
    call    out_str
    mv      a0, s1
    call    out_hex
    la      a0, t_dec
    call    out_str
    mv      a0, s1
    call    out_dec
    call    out_nl
    addi    s0, s0, 8
    j       1b
2:  la      s0, words           # (bytes, length, word) triples
3:  ld      a0, 0(s0)
    beqz    a0, 4f
    ld      a1, 8(s0)
    ld      a2, 16(s0)
    call    word_is
    mv      s1, a0
    la      a0, t_word
    call    out_str
    mv      a0, s1
    call    out_dec
    call    out_nl
    addi    s0, s0, 24
    j       3b
4:  call    echo_once
    li      a0, TASK_ECHO
    call    sys_task_restart    # the slot now holds a stale id
    call    echo_once
    la      a0, t_slot
    call    out_str
    la      t0, echo_id
    lwu     a0, 0(t0)
    call    out_hex
    call    out_nl
    li      a0, 0
    call    sys_shutdown

echo_once:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      a0, echo_id
    li      a1, 0
    li      a2, 21
    li      a6, 0
    call    ipc_call
    mv      s1, a2
    mv      s2, a3
    mv      s3, a0
    la      a0, t_call
    call    out_str
    mv      a0, s3
    call    out_hex
    li      a0, ' '
    call    out_char
    mv      a0, s1
    call    out_dec
    li      a0, ' '
    call    out_char
    mv      a0, s2
    call    out_hex
    call    out_nl
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .globl out_sink
out_sink:
    tail    sys_log

    .section .rodata
    .balign 8
values:
    .dword 0, 1, 9, 10, 15, 16, 255, 4096, 123456789, 0x80200000
    .dword 0x7fffffffffffffff, 0xfffffffffffffffe, -1, -1
words:
    .dword w_help, 4, c_help
    .dword w_help, 3, c_help
    .dword w_helpx, 5, c_help
    .dword w_help, 0, c_empty
    .dword w_help, 4, c_hel
    .dword 0, 0, 0
w_help:  .ascii "help"
w_helpx: .ascii "helpx"
c_help:  .asciz "help"
c_hel:   .asciz "hel"
c_empty: .asciz ""
t_hex:   .asciz "hex "
t_dec:   .asciz " dec "
t_word:  .asciz "word "
t_call:  .asciz "call "
t_slot:  .asciz "slot "
    .data
    .balign 4
echo_id: .word TASK_ECHO
