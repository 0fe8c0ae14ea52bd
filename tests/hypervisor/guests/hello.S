# Hello over the ns16550a UART (polling LSR.THRE), then the sifive test
# finisher ends the run with FINISH (a full 32-bit finisher word, given at
# build time: 0x5555 pass, 0x3333 | code << 16 fail; QEMU looks at the low
# 16 bits for the command and exits with the high 16 bits on FAIL).
    .equ UART0, 0x10000000
    .equ UART_THR, 0
    .equ UART_LSR, 5
    .equ LSR_THRE, 0x20
    .equ FINISHER, 0x100000

    .section .text.start, "ax"
    .globl _start
_start:
    la sp, stack_top
    la a0, msg_hello
    call puts
    li t0, FINISHER
    .ifdef IGNORED
    li t1, IGNORED        # not a finisher command: ignored, the guest goes on
    sw t1, 0(t0)
    .endif
    li t1, FINISH
    sw t1, 0(t0)
1:  j 1b

# puts(a0 = NUL-terminated string): busy-wait on THRE before each byte.
puts:
    li t0, UART0
1:  lbu t1, 0(a0)
    beqz t1, 3f
2:  lbu t2, UART_LSR(t0)
    andi t2, t2, LSR_THRE
    beqz t2, 2b
    sb t1, UART_THR(t0)
    addi a0, a0, 1
    j 1b
3:  ret

    .section .rodata
msg_hello:
    .asciz "hello, world\r\n"

    .bss
    .balign 16
    .space 4096
stack_top:
