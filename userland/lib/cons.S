# cons.S — the console server's client API (protocol: msg.inc).
#
# cons_write(a0 = bytes, a1 = length) -> a0 status
# cons_puts(a0 = NUL-terminated string) -> a0 status
# cons_readline(a0 = buffer, a1 = capacity) -> a0 status, a1 line length
#   (without the newline; the line is in the buffer, not NUL-terminated)
# cons_read(a0 = buffer, a1 = capacity) -> a0 status, a1 length: raw bytes,
#   at least one (waits for them), no echo
# out_sink(a0, a1) = cons_write: tasks that link cons.S print through out.S.
# All follow a restarted console (ipc_call).  Needs fmt.S (mem_copy).  Clobber a0..a7, t0..t6.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"

.equ CONS_CHUNK, 240        # at most the console's receive buffer per CALL

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
1:  addi    sp, sp, -16
    sd      ra, 0(sp)
    mv      a6, a1
    mv      a1, a0
    la      a0, cons_id
    call    ipc_call
    bnez    a0, 2f
    mv      a0, a2              # the console's status
    mv      a1, a3              # the length
2:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

    .data
    .balign 4
    .globl cons_id
cons_id: .word TASK_CONSOLE     # generation 0; ipc_call keeps it current
    .bss
cons_bounce: .zero CONS_CHUNK
