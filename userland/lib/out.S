# out.S — a line-buffered output builder over the task's own sink.
#
# out_char/out_str/out_bytes/out_hex/out_dec/out_pad append to a buffer;
# out_flush hands it to `out_sink(a0 = bytes, a1 = length)`, a routine
# every task that links this file defines (the supervisor: the kernel LOG,
# which never blocks on a server; the others: the console server).  The
# buffer flushes itself when full and after every newline is NOT assumed:
# call out_flush.  Clobbers a0..a7, t0..t6 (the sink is a system call).

.equ OUT_SIZE, 240          # below LOG_MAX and the console's receive buffer

    .text
# out_char(a0 = byte)
    .globl out_char
out_char:
    la      t0, out_len
    ld      t1, 0(t0)
    la      t2, out_buf
    add     t2, t2, t1
    sb      a0, 0(t2)
    addi    t1, t1, 1
    sd      t1, 0(t0)
    la      t3, out_col
    addi    t4, a0, -'\n'
    bnez    t4, 1f
    sd      zero, 0(t3)         # a newline: back to column 0
    j       2f
1:  ld      t4, 0(t3)
    addi    t4, t4, 1
    sd      t4, 0(t3)
2:  li      t2, OUT_SIZE
    bgeu    t1, t2, out_flush   # full: tail-call the flush
    ret

# out_flush() — hand the buffer to out_sink and empty it.
    .globl out_flush
out_flush:
    la      t0, out_len
    ld      a1, 0(t0)
    beqz    a1, 1f
    sd      zero, 0(t0)
    la      a0, out_buf
    tail    out_sink
1:  ret

# out_bytes(a0 = bytes, a1 = length)
    .globl out_bytes
out_bytes:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    mv      s0, a0
    add     s1, a0, a1
1:  bgeu    s0, s1, 2f
    lbu     a0, 0(s0)
    call    out_char
    addi    s0, s0, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    addi    sp, sp, 32
    ret

# out_str(a0 = NUL-terminated string)
    .globl out_str
out_str:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    call    str_len
    mv      a1, a0
    ld      a0, 8(sp)
    call    out_bytes
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# out_hex(a0 = value) — "0x..." (fmt_hex)
    .globl out_hex
out_hex:
    la      t5, fmt_hex
    j       1f
# out_dec(a0 = unsigned value)
    .globl out_dec
out_dec:
    la      t5, fmt_dec
1:  addi    sp, sp, -48
    sd      ra, 0(sp)
    addi    a1, sp, 8
    jalr    t5
    mv      a1, a0
    addi    a0, sp, 8
    call    out_bytes
    ld      ra, 0(sp)
    addi    sp, sp, 48
    ret

# out_pad(a0 = column) — spaces up to that column of the current line
# (at least one).
    .globl out_pad
out_pad:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    mv      s0, a0
1:  li      a0, ' '
    call    out_char
    la      t0, out_col
    ld      t0, 0(t0)
    bltu    t0, s0, 1b
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    addi    sp, sp, 16
    ret

# out_nl() — a newline, then flush.
    .globl out_nl
out_nl:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, '\n'
    call    out_char
    ld      ra, 0(sp)
    addi    sp, sp, 16
    tail    out_flush

    .bss
    .balign 8
out_len: .zero 8
out_col: .zero 8
out_buf: .zero OUT_SIZE
