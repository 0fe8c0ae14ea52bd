# M-mode interrupts from the CLINT, printed as the hart saw them:
#  1. three machine timer interrupts out of wfi (direct mtvec): mcause,
#     mepc (relative to the instruction after wfi), mip and mstatus at entry,
#     and mip after re-arming mtimecmp (MTIP must drop at once);
#  2. wfi with mstatus.MIE = 0 wakes on a pending timer without trapping;
#  3. vectored mtvec: a pending timer interrupt is taken at base + 4 * 7 as
#     soon as mstatus.MIE is set, mepc = the next instruction;
#  4. a software interrupt (msip), taken when MIE is set, cleared by the
#     handler.
    .equ CLINT_MSIP, 0x2000000
    .equ CLINT_MTIMECMP, 0x2004000
    .equ CLINT_MTIME, 0x200bff8
    .equ MIP_MSIP, 0x8
    .equ MIP_MTIP, 0x80
    .equ MSTATUS_MIE, 0x8
    .equ DELTA, 500000              # 50 ms at 10 MHz: QEMU's timer runs on host time, and
                                    # must not fire in the few instructions before wfi

    .section .text.start, "ax"
    .globl _start
_start:
    la sp, stack_top
    la t0, handler
    csrw mtvec, t0
    li t0, MIP_MTIP
    csrw mie, t0

    # ---- 1: timer interrupts out of wfi
    li s0, 0
    call arm
    csrsi mstatus, MSTATUS_MIE
1:  wfi
after_wfi:
    li t0, 3
    blt s0, t0, 1b
    csrci mstatus, MSTATUS_MIE

    # ---- 2: wfi without the global enable: no trap, MTIP visible in mip
    call arm
    wfi
    csrr s1, mip
    li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)
    csrr s2, mip
    la a0, msg_wake
    call puts
    andi a0, s1, MIP_MTIP
    call puthex
    la a0, msg_mip_after
    call puts
    andi a0, s2, MIP_MTIP
    call puthex
    la a0, msg_nl
    call puts

    # ---- 3: vectored mode, pending before the global enable
    la t0, vectors
    ori t0, t0, 1
    csrw mtvec, t0
    li t0, CLINT_MTIMECMP
    sd zero, 0(t0)
    wfi
    csrsi mstatus, MSTATUS_MIE
after_enable:
    nop
    csrci mstatus, MSTATUS_MIE

    # ---- 4: software interrupt
    la t0, handler
    csrw mtvec, t0
    li t0, MIP_MSIP
    csrw mie, t0
    li t0, CLINT_MSIP
    li t1, 1
    sw t1, 0(t0)
    wfi
    csrr s1, mip
    la a0, msg_msip
    call puts
    andi a0, s1, MIP_MSIP
    call puthex
    la a0, msg_nl
    call puts
    csrsi mstatus, MSTATUS_MIE
after_msip:
    nop
    csrci mstatus, MSTATUS_MIE
    csrr s1, mip
    la a0, msg_msip_done
    call puts
    andi a0, s1, MIP_MSIP
    call puthex
    la a0, msg_nl
    call puts

    li a0, 0
    call finish

# arm: mtimecmp = mtime + DELTA
arm:
    li t0, CLINT_MTIME
    ld t1, 0(t0)
    li t2, DELTA
    add t1, t1, t2
    li t0, CLINT_MTIMECMP
    sd t1, 0(t0)
    ret

# report(a0 = label, a1 = expected mepc): one line with mcause, mepc - a1,
# and mip/mstatus as found at trap entry
report:
    addi sp, sp, -16
    sd ra, 0(sp)
    mv s5, a1
    csrr s2, mcause
    csrr s3, mip
    csrr s4, mstatus
    call puts
    la a0, msg_mcause
    call puts
    mv a0, s2
    call puthex
    la a0, msg_mepc
    call puts
    csrr a0, mepc
    sub a0, a0, s5
    call puthex
    la a0, msg_mip
    call puts
    andi a0, s3, MIP_MSIP | MIP_MTIP
    call puthex
    la a0, msg_mstatus
    call puts
    li t0, 0x1888                   # MPP, MPIE, MIE
    and a0, s4, t0
    call puthex
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .balign 4
handler:
    addi sp, sp, -64
    sd ra, 0(sp)
    sd t0, 8(sp)
    sd t1, 16(sp)
    sd t2, 24(sp)
    sd t3, 32(sp)
    sd a0, 40(sp)
    sd a1, 48(sp)
    csrr t0, mcause
    li t1, 3
    li t2, 1
    slli t2, t2, 63
    or t1, t1, t2                   # mcause of a machine software interrupt
    beq t0, t1, msip_irq
    # machine timer interrupt (part 1)
    addi s0, s0, 1
    la a0, msg_tick
    la a1, after_wfi
    call report
    li t0, 3
    bge s0, t0, 1f
    call arm
    j 2f
1:  li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)
2:  csrr s1, mip
    la a0, msg_mip_after
    call puts
    andi a0, s1, MIP_MTIP
    call puthex
    la a0, msg_nl
    call puts
    j handler_out
msip_irq:
    la a0, msg_sw
    la a1, after_msip
    call report
    li t0, CLINT_MSIP
    sw zero, 0(t0)
    la a0, msg_nl
    call puts
handler_out:
    ld ra, 0(sp)
    ld t0, 8(sp)
    ld t1, 16(sp)
    ld t2, 24(sp)
    ld t3, 32(sp)
    ld a0, 40(sp)
    ld a1, 48(sp)
    addi sp, sp, 64
    mret

# Vectored table: interrupt cause n enters at vectors + 4 * n.
    .balign 256
    .option push
    .option norvc
vectors:
    j bad_vector        # 0: exceptions
    j bad_vector
    j bad_vector
    j bad_vector        # 3: machine software
    j bad_vector
    j bad_vector
    j bad_vector
    j vec_timer         # 7: machine timer
    j bad_vector
    j bad_vector
    j bad_vector
    j bad_vector
    .option pop

vec_timer:
    addi sp, sp, -64
    sd ra, 0(sp)
    sd t0, 8(sp)
    sd t1, 16(sp)
    sd t2, 24(sp)
    sd t3, 32(sp)
    sd a0, 40(sp)
    sd a1, 48(sp)
    la a0, msg_vec
    la a1, after_enable
    call report
    li t0, CLINT_MTIMECMP
    li t1, -1
    sd t1, 0(t0)
    la a0, msg_nl
    call puts
    j handler_out

bad_vector:
    la a0, msg_bad
    call puts
    csrr a0, mcause
    call puthex
    li a0, 1
    call finish

    .include "common.inc"

    .section .rodata
msg_tick:       .asciz "timer"
msg_vec:        .asciz "vectored timer"
msg_sw:         .asciz "software"
msg_mcause:     .asciz " mcause="
msg_mepc:       .asciz " mepc-expected="
msg_mip:        .asciz " mip="
msg_mstatus:    .asciz " mstatus="
msg_mip_after:  .asciz " mip.MTIP after re-arm="
msg_wake:       .asciz "wfi woke with MIE=0, mip.MTIP="
msg_msip:       .asciz "msip pending, mip.MSIP="
msg_msip_done:  .asciz "after handler mip.MSIP="
msg_bad:        .asciz "unexpected vector, mcause="
msg_nl:         .asciz "\r\n"

    .bss
    .balign 16
    .space 4096
stack_top:
