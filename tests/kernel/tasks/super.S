# super.S — the supervisor of syscalls.toml: drives every system call's
# success and error paths and prints "ok <tag>" or "FAIL <tag> <value>".
# s1..s8 hold the last results (SAVE), s9 the faulty task's current id,
# s10 the address of the server's secret.
    .include "abi.inc"
    .include "manifest.inc"
    .include "rt.inc"

# FAULTY_STOPPED gen, state, cause, tval, tag — after the faulty task
# stopped: its status, the supervisor's fault notification, a restart.
.macro FAULTY_STOPPED gen, state, cause, tag
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_STATUS
    SAVE
    CHECK   s1, ERR_OK, \tag\().status
    CHECK   s2, \state, \tag\().state
    CHECK   s3, (\gen << 16) | TASK_FAULTY, \tag\().id
    CHECK   s4, \cause, \tag\().cause
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    SYS     SYS_RECV
    SAVE
    CHECK   s1, RECV_NOTIFICATION, \tag\().notified
    CHECK   s2, 1 << NOTIFY_FAULT_BIT, \tag\().faultbit
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_RESTART
    SAVE
    CHECK   s1, ERR_OK, \tag\().restart
    CHECK   s2, (\gen << 16) | TASK_FAULTY, \tag\().newid
    mv      s9, s2
.endm

    .text
    .globl _start
_start:
    CHECK   a0, TASK_SUPER, start.id

    # --- CALL / REPLY_RECV with register words ---------------------------
    ARGS    TASK_SERVER, 0, 0, 10, 20, 30, 0
    SYS     SYS_CALL
    SAVE
    CHECK   s1, ERR_OK, call.status
    CHECK   s2, 0, call.nbulk
    CHECK   s3, 0, call.w0
    CHECK   s4, 11, call.w1
    CHECK   s5, 21, call.w2
    CHECK   s6, 31, call.w3

    # --- bulk both ways -----------------------------------------------------
    li      a0, TASK_SERVER
    la      a1, cbuf
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
    li      a6, 11
    SYS     SYS_CALL
    SAVE
    CHECK   s1, ERR_OK, bulk.status
    CHECK   s2, 11, bulk.nback
    CHECK   s3, 11, bulk.nserver
    CHECK   s4, 11, bulk.callerlen
    la      t0, cbuf
    ld      s1, 0(t0)
    CHECK   s1, 0x4f57204f4c4c4548, bulk.upper      # "HELLO WO"
    # reply longer than the caller's buffer: truncated to it
    li      a0, TASK_SERVER
    la      a1, cbuf2
    li      a2, 5
    li      a6, 4
    SYS     SYS_CALL
    SAVE
    CHECK   s1, ERR_OK, trunc.status
    CHECK   s2, 4, trunc.n
    la      t0, cbuf2
    lbu     s1, 4(t0)
    CHECK   s1, 'X', trunc.untouched

    # --- CALL errors ----------------------------------------------------------
    ARGS    99
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_TASK, call.badtask
    ARGS    0xffff
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_TASK, call.badtask2
    ARGS    TASK_IDLE
    SYS     SYS_CALL
    CHECK   a0, ERR_DENIED, call.denied
    ARGS    TASK_IDLE, 1
    SYS     SYS_NOTIFY
    CHECK   a0, ERR_DENIED, notify.denied
    li      a0, TASK_SUPER
    SYS     SYS_TASK_STATUS
    CHECK   a6, 2, denials.counted
    ARGS    TASK_SERVER|(3<<16)
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE, call.stale

    # --- bad buffers ------------------------------------------------------------
    ARGS    TASK_SERVER, KERNEL_BASE, 0, 0, 0, 0, 8
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_BUFFER, buf.kernel
    ARGS    TASK_SERVER, TASK_SERVER_BASE, 0, 0, 0, 0, 8
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_BUFFER, buf.othertask
    ARGS    TASK_SERVER, -16, 0, 0, 0, 0, 32
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_BUFFER, buf.wrap
    li      a0, TASK_SERVER
    la      a1, cbuf
    li      a6, -1
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_BUFFER, buf.hugelen
    li      a0, TASK_SERVER
    la      a1, cbuf
    li      a6, 0x100000
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_BUFFER, buf.pastregion
    li      a0, TASK_SERVER
    la      a1, _start
    li      a6, 8
    SYS     SYS_CALL
    CHECK   a0, ERR_BAD_BUFFER, buf.readonly
    ARGS    KERNEL_BASE, 8
    SYS     SYS_LOG
    CHECK   a0, ERR_BAD_BUFFER, log.badbuf
    la      a0, cbuf
    li      a1, LOG_MAX + 1
    SYS     SYS_LOG
    CHECK   a0, ERR_BAD_ARG, log.toolong
    ARGS    0, TASK_SERVER_BASE, 0, 0, 0, 0, 8
    SYS     SYS_RECV
    CHECK   a0, ERR_BAD_BUFFER, recv.badbuf
    ARGS    7
    SYS     SYS_RECV
    CHECK   a0, ERR_BAD_ARG, recv.badmode

    # --- unknown system calls ------------------------------------------------
    SYS     99
    CHECK   a0, ERR_BAD_SYSCALL, sys.unknown
    SYS     -1
    CHECK   a0, ERR_BAD_SYSCALL, sys.negative

    # --- NOTIFY -------------------------------------------------------------
    ARGS    TASK_SERVER, 5
    SYS     SYS_NOTIFY
    CHECK   a0, ERR_OK, notify.ok
    ARGS    TASK_SERVER, 0, 1
    SYS     SYS_CALL
    CHECK   a3, 5, notify.delivered
    ARGS    TASK_SERVER|(1<<16), 1
    SYS     SYS_NOTIFY
    CHECK   a0, DEAD_BASE, notify.stale
    ARGS    99, 1
    SYS     SYS_NOTIFY
    CHECK   a0, ERR_BAD_TASK, notify.badtask

    # --- REPLY errors -------------------------------------------------------
    ARGS    TASK_SERVER
    SYS     SYS_REPLY
    CHECK   a0, ERR_NOT_WAITING, reply.notwaiting
    ARGS    99
    SYS     SYS_REPLY
    CHECK   a0, ERR_BAD_TASK, reply.badtask
    ARGS    TASK_SERVER|(5<<16)
    SYS     SYS_REPLY
    CHECK   a0, DEAD_BASE, reply.stale

    # --- supervisor-only calls from a plain task ------------------------------
    ARGS    TASK_SERVER, 0, 2
    SYS     SYS_CALL
    SAVE
    CHECK   s4, ERR_DENIED, priv.status
    CHECK   s5, ERR_DENIED, priv.shutdown
    CHECK   s6, ERR_DENIED, priv.call
    li      a0, TASK_SERVER
    SYS     SYS_TASK_STATUS
    SAVE
    CHECK   s7, 3, priv.denials
    CHECK   s2, TS_RECV_WAIT, status.recvwait
    ARGS    99
    SYS     SYS_TASK_STATUS
    CHECK   a0, ERR_BAD_TASK, status.badtask
    ARGS    TASK_SUPER
    SYS     SYS_TASK_RESTART
    CHECK   a0, ERR_BAD_TASK, restart.self
    ARGS    99
    SYS     SYS_TASK_RESTART
    CHECK   a0, ERR_BAD_TASK, restart.badtask

    # --- IRQ_ACK, YIELD, TIMER -----------------------------------------------
    ARGS    1
    SYS     SYS_IRQ_ACK
    CHECK   a0, ERR_BAD_ARG, irqack.notmine
    ARGS    0
    SYS     SYS_IRQ_ACK
    CHECK   a0, ERR_OK, irqack.none
    SYS     SYS_YIELD
    CHECK   a0, ERR_OK, yield
    ARGS    0, 0
    SYS     SYS_TIMER
    SAVE
    CHECK   s1, ERR_OK, timer.query
    li      t0, 10000
    add     a0, s2, t0
    li      a1, 8
    SYS     SYS_TIMER
    CHECK   a0, ERR_OK, timer.set
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    SYS     SYS_RECV
    SAVE
    CHECK   s1, RECV_NOTIFICATION, timer.fired
    CHECK   s2, 8, timer.bits

    # --- faults and restarts ---------------------------------------------------
    li      s9, TASK_FAULTY
    ARGS    TASK_SERVER, 0, 4
    SYS     SYS_CALL
    mv      s10, a3             # where the server keeps its secret
    mv      a0, s9
    li      a2, 1
    li      a3, KERNEL_BASE
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 1, fault.kernelread
    FAULTY_STOPPED 1, TS_FAULTED, 13, fault1
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_STATUS
    CHECK   a4, KERNEL_BASE, fault1.tval
    li      a0, TASK_FAULTY
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 1, fault1.oldid
    mv      a0, s9
    li      a2, 0
    li      a3, 41
    SYS     SYS_CALL
    SAVE
    CHECK   s1, ERR_OK, fault1.newid.call
    CHECK   s4, 42, fault1.newid.reply

    mv      a0, s9
    li      a2, 2
    mv      a3, s10
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 2, fault.storeother
    FAULTY_STOPPED 2, TS_FAULTED, 15, fault2
    ARGS    TASK_SERVER, 0, 3
    SYS     SYS_CALL
    CHECK   a3, SECRET_VALUE, fault2.secretintact

    mv      a0, s9
    li      a2, 1
    li      a3, DEV_UART0
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 3, fault.device
    FAULTY_STOPPED 3, TS_FAULTED, 13, fault3

    mv      a0, s9
    li      a2, 3
    li      a3, KERNEL_BASE
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 4, fault.execkernel
    FAULTY_STOPPED 4, TS_FAULTED, 12, fault4

    mv      a0, s9
    li      a2, 5
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 5, fault.writecode
    FAULTY_STOPPED 5, TS_FAULTED, 15, fault5

    mv      a0, s9
    li      a2, 6
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 6, fault.illegal
    FAULTY_STOPPED 6, TS_FAULTED, 2, fault6

    mv      a0, s9
    li      a2, 4
    li      a3, 42
    SYS     SYS_CALL
    CHECK   a0, DEAD_BASE | 7, exit.dead
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_STATUS
    CHECK   a4, 42, exit.code
    FAULTY_STOPPED 7, TS_EXITED, CAUSE_EXIT, exit

    # restart brings the task's memory back to the image: .data and .bss
    mv      a0, s9
    li      a2, 7
    SYS     SYS_CALL
    SAVE
    CHECK   s4, 101, mem.data1
    CHECK   s3, 1, mem.bss1
    mv      a0, s9
    li      a2, 7
    SYS     SYS_CALL
    SAVE
    CHECK   s4, 102, mem.data2
    CHECK   s3, 2, mem.bss2
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_RESTART
    mv      s9, a1
    mv      a0, s9
    li      a2, 7
    SYS     SYS_CALL
    SAVE
    CHECK   s4, 101, mem.data.restored
    CHECK   s3, 1, mem.bss.zeroed

    # restart of a healthy task (blocked in RECV): a new generation
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_RESTART
    SAVE
    CHECK   s1, ERR_OK, restart.healthy
    CHECK   s2, (9 << 16) | TASK_FAULTY, restart.healthy.id
    mv      a0, s2
    li      a2, 0
    li      a3, 1
    SYS     SYS_CALL
    CHECK   a3, 2, restart.healthy.works

    # TASK_STOP: a live task stops (new generation) and stays STOPPED; a
    # second stop changes nothing; the restart keeps that generation.
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_STOP
    SAVE
    CHECK   s1, ERR_OK, stop.live
    CHECK   s2, (10 << 16) | TASK_FAULTY, stop.live.id
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_STATUS
    CHECK   a1, TS_STOPPED, stop.state
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_STOP
    SAVE
    CHECK   s2, (10 << 16) | TASK_FAULTY, stop.again.id
    ARGS    TASK_SUPER
    SYS     SYS_TASK_STOP
    CHECK   a0, ERR_BAD_TASK, stop.self
    ARGS    99
    SYS     SYS_TASK_STOP
    CHECK   a0, ERR_BAD_TASK, stop.badtask
    # TASK_VERIFY: the code of a task that ran, faulted and was restarted
    # (and is now stopped) equals its pristine copy; so does the caller's
    # own; an index out of range is BAD_TASK.
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_VERIFY
    SAVE
    CHECK   s1, ERR_OK, verify.ok
    CHECK   s2, 0, verify.intact
    ARGS    TASK_SUPER
    SYS     SYS_TASK_VERIFY
    CHECK   a1, 0, verify.self
    ARGS    99
    SYS     SYS_TASK_VERIFY
    CHECK   a0, ERR_BAD_TASK, verify.badtask
    li      a0, TASK_FAULTY
    SYS     SYS_TASK_RESTART
    SAVE
    CHECK   s2, (10 << 16) | TASK_FAULTY, stop.restart.id
    mv      a0, s2
    li      a2, 0
    li      a3, 1
    SYS     SYS_CALL
    CHECK   a3, 2, stop.restart.works

    PUTS    done
    li      a0, 0
    SYS     SYS_SHUTDOWN
1:  j       1b

    .section .rodata
done: .asciz "super: done\n"

    .data
    .balign 8
cbuf:  .ascii "hello world, padding..."
    .balign 8
cbuf2: .ascii "xxxxXXXX"
