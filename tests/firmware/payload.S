# S-mode test payload for the Septum SBI firmware (test-only).
#
# Loaded at KERNEL_BASE (0x8020_0000) behind the firmware under test.  It
# calls every SBI function the firmware serves, in order, printing one line
# per result ("<name> err=<a0, decimal> val=<a1, hex>") through the legacy
# console putchar (so that OpenSBI can run it too); probes the firmware's
# memory, which must raise access faults that its own trap handler reports
# ("trap: scause=... stval=..."); takes an IPI and timer interrupts; and
# finishes as PAYLOAD_FINAL selects (assemble with --defsym PAYLOAD_FINAL=N):
#   0 shutdown, 1 shutdown for a system failure, 2 cold reboot,
#   3 the firmware self-test fault (needs a firmware built with SBI_SELFTEST).
# With PAYLOAD_PEER defined it leaves out the calls that a complete SBI
# implementation (OpenSBI) would carry out: stopping or powering down the hart.

    .include "sbi_consts.inc"
    .option norvc                       # every instruction 4 bytes: sepc += 4 skips one

.ifndef PAYLOAD_FINAL
    .equ PAYLOAD_FINAL, 0
.endif

    .equ SSTATUS_SIE, 1 << 1
    .equ SIE_SSIE, 1 << 1
    .equ SIE_STIE, 1 << 5
    .equ FW_PROBE_STORE, FIRMWARE_BASE + 0x1000
    .equ FW_PROBE_LAST, FIRMWARE_END - 8

# SBI eid, fid: make the call with the arguments already in a0..a5.
.macro SBI eid, fid
    li      a7, \eid
    li      a6, \fid
    ecall
.endm

# REPORT "name": print "name err=<a0> val=<a1>" for the call just made.
.macro REPORT name
    .section .rodata
990:
    .asciz  "\name"
    .text
    la      a2, 990b
    call    report
.endm

# SAY "text": print a line.
.macro SAY text
    .section .rodata
991:
    .asciz  "\text\n"
    .text
    la      a0, 991b
    call    puts
.endm

    .text
    .globl _start
# _start: entered by the firmware's mret in S-mode, a0 = hart id, a1 = DTB.
_start:
    la      sp, stack_top
    la      t0, strap
    csrw    stvec, t0
    mv      s0, a0
    SAY     "payload: start"
    mv      a0, s0
    li      a1, 0
    REPORT  "boot.hartid"

    # ---- BASE
    SBI     SBI_EXT_BASE, SBI_BASE_GET_SPEC_VERSION
    REPORT  "base.get_spec_version"
    SBI     SBI_EXT_BASE, SBI_BASE_GET_IMPL_ID
    REPORT  "base.get_impl_id"
    SBI     SBI_EXT_BASE, SBI_BASE_GET_IMPL_VERSION
    REPORT  "base.get_impl_version"
    SBI     SBI_EXT_BASE, SBI_BASE_GET_MVENDORID
    REPORT  "base.get_mvendorid"
    SBI     SBI_EXT_BASE, SBI_BASE_GET_MARCHID
    REPORT  "base.get_marchid"
    SBI     SBI_EXT_BASE, SBI_BASE_GET_MIMPID
    REPORT  "base.get_mimpid"
    li      a0, SBI_EXT_BASE
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.base"
    li      a0, SBI_EXT_TIME
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.time"
    li      a0, SBI_EXT_IPI
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.ipi"
    li      a0, SBI_EXT_RFENCE
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.rfence"
    li      a0, SBI_EXT_HSM
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.hsm"
    li      a0, SBI_EXT_SRST
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.srst"
    li      a0, SBI_EXT_DBCN
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.dbcn"
    li      a0, SBI_EXT_LEGACY_CONSOLE_PUTCHAR
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.legacy_putchar"
    li      a0, SBI_EXT_LEGACY_CONSOLE_GETCHAR
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.legacy_getchar"
    li      a0, 0x12345678
    SBI     SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION
    REPORT  "base.probe.unknown"
    SBI     SBI_EXT_BASE, 99
    REPORT  "base.bad_fid"
    SBI     0x12345678, 0
    REPORT  "unknown_extension"

    # ---- IPI (interrupts are off: each result prints before its interrupt)
    li      t0, SIE_SSIE
    csrs    sie, t0
    li      a0, 1
    li      a1, 0
    SBI     SBI_EXT_IPI, SBI_IPI_SEND_IPI
    REPORT  "ipi.send_ipi.self"
    call    take_interrupts
    li      a0, 0
    li      a1, -1
    SBI     SBI_EXT_IPI, SBI_IPI_SEND_IPI
    REPORT  "ipi.send_ipi.all"
    call    take_interrupts
    li      a0, 0
    li      a1, 0
    SBI     SBI_EXT_IPI, SBI_IPI_SEND_IPI
    REPORT  "ipi.send_ipi.nobody"
    call    take_interrupts
    li      a0, 2
    li      a1, 0
    SBI     SBI_EXT_IPI, SBI_IPI_SEND_IPI
    REPORT  "ipi.send_ipi.hart1"
    li      a0, 1
    li      a1, 1
    SBI     SBI_EXT_IPI, SBI_IPI_SEND_IPI
    REPORT  "ipi.send_ipi.base1"
    call    take_interrupts

    # ---- RFENCE
    li      a0, 1
    li      a1, 0
    SBI     SBI_EXT_RFENCE, SBI_RFENCE_REMOTE_FENCE_I
    REPORT  "rfence.remote_fence_i"
    li      a0, 1
    li      a1, 0
    li      a2, 0
    li      a3, -1
    SBI     SBI_EXT_RFENCE, SBI_RFENCE_REMOTE_SFENCE_VMA
    REPORT  "rfence.remote_sfence_vma"
    li      a0, 0
    li      a1, -1
    li      a2, 0
    li      a3, -1
    li      a4, 1
    SBI     SBI_EXT_RFENCE, SBI_RFENCE_REMOTE_SFENCE_VMA_ASID
    REPORT  "rfence.remote_sfence_vma_asid"
    li      a0, 2
    li      a1, 0
    SBI     SBI_EXT_RFENCE, SBI_RFENCE_REMOTE_FENCE_I
    REPORT  "rfence.remote_fence_i.hart1"
    li      a0, 1
    li      a1, 0
    SBI     SBI_EXT_RFENCE, SBI_RFENCE_REMOTE_HFENCE_GVMA
    REPORT  "rfence.remote_hfence_gvma"

    # ---- HSM
    li      a0, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS
    REPORT  "hsm.hart_get_status.0"
    li      a0, 1
    SBI     SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS
    REPORT  "hsm.hart_get_status.1"
    li      a0, 0
    la      a1, _start
    li      a2, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_START
    REPORT  "hsm.hart_start.0"
    li      a0, 1
    la      a1, _start
    li      a2, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_START
    REPORT  "hsm.hart_start.1"
    li      a0, 1
    li      a1, 0
    li      a2, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_SUSPEND
    REPORT  "hsm.hart_suspend.reserved"
    li      a0, 0x10000000
    li      a1, 0
    li      a2, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_SUSPEND
    REPORT  "hsm.hart_suspend.platform"
.ifndef PAYLOAD_PEER
    # Calls a full SBI implementation would carry out (not this firmware).
    li      a0, SBI_HSM_SUSPEND_DEFAULT_NON_RETENTIVE
    la      a1, _start
    li      a2, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_SUSPEND
    REPORT  "hsm.hart_suspend.non_retentive"
    SBI     SBI_EXT_HSM, SBI_HSM_HART_STOP
    REPORT  "hsm.hart_stop"
