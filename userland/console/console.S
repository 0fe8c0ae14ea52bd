# console.S — the console server: the UART driver and the terminal line
# editor.  The only task that maps uart0; its receive interrupt arrives as
# notification bit CONSOLE_IRQ_UART0.
#
# Requests (msg.inc): CONS_WRITE prints the bulk bytes at once;
# CONS_READLINE and CONS_READ queue the caller (up to CONS_READERS of them,
# served in order) and are answered later -- READLINE when a whole line has
# been typed, READ as soon as any byte is there (raw: no echo, no editing)
# -- while the console keeps serving WRITEs (and other tasks) meanwhile.  Typed bytes wait in a ring
# until a reader wants them; they are echoed as the line is edited
# (backspace erases, CR or LF ends the line, LF right after CR is skipped).
# Output turns "\n" into "\r\n" for the terminal.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"

# ns16550a registers (byte offsets) and bits, with the datasheet's names.
.equ UART_RBR, 0            # receiver buffer (read)
.equ UART_THR, 0            # transmitter holding (write)
.equ UART_IER, 1            # interrupt enable
.equ UART_FCR, 2            # FIFO control (write)
.equ UART_LSR, 5            # line status
.equ IER_ERBFI, 0x01        # received data available interrupt
.equ FCR_FIFOE, 0x01        # FIFOs on
.equ LSR_DR, 0x01           # data ready
.equ LSR_THRE, 0x20         # transmitter holding register empty

.equ RX_RING, 512           # typed bytes waiting for a reader (power of 2)
.equ RECV_BUF, 256          # a WRITE's bytes land here
.equ ASCII_BS, 0x08
.equ ASCII_DEL, 0x7f
.equ IRQ_BIT, 1 << CONSOLE_IRQ_UART0
.equ RAW_MAX, 256           # most bytes one READ returns

# A waiting reader (RD_*), RD_SIZE bytes each, in `readers`, oldest first.
.equ RD_ID, 0               # its id (the reply goes there)
.equ RD_CAP, 8              # its buffer length
.equ RD_RAW, 16             # 1: READ (raw bytes), 0: READLINE
.equ RD_SIZE, 24

    .text
    .globl _start
_start:
    li      s0, DEV_UART0
    li      t0, FCR_FIFOE
    sb      t0, UART_FCR(s0)
    li      t0, IER_ERBFI
    sb      t0, UART_IER(s0)
    call    rx_drain            # whatever arrived while we were down
    li      a0, IRQ_BIT         # a restart leaves the interrupt masked
    call    sys_irq_ack

# The server loop.  s1 = sender, s2 = op, s3 = bytes received,
# s4 = the sender's buffer length (what a reply may fill).
serve:
    li      a0, RECVMODE_OPEN
    la      a1, recv_buf
    li      a6, RECV_BUF
    call    watch_recv          # lib/watch.S answers the supervisor's bits
    bnez    a0, irq             # RECV_NOTIFICATION
    mv      s1, a1
    mv      s2, a2
    mv      s3, a6
    mv      s4, a7
    li      t0, CONS_WRITE
    beq     s2, t0, op_write
    li      t0, CONS_READLINE
    li      s5, 0               # line mode
    beq     s2, t0, op_read
    li      t0, CONS_READ
    li      s5, 1               # raw mode
    beq     s2, t0, op_read
    li      a2, CONS_BAD_REQUEST
    j       reply_status

op_write:
    la      a0, recv_buf
    mv      a1, s3
    call    uart_write
    li      a2, CONS_OK
reply_status:                   # a2 = status, no bulk
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply           # a caller gone meanwhile is no concern of ours
    j       serve

op_read:                        # queue the reader; s5 = 1 for raw
    la      t0, nreaders
    ld      t1, 0(t0)
    li      t2, CONS_READERS
    bltu    t1, t2, 1f
    li      a2, CONS_BUSY
    j       reply_status
1:  la      t2, readers
    li      t3, RD_SIZE
    mul     t3, t1, t3
    add     t2, t2, t3
    sd      s1, RD_ID(t2)
    sd      s4, RD_CAP(t2)
    sd      s5, RD_RAW(t2)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    call    deliver
    j       serve

irq:
    andi    t0, a1, IRQ_BIT
    beqz    t0, serve
    call    rx_drain
    li      a0, IRQ_BIT
    call    sys_irq_ack
    call    deliver
    j       serve

# rx_drain — move every received byte from the UART into the ring (bytes
# beyond its capacity are dropped).  Clobbers t0..t4.
rx_drain:
    la      t2, rx_head
    ld      t3, 0(t2)           # head: next write
    ld      t4, 8(t2)           # tail: next read
1:  lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_DR
    beqz    t0, 3f
    lbu     t0, UART_RBR(s0)
    sub     t1, t3, t4
    li      a0, RX_RING
    bgeu    t1, a0, 1b          # full: drop
    andi    t1, t3, RX_RING - 1
    la      a0, rx_ring
    add     a0, a0, t1
    sb      t0, 0(a0)
    addi    t3, t3, 1
    j       1b
3:  sd      t3, 0(t2)
    ret

