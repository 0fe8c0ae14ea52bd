"""An executable reference model of the kernel's system-call semantics.

The model is the specification the assembly is tested against: task states,
the receive scan, notifications, authority, denial and IPC counts,
generations and dead codes, faults, stops, restarts, bulk copies and the scheduler,
written plainly.
Tests drive it with the same random syscall scripts that real tasks run on
the real kernel (tests/kernel/test_model.py) and compare every result, every
delivered message, every task state and every byte of the tasks' buffers.

What the model does not know it says so: a result lists the registers it
defines (:attr:`Result.defined`); the ABI leaves the others undefined.

Usage::

    m = Model([TaskSpec(prio=1, supervisor=True, calls={1}), TaskSpec(prio=2)])
    m.run(lambda task: task.script.next_op())   # see run()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from septum.kernel.abi import (CAUSE_EXIT, NOTIFY_FAULT_BIT, Err, Limits, RecvKind,
                               RecvMode, RegionPerm, Sys, TaskId, TaskState, dead_code,
                               status_word, task_id)

MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Region:
    """A memory region of a task: [base, base + size) with permissions."""

    base: int
    size: int
    perm: RegionPerm


@dataclass
class TaskSpec:
    """What the manifest says about one task."""

    prio: int
    supervisor: bool = False
    calls: set[int] = field(default_factory=set)
    notifies: set[int] = field(default_factory=set)
    regions: list[Region] = field(default_factory=list)


@dataclass
class Result:
    """The registers a system call returned, and which of them it defines."""

    regs: list[int]  # a0..a7
    defined: tuple[int, ...]  # indices into regs

    def masked(self) -> tuple[int | None, ...]:
        """The registers, with undefined ones as None."""
        return tuple(r if i in self.defined else None for i, r in enumerate(self.regs))


@dataclass
class Op:
    """One system call (or a deliberate fault) a task performs.

    ``number`` is the value of a7; ``args`` are a0..a6.  ``fault_addr`` set:
    instead of an ecall the task loads from that address (a fault).
    """

    number: int
    args: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0)
    fault_addr: int | None = None


@dataclass
class Task:
    """The model's view of one task (mirrors the kernel's TCB)."""

    index: int
    spec: TaskSpec
    state: TaskState = TaskState.READY
    id: int = 0
    notif: int = 0
    wait: int = 0
    buf: int = 0
    buflen: int = 0
    cause: int = 0
    tval: int = 0
    denials: int = 0
    sent: int = 0  # IPC counters (Tcb.SENT / Tcb.RECEIVED), modulo 2**32
    received: int = 0
    regs: list[int] = field(default_factory=lambda: [0] * 8)  # a0..a7
    defined: tuple[int, ...] = ()
    words: tuple[int, ...] = (0, 0, 0, 0)  # message words of a pending CALL
    in_call: bool = False  # an op was issued and its result is pending
    results: list[Result] = field(default_factory=list)
    pc: int = 0  # index of the next op of its script

    @property
    def generation(self) -> int:
        return self.id >> TaskId.GEN_SHIFT


class Model:
    """The kernel's system-call semantics over a fixed set of tasks.

    ``memory`` maps a physical address to a byte, for the bytes that bulk
    copies may touch; ``initial_memory(task)`` gives what a (re)start puts
    back (see :meth:`init_task`).
    """

    def __init__(self, specs: list[TaskSpec],
                 initial_memory: Callable[[int], dict[int, int]] | None = None) -> None:
        if not 1 <= len(specs) <= Limits.MAX_TASKS:
            raise ValueError("1..MAX_TASKS tasks")
        sups = [i for i, s in enumerate(specs) if s.supervisor]
        if len(sups) != 1:
            raise ValueError("exactly one supervisor")
        self.supervisor = sups[0]
        self.tasks = [Task(i, s) for i, s in enumerate(specs)]
        self.memory: dict[int, int] = {}
        self._initial_memory = initial_memory or (lambda i: {})
        for t in self.tasks:
            t.id = task_id(t.index, 0)
            self.init_task(t)
        # The kernel enters the scheduler as if the last task had run.
        self.cur = len(self.tasks) - 1

    # ----- helpers mirroring kernel routines ---------------------------------

    def init_task(self, t: Task) -> None:
        """task_init: fresh registers and memory, READY, script from the top."""
        self.memory.update(self._initial_memory(t.index))
        t.regs = [0] * 8
        t.regs[0] = t.id
        t.state = TaskState.READY
        t.notif = t.wait = t.buf = t.buflen = 0
        t.in_call = False
        t.results = []
        t.pc = 0

    def check_buf(self, t: Task, addr: int, length: int, perm: RegionPerm) -> bool:
        """check_buf: inside one region with the permissions (length 0: yes)."""
        if length == 0:
            return True
        for r in t.spec.regions:
            if (r.perm & perm) == perm and addr >= r.base and length <= r.size \
                    and addr - r.base <= r.size - length:
                return True
        return False

    def copy(self, dst: int, src: int, n: int) -> None:
        for i in range(n):
            self.memory[dst + i] = self.memory.get(src + i, 0)

    @staticmethod
    def count_sent(t: Task) -> None:
        """One message delivered from ``t`` (its SENT counter)."""
        t.sent = (t.sent + 1) & MASK32

    @staticmethod
    def count_received(t: Task) -> None:
        """One message or notification delivered to ``t`` (RECEIVED)."""
        t.received = (t.received + 1) & MASK32

    def post(self, t: Task, bits: int) -> None:
        """notify_post: a waiting receiver gets the bits (and counts them)."""
        t.notif = (t.notif | bits) & MASK64
        if t.notif and t.state in (TaskState.RECV_WAIT, TaskState.NOTIFY_WAIT):
            self._set(t, [RecvKind.NOTIFICATION, t.notif], (0, 1))
            self.count_received(t)
            t.notif = 0
            t.state = TaskState.READY

    def kill(self, t: Task, state: TaskState, notify: bool) -> None:
        """task_kill: new generation, callers released with the dead code."""
        t.state = state
        gen = (t.generation + 1) & TaskId.GEN_MASK
        t.id = task_id(t.index, gen)
        for x in self.tasks:
            if x.state in (TaskState.SEND_WAIT, TaskState.REPLY_WAIT) and x.wait == t.index:
                self._set(x, [dead_code(gen)], (0,))
                x.state = TaskState.READY
        if notify and t.index != self.supervisor:
            self.post(self.tasks[self.supervisor], 1 << NOTIFY_FAULT_BIT)

    def stop(self, t: Task) -> None:
        """task_stop: a live task is killed (the supervisor is not told); a
        stopped one keeps its generation and fault record.  Either way it
        is STOPPED afterwards, and its pending call (if any) is void."""
        if t.state < TaskState.FAULTED:
            self.kill(t, TaskState.STOPPED, False)
        t.state = TaskState.STOPPED
        t.in_call = False

    def fault(self, t: Task, cause: int, tval: int, state: TaskState) -> None:
        """task_fault."""
        t.cause, t.tval = cause, tval
        t.in_call = False
        self.kill(t, state, True)

    def deliver(self, s: Task, r: Task) -> None:
        """ipc_deliver."""
        n = min(s.buflen, r.buflen)
        self.count_sent(s)
        self.count_received(r)
        self._set(r, [RecvKind.MESSAGE, s.id, *s.words, n, s.buflen], tuple(range(8)))
        self.copy(r.buf, s.buf, n)
        r.state = TaskState.READY
        s.state = TaskState.REPLY_WAIT

    def find_sender(self, r: Task) -> Task | None:
        best = None
        for t in self.tasks:
            if t.state == TaskState.SEND_WAIT and t.wait == r.index:
                if best is None or t.spec.prio < best.spec.prio:
                    best = t
        return best

    def recv_common(self, r: Task, mode: int) -> None:
        if r.notif:
            self._set(r, [RecvKind.NOTIFICATION, r.notif], (0, 1))
            self.count_received(r)
            r.notif = 0
            return
        if mode:
            r.state = TaskState.NOTIFY_WAIT
            return
        s = self.find_sender(r)
        if s is not None:
            self.deliver(s, r)
        else:
            r.state = TaskState.RECV_WAIT

    def caller_of(self, me: Task, ident: int) -> tuple[int, Task | None]:
        ident &= MASK32
        idx = ident & TaskId.INDEX_MASK
        if idx >= len(self.tasks):
            return Err.BAD_TASK, None
        c = self.tasks[idx]
        if c.id != ident:
            return dead_code(c.generation), None
        if c.state != TaskState.REPLY_WAIT or c.wait != me.index:
            return Err.NOT_WAITING, None
        return Err.OK, c

    def reply_do(self, c: Task, replier: Task, words: tuple[int, ...], buf: int,
                 length: int) -> None:
        """reply_do: caller ``c`` gets the reply of ``replier``."""
        n = min(length, c.buflen)
        self.count_sent(replier)
        self.count_received(c)
        self._set(c, [Err.OK, n, *words], tuple(range(6)))
        c.state = TaskState.READY
        self.copy(c.buf, buf, n)

    @staticmethod
    def _set(t: Task, values: list[int], defined: tuple[int, ...]) -> None:
        for i, v in enumerate(values):
            t.regs[i] = v & MASK64
        t.defined = defined

    # ----- the system calls ------------------------------------------------------

    def syscall(self, t: Task, op: Op) -> bool:
        """Perform ``op`` for running task ``t``; returns True to rotate."""
        t.in_call = True
        if op.fault_addr is not None:
            self.fault(t, 13, op.fault_addr, TaskState.FAULTED)  # load page fault
            return False
        a = list(op.args) + [0] * (7 - len(op.args))
        n = op.number & MASK64

        def ret(*values: int, defined: tuple[int, ...] | None = None) -> bool:
            self._set(t, list(values), defined or tuple(range(len(values))))
            return False

        def deny() -> bool:
            t.denials += 1
            return ret(Err.DENIED)

        if n == Sys.CALL:
            ident = a[0] & MASK32
            idx = ident & TaskId.INDEX_MASK
            if idx >= len(self.tasks):
                return ret(Err.BAD_TASK)
            if idx not in t.spec.calls:
                return deny()
            srv = self.tasks[idx]
            if srv.id != ident:
                return ret(dead_code(srv.generation))
            if not self.check_buf(t, a[1], a[6], RegionPerm.R | RegionPerm.W):
                return ret(Err.BAD_BUFFER)
            t.buf, t.buflen, t.wait = a[1], a[6], idx
            t.words = tuple(a[2:6])
            t.state = TaskState.SEND_WAIT
            if srv.state == TaskState.RECV_WAIT:
                self.deliver(t, srv)
            return False
        if n == Sys.RECV:
            if a[0] > RecvMode.NOTIFICATIONS_ONLY:
                return ret(Err.BAD_ARG)
            if not self.check_buf(t, a[1], a[6], RegionPerm.W):
                return ret(Err.BAD_BUFFER)
            t.buf, t.buflen = a[1], a[6]
            self.recv_common(t, a[0])
            return False
        if n == Sys.REPLY:
            err, c = self.caller_of(t, a[0])
            if c is None:
                return ret(err)
            if not self.check_buf(t, a[1], a[6], RegionPerm.R):
                return ret(Err.BAD_BUFFER)
            self.reply_do(c, t, tuple(a[2:6]), a[1], a[6])
            return ret(Err.OK)
        if n == Sys.REPLY_RECV:
            if not self.check_buf(t, a[1], a[6], RegionPerm.W):
                return ret(Err.BAD_BUFFER)
            err, c = self.caller_of(t, a[0])
            if c is not None:
                self.reply_do(c, t, tuple(a[2:6]), 0, 0)
            t.buf, t.buflen = a[1], a[6]
            self.recv_common(t, RecvMode.OPEN)
            return False
        if n == Sys.NOTIFY:
            ident = a[0] & MASK32
            idx = ident & TaskId.INDEX_MASK
            if idx >= len(self.tasks):
                return ret(Err.BAD_TASK)
            if idx not in t.spec.notifies:
                return deny()
            dst = self.tasks[idx]
            if dst.id != ident:
                return ret(dead_code(dst.generation))
            self.post(dst, a[1])
            self.count_sent(t)
            return ret(Err.OK)
        if n == Sys.YIELD:
            ret(Err.OK)
            return True
        if n == Sys.TASK_STATUS:
            if not t.spec.supervisor:
                return deny()
            if a[0] >= len(self.tasks):
                return ret(Err.BAD_TASK)
            x = self.tasks[a[0]]
            # a5 (the pc of the last fault) is an address the model does not know.
            # a1's IRQ_HELD bit is 0: the model has no interrupts (its systems
            # route none, so the kernel's irq_held finds no source either).
            return ret(Err.OK, status_word(x.state, x.wait), x.id, x.cause, x.tval, 0, x.denials,
                       (x.received << 32) | x.sent, defined=(0, 1, 2, 3, 4, 6, 7))
        if n in (Sys.TASK_RESTART, Sys.TASK_STOP):
            if not t.spec.supervisor:
                return deny()
            if a[0] >= len(self.tasks) or a[0] == t.index:
                return ret(Err.BAD_TASK)
            x = self.tasks[a[0]]
            self.stop(x)  # a restart is a stop, then a fresh start
            if n == Sys.TASK_RESTART:
                self.init_task(x)
            return ret(Err.OK, x.id)
        if n == Sys.TASK_VERIFY:
            if not t.spec.supervisor:
                return deny()
            if a[0] >= len(self.tasks):
                return ret(Err.BAD_TASK)
            # The model keeps no code bytes: its tasks never write their own
            # code (hostile buffers stay in their bufarea), so every code
            # region equals its pristine copy.
            return ret(Err.OK, 0)
        if n == Sys.EXIT:
            self.fault(t, CAUSE_EXIT, a[0], TaskState.EXITED)
            return False
        if n in (Sys.IRQ_ACK, Sys.TIMER, Sys.LOG, Sys.SHUTDOWN):
            raise NotImplementedError(f"the model does not cover {Sys(n).name}")
        return ret(Err.BAD_SYSCALL)

    # ----- scheduling -----------------------------------------------------------------

    def schedule(self, rotate: bool) -> Task | None:
        """The kernel's scheduler: the task to run next, or None (idle)."""
        n = len(self.tasks)
        best = None
        for i in range(1, n + 1):
            t = self.tasks[(self.cur + i) % n]
            if t.state == TaskState.READY and (best is None or t.spec.prio < best.spec.prio):
                best = t
        cur = self.tasks[self.cur]
        if not rotate and cur.state == TaskState.READY and \
                (best is None or cur.spec.prio <= best.spec.prio):
            best = cur
        return best

    def run(self, next_op: Callable[[Task], Op], max_steps: int = 100_000) -> None:
        """Run the system until no task is READY (the kernel idles).

        ``next_op(task)`` gives the op a task performs when it runs (its
        script at ``task.pc``); the model records each completed call's
        result in ``task.results`` when the task resumes, as the real task
        stores its registers after the ecall.
        """
        rotate = True  # boot enters the scheduler with sched_rotate
        for _ in range(max_steps):
            t = self.schedule(rotate)
            if t is None:
                return
            self.cur = t.index
            if t.in_call:
                t.results.append(Result(list(t.regs), t.defined))
                t.in_call = False
                t.pc += 1
            rotate = self.syscall(t, next_op(t))
        raise RuntimeError("the model did not reach idle")
