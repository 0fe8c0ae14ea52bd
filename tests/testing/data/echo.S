# A bare-metal program for the board: greet, echo one line in upper case, pass.
    .equ UART0, 0x10000000      # 16550: RBR/THR at 0, LSR at 5
    .equ LSR_DR, 0x01           # a received byte is waiting
    .equ LSR_THRE, 0x20         # the transmitter can take a byte
    .equ FINISHER, 0x100000     # sifive,test: 0x5555 = pass
    .text
    .globl _start
_start:
    la      a0, hello
    call    puts
1:  call    getc                # echo until Enter, in upper case
    li      t0, '\r'
    beq     a0, t0, 2f
    li      t0, '\n'
    beq     a0, t0, 2f
    li      t0, 'a'
    bltu    a0, t0, 3f
    li      t0, 'z'
    bgtu    a0, t0, 3f
    addi    a0, a0, -32
3:  call    putc
    j       1b
2:  la      a0, bye
    call    puts
    li      t0, FINISHER
    li      t1, 0x5555
    sw      t1, 0(t0)
4:  j       4b
putc:
    li      t1, UART0
5:  lbu     t2, 5(t1)
    andi    t2, t2, LSR_THRE
    beqz    t2, 5b
    sb      a0, 0(t1)
    ret
getc:
    li      t1, UART0
6:  lbu     t2, 5(t1)
    andi    t2, t2, LSR_DR
    beqz    t2, 6b
    lbu     a0, 0(t1)
    ret
puts:
    mv      t3, ra
    mv      t4, a0
7:  lbu     a0, 0(t4)
    beqz    a0, 8f
    call    putc
    addi    t4, t4, 1
    j       7b
8:  mv      ra, t3
    ret
    .section .rodata
hello: .asciz "hello, type a line: "
bye:   .asciz "\nbye\n"
