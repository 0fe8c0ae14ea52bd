# The finisher's RESET command (0x7777): the board restarts from the reset
# vector with RAM kept (QEMU's system reset reloads the loaded images but
# does not clear the rest of RAM).  A boot counter far outside the image
# tells the first boot from the second; the second powers off with
# EXIT_CODE.  A device register that reset must clear (UART SCR) is
# printed on both boots.
    .section .text.start, "ax"
    .globl _start
_start:
    j main                          # at 0x8000_0000, where -bios none starts
    .include "common.inc"           # before main: its constants are used there

    .equ COUNTER, 0x87000000
    .equ MAGIC, 0x5e9700
    .equ UART_SCR, 7

main:
    la sp, stack_top
    la a0, msg_boot
    call puts
    li t0, UART0
    lbu a0, UART_SCR(t0)
    call puthex
    la a0, msg_nl
    call puts
    li s0, COUNTER
    ld s1, 0(s0)
    li t0, MAGIC
    beq s1, t0, second
    sd t0, 0(s0)
    li t0, UART0
    li t1, 0x5a
    sb t1, UART_SCR(t0)
    la a0, msg_first
    call puts
    li t0, FINISHER
    li t1, 0x7777
    sw t1, 0(t0)
1:  j 1b
second:
    sd zero, 0(s0)
    la a0, msg_second
    call puts
    li a0, EXIT_CODE
    call finish

    .section .rodata
msg_boot:   .asciz "boot, UART SCR="
msg_first:  .asciz "first boot: reset\r\n"
msg_second: .asciz "second boot\r\n"
msg_nl:     .asciz "\r\n"

    .bss
    .balign 16
    .space 4096
stack_top:
