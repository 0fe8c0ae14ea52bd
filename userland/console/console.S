# console.S — the console server: the UART driver and the terminal line
# editor.  The only task that maps uart0; its receive interrupt arrives as
# notification bit CONSOLE_IRQ_UART0.
#
# Requests (msg.inc).  Every request is answered at once -- no client is
# ever left blocked in a CALL here (the supervisor takes a server that
# leaves a call unanswered for two heartbeats for deaf, and restarts it):
#
# - CONS_WRITE prints the bulk bytes.
# - CONS_READLINE / CONS_READ (MINIX's suspend/revive): when the caller's
#   data is ready -- a finished line for a READLINE, any byte for a READ
#   (raw: no echo, no editing) -- the reply carries it (CONS_OK; READLINE:
#   a3 = length, a4 = line_sum of the line, lib/sum.S); otherwise the reply
#   is CONS_WAIT and the caller is remembered as a reader.  Readers are
#   served in the order they first asked, one entry per task (a task that
#   asks again keeps its place, with its new id, buffer length and mode;
#   a restarted one -- a new generation -- does not get a line finished
#   for its old incarnation: that line may be what killed it).
#   When the data of the oldest reader becomes ready, the console NOTIFYs it
#   once with bit TASK_CONSOLE (bit i = task i, as the supervisor's pongs)
#   and the reader calls again.  At most CONS_READERS readers; CONS_BUSY
#   beyond.  A caller the manifest does not let us NOTIFY (the console's
#   `notifies`) could never be told: CONS_BAD_REQUEST (the console finds out
#   with a NOTIFY of no bits, which changes nothing: a refusal is counted
#   as one denial of the console's).  A reader whose NOTIFY comes back
#   with the dead code is gone: its place goes to the next one.
#
# Typed bytes wait in a ring until a reader wants them; they are edited and
# echoed for the oldest reader while it is a READLINE (backspace erases, CR
# or LF ends the line, LF right after CR is skipped, other control bytes
# are ignored); a finished line waits for that reader to call again, and
# the editing of the next line waits with it.  Output turns "\n" into
# "\r\n" for the terminal.
#
# Fail-stop self-checks.  A bit flipped in the console's own memory must
# not become a wrong answer, so its critical state is kept redundantly
# and checked each time it is used; a mismatch stops the console with an
# illegal instruction (`unimp`, at the check that failed: the kernel
# records cause 2 and that pc, the supervisor restarts the console, and the
# new console drains the UART afresh; its readers find it by calling
# again, lib/cons.S):
#
# - rx_head, rx_tail (the ring's indices), nreaders, line_len, line_done and
#   last_cr are checked words: the value, then its complement (GETC/PUTC);
#   any one flipped bit of either makes them disagree.
# - Each reader entry carries RD_CHK, the complement of the XOR of its
#   other words, checked whenever the entry is looked at.
# - The line being edited is covered by line_run, its line_sum kept up to
#   date per byte typed and per backspace (the erased byte's term is
#   subtracted), never recomputed from the buffer; when the line is handed
#   over, line_sum is computed from the buffer and must equal line_run.
#   A flipped bit of the line (or of line_run) is caught there.
#
# A corruption that rewrites both words of a pair consistently is not
# caught: rx_head = 2**40 with its complement makes the editor loop over
# the ring, which is how the watchdog's tests make a console hang.
#
# Stale input (stale_check).  A reader that broke without faulting -- a
# shell that no longer answers the console's bit, waiting for ever in its
# wait loop -- is blocked in IPC and waits on nobody, so no supervisor
# rule sees it; only the console knows that typed input waits and nobody
# comes for it.  Input waits while ring bytes are unedited or a finished
# line is not taken (a line being typed, not finished, waits for the
# user, not for a reader).  It waits for the oldest reader (its data is
# ready: it was told), or with no reader registered for the one that
# called READLINE/READ last (fg_id, the "foreground" reader, expected
# back: a shell running a command while the user types ahead).  The clock
# (input_at) starts when input begins to wait and starts afresh whenever
# a reader takes input; calls of other readers (a shell polling behind a
# reader that holds a line) do not stop it.  When input has waited
# CONS_INPUT_STALE (msg.inc) the console sends SUP_COMPLAIN about the
# reader it waits for: the supervisor stops it and restarts it
# (`cause=complaint from console`).  A registered reader loses its place
# and a line edited for it (as any restarted reader would): the next
# reader's turn.  Once per incarnation: complained_id keeps the id
# complained about, and a reader that comes back with a new generation
# re-arms the rule.  The restarted shell gets the ring bytes typed after
# the stuck line.  The rule is checked when input arrives, after every
# READLINE/READ, and on the console's own TIMER, armed for the moment
# input would turn stale: notification bit STALE_BIT (bit 1; bit 0 is the
# UART's interrupt, 29/30 the watchdog's; nobody else notifies the
# console).  fg_id, complained_id and input_at are checked words.
    .include "abi.inc"
    .include "manifest.inc"
    .include "msg.inc"

# ns16550a registers (byte offsets) and bits, with the datasheet's names.
.equ UART_RBR, 0            # receiver buffer (read)
.equ UART_THR, 0            # transmitter holding (write)
.equ UART_IER, 1            # interrupt enable
.equ UART_FCR, 2            # FIFO control (write)
.equ UART_LSR, 5            # line status
.equ IER_ERBFI, 0x01        # received data available interrupt
.equ FCR_FIFOE, 0x01        # FIFOs on
.equ LSR_DR, 0x01           # data ready
.equ LSR_THRE, 0x20         # transmitter holding register empty

.equ RX_RING, 512           # typed bytes waiting for a reader (power of 2)
.equ RECV_BUF, 256          # a WRITE's bytes land here
.equ ASCII_BS, 0x08
.equ ASCII_DEL, 0x7f
.equ IRQ_BIT, 1 << CONSOLE_IRQ_UART0
.equ READER_BIT, 1 << TASK_CONSOLE  # the reader's "call again"
.equ RAW_MAX, 256           # most bytes one READ returns
.equ STALE_BIT, 1 << 1      # our TIMER: typed input may have gone stale

# A reader (RD_*), RD_SIZE bytes each, in `readers`, oldest first.
.equ RD_ID, 0               # its id (the reply and the NOTIFY go there)
.equ RD_CAP, 8              # its buffer length
.equ RD_RAW, 16             # 1: READ (raw bytes), 0: READLINE
.equ RD_NOTED, 24           # 1: NOTIFYed that its data is ready
.equ RD_CHK, 32             # ~(RD_ID ^ RD_CAP ^ RD_RAW ^ RD_NOTED)
.equ RD_SIZE, 40

# GETC rd, sym — rd = the checked word at sym; fail-stop unless the word
# after it is its complement.  Clobbers t6 (rd must not be t6).
.macro GETC rd, sym
    la      t6, \sym
    ld      \rd, 0(t6)
    ld      t6, 8(t6)
    xor     t6, t6, \rd
    not     t6, t6
    beqz    t6, .Lgetc\@
    unimp                       # the pair disagrees: stop
.Lgetc\@:
.endm

# PUTC rs, sym — store rs and its complement at sym (rs is left as it
# was).  Clobbers t6 (rs must not be t6).
.macro PUTC rs, sym
    la      t6, \sym
    sd      \rs, 0(t6)
    not     \rs, \rs
    sd      \rs, 8(t6)
    not     \rs, \rs
.endm

# RDSUM base — t6 = ~(the XOR of the entry's words but RD_CHK).  Clobbers t5.
.macro RDSUM base
    ld      t6, RD_ID(\base)
    ld      t5, RD_CAP(\base)
    xor     t6, t6, t5
    ld      t5, RD_RAW(\base)
    xor     t6, t6, t5
    ld      t5, RD_NOTED(\base)
    xor     t6, t6, t5
    not     t6, t6
.endm

# RDCHK base — fail-stop unless the entry at base matches its RD_CHK.
# Clobbers t5, t6.
.macro RDCHK base
    RDSUM   \base
    ld      t5, RD_CHK(\base)
    beq     t5, t6, .Lrdchk\@
    unimp                       # the entry was changed behind our back: stop
.Lrdchk\@:
.endm

# RDSEAL base — store the entry's RD_CHK after a change.  Clobbers t5, t6.
.macro RDSEAL base
    RDSUM   \base
    sd      t6, RD_CHK(\base)
.endm

    .text
    .globl _start
_start:
    li      s0, DEV_UART0
    li      t0, FCR_FIFOE
    sb      t0, UART_FCR(s0)
    li      t0, IER_ERBFI
    sb      t0, UART_IER(s0)
    call    rx_drain            # whatever arrived while we were down
    li      a0, IRQ_BIT         # a restart leaves the interrupt masked
    call    sys_irq_ack

# The server loop.  s1 = sender, s2 = op, s3 = bytes received,
# s4 = the sender's buffer length (what a reply may fill).
serve:
    li      a0, RECVMODE_OPEN
    la      a1, recv_buf
    li      a6, RECV_BUF
    call    watch_recv          # lib/watch.S answers the supervisor's bits
    bnez    a0, irq             # RECV_NOTIFICATION
    mv      s1, a1
    mv      s2, a2
    mv      s3, a6
    mv      s4, a7
    li      t0, CONS_WRITE
    beq     s2, t0, op_write
    li      t0, CONS_READLINE
    li      s5, 0               # line mode
    beq     s2, t0, op_read
    li      t0, CONS_READ
    li      s5, 1               # raw mode
    beq     s2, t0, op_read
bad_request:
    li      a2, CONS_BAD_REQUEST
    j       reply_status

op_write:
    la      a0, recv_buf
    mv      a1, s3
    call    uart_write
    li      a2, CONS_OK
reply_status:                   # a2 = status, no bulk
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply           # a caller gone meanwhile is no concern of ours
    j       serve

irq:
    andi    t0, a1, IRQ_BIT
    beqz    t0, 1f              # STALE_BIT: our deadline
    call    rx_drain
    li      a0, IRQ_BIT
    call    sys_irq_ack
    call    edit
    li      a0, 0               # nobody is calling: tell the oldest reader
    call    notify_head
1:  call    stale_check
    j       serve

# READLINE / READ from s1 (s4 its buffer length, s5 = 1 for raw).
op_read:
    mv      a0, s1
    call    find_reader
    bnez    a0, 6f              # known: it keeps its place
    GETC    t1, nreaders
    li      t2, CONS_READERS
    bltu    t1, t2, 1f
    li      a2, CONS_BUSY
    j       reply_status
1:  mv      a0, s1              # may we tell it later?  A NOTIFY of no bits
    li      a1, 0               # changes nothing but asks the kernel
    call    sys_notify
    bnez    a0, bad_request
    GETC    t1, nreaders
    li      t2, RD_SIZE
    mul     t2, t1, t2
    la      a0, readers
    add     a0, a0, t2
    sd      zero, RD_NOTED(a0)
    addi    t1, t1, 1
    PUTC    t1, nreaders
2:  sd      s1, RD_ID(a0)       # what it wants now (it may have restarted)
    sd      s4, RD_CAP(a0)
    sd      s5, RD_RAW(a0)
    RDSEAL  a0
    PUTC    s1, fg_id           # the foreground reader
    call    edit
    call    head_ready
    beqz    a0, 5f
    la      t0, readers
    ld      t1, RD_ID(t0)
    bne     t1, s1, 5f          # ready, but for an older reader
    ld      t1, RD_RAW(t0)
    bnez    t1, 3f
    call    give_line
    j       4f
3:  call    give_raw
4:  call    pop_reader
    li      t0, 0               # input was taken: what waits still (typed
    PUTC    t0, input_at        # ahead, or another reader's) starts afresh
    call    edit                # the next reader's line
    li      a0, 0
    call    notify_head
    j       7f
5:  li      a2, CONS_WAIT
    mv      a0, s1
    li      a1, 0
    li      a6, 0
    call    sys_reply
    mv      a0, s1              # it knows it must wait; an older one may
    call    notify_head         # be ready (not this caller: it just asked)
7:  call    stale_check         # input left waiting: its clock starts now
    j       serve
6:  ld      t0, RD_ID(a0)       # a known reader: the same incarnation?
    beq     t0, s1, 2b
    sd      zero, RD_NOTED(a0)  # restarted: it starts afresh, and a line
    la      t0, readers         # finished for the one that died is dropped
    bne     a0, t0, 2b          # (it may be what killed it: no replay)
    GETC    t1, line_done
    beqz    t1, 2b
    li      t1, 0
    PUTC    t1, line_len
    PUTC    t1, line_done
    la      t1, line_run
    sd      zero, 0(t1)
    j       2b

# stale_check — the stale-input rule (see the header): if typed input
# waits, start its clock if need be; once it has waited CONS_INPUT_STALE,
# complain once about the foreground reader, else arm our TIMER for that
# moment.  Clobbers a0..a7, t0..t6.
stale_check:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    GETC    t0, line_done
    bnez    t0, 1f
    GETC    t1, rx_head
    GETC    t2, rx_tail
    bne     t1, t2, 1f
    li      t0, 0               # nothing waits for a reader: no clock
    PUTC    t0, input_at        # (a deadline still armed finds nothing)
    j       9f
1:  call    stale_reader        # whom the input waits for
    GETC    t1, complained_id
    beq     a0, t1, 9f          # no reader yet (0), or told already
    li      a0, 0               # TIMER(0): a1 = now (and no deadline)
    li      a1, 0
    call    sys_timer
    GETC    t0, input_at
    bnez    t0, 2f
    mv      t0, a1              # input waits from now on
    PUTC    t0, input_at
2:  li      t2, CONS_INPUT_STALE
    add     a0, t0, t2          # when it turns stale
    bgeu    a1, a0, 3f
    li      a1, STALE_BIT
    call    sys_timer
    j       9f
3:  call    stale_reader        # stale: complain about its reader, once
    PUTC    a0, complained_id
    li      t0, 0
    PUTC    t0, input_at
    GETC    t0, nreaders
    beqz    t0, 4f
    call    pop_reader          # a registered reader loses its place (it
    li      t0, 0               # asks again once restarted) and a line
    PUTC    t0, line_len        # edited for it, as for any restarted
    PUTC    t0, line_done       # reader: the next reader's turn
    la      t1, line_run
    sd      zero, 0(t1)
4:  GETC    a3, complained_id
    li      t0, ID_INDEX_MASK
    and     a3, a3, t0
    li      a0, SUPERVISOR_TASK # its id: the supervisor is never restarted
    li      a1, 0
    li      a2, SUP_COMPLAIN
    li      a6, 0
    call    sys_call            # SUP_OK, or the supervisor's refusal:
    call    edit                # either way nothing more to ask
    li      a0, 0
    call    notify_head
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# stale_reader -> a0 = the id of the reader waiting input is for: the
# oldest reader (its data is ready and it was told), or with no reader
# registered the last one (fg_id: it is expected back).  Clobbers t0..t6.
stale_reader:
    GETC    t0, nreaders
    beqz    t0, 1f
    la      t1, readers
    RDCHK   t1
    ld      a0, RD_ID(t1)
    ret
1:  GETC    a0, fg_id
    ret

# give_line — reply to s1 with the finished line, after checking it against
# its running sum; the line is then empty again.  Clobbers a0..a7, t0..t6, s6.
give_line:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    GETC    s6, line_len
    li      t0, CONS_LINE_MAX
    bleu    s6, t0, 1f
    unimp                       # a length no edit can make: stop
1:  la      a0, line
    mv      a1, s6
    call    line_sum            # from the buffer, as the reader will
    la      t0, line_run
    lwu     t0, 0(t0)           # the sum kept while editing (mod 2^32)
    beq     a0, t0, 2f
    unimp                       # the line changed behind the editor: stop
2:  mv      a4, a0
    mv      a3, s6
    mv      a0, s1
    la      a1, line
    mv      a6, s6
    li      a2, CONS_OK
    call    sys_reply           # the kernel copies min(length, its capacity)
    li      t0, 0
    PUTC    t0, line_len
    PUTC    t0, line_done
    la      t1, line_run
    sd      zero, 0(t1)
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# give_raw — reply to s1 with the bytes typed, at most its buffer length
# (readers[0].RD_CAP) and RAW_MAX.  Clobbers a0..a7, t0..t6.
give_raw:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    la      t0, readers
    ld      t5, RD_CAP(t0)
    li      t1, RAW_MAX
    bleu    t5, t1, 1f
    mv      t5, t1
1:  GETC    t3, rx_head
    GETC    t4, rx_tail
    li      a3, 0               # bytes taken
    la      a5, raw_buf
2:  beq     t3, t4, 3f
    bgeu    a3, t5, 3f
    andi    t1, t4, RX_RING - 1
    la      a0, rx_ring
    add     a0, a0, t1
    lbu     a0, 0(a0)
    add     t1, a5, a3
    sb      a0, 0(t1)
    addi    t4, t4, 1
    addi    a3, a3, 1
    j       2b
3:  PUTC    t4, rx_tail
    mv      a0, s1
    mv      a1, a5
    mv      a6, a3
    li      a2, CONS_OK
    li      a4, 0
    call    sys_reply
    ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# find_reader(a0 = id) -> a0 = the entry of the reader with that task
