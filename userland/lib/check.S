# check.S — the storage protocol's check word (userland/storage/proto.inc,
# "check words"; userland/storage/README.md), linked by the storage server
# and by its clients (lib/store.S), so that both sides compute it with the
# same code.
#
#   check_word(a0 op, a1 key, a2 klen, a3 val, a4 vlen) -> a0 =
#       (op | klen << 8 | vlen << 16) << 32
#     | (klen + vlen + sum over j < klen of (j + 1) * key[j]
#                    + sum over j < vlen of (klen + j + 1) * val[j]) mod 2^32
#
# The low half is the console's line sum (lib/sum.S: length + sum of
# (i + 1) * byte[i]) of the bytes key ++ val, computed from two places (an
# index entry keeps its key and value apart).  The high half repeats the
# request's shape exactly, so a request carried out with another op or
# length never matches; the positional weights catch any one changed byte
# and any two bytes swapped.  A check word is never 0 (op >= 1).
#
# Leaf function, standard calling convention: clobbers t0..t3 and a0 only
# (a1..a4 are left as they came).
    .text
    .globl check_word
check_word:
    slli    t0, a2, 8                   # the shape: op | klen << 8 | vlen << 16
    or      t0, t0, a0
    slli    t1, a4, 16
    or      t0, t0, t1
    add     t1, a2, a4                  # the sum starts at the length
    li      t2, 0                       # j; the weight is j + 1
1:  bgeu    t2, a2, 2f
    add     t3, a1, t2
    lbu     t3, 0(t3)
    addi    t2, t2, 1
    mul     t3, t3, t2
    add     t1, t1, t3
    j       1b
2:  li      t2, 0                       # the value's weights go on from klen
3:  bgeu    t2, a4, 4f
    add     t3, a3, t2
    lbu     t3, 0(t3)
    addi    t2, t2, 1
    add     a0, t2, a2
    mul     t3, t3, a0
    add     t1, t1, t3
    j       3b
4:  slli    t1, t1, 32                  # mod 2^32
    srli    t1, t1, 32
    slli    t0, t0, 32
    or      a0, t0, t1
    ret