.endif

    # ---- TIME: an interrupt in the future, one at once, and a retentive
    # suspend woken by the timer.
    li      t0, SIE_STIE
    csrs    sie, t0
    rdtime  a0
    li      t0, 10000                   # 1 ms at 10 MHz
    add     a0, a0, t0
    SBI     SBI_EXT_TIME, SBI_TIME_SET_TIMER
    REPORT  "time.set_timer.future"
    call    wait_timer
    li      a0, 0
    SBI     SBI_EXT_TIME, SBI_TIME_SET_TIMER
    REPORT  "time.set_timer.past"
    call    wait_timer
    rdtime  a0
    li      t0, 10000
    add     a0, a0, t0
    SBI     SBI_EXT_TIME, SBI_TIME_SET_TIMER
    li      a0, SBI_HSM_SUSPEND_DEFAULT_RETENTIVE
    li      a1, 0
    li      a2, 0
    SBI     SBI_EXT_HSM, SBI_HSM_HART_SUSPEND
    REPORT  "hsm.hart_suspend.retentive"
    call    wait_timer
    SBI     SBI_EXT_TIME, 1
    REPORT  "time.bad_fid"

    # ---- DBCN
    la      a1, msg_hello
    la      a0, msg_hello_end
    sub     a0, a0, a1                  # length
    li      a2, 0
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE
    REPORT  "dbcn.console_write"
    li      a0, 16
    li      a1, FIRMWARE_BASE
    li      a2, 0
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE
    REPORT  "dbcn.console_write.firmware"
    li      a0, 16
    li      a1, KERNEL_BASE - 8
    li      a2, 0
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE
    REPORT  "dbcn.console_write.straddle"
    li      a0, 16
    li      a1, -8
    li      a2, 0
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE
    REPORT  "dbcn.console_write.wrap"
    li      a0, 4
    la      a1, msg_hello
    li      a2, 1
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE
    REPORT  "dbcn.console_write.base_hi"
    li      a0, '!'
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE_BYTE
    li      a0, '\n'
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_WRITE_BYTE
    REPORT  "dbcn.console_write_byte"
    li      a0, 8
    la      a1, read_buf
    li      a2, 0
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_READ
    mv      s4, a1                      # bytes read
    REPORT  "dbcn.console_read"
    la      a0, str_read
    call    puts_raw
    la      s5, read_buf
    add     s4, s4, s5
1:  bgeu    s5, s4, 2f                  # echo what was read, byte by byte
    lbu     a0, 0(s5)
    call    putc
    addi    s5, s5, 1
    j       1b
2:  la      a0, str_read_end
    call    puts_raw
    li      a0, 8
    li      a1, FW_PROBE_STORE
    li      a2, 0
    SBI     SBI_EXT_DBCN, SBI_DBCN_CONSOLE_READ
    REPORT  "dbcn.console_read.firmware"
    SBI     SBI_EXT_DBCN, 3
    REPORT  "dbcn.bad_fid"

    # ---- legacy console: the result is in a0 only; a1 must survive
    li      a1, 0x5eb71
    SBI     SBI_EXT_LEGACY_CONSOLE_GETCHAR, 0
    REPORT  "legacy.console_getchar"

    # ---- SRST errors (none of these may reset)
    li      a0, 3
    li      a1, 0
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
    REPORT  "srst.reserved_type"
    li      a0, 0xF0000000
    li      a1, 0
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
    REPORT  "srst.vendor_type"
    li      a0, SBI_SRST_TYPE_SHUTDOWN
    li      a1, 2
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
    REPORT  "srst.reserved_reason"
    li      a0, SBI_SRST_TYPE_SHUTDOWN
    li      a1, 0xF0000000
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
    REPORT  "srst.vendor_reason"
    SBI     SBI_EXT_SRST, 1
    REPORT  "srst.bad_fid"

    # ---- PMP: the firmware region is out of bounds for S-mode.
    li      t0, FIRMWARE_BASE
    ld      t1, 0(t0)                   # load access fault
    li      t0, FW_PROBE_LAST
    ld      t1, 0(t0)                   # load access fault (last dword)
    li      t0, FW_PROBE_STORE
    sd      zero, 0(t0)                 # store access fault
    li      t0, FIRMWARE_BASE
    jalr    ra, 0(t0)                   # instruction access fault; resumes here
    li      t0, KERNEL_BASE
    ld      t1, 0(t0)                   # our own memory: no fault
    SAY     "pmp: own memory readable"

    # ---- the end
.if PAYLOAD_FINAL == 0
    SAY     "srst: shutdown"
    li      a0, SBI_SRST_TYPE_SHUTDOWN
    li      a1, SBI_SRST_REASON_NO_REASON
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
.elseif PAYLOAD_FINAL == 1
    SAY     "srst: shutdown, system failure"
    li      a0, SBI_SRST_TYPE_SHUTDOWN
    li      a1, SBI_SRST_REASON_SYSTEM_FAILURE
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
.elseif PAYLOAD_FINAL == 2
    SAY     "srst: cold reboot"
    li      a0, SBI_SRST_TYPE_COLD_REBOOT
    li      a1, SBI_SRST_REASON_NO_REASON
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
.else
    SAY     "selftest: fault"
    SBI     SBI_EXT_SEPTUM_SELFTEST, SBI_SELFTEST_FAULT
.endif
    REPORT  "srst.returned"
    # The final call came back: end the run as a failure.
    li      a0, SBI_SRST_TYPE_SHUTDOWN
    li      a1, SBI_SRST_REASON_SYSTEM_FAILURE
    SBI     SBI_EXT_SRST, SBI_SRST_SYSTEM_RESET
1:  wfi
    j       1b

# take_interrupts: let pending interrupts in for a moment, then mask again.
#   Clobbers: t0.
take_interrupts:
    csrsi   sstatus, SSTATUS_SIE
    nop
    csrci   sstatus, SSTATUS_SIE
    ret

# wait_timer: sleep until strap has seen a timer interrupt, then clear the
# flag.  SIE is off while the flag is tested, so no interrupt slips between
# the test and the wfi (wfi wakes on a pending enabled interrupt anyway).
#   Clobbers: t0, t1.
wait_timer:
    la      t1, timer_seen
1:  csrci   sstatus, SSTATUS_SIE
    ld      t0, 0(t1)
    bnez    t0, 2f
    wfi
    csrsi   sstatus, SSTATUS_SIE
    j       1b
2:  sd      zero, 0(t1)
    ret

# report: print "<name> err=<a0 decimal> val=0x<a1 hex>\n".
#   In: a0, a1 = the call's results, a2 = name.  Clobbers: a0..a7, t0..t2.
report:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    sd      s3, 24(sp)
    mv      s1, a0
    mv      s2, a1
    mv      a0, a2
    call    puts_raw
    la      a0, str_err
    call    puts_raw
    mv      a0, s1
    call    putdec
    la      a0, str_val
    call    puts_raw
    mv      a0, s2
    call    puthex
    li      a0, '\n'
    call    putc
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    ld      s3, 24(sp)
    addi    sp, sp, 32
    ret

# putc: a0 = byte, through the legacy console.  Clobbers: a0, a6, a7.
putc:
    li      a7, SBI_EXT_LEGACY_CONSOLE_PUTCHAR
    li      a6, 0
    ecall
    ret

# puts / puts_raw: print a NUL-terminated string (same thing; two names for
# the two uses).  Clobbers: a0, a6, a7, t0.
puts:
puts_raw:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    mv      s1, a0
1:  lbu     a0, 0(s1)
    beqz    a0, 2f
    call    putc
    addi    s1, s1, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      s1, 8(sp)
    addi    sp, sp, 16
    ret

# puthex: "0x" and 16 hex digits.  Clobbers: a0, a6, a7, t0..t2.
puthex:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    mv      s1, a0
    li      a0, '0'
    call    putc
    li      a0, 'x'
    call    putc
    li      s2, 60
1:  srl     a0, s1, s2
    andi    a0, a0, 15
    li      t0, 10
    blt     a0, t0, 2f
    addi    a0, a0, 'a' - 10 - '0'
2:  addi    a0, a0, '0'
    call    putc
    addi    s2, s2, -4
    bgez    s2, 1b
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    addi    sp, sp, 32
    ret

