# proxy.S — the IPC proxy: makes CALLs for the host, through the host link.
#
# The host (septum.testing.ipc) cannot make system calls and must not
# bypass the kernel, so it asks this task to make them: it posts a request
# on the host-link device (hypervisor/devices/hostlink.py), whose interrupt
# arrives here as notification bit PROXY_IRQ_HOSTLINK.  The proxy copies
# the request's bulk bytes into its own buffer, makes the CALL with its own
# id -- so the kernel checks it against this task's `calls` in the manifest
# like any other (DENIED is counted against the proxy), and a server sees
# the proxy as its caller -- then writes the reply (status, length, words,
# bulk) into the device and DONE, which lowers the interrupt.  A dead
# server's code, or any error, is reported like a reply (status only).
#
# Restartable at any time: the interrupt is level-triggered and stays high
# while a request is pending, so a new incarnation that acknowledges it
# (_start) is woken at once for a request the old one never finished.
# It never touches the device before the interrupt says a request is
# there: on a board without the device (real QEMU) it just sleeps.
#
# Any other notification bit is not a host-link interrupt and is ignored:
# in particular the console's bit (TASK_CONSOLE), which the console posts
# to a reader whose input has arrived.  A READLINE/READ the host makes
# through us is answered at once, CONS_WAIT included, which goes to the
# host like any status; the host waits (septum.testing.ipc: the proxy's
# RECEIVED count moves when the console's bit arrives) and calls again.
#
# It links lib/watch.S (the supervisor's watchdog: pings are answered,
# `crash proxy` faults) and nothing else of the userland library, so it
# joins any manifest as the task named `proxy` with
# `devices = ["hostlink"]` and `interrupts = { hostlink = N }`
# (septum.testing.ipc.proxy_manifest adds it so).
    .include "abi.inc"
    .include "manifest.inc"
    .include "hostlink.inc"

.equ IRQ_BIT, 1 << PROXY_IRQ_HOSTLINK

    .text
    .globl _start
# Entry (boot or restart): a0 = our id.  s0 = the device, s1 = our buffer.
_start:
    li      s0, DEV_HOSTLINK
    la      s1, proxy_buf
    li      a0, IRQ_BIT         # a restart leaves the interrupt masked
    li      a7, SYS_IRQ_ACK
    ecall
wait:
    li      a0, RECVMODE_NOTIFICATIONS_ONLY
    li      a6, 0
    li      a7, SYS_RECV
    ecall
    mv      a0, a1              # the pending bits: the watchdog's first
    call    watch_bits          # (lib/watch.S: pong, or fault on `crash`)
    andi    t0, a0, IRQ_BIT
    beqz    t0, wait            # not the host link's (the console's, say)
    lw      t0, HOSTLINK_STATUS(s0)
    andi    t0, t0, STATUS_REQ_PENDING
    beqz    t0, ack             # withdrawn by the host meanwhile
    call    serve
ack:
    li      a0, IRQ_BIT
    li      a7, SYS_IRQ_ACK
    ecall
    j       wait

# serve — one request: copy in, CALL, copy out, DONE.
# Entry: s0 = device, s1 = buffer.  Clobbers a0-a7, t0-t6, s2-s3.
serve:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    lwu     s2, HOSTLINK_SEQ(s0)        # the request we answer (DONE)
    ld      a2, HOSTLINK_REQ_LEN(s0)
    call    clamp
    mv      a0, s1                      # our buffer <- the device's
    li      a1, HOSTLINK_BUF            # (0x800: out of addi's reach)
    add     a1, a1, s0
    call    copy
    ld      a2, HOSTLINK_BUF_LEN(s0)
    call    clamp
    mv      s3, a2                      # what the reply may fill
    ld      a0, HOSTLINK_SERVER(s0)
    mv      a1, s1
    mv      a6, s3
    ld      a2, HOSTLINK_REQ_WORD0(s0)
    ld      a3, HOSTLINK_REQ_WORD0+8(s0)
    ld      a4, HOSTLINK_REQ_WORD0+16(s0)
    ld      a5, HOSTLINK_REQ_WORD0+24(s0)
    li      a7, SYS_CALL
    ecall
    beqz    a0, 1f
    li      a1, 0                       # on an error only a0 is defined
    li      a2, 0
    li      a3, 0
    li      a4, 0
    li      a5, 0
1:  sd      a0, HOSTLINK_REPLY_STATUS(s0)
    sd      a1, HOSTLINK_REPLY_LEN(s0)
    sd      a2, HOSTLINK_REPLY_WORD0(s0)
    sd      a3, HOSTLINK_REPLY_WORD0+8(s0)
    sd      a4, HOSTLINK_REPLY_WORD0+16(s0)
    sd      a5, HOSTLINK_REPLY_WORD0+24(s0)
    bgeu    a1, s3, 2f                  # never more than the buffer
    mv      s3, a1
2:  li      a0, HOSTLINK_BUF            # the device's buffer <- ours
    add     a0, a0, s0
    mv      a1, s1
    mv      a2, s3
    call    copy
    sw      s2, HOSTLINK_DONE(s0)       # last: the reply is complete
    la      t1, proxy_served
    ld      t0, 0(t1)
    addi    t0, t0, 1
    sd      t0, 0(t1)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# clamp — a2 = min(a2, HOSTLINK_BUF_SIZE): the host never names more than
# our buffer.  Clobbers t0.
clamp:
    li      t0, HOSTLINK_BUF_SIZE
    bleu    a2, t0, 1f
    mv      a2, t0
1:  ret

# copy — a2 bytes from a1 to a0, in doublewords (rounded up: both buffers
# are HOSTLINK_BUF_SIZE bytes, a multiple of 8).  Clobbers a0-a2, t0.
copy:
    addi    a2, a2, 7
    andi    a2, a2, -8
1:  beqz    a2, 2f
    ld      t0, 0(a1)
    sd      t0, 0(a0)
    addi    a0, a0, 8
    addi    a1, a1, 8
    addi    a2, a2, -8
    j       1b
2:  ret

    .data
    .balign 8
    .globl proxy_served
proxy_served:               # requests answered by this incarnation
    .dword 0
proxy_buf:                  # the CALL's buffer: request in, reply out
    .zero HOSTLINK_BUF_SIZE
