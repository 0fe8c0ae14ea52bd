"""The kernel's binary interface: the one source of every number it shares.

Syscall numbers, result and error codes, task states, the task-id layout, the
layout of the task control block (TCB, whose first 264 bytes are the trap
frame) and of the static tables the image builder generates all live here, as
``IntEnum``s.  The assembly sees them through :func:`generate_include`, which
renders ``.equ`` lines; the reference model (:mod:`septum.kernel.model`), the
image builder and the tests import them directly.  kernel/ABI.md documents the
calls; nothing here may be written a second time anywhere else.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from septum.firmware import sbi as _sbi
from septum.hypervisor import memmap
from septum.toolchain.riscv import ABI_NAMES, Exc, Irq, Mip, Mstatus


class Sys(IntEnum):
    """System call numbers (the value of ``a7`` at ``ecall``)."""

    CALL = 0  # kernel/trap.S dispatches on a7 == 0 for it
    RECV = 1
    REPLY = 2
    REPLY_RECV = 3
    NOTIFY = 4
    IRQ_ACK = 5
    TIMER = 6
    YIELD = 7
    TASK_STATUS = 8
    TASK_RESTART = 9
    EXIT = 10
    LOG = 11
    SHUTDOWN = 12
    TASK_STOP = 13
    TASK_VERIFY = 14


class Err(IntEnum):
    """Status codes returned in ``a0`` (0 is success)."""

    OK = 0
    DENIED = 1  # the manifest grants no such authority (counted per task)
    BAD_TASK = 2  # task index out of range, or TASK_RESTART/TASK_STOP of oneself
    BAD_SYSCALL = 3  # a7 names no system call
    BAD_BUFFER = 4  # a bulk buffer lies outside the owner's regions
    NOT_WAITING = 5  # REPLY to a task that is not waiting for our reply
    BAD_ARG = 6  # any other invalid argument


#: A stale task id gets ``DEAD_BASE | current generation`` (bits 31:16 all
#: ones, bits 15:0 the generation the peer has now).
DEAD_BASE = 0xFFFF_0000
DEAD_MASK = 0xFFFF_0000


class RecvKind(IntEnum):
    """``a0`` after RECV/REPLY_RECV: what was delivered."""

    MESSAGE = 0
    NOTIFICATION = 1


class RecvMode(IntFlag):
    """``a0`` of RECV: mode bits."""

    OPEN = 0
    NOTIFICATIONS_ONLY = 1


class TaskState(IntEnum):
    """The state of a task, as TASK_STATUS reports it."""

    READY = 0  # runnable (or running)
    SEND_WAIT = 1  # in CALL, waiting for the server to receive
    REPLY_WAIT = 2  # in CALL, received by the server, waiting for the reply
    RECV_WAIT = 3  # in an open RECV
    NOTIFY_WAIT = 4  # in a notifications-only RECV
    FAULTED = 5  # stopped by an exception; cause/tval/epc recorded
    EXITED = 6  # stopped by EXIT; tval holds the exit code
    STOPPED = 7  # stopped by the supervisor's TASK_STOP until a TASK_RESTART


class TaskStatusWord(IntEnum):
    """TASK_STATUS ``a1``: bits 7:0 the state (:class:`TaskState`); in
    SEND_WAIT and REPLY_WAIT bits 15:8 the index of the task waited on (the
    server of the pending CALL), 0 in every other state; bit 16
    (``IRQ_HELD``) set while an interrupt source routed to the task was
    delivered and is still masked awaiting its IRQ_ACK (a restarted task's
    masked sources too, until it acknowledges them)."""

    STATE_MASK = 0xFF
    WAIT_SHIFT = 8
    WAIT_MASK = 0xFF
    IRQ_HELD_SHIFT = 16
    IRQ_HELD = 1 << 16


#: Fault cause recorded for EXIT (not an scause value: bit 12 set).
CAUSE_EXIT = 0x1000

#: Notification bit the kernel posts to the supervisor when a task stops.
NOTIFY_FAULT_BIT = 31


class TaskId(IntEnum):
    """Task id layout: bits 15:0 index, bits 31:16 generation."""

    INDEX_MASK = 0xFFFF
    GEN_SHIFT = 16
    GEN_MASK = 0xFFFF


class Limits(IntEnum):
    """Fixed sizes of the kernel's static tables."""

    MAX_TASKS = 32  # authority masks are 64-bit words; 32 leaves headroom
    MSG_WORDS = 4  # register message words (a2..a5)
    LOG_MAX = 256  # bytes one LOG call may print
    MAX_IRQS = 96  # PLIC sources 1..95


