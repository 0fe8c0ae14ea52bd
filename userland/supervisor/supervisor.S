# supervisor.S — the supervisor: fault log, restarts with back-off, give-up,
# a watchdog for hung tasks, status for `ps`, crash requests, reboot and
# power-off.
#
# The kernel posts notification bit 31 (NOTIFY_FAULT_BIT) whenever a task
# stops.  The supervisor then reads every task's TASK_STATUS, logs
#   supervisor: <task> faulted: cause=<scause> pc=<pc> tval=<stval>
# and schedules a restart after a back-off that doubles with each failure
# in the current window (BACKOFF_BASE << failures-1, virtual time: TIMER
# deadlines).  A task that fails GIVEUP_FAILS times within WINDOW is left
# stopped, and the log says so.  It logs through the kernel (LOG), never
# through the console server: the console may be the task that is down.
#
# Watchdog (septum.userland.supervision; MINIX 3's reincarnation server):
# every WATCH_HEARTBEAT ticks each watched task (WATCHED_TASKS: those our
# manifest entry may notify) is looked at.  Blocked in an IPC wait (CALL,
# RECV): healthy.  Runnable: it is pinged (WATCH_PING_BIT; lib/watch.S
# answers at its next RECV with a pong, bit <its index> on us), and it is
# healthy if it ponged since the last heartbeat or its kernel IPC counters
# (TASK_STATUS a7) moved, and excused if a more urgent task is runnable too
# (it may only be starved).  Runnable and none of these, WATCH_MISSES
# heartbeats in a row: hung.  Of the hung tasks found at one heartbeat only the most
# urgent are failed (the others may merely be starved by them):
#   supervisor: <task> faulted: cause=hung (missed <n> heartbeats)
# Five more rules at each heartbeat catch servers that look alive:
# - interrupt storm (check_storms): a watched task that received more than
#   WATCH_STORM messages beyond those it sent since the last heartbeat (an
#   interrupt it never clears: each turn of its loop is a delivery)
#     supervisor: <task> faulted: cause=storm (<n> notifications in a heartbeat)
# - unanswered call (check_calls): a task T seen in SEND_WAIT/REPLY_WAIT on
#   the same watched server S (TASK_STATUS a1 bits 15:8), its IPC counts
#   unchanged, at WATCH_MISSES heartbeats in a row blames S -- unless S is
#   the supervisor, not up, stopped, or itself in a CALL (then the end of
#   the chain is blamed through S's own wait).  Sound because every server
#   answers every call at once (the console's READLINE answers CONS_WAIT)
#     supervisor: <S> faulted: cause=unanswered (<T> waited <n> heartbeats)
# - deaf to its interrupt (check_deaf): a watched task seen blocked in a
#   RECV (RECV_WAIT, NOTIFY_WAIT) while an interrupt of its awaits its
#   IRQ_ACK (TASK_STATUS a1 bit 16: the kernel keeps a delivered source
#   masked until then) at WATCH_MISSES heartbeats in a row: it took the
#   notification and waits for more without acknowledging, so it never
#   hears its device again, though it answers calls and pings.  Drivers
#   ack before their next RECV (between the two they are runnable, or in
#   a CALL), and a restarted one acks at its start
#     supervisor: <task> faulted: cause=deaf to its interrupt (<n> heartbeats)
# - code scrub (check_code): one watched task that is up per heartbeat,
#   round robin, has its code compared with the pristine copy (the
#   kernel's TASK_VERIFY); a difference is corruption, whatever its
#   symptom: that task is verified at each heartbeat, and one still
#   different at WATCH_SCRUB_GRACE heartbeats in a row (the other rules
#   name the symptom first if they see it) is failed
#     supervisor: <task> faulted: cause=code corrupted (offset <n>)
# - complaint (op_complain, SUP_COMPLAIN a3 = index): a client that got a
#   wrong answer reports the server (only tasks granted to call us can)
#     supervisor: <task> faulted: cause=complaint from <caller>
#   (a caller whose own code differs from its pristine copy is failed
#   instead, cause=code corrupted), and the same complaint again about
#   the restarted task, within WINDOW, fails the complainer instead (a
#   corrupted client finds every answer wrong)
#     supervisor: <caller> faulted: cause=complained about <task> again after its restart
# A task failed by any rule is stopped at once (TASK_STOP: it is STOPPED,
# spins no more and keeps nobody waiting: its callers get the dead code),
# then the same back-off and give-up as a fault: the TASK_RESTART at the
# end of the back-off starts it again; one given up on stays stopped, and
# the log says so for every task given up on:
#   supervisor: <task> stays stopped
#
# Requests (msg.inc SUP_*): STATUS of a task (state, mode, priority,
# restarts, denials, IPC counts, id, name), CRASH a task (a real fault: the
# crash bit, answered by lib/watch.S with a load from address 0; a task
# that is not watched, not running, or ignores the bit for a heartbeat is
# restarted instead), RESTART a task on request, COMPLAIN about a task,
# REBOOT, POWEROFF.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"

.equ TIMER_BIT, 1 << SUPERVISOR_TASK  # our deadline: our own index's bit,
                                # which no task pongs with
.equ BACKOFF_BASE, 100000       # 10 ms (timebase 10 MHz)
.equ BACKOFF_MAX_SHIFT, 6       # at most 640 ms
.equ WINDOW, 20000000           # 2 s of virtual time
.equ GIVEUP_FAILS, 5            # failures within WINDOW that end the retries
.equ FINISHER_RESET, 0x7777     # sifive,test0: reset the machine
.equ PRIO_NONE, 8               # less urgent than any priority (0..7)
.equ CRASH_PENDING, 1 << 32     # TR_CRASH: a request is out (ids are 32 bits)

# Per-task record (TR_*), TR_SIZE bytes each, in `records`.
.equ TR_MODE, 0                 # SUP_MODE_*
.equ TR_RESTARTS, 8             # restarts so far (any reason)
.equ TR_FAILS, 16               # failures in the current window
.equ TR_WINDOW, 24              # start of the current window (ticks)
.equ TR_DEADLINE, 32            # when a scheduled restart is due
.equ TR_MISSES, 40              # heartbeats in a row runnable without progress
.equ TR_IPC, 48                 # its IPC counters at the last heartbeat
.equ TR_CRASH, 56               # CRASH_PENDING | the id asked to crash, or 0
.equ TR_CRASH_AT, 64            # when it was asked
.equ TR_SEEN_STATE, 72          # at this heartbeat: its state (TS_*),
.equ TR_SEEN_ID, 80             # its id,
.equ TR_SEEN_IPC, 88            # its IPC counts,
.equ TR_SEEN_WAIT, 96           # whom it waits on (SEND_WAIT, REPLY_WAIT)
.equ TR_CALL_ON, 104            # 1 + the task its CALL waited on at the last
                                # heartbeat, 0 = none
.equ TR_CALL_IPC, 112           # its IPC counts then (the same call: unchanged)
.equ TR_CALL_BEATS, 120         # heartbeats in a row seen waiting on that call
.equ TR_BEAT_IPC, 128           # its IPC counts at the last heartbeat (storms)
.equ TR_PLAINTIFF, 136          # 1 + who complained if that failed it last, or 0
.equ TR_SEEN_HELD, 144          # at this heartbeat: an interrupt of its
                                # awaits its IRQ_ACK (TASK_STATUS a1 bit 16)
.equ TR_DEAF, 152               # heartbeats in a row seen in a RECV, held
.equ TR_SIZE, 160

    .text
    .globl _start
_start:
    mv      s11, a0             # our own id (never restarted: also our index)
    la      a0, hello
    call    out_str
    call    out_nl
    j       wake                # the first heartbeat, the timer armed

serve:
    li      a0, RECVMODE_OPEN
    li      a1, 0
    li      a6, 0
    call    sys_recv
    beqz    a0, message
    mv      s1, a1              # the pending bits
    li      t0, 1 << NOTIFY_FAULT_BIT
    and     t0, s1, t0
    beqz    t0, 1f
    call    scan_faults
1:  la      t0, pongs           # pongs since the last heartbeat
    ld      t1, 0(t0)
    li      t2, PONG_TASKS
    and     t2, t2, s1
    or      t1, t1, t2
    sd      t1, 0(t0)
    li      t0, TIMER_BIT
    and     t0, s1, t0
    beqz    t0, wake
    la      t0, armed           # the deadline fired and was cleared
    sd      zero, 0(t0)
wake:
    call    now
    mv      s7, a0
    la      t0, next_beat
    ld      t1, 0(t0)
    bltu    s7, t1, 1f
    li      t2, WATCH_HEARTBEAT
    add     t2, s7, t2
    sd      t2, 0(t0)
    call    heartbeat           # s7 = now
1:  call    restart_due         # also re-arms the timer
    j       serve

message:
    mv      s1, a1              # the caller
    li      t0, SUP_STATUS
    beq     a2, t0, op_status
    li      t0, SUP_RESTART
    beq     a2, t0, op_restart
    li      t0, SUP_CRASH
    beq     a2, t0, op_crash
    li      t0, SUP_REBOOT
    beq     a2, t0, op_reboot
    li      t0, SUP_POWEROFF
    beq     a2, t0, op_poweroff
    li      t0, SUP_COMPLAIN
    beq     a2, t0, op_complain
bad_request:
    li      a2, SUP_BAD_REQUEST
reply_plain:
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply
    j       serve

# STATUS a3 = index -> a2 SUP_OK, a3 state | mode << 8 | priority << 16 |
# id << 32, a4 restarts | denials << 32, a5 IPC counts (TASK_STATUS a7:
# received << 32 | sent); bulk: the name.
op_status:
    li      t0, TASKS_TOTAL
    bgeu    a3, t0, bad_request
    mv      s2, a3
    mv      a0, a3
    call    sys_task_status
    andi    s3, a1, STATUS_STATE_MASK   # the state (not whom it waits on)
    mv      s4, a2              # id
    mv      s5, a6              # denials
    mv      s8, a7              # IPC counts
    mv      a0, s2
    call    record
    mv      s6, a0
    mv      a0, s2
    call    task_name
    mv      s7, a0
    call    str_len
    mv      a6, a0
    mv      a1, s7
    ld      t0, TR_MODE(s6)
    slli    t0, t0, 8
    or      a3, s3, t0
    la      t1, priorities
    add     t1, t1, s2
    lbu     t1, 0(t1)
    slli    t1, t1, 16
    or      a3, a3, t1
    slli    t1, s4, 32          # the id in bits 63:32
    or      a3, a3, t1
    ld      a4, TR_RESTARTS(s6)
    slli    a4, a4, 32          # restarts in bits 31:0, denials in 63:32
    srli    a4, a4, 32
    slli    t0, s5, 32
    or      a4, a4, t0
    mv      a5, s8
    li      a2, SUP_OK
    mv      a0, s1
    call    sys_reply
    j       serve

# RESTART a3 = index: stop it if alive and start it afresh.
op_restart:
    li      t0, TASKS_TOTAL
    bgeu    a3, t0, bad_request
    beq     a3, s11, bad_request        # not ourselves (index 0 = our id)
    call    request_restart
    li      a2, SUP_OK
    j       reply_plain

# request_restart(a0 = index) — log the request, stop the task if alive
# and start it afresh, with a new window.
request_restart:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    la      a0, m_request
    call    out_str
    ld      a0, 8(sp)
    call    task_name
    call    out_str
    call    out_nl
    ld      a0, 8(sp)
    call    record
    sd      zero, TR_FAILS(a0)  # a new chance, also for a task given up on
    ld      a0, 8(sp)
    call    restart_now
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# CRASH a3 = index: a real fault.  A running task of CRASH_TASKS (watched,
# links lib/watch.S) gets the crash bit (reply a3 = SUP_CRASH_POSTED); any
# other is restarted as RESTART does (a3 = SUP_CRASH_RESTARTED).
op_crash:
    li      t0, TASKS_TOTAL
    bgeu    a3, t0, bad_request
    beq     a3, s11, bad_request        # not ourselves
    mv      s2, a3
    li      t0, CRASH_TASKS     # watched, and links lib/watch.S
    srl     t0, t0, s2
    andi    t0, t0, 1
    beqz    t0, 1f
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    bnez    t0, 1f              # restarting or given up: start it now
    mv      a0, s2
    call    sys_task_status
    andi    a1, a1, STATUS_STATE_MASK
    li      t0, TS_FAULTED
    bgeu    a1, t0, 1f
    mv      s4, a2              # its id
    la      a0, m_crashreq      # supervisor: crash requested: <task>
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    call    out_nl
    mv      a0, s4
    li      a1, 1 << WATCH_CRASH_BIT
    call    sys_notify
    li      t0, CRASH_PENDING
    or      t0, t0, s4
    sd      t0, TR_CRASH(s6)
    call    now
    sd      a0, TR_CRASH_AT(s6)
    li      a3, SUP_CRASH_POSTED
    j       2f
1:  mv      a0, s2
    call    request_restart
    li      a3, SUP_CRASH_RESTARTED
2:  li      a2, SUP_OK
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply
    j       serve

# COMPLAIN a3 = index: a client got a wrong answer from that task (MINIX 3's
# reincarnation server also acts on other components' reports).  It is
# failed as a hung task is: stopped now, then the back-off, restart or
# give-up.  One already restarting, given up on, or stopped (the fault
# path has it) is left as it is.  Either way the answer is SUP_OK.  Only
# tasks the manifest lets call us get here: no new authority (they could
# already SUP_RESTART).
# A complaint is not proof: a corrupted client finds every answer wrong.
# So a caller whose code differs from its pristine copy (TASK_VERIFY) is
# failed instead, at once (cause=code corrupted); and when the task's last failure was a complaint from the same caller,
# it has been restarted since (its code restored) and the window is not
# over, the caller is failed instead (and the task's record forgets who
# complained, so a restarted caller's complaint counts again).
op_complain:
    li      t0, TASKS_TOTAL
    bgeu    a3, t0, bad_request
    beq     a3, s11, bad_request        # not ourselves (index 0 = our id)
    mv      s2, a3
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    bnez    t0, 1f              # restarting or given up: nothing more
    mv      a0, s2
    call    sys_task_status
    andi    a1, a1, STATUS_STATE_MASK
    li      t0, TS_FAULTED
    bgeu    a1, t0, 1f          # stopped: the fault path has it
    slli    s3, s1, 48          # the caller's index
    srli    s3, s3, 48
    mv      a0, s3              # a complainer whose code differs from the
    li      a7, SYS_TASK_VERIFY # pristine copy is not believed: it is the
    ecall                       # one failed (as the code scrub does)
    bnez    a0, 3f
    beqz    a1, 3f
    mv      s2, s3
    addi    s3, a1, -1
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    bnez    t0, 1f
    call    fail_corrupted
    j       1f
3:  ld      t0, TR_PLAINTIFF(s6)
    addi    t1, s3, 1
    bne     t0, t1, 2f
    call    now
    ld      t0, TR_DEADLINE(s6) # when its restart was due
    sub     t0, a0, t0
    li      t1, WINDOW
    bgeu    t0, t1, 2f
    sd      zero, TR_PLAINTIFF(s6)      # the same complaint again: the caller
    mv      s4, s2                      # is suspect, not the task
    mv      s2, s3
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    bnez    t0, 1f
    mv      a0, s2
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <caller> faulted: cause=complained about <task> again after its restart
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_complained
    call    out_str
    mv      a0, s4
    call    task_name
    call    out_str
    la      a0, m_again
    call    out_str
    call    out_nl
    call    fail_task
    j       1f
2:  mv      a0, s2
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <task> faulted: cause=complaint from <caller>
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_complaint
    call    out_str
    mv      a0, s3
    call    task_name
    call    out_str
    call    out_nl
    call    fail_task
    addi    t0, s3, 1           # who complained (fail_task cleared it)
    sd      t0, TR_PLAINTIFF(s6)
1:  li      a2, SUP_OK
    j       reply_plain

op_reboot:
    la      a0, m_reboot
    call    out_str
    call    out_nl
    li      t0, DEV_TEST
    li      t1, FINISHER_RESET
    sw      t1, 0(t0)
1:  j       1b                  # the board resets before we get here

op_poweroff:
    la      a0, m_poweroff
    call    out_str
    call    out_nl
    li      a0, 0
    call    sys_shutdown
    j       bad_request         # not reached

# scan_faults — log and schedule every newly stopped task.
scan_faults:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, 9f
    mv      a0, s2
    call    sys_task_status
    bnez    a0, 8f
    andi    a1, a1, STATUS_STATE_MASK
    li      t0, TS_FAULTED
    bltu    a1, t0, 8f          # alive
    mv      s3, a3              # cause
    mv      s4, a4              # tval (EXIT: the code)
    mv      s5, a5              # pc
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    bnez    t0, 8f              # already handled
    # supervisor: <task> faulted: cause=.. pc=.. tval=..
    la      a0, m_sup
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    li      t0, CAUSE_EXIT
    bne     s3, t0, 2f
    la      a0, m_exited
    call    out_str
    mv      a0, s4
    call    out_hex
    j       3f
2:  la      a0, m_faulted
    call    out_str
    mv      a0, s3
    call    out_hex
    la      a0, m_pc
    call    out_str
    mv      a0, s5
    call    out_hex
    la      a0, m_tval
    call    out_str
    mv      a0, s4
    call    out_hex
3:  call    out_nl
    call    fail_task
8:  addi    s2, s2, 1
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# fail_task(s2 = index, s6 = its record) — count a failure in the window;
# schedule the restart after the back-off, or give up.  Clobbers s7, s8.
fail_task:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      zero, TR_MISSES(s6)
    sd      zero, TR_CRASH(s6)
    sd      zero, TR_PLAINTIFF(s6)
    # The window: failures counted since TR_WINDOW, reset when it is over.
    call    now
    mv      s7, a0
    ld      t0, TR_WINDOW(s6)
    ld      t1, TR_FAILS(s6)
    sub     t2, s7, t0
    li      t3, WINDOW
    bltu    t2, t3, 4f
    sd      s7, TR_WINDOW(s6)
    li      t1, 0
4:  addi    t1, t1, 1
    sd      t1, TR_FAILS(s6)
    li      t3, GIVEUP_FAILS
    bgeu    t1, t3, 6f
    # back-off = BACKOFF_BASE << min(fails - 1, BACKOFF_MAX_SHIFT)
    addi    t1, t1, -1
    li      t3, BACKOFF_MAX_SHIFT
    bleu    t1, t3, 5f
    mv      t1, t3
5:  li      t4, BACKOFF_BASE
    sll     s8, t4, t1
    add     t0, s7, s8
    sd      t0, TR_DEADLINE(s6)
    li      t0, SUP_MODE_RESTARTING
    sd      t0, TR_MODE(s6)
    la      a0, m_sup           # supervisor: restarting <task> in <n> ms
    call    out_str
    la      a0, m_restarting
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_in
    call    out_str
    li      t0, 10000           # ticks per ms
    divu    a0, s8, t0
    call    out_dec
    la      a0, m_ms
    call    out_str
    call    out_nl
    j       8f
6:  li      t0, SUP_MODE_GAVE_UP
    sd      t0, TR_MODE(s6)
    la      a0, m_sup           # supervisor: <task> failed N times within 2000 ms: giving up
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_failed
    call    out_str
    ld      a0, TR_FAILS(s6)
    call    out_dec
    la      a0, m_within
    call    out_str
    li      a0, WINDOW / 10000
    call    out_dec
    la      a0, m_giveup
    call    out_str
    call    out_nl
    la      a0, m_sup           # supervisor: <task> stays stopped
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_stays
    call    out_str
    call    out_nl
8:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# heartbeat(s7 = now) — the watchdog's round (see the top of this file).
# Clobbers s2..s10.
heartbeat:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    # First every task's state (kept in its record), and the most urgent
    # priority of a runnable task: a task less urgent than that may be
    # starved, not hung, and misses no heartbeat for it.
    li      s10, PRIO_NONE
    li      s2, 0
11: li      t0, TASKS_TOTAL
    bgeu    s2, t0, 13f
    slli    t0, s11, 48         # our own index: we are the one running
    srli    t0, t0, 48
    beq     s2, t0, 12f
    mv      a0, s2
    call    sys_task_status
    mv      s3, a0
    mv      s4, a1
    mv      s5, a2
    mv      s8, a7
    mv      a0, s2
    call    record
    srli    t1, s4, STATUS_WAIT_SHIFT
    andi    t1, t1, STATUS_WAIT_MASK
    sd      t1, TR_SEEN_WAIT(a0)
    srli    t1, s4, STATUS_IRQ_HELD_SHIFT
    andi    t1, t1, 1
    sd      t1, TR_SEEN_HELD(a0)
    li      t0, TS_STOPPED + 1  # (TASK_STATUS failed: no state)
    bnez    s3, 14f
    andi    t0, s4, STATUS_STATE_MASK
14: sd      t0, TR_SEEN_STATE(a0)
    sd      s5, TR_SEEN_ID(a0)
    sd      s8, TR_SEEN_IPC(a0)
    bnez    t0, 12f             # not runnable
    la      t1, priorities
    add     t1, t1, s2
    lbu     t1, 0(t1)
    bgeu    t1, s10, 12f
    mv      s10, t1
12: addi    s2, s2, 1
    j       11b
13: li      s9, PRIO_NONE       # most urgent priority of a hung task found
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, 7f
    li      t0, WATCHED_TASKS
    srl     t0, t0, s2
    andi    t0, t0, 1
    beqz    t0, 6f
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    bnez    t0, 5f              # not up: the restart path has it
    ld      s3, TR_SEEN_STATE(s6)
    li      t0, TS_FAULTED
    bgeu    s3, t0, 5f          # stopped: the fault path has it
    ld      s4, TR_SEEN_ID(s6)
    ld      s5, TR_SEEN_IPC(s6)
    ld      t0, TR_CRASH(s6)    # a crash request still not carried out
    beqz    t0, 2f              # a heartbeat later: restart it ourselves
    li      t1, CRASH_PENDING
    xor     t0, t0, t1
    bne     t0, s4, 3f          # it stopped since: done
    ld      t0, TR_CRASH_AT(s6)
    sub     t0, s7, t0
    li      t1, WATCH_HEARTBEAT
    bltu    t0, t1, 2f
    la      a0, m_sup           # supervisor: <task> ignored the crash request
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_ignored
    call    out_str
    call    out_nl
    mv      a0, s2
    call    restart_now
    j       5f
3:  sd      zero, TR_CRASH(s6)
2:  ld      t1, TR_IPC(s6)
    sd      s5, TR_IPC(s6)
    bnez    s3, 4f              # blocked in an IPC wait: healthy
    mv      a0, s4              # runnable: ping (answered at its next RECV)
    li      a1, 1 << WATCH_PING_BIT
    mv      s8, t1
    call    sys_notify
    la      t0, pongs
    ld      t0, 0(t0)
    srl     t0, t0, s2
    andi    t0, t0, 1
    bnez    t0, 4f              # it ponged since the last heartbeat
    bne     s8, s5, 4f          # its IPC counts moved
    la      t1, priorities      # a more urgent task is runnable: starved,
    add     t1, t1, s2          # maybe, rather than hung
    lbu     t1, 0(t1)
    bgtu    t1, s10, 6f
    ld      t0, TR_MISSES(s6)
    addi    t0, t0, 1
    sd      t0, TR_MISSES(s6)
    li      t1, WATCH_MISSES
    bltu    t0, t1, 6f
    la      t1, priorities      # hung: keep the most urgent priority
    add     t1, t1, s2
    lbu     t1, 0(t1)
    bgeu    t1, s9, 6f
    mv      s9, t1
    j       6f
4:  sd      zero, TR_MISSES(s6)
    j       6f
5:  sd      zero, TR_MISSES(s6)
    sd      zero, TR_CRASH(s6)
6:  addi    s2, s2, 1
    j       1b
7:  la      t0, pongs
    sd      zero, 0(t0)
    li      t0, PRIO_NONE
    beq     s9, t0, 9f
    li      s2, 0               # the hung tasks of priority s9 fail; the
8:  li      t0, TASKS_TOTAL     # less urgent ones may only have been
    bgeu    s2, t0, 9f          # starved by them: they start counting again
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MISSES(s6)
    li      t1, WATCH_MISSES
    bltu    t0, t1, 10f
    la      t1, priorities
    add     t1, t1, s2
    lbu     t1, 0(t1)
    sd      zero, TR_MISSES(s6)
    bne     t1, s9, 10f
    mv      a0, s2              # stop it now: no spinning through the back-off
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <task> faulted: cause=hung (missed n heartbeats)
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_hung
    call    out_str
    li      a0, WATCH_MISSES
    call    out_dec
    la      a0, m_hung2
    call    out_str
    call    out_nl
    call    fail_task
10: addi    s2, s2, 1
    j       8b
9:  call    check_storms
    call    check_calls
    call    check_deaf
    call    check_code
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# check_storms — the interrupt-storm rule, at each heartbeat after the
# states are read: a watched task that is up and received more than
# WATCH_STORM messages beyond those it sent since the last heartbeat is
# failed (a level-triggered interrupt it never clears: every turn of its
# RECV -> IRQ_ACK loop is a delivered notification, so its IPC counters
# move and it answers pings; a server that answers what it receives is
# near RECEIVED = SENT, only its interrupts and timers count more).
# Every task's counts are kept for the next heartbeat.  Clobbers s2..s8.
check_storms:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, 9f
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_BEAT_IPC(s6)
    ld      t1, TR_SEEN_IPC(s6)
    sd      t1, TR_BEAT_IPC(s6)
    li      t2, WATCHED_TASKS
    srl     t2, t2, s2
    andi    t2, t2, 1
    beqz    t2, 8f
    ld      t2, TR_MODE(s6)
    bnez    t2, 8f              # not up: the restart path has it
    ld      t2, TR_SEEN_STATE(s6)
    li      t3, TS_FAULTED
    bgeu    t2, t3, 8f          # stopped: the fault path has it
    srli    t2, t1, 32          # received since (bits 63:32, modulo 2**32)
    srli    t3, t0, 32
    subw    t2, t2, t3
    slli    t2, t2, 32
    srli    t2, t2, 32
    subw    t3, t1, t0          # sent since (bits 31:0, modulo 2**32)
    slli    t3, t3, 32
    srli    t3, t3, 32
    sub     s3, t2, t3          # received beyond sent
    li      t4, WATCH_STORM
    ble     s3, t4, 8f
    mv      a0, s2              # stop it now, then as a hung task
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <task> faulted: cause=storm (<n> notifications in a heartbeat)
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_storm
    call    out_str
    mv      a0, s3
    call    out_dec
    la      a0, m_storm2
    call    out_str
    call    out_nl
    call    fail_task
8:  addi    s2, s2, 1
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# check_calls — the unanswered-call rule, after check_storms: a task T
# seen in SEND_WAIT or REPLY_WAIT on the same watched server S, with its
# own IPC counts unchanged (the same call), at WATCH_MISSES heartbeats in
# a row blames S: every server answers every call promptly (the console's
# READLINE answers CONS_WAIT and notifies later), so a call left
# unanswered that long is a server deaf to it.  Not blamed: the supervisor
# (its answers wait for nothing but us), a task not watched, one not up
# or stopped (the restart or fault path has it), and a server that is
# itself in a CALL (the end of the chain is blamed through its own wait).
# S is then failed as a hung task is.  Clobbers s2..s10.
check_calls:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, 9f
    beq     s2, s11, 8f         # ourselves (index 0 = our id)
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_SEEN_STATE(s6)
    addi    t0, t0, -TS_SEND_WAIT
    li      t1, TS_REPLY_WAIT - TS_SEND_WAIT
    bgtu    t0, t1, 7f          # in no CALL
    ld      s4, TR_SEEN_WAIT(s6)
    addi    s4, s4, 1           # 1 + the server
    ld      s5, TR_SEEN_IPC(s6)
    ld      t0, TR_CALL_ON(s6)
    bne     t0, s4, 6f
    ld      t0, TR_CALL_IPC(s6)
    bne     t0, s5, 6f
    ld      t0, TR_CALL_BEATS(s6)   # the same call as at the last heartbeat
    addi    t0, t0, 1
    j       5f
6:  sd      s4, TR_CALL_ON(s6)  # a call not seen before
    sd      s5, TR_CALL_IPC(s6)
    li      t0, 1
5:  sd      t0, TR_CALL_BEATS(s6)
    li      t1, WATCH_MISSES
    bltu    t0, t1, 8f
    addi    s4, s4, -1          # the server: may it be blamed?
    beq     s4, s11, 8f
    li      t0, WATCHED_TASKS
    srl     t0, t0, s4
    andi    t0, t0, 1
    beqz    t0, 8f
    mv      a0, s4
    call    record
    mv      s9, a0
    ld      t0, TR_MODE(s9)
    bnez    t0, 8f              # restarting or given up
    ld      t0, TR_SEEN_STATE(s9)
    li      t1, TS_FAULTED
    bgeu    t0, t1, 8f          # stopped: the fault path has it
    addi    t0, t0, -TS_SEND_WAIT
    li      t1, TS_REPLY_WAIT - TS_SEND_WAIT
    bleu    t0, t1, 8f          # in a CALL itself: the chain goes on
    mv      s10, s2             # T
    mv      s3, s6              # T's record
    mv      s2, s4              # from here on: S, as fail_task wants it
    mv      s6, s9
    mv      a0, s2              # stop it now, then as a hung task
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <S> faulted: cause=unanswered (<T> waited <n> heartbeats)
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_unanswered
    call    out_str
    mv      a0, s10
    call    task_name
    call    out_str
    la      a0, m_waited
    call    out_str
    ld      a0, TR_CALL_BEATS(s3)
    call    out_dec
    la      a0, m_hung2
    call    out_str
    call    out_nl
    call    fail_task
    mv      s2, s10             # back to T, whose call got the dead code
    mv      s6, s3
7:  sd      zero, TR_CALL_ON(s6)
    sd      zero, TR_CALL_BEATS(s6)
8:  addi    s2, s2, 1
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# check_deaf — the deaf-driver rule, after check_calls: a watched task that
# is up and seen blocked in a RECV (RECV_WAIT, NOTIFY_WAIT) while one of its
# interrupts awaits its IRQ_ACK (TASK_STATUS a1 bit 16), at WATCH_MISSES
# heartbeats in a row, is deaf to its device: it took the notification
# and could have acknowledged it, yet waits for more, and the kernel keeps
# the source masked until it does (campaign fault 8223 of seed 0: the
# console's notification swallowed, the keyboard never heard again, while
# it answers every call and ping).  A driver between delivery and IRQ_ACK
# is runnable, or in a CALL (the proxy serving a request): never counted.
# Failed as a hung task is.  Clobbers s2..s8.
check_deaf:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, 9f
    mv      a0, s2
    call    record
    mv      s6, a0
    li      t0, WATCHED_TASKS
    srl     t0, t0, s2
    andi    t0, t0, 1
    beqz    t0, 7f
    ld      t0, TR_MODE(s6)
    bnez    t0, 7f              # not up: the restart path has it
    ld      t0, TR_SEEN_HELD(s6)
    beqz    t0, 7f
    ld      t0, TR_SEEN_STATE(s6)
    addi    t0, t0, -TS_RECV_WAIT
    li      t1, TS_NOTIFY_WAIT - TS_RECV_WAIT
    bgtu    t0, t1, 7f          # not in a RECV
    ld      t0, TR_DEAF(s6)
    addi    t0, t0, 1
    sd      t0, TR_DEAF(s6)
    li      t1, WATCH_MISSES
    bltu    t0, t1, 8f
    mv      a0, s2              # stop it now, then as a hung task
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <task> faulted: cause=deaf to its interrupt (<n> heartbeats)
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_deaf
    call    out_str
    ld      a0, TR_DEAF(s6)
    call    out_dec
    la      a0, m_hung2
    call    out_str
    call    out_nl
    call    fail_task
7:  sd      zero, TR_DEAF(s6)
8:  addi    s2, s2, 1
    j       1b
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# check_code — the code scrub, after check_deaf: one watched task that is
# up has its code compared by the kernel with the pristine copy
# TASK_RESTART restores (TASK_VERIFY): the suspect if there is one, else
# the next in round robin from `scrub_next` (one call per heartbeat keeps
# the idle cost small).  Code that differs is corrupted, whatever its
# symptom (campaign fault 9214 of seed 0: a word after the shell's ecall in
# ipc_call, its answers lost, yet it runs, answers pings and its counters
# move).  The task becomes the suspect, verified at each heartbeat; still
# different at WATCH_SCRUB_GRACE heartbeats in a row (the other rules,
# which name the symptom, had their time first), it is failed as a hung
# task is, and the restart repairs it.  A suspect that goes down (another
# rule, a fault) or verifies intact is cleared.  We are not watched, so
# never verified.  Clobbers s2..s8.
check_code:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      t0, scrub_on        # our first heartbeat (at boot) skips it: the
    ld      t1, 0(t0)           # kernel has just copied every task's code
    sd      t0, 0(t0)           # from the pristine copy
    beqz    t1, 9f
    la      t0, scrub_suspect
    ld      s2, 0(t0)
    beqz    s2, 10f
    addi    s2, s2, -1
    call    scrub_candidate
    bnez    a0, 3f              # still up: verify it again
    la      t0, scrub_suspect   # down: whoever took it down has it
    sd      zero, 0(t0)
10: li      s3, TASKS_TOTAL     # candidates left: at most one full turn
1:  beqz    s3, 9f
    addi    s3, s3, -1
    la      t0, scrub_next
    ld      s2, 0(t0)
    addi    t1, s2, 1
    li      t2, TASKS_TOTAL
    bltu    t1, t2, 2f
    li      t1, 0
2:  sd      t1, 0(t0)
    call    scrub_candidate
    beqz    a0, 1b
3:  mv      a0, s2
    li      a7, SYS_TASK_VERIFY # (no lib/sys.S wrapper: its layout is every task's)
    ecall
    bnez    a0, 9f
    la      t0, scrub_suspect
    bnez    a1, 4f
    sd      zero, 0(t0)         # intact (again): no suspect
    j       9f
4:  addi    t1, s2, 1
    ld      t2, 0(t0)
    la      t3, scrub_beats
    ld      t4, 0(t3)
    addi    t4, t4, 1
    beq     t1, t2, 5f          # the suspect again
    li      t4, 1               # a new suspect
5:  sd      t1, 0(t0)
    sd      t4, 0(t3)
    li      t0, WATCH_SCRUB_GRACE
    bltu    t4, t0, 9f
    sd      zero, 0(t3)
    la      t0, scrub_suspect
    sd      zero, 0(t0)
    addi    s3, a1, -1          # the offset of the first byte that differs
    mv      a0, s2
    call    record
    mv      s6, a0
    call    fail_corrupted
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# fail_corrupted(s2 = index, s3 = offset, s6 = its record) — the scrub's
# failure: stop the task now, log it, then as a hung task.  Clobbers s7, s8.
fail_corrupted:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a0, s2
    call    sys_task_stop
    la      a0, m_sup           # supervisor: <task> faulted: cause=code corrupted (offset <n>)
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    la      a0, m_corrupt
    call    out_str
    mv      a0, s3
    call    out_dec
    la      a0, m_corrupt2
    call    out_str
    call    out_nl
    call    fail_task
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# scrub_candidate(s2 = index) -> a0 = 1 if the task is watched and up (not
# restarting or given up, not stopped), else 0.  Clobbers t0, t1, a0-a2.
scrub_candidate:
    li      t0, WATCHED_TASKS
    srl     t0, t0, s2
    andi    t0, t0, 1
    beqz    t0, 1f
    addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a0, s2
    call    record
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ld      t0, TR_MODE(a0)
    bnez    t0, 1f              # not up: the restart path has it
    ld      t0, TR_SEEN_STATE(a0)
    li      t1, TS_FAULTED
    bgeu    t0, t1, 1f          # stopped: the fault path has it
    li      a0, 1
    ret
1:  li      a0, 0
    ret

# restart_due — restart every task whose back-off is over; arm the timer
# for the earliest one still waiting.
restart_due:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    call    now
    mv      s7, a0
    li      s8, 0               # earliest deadline still to come (0 = none)
    li      s2, 0
1:  li      t0, TASKS_TOTAL
    bgeu    s2, t0, 5f
    mv      a0, s2
    call    record
    mv      s6, a0
    ld      t0, TR_MODE(s6)
    li      t1, SUP_MODE_RESTARTING
    bne     t0, t1, 4f
    ld      t0, TR_DEADLINE(s6)
    bgtu    t0, s7, 3f
    mv      a0, s2
    call    restart_now
    la      a0, m_sup           # supervisor: restarted <task>
    call    out_str
    la      a0, m_restarted
    call    out_str
    mv      a0, s2
    call    task_name
    call    out_str
    call    out_nl
    j       4f
3:  beqz    s8, 2f
    bgeu    t0, s8, 4f
2:  mv      s8, t0
4:  addi    s2, s2, 1
    j       1b
5:  li      t0, WATCHED_TASKS   # and the next heartbeat, if anyone is watched
    beqz    t0, 7f
    la      t0, next_beat
    ld      t0, 0(t0)
    beqz    s8, 8f
    bgeu    t0, s8, 7f
8:  mv      s8, t0
7:  la      t0, armed
    sd      s8, 0(t0)
    mv      a0, s8
    li      a1, TIMER_BIT
    beqz    s8, 6f
    call    sys_timer
6:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# restart_now(a0 = index) — TASK_RESTART, count it, mark the task up.
restart_now:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    call    sys_task_restart
    ld      a0, 8(sp)
    call    record
    ld      t0, TR_RESTARTS(a0)
    addi    t0, t0, 1
    sd      t0, TR_RESTARTS(a0)
    sd      zero, TR_MODE(a0)
    sd      zero, TR_MISSES(a0)
    sd      zero, TR_CRASH(a0)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# now() -> a0 = the current time, leaving our deadline as it is (TIMER
# both sets the deadline and returns the time).
now:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      t0, armed
    ld      a0, 0(t0)
    li      a1, TIMER_BIT
    call    sys_timer
    mv      a0, a1
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# record(a0 = index) -> a0 = its TR_* record.  Clobbers t0.
record:
    li      t0, TR_SIZE
    mul     a0, a0, t0
    la      t0, records
    add     a0, a0, t0
    ret

# task_name(a0 = index) -> a0 = its NUL-terminated name.  Clobbers t0.
task_name:
    slli    a0, a0, 3
    la      t0, names
    add     a0, a0, t0
    ld      a0, 0(a0)
    ret

# out_sink for out.S: the kernel's LOG (never blocks on a server).
    .globl out_sink
out_sink:
    tail    sys_log

    TASK_TABLE                  # names, priorities (manifest.inc)

    .section .rodata
hello:        .asciz "supervisor: up"
m_sup:        .asciz "supervisor: "
m_faulted:    .asciz " faulted: cause="
m_exited:     .asciz " exited: code="
m_pc:         .asciz " pc="
m_tval:       .asciz " tval="
m_restarting: .asciz "restarting "
m_in:         .asciz " in "
m_ms:         .asciz " ms"
m_restarted:  .asciz "restarted "
m_failed:     .asciz " failed "
m_within:     .asciz " times within "
m_giveup:     .asciz " ms: giving up"
m_stays:      .asciz " stays stopped"
m_request:    .asciz "supervisor: restart requested: "
m_crashreq:   .asciz "supervisor: crash requested: "
m_ignored:    .asciz " ignored the crash request: restarting it"
m_hung:       .asciz " faulted: cause=hung (missed "
m_hung2:      .asciz " heartbeats)"
m_storm:      .asciz " faulted: cause=storm ("
m_storm2:     .asciz " notifications in a heartbeat)"
m_unanswered: .asciz " faulted: cause=unanswered ("
m_waited:     .asciz " waited "
m_deaf:       .asciz " faulted: cause=deaf to its interrupt ("
m_complaint:  .asciz " faulted: cause=complaint from "
m_corrupt:    .asciz " faulted: cause=code corrupted (offset "
m_corrupt2:   .asciz ")"
m_complained: .asciz " faulted: cause=complained about "
m_again:      .asciz " again after its restart"
m_reboot:     .asciz "supervisor: rebooting"
m_poweroff:   .asciz "supervisor: powering off"

    .bss
    .balign 8
armed:   .zero 8                # our TIMER deadline (0 = none)
next_beat: .zero 8              # when the next heartbeat is due
pongs:   .zero 8                # pong bits received since the last heartbeat
scrub_next: .zero 8             # the next task check_code looks at
scrub_on: .zero 8               # nonzero after the first heartbeat
scrub_suspect: .zero 8          # 1 + the task whose code differed, 0 = none
scrub_beats: .zero 8            # heartbeats in a row it was found so
records: .zero TR_SIZE * TASKS_TOTAL
