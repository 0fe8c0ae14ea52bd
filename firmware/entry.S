# Septum SBI firmware: reset entry and hand-over to the S-mode kernel.
#
# Must be the first source of the build: _start is the first instruction at
# FIRMWARE_BASE (0x8000_0000), where the board's MROM reset stub jumps.

    .include "sbi_consts.inc"

    .text
    .globl _start

# _start: set the machine up for an S-mode kernel and mret into it.
#   Jumped to by: the MROM reset stub (QEMU's, or the Septum board's).
#   State on entry: M-mode, MMU off, interrupts off; a0 = hart id, a1 = DTB
#   address, a2 = fw_dynamic info (or anything: it is only trusted when it
#   lies in MROM and carries the "OSBI" magic).
#   Clobbers: everything; does not return.
_start:
    csrw    mie, zero                   # no interrupt until set_timer asks
    csrw    mip, zero                   # drop stale SSIP/STIP (the rest is read-only)
    la      t0, trap_vector
    csrw    mtvec, t0                   # direct mode: trap_vector is 4-aligned
    csrr    s0, mhartid
    bnez    s0, park                    # one hart: any other waits forever
    mv      s1, a1                      # s1 = DTB

    # The trap frame at the top of the stack; mscratch points at it so the
    # trap vector can swap it in without touching any other register.
    li      sp, FW_FRAME
    csrw    mscratch, sp

    # Next stage: fw_dynamic next_addr if the info is genuine and the address
    # lies outside the firmware region, else KERNEL_BASE.
    li      s2, KERNEL_BASE
    li      t0, MROM_BASE
    bltu    a2, t0, 1f
    li      t0, MROM_END - 32
    bgeu    a2, t0, 1f
    andi    t0, a2, 7
    bnez    t0, 1f                      # misaligned: not the stub's record
    lwu     t0, 0(a2)
    li      t1, FW_DYNAMIC_MAGIC
    bne     t0, t1, 1f
    ld      t0, FW_DYNAMIC_NEXT_ADDR(a2)
    li      t1, FIRMWARE_END
    bltu    t0, t1, 1f                  # never "return" into ourselves
    mv      s2, t0
1:
    # RAM S may name in DBCN calls ends at the end of the DTB, which QEMU
    # (and the Septum board) put near the end of RAM; without a DTB, assume
    # the default 128 MiB.
    li      t2, DRAM_DEFAULT_END
    li      t0, FIRMWARE_END
    bltu    s1, t0, 2f
    li      t0, DTB_CAP
    bgeu    s1, t0, 2f
    andi    t0, s1, 3
    bnez    t0, 2f
    lwu     t0, 0(s1)                   # magic, big-endian in memory
    li      t1, FDT_MAGIC
    call    bswap32
    bne     t0, t1, 2f
    lwu     t0, 4(s1)                   # totalsize, big-endian in memory
    call    bswap32
    add     t2, s1, t0
2:  li      t0, FW_VAR_RAM_TOP
    sd      t2, 0(t0)

    # PMP: entry 0 hides the firmware from S and U (no R/W/X), entry 1 gives
    # them everything else.  The lower-numbered entry wins where both match.
    # Neither is locked, so M-mode itself is not restricted.
    li      t0, FW_PMPADDR0
    csrw    pmpaddr0, t0
    li      t0, FW_PMPADDR1
    csrw    pmpaddr1, t0
    li      t0, FW_PMPCFG0
    csrw    pmpcfg0, t0

    li      t0, FW_MEDELEG
    csrw    medeleg, t0
    li      t0, FW_MIDELEG
    csrw    mideleg, t0
    li      t0, FW_MCOUNTEREN
    csrw    mcounteren, t0
    # No timer deadline until S sets one: mtimecmp resets to 0, which would
    # make MTIP pending from the start.
    li      t0, CLINT_BASE + CLINT_MTIMECMP
    li      t1, -1
    sd      t1, 0(t0)
    csrw    satp, zero                  # the kernel starts with the MMU off
    sfence.vma

    # mret to S-mode at s2, interrupts off there (SIE = 0, SPIE = 0).
    li      t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MPRV | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
    csrc    mstatus, t0
    li      t0, MSTATUS_MPP_S
    csrs    mstatus, t0
    csrw    mepc, s2
    mv      a0, s0                      # a0 = hart id
    mv      a1, s1                      # a1 = DTB
    li      a2, 0
    mv      s0, zero
    mv      s1, zero
    mv      s2, zero
    mv      sp, zero
    mret

# bswap32: reverse the bytes of a 32-bit word.
#   Called by: _start (reading big-endian DTB header fields).
#   In: t0 = word (zero-extended).  Out: t0 = swapped.  Clobbers: t3, t4, t5.
bswap32:
    li      t3, 0
    li      t5, 4
1:  slli    t3, t3, 8
    andi    t4, t0, 0xff
    or      t3, t3, t4
    srli    t0, t0, 8
    addi    t5, t5, -1
    bnez    t5, 1b
    mv      t0, t3
    ret

# park: a hart other than hart 0 sleeps forever (mie = 0: nothing wakes it
# for good; wfi may return spuriously, hence the loop).
park:
    wfi
    j       park
