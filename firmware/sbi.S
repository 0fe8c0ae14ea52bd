# Septum SBI firmware: the SBI calls (SBI specification 2.0).
#
# Every handler here is jumped to (never called) from sbi_dispatch, with the
# machine state trap_vector left: M-mode, sp = s11 = trap frame (the stack
# grows down below it), every register of the caller saved in the frame and
# a0..a7 still holding the caller's arguments (EID in a7, FID in a6).  A
# handler may clobber any register except s11 and ends by jumping to
# sbi_return (a0 = error, a1 = value) or sbi_return_legacy (a0 only).

    .include "sbi_consts.inc"

    .text
    .globl sbi_dispatch

# sbi_dispatch: route an SBI call by extension ID.
#   Jumped to by: trap_vector, on an ecall from S-mode.
sbi_dispatch:
    li      t0, SBI_EXT_BASE
    beq     a7, t0, sbi_base
    li      t0, SBI_EXT_TIME
    beq     a7, t0, sbi_time
    li      t0, SBI_EXT_IPI
    beq     a7, t0, sbi_ipi
    li      t0, SBI_EXT_RFENCE
    beq     a7, t0, sbi_rfence
    li      t0, SBI_EXT_HSM
    beq     a7, t0, sbi_hsm
    li      t0, SBI_EXT_SRST
    beq     a7, t0, sbi_srst
    li      t0, SBI_EXT_DBCN
    beq     a7, t0, sbi_dbcn
    li      t0, SBI_EXT_LEGACY_CONSOLE_PUTCHAR
    beq     a7, t0, sbi_legacy_putchar
    li      t0, SBI_EXT_LEGACY_CONSOLE_GETCHAR
    beq     a7, t0, sbi_legacy_getchar
.ifdef SBI_SELFTEST
    li      t0, SBI_EXT_SEPTUM_SELFTEST
    beq     a7, t0, sbi_selftest
.endif
    # fall through: an extension we do not serve

sbi_not_supported:
    li      a0, SBI_ERR_NOT_SUPPORTED
    li      a1, 0
    j       sbi_return
sbi_invalid_param:
    li      a0, SBI_ERR_INVALID_PARAM
    li      a1, 0
    j       sbi_return
sbi_failed:
    li      a0, SBI_ERR_FAILED
    li      a1, 0
    j       sbi_return
sbi_success:
    li      a1, 0
sbi_success_value:                      # a1 already holds the value
    li      a0, SBI_SUCCESS
    j       sbi_return

# ---------------------------------------------------------------- BASE (0x10)
sbi_base:
    li      t0, SBI_BASE_GET_SPEC_VERSION
    bne     a6, t0, 1f
    li      a1, SBI_SPEC_VERSION
    j       sbi_success_value
1:  li      t0, SBI_BASE_GET_IMPL_ID
    bne     a6, t0, 1f
    li      a1, SBI_IMPL_ID
    j       sbi_success_value
1:  li      t0, SBI_BASE_GET_IMPL_VERSION
    bne     a6, t0, 1f
    li      a1, SBI_IMPL_VERSION
    j       sbi_success_value
1:  li      t0, SBI_BASE_PROBE_EXTENSION
    bne     a6, t0, 1f
    # a1 = 1 when a0 names an extension in sbi_extensions, else 0.
    la      t1, sbi_extensions
    la      t2, sbi_extensions_end
    li      a1, 1
2:  lwu     t0, 0(t1)
    beq     t0, a0, sbi_success_value
    addi    t1, t1, 4
    bltu    t1, t2, 2b
    li      a1, 0
    j       sbi_success_value
1:  li      t0, SBI_BASE_GET_MVENDORID
    bne     a6, t0, 1f
    csrr    a1, mvendorid
    j       sbi_success_value
1:  li      t0, SBI_BASE_GET_MARCHID
    bne     a6, t0, 1f
    csrr    a1, marchid
    j       sbi_success_value
1:  li      t0, SBI_BASE_GET_MIMPID
    bne     a6, t0, sbi_not_supported
    csrr    a1, mimpid
    j       sbi_success_value