# index (whatever its generation), or 0.  Clobbers t0..t6.
find_reader:
    li      t1, ID_INDEX_MASK
    and     t2, a0, t1
    GETC    t0, nreaders
    la      t3, readers
1:  beqz    t0, 2f
    RDCHK   t3
    ld      t4, RD_ID(t3)
    and     t4, t4, t1
    beq     t4, t2, 3f
    addi    t3, t3, RD_SIZE
    addi    t0, t0, -1
    j       1b
2:  li      a0, 0
    ret
3:  mv      a0, t3
    ret

# head_ready -> a0 = 1 when readers[0] can be answered now (a finished
# line for a READLINE, any byte for a READ), else 0.  Clobbers t0..t6.
head_ready:
    GETC    t0, nreaders
    li      a0, 0
    beqz    t0, 1f
    la      t1, readers
    RDCHK   t1
    ld      t2, RD_RAW(t1)
    bnez    t2, 2f
    GETC    a0, line_done
1:  ret
2:  GETC    t3, rx_head
    GETC    t4, rx_tail
    sub     a0, t3, t4
    snez    a0, a0
    ret

# notify_head(a0 = an id not to NOTIFY, or 0) — if readers[0]'s data is
# ready and it has not been told, NOTIFY it (once).  A reader gone (dead
# code) is dropped and the next one considered.  Clobbers a0..a7, t0..t6.
notify_head:
    addi    sp, sp, -16
    sd      ra, 0(sp)
    sd      s6, 8(sp)
    mv      s6, a0
1:  call    head_ready
    beqz    a0, 2f
    la      t0, readers
    ld      a0, RD_ID(t0)
    beq     a0, s6, 2f
    ld      t1, RD_NOTED(t0)
    bnez    t1, 2f
    li      t1, 1
    sd      t1, RD_NOTED(t0)
    RDSEAL  t0
    li      a1, READER_BIT
    call    sys_notify
    beqz    a0, 2f
    call    pop_reader          # it is gone: the next reader's turn
    call    edit
    j       1b
2:  ld      ra, 0(sp)
    ld      s6, 8(sp)
    addi    sp, sp, 16
    ret

# pop_reader — drop readers[0], shift the rest down.  Clobbers t0..t3, t6.
pop_reader:
    GETC    t1, nreaders
    bnez    t1, 1f
    unimp                       # no reader to drop: the state is wrong
1:  addi    t1, t1, -1
    PUTC    t1, nreaders
    li      t0, RD_SIZE
    mul     t1, t1, t0          # bytes to move
    la      t2, readers
2:  beqz    t1, 3f
    lbu     t3, RD_SIZE(t2)
    sb      t3, 0(t2)
    addi    t2, t2, 1
    addi    t1, t1, -1
    j       2b
3:  ret

# rx_drain — move every received byte from the UART into the ring (bytes
# beyond its capacity are dropped).  Clobbers t0..t4, t6, a0.
rx_drain:
    GETC    t3, rx_head         # next write
    GETC    t4, rx_tail         # next read
1:  lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_DR
    beqz    t0, 3f
    lbu     t0, UART_RBR(s0)
    sub     t1, t3, t4
    li      a0, RX_RING
    bgeu    t1, a0, 1b          # full: drop
    andi    t1, t3, RX_RING - 1
    la      a0, rx_ring
    add     a0, a0, t1
    sb      t0, 0(a0)
    addi    t3, t3, 1
    j       1b
3:  PUTC    t3, rx_head
    ret

# edit — while readers[0] is a READLINE whose line is not finished and
# typed bytes wait, take them from the ring, edit the line and echo.
# Stops at the end of a line (line_done = 1: it waits for that reader).
# Clobbers a0..a7, t0..t6.
edit:
    addi    sp, sp, -16
    sd      ra, 0(sp)
