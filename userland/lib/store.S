# store.S — the client API of the storage server (link it into a task that
# may CALL the task named "storage"; protocol: userland/storage/proto.inc).
#
#   store_put(a0 key, a1 klen, a2 val, a3 vlen) -> a0 status
#   store_get(a0 key, a1 klen, a2 buf, a3 buflen) -> a0 status, a1 value
#            length (the value is copied into buf, at most buflen bytes)
#   store_del(a0 key, a1 klen) -> a0 status
#   store_list(a0 buf, a1 buflen) -> a0 status, a1 count (buf gets the
#            keys that fit whole, each followed by a NUL; buf must be a
#            writable region of the task)
#
# Status: STORE_OK, NOT_FOUND, FULL, BAD_REQUEST, IO_ERROR (proto.inc).
# Lengths outside the protocol's limits give BAD_REQUEST without a call.
# If the server restarted (the kernel answers the dead code), the call is
# retried with the new generation, up to STORE_RETRIES times; a call the
# kernel refuses otherwise (DENIED, BAD_BUFFER, ...) gives IO_ERROR, or
# BAD_REQUEST for a bad buffer.  A retried PUT or DEL is harmless: both are
# idempotent.  Standard calling convention; uses its own static buffer, so
# it is not reentrant (tasks are single-threaded).  `store_server` (a
# 32-bit word) holds the server's id with its current generation.
    .include "abi.inc"
    .include "manifest.inc"
    .include "../storage/proto.inc"

.equ STORE_RETRIES, 8

    .text
# store_call(a1 buf, a2 op, a3, a4, a6 len) -> a0 status (store code),
# a1 reply a3, a2 bytes copied back.
store_call:
    addi    sp, sp, -64
    sd      ra, 56(sp)
    sd      s0, 48(sp)
    sd      s1, 40(sp)
    sd      s2, 32(sp)
    sd      s3, 24(sp)
    sd      s4, 16(sp)
    sd      s5, 8(sp)
    mv      s0, a1
    mv      s1, a2
    mv      s2, a3
    mv      s3, a4
    mv      s4, a6
    li      s5, STORE_RETRIES
1:  la      t0, store_server
    lwu     a0, 0(t0)
    mv      a1, s0
    mv      a2, s1
    mv      a3, s2
    mv      a4, s3
    li      a5, 0
    mv      a6, s4
    li      a7, SYS_CALL
    ecall
    beqz    a0, 4f
    # The dead code: bits 31:16 all ones, 15:0 the generation to use
    # (bits 63:32 ignored, as the kernel ignores them in ids).
    slli    t0, a0, 32
    srli    t0, t0, 32 + ID_GEN_SHIFT
    li      t1, DEAD_BASE >> ID_GEN_SHIFT
    bne     t0, t1, 3f
    li      t1, ID_GEN_MASK
    and     t0, a0, t1
    slli    t0, t0, ID_GEN_SHIFT
    ori     t0, t0, TASK_STORAGE
    la      t1, store_server
    sw      t0, 0(t1)
    addi    s5, s5, -1
    bnez    s5, 1b
    li      a0, STORE_IO_ERROR
    j       9f
3:  li      t0, ERR_BAD_BUFFER
    mv      t1, a0
    li      a0, STORE_IO_ERROR
    bne     t1, t0, 9f
    li      a0, STORE_BAD_REQUEST
    j       9f
4:  mv      t0, a1
    mv      a0, a2
    mv      a1, a3
    mv      a2, t0
9:  ld      s5, 8(sp)
    ld      s4, 16(sp)
    ld      s3, 24(sp)
    ld      s2, 32(sp)
    ld      s1, 40(sp)
    ld      s0, 48(sp)
    ld      ra, 56(sp)
    addi    sp, sp, 64
    ret

# store_copy(a0 dst, a1 src, a2 n) — bytes; a0 ends past the copy.
store_copy:
    beqz    a2, 2f
1:  lbu     t0, 0(a1)
    sb      t0, 0(a0)
    addi    a0, a0, 1
    addi    a1, a1, 1
    addi    a2, a2, -1
    bnez    a2, 1b
2:  ret

# store_keyok(a1 klen) -> t0 = 0 if 1 <= klen <= STORE_KEY_MAX
store_keyok:
    li      t0, 1
    beqz    a1, 1f
    li      t1, STORE_KEY_MAX
    bgtu    a1, t1, 1f
    li      t0, 0
1:  ret

    .globl store_put
store_put:
    addi    sp, sp, -32
    sd      ra, 24(sp)
    sd      s0, 16(sp)
    sd      s1, 8(sp)
    sd      s2, 0(sp)
    call    store_keyok
    bnez    t0, 8f
    li      t1, STORE_VAL_MAX
    bgtu    a3, t1, 8f
    mv      s0, a1
    mv      s1, a2
    mv      s2, a3
    mv      a2, a1                      # key into the buffer
    mv      a1, a0
    la      a0, store_buf
    call    store_copy
    mv      a1, s1                      # then the value
    mv      a2, s2
    call    store_copy
    la      a1, store_buf
    li      a2, STORE_OP_PUT
    mv      a3, s0
    mv      a4, s2
    add     a6, s0, s2
    call    store_call
    j       9f
8:  li      a0, STORE_BAD_REQUEST
9:  ld      s2, 0(sp)
    ld      s1, 8(sp)
    ld      s0, 16(sp)
    ld      ra, 24(sp)
    addi    sp, sp, 32
    ret

    .globl store_get
store_get:
    addi    sp, sp, -32
    sd      ra, 24(sp)
    sd      s0, 16(sp)
    sd      s1, 8(sp)
    sd      s2, 0(sp)
    call    store_keyok
    bnez    t0, 8f
    mv      s0, a1
    mv      s1, a2
    mv      s2, a3
    mv      a2, a1
    mv      a1, a0
    la      a0, store_buf
    call    store_copy
    la      a1, store_buf
    li      a2, STORE_OP_GET
    mv      a3, s0
    li      a4, 0
    li      a6, STORE_REQ_MAX
    call    store_call
    bnez    a0, 9f
    mv      s0, a1                      # the value length
    bleu    a2, s2, 1f                  # copy min(received, buflen)
    mv      a2, s2
1:  mv      a0, s1
    la      a1, store_buf
    call    store_copy
    li      a0, STORE_OK
    mv      a1, s0
    j       9f
8:  li      a0, STORE_BAD_REQUEST
    li      a1, 0
9:  ld      s2, 0(sp)
    ld      s1, 8(sp)
    ld      s0, 16(sp)
    ld      ra, 24(sp)
    addi    sp, sp, 32
    ret

    .globl store_del
store_del:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    sd      s0, 0(sp)
    call    store_keyok
    bnez    t0, 8f
    mv      s0, a1
    mv      a2, a1
    mv      a1, a0
    la      a0, store_buf
    call    store_copy
    la      a1, store_buf
    li      a2, STORE_OP_DEL
    mv      a3, s0
    li      a4, 0
    mv      a6, s0
    call    store_call
    j       9f
8:  li      a0, STORE_BAD_REQUEST
9:  ld      s0, 0(sp)
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

    .globl store_list
store_list:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    mv      a6, a1
    mv      a1, a0
    li      a2, STORE_OP_LIST
    li      a3, 0
    li      a4, 0
    call    store_call
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

    .data
    .balign 4
    .globl store_server
store_server: .word TASK_STORAGE        # its id; the generation follows restarts
    .bss
    .balign 8
store_buf:  .zero STORE_REQ_MAX
