# uartirq.S — owns UART0 and its interrupt (notification bit UART_IRQ_UART0):
# waits for the interrupt, drains the receiver, echoes what came as
# "got <bytes>", acknowledges, and powers off after 4 bytes.  TASK_STATUS
# on itself reports the source held (a1 bit 16) before each IRQ_ACK, and not
# after the last one.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
.equ UART_RBR, 0
.equ UART_IER, 1
.equ UART_LSR, 5
.equ IER_ERBFI, 1
.equ LSR_DR, 1
    .text
    .globl _start
_start:
    li      s0, DEV_UART0
    li      t0, IER_ERBFI
    sb      t0, UART_IER(s0)    # receive interrupts on
    li      s9, 0               # bytes so far
wait:
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    SYS     SYS_RECV
    SAVE
    CHECK   s1, RECV_NOTIFICATION, irq.notified
    CHECK   s2, 1 << UART_IRQ_UART0, irq.bit
    la      s10, line + 4       # after "got "
drain:
    lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_DR
    beqz    t0, 1f
    lbu     t0, UART_RBR(s0)
    sb      t0, 0(s10)
    addi    s10, s10, 1
    addi    s9, s9, 1
    j       drain
1:  li      t0, '\n'
    sb      t0, 0(s10)
    la      a0, line
    addi    a1, s10, 1
    sub     a1, a1, a0
    SYS     SYS_LOG
    li      a0, TASK_UART       # ourselves: READY, the source held (bit 16)
    SYS     SYS_TASK_STATUS
    CHECK   a1, TS_READY | STATUS_IRQ_HELD, irq.held
    .globl before_ack, after_ack
before_ack:
    li      a0, 1 << UART_IRQ_UART0
    SYS     SYS_IRQ_ACK
after_ack:
    CHECK   a0, ERR_OK, irq.ack
    li      t0, 4
    bltu    s9, t0, wait
    li      a0, TASK_UART       # acknowledged, no byte after: not held
    SYS     SYS_TASK_STATUS     # (earlier, more input may be delivered
    CHECK   a1, TS_READY, irq.unheld    # at once on the unmask)
    li      a0, 1 << 30
    SYS     SYS_IRQ_ACK
    CHECK   a0, ERR_BAD_ARG, irq.ack.notmine
    PUTS    done
    li      a0, 0
    SYS     SYS_SHUTDOWN
2:  j       2b
    .section .rodata
done: .asciz "uart: done\n"
    .data
line: .ascii "got "
      .zero 64