1:  GETC    t0, nreaders
    beqz    t0, 9f
    la      t1, readers
    RDCHK   t1
    ld      t0, RD_RAW(t1)
    bnez    t0, 9f              # raw bytes are taken by give_raw
    GETC    t0, line_done
    bnez    t0, 9f
    GETC    t3, rx_head
    GETC    t4, rx_tail
    beq     t3, t4, 9f          # nothing typed
    andi    t1, t4, RX_RING - 1
    la      a0, rx_ring
    add     a0, a0, t1
    lbu     a0, 0(a0)
    addi    t4, t4, 1
    PUTC    t4, rx_tail
    GETC    a1, last_cr
    li      t0, 0
    PUTC    t0, last_cr
    li      t1, '\n'
    beq     a0, t1, 2f
    li      t1, '\r'
    beq     a0, t1, 3f
    li      t1, ASCII_DEL
    beq     a0, t1, 4f
    li      t1, ASCII_BS
    beq     a0, t1, 4f
    li      t1, ' '
    bltu    a0, t1, 1b          # other control characters are ignored
    GETC    t3, line_len
    li      t1, CONS_LINE_MAX
    bgeu    t3, t1, 1b          # line full: ignore
    la      t1, line
    add     t1, t1, t3
    sb      a0, 0(t1)
    addi    t3, t3, 1
    PUTC    t3, line_len
    mul     t1, a0, t3          # line_run += (index + 1) * byte + 1
    addi    t1, t1, 1
    la      t2, line_run
    ld      t0, 0(t2)
    add     t0, t0, t1
    sd      t0, 0(t2)
    call    uart_putc           # echo
    j       1b
2:  bnez    a1, 1b              # LF right after CR: already ended the line
    j       5f
3:  li      t0, 1
    PUTC    t0, last_cr
    j       5f
4:  GETC    t3, line_len        # backspace
    beqz    t3, 1b
    la      t1, line
    add     t1, t1, t3
    lbu     t2, -1(t1)          # the erased byte, at index line_len - 1
    mul     t2, t2, t3          # line_run -= its term
    addi    t2, t2, 1
    la      t1, line_run
    ld      t0, 0(t1)
    sub     t0, t0, t2
    sd      t0, 0(t1)
    addi    t3, t3, -1
    PUTC    t3, line_len
    la      a0, erase
    li      a1, 3
    call    uart_write
    j       1b
5:  li      a0, '\n'            # the line is done: echo; it waits for its reader
    call    uart_putc
    li      t0, 1
    PUTC    t0, line_done
9:  ld      ra, 0(sp)
    addi    sp, sp, 16
    ret

# uart_write(a0 = bytes, a1 = length) — polled output.  Clobbers a0..a2, t0..t1.
uart_write:
    addi    sp, sp, -32
    sd      ra, 0(sp)
    sd      s5, 8(sp)
    sd      s6, 16(sp)
    mv      s5, a0
    add     s6, a0, a1
1:  bgeu    s5, s6, 2f
    lbu     a0, 0(s5)
    call    uart_putc
    addi    s5, s5, 1
    j       1b
2:  ld      ra, 0(sp)
    ld      s5, 8(sp)
    ld      s6, 16(sp)
    addi    sp, sp, 32
    ret

# uart_putc(a0 = byte) — wait for THRE, send; "\n" goes out as "\r\n".
# Clobbers t0, t1, a0.
uart_putc:
    li      t1, '\n'
    bne     a0, t1, 2f
1:  lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_THRE
    beqz    t0, 1b
    li      t0, '\r'
    sb      t0, UART_THR(s0)
2:  lbu     t0, UART_LSR(s0)
    andi    t0, t0, LSR_THRE
    beqz    t0, 2b
    sb      a0, UART_THR(s0)
    ret

    .section .rodata
erase: .ascii "\b \b"

# Checked words (GETC/PUTC): the value, then its complement.
    .data
    .balign 8
rx_head:   .dword 0, -1     # bytes ever put in the ring (next write)
rx_tail:   .dword 0, -1     # bytes ever taken (next read)
nreaders:  .dword 0, -1     # entries in `readers`
line_len:  .dword 0, -1     # bytes in `line`
line_done: .dword 0, -1     # 1: `line` is finished, for readers[0]
last_cr:   .dword 0, -1     # 1: the last byte edited was CR
fg_id:     .dword 0, -1     # id of the last READLINE/READ caller, 0 = none
complained_id: .dword 0, -1 # fg_id when the console complained about it
input_at:  .dword 0, -1     # since when input waits for a reader, 0 = not
line_run:  .dword 0         # line_sum of line[0..line_len), kept per byte

    .bss
    .balign 8
readers:  .zero RD_SIZE * CONS_READERS
raw_buf:  .zero RAW_MAX
recv_buf: .zero RECV_BUF
line:     .zero CONS_LINE_MAX
rx_ring:  .zero RX_RING