# deliver — while a reader waits and typed bytes are there, edit the line;
# a finished line goes to the first reader.  Clobbers a0..a7, t0..t6.
deliver:
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  la      t0, nreaders
    ld      t0, 0(t0)
    beqz    t0, 9f
    la      t2, rx_head
    ld      t3, 0(t2)
    ld      t4, 8(t2)
    beq     t3, t4, 9f          # nothing typed
    la      t0, readers
    ld      t0, RD_RAW(t0)
    bnez    t0, 7f              # the first reader wants raw bytes
    andi    t1, t4, RX_RING - 1
    la      a0, rx_ring
    add     a0, a0, t1
    lbu     a0, 0(a0)
    addi    t4, t4, 1
    sd      t4, 8(t2)
    la      t5, last_cr
    ld      t6, 0(t5)
    sd      zero, 0(t5)
    li      t1, '\n'
    beq     a0, t1, 2f
    li      t1, '\r'
    beq     a0, t1, 3f
    li      t1, ASCII_DEL
    beq     a0, t1, 4f
    li      t1, ASCII_BS
    beq     a0, t1, 4f
    li      t1, ' '
    bltu    a0, t1, 1b          # other control characters are ignored
    la      t2, line_len
    ld      t3, 0(t2)
    li      t1, CONS_LINE_MAX
    bgeu    t3, t1, 1b          # line full: ignore
    la      t1, line
    add     t1, t1, t3
    sb      a0, 0(t1)
    addi    t3, t3, 1
    sd      t3, 0(t2)
    call    uart_putc           # echo
    j       1b
2:  bnez    t6, 1b              # LF right after CR: already ended the line
    j       5f
3:  li      t1, 1
    sd      t1, 0(t5)
    j       5f
4:  la      t2, line_len        # backspace
    ld      t3, 0(t2)
    beqz    t3, 1b
    addi    t3, t3, -1
    sd      t3, 0(t2)
    la      a0, erase
    li      a1, 3
    call    uart_write
    j       1b
5:  li      a0, '\n'            # the line is done: echo, reply, next reader
    call    uart_putc
    la      t0, readers
    ld      a0, RD_ID(t0)       # the first reader's id
    la      a1, line
    la      t2, line_len
    ld      a6, 0(t2)
    mv      a3, a6
    li      a2, CONS_OK
    sd      zero, 0(t2)
    call    sys_reply           # the kernel copies min(length, its capacity)
    call    pop_reader
    j       1b
7:  la      t0, readers         # raw: what is there, up to the capacity
    ld      t5, RD_CAP(t0)
    li      t1, RAW_MAX
    bleu    t5, t1, 8f
    mv      t5, t1
8:  li      a3, 0               # bytes taken (t3 head, t4 tail)
    la      t6, raw_buf
10: beq     t3, t4, 11f
    bgeu    a3, t5, 11f
    andi    t1, t4, RX_RING - 1
    la      a0, rx_ring
    add     a0, a0, t1
    lbu     a0, 0(a0)
    add     t1, t6, a3
    sb      a0, 0(t1)
    addi    t4, t4, 1
    addi    a3, a3, 1
    j       10b
11: sd      t4, 8(t2)
    la      t0, readers
    ld      a0, RD_ID(t0)
    mv      a1, t6
    mv      a6, a3
    li      a2, CONS_OK
    call    sys_reply
    call    pop_reader
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# pop_reader — drop readers[0], shift the rest down.  Clobbers t0..t3.
pop_reader:
    la      t0, nreaders
    ld      t1, 0(t0)
    addi    t1, t1, -1
    sd      t1, 0(t0)
    li      t0, RD_SIZE
    mul     t1, t1, t0          # bytes to move
    la      t2, readers
1:  beqz    t1, 2f
    lbu     t3, RD_SIZE(t2)
    sb      t3, 0(t2)
    addi    t2, t2, 1
    addi    t1, t1, -1
    j       1b
2:  ret

# uart_write(a0 = bytes, a1 = length) — polled output.  Clobbers a0..a2, t0..t1.
uart_write:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s5, 8(sp)
    sd      s6, 16(sp)
    mv      s5, a0
    add     s6, a0, a1
1:  bgeu    s5, s6, 2f
    lbu     a0, 0(s5)
    call    uart_putc
    addi    s5, s5, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      s5, 8(sp)
    ld      s6, 16(sp)
    addi    sp, sp, 32
    ret

# uart_putc(a0 = byte) — wait for THRE, send; "\n" goes out as "\r\n".
# Clobbers t0, t1, a0.
uart_putc:
    li      t1, '\n'
    bne     a0, t1, 2f
1:  lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_THRE
    beqz    t0, 1b
    li      t0, '\r'
    sb      t0, UART_THR(s0)
2:  lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_THRE
    beqz    t0, 2b
    sb      a0, UART_THR(s0)
    ret

    .section .rodata
erase: .ascii "\b \b"

    .bss
    .balign 8
rx_head:  .zero 8
rx_tail:  .zero 8           # rx_head + 8: rx_drain and deliver rely on it
last_cr:  .zero 8
line_len: .zero 8
nreaders: .zero 8
readers:  .zero RD_SIZE * CONS_READERS
raw_buf:  .zero RAW_MAX
recv_buf: .zero RECV_BUF
line:     .zero CONS_LINE_MAX
rx_ring:  .zero RX_RING
