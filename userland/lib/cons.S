# cons.S — the console server's client API (protocol: msg.inc).
#
# cons_write(a0 = bytes, a1 = length) -> a0 status
# cons_puts(a0 = NUL-terminated string) -> a0 status
# cons_readline(a0 = buffer, a1 = capacity) -> a0 status, a1 line length,
#   a2 the line's line_sum (lib/sum.S) as the console computed it: the
#   caller checks the line with it (the line is in the buffer, without the
#   newline, not NUL-terminated)
# cons_read(a0 = buffer, a1 = capacity) -> a0 status, a1 length: raw bytes,
#   at least one (waits for them), no echo
# out_sink(a0, a1) = cons_write: tasks that link cons.S print through out.S.
# All follow a restarted console (ipc_call).  Needs fmt.S (mem_copy) and
# sys.S.  Clobber a0..a7, t0..t6.
#
# Waiting for input.  The console answers every call at once: with the data
# when it is there, else with CONS_WAIT, and NOTIFYs the reader (bit
# TASK_CONSOLE) when it is; cons_readline and cons_read then wait for that
# bit in a notifications-only RECV and call again.  While they wait, the
# task's TIMER is armed to post the same bit after CONS_POLL (msg.inc), so
# the reader also asks again on its own: a console restarted meanwhile has
# forgotten its readers (the call follows it to its new generation and
# registers again).  So a caller's own TIMER deadline does not survive a
# read (the shell uses TIMER only to read the time).  Other bits received
# while waiting go to lib/watch.S's watch_bits if the task links it (found
# through a weak reference: pings are answered, the crash bit faults);
# in a task without watch.S they are dropped.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"

.equ CONS_CHUNK, 240        # at most the console's receive buffer per CALL
.equ CONS_NOTIFY_BIT, 1 << TASK_CONSOLE  # the console's "call again"

    .text
    .globl cons_write, out_sink
out_sink:
cons_write:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    mv      s0, a0
    mv      s1, a1
    li      a0, CONS_OK
1:  beqz    s1, 3f
    mv      a6, s1
    li      t0, CONS_CHUNK
    bleu    a6, t0, 2f
    mv      a6, t0
2:  sd      a6, 24(sp)
    la      a0, cons_bounce     # CALL buffers must be writable (they take
    mv      a1, s0              # the reply): the text may be read-only
    mv      a2, a6
    call    mem_copy
    ld      a6, 24(sp)
    la      a0, cons_id
    la      a1, cons_bounce
    li      a2, CONS_WRITE
    call    ipc_call
    bnez    a0, 3f
    ld      t0, 24(sp)
    add     s0, s0, t0
    sub     s1, s1, t0
    j       1b
3:  ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    addi    sp, sp, 32
    ret

    .globl cons_puts
cons_puts:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    call    str_len
    mv      a1, a0
    ld      a0, 8(sp)
    call    cons_write
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .globl cons_readline, cons_read
cons_read:
    li      a2, CONS_READ
    j       1f
cons_readline:
    li      a2, CONS_READLINE
1:  addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      s2, 24(sp)
    mv      s0, a0
    mv      s1, a1
    mv      s2, a2
2:  mv      a1, s0
    mv      a6, s1
    mv      a2, s2
    la      a0, cons_id
    call    ipc_call
    bnez    a0, 4f              # the kernel's error (a0 as it is)
    li      t0, CONS_WAIT
    bne     a2, t0, 3f
    call    cons_wait
    j       2b
3:  mv      a0, a2              # the console's status
    mv      a1, a3              # the length
    mv      a2, a4              # READLINE: the line's sum
4:  ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    ld      s2, 24(sp)
    addi    sp, sp, 32
    ret

# cons_wait — wait for the console's bit, or CONS_POLL.  Clobbers a0..a7, t0..t6.
cons_wait:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, 0               # TIMER(0): no deadline, a1 = now
    li      a1, 0
    li      a7, SYS_TIMER
    ecall
    li      t0, CONS_POLL
    add     a0, a1, t0
    li      a1, CONS_NOTIFY_BIT
    li      a7, SYS_TIMER
    ecall
1:  li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    li      a7, SYS_RECV
    ecall
    mv      a0, a1              # the bits
    la      t0, cons_watch
    ld      t0, 0(t0)
    beqz    t0, 2f              # no lib/watch.S: other bits are dropped
    jalr    t0                  # watch_bits: a0 = the bits not the watchdog's
2:  li      t0, CONS_NOTIFY_BIT
    and     t0, a0, t0
    beqz    t0, 1b
    li      a0, 0               # woken (by the console or the poll): the
    li      a1, 0               # deadline, if still armed, is not wanted
    li      a7, SYS_TIMER
    ecall
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .data
    .balign 8
    .weak watch_bits
cons_watch: .dword watch_bits   # 0 when the task does not link lib/watch.S
    .globl cons_id
cons_id: .word TASK_CONSOLE     # generation 0; ipc_call keeps it current
    .bss
cons_bounce: .zero CONS_CHUNK
