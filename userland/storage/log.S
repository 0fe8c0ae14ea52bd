# log.S — the crash-consistent record store: two log halves, two
# superblock copies, an in-memory index rebuilt by replay.
# The on-disk format and the crash-consistency argument: README.md.
#
# Public (standard calling convention):
#   log_mount() -> a0 = 0 ready, else the disk is unusable
#   log_put(a0 key, a1 klen, a2 val, a3 vlen, a4 check) -> a0 STORE_OK /
#       FULL / IO_ERROR
#   log_del(a0 key, a1 klen, a2 check) -> a0 STORE_OK / NOT_FOUND / IO_ERROR
#   log_find(a0 key, a1 klen) -> a0 index entry (0: none)
#   index_verify() -- every index entry against its check word
#   entry_verify(a0 entry, a1 value) -- one used entry, its value read from
#       a1 (the copy about to be sent)
#   log_index: STORE_MAX_KEYS entries of ENTRY_SIZE bytes (E_* offsets)
# Lengths are the caller's to validate (server.S does); `check` is the
# request's check word as server.S verified it (lib/check.S).
#
# Self-checks (fail-stop: a load from a FAIL_* address of log.inc, so the
# kernel stops the task and the supervisor restarts it; the restart
# rebuilds the index from the disk):
# - a record about to be written (PUT, DEL) must have the request's check
#   word, recomputed from the sector buffer that goes to the disk
#   (FAIL_RECORD);
# - the index keeps each entry's check word (log.inc): an entry is
#   verified before GET answers with it (entry_verify), and the whole
#   index before an answer that depends on a key being absent (GET and DEL
#   of a missing key, a PUT taking a free entry, LIST) and before a
#   compaction copies an entry to the disk (FAIL_INDEX).
# - the store's position (log_half, log_active, log_next, log_gen) is kept
#   as checked pairs, verified at every use (FAIL_META).
    .include "abi.inc"
    .include "manifest.inc"
    .include "blk.inc"
    .include "proto.inc"
    .include "log.inc"

# The store's position -- log_half, log_active, log_next, log_gen -- is
# kept as checked pairs: the value, then its complement.  META_GET loads a
# value and fail-stops (FAIL_META) if its pair does not match: a flipped
# bit of log_next would otherwise write the next record past a gap that
# the replay stops at, losing it and every later one at the next mount.
# META_SET writes both words.
.macro META_GET reg, sym, tmp
    la      \tmp, \sym
    ld      \reg, 0(\tmp)
    ld      \tmp, 8(\tmp)
    not     \tmp, \tmp
    bne     \reg, \tmp, meta_broken
.endm
.macro META_SET reg, sym, tmp, tmp2
    la      \tmp, \sym
    sd      \reg, 0(\tmp)
    not     \tmp2, \reg
    sd      \tmp2, 8(\tmp)
.endm

    .text
# meta_broken: a checked pair of the store's position does not match.
# Fail-stop (the restart mounts the disk afresh).
meta_broken:
    ld      t0, FAIL_META(zero)
1:  j       1b                          # (not reached)

# ----- sectors through log_sec ----------------------------------------------

# sec_io(a0 type, a1 sector) -> a0 virtio status; the data is log_sec.
sec_io:
    la      a2, log_sec
    li      a3, BLK_SECTOR
    tail    blk_io

# sync() -> a0 virtio status
sync:
    li      a0, BLK_T_FLUSH
    li      a1, 0
    li      a2, 0
    li      a3, 0
    tail    blk_io

# ----- records -------------------------------------------------------------

