# sys.S — one wrapper per system call of kernel/ABI.md, and the CALL
# wrapper that follows a restarted peer.
#
# Every wrapper takes the call's arguments in a0..a6 exactly as the ABI
# names them and returns its results in a0..a7 (a0 = status); they clobber
# what the ABI clobbers (t0..t6, a0..a7).  They exist so that tasks read as
# "call sys_recv" rather than magic numbers in a7.
    .include "abi.inc"
    .include "msg.inc"

.equ CALL_RETRIES, 4        # attempts of ipc_call before giving up on a peer

.macro SYSCALL name, number
    .text
    .globl \name
\name:
    li      a7, \number
    ecall
    ret
.endm

    SYSCALL sys_call, SYS_CALL
    SYSCALL sys_recv, SYS_RECV
    SYSCALL sys_reply, SYS_REPLY
    SYSCALL sys_reply_recv, SYS_REPLY_RECV
    SYSCALL sys_notify, SYS_NOTIFY
    SYSCALL sys_irq_ack, SYS_IRQ_ACK
    SYSCALL sys_timer, SYS_TIMER
    SYSCALL sys_yield, SYS_YIELD
    SYSCALL sys_task_status, SYS_TASK_STATUS
    SYSCALL sys_task_restart, SYS_TASK_RESTART
    SYSCALL sys_task_stop, SYS_TASK_STOP
    SYSCALL sys_exit, SYS_EXIT
    SYSCALL sys_log, SYS_LOG
    SYSCALL sys_shutdown, SYS_SHUTDOWN

# is_dead(a0 status) -> a0 = 1 if the status is a dead code, else 0.
# Dead codes are 0xffff_0000 | generation (bits 31:16 all ones).
    .globl is_dead
is_dead:
    slli    a0, a0, 32
    srli    a0, a0, 48
    li      t0, DEAD_HI
    sub     a0, a0, t0
    seqz    a0, a0
    ret

# ipc_call(a0 = address of the peer's 32-bit id, a1 buffer, a2..a5 words,
#          a6 buffer length) -> as CALL.
# CALL the peer; on the dead code, rebuild the id from its index and the
# generation the code carries, store it back in the slot, and try again,
# CALL_RETRIES times in all.  Callers keep one id slot per peer in .data
# (initialised to TASK_<NAME>, generation 0).
# ipc_call_once: the same, but a dead code is returned to the caller (after
# the slot is updated) instead of retried: for requests that must not run
# twice.
    .globl ipc_call, ipc_call_once
ipc_call_once:
    li      t0, 1
    j       1f
ipc_call:
    li      t0, CALL_RETRIES
1:  addi    sp, sp, -80
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      a1, 24(sp)
    sd      a2, 32(sp)
    sd      a3, 40(sp)
    sd      a4, 48(sp)
    sd      a5, 56(sp)
    sd      a6, 64(sp)
    mv      s0, a0
    mv      s1, t0
2:  lwu     a0, 0(s0)
    ld      a1, 24(sp)
    ld      a2, 32(sp)
    ld      a3, 40(sp)
    ld      a4, 48(sp)
    ld      a5, 56(sp)
    ld      a6, 64(sp)
    li      a7, SYS_CALL
    ecall
    slli    t0, a0, 32
    srli    t0, t0, 48
    li      t1, DEAD_HI
    bne     t0, t1, 3f          # not dead: done
    lwu     t0, 0(s0)           # new id = generation from the code | index
    slli    t0, t0, 48
    srli    t0, t0, 48
    slli    t1, a0, 48
    srli    t1, t1, 32
    or      t0, t0, t1
    sw      t0, 0(s0)
    addi    s1, s1, -1
    bnez    s1, 2b
3:  ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    addi    sp, sp, 80
    ret
