# rawreader.S — a console client alternating the two reads: READ up to 8
# bytes and print "raw got <bytes>", then READLINE and print "line got
# <line>"; again and again.
    .include "abi.inc"
    .text
    .globl _start
_start:
1:  la      a0, buf
    li      a1, 8
    call    cons_read
    la      a0, raw
    call    report
    la      a0, buf
    li      a1, 64
    call    cons_readline
    la      a0, line
    call    report
    j       1b

# report(a0 = label, a1 = length of buf's bytes) — "<label><bytes>\n".
report:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a1, 8(sp)
    call    cons_puts
    la      a0, buf
    ld      a1, 8(sp)
    call    cons_write
    la      a0, nl
    call    cons_puts
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret
    .section .rodata
raw:  .asciz "raw got "
line: .asciz "line got "
nl:   .asciz "\n"
    .bss
buf: .zero 64