# putdec: a signed decimal.  Clobbers: a0, a6, a7, t0..t2.
putdec:
    addi    sp, sp, -64
    sd      ra, 0(sp)
    sd      s1, 8(sp)
    sd      s2, 16(sp)
    mv      s1, a0
    bgez    s1, 1f
    li      a0, '-'
    call    putc
    neg     s1, s1
1:  addi    s2, sp, 63                  # digits are stored backwards from sp+63
    sb      zero, 0(s2)
2:  li      t0, 10
    remu    t1, s1, t0
    divu    s1, s1, t0
    addi    t1, t1, '0'
    addi    s2, s2, -1
    sb      t1, 0(s2)
    bnez    s1, 2b
    mv      a0, s2
    call    puts_raw
    ld      ra, 0(sp)
    ld      s1, 8(sp)
    ld      s2, 16(sp)
    addi    sp, sp, 64
    ret

# strap: S-mode trap handler (stvec).
#   Exceptions (the PMP probes) print "trap: scause=... stval=..." and resume:
#   after the faulting instruction, or, for a fetch fault, at ra (the probe
#   got there by jalr).  Interrupts print "irq: scause=..."; a timer
#   interrupt also disarms the timer and sets timer_seen; a software
#   interrupt is acknowledged in sip.
    .balign 4
strap:
    addi    sp, sp, -144
    sd      ra, 0(sp)
    sd      t0, 8(sp)
    sd      t1, 16(sp)
    sd      t2, 24(sp)
    sd      a0, 32(sp)
    sd      a1, 40(sp)
    sd      a2, 48(sp)
    sd      a3, 56(sp)
    sd      a4, 64(sp)
    sd      a5, 72(sp)
    sd      a6, 80(sp)
    sd      a7, 88(sp)
    sd      s1, 96(sp)
    sd      s2, 104(sp)
    csrr    s1, scause
    bltz    s1, 3f
    la      a0, str_trap
    call    puts_raw
    mv      a0, s1
    call    puthex
    la      a0, str_stval
    call    puts_raw
    csrr    a0, stval
    call    puthex
    li      a0, '\n'
    call    putc
    li      t0, EXC_INST_ACCESS_FAULT
    bne     s1, t0, 1f
    ld      t0, 0(sp)                   # fetch fault: back to the jalr's link
    csrw    sepc, t0
    j       9f
1:  csrr    t0, sepc
    addi    t0, t0, 4
    csrw    sepc, t0
    j       9f
3:  la      a0, str_irq
    call    puts_raw
    mv      a0, s1
    call    puthex
    li      a0, '\n'
    call    putc
    slli    s1, s1, 1
    srli    s1, s1, 1
    li      t0, IRQ_SSI
    bne     s1, t0, 4f
    li      t0, SIE_SSIE
    csrc    sip, t0                     # SSIP is writable from S
    j       9f
4:  li      t0, IRQ_STI
    bne     s1, t0, 9f
    li      a0, -1                      # STIP is cleared only by a new set_timer
    SBI     SBI_EXT_TIME, SBI_TIME_SET_TIMER
    la      t0, timer_seen
    li      t1, 1
    sd      t1, 0(t0)
9:  ld      ra, 0(sp)
    ld      t0, 8(sp)
    ld      t1, 16(sp)
    ld      t2, 24(sp)
    ld      a0, 32(sp)
    ld      a1, 40(sp)
    ld      a2, 48(sp)
    ld      a3, 56(sp)
    ld      a4, 64(sp)
    ld      a5, 72(sp)
    ld      a6, 80(sp)
    ld      a7, 88(sp)
    ld      s1, 96(sp)
    ld      s2, 104(sp)
    addi    sp, sp, 144
    sret

    .section .rodata
str_err:    .asciz " err="
str_val:    .asciz " val="
str_trap:   .asciz "trap: scause="
str_stval:  .asciz " stval="
str_irq:    .asciz "irq: scause="
str_read:   .asciz "read: ["
str_read_end: .asciz "]\n"
msg_hello:  .ascii "dbcn: hello\n"
msg_hello_end:

    .data
    .balign 8
timer_seen: .dword 0
read_buf:   .zero 16
    .balign 16
stack:      .zero 4096
stack_top:
