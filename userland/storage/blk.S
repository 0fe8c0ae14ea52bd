# blk.S — the virtio-blk driver of the storage server (virtio-mmio v2).
#
# One split virtqueue of BLK_QSIZE entries in this task's .bss; one request
# in flight at a time, three descriptors (header, data, status byte; FLUSH
# has no data).  Completion is found by POLLING the used ring (the avail
# ring says VIRTQ_AVAIL_F_NO_INTERRUPT and the manifest routes no interrupt
# to us): a request is synchronous for the server anyway, since a PUT is
# acknowledged only after its write and flush.  The poll loop YIELDs so
# tasks of our priority run while a real (asynchronous) device works, and
# gives up with an error if the device sets DEVICE_NEEDS_RESET.
#
# Addresses handed to the device are the task's own addresses: the builder
# maps every task page at virtual = physical (kernel/README.md), so they
# are the physical addresses the device's DMA needs.
#
# Public (standard calling convention):
#   blk_init() -> a0 = 0 ready, else an error (no device, bad version,
#                 features refused, queue too small); sets blk_capacity.
#   blk_io(a0 = request type, a1 = sector, a2 = buffer, a3 = length in
#          bytes, a multiple of 512) -> a0 = virtio status (0 = OK).
#          BLK_T_FLUSH ignores a1..a3.
    .include "abi.inc"
    .include "manifest.inc"
    .include "blk.inc"

# virtio-mmio registers (virtio 1.1 §4.2.2).
.equ VIRTIO_MMIO_MAGIC_VALUE, 0x000
.equ VIRTIO_MMIO_VERSION, 0x004
.equ VIRTIO_MMIO_DEVICE_ID, 0x008
.equ VIRTIO_MMIO_DEVICE_FEATURES, 0x010
.equ VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0x014
.equ VIRTIO_MMIO_DRIVER_FEATURES, 0x020
.equ VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0x024
.equ VIRTIO_MMIO_QUEUE_SEL, 0x030
.equ VIRTIO_MMIO_QUEUE_NUM_MAX, 0x034
.equ VIRTIO_MMIO_QUEUE_NUM, 0x038
.equ VIRTIO_MMIO_QUEUE_READY, 0x044
.equ VIRTIO_MMIO_QUEUE_NOTIFY, 0x050
.equ VIRTIO_MMIO_INTERRUPT_STATUS, 0x060
.equ VIRTIO_MMIO_INTERRUPT_ACK, 0x064
.equ VIRTIO_MMIO_STATUS, 0x070
.equ VIRTIO_MMIO_QUEUE_DESC_LOW, 0x080
.equ VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x084
.equ VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x090
.equ VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0x094
.equ VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x0a0
.equ VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0x0a4
.equ VIRTIO_MMIO_CONFIG, 0x100

.equ VIRTIO_MAGIC, 0x74726976   # "virt"
.equ VIRTIO_VERSION_MODERN, 2
.equ VIRTIO_ID_BLOCK, 2

# Device status bits (§2.1).
.equ VIRTIO_STATUS_ACKNOWLEDGE, 1
.equ VIRTIO_STATUS_DRIVER, 2
.equ VIRTIO_STATUS_DRIVER_OK, 4
.equ VIRTIO_STATUS_FEATURES_OK, 8
.equ VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0x40
.equ VIRTIO_STATUS_FAILED, 0x80

# Feature bits: VIRTIO_F_VERSION_1 is bit 32 = bit 0 of the high word;
# VIRTIO_BLK_F_FLUSH is bit 9 (§5.2.3).
.equ VIRTIO_F_VERSION_1_HI, 1 << 0
.equ VIRTIO_BLK_F_FLUSH, 1 << 9

# Split virtqueue (§2.6).
.equ VIRTQ_DESC_F_NEXT, 1
.equ VIRTQ_DESC_F_WRITE, 2
.equ VIRTQ_AVAIL_F_NO_INTERRUPT, 1
.equ BLK_QSIZE, 4
.equ DESC_SIZE, 16
.equ DESC_ADDR, 0
.equ DESC_LEN, 8
.equ DESC_FLAGS, 12
.equ DESC_NEXT, 14
.equ AVAIL_FLAGS, 0
.equ AVAIL_IDX, 2
.equ AVAIL_RING, 4
.equ USED_IDX, 2

# Requests (§5.2.6).
.equ BLK_REQ_HDR, 16            # u32 type, u32 reserved, u64 sector
.equ BLK_ERR, 0xff              # our "no answer / driver error" status

    .text
    .globl blk_init
