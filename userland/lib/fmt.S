# fmt.S — strings and numbers: lengths, copies, comparisons, hex and
# decimal formatting.  Leaf routines: they clobber only a0..a5 and t0..t6.

    .text
# str_len(a0 = NUL-terminated string) -> a0 = its length.
    .globl str_len
str_len:
    mv      t0, a0
1:  lbu     t1, 0(t0)
    beqz    t1, 2f
    addi    t0, t0, 1
    j       1b
2:  sub     a0, t0, a0
    ret

# mem_copy(a0 = dst, a1 = src, a2 = n) -> a0 = dst.
    .globl mem_copy
mem_copy:
    mv      t0, a0
1:  beqz    a2, 2f
    lbu     t1, 0(a1)
    sb      t1, 0(t0)
    addi    a1, a1, 1
    addi    t0, t0, 1
    addi    a2, a2, -1
    j       1b
2:  ret

# word_is(a0 = bytes, a1 = their length, a2 = NUL-terminated word)
#   -> a0 = 1 if the bytes are exactly the word, else 0.
    .globl word_is
word_is:
1:  lbu     t1, 0(a2)
    beqz    a1, 2f
    beqz    t1, 3f              # word ended first
    lbu     t0, 0(a0)
    bne     t0, t1, 3f
    addi    a0, a0, 1
    addi    a1, a1, -1
    addi    a2, a2, 1
    j       1b
2:  seqz    a0, t1              # bytes ended: equal if the word did too
    ret
3:  li      a0, 0
    ret

# fmt_hex(a0 = value, a1 = output) -> a0 = bytes written: "0x" and the
# digits without leading zeros (as the kernel prints: 0x0, 0x2a).
    .globl fmt_hex
fmt_hex:
    li      t0, '0'
    sb      t0, 0(a1)
    li      t0, 'x'
    sb      t0, 1(a1)
    addi    t2, a1, 2           # where digits go
    li      t3, 60              # shift of the current nibble
    li      t4, 0               # 1 once a non-zero digit is out
1:  srl     t0, a0, t3
    andi    t0, t0, 15
    or      t4, t4, t0
    bnez    t4, 2f
    bnez    t3, 4f              # skip a leading zero (but not the last)
2:  li      t1, 10
    bltu    t0, t1, 3f
    addi    t0, t0, 'a' - 10 - '0'
3:  addi    t0, t0, '0'
    sb      t0, 0(t2)
    addi    t2, t2, 1
    li      t4, 1
4:  addi    t3, t3, -4
    bgez    t3, 1b
    sub     a0, t2, a1
    ret

# fmt_dec(a0 = unsigned value, a1 = output) -> a0 = bytes written.
    .globl fmt_dec
fmt_dec:
    addi    sp, sp, -32         # the digits, last first
    mv      t2, sp
    li      t1, 10
1:  remu    t0, a0, t1
    divu    a0, a0, t1
    addi    t0, t0, '0'
    sb      t0, 0(t2)
    addi    t2, t2, 1
    bnez    a0, 1b
    mv      t3, a1
2:  addi    t2, t2, -1
    lbu     t0, 0(t2)
    sb      t0, 0(t3)
    addi    t3, t3, 1
    bne     t2, sp, 2b
    sub     a0, t3, a1
    addi    sp, sp, 32
    ret