# rec_build(a0 gen, a1 kind, a2 key, a3 klen, a4 val, a5 vlen): log_sec =
# the record, zero padded, checksummed.
rec_build:
    addi    sp, sp, -64
    sd      ra, 56(sp)
    sd      s0, 48(sp)
    sd      s1, 40(sp)
    sd      s2, 32(sp)
    sd      s3, 24(sp)
    sd      s4, 16(sp)
    sd      s5, 8(sp)
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
    mv      s3, a3
    mv      s4, a4
    mv      s5, a5
    la      a0, log_sec
    li      a1, BLK_SECTOR
    call    mem_zero
    la      t0, log_sec
    li      t1, REC_MAGIC
    sw      t1, R_MAGIC(t0)
    sw      s0, R_GEN(t0)
    sb      s3, R_KLEN(t0)
    sb      s1, R_KIND(t0)
    sh      s5, R_VLEN(t0)
    addi    a0, t0, R_KEY
    mv      a1, s2
    mv      a2, s3
    call    mem_copy
    la      a0, log_sec + R_KEY
    add     a0, a0, s3
    mv      a1, s4
    mv      a2, s5
    call    mem_copy
    la      a0, log_sec
    addi    a1, s3, R_KEY
    add     a1, a1, s5
    call    crc32                       # the CRC field is still zero
    la      t0, log_sec
    sw      a0, R_CRC(t0)
    ld      s5, 8(sp)
    ld      s4, 16(sp)
    ld      s3, 24(sp)
    ld      s2, 32(sp)
    ld      s1, 40(sp)
    ld      s0, 48(sp)
    ld      ra, 56(sp)
    addi    sp, sp, 64
    ret

# rec_valid() -> a0 = 1 if log_sec holds a record of the current
# generation with sane lengths, a known kind and a matching CRC.
rec_valid:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    sd      s0, 0(sp)
    la      t0, log_sec
    lwu     t1, R_MAGIC(t0)
    li      t2, REC_MAGIC
    bne     t1, t2, 8f
    lwu     t1, R_GEN(t0)
    META_GET t2, log_gen, t3
    bne     t1, t2, 8f
    lbu     t1, R_KLEN(t0)
    beqz    t1, 8f
    li      t2, STORE_KEY_MAX
    bgtu    t1, t2, 8f
    lhu     t3, R_VLEN(t0)
    li      t2, STORE_VAL_MAX
    bgtu    t3, t2, 8f
    lbu     t2, R_KIND(t0)
    addi    t2, t2, -REC_PUT
    li      t4, REC_DEL - REC_PUT
    bgtu    t2, t4, 8f
    lwu     s0, R_CRC(t0)
    sw      zero, R_CRC(t0)
    add     a1, t1, t3
    addi    a1, a1, R_KEY
    mv      a0, t0
    call    crc32
    la      t0, log_sec
    sw      s0, R_CRC(t0)
    bne     a0, s0, 8f
    li      a0, 1
    j       9f
8:  li      a0, 0
9:  ld      s0, 0(sp)
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# rec_check() -> a0 = the check word (lib/check.S) of the record in log_sec,
# from its own fields: op STORE_OP_PUT for a PUT record, STORE_OP_DEL for a
# DEL.  The lengths must be in range (rec_build's or rec_valid's).
rec_check:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    la      t0, log_sec
    lbu     t1, R_KIND(t0)
    li      a0, STORE_OP_PUT
    li      t2, REC_PUT
    beq     t1, t2, 1f
    li      a0, STORE_OP_DEL
1:  addi    a1, t0, R_KEY
    lbu     a2, R_KLEN(t0)
    add     a3, a1, a2
    lhu     a4, R_VLEN(t0)
    call    check_word
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# ----- the index -------------------------------------------------------------

# entry_verify(a0 entry, a1 value): a used entry whose lengths are in range
# and whose check word matches its key and the value at a1 (its own E_VAL,
# or the copy of it about to be sent); else fail-stop.  Clobbers a0..a4,
# t0..t3.
    .globl entry_verify
entry_verify:
    lbu     t0, E_USED(a0)
    li      t1, 1
    bne     t0, t1, index_broken
    lbu     a2, E_KLEN(a0)
    beqz    a2, index_broken
    li      t1, STORE_KEY_MAX
    bgtu    a2, t1, index_broken
    lhu     a4, E_VLEN(a0)
    li      t1, STORE_VAL_MAX
    bgtu    a4, t1, index_broken
    addi    sp, sp, -16
    sd      ra, 8(sp)
    sd      a0, 0(sp)
    mv      a3, a1
    addi    a1, a0, E_KEY
    li      a0, STORE_OP_PUT
    call    check_word
    ld      t0, 0(sp)
    ld      t0, E_CHECK(t0)
    bne     a0, t0, index_broken
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# index_broken: an index entry failed its check.  Fail-stop.
index_broken:
    ld      t0, FAIL_INDEX(zero)
1:  j       1b                          # (not reached)

# index_verify(): every entry: free with check word 0, or used and
# verified (entry_verify).  Fail-stop on the first that is neither.
    .globl index_verify
index_verify:
    addi    sp, sp, -32
    sd      ra, 24(sp)
    sd      s0, 16(sp)
    sd      s1, 8(sp)
    la      s0, log_index
    li      s1, STORE_MAX_KEYS
1:  lbu     t0, E_USED(s0)
    bnez    t0, 2f
    ld      t1, E_CHECK(s0)
    bnez    t1, index_broken
    j       3f
2:  mv      a0, s0
    addi    a1, s0, E_VAL
    call    entry_verify
3:  addi    s0, s0, ENTRY_SIZE
    addi    s1, s1, -1
    bnez    s1, 1b
    ld      s1, 8(sp)
    ld      s0, 16(sp)
    ld      ra, 24(sp)
    addi    sp, sp, 32
    ret

# entry_free() -> a0 a free entry, else 0
entry_free:
    la      a0, log_index
    li      t1, STORE_MAX_KEYS
1:  lbu     t0, E_USED(a0)
    beqz    t0, 2f
    addi    a0, a0, ENTRY_SIZE
    addi    t1, t1, -1
    bnez    t1, 1b
    li      a0, 0
2:  ret

# log_find(a0 key, a1 klen) -> a0 entry or 0
    .globl log_find
log_find:
    addi    sp, sp, -48
    sd      ra, 40(sp)
    sd      s0, 32(sp)
    sd      s1, 24(sp)
    sd      s2, 16(sp)
    sd      s3, 8(sp)
    mv      s0, a0
    mv      s1, a1
    la      s2, log_index
    li      s3, STORE_MAX_KEYS
1:  lbu     t0, E_USED(s2)
    beqz    t0, 2f
    lbu     t0, E_KLEN(s2)
    bne     t0, s1, 2f
    mv      a0, s0
    addi    a1, s2, E_KEY
    mv      a2, s1
    call    mem_eq
    bnez    a0, 3f
2:  addi    s2, s2, ENTRY_SIZE
    addi    s3, s3, -1
    bnez    s3, 1b
    li      s2, 0
3:  mv      a0, s2
    ld      s3, 8(sp)
    ld      s2, 16(sp)
    ld      s1, 24(sp)
    ld      s0, 32(sp)
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

# entry_for(a0 key, a1 klen) -> a0 the key's entry, else a free one, else 0
# (replay: the index is being built, there is nothing to verify yet).
entry_for:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    call    log_find
    bnez    a0, 1f
    call    entry_free
1:  ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# entry_set(a0 entry, a1 key, a2 klen, a3 val, a4 vlen, a5 check): store
# and mark used.
entry_set:
    addi    sp, sp, -48
    sd      ra, 40(sp)
    sd      s0, 32(sp)
    sd      s1, 24(sp)
    sd      s2, 16(sp)
    mv      s0, a0
    mv      s1, a3
    mv      s2, a4
    sd      a5, E_CHECK(s0)
    sb      a2, E_KLEN(s0)
    sh      a4, E_VLEN(s0)
    addi    a0, s0, E_KEY
    call    mem_copy                    # a1 key, a2 klen
    addi    a0, s0, E_VAL
    mv      a1, s1
    mv      a2, s2
    call    mem_copy
    li      t0, 1
    sb      t0, E_USED(s0)
    ld      s2, 16(sp)
    ld      s1, 24(sp)
    ld      s0, 32(sp)
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

# ----- the superblock -------------------------------------------------------

# sb_read(a0 sector) -> a0 its generation if valid for this disk, else 0;
# a valid one also sets a1 = active half, a2 = half size.
sb_read:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    mv      a1, a0
    li      a0, BLK_T_IN
    call    sec_io
    bnez    a0, 8f
    la      a0, log_sec
    li      a1, SB_CRC
    call    crc32
    la      t0, log_sec
    lwu     t1, SB_CRC(t0)
    bne     a0, t1, 8f
    lwu     t1, SB_MAGIC_OFF(t0)
    li      t2, SB_MAGIC
    bne     t1, t2, 8f
    lwu     a1, SB_ACTIVE(t0)
    li      t2, 1
    bgtu    a1, t2, 8f
    lwu     a2, SB_HALF(t0)
    li      t2, HALF_MIN
    bltu    a2, t2, 8f
    li      t2, HALF_MAX
    bgtu    a2, t2, 8f
    slli    t2, a2, 1                   # both halves must fit the disk
    addi    t2, t2, LOG_FIRST
    la      t3, blk_capacity
    ld      t3, 0(t3)
    bgtu    t2, t3, 8f
    lwu     a0, SB_GEN(t0)
    j       9f
8:  li      a0, 0
9:  ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# sb_write(a0 gen, a1 active) -> a0 virtio status: superblock copy gen & 1,
# then a flush.  The copy written is never the one in force.
sb_write:
    addi    sp, sp, -32
    sd      ra, 24(sp)
    sd      s0, 16(sp)
    sd      s1, 8(sp)
    mv      s0, a0
    mv      s1, a1
    la      a0, log_sec
    li      a1, BLK_SECTOR
    call    mem_zero
    la      a0, log_sec
    li      t1, SB_MAGIC
    sw      t1, SB_MAGIC_OFF(a0)
    sw      s0, SB_GEN(a0)
    sw      s1, SB_ACTIVE(a0)
    META_GET t1, log_half, t2
    sw      t1, SB_HALF(a0)
    li      a1, SB_CRC
    call    crc32
    la      t0, log_sec
    sw      a0, SB_CRC(t0)
    li      a0, BLK_T_OUT
    andi    a1, s0, 1
    call    sec_io
    bnez    a0, 9f
    call    sync
9:  ld      s1, 8(sp)
    ld      s0, 16(sp)
    ld      ra, 24(sp)
    addi    sp, sp, 32
    ret

# half_base(a0 half) -> a0 its first sector
half_base:
    META_GET t0, log_half, t1
    mul     a0, a0, t0
    addi    a0, a0, LOG_FIRST
    ret

# ----- mount and replay -------------------------------------------------------

    .globl log_mount
log_mount:
    addi    sp, sp, -48
    sd      ra, 40(sp)
    sd      s0, 32(sp)
    sd      s1, 24(sp)
    sd      s2, 16(sp)
    sd      s3, 8(sp)
    sd      s4, 0(sp)
    call    blk_init
    bnez    a0, 8f
    # The newer of the two valid superblock copies.
    li      a0, 0
    call    sb_read
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
    li      a0, 1
    call    sb_read
    bgeu    s0, a0, 1f
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
1:  bnez    s0, 2f
    # None: format.  Half size from the capacity, bounded so a replay stays
    # short; a disk too small to hold every key after a compaction is refused.
    la      t0, blk_capacity
    ld      t0, 0(t0)
    addi    t0, t0, -LOG_FIRST
    srli    s2, t0, 1
    li      t1, HALF_MAX
    bleu    s2, t1, 3f
    mv      s2, t1
3:  li      t1, HALF_MIN
    bltu    s2, t1, 8f
    META_SET s2, log_half, t0, t1
    # Half 0 starts with an invalid record, so replay finds it empty even
    # if the disk held something before.
    la      a0, log_sec
    li      a1, BLK_SECTOR
    call    mem_zero
    li      a0, BLK_T_OUT
    li      a1, LOG_FIRST
    call    sec_io
    bnez    a0, 8f
    li      s0, 1
    li      s1, 0
    mv      a0, s0
    mv      a1, s1
    call    sb_write
    bnez    a0, 8f
2:
    META_SET s0, log_gen, t0, t1
    META_SET s1, log_active, t0, t1
    META_SET s2, log_half, t0, t1
    la      a0, log_index
    li      a1, STORE_MAX_KEYS * ENTRY_SIZE
    call    mem_zero
    # Replay the active half up to the first invalid record.
    mv      a0, s1
    call    half_base
    mv      s3, a0                      # sector of slot 0
    li      s0, 0                       # slot