# ---------------------------------------------------------------- TIME
# set_timer(a0 = stime_value): program the CLINT comparator, withdraw any
# pending STIP, and let MTIP in; trap_interrupt turns MTIP into STIP.
sbi_time:
    li      t0, SBI_TIME_SET_TIMER
    bne     a6, t0, sbi_not_supported
    li      t0, CLINT_BASE + CLINT_MTIMECMP  # hart 0's mtimecmp
    sd      a0, 0(t0)
    li      t0, MIP_STIP
    csrc    mip, t0
    li      t0, MIP_MTIP
    csrs    mie, t0
    j       sbi_success

# ---------------------------------------------------------------- IPI
# send_ipi(a0 = hart_mask, a1 = hart_mask_base): the only hart signals
# itself by raising SSIP.
sbi_ipi:
    li      t0, SBI_IPI_SEND_IPI
    bne     a6, t0, sbi_not_supported
    call    hart_mask
    bltz    t0, sbi_invalid_param
    beqz    t0, sbi_success
    li      t0, MIP_SSIP
    csrs    mip, t0
    j       sbi_success

# ---------------------------------------------------------------- RFENCE
# remote_fence_i / remote_sfence_vma(_asid)(a0 = hart_mask, a1 = base, ...):
# with one hart, "remote" is local; flushing the whole TLB is allowed for any
# range or ASID.  The hypervisor fences are not served (no H extension).
sbi_rfence:
    li      t0, SBI_RFENCE_REMOTE_SFENCE_VMA_ASID
    bgtu    a6, t0, sbi_not_supported
    call    hart_mask
    bltz    t0, sbi_invalid_param
    beqz    t0, sbi_success
    bnez    a6, 1f
    fence.i
    j       sbi_success
1:  sfence.vma
    j       sbi_success

# hart_mask: does (a0 = hart_mask, a1 = hart_mask_base) name hart 0, nobody,
# or a hart that does not exist?
#   Called by: sbi_ipi, sbi_rfence.
#   Out: t0 = 1 (hart 0 named), 0 (nobody named), -1 (a missing hart named).
#   Clobbers: t0, t1.
hart_mask:
    li      t0, -1
    beq     a1, t0, 1f                  # base -1: every hart, i.e. hart 0
    li      t0, 0
    beqz    a0, 2f                      # empty mask: nobody
    li      t0, -1
    bnez    a1, 2f                      # base > 0 names only harts >= 1
    li      t1, 1
    bne     a0, t1, 2f                  # bits above bit 0 name harts >= 1
1:  li      t0, 1
2:  ret

# ---------------------------------------------------------------- HSM
# Hart 0 is the only hart, and it is running.
sbi_hsm:
    li      t0, SBI_HSM_HART_START
    bne     a6, t0, 1f
    bnez    a0, sbi_invalid_param       # hart_start(hartid, ...): no such hart
    li      a0, SBI_ERR_ALREADY_AVAILABLE
    li      a1, 0
    j       sbi_return
1:  li      t0, SBI_HSM_HART_STOP
    beq     a6, t0, sbi_failed          # stopping the last hart: nobody could restart it
    li      t0, SBI_HSM_HART_GET_STATUS
    bne     a6, t0, 1f
    bnez    a0, sbi_invalid_param
    li      a1, SBI_HSM_STATE_STARTED
    j       sbi_success_value
1:  li      t0, SBI_HSM_HART_SUSPEND
    bne     a6, t0, sbi_not_supported
    # hart_suspend(a0 = type, ...): default retentive is a wfi; default
    # non-retentive is defined but not served; every other type is reserved
    # or platform-specific and unimplemented, which SBI 2.0 calls invalid.
    slli    a0, a0, 32
    srli    a0, a0, 32                  # suspend_type is 32 bits
    bnez    a0, 2f
    wfi
    j       sbi_success
2:  li      t0, SBI_HSM_SUSPEND_DEFAULT_NON_RETENTIVE
    beq     a0, t0, sbi_not_supported
    j       sbi_invalid_param

