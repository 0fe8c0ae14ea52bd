# ping.S — client of pingpong.toml: N register-only CALLs to pong, each
# checked, then one marked round trip for the instruction count (the
# ecall at label bench_ecall), then power off.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"
    .text
    .globl _start
_start:
    li      s9, 0               # round trips done
    li      s10, 1000
    li      s11, 0              # mismatches
1:  li      a0, TASK_PONG
    li      a1, 0
    mv      a2, s9
    addi    a3, s9, 1
    addi    a4, s9, 2
    addi    a5, s9, 3
    li      a6, 0
    li      a7, SYS_CALL
    ecall
    bnez    a0, 2f
    addi    t0, s9, 1           # pong answers word + 1 on every word
    bne     a2, t0, 2f
    addi    t0, s9, 4
    bne     a5, t0, 2f
    j       3f
2:  addi    s11, s11, 1
3:  addi    s9, s9, 1
    bltu    s9, s10, 1b
    CHECK   s11, 0, pingpong.replies
    li      a0, TASK_PONG
    li      a1, 0
    li      a2, 7
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      a6, 0
    li      a7, SYS_CALL
    .globl bench_ecall, bench_return
bench_ecall:
    ecall
bench_return:
    CHECK   a2, 8, pingpong.bench
    li      a0, TASK_PONG
    SYS     SYS_TASK_STATUS
    mv      s8, a7              # CHECK clobbers a7
    CHECK   a1, TS_RECV_WAIT, pingpong.serverwaits
    # pong received 1001 requests and sent 1001 replies (ABI.md: IPC counters)
    CHECK   s8, (1001 << 32) | 1001, pingpong.ipccounts
    PUTS    done
    li      a0, 0
    SYS     SYS_SHUTDOWN
4:  j       4b
    .section .rodata
done: .asciz "ping: done\n"