def _trapframe() -> dict[str, int]:
    fields = {f"TF_{name.upper()}": 8 * i for i, name in enumerate(ABI_NAMES) if i}
    fields["TF_PC"] = 256
    return fields


#: Trap frame: x1..x31 at 8*n (x0's slot is unused), the user pc at 256.
Trapframe = IntEnum("Trapframe", _trapframe())
Trapframe.__doc__ = "Byte offsets of the saved user registers in a TCB."


class Tcb(IntEnum):
    """Byte offsets of the kernel's per-task state after the trap frame."""

    STATE = 264
    ID = 272  # current id: generation << 16 | index
    PRIO = 280
    SATP = 288
    NOTIF = 296  # pending notification bits
    WAIT = 304  # peer index this task waits on (SEND_WAIT / REPLY_WAIT)
    BUF = 312  # bulk buffer of the pending CALL / RECV
    BUFLEN = 320
    CAUSE = 328  # last fault: scause (or CAUSE_EXIT)
    TVAL = 336
    EPC = 344
    DENIALS = 352  # authority denials counted against this task
    DEADLINE = 360  # TIMER deadline (0 = none)
    TBITS = 368  # notification bits the timer posts
    DESC = 376  # address of this task's static descriptor
    INDEX = 384
    # Fast path only (kernel/fastpath.S; unused with --no-fastpath):
    LASTSRV = 392  # TCB of a server this task may CALL on the fast path
    PARTNER = 400  # TCB of a caller in REPLY_WAIT on this task, or itself
    URGENT = 408  # other tasks as urgent as this one, | FPW_BLOCKING
    FPW = 416  # scheduler's summary: READY tasks but the running one, | flags
    # IPC counters (ABI.md, TASK_STATUS a7): messages delivered from / to this
    # task.  64-bit words whose low 32 bits count (modulo 2**32) and whose
    # high 32 bits stay 0; kept across restarts, like DENIALS.
    SENT = 424
    RECEIVED = 432
    SIZE = 512


#: Bits of ``Tcb.FPW`` above the task bits: some task waits in SEND_WAIT
#: (anywhere); this task has notifications pending.  Either one sends a
#: REPLY_RECV to the slow path.  Task bits are 0..MAX_TASKS-1.
FPW_SENDER_BIT = 62
FPW_NOTIFIED_BIT = 63
assert Limits.MAX_TASKS <= FPW_SENDER_BIT and FPW_NOTIFIED_BIT == FPW_SENDER_BIT + 1
assert Limits.MAX_TASKS <= TaskStatusWord.WAIT_MASK + 1  # TASK_STATUS's wait index
assert TaskStatusWord.IRQ_HELD == 1 << TaskStatusWord.IRQ_HELD_SHIFT
assert TaskStatusWord.IRQ_HELD > TaskStatusWord.WAIT_MASK << TaskStatusWord.WAIT_SHIFT

#: log2(Tcb.SIZE): the kernel indexes its TCB array with a shift.
TCB_SHIFT = 9
assert 1 << TCB_SHIFT == Tcb.SIZE


class Desc(IntEnum):
    """Static task descriptor generated by the image builder (read-only)."""

    ENTRY = 0
    SP = 8
    SATP = 16
    PRIO = 24
    CALLS = 32  # bit i: may CALL task i
    NOTIFIES = 40  # bit i: may NOTIFY task i
    FLAGS = 48
    NREGIONS = 56
    REGIONS = 64  # address of the region list
    DATA_DST = 72  # restart: copy DATA_LEN bytes from DATA_SRC to DATA_DST
    DATA_SRC = 80
    DATA_LEN = 88
    ZERO_DST = 96  # restart: then zero ZERO_LEN bytes at ZERO_DST
    ZERO_LEN = 104
    SIZE = 112


class DescFlags(IntFlag):
    """Bits of ``Desc.FLAGS``."""

    SUPERVISOR = 1


