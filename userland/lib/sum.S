# sum.S — the line sum: the check the console sends with every line it
# hands over (CONS_READLINE's reply a4, msg.inc), so that a bit flipped in
# a line between the keyboard and its user is seen by the user.
#
# line_sum = (length + sum over i of (i + 1) * byte[i]) mod 2^32.  Position
# weights make a swap of two different bytes change the sum, the length
# term makes a line differ from the same line with NUL bytes added, and it
# can be kept up to date per byte typed (+ (i + 1) * byte + 1) and erased
# (- the same), which is what the console does while a line is edited.
#
# Self-contained: no other library file, no include.

    .text
# line_sum(a0 = buffer, a1 = length) -> a0 = the sum, zero-extended (bits
# 63:32 are 0).  Clobbers t0..t3 (and a0).
    .globl line_sum
line_sum:
    mv      t0, a1              # the sum starts with the length
    li      t1, 0               # i
1:  bgeu    t1, a1, 2f
    add     t2, a0, t1
    lbu     t2, 0(t2)
    addi    t1, t1, 1
    mul     t3, t2, t1          # (i + 1) * byte[i]
    add     t0, t0, t3
    j       1b
2:  slli    a0, t0, 32          # mod 2^32
    srli    a0, a0, 32
    ret