# ---------------------------------------------------------------- SRST
# system_reset(a0 = type, a1 = reason), both 32 bits, through the finisher.
# Reserved and platform-specific types and reasons are all INVALID_PARAM
# (SBI 2.0, table "SRST System Reset Errors": none is implemented here).
sbi_srst:
    li      t0, SBI_SRST_SYSTEM_RESET
    bne     a6, t0, sbi_not_supported
    slli    a0, a0, 32
    srli    a0, a0, 32
    slli    a1, a1, 32
    srli    a1, a1, 32
    li      t1, SBI_SRST_TYPE_WARM_REBOOT
    bgtu    a0, t1, sbi_invalid_param
    li      t1, SBI_SRST_REASON_SYSTEM_FAILURE
    bgtu    a1, t1, sbi_invalid_param
2:  li      t2, FINISHER_RESET
    bnez    a0, 3f                      # cold or warm reboot
    li      t2, FINISHER_PASS
    bne     a1, t1, 3f
    li      t2, FINISHER_FAIL | (SBI_SRST_REASON_SYSTEM_FAILURE << FINISHER_CODE_SHIFT)
3:  li      t0, TEST_BASE
    sw      t2, 0(t0)
4:  wfi                                 # the board acts on the finisher; wait for it
    j       4b

# ---------------------------------------------------------------- DBCN
sbi_dbcn:
    li      t0, SBI_DBCN_CONSOLE_WRITE_BYTE
    bne     a6, t0, 1f
    call    uart_putc                   # write_byte(a0 = byte)
    j       sbi_success
1:  li      t0, SBI_DBCN_CONSOLE_READ
    bgtu    a6, t0, sbi_not_supported
    # console_write / console_read(a0 = num_bytes, a1 = base_lo, a2 = base_hi):
    # the buffer must lie in RAM above the firmware, [FIRMWARE_END, ram top),
    # so that S can neither read nor overwrite the firmware through us.
    bnez    a2, sbi_invalid_param       # RV64: a physical address fits in base_lo
    li      t0, FIRMWARE_END
    bltu    a1, t0, sbi_invalid_param
    add     t1, a1, a0                  # end of the buffer
    bltu    t1, a1, sbi_invalid_param   # wrapped around
    li      t0, FW_VAR_RAM_TOP
    ld      t0, 0(t0)
    bgtu    t1, t0, sbi_invalid_param
    mv      s0, a1                      # s0 = cursor
    mv      s1, t1                      # s1 = end
    bnez    a6, 3f
2:  bgeu    s0, s1, 4f                  # console_write: every byte, waiting for THRE
    lbu     a0, 0(s0)
    call    uart_putc
    addi    s0, s0, 1
    j       2b
3:  bgeu    s0, s1, 4f                  # console_read: what has arrived, no waiting
    call    uart_getc
    bltz    a0, 4f
    sb      a0, 0(s0)
    addi    s0, s0, 1
    j       3b
4:  sub     a1, s0, a1                  # bytes moved (a1 still holds base_lo)
    j       sbi_success_value

# ---------------------------------------------------------------- legacy console
sbi_legacy_putchar:                     # console_putchar(a0 = byte) -> a0 = 0
    call    uart_putc
    li      a0, 0
    j       sbi_return_legacy
sbi_legacy_getchar:                     # console_getchar() -> a0 = byte or -1
    call    uart_getc
    j       sbi_return_legacy

.ifdef SBI_SELFTEST
# ---------------------------------------------------------------- self-test
# FID 0: take a load access fault in M-mode on purpose (nothing is mapped
# at address 0), to prove the fatal-trap report works.
sbi_selftest:
    bnez    a6, sbi_not_supported
    .globl  sbi_selftest_fault
sbi_selftest_fault:
    ld      t0, 0(zero)
    j       sbi_success
.endif

# The extensions probe_extension reports (32-bit IDs).
    .balign 4
sbi_extensions:
    SBI_SUPPORTED_EXTENSIONS            # generated from septum.firmware.sbi
.ifdef SBI_SELFTEST
    .word   SBI_EXT_SEPTUM_SELFTEST
.endif
sbi_extensions_end:
