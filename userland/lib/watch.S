# watch.S — every server's side of the supervisor's watchdog
# (septum.userland.supervision; the numbers come from manifest.inc).
#
# The supervisor pings a task that it finds runnable at a heartbeat with
# notification bit WATCH_PING_BIT, and asks for a real fault (`crash TASK`)
# with WATCH_CRASH_BIT.  A server's receive loop hands the notification
# bits it receives to watch_bits (or receives through watch_recv, which
# does it for it): the ping is answered at once with a NOTIFY of bit
# <our index> to the supervisor (the pong), if the manifest lets us notify
# it; the crash bit is answered by a load from address 0 (a load page
# fault the kernel records: cause, pc, tval = 0).  A task in a wait of its
# own (a disk completion, say) that keeps the other bits for later must
# still pass them through watch_bits.
#
# Self-contained (direct ecalls): links into any task, with or without
# sys.S.  The task's index is computed from where this code runs (task i
# lives at TASKS_BASE + i * TASK_SLOT, physical = virtual), so nothing
# needs initialising.
    .include "abi.inc"
    .include "manifest.inc"

    .text
# watch_bits(a0 = notification bits) -> a0 = the bits that are not the
# watchdog's.  Clobbers a1..a7, t0..t6 (a NOTIFY).  Does not return if the
# crash bit is set.
    .globl watch_bits
watch_bits:
    li      t0, 1 << WATCH_CRASH_BIT
    and     t1, a0, t0
    beqz    t1, 1f
    ld      t0, 0(zero)         # crash: a real fault at a known place
1:  li      t0, 1 << WATCH_PING_BIT
    and     t1, a0, t0
    beqz    t1, 3f
    xor     a0, a0, t0          # the ping is ours, not the caller's
    auipc   t2, 0               # our index: (pc - TASKS_BASE) / TASK_SLOT
    li      t3, TASKS_BASE
    sub     t2, t2, t3
    li      t3, TASK_SLOT
    divu    t2, t2, t3
    li      t3, PONG_TASKS      # no grant: no pong (a NOTIFY would be
    srl     t3, t3, t2          # refused and counted as a denial)
    andi    t3, t3, 1
    beqz    t3, 3f
    addi    sp, sp, -16
    sd      a0, 0(sp)           # the ecall clobbers every t register
    li      t3, 1
    sll     a1, t3, t2          # pong = bit <our index>
    li      a0, SUPERVISOR_TASK # its id: the supervisor is never restarted
    li      a7, SYS_NOTIFY
    ecall
    ld      a0, 0(sp)
    addi    sp, sp, 16
3:  ret

# watch_recv(a0 = mode, a1 = buffer, a6 = length) -> as RECV.  The
# watchdog's bits are handled here; a notification that carried nothing
# else is not returned (the RECV is made again).  Clobbers what RECV does.
    .globl watch_recv
watch_recv:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      a1, 16(sp)
    sd      a6, 24(sp)
1:  ld      a0, 8(sp)
    ld      a1, 16(sp)
    ld      a6, 24(sp)
    li      a7, SYS_RECV
    ecall
    li      t0, RECV_NOTIFICATION
    bne     a0, t0, 2f          # a message, or an error: as it is
    mv      a0, a1
    call    watch_bits
    beqz    a0, 1b              # only the watchdog's bits
    mv      a1, a0
    li      a0, RECV_NOTIFICATION
2:  ld      ra, 0(sp)
    addi    sp, sp, 32
    ret