blk_init:
    li      t0, DEV_VIRTIO7
    lw      t1, VIRTIO_MMIO_MAGIC_VALUE(t0)
    li      t2, VIRTIO_MAGIC
    bne     t1, t2, 9f
    lw      t1, VIRTIO_MMIO_VERSION(t0)
    li      t2, VIRTIO_VERSION_MODERN
    bne     t1, t2, 9f
    lw      t1, VIRTIO_MMIO_DEVICE_ID(t0)
    li      t2, VIRTIO_ID_BLOCK
    bne     t1, t2, 9f
    # Reset, then ACKNOWLEDGE and DRIVER (§3.1.1 steps 1-3).
    sw      zero, VIRTIO_MMIO_STATUS(t0)
    li      t3, VIRTIO_STATUS_ACKNOWLEDGE
    sw      t3, VIRTIO_MMIO_STATUS(t0)
    ori     t3, t3, VIRTIO_STATUS_DRIVER
    sw      t3, VIRTIO_MMIO_STATUS(t0)
    # Features: VERSION_1 is required; FLUSH is what makes a PUT durable,
    # so a device without it is refused too.
    li      t1, 1
    sw      t1, VIRTIO_MMIO_DEVICE_FEATURES_SEL(t0)
    lw      t1, VIRTIO_MMIO_DEVICE_FEATURES(t0)
    andi    t1, t1, VIRTIO_F_VERSION_1_HI
    beqz    t1, 8f
    sw      zero, VIRTIO_MMIO_DEVICE_FEATURES_SEL(t0)
    lw      t1, VIRTIO_MMIO_DEVICE_FEATURES(t0)
    li      t2, VIRTIO_BLK_F_FLUSH
    and     t1, t1, t2
    beqz    t1, 8f
    sw      zero, VIRTIO_MMIO_DRIVER_FEATURES_SEL(t0)
    sw      t2, VIRTIO_MMIO_DRIVER_FEATURES(t0)
    li      t1, 1
    sw      t1, VIRTIO_MMIO_DRIVER_FEATURES_SEL(t0)
    li      t1, VIRTIO_F_VERSION_1_HI
    sw      t1, VIRTIO_MMIO_DRIVER_FEATURES(t0)
    ori     t3, t3, VIRTIO_STATUS_FEATURES_OK
    sw      t3, VIRTIO_MMIO_STATUS(t0)
    lw      t1, VIRTIO_MMIO_STATUS(t0)
    andi    t1, t1, VIRTIO_STATUS_FEATURES_OK
    beqz    t1, 8f                      # the device refused our subset
    # Queue 0: must be unused and large enough.
    sw      zero, VIRTIO_MMIO_QUEUE_SEL(t0)
    lw      t1, VIRTIO_MMIO_QUEUE_READY(t0)
    bnez    t1, 8f
    lw      t1, VIRTIO_MMIO_QUEUE_NUM_MAX(t0)
    li      t2, BLK_QSIZE
    bltu    t1, t2, 8f
    sw      t2, VIRTIO_MMIO_QUEUE_NUM(t0)
    # The rings live in .bss: a restarted server starts them from zero,
    # matching the device, which the reset above zeroed too.
    la      t1, blk_desc
    sw      t1, VIRTIO_MMIO_QUEUE_DESC_LOW(t0)
    srli    t1, t1, 32
    sw      t1, VIRTIO_MMIO_QUEUE_DESC_HIGH(t0)
    la      t1, blk_avail
    li      t2, VIRTQ_AVAIL_F_NO_INTERRUPT
    sh      t2, AVAIL_FLAGS(t1)
    sh      zero, AVAIL_IDX(t1)
    sw      t1, VIRTIO_MMIO_QUEUE_DRIVER_LOW(t0)
    srli    t1, t1, 32
    sw      t1, VIRTIO_MMIO_QUEUE_DRIVER_HIGH(t0)
    la      t1, blk_used
    sh      zero, USED_IDX(t1)
    sw      t1, VIRTIO_MMIO_QUEUE_DEVICE_LOW(t0)
    srli    t1, t1, 32
    sw      t1, VIRTIO_MMIO_QUEUE_DEVICE_HIGH(t0)
    la      t1, blk_next
    sh      zero, 0(t1)
    fence   rw, rw
    li      t1, 1
    sw      t1, VIRTIO_MMIO_QUEUE_READY(t0)
    # Capacity (config offset 0, u64 in sectors), read as two words.
    lwu     t1, VIRTIO_MMIO_CONFIG(t0)
    lwu     t2, VIRTIO_MMIO_CONFIG + 4(t0)
    slli    t2, t2, 32
    or      t1, t1, t2
    la      t2, blk_capacity
    sd      t1, 0(t2)
    ori     t3, t3, VIRTIO_STATUS_DRIVER_OK
    sw      t3, VIRTIO_MMIO_STATUS(t0)
    li      a0, 0
    ret
8:  # Tell the device we gave up (§3.1.1: set FAILED).
    li      t1, VIRTIO_STATUS_FAILED
    sw      t1, VIRTIO_MMIO_STATUS(t0)
9:  li      a0, 1
    ret

# blk_io(a0 type, a1 sector, a2 buffer, a3 length) -> a0 status
    .globl blk_io
blk_io:
    addi    sp, sp, -16
    sd      ra, 8(sp)
    sd      s0, 0(sp)
    # The header.
    la      t0, blk_hdr
    sw      a0, 0(t0)
    sw      zero, 4(t0)
    sd      a1, 8(t0)
    la      t1, blk_desc
    sd      t0, DESC_ADDR(t1)
    li      t2, BLK_REQ_HDR
    sw      t2, DESC_LEN(t1)
    li      t2, VIRTQ_DESC_F_NEXT
    sh      t2, DESC_FLAGS(t1)
    li      t2, 1
    sh      t2, DESC_NEXT(t1)
    # The data (device-writable for IN); FLUSH skips it.
    li      t2, BLK_T_FLUSH
    bne     a0, t2, 1f
    li      t2, 2
    sh      t2, DESC_NEXT(t1)
    j       2f
1:  sd      a2, DESC_SIZE + DESC_ADDR(t1)
    sw      a3, DESC_SIZE + DESC_LEN(t1)
    li      t2, VIRTQ_DESC_F_NEXT
    bnez    a0, 3f                      # OUT: device-readable
    ori     t2, t2, VIRTQ_DESC_F_WRITE
3:  sh      t2, DESC_SIZE + DESC_FLAGS(t1)
    li      t2, 2
    sh      t2, DESC_SIZE + DESC_NEXT(t1)
2:  # The status byte, preset to an error a silent device leaves in place.
    la      t0, blk_status
    li      t2, BLK_ERR
    sb      t2, 0(t0)
    sd      t0, 2 * DESC_SIZE + DESC_ADDR(t1)
    li      t2, 1
    sw      t2, 2 * DESC_SIZE + DESC_LEN(t1)
    li      t2, VIRTQ_DESC_F_WRITE
    sh      t2, 2 * DESC_SIZE + DESC_FLAGS(t1)
    sh      zero, 2 * DESC_SIZE + DESC_NEXT(t1)
    # Publish head 0 in the avail ring; the descriptors and the ring entry
    # must be visible before the index, and the index before the notify.
    la      t0, blk_avail
    lhu     t2, AVAIL_IDX(t0)
    andi    t3, t2, BLK_QSIZE - 1
    slli    t3, t3, 1
    add     t3, t3, t0
    sh      zero, AVAIL_RING(t3)
    fence   rw, rw
    addi    t2, t2, 1
    sh      t2, AVAIL_IDX(t0)
    la      t3, blk_next                # the used index we wait for
    lhu     s0, 0(t3)
    addi    s0, s0, 1
    li      t4, 0xffff
    and     s0, s0, t4
    sh      s0, 0(t3)
    fence   rw, rw
    li      t0, DEV_VIRTIO7
    sw      zero, VIRTIO_MMIO_QUEUE_NOTIFY(t0)
4:  fence   rw, rw
    la      t1, blk_used
    lhu     t2, USED_IDX(t1)
    beq     t2, s0, 5f
    li      t0, DEV_VIRTIO7
    lw      t2, VIRTIO_MMIO_STATUS(t0)
    andi    t2, t2, VIRTIO_STATUS_DEVICE_NEEDS_RESET
    bnez    t2, 6f
    li      a7, SYS_YIELD
    ecall
    j       4b
5:  fence   rw, rw
    # Keep the interrupt line low although nobody listens to it.
    li      t0, DEV_VIRTIO7
    lw      t2, VIRTIO_MMIO_INTERRUPT_STATUS(t0)
    sw      t2, VIRTIO_MMIO_INTERRUPT_ACK(t0)
    la      t0, blk_status
    lbu     a0, 0(t0)
    j       7f
6:  li      a0, BLK_ERR
7:  ld      s0, 0(sp)
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

    .bss
    .balign 16
blk_desc:   .zero BLK_QSIZE * DESC_SIZE
    .balign 8
blk_avail:  .zero AVAIL_RING + 2 * BLK_QSIZE + 2
    .balign 8
blk_used:   .zero 4 + 8 * BLK_QSIZE + 2
    .balign 8
blk_hdr:    .zero BLK_REQ_HDR
    .globl blk_capacity
blk_capacity: .zero 8
blk_next:   .zero 2
blk_status: .zero 1
