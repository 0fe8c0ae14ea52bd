# QEMU's virt starts a -bios none image at the start of DRAM, whatever the
# ELF's e_entry says: this image's entry (_start) prints "E", its first
# instruction prints "A".  Both emulators must print "A".
    .equ UART0, 0x10000000
    .equ FINISHER, 0x100000

    .text
    .globl first
first:
    li t0, UART0
    li t1, 'A'
    sb t1, 0(t0)
    j fin
    .globl _start
_start:
    li t0, UART0
    li t1, 'E'
    sb t1, 0(t0)
fin:
    li t1, '\n'
    sb t1, 0(t0)
    li t0, FINISHER
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
