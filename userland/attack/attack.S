# attack.S — the attack demos: a compromised task the shell asks to try
# one thing at a time (msg.inc ATK_*).  It prints what it tries; what the
# system did is either printed too (a returned error: DENIED, BAD_BUFFER)
# or seen by everyone: the MMU stops the task, the kernel reports it, the
# supervisor logs the fault and restarts the task, the shell's call gets
# the dead code.  The manifest grants it nothing but calls to the console.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"

.equ HUGE, 1 << 40              # a bulk length no region has

    .text
    .globl _start
_start:
serve:
    li      a0, RECVMODE_OPEN
    li      a1, 0
    li      a6, 0
    call    watch_recv          # lib/watch.S answers the supervisor's bits
    bnez    a0, serve           # no other notifications are expected
    mv      s1, a1              # the caller (the shell)
    addi    t0, a2, -1
    li      t1, ATK_COUNT - 1
    bgeu    t0, t1, bad
    slli    t0, t0, 3
    la      t1, attacks
    add     t1, t1, t0
    ld      t1, 0(t1)
    jr      t1
bad:
    li      a2, 1
    j       done_status
done:
    li      a2, 0
done_status:
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply
    j       serve

atk_kernel:
    la      a0, m_kernel
    li      a1, KERNEL_BASE
    call    say_addr
    li      t0, KERNEL_BASE
    ld      t1, 0(t0)           # supervisor-only page: load page fault
    j       done                # never reached

atk_memory:
    la      a0, m_memory
    li      a1, TASK_SHELL_BASE
    call    say_addr
    li      t0, TASK_SHELL_BASE
    li      t1, 0x00100073      # an ebreak over the shell's first instruction
    sw      t1, 0(t0)           # not mapped for us: store page fault
    j       done

atk_device:
    la      a0, m_device
    li      a1, DEV_UART0
    call    say_addr
    li      t0, DEV_UART0
    lbu     t1, 0(t0)           # not granted, not mapped: load page fault
    j       done

atk_peer:
    la      a0, m_peer
    call    out_str
    li      a0, TASK_SUPERVISOR
    li      a1, 0
    li      a2, SUP_POWEROFF
    li      a6, 0
    call    sys_call            # refused and counted by the kernel
    call    say_result
    j       done

# Four console WRITEs whose buffer is not ours; the kernel checks the
# buffer against our regions before any copy: BAD_BUFFER each time.
atk_buffers:
    la      s2, bufcases
1:  ld      a0, 0(s2)           # the description
    beqz    a0, done
    call    out_str
    la      a0, cons_id         # (ipc_call: follows a restarted console)
    ld      a1, 8(s2)
    ld      a6, 16(s2)
    li      a2, CONS_WRITE
    call    ipc_call
    call    say_result
    addi    s2, s2, 24
    j       1b

atk_flood:
    la      a0, m_flood
    call    out_str
    li      a0, ATK_FLOOD_CALLS
    call    out_dec
    la      a0, m_flood2
    call    out_str
    call    out_flush
    li      s2, ATK_FLOOD_CALLS
    li      s3, 0               # answered
1:  beqz    s2, 2f
    la      a0, cons_id
    li      a1, 0
    li      a2, 0               # not an op: the console answers BAD_REQUEST
    li      a6, 0
    call    ipc_call
    bnez    a0, 3f
    addi    s3, s3, 1
3:  addi    s2, s2, -1
    j       1b
2:  mv      a0, s3
    call    out_dec
    la      a0, m_flood3
    call    out_str
    call    out_nl
    j       done

atk_spin:
    la      a0, m_spin
    call    out_str
    call    out_nl
    mv      a0, s1              # answer first: the shell goes on
    li      a1, 0
    li      a2, 0
    li      a6, 0
    call    sys_reply
1:  j       1b                  # only the timer takes the CPU back

# say_addr(a0 = text, a1 = address) — "<text><address>...", flushed.
say_addr:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a1, 8(sp)
    call    out_str
    ld      a0, 8(sp)
    call    out_hex
    la      a0, m_dots
    call    out_str
    call    out_nl
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# say_result(a0 = kernel status) — " -> NAME" and a newline.
say_result:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      a0, 8(sp)
    la      a0, m_arrow
    call    out_str
    ld      a0, 8(sp)
    call    is_dead
    la      t0, e_dead
    bnez    a0, 1f
    ld      a0, 8(sp)
    li      t1, ERR_BAD_ARG
    la      t0, e_other
    bgtu    a0, t1, 1f
    slli    a0, a0, 3
    la      t0, err_names
    add     t0, t0, a0
    ld      t0, 0(t0)
1:  mv      a0, t0
    call    out_str
    call    out_nl
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .section .rodata
    .balign 8
attacks:                        # ATK_KERNEL .. ATK_SPIN
    .dword atk_kernel, atk_memory, atk_device, atk_peer, atk_buffers, atk_flood, atk_spin
err_names:                      # kernel/ABI.md status codes
    .dword e_ok, e_denied, e_badtask, e_badsys, e_badbuf, e_notwait, e_badarg
bufcases:                       # (description, address, length)
    .dword b_kernel, KERNEL_BASE, 64
    .dword b_other, TASK_SHELL_BASE, 64
    .dword b_wrap, -32, 64
    .dword b_huge, ownbuf, HUGE
    .dword 0, 0, 0

m_kernel:  .asciz "attack: reading kernel memory at "
m_memory:  .asciz "attack: writing the shell's code at "
m_device:  .asciz "attack: reading uart0 (not granted) at "
m_peer:    .asciz "attack: calling the supervisor (not granted)"
m_flood:   .asciz "attack: flooding the console with "
m_flood2:  .asciz " calls -> "
m_flood3:  .asciz " answered; the console still serves everyone"
m_spin:    .asciz "attack: spinning forever at priority 2 (storage's and the shell's): round robin keeps them running, and the supervisor's watchdog stops me"
m_dots:    .asciz "..."
m_arrow:   .asciz " -> "
b_kernel:  .asciz "attack: console WRITE from kernel memory"
b_other:   .asciz "attack: console WRITE from the shell's memory"
b_wrap:    .asciz "attack: console WRITE wrapping around the address space"
b_huge:    .asciz "attack: console WRITE of 1 TiB from our own buffer"
e_ok:      .asciz "OK"
e_denied:  .asciz "DENIED"
e_badtask: .asciz "BAD_TASK"
e_badsys:  .asciz "BAD_SYSCALL"
e_badbuf:  .asciz "BAD_BUFFER"
e_notwait: .asciz "NOT_WAITING"
e_badarg:  .asciz "BAD_ARG"
e_dead:    .asciz "DEAD"
e_other:   .asciz "?"

    .bss
ownbuf: .zero 64
