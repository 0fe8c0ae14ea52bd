# server.S — the storage server: mounts the record store on the virtio-blk
# disk, then serves PUT / GET / DEL / LIST (proto.inc) forever.
#
# Every client value is checked before use: an unknown op, a key length
# outside 1..STORE_KEY_MAX, a value length over STORE_VAL_MAX, lengths
# larger than the bytes the caller really sent, a value length with a GET,
# DEL or LIST, a key length with a LIST -> STORE_BAD_REQUEST.  If the disk
# could not be mounted, every valid request gets STORE_IO_ERROR.
# Replies: a2 status, a3 value length (GET) / key count (LIST), a4 a check
# word (proto.inc); GET and LIST data go back through the caller's buffer
# (truncated by the kernel to its length; LIST only sends keys that fit
# whole).
#
# End to end (proto.inc, README.md "Checks"): each handler recomputes the
# request's check word from what it is about to act upon -- its own op,
# the registers the request was copied into, the receive buffer -- just
# before acting, and a client's check word that differs stops the server
# with a real fault (a load from FAIL_REQUEST, log.inc): a server whose
# registers or code went wrong must not carry out a request nobody sent.
# log.S checks the record it writes and its index the same way.
    .include "abi.inc"
    .include "manifest.inc"
    .include "proto.inc"
    .include "log.inc"

# LOGSTR label, len — LOG a string.
.macro LOGSTR label, len
    la      a0, \label
    li      a1, \len
    li      a7, SYS_LOG
    ecall
.endm

    .section .rodata
msg_ready:  .ascii "storage: ready\n"
.equ msg_ready_len, . - msg_ready
msg_broken: .ascii "storage: no usable disk, answering IO_ERROR\n"
.equ msg_broken_len, . - msg_broken


    .text
    .globl _start
_start:
    call    crc_init
    call    log_mount
    la      t0, srv_broken
    sd      a0, 0(t0)
    bnez    a0, 1f
    LOGSTR  msg_ready, msg_ready_len
    j       serve
1:  LOGSTR  msg_broken, msg_broken_len

# s0 the client's check word (0: none), then the one recomputed (VERIFY);
# s1 sender, s2 op, s3 a3 word, s4 a4 word, s5 bytes received, s6 the
# caller's buffer length.  Handlers leave a0 status, a1 reply word, a2 bytes
# of srv_reply to send, s0 the reply's check word.
serve:
    call    blk_take_notes              # bits that came while the disk worked
    beqz    a0, 1f
    call    srv_notes
1:  li      a0, RECVMODE_OPEN
    la      a1, srv_req
    li      a6, STORE_REQ_MAX
    li      a7, SYS_RECV
    ecall
    beqz    a0, 2f
    mv      a0, a1                      # a notification
    call    srv_notes
    j       serve
2:  mv      s1, a1
    mv      s2, a2
    mv      s3, a3
    mv      s4, a4
    mv      s0, a5
    mv      s5, a6
    mv      s6, a7
    li      t0, STORE_OP_PUT
    beq     s2, t0, op_put
    li      t0, STORE_OP_GET
    beq     s2, t0, op_get
    li      t0, STORE_OP_DEL
    beq     s2, t0, op_del
    li      t0, STORE_OP_LIST
    beq     s2, t0, op_list
bad:
    li      a0, STORE_BAD_REQUEST
    li      a1, 0
    li      a2, 0
reply:
    mv      a5, a0
    mv      a3, a1
    mv      a6, a2
    mv      a2, a5
    mv      a4, s0
    li      a5, 0
    mv      a0, s1
    la      a1, srv_reply
    li      a7, SYS_REPLY
    ecall                               # a caller gone meanwhile: nothing to do
    j       serve

# srv_notes(a0 = notification bits) — every notification the server
# receives comes here, whether RECV returned it or the disk wait kept it
# (blk.S): the driver's bits to the driver (blk_note: a disk interrupt
# taken after blk_io had seen its completion is acknowledged, so the
# source is unmasked), the supervisor's to lib/watch.S (a ping is
# answered with a pong; the crash bit faults here, between requests).
# Nothing else asks anything of storage.
srv_notes:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    call    blk_note
    call    watch_bits
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# check_key: 1 <= s3 <= STORE_KEY_MAX and s3 <= s5, else BAD_REQUEST.
.macro CHECK_KEY
    beqz    s3, bad
    li      t0, STORE_KEY_MAX
    bgtu    s3, t0, bad
    bgtu    s3, s5, bad