class Region(IntEnum):
    """One entry of a task's region list (what bulk copies are checked
    against; identical to what its page table maps with U=1)."""

    BASE = 0
    SIZE = 8
    PERM = 16  # RegionPerm bits
    ENTRY_SIZE = 24


class RegionPerm(IntFlag):
    """Region permissions (same bit positions as Sv39 PTE R/W/X)."""

    R = 1 << 1
    W = 1 << 2
    X = 1 << 3


class IrqEntry(IntEnum):
    """One entry of the interrupt routing table: PLIC source → task bit."""

    IRQ = 0
    OWNER = 8  # task index
    BIT = 16  # notification bit number
    ENTRY_SIZE = 24


class Layout(IntEnum):
    """Fixed physical placement of the image (kernel-only or behind our SBI)."""

    KERNEL_BASE = 0x8020_0000
    KERNEL_LIMIT = 0x8030_0000  # kernel code, data, TCBs, stack
    TABLES_BASE = 0x8030_0000  # page tables and pristine task data
    TASKS_BASE = 0x8040_0000  # first task; tasks are mapped with 4 KiB pages
    KWINDOW = 0x4000_0000  # kernel's view of DRAM: VA = PA - 0x4000_0000
    KWINDOW_PA = 0x8000_0000


#: SBI extension and function ids the kernel uses (SBI spec v2.0).
class Sbi(IntEnum):
    """SBI extension ids and function ids used by the kernel, by the names
    the kernel's assembly uses; the numbers are firmware/sbi.py's (the one
    source for the SBI specification's constants)."""

    LEGACY_PUTCHAR = _sbi.Ext.LEGACY_CONSOLE_PUTCHAR
    EXT_TIME = _sbi.Ext.TIME
    EXT_SRST = _sbi.Ext.SRST
    SRST_SHUTDOWN = _sbi.ResetType.SHUTDOWN
    SRST_NO_REASON = _sbi.ResetReason.NO_REASON
    SRST_FAILURE = _sbi.ResetReason.SYSTEM_FAILURE


#: Argument registers (a0, a1, ...) of each call, by name, as ABI.md lists
#: them: for decoders such as the IPC trace.  "" marks an unused register.
SYSCALL_ARGS: dict[Sys, tuple[str, ...]] = {
    Sys.CALL: ("server", "buffer", "w0", "w1", "w2", "w3", "length"),
    Sys.RECV: ("mode", "buffer", "", "", "", "", "length"),
    Sys.REPLY: ("caller", "buffer", "w0", "w1", "w2", "w3", "length"),
    Sys.REPLY_RECV: ("caller", "buffer", "w0", "w1", "w2", "w3", "length"),
    Sys.NOTIFY: ("task", "bits"),
    Sys.IRQ_ACK: ("bits",),
    Sys.TIMER: ("deadline", "bits"),
    Sys.YIELD: (),
    Sys.TASK_STATUS: ("index",),
    Sys.TASK_RESTART: ("index",),
    Sys.EXIT: ("code",),
    Sys.LOG: ("buffer", "length"),
    Sys.SHUTDOWN: ("code",),
    Sys.TASK_STOP: ("index",),
    Sys.TASK_VERIFY: ("index",),
}


def describe_status(value: int) -> str:
    """A status code as a name: ``OK``, ``DENIED``, ``DEAD(gen 3)``, or hex."""
    value &= (1 << 64) - 1
    if value & ~0xFFFF_FFFF == 0 and value & DEAD_MASK == DEAD_BASE:
        return f"DEAD(gen {value & TaskId.GEN_MASK})"
    try:
        return Err(value).name
    except ValueError:
        return hex(value)


def describe_call(number: int, args: "list[int] | tuple[int, ...]") -> str:
    """One system call as text, e.g. ``CALL(server=0x1, w0=0x5, length=0x0)``;
    ``args`` are a0..a6.  Unknown numbers give ``SYSCALL_<n>(...)``."""
    try:
        name = Sys(number)
    except ValueError:
        return f"SYSCALL_{number}()"
    names = SYSCALL_ARGS[name]
    parts = [f"{n}={v:#x}" for n, v in zip(names, args) if n]
    return f"{name.name}({', '.join(parts)})"


def constants() -> dict[str, int]:
    """Every name the assembly sees, with its value."""
    out: dict[str, int] = {}
    for enum, prefix in (
        (Sys, "SYS_"), (Err, "ERR_"), (RecvKind, "RECV_"), (RecvMode, "RECVMODE_"),
        (TaskState, "TS_"), (TaskStatusWord, "STATUS_"), (TaskId, "ID_"), (Limits, ""), (Trapframe, ""),
        (Tcb, "TCB_"), (Desc, "DESC_"), (DescFlags, "DF_"), (Region, "REGION_"),
        (RegionPerm, "PERM_"), (IrqEntry, "IRQE_"), (Layout, ""), (Sbi, "SBI_"),
    ):
        # items(), not values(): aliases (equal values) keep their own names.
        for name, member in enum.__members__.items():
            out[prefix + name] = int(member)
    out["SYS_COUNT"] = len(Sys)
    out["TCB_SHIFT"] = TCB_SHIFT
    out["DEAD_BASE"] = DEAD_BASE
    out["CAUSE_EXIT"] = CAUSE_EXIT
    out["NOTIFY_FAULT_BIT"] = NOTIFY_FAULT_BIT
    out["FPW_SENDER_BIT"] = FPW_SENDER_BIT
    out["FPW_NOTIFIED_BIT"] = FPW_NOTIFIED_BIT
    return out


def hardware_constants() -> dict[str, int]:
    """Architecture and board names the kernel's assembly uses, taken from
    :mod:`septum.toolchain.riscv` and :mod:`septum.hypervisor.memmap`."""
    ctx = memmap.PLIC_CONTEXT_S
    return {
        "SSTATUS_SIE": int(Mstatus.SIE), "SSTATUS_SPIE": int(Mstatus.SPIE),
        "SSTATUS_SPP": int(Mstatus.SPP),
        "SIE_STIE": int(Mip.STIP), "SIE_SEIE": int(Mip.SEIP),
        "SIP_STIP": int(Mip.STIP), "SIP_SEIP": int(Mip.SEIP),
        "IRQ_STI": int(Irq.STI), "IRQ_SEI": int(Irq.SEI),
        "CAUSE_ECALL_U": int(Exc.ECALL_U),
        # PLIC register layout (SiFive PLIC as QEMU's virt has it).
        "PLIC_PRIORITY": memmap.PLIC_BASE,
        "PLIC_SENABLE": memmap.PLIC_BASE + 0x2000 + 0x80 * ctx,
        "PLIC_STHRESHOLD": memmap.PLIC_BASE + 0x20_0000 + 0x1000 * ctx,
        "PLIC_SCLAIM": memmap.PLIC_BASE + 0x20_0000 + 0x1000 * ctx + 4,
    }


def generate_include() -> str:
    """The ``.equ`` include file for kernel and task assembly (GNU syntax)."""
    lines = ["# Generated by septum.kernel.abi.generate_include(): do not edit.",
             "# The one source of these numbers is kernel/abi.py."]
    for name, value in {**constants(), **hardware_constants()}.items():
        lines.append(f".equ {name}, {value:#x}")
    return "\n".join(lines) + "\n"


def task_id(index: int, generation: int) -> int:
    """The id of task ``index`` in incarnation ``generation``."""
    return ((generation & TaskId.GEN_MASK) << TaskId.GEN_SHIFT) | (index & TaskId.INDEX_MASK)


def status_word(state: int, wait: int, held: bool = False) -> int:
    """TASK_STATUS ``a1`` for a task in ``state`` whose TCB WAIT is ``wait``
    (the index only counts in SEND_WAIT and REPLY_WAIT), ``held`` if one of
    its interrupt sources is masked awaiting its IRQ_ACK."""
    word = TaskStatusWord.IRQ_HELD if held else 0
    if state in (TaskState.SEND_WAIT, TaskState.REPLY_WAIT):
        return word | state | (wait & TaskStatusWord.WAIT_MASK) << TaskStatusWord.WAIT_SHIFT
    return word | state


def dead_code(generation: int) -> int:
    """The status a stale id receives when its peer is at ``generation``."""
    return DEAD_BASE | (generation & TaskId.GEN_MASK)
