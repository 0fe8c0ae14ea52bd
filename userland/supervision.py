"""The supervisor's contract with the tasks it watches: one source for the
numbers the builder writes into ``manifest.inc`` (see
``septum.toolchain.build``) and the tests read.

Watchdog (in the style of MINIX 3's reincarnation server): every
:data:`HEARTBEAT` ticks of virtual time the supervisor looks at each task
it watches -- the tasks its manifest entry may ``notify``.  A task blocked
in an IPC wait (a CALL, a RECV) is healthy; so is one that answered the
last ping (a NOTIFY of bit ``1 << its index`` to the supervisor, sent by
``userland/lib/watch.S`` when the task's receive loop sees
:data:`PING_BIT`) or whose kernel IPC counters moved.  A task found
runnable with none of these at :data:`MISSES` heartbeats in a row is hung:
the supervisor stops it and restarts it exactly as if it had faulted.

Five more rules catch a server that looks alive but serves nobody, each
failing it as a hung task:

* unanswered call: a task seen waiting in a CALL on the same watched
  server (TASK_STATUS reports whom: ``a1`` bits 15:8), its IPC counts
  unchanged, at :data:`MISSES` heartbeats in a row blames that server
  (``cause=unanswered``) -- unless the server is the supervisor, already
  stopped or restarting, or itself waiting in a CALL (the end of the chain
  is blamed).  Every server must answer every call promptly for this to
  be sound (the console's READLINE answers ``CONS_WAIT`` and notifies);
* deaf to its interrupt: a watched task seen blocked in a RECV while an
  interrupt source routed to it awaits its IRQ_ACK (TASK_STATUS ``a1``
  bit 16, ``TaskStatusWord.IRQ_HELD``), at :data:`MISSES` heartbeats in a
  row (``cause=deaf to its interrupt (<n> heartbeats)``): it swallowed a
  notification without acknowledging it, and the kernel keeps the source
  masked until it does.  Every driver acknowledges before its next RECV
  and at its start (a restart leaves its sources masked);
* interrupt storm: a watched task that received more than :data:`STORM`
  messages beyond those it sent within one heartbeat (``cause=storm``);
* code scrub: at each heartbeat one watched task that is up (round
  robin) has its code compared with the pristine copy the kernel keeps
  for its restarts (TASK_VERIFY); a difference still there
  :data:`SCRUB_GRACE` heartbeats in a row, the same task verified at each,
  fails it (``cause=code corrupted (offset <n>)``, the byte offset of the
  first difference in its code region): a corruption no other rule sees,
  whatever its symptom (the restart restores the code);
* complaint: ``SUP_COMPLAIN`` from a task allowed to call the supervisor
  (``cause=complaint from <caller>``) -- unless the caller's own code
  differs from its pristine copy (TASK_VERIFY): then the caller is failed
  (``cause=code corrupted``); the same caller's complaint about a
  task its last complaint restarted, within the give-up window, fails the
  caller instead (a corrupted client finds every answer wrong).

:data:`CRASH_BIT` is the shell's ``crash TASK``: the receive loop answers
it with a load from address 0, a real fault.
"""

from __future__ import annotations

#: Notification bit (on the watched task) of the supervisor's ping.
PING_BIT = 30
#: Notification bit (on the watched task) asking it to fault (``crash``).
CRASH_BIT = 29
#: Bits of a watched task that its interrupts may not use.
RESERVED_BITS = (PING_BIT, CRASH_BIT)
#: Heartbeat period in timebase ticks (10 MHz): 50 ms of virtual time.
HEARTBEAT = 500_000
#: Heartbeats in a row a runnable task may miss before it counts as hung.
MISSES = 2
#: Messages a watched task may receive beyond those it sends within one
#: heartbeat before it counts as an interrupt storm.  Measured excess per
#: heartbeat (received - sent): idle 0, typing long lines 0 (the UART's
#: FIFO gathers bytes), the attack flood 1, a burst of puts 8 (storage's
#: disk interrupts), host-link calls 7 (the proxy); a 115200-baud line
#: delivering one byte an interrupt would make 576.  The console storm of
#: campaign fault 1914 makes ~4,000-8,000.
STORM = 1_000
#: Heartbeats in a row the code scrub must find a task's code different
#: from the pristine copy before it fails the task itself (the first
#: finding included).  The other rules name the symptom of a corruption
#: they see, and have their time first: 12 heartbeats (600 ms) outlast the
#: slowest, the console's stale-input complaint (``CONS_INPUT_STALE``,
#: 500 ms, plus a kernel tick).
SCRUB_GRACE = 12
#: The library file (userland/lib/) that answers the ping and crash bits:
#: ``crash TASK`` posts the crash bit only to tasks that link it.
LIB_FILE = "watch.S"
#: Longest task name the supervisor reports (``ps``, ``crash TASK``).
TASK_NAME_MAX = 31
