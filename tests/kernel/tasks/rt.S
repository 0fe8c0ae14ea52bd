# rt.S — functions behind rt.inc (linked into every test task).
    .include "abi.inc"
    .include "rt.inc"
    .text

# rt_strlen — a0 = string; returns its length.  Clobbers t0.
    .globl rt_strlen
rt_strlen:
    mv      t0, a0
1:  lbu     a1, 0(t0)
    beqz    a1, 2f
    addi    t0, t0, 1
    j       1b
2:  sub     a0, t0, a0
    ret

# rt_puthex — LOG a0 as 0x + 16 hex digits.  Clobbers a0-a2, a7, t0-t2.
    .globl rt_puthex
rt_puthex:
    la      t0, rt_buf
    li      t1, '0'
    sb      t1, 0(t0)
    li      t1, 'x'
    sb      t1, 1(t0)
    addi    t0, t0, 17
    li      t2, 16
1:  andi    t1, a0, 15
    addi    t1, t1, '0'
    li      a1, '9'
    bleu    t1, a1, 2f
    addi    t1, t1, 'a' - '0' - 10
2:  sb      t1, 0(t0)
    srli    a0, a0, 4
    addi    t0, t0, -1
    addi    t2, t2, -1
    bnez    t2, 1b
    la      a0, rt_buf
    li      a1, 18
    SYS     SYS_LOG
    ret

# rt_ok — a0 = tag string: LOG "ok <tag>\n".
    .globl rt_ok
rt_ok:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    PUTS    rt_s_ok
    ld      a0, 8(sp)
    mv      t5, a0
    PUTS_REG
    PUTS    rt_s_nl
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# rt_fail — a0 = tag, a1 = the value seen: LOG "FAIL <tag> <value>\n".
    .globl rt_fail
rt_fail:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      a1, 16(sp)
    PUTS    rt_s_fail
    ld      t5, 8(sp)
    PUTS_REG
    PUTS    rt_s_sp
    ld      a0, 16(sp)
    call    rt_puthex
    PUTS    rt_s_nl
    ld      ra, 0(sp)
    addi    sp, sp, 32
    ret

    .section .rodata
rt_s_ok:   .asciz "ok "
rt_s_fail: .asciz "FAIL "
rt_s_sp:   .asciz " "
rt_s_nl:   .asciz "\n"

    .bss
rt_buf: .zero 24
