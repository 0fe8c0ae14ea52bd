# faulty.S — does what it is asked, including what it must not.
# Protocol (a2 = op, a3 = argument): 0 echo a3+1, 1 load from a3, 2 store
# to a3, 3 jump to a3, 4 EXIT(a3), 5 store to its own code, 6 illegal
# instruction, 7 increment a .data counter (starts at 100) and a .bss word,
# reply both.  After a faulting op it replies 0xbad (it should not get
# there).
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    li      s1, -1
loop:
    mv      a0, s1
    li      a1, 0
    mv      a2, s2
    mv      a3, s3
    li      a4, 0
    li      a5, 0
    li      a6, 0
    SYS     SYS_REPLY_RECV
    mv      s1, a1
    li      s2, 0
    li      s3, 0xbad
    li      t0, 0
    beq     a2, t0, 0f
    li      t0, 1
    beq     a2, t0, 1f
    li      t0, 2
    beq     a2, t0, 2f
    li      t0, 3
    beq     a2, t0, 3f
    li      t0, 4
    beq     a2, t0, 4f
    li      t0, 5
    beq     a2, t0, 5f
    li      t0, 6
    beq     a2, t0, 6f
    li      t0, 7
    beq     a2, t0, 7f
    j       loop
0:  addi    s3, a3, 1
    j       loop
1:  ld      t0, 0(a3)
    j       loop
2:  sd      a3, 0(a3)
    j       loop
3:  jr      a3
4:  mv      a0, a3
    SYS     SYS_EXIT
    j       loop
5:  la      t0, _start
    sd      zero, 0(t0)
    j       loop
6:  .word   0                   # all zeros: an illegal instruction
    j       loop
7:  la      t0, counter         # counter += 1 and scratch += 1; reply both
    ld      s3, 0(t0)
    addi    s3, s3, 1
    sd      s3, 0(t0)
    la      t0, scratch
    ld      s2, 0(t0)
    addi    s2, s2, 1
    sd      s2, 0(t0)
    j       loop

    .data
    .balign 8
counter: .dword 100             # restart must bring back 100 (the image's value)
    .bss
    .balign 8
scratch: .zero 8                # ... and zero here