.endm

# VERIFY op, vlen: the check word of the request this handler is about to
# carry out -- op \op, key length s3, value length \vlen, the bytes in
# srv_req -- must be the client's (s0, unless it sent none); else
# fail-stop.  Leaves it in s0 (the reply echoes it).
.macro VERIFY op, vlen
    li      a0, \op
    la      a1, srv_req
    mv      a2, s3
    add     a3, a1, s3
    mv      a4, \vlen
    call    check_word
    beqz    s0, 9998f
    bne     a0, s0, request_broken
9998:
    mv      s0, a0
.endm

# BROKEN_CHECK: an unmounted store answers IO_ERROR.
.macro BROKEN_CHECK
    la      t0, srv_broken
    ld      t0, 0(t0)
    beqz    t0, 9999f
    li      a0, STORE_IO_ERROR
    li      a1, 0
    li      a2, 0
    j       reply
9999:
.endm

# request_broken: the request's check word is not the client's.
request_broken:
    ld      t0, FAIL_REQUEST(zero)
1:  j       1b                          # (not reached)

op_put:
    CHECK_KEY
    li      t0, STORE_VAL_MAX
    bgtu    s4, t0, bad
    add     t0, s3, s4
    bgtu    t0, s5, bad
    VERIFY  STORE_OP_PUT, s4
    BROKEN_CHECK
    la      a0, srv_req
    mv      a1, s3
    add     a2, a0, s3
    mv      a3, s4
    mv      a4, s0
    call    log_put
    li      a1, 0
    li      a2, 0
    j       reply

# GET: the value goes out with the record's check word, verified against
# the entry's key and the copy in srv_reply that the kernel will send.
op_get:
    CHECK_KEY
    bnez    s4, bad
    VERIFY  STORE_OP_GET, zero
    BROKEN_CHECK
    la      a0, srv_req
    mv      a1, s3
    call    log_find
    beqz    a0, not_found
    mv      s8, a0
    lhu     s7, E_VLEN(a0)
    li      t0, STORE_VAL_MAX           # (entry_verify fails it; the copy
    bgtu    s7, t0, 1f                  # must not run past srv_reply first)
    addi    a1, a0, E_VAL
    la      a0, srv_reply
    mv      a2, s7
    call    mem_copy
1:  mv      a0, s8
    la      a1, srv_reply
    call    entry_verify
    ld      s0, E_CHECK(s8)
    li      a0, STORE_OK
    mv      a1, s7
    mv      a2, s7
    j       reply
not_found:
    call    index_verify                # absent from a sound index only
    li      a0, STORE_NOT_FOUND
    li      a1, 0
    li      a2, 0
    j       reply

op_del:
    CHECK_KEY
    bnez    s4, bad
    VERIFY  STORE_OP_DEL, zero
    BROKEN_CHECK
    la      a0, srv_req
    mv      a1, s3
    mv      a2, s0
    call    log_del
    li      a1, 0
    li      a2, 0
    j       reply

# LIST: keys in index order, each followed by a NUL, while they fit whole
# in the caller's buffer (s6).
op_list:
    bnez    s3, bad
    bnez    s4, bad
    VERIFY  STORE_OP_LIST, zero
    BROKEN_CHECK
    call    index_verify
    la      s7, log_index
    li      s8, STORE_MAX_KEYS
    li      s9, 0                       # bytes out
    li      s10, 0                      # keys out
1:  lbu     t0, E_USED(s7)
    beqz    t0, 2f
    lbu     s11, E_KLEN(s7)
    add     t0, s9, s11
    addi    t0, t0, 1
    bgtu    t0, s6, 3f                  # the caller's buffer is full
    la      a0, srv_reply
    add     a0, a0, s9
    addi    a1, s7, E_KEY
    mv      a2, s11
    call    mem_copy                    # a0 ends just past the key
    sb      zero, 0(a0)
    add     s9, s9, s11
    addi    s9, s9, 1
    addi    s10, s10, 1
2:  addi    s7, s7, ENTRY_SIZE
    addi    s8, s8, -1
    bnez    s8, 1b
3:  li      a0, STORE_OK
    mv      a1, s10
    mv      a2, s9
    j       reply

    .bss
    .balign 16
srv_req:    .zero STORE_REQ_MAX
    .balign 16
srv_reply:  .zero STORE_LIST_MAX
srv_broken: .zero 8
