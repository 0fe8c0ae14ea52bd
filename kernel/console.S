# console.S — the kernel's own output, through the SBI legacy console.
#
# The kernel owns no UART: it prints its banner, fault reports and the LOG
# system call through the firmware (SBI v0.1 console_putchar, a7 = 1), which
# both our firmware and OpenSBI serve.  Per the SBI calling convention an
# ecall preserves every register except a0 and a1.

    .include "abi.inc"
    .include "config.inc"

    .text

# kputc — print one byte.
# Called from: anywhere in the kernel (call).  In: a0 = byte.
# Clobbers: a0, a1, a7.
    .globl kputc
kputc:
    li      a7, SBI_LEGACY_PUTCHAR
    ecall
    ret

# kputs — print a NUL-terminated string.
# In: a0 = address (kernel, identity mapped).  Clobbers: a0, a1, a7, t0.
    .globl kputs
kputs:
    mv      t0, a0
1:  lbu     a0, 0(t0)
    beqz    a0, 2f
    li      a7, SBI_LEGACY_PUTCHAR
    ecall
    addi    t0, t0, 1
    j       1b
2:  ret

# kputhex — print a0 as 0x followed by hex digits, no leading zeros.
# Clobbers: a0, a1, a7, t0, t1, t2.
    .globl kputhex
kputhex:
    mv      t1, a0
    li      a0, '0'
    li      a7, SBI_LEGACY_PUTCHAR
    ecall
    li      a0, 'x'
    ecall
    li      t2, 60
1:  beqz    t2, 2f              # always print the last digit
    srl     t0, t1, t2
    andi    t0, t0, 15
    bnez    t0, 2f
    addi    t2, t2, -4
    j       1b
2:  srl     t0, t1, t2
    andi    t0, t0, 15
    addi    a0, t0, '0'
    li      t0, 10
    srl     a1, t1, t2          # recompute the digit: a1 is free here
    andi    a1, a1, 15
    bltu    a1, t0, 3f
    addi    a0, a1, 'a' - 10
3:  ecall
    addi    t2, t2, -4
    bgez    t2, 2b
    ret

# klog_user — print len bytes of a task's memory (already checked).
# In: a0 = physical address, a1 = length.  Clobbers: a0, a1, a7, t0, t1.
    .globl klog_user
klog_user:
    li      t0, KWINDOW - KWINDOW_PA
    add     t0, t0, a0          # the kernel's window onto DRAM
    add     t1, t0, a1
1:  bgeu    t0, t1, 2f
    lbu     a0, 0(t0)
    li      a7, SBI_LEGACY_PUTCHAR
    ecall
    addi    t0, t0, 1
    j       1b
2:  ret
