# blk.S — the virtio-blk driver of the storage server (virtio-mmio v2).
#
# One split virtqueue of BLK_QSIZE entries in this task's .bss; one request
# in flight at a time, three descriptors (header, data, status byte; FLUSH
# has no data).  Completion is INTERRUPT-DRIVEN: the manifest routes
# virtio7's PLIC source to notification bit STORAGE_IRQ_VIRTIO7.  After
# QueueNotify the driver looks at the used ring once; while the request is
# not complete it sleeps in a notifications-only RECV until that bit
# arrives (the task is in NOTIFY_WAIT, the CPU free for other tasks or the
# idle wfi), then, in this order (virtio 1.1 §4.2.3.4, §2.6.14):
#   1. reads InterruptStatus and writes the same bits to InterruptACK: the
#      device lowers its (level-triggered) line;
#   2. IRQ_ACKs the bit: the kernel re-enables the PLIC source it masked
#      when the interrupt fired (before 1 the high line would fire again);
#   3. looks at the used ring again: only AFTER the acknowledgement, so
#      that a completion racing with it is either seen now or raises the
#      line anew (and a completion after the first look, before the sleep,
#      has posted the bit: the RECV returns at once).
# A wake-up whose used ring has not advanced (a configuration-change
# interrupt, a stale bit) sleeps again.  A sleep also makes sure a TIMER
# is set (BLK_TIMEOUT, bit BLK_TIMEOUT_BIT; one at a time, not one per
# request: a TIMER call costs ~180 instructions): an interrupt lost
# between device and kernel would otherwise leave the server asleep for
# ever -- the supervisor's watchdog counts a task blocked in a RECV as
# healthy -- so the driver looks at the used ring again when it fires.  DEVICE_NEEDS_RESET is checked
# before every sleep: a device in that state completes nothing and may not
# interrupt again.  The first look is what a device that completes at
# QueueNotify (Septum's board) needs: no sleep, no interrupt (the line is
# ACKed down before the PLIC's request is taken); QEMU's device completes
# later, and the driver sleeps.  A request is synchronous for the server
# anyway (a PUT is acknowledged only after its write and flush).
#
# Other notification bits that arrive during the wait (the supervisor's, a
# client's NOTIFY) are not lost: they are ORed into blk_notes, which the
# server's request loop takes (blk_take_notes) and handles after the
# request.
#
# Addresses handed to the device are the task's own addresses: the builder
# maps every task page at virtual = physical (kernel/README.md), so they
# are the physical addresses the device's DMA needs.
#
# Public (standard calling convention):
#   blk_init() -> a0 = 0 ready, else an error (no device, bad version,
#                 features refused, queue too small); sets blk_capacity
#                 and unmasks the disk interrupt (a restarted server's
#                 source stays masked until its new incarnation IRQ_ACKs).
#   blk_io(a0 = request type, a1 = sector, a2 = buffer, a3 = length in
#          bytes, a multiple of 512) -> a0 = virtio status (0 = OK).
#          BLK_T_FLUSH ignores a1..a3.
#   blk_take_notes() -> a0 = the non-disk notification bits received while
#          waiting for the disk since the last call (then cleared).
#   blk_note(a0 = notification bits) -> a0 = those that are not the disk's
#          (a disk bit is acknowledged: blk_intr).
#   blk_intr() — acknowledge the disk's interrupt (steps 1 and 2).
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
.equ BLK_IRQ_BIT, 1 << STORAGE_IRQ_VIRTIO7  # the disk's notification bit
.equ BLK_TIMEOUT_BIT, 1 << 1    # our TIMER's bit: a request is overdue
.equ BLK_TIMEOUT, 100000        # ticks (10 MHz): 10 ms of virtual time
.if BLK_IRQ_BIT == BLK_TIMEOUT_BIT
    .error "storage: the disk interrupt's notification bit is the driver's timeout bit (1)"
.endif

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
    sh      zero, AVAIL_FLAGS(t1)       # interrupt us on every used buffer
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
    # The reset above lowered the line; unmask the source (masked if it
    # fired for an earlier incarnation of this task).
    li      a0, BLK_IRQ_BIT
    li      a7, SYS_IRQ_ACK
    ecall
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
    beq     t2, s0, 5f                  # complete
    li      t0, DEV_VIRTIO7             # sleep, unless the device is wedged
    lw      t2, VIRTIO_MMIO_STATUS(t0)
    andi    t2, t2, VIRTIO_STATUS_DEVICE_NEEDS_RESET
    bnez    t2, 6f
    .globl blk_sleep
