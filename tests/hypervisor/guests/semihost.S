# RISC-V semihosting from assembly: SYS_WRITE0 and SYS_WRITEC to the
# console, then SYS_EXIT (RV64: a pointer to {reason, subcode}) with
# ADP_Stopped_ApplicationExit and EXIT_CODE, or SYS_EXIT_EXTENDED when
# EXTENDED is 1.  The three-instruction call sequence must not be
# compressed and must sit on one page (.option norvc, .balign 16).
    .equ SYS_WRITEC, 0x03
    .equ SYS_WRITE0, 0x04
    .equ SYS_EXIT, 0x18
    .equ SYS_EXIT_EXTENDED, 0x20
    .equ ADP_STOPPED_APPLICATION_EXIT, 0x20026

    .section .text.start, "ax"
    .globl _start
_start:
    li a0, SYS_WRITE0
    la a1, msg
    call semihost
    la s0, chars
1:  lbu t0, 0(s0)
    beqz t0, 2f
    li a0, SYS_WRITEC
    mv a1, s0
    call semihost
    addi s0, s0, 1
    j 1b
2:  la a1, exit_block
    li t0, ADP_STOPPED_APPLICATION_EXIT
    sd t0, 0(a1)
    li t0, EXIT_CODE
    sd t0, 8(a1)
    li a0, SYS_EXIT
    .if EXTENDED
    li a0, SYS_EXIT_EXTENDED
    .endif
    call semihost
3:  j 3b

    .balign 16
    .option push
    .option norvc
semihost:
    slli zero, zero, 0x1f
    ebreak
    srai zero, zero, 7
    ret
    .option pop

    .section .rodata
msg:
    .asciz "semihosting WRITE0\n"
chars:
    .asciz "WRITEC\n"

    .bss
    .balign 8
exit_block:
    .space 16
