# Sv39 page faults: M-mode builds a three-level page table (gigapage
# identity maps for the devices and for RAM, plus a 4 KiB test region at VA
# 0x1_0000_0000 with read-only, read-write, execute-only, user and invalid
# pages), delegates page faults to S (medeleg) and drops to S with mret.
# S-mode probes the region; its trap handler prints scause, stval and sepc
# (relative to the probing instruction) and resumes after the probe.  Then
# S asks M (ecall) to stop delegating load page faults, and M's handler
# reports the next one itself (mcause, mtval, mepc, MPP).
    .equ PTE_V, 0x01
    .equ PTE_R, 0x02
    .equ PTE_W, 0x04
    .equ PTE_X, 0x08
    .equ PTE_U, 0x10
    .equ PTE_A, 0x40
    .equ PTE_D, 0x80
    .equ SATP_SV39, 8
    .equ VA_TEST, 0x100000000       # root index 4
    .equ OFF_RO, 0x0000
    .equ OFF_RW, 0x1000
    .equ OFF_X, 0x2000
    .equ OFF_U, 0x3000
    .equ OFF_INVALID, 0x4000
    .equ VA_NONCANONICAL, 0x0000400000000000
    .equ SSTATUS_SUM, 0x40000
    .equ SSTATUS_MXR, 0x80000
    .equ MEDELEG_PF, 0xb000         # instruction, load and store page faults
    .equ CAUSE_LOAD_PF_BIT, 0x2000
    .equ CAUSE_ECALL_S, 9

    .section .text.start, "ax"
    .globl _start
_start:
    la sp, stack_top
    la t0, m_handler
    csrw mtvec, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f                     # NAPOT, RWX: S may touch everything
    csrw pmpcfg0, t0

    # data the probes read back
    la t0, page_ro
    li t1, 0x1111
    sd t1, 0(t0)
    la t0, page_x
    li t1, 0x3333
    sd t1, 0(t0)
    la t0, page_u
    li t1, 0x4444
    sd t1, 0(t0)

    # root[0]: gigapage 0x0 (devices), root[2]: gigapage 0x8000_0000 (RAM)
    la s0, root
    li t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd t1, 0(s0)
    li t0, 0x80000000
    srli t0, t0, 12
    slli t0, t0, 10
    ori t0, t0, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd t0, 16(s0)
    # root[4] -> l1, l1[0] -> l0
    la a0, l1
    li a1, PTE_V
    call make_pte
    sd a0, 32(s0)
    la a0, l0
    li a1, PTE_V
    call make_pte
    la t0, l1
    sd a0, 0(t0)
    la s1, l0
    la a0, page_ro
    li a1, PTE_V | PTE_R | PTE_A
    call make_pte
    sd a0, 0(s1)
    la a0, page_rw
    li a1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    call make_pte
    sd a0, 8(s1)
    la a0, page_x
    li a1, PTE_V | PTE_X | PTE_A
    call make_pte
    sd a0, 16(s1)
    la a0, page_u
    li a1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
    call make_pte
    sd a0, 24(s1)
    # l0[4] stays 0: invalid

    la t0, root
    srli t0, t0, 12
    li t1, SATP_SV39
    slli t1, t1, 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li t0, MEDELEG_PF
    csrw medeleg, t0
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x0800                   # MPP = S
    csrs mstatus, t0
    la t0, s_main
    csrw mepc, t0
    mret

# make_pte(a0 = physical address, a1 = flags) -> a0 = PTE
make_pte:
    srli a0, a0, 12
    slli a0, a0, 10
    or a0, a0, a1
    ret

# ----- S mode --------------------------------------------------------------
# Each probe: s8 = its name, s6 = the probing instruction, s7 = where to go
# on. The trap handler prints and resumes at s7; a probe that does not
# fault prints "ok" and the value it read (s9).
    .macro PROBE name
    la s8, \name
    la s6, 1f
    la s7, 2f
    .endm

s_main:
    la t0, s_handler
    csrw stvec, t0
    li s10, VA_TEST

    PROBE m_load_invalid
    li t0, OFF_INVALID
    add t0, t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    PROBE m_load_ro
    mv t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    PROBE m_store_ro
    mv t0, s10
1:  sd zero, 0(t0)
    call ok
2:
    PROBE m_store_rw
    li t0, OFF_RW
    add t0, t0, s10
    li t1, 0x2222
1:  sd t1, 0(t0)
    ld s9, 0(t0)
    call ok
2:
    PROBE m_load_x
    li t0, OFF_X
    add t0, t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    li t0, SSTATUS_MXR
    csrs sstatus, t0
    PROBE m_load_x_mxr
    li t0, OFF_X
    add t0, t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    li t0, SSTATUS_MXR
    csrc sstatus, t0
    PROBE m_load_u
    li t0, OFF_U
    add t0, t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    li t0, SSTATUS_SUM
    csrs sstatus, t0
    PROBE m_load_u_sum
    li t0, OFF_U
    add t0, t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    PROBE m_store_u_sum
    li t0, OFF_U
    add t0, t0, s10
1:  sd zero, 8(t0)
    li s9, 0
    call ok
2:
    li t0, SSTATUS_SUM
    csrc sstatus, t0
    PROBE m_fetch_invalid
    li t0, OFF_INVALID
    add t0, t0, s10
    mv s6, t0
1:  jalr t0
    call ok
2:
    PROBE m_fetch_rw
    li t0, OFF_RW
    add t0, t0, s10
    mv s6, t0
1:  jalr t0
    call ok
2:
    PROBE m_load_noncanonical
    li t0, VA_NONCANONICAL
1:  ld s9, 0(t0)
    call ok
2:
    PROBE m_amo_ro
    mv t0, s10
1:  amoadd.d s9, zero, (t0)
    call ok
2:
    # stop delegating load page faults: the next one goes to M
    li a0, 1
    ecall
    PROBE m_load_invalid_m
    li t0, OFF_INVALID
    add t0, t0, s10
1:  ld s9, 0(t0)
    call ok
2:
    li a0, 0
    ecall                           # M: finish
3:  j 3b

ok:
    addi sp, sp, -16
    sd ra, 0(sp)
    mv a0, s8
    call puts
    la a0, msg_ok
    call puts
    mv a0, s9
    call puthex
    la a0, msg_nl
    call puts
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .balign 4
s_handler:
    mv a0, s8
    call puts
    la a0, msg_scause
    call puts
    csrr a0, scause
    call puthex
    la a0, msg_stval
    call puts
    csrr a0, stval
    call puthex
    la a0, msg_sepc
    call puts
    csrr a0, sepc
    sub a0, a0, s6
    call puthex
    la a0, msg_spp
    call puts
    csrr a0, sstatus
    srli a0, a0, 8
    andi a0, a0, 1
    call puthex
    la a0, msg_nl
    call puts
    csrw sepc, s7
    sret

# ----- M mode trap handler ------------------------------------------------------
    .balign 4
m_handler:
    csrr t0, mcause
    li t1, CAUSE_ECALL_S
    bne t0, t1, 1f
    beqz a0, 2f
    li t0, CAUSE_LOAD_PF_BIT        # a0 = 1: stop delegating load page faults
    csrc medeleg, t0
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
2:  li a0, 0
    call finish
1:  mv a0, s8
    call puts
    la a0, msg_mcause
    call puts
    csrr a0, mcause
    call puthex
    la a0, msg_mtval
    call puts
    csrr a0, mtval
    call puthex
    la a0, msg_mepc
    call puts
    csrr a0, mepc
    sub a0, a0, s6
    call puthex
    la a0, msg_mpp
    call puts
    csrr a0, mstatus
    srli a0, a0, 11
    andi a0, a0, 3
    call puthex
    la a0, msg_nl
    call puts
    csrw mepc, s7
    mret

    .include "common.inc"

    .section .rodata
m_load_invalid:         .asciz "load invalid page"
m_load_ro:              .asciz "load read-only page"
m_store_ro:             .asciz "store read-only page"
m_store_rw:             .asciz "store read-write page"
m_load_x:               .asciz "load execute-only page"
m_load_x_mxr:           .asciz "load execute-only page, MXR=1"
m_load_u:               .asciz "load user page from S, SUM=0"
m_load_u_sum:           .asciz "load user page from S, SUM=1"
m_store_u_sum:          .asciz "store user page from S, SUM=1"
m_fetch_invalid:        .asciz "fetch invalid page"
m_fetch_rw:             .asciz "fetch non-executable page"
m_load_noncanonical:    .asciz "load non-canonical address"
m_amo_ro:               .asciz "amoadd read-only page"
m_load_invalid_m:       .asciz "load invalid page, not delegated"
msg_ok:                 .asciz ": ok value="
msg_scause:             .asciz ": scause="
msg_stval:              .asciz " stval="
msg_sepc:               .asciz " sepc-probe="
msg_spp:                .asciz " SPP="
msg_mcause:             .asciz ": M mcause="
msg_mtval:              .asciz " mtval="
msg_mepc:               .asciz " mepc-probe="
msg_mpp:                .asciz " MPP="
msg_nl:                 .asciz "\r\n"

    .bss
    .balign 4096
root:   .space 4096
l1:     .space 4096
l0:     .space 4096
page_ro: .space 4096
page_rw: .space 4096
page_x: .space 4096
page_u: .space 4096
    .balign 16
    .space 4096
stack_top:
