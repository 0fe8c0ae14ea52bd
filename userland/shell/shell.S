# shell.S — the shell on the console: reads a line, runs a command, prints
# the prompt "septum> " again.
#
# Commands: help, ps, put K V, get K, del K, ls, crash TASK, attack KIND,
# uptime, reboot, poweroff.  It talks to the console (lib/cons.S), the
# supervisor (status, restarts, reboot, power-off: msg.inc SUP_*), the
# storage server (lib/store.S) and the attack task (msg.inc ATK_*); each
# peer id follows restarts (ipc_call).
#
# Typed lines are checked end to end.  The console sends each line with
# its line sum (lib/sum.S); the shell checks it on receipt, and again in
# the one pass over the line that computes a storage request's check word
# (line_pass: each byte read once for both sums), so a line changed
# anywhere between the keyboard and the request is never acted upon:
# `error: line corrupted, type it again`.  A line that fails on receipt
# is the console's (SUP_COMPLAIN); one that changed in our own buffer
# later, two receipt failures in a row, a request that lib/store.S built
# otherwise than line_pass checked it (STORE_CHANGED) or replies that
# still fail after two complaints (STORE_BAD_REPLY) make the shell stop
# itself (suspect_self): then it may be the one that is wrong.
# READ_FAILURES failed READLINEs in a row are a complaint about the
# console (it answers every call at once); should they go on after the
# console's restart, the supervisor's complainer rule fails the shell:
# its own calls were the broken ones.
# `ok` is printed only for a PUT whose reply checked out, and a value only
# after its last copy is checked against the record's check word.
#
# Register use in the command loop: s1 = line, s2 = line end, s3/s4 = the
# command word (start, length), s5/s6 = the first argument, s7/s8 = the
# rest of the line after it.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"
    .include "../storage/proto.inc"

.equ LINE_MAX, 200
.equ STORE_STATUSES, 7          # store_names: STORE_OK .. STORE_CHANGED
.equ READ_FAILURES, 3           # failed READLINEs in a row before a complaint
.equ VALUE_MAX, 256             # the storage protocol's longest value
.equ LIST_MAX, 32 * 33          # every key of a full store and its NUL
.equ TICKS_PER_SEC, 10000000    # timebase 10 MHz
.equ TICKS_PER_MS, 10000

    .text
    .globl _start
_start:
    la      t0, self_id         # our own id: `crash shell` faults here
    sw      a0, 0(t0)
    la      a0, banner
    call    cons_puts

prompt:
    la      a0, prompt_text
    call    cons_puts
    la      a0, line
    li      a1, LINE_MAX
    call    cons_readline
    la      t0, read_failures
    beqz    a0, 2f
    lwu     t1, 0(t0)           # console busy or gone: ask again; the
    addi    t1, t1, 1           # console answers every call now, so
    sw      t1, 0(t0)           # failures in a row are a complaint about
    li      t2, READ_FAILURES   # it -- and if they go on after its
    bltu    t1, t2, prompt      # restart, the supervisor fails us instead
    sw      zero, 0(t0)         # (the complainer rule): our own calls were
    li      a0, TASK_CONSOLE    # the broken ones
    call    complain
    j       prompt
2:  sw      zero, 0(t0)
    la      s1, line
    add     s2, s1, a1
    la      t0, line_rx_sum     # the console's sum, for line_pass
    sw      a2, 0(t0)
    mv      s3, a2
    mv      a0, s1
    call    line_sum
    slli    t0, s3, 32
    srli    t0, t0, 32
    la      t1, rx_failures
    beq     a0, t0, 3f
    lwu     t0, 0(t1)           # changed on its way from the console --
    addi    t0, t0, 1           # or, the second time running, our own
    sw      t0, 0(t1)           # check is what is broken
    li      t1, 2
    bgeu    t0, t1, corrupted_here
    li      a0, TASK_CONSOLE
    call    complain
    call    say_corrupted
    j       prompt
3:  sw      zero, 0(t1)
    mv      a0, s1
    call    next_word
    mv      s3, a0
    mv      s4, a1
    mv      a0, a2
    call    next_word
    mv      s5, a0
    mv      s6, a1
    mv      a0, a2              # the rest: from the next non-blank to the end
    call    skip_blanks
    mv      s7, a0
    sub     s8, s2, a0
    beqz    s4, prompt          # empty line
    la      s9, commands        # (name, handler) pairs, 0-terminated
1:  ld      a2, 0(s9)
    beqz    a2, unknown
    mv      a0, s3
    mv      a1, s4
    call    word_is
    bnez    a0, 2f
    addi    s9, s9, 16
    j       1b
2:  ld      t0, 8(s9)
    jalr    t0
    j       prompt

unknown:
    la      a0, m_unknown
    call    out_str
    mv      a0, s3
    mv      a1, s4
    call    out_bytes
    la      a0, m_tryhelp
    call    out_str
    call    out_nl
    j       prompt

# skip_blanks(a0 = position) -> a0 = first non-blank at or after it (< s2).
skip_blanks:
1:  bgeu    a0, s2, 2f
    lbu     t0, 0(a0)
    li      t1, ' '
    bne     t0, t1, 2f
    addi    a0, a0, 1
    j       1b
2:  ret

# next_word(a0 = position) -> a0 = word start, a1 = length, a2 = after it.
next_word:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    skip_blanks
    mv      a2, a0
1:  bgeu    a2, s2, 2f
    lbu     t0, 0(a2)
    li      t1, ' '
    beq     t0, t1, 2f
    addi    a2, a2, 1
    j       1b
2:  sub     a1, a2, a0
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# complain(a0 = task index) — tell the supervisor that the task answered
# wrongly (SUP_COMPLAIN: it is restarted as if it had faulted).
complain:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a3, a0
    la      a0, sup_id
    li      a1, 0
    li      a2, SUP_COMPLAIN
    li      a6, 0
    call    ipc_call
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# corrupted_here: the line changed in our own memory after its receipt
# was checked (or our check keeps failing): say so, then stop (suspect_self).
corrupted_here:
    call    say_corrupted
    j       suspect_self

say_corrupted:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      a0, st_changed
    call    out_str
    call    out_nl
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# line_pass(a0 op, a1 value length) -> a0 = the check word (lib/check.S)
# of the storage request op with the key s5/s6 and the value at s7 (a1
# bytes), or 0 if the line [s1, s2) no longer has the console's sum.  One
# pass: each byte of the line is read once and counted in the line's sum
# and, when it is part of the key or the value, in the request's, so the
# request's check word is of bytes whose line sum was just verified.
# Leaf; clobbers t0..t5.
line_pass:
    sub     t0, s2, s1          # the line sum starts with the length,
    add     t1, s6, a1          # the request's with klen + vlen
    mv      t2, s1
1:  bgeu    t2, s2, 4f
    lbu     t3, 0(t2)
    sub     t4, t2, s1          # the line's weight: position + 1
    addi    t4, t4, 1
    mul     t4, t4, t3
    add     t0, t0, t4
    sub     t4, t2, s5          # in the key: weight j + 1
    bgeu    t4, s6, 2f
    addi    t4, t4, 1
    j       3f
2:  sub     t4, t2, s7          # in the value: weight klen + j + 1
    bgeu    t4, a1, 5f
    add     t4, t4, s6
    addi    t4, t4, 1
3:  mul     t4, t4, t3
    add     t1, t1, t4
5:  addi    t2, t2, 1
    j       1b
4:  slli    t0, t0, 32          # mod 2^32
    srli    t0, t0, 32
    la      t4, line_rx_sum
    lwu     t4, 0(t4)
    bne     t0, t4, 6f
    slli    t1, t1, 32
    srli    t1, t1, 32
    slli    t4, s6, 8           # the shape: op | klen << 8 | vlen << 16
    or      t4, t4, a0
    slli    t5, a1, 16
    or      t4, t4, t5
    slli    t4, t4, 32
    or      a0, t4, t1
    ret
6:  li      a0, 0
    ret

# ----- commands: each is called with the parsed line in s3..s8 -------------

cmd_help:
    la      a0, help_text
    tail    cons_puts

cmd_uptime:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, 0               # no deadline: TIMER just tells the time
    li      a1, 0
    call    sys_timer
    mv      s9, a1
    la      a0, m_up
    call    out_str
    li      t0, TICKS_PER_SEC
    divu    a0, s9, t0
    call    out_dec
    li      a0, '.'
    call    out_char
    li      t0, TICKS_PER_MS    # milliseconds, three digits
    divu    s9, s9, t0
    li      t0, 1000
    remu    s9, s9, t0
    li      t0, 100
    divu    a0, s9, t0
    addi    a0, a0, '0'
    call    out_char
    li      t0, 10
    divu    a0, s9, t0
    remu    a0, a0, t0
    addi    a0, a0, '0'
    call    out_char
    li      t0, 10
    remu    a0, s9, t0
    addi    a0, a0, '0'
    call    out_char
    la      a0, m_seconds
    call    out_str
    call    out_nl
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# sup_status(a0 = index) -> a0 status, a3 state | mode << 8 | prio << 16 |
# id << 32, a4 restarts | denials << 32, a5 received << 32 | sent; `name`
# holds the NUL-terminated name.
sup_status:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a3, a0
    la      a0, sup_id
    la      a1, name
    li      a2, SUP_STATUS
    li      a6, TASK_NAME_MAX
    call    ipc_call
    bnez    a0, 1f
    bnez    a2, 2f              # the supervisor refused: no such task
    la      t0, name
    add     t0, t0, a1
    sb      zero, 0(t0)
    j       1f
2:  li      a0, SUP_BAD_REQUEST
1:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

cmd_ps:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    la      a0, ps_header
    call    cons_puts
    li      s9, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s9, t0, 9f
    mv      a0, s9
    call    sup_status
    bnez    a0, 8f
    sd      a3, 8(sp)
    sd      a4, 16(sp)
    sd      a5, 24(sp)
    srli    s10, a3, 32
    li      a0, ' '
    call    out_char
    mv      a0, s9
    call    out_dec
    li      a0, 4
    call    out_pad
    la      a0, name
    call    out_str
    li      a0, 16
    call    out_pad
    ld      a0, 8(sp)           # priority
    srli    a0, a0, 16
    andi    a0, a0, 0xff
    call    out_dec
    li      a0, 21
    call    out_pad
    ld      t0, 8(sp)           # state, unless the supervisor's mode says more
    srli    t1, t0, 8
    andi    t1, t1, 0xff
    andi    t0, t0, 0xff
    la      t2, state_names
    slli    t0, t0, 3
    add     t2, t2, t0
    ld      a0, 0(t2)
    beqz    t1, 2f
    la      t2, mode_names
    slli    t1, t1, 3
    add     t2, t2, t1
    ld      a0, 0(t2)
2:  call    out_str
    li      a0, 34
    call    out_pad
    ld      a0, 16(sp)          # restarts: bits 31:0
    slli    a0, a0, 32
    srli    a0, a0, 32
    call    out_dec
    li      a0, 44
    call    out_pad
    ld      a0, 16(sp)          # denials: bits 63:32
    srli    a0, a0, 32
    call    out_dec
    li      a0, 53
    call    out_pad
    ld      a0, 24(sp)          # messages sent: bits 31:0
    slli    a0, a0, 32
    srli    a0, a0, 32
    call    out_dec
    li      a0, 63
    call    out_pad
    ld      a0, 24(sp)          # messages received: bits 63:32
    srli    a0, a0, 32
    call    out_dec
    li      a0, 73
    call    out_pad
    mv      a0, s10
    call    out_hex
    call    out_nl
8:  addi    s9, s9, 1
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 32
    ret

# find_task(a0 = name, a1 = length) -> a0 = index, or -1.
find_task:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    sd      a1, 16(sp)
    li      s9, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s9, t0, 3f
    mv      a0, s9
    call    sup_status
    bnez    a0, 2f
    ld      a0, 8(sp)
    ld      a1, 16(sp)
    la      a2, name
    call    word_is
    bnez    a0, 4f
2:  addi    s9, s9, 1
    j       1b
3:  li      s9, -1
4:  mv      a0, s9
    ld      ra, 0(sp)
    addi    sp, sp, 32
    ret

cmd_crash:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a0, s5
    mv      a1, s6
    call    find_task
    bltz    a0, 7f
    beqz    a0, 6f              # index 0: the supervisor itself
    mv      s9, a0
    la      t0, self_id         # ourselves: the crash is ours to make (we
    lhu     t0, 0(t0)           # never receive, so the crash bit would wait)
    bne     t0, s9, 5f
    la      a0, m_crash_self
    call    out_str
    call    out_nl
    ld      t0, 0(zero)         # a load from address 0: load page fault
5:  mv      a3, s9
    la      a0, sup_id
    li      a1, 0
    li      a2, SUP_CRASH
    li      a6, 0
    call    ipc_call
    mv      s10, a3             # SUP_CRASH_POSTED or SUP_CRASH_RESTARTED
    la      a0, m_crash
    call    out_str
    la      a0, name
    call    out_str
    la      a0, m_crashed
    beqz    s10, 4f
    la      a0, m_restarted
4:  call    out_str
    call    out_nl
    j       9f
6:  la      a0, m_crash_sup
    call    out_str
    call    out_nl
    j       9f
7:  la      a0, m_notask
    call    out_str
    mv      a0, s5
    mv      a1, s6
    call    out_bytes
    call    out_nl
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

cmd_attack:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      s9, 1               # kind = 1 + position in attack_names
    la      s10, attack_names
1:  ld      a2, 0(s10)
    beqz    a2, 7f
    mv      a0, s5
    mv      a1, s6
    call    word_is
    bnez    a0, 2f
    addi    s9, s9, 1
    addi    s10, s10, 8
    j       1b
2:  li      a0, TASK_ATTACK     # not to a task the supervisor gave up on:
    call    sup_status          # a call to it would wait for ever
    bnez    a0, 6f
    srli    t0, a3, 8
    andi    t0, t0, 0xff
    li      t1, SUP_MODE_GAVE_UP
    beq     t0, t1, 6f
    srli    t0, a3, 32          # its current id: a stale one would get the
    la      t1, attack_id       # dead code before the attack ran
    sw      t0, 0(t1)
    la      a0, attack_id
    li      a1, 0
    mv      a2, s9
    li      a6, 0
    call    ipc_call_once       # an attack must not run twice
    call    is_dead
    beqz    a0, 9f
    la      a0, m_contained
    call    cons_puts
    j       9f
6:  la      a0, m_gaveup
    call    cons_puts
    j       9f
7:  la      a0, m_kinds
    call    cons_puts
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# report_store(a0 = storage status) — "ok" or the error's name.  After
# STORE_BAD_REPLY or STORE_CHANGED the shell stops itself (suspect_self).
report_store:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    li      t0, STORE_STATUSES
    bltu    a0, t0, 1f
    li      a0, STORE_STATUSES
1:  slli    a0, a0, 3
    la      t0, store_names
    add     a0, a0, t0
    ld      a0, 0(a0)
    call    out_str
    call    out_nl
    ld      t0, 8(sp)
    li      t1, STORE_BAD_REPLY # or STORE_CHANGED
    bgeu    t0, t1, suspect_self
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# suspect_self: storage's answers failed their checks although it was
# restarted twice (lib/store.S), a request changed while it was built, a
# line changed in our buffer, two lines running failed their receipt
# check, or READLINE keeps failing: the side that checks -- this shell,
# its code or its buffers -- is now the likelier culprit, and complaining
# on would only get the server given up on.  A real fault (a load from
# address 8), so the supervisor restarts the shell with its code restored.
suspect_self:
    ld      t0, 8(zero)
1:  j       1b                  # (not reached)

cmd_put:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, STORE_OP_PUT
    mv      a1, s8
    call    line_pass
    beqz    a0, 8f
    mv      a4, a0
    mv      a0, s5
    mv      a1, s6
    mv      a2, s7
    mv      a3, s8
    call    store_put_checked
    call    report_store
    j       9f
8:  call    corrupted_here
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

cmd_del:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, STORE_OP_DEL
    li      a1, 0
    call    line_pass
    beqz    a0, 8f
    mv      a4, a0
    mv      a0, s5
    mv      a1, s6
    call    store_del_checked
    call    report_store
    j       9f
8:  call    corrupted_here
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

cmd_get:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      a0, STORE_OP_GET
    li      a1, 0
    call    line_pass
    bnez    a0, 3f
    call    corrupted_here
3:  mv      a4, a0
    mv      a0, s5
    mv      a1, s6
    la      a2, value
    li      a3, VALUE_MAX
    call    store_get_checked
    beqz    a0, 1f
    call    report_store
    j       9f
    # The value as it is about to be printed, from `value`, against the
    # record's check word (lib/store.S verified its own copy): the last
    # hop checked too.
1:  li      t0, VALUE_MAX
    bgtu    a1, t0, 8f
    sd      a2, 8(sp)
    mv      a4, a1
    li      a0, STORE_OP_PUT
    mv      a1, s5
    mv      a2, s6
    la      a3, value
    call    check_word          # (a1..a4 survive)
    ld      t0, 8(sp)
    bne     a0, t0, 8f
    la      a0, value
    mv      a1, a4
    call    out_bytes
    call    out_nl
    j       9f
8:  li      a0, STORE_BAD_REPLY # our copy is wrong: say so, suspect_self
    call    report_store
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

cmd_ls:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      a0, keys
    li      a1, LIST_MAX
    call    store_list
    beqz    a0, 1f
    call    report_store
    j       9f
1:  mv      s9, a1              # the count
    la      s10, keys
    mv      s11, a1
2:  beqz    s11, 3f             # each key is NUL-terminated
    mv      a0, s10
    call    out_str
    call    out_nl
    mv      a0, s10
    call    str_len
    add     s10, s10, a0
    addi    s10, s10, 1
    addi    s11, s11, -1
    j       2b
3:  li      a0, '('
    call    out_char
    mv      a0, s9
    call    out_dec
    la      a0, m_keys
    call    out_str
    call    out_nl
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

cmd_reboot:
    li      a2, SUP_REBOOT
    j       1f
cmd_poweroff:
    li      a2, SUP_POWEROFF
1:  la      a0, sup_id
    li      a1, 0
    li      a6, 0
    tail    ipc_call            # does not come back (the machine stops)

    .section .rodata
    .balign 8
commands:
    .dword c_help, cmd_help
    .dword c_ps, cmd_ps
    .dword c_put, cmd_put
    .dword c_get, cmd_get
    .dword c_del, cmd_del
    .dword c_ls, cmd_ls
    .dword c_crash, cmd_crash
    .dword c_attack, cmd_attack
    .dword c_uptime, cmd_uptime
    .dword c_reboot, cmd_reboot
    .dword c_poweroff, cmd_poweroff
    .dword 0, 0
attack_names:                   # in ATK_* order (msg.inc), from ATK_KERNEL
    .dword a_kernel, a_memory, a_device, a_peer, a_buffers, a_flood, a_spin, 0
state_names:                    # TaskState (kernel/ABI.md)
    .dword s_ready, s_send, s_reply, s_recv, s_notify, s_faulted, s_exited, s_stopped
mode_names:                     # SUP_MODE_* (msg.inc)
    .dword s_ready, s_restarting, s_gaveup
store_names:                    # the storage statuses (proto.inc), then any other
    .dword st_ok, st_notfound, st_full, st_bad, st_io, st_badreply, st_changed
    .dword st_other

c_help:     .asciz "help"
c_ps:       .asciz "ps"
c_put:      .asciz "put"
c_get:      .asciz "get"
c_del:      .asciz "del"
c_ls:       .asciz "ls"
c_crash:    .asciz "crash"
c_attack:   .asciz "attack"
c_uptime:   .asciz "uptime"
c_reboot:   .asciz "reboot"
c_poweroff: .asciz "poweroff"
a_kernel:   .asciz "kernel"
a_memory:   .asciz "memory"
a_device:   .asciz "device"
a_peer:     .asciz "peer"
a_buffers:  .asciz "buffers"
a_flood:    .asciz "flood"
a_spin:     .asciz "spin"
s_ready:    .asciz "ready"
s_send:     .asciz "send-wait"
s_reply:    .asciz "reply-wait"
s_recv:     .asciz "recv-wait"
s_notify:   .asciz "notify-wait"
s_faulted:  .asciz "faulted"
s_exited:   .asciz "exited"
s_stopped:  .asciz "stopped"
s_restarting: .asciz "restarting"
s_gaveup:   .asciz "given-up"
st_ok:      .asciz "ok"
st_notfound: .asciz "not found"
st_full:    .asciz "error: store full"
st_bad:     .asciz "error: bad request"
st_io:      .asciz "error: I/O error"
st_badreply: .asciz "error: storage answered wrongly (checked)"
st_changed: .asciz "error: line corrupted, type it again"
st_other:   .asciz "error: unknown status"

banner:      .asciz "Septum shell. Type 'help' for the commands.\n"
prompt_text: .asciz "septum> "
help_text:
    .ascii "help            this list\n"
    .ascii "ps              tasks: priority, state, restarts, denials, IPC, id\n"
    .ascii "put KEY VALUE   store VALUE (the rest of the line) under KEY\n"
    .ascii "get KEY         print the value stored under KEY\n"
    .ascii "del KEY         delete KEY\n"
    .ascii "ls              list the keys\n"
    .ascii "crash TASK      make TASK fault; the supervisor restarts it\n"
    .ascii "attack KIND     kernel memory device peer buffers flood spin\n"
    .ascii "uptime          virtual time since boot\n"
    .ascii "reboot          reset the machine\n"
    .asciz "poweroff        power the machine off\n"
ps_header:
    .asciz " ID NAME        PRI  STATE        RESTARTS  DENIALS  SENT      RECV      ID\n"
m_unknown:   .asciz "unknown command: "
m_tryhelp:   .asciz " (try 'help')"
m_up:        .asciz "up "
m_seconds:   .asciz " s (virtual time)"
m_crash:     .asciz "crash: "
m_crashed:   .asciz " told to fault; the supervisor restarts it"
m_restarted: .asciz " restarted by the supervisor"
m_crash_self: .asciz "crash: shell: faulting now (a load from address 0)"
m_crash_sup: .asciz "crash: the supervisor cannot restart itself"
m_notask:    .asciz "crash: no task named "
m_keys:      .asciz " keys)"
m_contained: .asciz "shell: the attack task was stopped by the kernel (fault contained)\n"
m_gaveup:    .asciz "shell: the attack task is not running (the supervisor gave up on it)\n"
m_kinds:     .asciz "attack KIND: kernel memory device peer buffers flood spin\n"

    .data
    .balign 4
sup_id:    .word TASK_SUPERVISOR    # peer ids; ipc_call keeps them current
attack_id: .word TASK_ATTACK
self_id:   .word 0                  # our id, from _start
line_rx_sum: .word 0                # the console's line sum of `line`
rx_failures: .word 0                # receipt checks failed in a row
read_failures: .word 0              # READLINEs failed in a row

    .bss
line:  .zero LINE_MAX
name:  .zero TASK_NAME_MAX + 1
value: .zero VALUE_MAX
keys:  .zero LIST_MAX
