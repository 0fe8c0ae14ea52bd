# rawreader.S — a console client in raw mode: forever READs up to 8 bytes
# and prints "raw got <bytes>".
    .include "abi.inc"
    .text
    .globl _start
_start:
1:  la      a0, buf
    li      a1, 8
    call    cons_read
    mv      s1, a1
    la      a0, got
    call    cons_puts
    la      a0, buf
    mv      a1, s1
    call    cons_write
    la      a0, nl
    call    cons_puts
    j       1b
    .section .rodata
got: .asciz "raw got "
nl:  .asciz "\n"
    .bss
buf: .zero 8