blk_sleep:                              # the request is in flight
    la      t0, blk_armed               # a timeout is on its way already
    ld      t1, 0(t0)
    bnez    t1, 8f
    li      t1, 1
    sd      t1, 0(t0)
    li      a0, 0                       # a1 = now (and no deadline)
    li      a1, 0
    li      a7, SYS_TIMER
    ecall
    li      t0, BLK_TIMEOUT             # wake up then anyway: an interrupt
    add     a0, a1, t0                  # lost on its way costs a delay,
    li      a1, BLK_TIMEOUT_BIT         # not a server asleep for ever
    li      a7, SYS_TIMER
    ecall
8:  li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a1, 0
    li      a6, 0
    li      a7, SYS_RECV
    ecall
    li      t0, RECV_NOTIFICATION
    bne     a0, t0, 6f                  # cannot happen: a 0-byte buffer is valid
    li      t0, BLK_IRQ_BIT | BLK_TIMEOUT_BIT  # keep the bits that are not ours
    not     t1, t0
    and     t1, a1, t1
    la      t2, blk_notes
    ld      t3, 0(t2)
    or      t3, t3, t1
    sd      t3, 0(t2)
    andi    t1, a1, BLK_TIMEOUT_BIT
    beqz    t1, 9f
    la      t2, blk_armed               # the timeout came: the next sleep
    sd      zero, 0(t2)                 # sets another
9:  li      t0, BLK_IRQ_BIT
    and     t1, a1, t0
    beqz    t1, 4b                      # not the disk's: look, sleep on
    call    blk_intr
    j       4b                          # the used ring only after the ACKs
5:  # Complete.  Lower the line the completion raised: found without
    # sleeping (our board completes at QueueNotify), this is before the
    # PLIC's request is taken, so no stale notification follows.
    li      t0, DEV_VIRTIO7
    lw      t1, VIRTIO_MMIO_INTERRUPT_STATUS(t0)
    sw      t1, VIRTIO_MMIO_INTERRUPT_ACK(t0)
    fence   rw, rw                      # the index before the status byte
    la      t0, blk_status
    lbu     a0, 0(t0)
    j       7f
6:  li      a0, BLK_ERR
7:  ld      s0, 0(sp)
    ld      ra, 8(sp)
    addi    sp, sp, 16
    ret

# blk_intr — the disk's notification arrived: (1) read InterruptStatus and
# write the same bits to InterruptACK, so the device lowers its line; (2)
# IRQ_ACK, so the kernel unmasks the PLIC source it masked when the
# interrupt fired (before (1) the still-high line would fire again at
# once).  Callers look at the used ring only afterwards: a completion that
# races with (1) is then either seen or raises the line anew.
# Clobbers t0..t6, a0..a7 (an ecall).
    .globl blk_intr
blk_intr:
    li      t0, DEV_VIRTIO7
    lw      t1, VIRTIO_MMIO_INTERRUPT_STATUS(t0)
    sw      t1, VIRTIO_MMIO_INTERRUPT_ACK(t0)
    fence                               # the ACK reaches the device first
    li      a0, BLK_IRQ_BIT
    li      a7, SYS_IRQ_ACK
    ecall
    ret

# blk_note(a0 = notification bits) -> a0 = the bits that are not the
# driver's.  The disk's bit outside blk_io (its interrupt was taken after a
# completion blk_io found without sleeping) is acknowledged here, so the
# source is unmasked for the next request; a late timeout is dropped.
# Clobbers t0..t6, a1..a7.
    .globl blk_note
blk_note:
    andi    t1, a0, BLK_TIMEOUT_BIT
    beqz    t1, 2f
    la      t0, blk_armed
    sd      zero, 0(t0)
2:  li      t0, BLK_IRQ_BIT
    and     t1, a0, t0
    li      t0, ~(BLK_IRQ_BIT | BLK_TIMEOUT_BIT)
    and     a0, a0, t0
    beqz    t1, 1f
    addi    sp, sp, -16
    sd      ra, 8(sp)
    sd      a0, 0(sp)
    call    blk_intr
    ld      a0, 0(sp)
    ld      ra, 8(sp)
    addi    sp, sp, 16
1:  ret

# blk_take_notes() -> a0 = blk_notes, then cleared.
    .globl blk_take_notes
blk_take_notes:
    la      t0, blk_notes
    ld      a0, 0(t0)
    sd      zero, 0(t0)
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
blk_notes:  .zero 8
blk_armed:  .zero 8                     # 1: our TIMER is set, its bit not seen
blk_next:   .zero 2
blk_status: .zero 1
