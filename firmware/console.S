# Septum SBI firmware: the console, polled ns16550a UART0.
#
# Plain routines called with `call` from M-mode code (the SBI handlers and the
# fatal-trap report).  None of them touches the stack or any s-register, so a
# caller only loses the registers each one lists.

    .include "sbi_consts.inc"

    .text
    .globl uart_putc, uart_getc, uart_puts, uart_puthex

# uart_putc: send one byte.
#   Called by: SBI console handlers, uart_puts, uart_puthex.
#   In: a0 = byte (bits 7:0).  Out: nothing.  Clobbers: t0, t1.
uart_putc:
    li      t0, UART0_BASE
1:  lbu     t1, UART_LSR(t0)
    andi    t1, t1, UART_LSR_THRE       # wait until the holding register is free
    beqz    t1, 1b
    sb      a0, UART_THR(t0)
    ret

# uart_getc: take one received byte if there is one; never waits.
#   Called by: legacy getchar and DBCN console_read.
#   In: nothing.  Out: a0 = byte (0..255), or -1 when nothing was received.
#   Clobbers: t0.
uart_getc:
    li      t0, UART0_BASE
    lbu     a0, UART_LSR(t0)
    andi    a0, a0, UART_LSR_DR
    beqz    a0, 1f
    lbu     a0, UART_RBR(t0)
    ret
1:  li      a0, -1
    ret

# uart_puts: send a NUL-terminated string.
#   Called by: the fatal-trap report.
#   In: a0 = address of the string (firmware memory).  Clobbers: a0, t0, t1, t2.
uart_puts:
    li      t0, UART0_BASE
1:  lbu     t2, 0(a0)
    beqz    t2, 3f
2:  lbu     t1, UART_LSR(t0)
    andi    t1, t1, UART_LSR_THRE
    beqz    t1, 2b
    sb      t2, UART_THR(t0)
    addi    a0, a0, 1
    j       1b
3:  ret

# uart_puthex: send a 64-bit value as "0x" and 16 hex digits.
#   Called by: the fatal-trap report.
#   In: a0 = value.  Clobbers: a0, t0, t1, t2, t3, t4.
uart_puthex:
    mv      t3, a0
    li      t0, UART0_BASE
    li      a0, '0'
    jal     t2, 4f
    li      a0, 'x'
    jal     t2, 4f
    li      t1, 60                      # shift of the most significant digit
1:  srl     a0, t3, t1
    andi    a0, a0, 0xf
    addi    a0, a0, '0'
    li      t2, '9'
    ble     a0, t2, 2f
    addi    a0, a0, 'a' - '0' - 10
2:  jal     t2, 4f
    addi    t1, t1, -4
    bgez    t1, 1b
    ret
    # local: send a0, return through t2 (ra belongs to our caller)
4:  lbu     t4, UART_LSR(t0)
    andi    t4, t4, UART_LSR_THRE
    beqz    t4, 4b
    sb      a0, UART_THR(t0)
    jr      t2
