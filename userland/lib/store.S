# store.S — the client API of the storage server (link it, and
# lib/check.S, into a task that may CALL the task named "storage";
# protocol: userland/storage/proto.inc).
#
#   store_put(a0 key, a1 klen, a2 val, a3 vlen) -> a0 status
#   store_get(a0 key, a1 klen, a2 buf, a3 buflen) -> a0 status, a1 value
#            length (the value is copied into buf, at most buflen bytes),
#            a2 (STORE_OK) the record's check word, verified here: a caller
#            may check its copy of the value with it where it uses it
#   store_del(a0 key, a1 klen) -> a0 status
#   store_list(a0 buf, a1 buflen) -> a0 status, a1 count (buf gets the
#            keys that fit whole, each followed by a NUL; buf must be a
#            writable region of the task)
#   store_put_checked, store_get_checked, store_del_checked: the same with
#            a4 = the check word (lib/check.S) the caller computed for the
#            request from its own copy of the bytes (the shell: in the pass
#            that verifies the typed line); a request built here that does
#            not have it is not sent: STORE_CHANGED.
#
# Status: STORE_OK, NOT_FOUND, FULL, BAD_REQUEST, IO_ERROR (proto.inc), and
# the client's own STORE_BAD_REPLY, STORE_CHANGED.  Lengths outside the
# protocol's limits give BAD_REQUEST without a call.
#
# Every request carries its check word (a5) and every reply is checked: a
# status the protocol does not allow for the op (BAD_REQUEST included: the
# request was built here, well formed), a reply check word that is not the
# request's, or for a GET answered OK one that is not the record's
# (check_word(STORE_OP_PUT, key, klen, value, vlen) of the key asked for
# and the value received).  A reply that fails is a wrong answer: the
# client complains to the supervisor (SUP_COMPLAIN, msg.inc: storage is
# stopped and restarted as if it had faulted), rebuilds the request and
# sends it again, at most STORE_COMPLAINTS times; then STORE_BAD_REPLY.
# If the server restarted (the kernel answers the dead code: a stale id,
# or the server stopped while it held our request -- a failed check
# stops it), the request is rebuilt and sent with the new generation,
# up to STORE_RETRIES times (the CALL to the new id waits for the
# restart); a call the kernel refuses otherwise (DENIED, BAD_BUFFER, ...)
# gives IO_ERROR, or BAD_REQUEST for a bad buffer.  A repeated PUT or DEL
# is harmless: both are idempotent.  A complaint the manifest does not
# allow (no `calls = ["supervisor"]`) is refused by the kernel and changes
# nothing but the retry.
#
# Standard calling convention; uses its own static buffers, so it is not
# reentrant (tasks are single-threaded).  `store_server` (a 32-bit word)
# holds the server's id with its current generation.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"
    .include "../storage/proto.inc"

.equ STORE_RETRIES, 8           # sends after a dead code
.equ STORE_COMPLAINTS, 2        # complaints (and resends) after wrong answers

    .text
# store_req(a0 op, a1 key, a2 klen, a3 val, a4 vlen, a5 the caller's check
# word or 0, a6 LIST's buffer, a7 its length) -> a0 status, a1 the reply's
# a3 word, a2 bytes the reply copied into store_buf (LIST: into a6), a3 the
# reply's check word (when a0 is a server's status).
# s0 op, s1 key, s2 klen, s3 val, s4 vlen, s5 wanted check, s6/s7 LIST's
# buffer, s8 sends left, s9 complaints left, s10 the request's check word.
store_req:
    addi    sp, sp, -128
    sd      ra, 120(sp)
    sd      s0, 112(sp)
    sd      s1, 104(sp)
    sd      s2, 96(sp)
    sd      s3, 88(sp)
    sd      s4, 80(sp)
    sd      s5, 72(sp)
    sd      s6, 64(sp)
    sd      s7, 56(sp)
    sd      s8, 48(sp)
    sd      s9, 40(sp)
    sd      s10, 32(sp)
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
    mv      s3, a3
    mv      s4, a4
    mv      s5, a5
    mv      s6, a6
    mv      s7, a7
    li      s8, STORE_RETRIES
    li      s9, STORE_COMPLAINTS
build:
    # The key into store_key (the GET reply overwrites store_buf, and its
    # check word covers the key asked for), then key ++ value into store_buf:
    # what is sent, and what the check word is computed from.
    la      a0, store_key
    mv      a1, s1
    mv      a2, s2
    call    store_copy
    la      a0, store_buf
    la      a1, store_key
    mv      a2, s2
    call    store_copy
    mv      a1, s3
    mv      a2, s4
    call    store_copy
    mv      a0, s0
    la      a1, store_buf
    mv      a2, s2
    add     a3, a1, s2
    mv      a4, s4
    call    check_word
    mv      s10, a0
    beqz    s5, send
    li      a0, STORE_CHANGED           # not the bytes the caller checked
    li      a1, 0
    li      a2, 0
    bne     s10, s5, 9f
send:
    la      t0, store_server
    lwu     a0, 0(t0)
    la      a1, store_buf
    add     a6, s2, s4                  # PUT, DEL: the request's bytes
    li      t0, STORE_OP_GET
    bne     s0, t0, 1f
    li      a6, STORE_REQ_MAX           # GET: room for the value
1:  li      t0, STORE_OP_LIST
    bne     s0, t0, 2f
    mv      a1, s6                      # LIST: the caller's buffer
    mv      a6, s7
2:  mv      a2, s0
    mv      a3, s2
    mv      a4, s4
    mv      a5, s10
    li      a7, SYS_CALL
    ecall
    bnez    a0, kernel_said
    # The reply: a1 bytes back, a2 status, a3 word, a4 check word.
    li      t0, 8
    bgeu    a2, t0, wrong
    la      t0, store_allowed
    add     t0, t0, s0
    lbu     t0, 0(t0)
    srl     t0, t0, a2
    andi    t0, t0, 1
    beqz    t0, wrong
    li      t0, STORE_OP_GET
    bne     s0, t0, 3f
    bnez    a2, 3f
    # A value: the record's check word, from the key we asked for and the
    # value as it arrived.
    li      t0, STORE_VAL_MAX
    bgtu    a3, t0, wrong
    bne     a1, a3, wrong               # all of it came (store_buf holds 288)
    sd      a3, 8(sp)
    sd      a4, 16(sp)
    li      a0, STORE_OP_PUT
    la      a1, store_key
    mv      a2, s2
    la      a3, store_buf
    ld      a4, 8(sp)
    call    check_word
    ld      t0, 16(sp)
    bne     a0, t0, wrong
    li      a0, STORE_OK
    ld      a1, 8(sp)
    mv      a2, a1
    ld      a3, 16(sp)                  # the record's check word
    j       9f
3:  bne     a4, s10, wrong              # the request the server carried out
    mv      t0, a1
    mv      a0, a2
    mv      a1, a3
    mv      a2, t0
    mv      a3, a4
    j       9f
wrong:
    li      a0, STORE_BAD_REPLY
    li      a1, 0
    li      a2, 0
    li      t0, STORE_COMPLAINTS        # a count out of its range is spent
    bgtu    s9, t0, 9f                  # (complaints get a server given up on)
    beqz    s9, 9f
    addi    s9, s9, -1
    li      a0, SUPERVISOR_TASK         # the supervisor never restarts:
    li      a1, 0                       # generation 0 is its id for ever
    li      a2, SUP_COMPLAIN
    li      a3, TASK_STORAGE
    li      a4, 0
    li      a5, 0
    li      a6, 0
    li      a7, SYS_CALL
    ecall                               # whatever it says, we try again
    j       build
kernel_said:
    # The dead code: bits 31:16 all ones, 15:0 the generation to use
    # (bits 63:32 ignored, as the kernel ignores them in ids).
    slli    t0, a0, 32
    srli    t0, t0, 32 + ID_GEN_SHIFT
    li      t1, DEAD_BASE >> ID_GEN_SHIFT
    bne     t0, t1, 4f
    li      t1, ID_GEN_MASK
    and     t0, a0, t1
    slli    t0, t0, ID_GEN_SHIFT
    ori     t0, t0, TASK_STORAGE
    la      t1, store_server
    sw      t0, 0(t1)
    addi    s8, s8, -1
    bnez    s8, build
    li      a0, STORE_IO_ERROR
    j       8f
4:  li      t0, ERR_BAD_BUFFER
    mv      t1, a0
    li      a0, STORE_IO_ERROR
    bne     t1, t0, 8f
    li      a0, STORE_BAD_REQUEST
8:  li      a1, 0
    li      a2, 0
9:  ld      s10, 32(sp)
    ld      s9, 40(sp)
    ld      s8, 48(sp)
    ld      s7, 56(sp)
    ld      s6, 64(sp)
    ld      s5, 72(sp)
    ld      s4, 80(sp)
    ld      s3, 88(sp)
    ld      s2, 96(sp)
    ld      s1, 104(sp)
    ld      s0, 112(sp)
    ld      ra, 120(sp)
    addi    sp, sp, 128
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

# KEYOK bad: to `bad` unless 1 <= a1 (klen) <= STORE_KEY_MAX.  Clobbers t0.
.macro KEYOK bad
    beqz    a1, \bad
    li      t0, STORE_KEY_MAX
    bgtu    a1, t0, \bad
.endm

    .globl store_put, store_put_checked
store_put:
    li      a4, 0
store_put_checked:
    KEYOK   8f
    li      t1, STORE_VAL_MAX
    bgtu    a3, t1, 8f
    mv      a5, a4                      # store_req(op, key, klen, val, vlen, check)
    mv      a4, a3
    mv      a3, a2
    mv      a2, a1
    mv      a1, a0
    li      a0, STORE_OP_PUT
    tail    store_req
8:  li      a0, STORE_BAD_REQUEST
    ret

    .globl store_get, store_get_checked
store_get:
    li      a4, 0
store_get_checked:
    KEYOK   8f
    addi    sp, sp, -32
    sd      ra, 24(sp)
    sd      s0, 16(sp)
    sd      s1, 8(sp)
    mv      s0, a2                      # the caller's buffer and its length
    mv      s1, a3
    mv      a5, a4
    mv      a2, a1
    mv      a1, a0
    li      a0, STORE_OP_GET
    li      a3, 0
    li      a4, 0
    call    store_req
    bnez    a0, 9f
    sd      a3, 0(sp)                   # the record's check word
    mv      a3, a1                      # the value length
    bleu    a2, s1, 1f                  # copy min(received, buflen)
    mv      a2, s1
1:  mv      a0, s0
    la      a1, store_buf
    call    store_copy                  # (a3 survives)
    li      a0, STORE_OK
    mv      a1, a3
    ld      a2, 0(sp)
9:  ld      s1, 8(sp)
    ld      s0, 16(sp)
    ld      ra, 24(sp)
    addi    sp, sp, 32
    ret
8:  li      a0, STORE_BAD_REQUEST
    li      a1, 0
    ret

    .globl store_del, store_del_checked
store_del:
    li      a4, 0
store_del_checked:
    KEYOK   8f
    mv      a5, a4
    mv      a2, a1
    mv      a1, a0
    li      a0, STORE_OP_DEL
    li      a3, 0
    li      a4, 0
    tail    store_req
8:  li      a0, STORE_BAD_REQUEST
    ret

    .globl store_list
store_list:
    mv      a7, a1
    mv      a6, a0
    li      a0, STORE_OP_LIST
    li      a1, 0
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    tail    store_req

    .section .rodata
# Bit s of byte op: status s is an answer the protocol allows to op.
store_allowed:
    .byte 0                                                         # (no op 0)
    .byte 1 << STORE_OK | 1 << STORE_FULL | 1 << STORE_IO_ERROR      # PUT
    .byte 1 << STORE_OK | 1 << STORE_NOT_FOUND | 1 << STORE_IO_ERROR # GET
    .byte 1 << STORE_OK | 1 << STORE_NOT_FOUND | 1 << STORE_IO_ERROR # DEL
    .byte 1 << STORE_OK | 1 << STORE_IO_ERROR                        # LIST

    .data
    .balign 4
    .globl store_server
store_server: .word TASK_STORAGE        # its id; the generation follows restarts
    .bss
    .balign 8
store_buf:  .zero STORE_REQ_MAX
store_key:  .zero STORE_KEY_MAX