4:  bgeu    s0, s2, 7f
    li      a0, BLK_T_IN
    add     a1, s3, s0
    call    sec_io
    bnez    a0, 8f
    call    rec_valid
    beqz    a0, 7f
    call    rec_check                   # of the bytes the CRC just verified
    mv      s4, a0
    la      s1, log_sec
    lbu     a1, R_KLEN(s1)
    addi    a0, s1, R_KEY
    lbu     t0, R_KIND(s1)
    li      t1, REC_DEL
    beq     t0, t1, 5f
    call    entry_for
    beqz    a0, 6f                      # no room: not ours to have written
    addi    a1, s1, R_KEY
    lbu     a2, R_KLEN(s1)
    add     a3, a1, a2
    lhu     a4, R_VLEN(s1)
    mv      a5, s4
    call    entry_set
    j       6f
5:  call    log_find
    beqz    a0, 6f
    sd      zero, E_CHECK(a0)
    sb      zero, E_USED(a0)
6:  addi    s0, s0, 1
    j       4b
7:
    META_SET s0, log_next, t0, t1
    li      a0, 0
    j       9f
8:  li      a0, 1
9:  ld      s4, 0(sp)
    ld      s3, 8(sp)
    ld      s2, 16(sp)
    ld      s1, 24(sp)
    ld      s0, 32(sp)
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

# ----- appending and compaction ---------------------------------------------

# compact() -> a0 = 0 done.  Every live entry goes to the other half under
# the next generation, then a terminator, a flush, and last the superblock
# copy that makes it all current (also flushed).
compact:
    addi    sp, sp, -48
    sd      ra, 40(sp)
    sd      s0, 32(sp)
    sd      s1, 24(sp)
    sd      s2, 16(sp)
    sd      s3, 8(sp)
    sd      s4, 0(sp)
    META_GET s4, log_gen, t0
    addi    s4, s4, 1                   # new generation
    META_GET a0, log_active, t0
    xori    a0, a0, 1
    call    half_base
    mv      s3, a0                      # new slot 0
    li      s0, 0                       # slots written
    la      s1, log_index
    li      s2, STORE_MAX_KEYS
1:  lbu     t0, E_USED(s1)
    beqz    t0, 2f
    mv      a0, s1                      # lengths in range, check word right
    addi    a1, s1, E_VAL
    call    entry_verify
    mv      a0, s4
    li      a1, REC_PUT
    addi    a2, s1, E_KEY
    lbu     a3, E_KLEN(s1)
    addi    a4, s1, E_VAL
    lhu     a5, E_VLEN(s1)
    call    rec_build
    call    rec_check                   # the entry as it goes to the disk
    ld      t0, E_CHECK(s1)
    bne     a0, t0, index_broken
    li      a0, BLK_T_OUT
    add     a1, s3, s0
    call    sec_io
    bnez    a0, 8f
    addi    s0, s0, 1
2:  addi    s1, s1, ENTRY_SIZE
    addi    s2, s2, -1
    bnez    s2, 1b
    # Terminator: an earlier, interrupted compaction may have left records
    # of this same generation further on.  (HALF_MIN > STORE_MAX_KEYS, so
    # there is always a slot for it.)
    la      a0, log_sec
    li      a1, BLK_SECTOR
    call    mem_zero
    li      a0, BLK_T_OUT
    add     a1, s3, s0
    call    sec_io
    bnez    a0, 8f
    call    sync
    bnez    a0, 8f
    META_GET a1, log_active, t0
    xori    a1, a1, 1
    mv      a0, s4
    call    sb_write
    bnez    a0, 8f
    META_SET s4, log_gen, t0, t1
    META_GET t1, log_active, t0
    xori    t1, t1, 1
    META_SET t1, log_active, t0, t2
    META_SET s0, log_next, t0, t1
    li      a0, 0
    j       9f
8:  li      a0, 1
9:  ld      s4, 0(sp)
    ld      s3, 8(sp)
    ld      s2, 16(sp)
    ld      s1, 24(sp)
    ld      s0, 32(sp)
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

# append(a0 kind, a1 key, a2 klen, a3 val, a4 vlen, a5 check) -> a0
# STORE_OK or STORE_IO_ERROR.  OK means written AND flushed.  The record
# built in the sector buffer must have the request's check word (the last
# look before the disk): else fail-stop.
append:
    addi    sp, sp, -64
    sd      ra, 56(sp)
    sd      s0, 48(sp)
    sd      s1, 40(sp)
    sd      s2, 32(sp)
    sd      s3, 24(sp)
    sd      s4, 16(sp)
    sd      s5, 8(sp)
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
    mv      s3, a3
    mv      s4, a4
    mv      s5, a5
    META_GET t0, log_next, t2
    META_GET t1, log_half, t2
    bltu    t0, t1, 1f
    call    compact
    bnez    a0, 8f
1:
    META_GET a0, log_gen, t0
    mv      a1, s0
    mv      a2, s1
    mv      a3, s2
    mv      a4, s3
    mv      a5, s4
    call    rec_build
    call    rec_check
    bne     a0, s5, record_broken
    META_GET a0, log_active, t0
    call    half_base
    META_GET a1, log_next, t0
    add     a1, a1, a0
    li      a0, BLK_T_OUT
    call    sec_io
    bnez    a0, 8f
    call    sync
    bnez    a0, 8f
    META_GET t1, log_next, t0
    addi    t1, t1, 1
    META_SET t1, log_next, t0, t2
    li      a0, STORE_OK
    j       9f
8:  li      a0, STORE_IO_ERROR
9:  ld      s5, 8(sp)
    ld      s4, 16(sp)
    ld      s3, 24(sp)
    ld      s2, 32(sp)
    ld      s1, 40(sp)
    ld      s0, 48(sp)
    ld      ra, 56(sp)
    addi    sp, sp, 64
    ret

# record_broken: the record about to be written is not the request that
# was verified.  Fail-stop.
record_broken:
    ld      t0, FAIL_RECORD(zero)
1:  j       1b                          # (not reached)

# ----- operations -------------------------------------------------------------

    .globl log_put
log_put:
    addi    sp, sp, -64
    sd      ra, 56(sp)
    sd      s0, 48(sp)
    sd      s1, 40(sp)
    sd      s2, 32(sp)
    sd      s3, 24(sp)
    sd      s4, 16(sp)
    sd      s5, 8(sp)
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
    mv      s3, a3
    mv      s5, a4
    call    log_find
    bnez    a0, 1f
    call    index_verify                # a new key: is it really absent?
    call    entry_free
1:  mv      s4, a0
    li      a0, STORE_FULL
    beqz    s4, 9f
    li      a0, REC_PUT
    mv      a1, s0
    mv      a2, s1
    mv      a3, s2
    mv      a4, s3
    mv      a5, s5
    call    append
    bnez    a0, 9f
    # Durable: only now does the index (what GET answers) change.
    mv      a0, s4
    mv      a1, s0
    mv      a2, s1
    mv      a3, s2
    mv      a4, s3
    mv      a5, s5
    call    entry_set
    li      a0, STORE_OK
9:  ld      s5, 8(sp)
    ld      s4, 16(sp)
    ld      s3, 24(sp)
    ld      s2, 32(sp)
    ld      s1, 40(sp)
    ld      s0, 48(sp)
    ld      ra, 56(sp)
    addi    sp, sp, 64
    ret

    .globl log_del
log_del:
    addi    sp, sp, -48
    sd      ra, 40(sp)
    sd      s0, 32(sp)
    sd      s1, 24(sp)
    sd      s2, 16(sp)
    sd      s3, 8(sp)
    mv      s0, a0
    mv      s1, a1
    mv      s3, a2
    call    log_find
    mv      s2, a0
    bnez    s2, 1f
    call    index_verify                # is it really absent?
    li      a0, STORE_NOT_FOUND
    j       9f
1:  li      a0, REC_DEL
    mv      a1, s0
    mv      a2, s1
    li      a3, 0
    li      a4, 0
    mv      a5, s3
    call    append
    bnez    a0, 9f
    sd      zero, E_CHECK(s2)
    sb      zero, E_USED(s2)
    li      a0, STORE_OK
9:  ld      s3, 8(sp)
    ld      s2, 16(sp)
    ld      s1, 24(sp)
    ld      s0, 32(sp)
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

    .bss
    .balign 16
log_sec:    .zero BLK_SECTOR        # the one sector buffer (DMA target)
    .globl log_index, log_gen, log_next
    .balign 8
log_index:  .zero STORE_MAX_KEYS * ENTRY_SIZE
# Checked pairs (META_GET/META_SET): the value, then its complement.
log_half:   .zero 16                # sectors per half
log_active: .zero 16                # 0 or 1
log_next:   .zero 16                # next free slot in the active half
log_gen:    .zero 16                # generation in force
