# Septum SBI firmware: the M-mode trap vector.
#
# Saves the interrupted context in the trap frame (mscratch), then routes by
# mcause: an ecall from S is an SBI call (sbi.S), the machine timer interrupt
# is forwarded to S as STIP, and anything else is a trap the firmware cannot
# serve: it reports cause, epc and tval on the UART and powers off with
# FIRMWARE_FAULT_CODE through the finisher.

    .include "sbi_consts.inc"

    .text
    .globl trap_vector, sbi_return, sbi_return_legacy

# Trap frame: x1..x31 at 8 * register number (slot 0 is unused), so the
# frame offset of xN is 8 * N; slot 2 holds the interrupted sp.

# trap_vector: every trap taken into M-mode (mtvec, direct mode).
#   Entered by: the hart, on any trap not delegated to S.
#   State on entry: M-mode, mstatus.MIE = 0, mscratch = FW_FRAME.
#   Leaves: sp = s11 = FW_FRAME (the stack grows down below it), every
#   register saved in the frame; jumps to the SBI dispatch, the timer
#   forwarder or the fatal report.
    .balign 4
trap_vector:
    csrrw   sp, mscratch, sp            # sp = frame, mscratch = interrupted sp
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x5, 5*8(sp)
    sd      x6, 6*8(sp)
    sd      x7, 7*8(sp)
    sd      x8, 8*8(sp)
    sd      x9, 9*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    sd      x12, 12*8(sp)
    sd      x13, 13*8(sp)
    sd      x14, 14*8(sp)
    sd      x15, 15*8(sp)
    sd      x16, 16*8(sp)
    sd      x17, 17*8(sp)
    sd      x18, 18*8(sp)
    sd      x19, 19*8(sp)
    sd      x20, 20*8(sp)
    sd      x21, 21*8(sp)
    sd      x22, 22*8(sp)
    sd      x23, 23*8(sp)
    sd      x24, 24*8(sp)
    sd      x25, 25*8(sp)
    sd      x26, 26*8(sp)
    sd      x27, 27*8(sp)
    sd      x28, 28*8(sp)
    sd      x29, 29*8(sp)
    sd      x30, 30*8(sp)
    sd      x31, 31*8(sp)
    csrr    t0, mscratch
    sd      t0, 2*8(sp)
    # Re-arm mscratch: a trap taken inside the firmware (a bug) then still
    # lands on a good stack and reaches the fatal report.
    csrw    mscratch, sp
    mv      s11, sp

    csrr    t0, mcause
    bltz    t0, trap_interrupt          # bit 63: interrupt
    li      t1, CAUSE_ECALL_S
    bne     t0, t1, trap_fatal
    csrr    t1, mstatus
    li      t2, MSTATUS_MPP
    and     t1, t1, t2
    li      t2, MSTATUS_MPP_S
    bne     t1, t2, trap_fatal          # cause 9 only ever comes from S
    j       sbi_dispatch                # a0..a7 still hold the caller's arguments

# trap_interrupt: an interrupt taken into M-mode.  Only MTIP is enabled (by
# set_timer): mask it again and raise STIP, which mideleg hands to S.
#   Jumped to by: trap_vector.  t0 = mcause.
trap_interrupt:
    slli    t0, t0, 1
    srli    t0, t0, 1                   # drop the interrupt bit
    li      t1, IRQ_MTI
    bne     t0, t1, trap_fatal
    # Forward only a deadline that has passed.  A board that updates MTIP
    # lazily (Septum's, at the end of an execution slice) may still show the
    # MTIP of a comparator S has since moved into the future.
    li      t0, CLINT_BASE + CLINT_MTIME
    ld      t1, 0(t0)
    li      t0, CLINT_BASE + CLINT_MTIMECMP
    ld      t2, 0(t0)
    bltu    t1, t2, trap_restore
    li      t0, MIP_MTIP
    csrc    mie, t0
    li      t0, MIP_STIP
    csrs    mip, t0
    j       trap_restore

# sbi_return: finish an SBI call with a0 = error, a1 = value.
#   Jumped to by: every SBI handler (sbi.S).  s11 = frame.
sbi_return:
    sd      a1, 11*8(s11)
# sbi_return_legacy: finish a legacy call: a0 = result, a1 left as it was.
sbi_return_legacy:
    sd      a0, 10*8(s11)
    csrr    t0, mepc
    addi    t0, t0, 4                   # mepc is the ecall; resume after it
    csrw    mepc, t0
    # fall through

# trap_restore: reload the interrupted context from the frame and mret.
trap_restore:
    mv      sp, s11
    ld      x1, 1*8(sp)
    ld      x3, 3*8(sp)
    ld      x4, 4*8(sp)
    ld      x5, 5*8(sp)
    ld      x6, 6*8(sp)
    ld      x7, 7*8(sp)
    ld      x8, 8*8(sp)
    ld      x9, 9*8(sp)
    ld      x10, 10*8(sp)
    ld      x11, 11*8(sp)
    ld      x12, 12*8(sp)
    ld      x13, 13*8(sp)
    ld      x14, 14*8(sp)
    ld      x15, 15*8(sp)
    ld      x16, 16*8(sp)
    ld      x17, 17*8(sp)
    ld      x18, 18*8(sp)
    ld      x19, 19*8(sp)
    ld      x20, 20*8(sp)
    ld      x21, 21*8(sp)
    ld      x22, 22*8(sp)
    ld      x23, 23*8(sp)
    ld      x24, 24*8(sp)
    ld      x25, 25*8(sp)
    ld      x26, 26*8(sp)
    ld      x27, 27*8(sp)
    ld      x28, 28*8(sp)
    ld      x29, 29*8(sp)
    ld      x30, 30*8(sp)
    ld      x31, 31*8(sp)
    ld      sp, 2*8(sp)                 # last: the interrupted sp
    mret

# trap_fatal: a trap the firmware cannot serve (its own fault, or an
# undelegated exception from below).  Report it and power off.
#   Jumped to by: trap_vector, trap_interrupt.  Does not return.
trap_fatal:
    la      a0, msg_fatal
    call    uart_puts
    csrr    a0, mcause
    call    uart_puthex
    la      a0, msg_mepc
    call    uart_puts
    csrr    a0, mepc
    call    uart_puthex
    la      a0, msg_mtval
    call    uart_puts
    csrr    a0, mtval
    call    uart_puthex
    li      a0, '\n'
    call    uart_putc
    li      t0, TEST_BASE
    li      t1, FINISHER_FAIL | (FIRMWARE_FAULT_CODE << FINISHER_CODE_SHIFT)
    sw      t1, 0(t0)
1:  wfi                                 # the finisher should have stopped us
    j       1b

msg_fatal:
    .asciz  "septum-sbi: fatal trap mcause="
msg_mepc:
    .asciz  " mepc="
msg_mtval:
    .asciz  " mtval="
