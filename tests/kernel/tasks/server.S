# server.S — a test server: echoes, bulk copies, reports what it saw.
# Protocol (a2 = op): 0 echo (+1 on words 1..3; bulk is uppercased and
# returned), 1 last notification bits, 2 try supervisor-only calls, 3 read
# the secret, 4 address of the secret, 5 reply 32 bytes of bulk.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    li      s1, -1              # caller to reply to (none yet)
loop:
    mv      a0, s1
    la      a1, sbuf
    mv      a2, s2
    mv      a3, s3
    mv      a4, s4
    mv      a5, s5
    li      a6, 64
    SYS     SYS_REPLY_RECV
    li      t0, RECV_NOTIFICATION
    bne     a0, t0, 1f
    la      t0, lastnotif
    sd      a1, 0(t0)
    li      s1, -1
    j       loop
1:  mv      s1, a1
    mv      s2, a2
    li      t0, 0
    beq     a2, t0, op_echo
    li      t0, 1
    beq     a2, t0, op_notif
    li      t0, 2
    beq     a2, t0, op_priv
    li      t0, 3
    beq     a2, t0, op_secret
    li      t0, 4
    beq     a2, t0, op_where
    li      t0, 5
    beq     a2, t0, op_long
    li      s3, -1
    j       loop

op_echo:
    addi    s3, a3, 1
    addi    s4, a4, 1
    addi    s5, a5, 1
    beqz    a6, loop
    mv      s6, a6              # bytes received
    mv      s7, a7              # caller's buffer length
    la      t0, sbuf            # uppercase what arrived
    add     t1, t0, a6
2:  bgeu    t0, t1, 3f
    lbu     t2, 0(t0)
    li      t3, 'a'
    bltu    t2, t3, 4f
    li      t3, 'z'
    bgtu    t2, t3, 4f
    addi    t2, t2, 'A' - 'a'
    sb      t2, 0(t0)
4:  addi    t0, t0, 1
    j       2b
3:  mv      a0, s1
    la      a1, sbuf
    mv      a2, s6
    mv      a3, s7
    li      a4, 0
    li      a5, 0
    mv      a6, s6
    SYS     SYS_REPLY
    li      s1, -1
    j       loop

op_notif:
    la      t0, lastnotif
    ld      s3, 0(t0)
    j       loop

op_priv:
    li      a0, 0
    SYS     SYS_TASK_STATUS
    mv      s3, a0
    li      a0, 0
    SYS     SYS_SHUTDOWN
    mv      s4, a0
    ARGS    TASK_SUPER
    SYS     SYS_CALL
    mv      s5, a0
    j       loop

op_secret:
    la      t0, secret
    ld      s3, 0(t0)
    j       loop

op_where:
    la      s3, secret
    j       loop

op_long:
    mv      a0, s1
    la      a1, sbuf
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      a6, 32
    SYS     SYS_REPLY
    li      s1, -1
    j       loop

    .data
    .balign 8
secret:    .dword SECRET_VALUE
lastnotif: .dword 0
sbuf:      .zero 64
