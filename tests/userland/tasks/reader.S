# reader.S — a console client: says "<id> ready", then forever reads a line
# and prints "<id> got <line>".  The same source is two tasks; each tells
# itself apart by its id (a digit here: tasks 2 and 3).
    .include "abi.inc"
    .text
    .globl _start
_start:
    addi    t0, a0, '0'
    la      t1, tag
    sb      t0, 0(t1)
    la      t1, tag2
    sb      t0, 0(t1)
    la      a0, ready
    call    cons_puts
1:  la      a0, line
    li      a1, 64
    call    cons_readline
    mv      s1, a1
    la      a0, got
    call    cons_puts
    la      a0, line
    mv      a1, s1
    call    cons_write
    la      a0, nl
    call    cons_puts
    j       1b
    .data
ready: .ascii "reader "
tag:   .asciz "? ready\n"
got:   .ascii "reader "
tag2:  .asciz "? got "
nl:    .asciz "\n"
    .bss
line:  .zero 64
