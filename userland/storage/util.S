# util.S — byte helpers and CRC-32 for the storage server (leaf functions,
# standard calling convention, t-registers only).
#
#   mem_copy(a0 dst, a1 src, a2 n) -> a0  copies n bytes (no overlap);
#                                         a0 = dst + n
#   mem_zero(a0 dst, a1 n)                zeroes n bytes (by doublewords
#                                         when dst and n are multiples of 8)
#   mem_eq(a0 p, a1 q, a2 n) -> a0        1 if the n bytes are equal
#   crc_init()                            fills the 256-entry table
#   crc32(a0 p, a1 n) -> a0               CRC-32 (IEEE 802.3, reflected
#                                          0xEDB88320, init and final
#                                          xor 0xFFFFFFFF: zlib's crc32)
    .text
    .globl mem_copy, mem_zero, mem_eq, crc_init, crc32
mem_copy:
    beqz    a2, 2f
1:  lbu     t0, 0(a1)
    sb      t0, 0(a0)
    addi    a0, a0, 1
    addi    a1, a1, 1
    addi    a2, a2, -1
    bnez    a2, 1b
2:  ret

mem_zero:
    beqz    a1, 2f
    # Doublewords when dst and n allow (every sector buffer does): a record
    # append zeroes 512 bytes, which cost ~2,000 instructions byte by byte.
    or      t0, a0, a1
    andi    t0, t0, 7
    bnez    t0, 3f
1:  sd      zero, 0(a0)
    addi    a0, a0, 8
    addi    a1, a1, -8
    bnez    a1, 1b
2:  ret
3:  sb      zero, 0(a0)
    addi    a0, a0, 1
    addi    a1, a1, -1
    bnez    a1, 3b
    ret

mem_eq:
    beqz    a2, 2f
1:  lbu     t0, 0(a0)
    lbu     t1, 0(a1)
    bne     t0, t1, 3f
    addi    a0, a0, 1
    addi    a1, a1, 1
    addi    a2, a2, -1
    bnez    a2, 1b
2:  li      a0, 1
    ret
3:  li      a0, 0
    ret

.equ CRC32_POLY, 0xedb88320
crc_init:
    la      t0, crc_table
    li      t1, 0                       # i
    li      t4, CRC32_POLY
1:  mv      t2, t1                      # c
    li      t3, 8
2:  andi    t5, t2, 1
    srli    t2, t2, 1
    beqz    t5, 3f
    xor     t2, t2, t4
3:  addi    t3, t3, -1
    bnez    t3, 2b
    sw      t2, 0(t0)
    addi    t0, t0, 4
    addi    t1, t1, 1
    li      t5, 256
    bltu    t1, t5, 1b
    ret

crc32:
    la      t0, crc_table
    li      t3, 0xffffffff
    mv      t1, t3                      # c, kept zero-extended
    beqz    a1, 2f
1:  lbu     t2, 0(a0)
    xor     t2, t2, t1
    andi    t2, t2, 0xff
    slli    t2, t2, 2
    add     t2, t2, t0
    lwu     t2, 0(t2)
    srli    t1, t1, 8
    xor     t1, t1, t2
    addi    a0, a0, 1
    addi    a1, a1, -1
    bnez    a1, 1b
2:  xor     a0, t1, t3
    ret

    .bss
    .balign 4
crc_table: .zero 256 * 4
