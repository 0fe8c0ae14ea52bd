"""Instruction trace: block-level capture, the compact file format, spike-style text.

Capture (:class:`Tracer`)
-------------------------
One ``UC_HOOK_BLOCK`` callback, registered through ctypes straight with
``uc_hook_add`` (:func:`add_block_hook`; the Python binding's wrapper costs
half the speed), appends three words per executed block to one ``array``:
the block's address, Unicorn's per-slice instruction counter (cpu.py), and
the privilege level -- or, in U-mode, ``satp`` (whose MODE field makes it
>= 4), to keep the ASID.  They are read from QEMU's live state through
one-element memoryviews (the offsets of ``priv`` and ``satp`` in the saved
context are found by a write-and-compare probe at attach time, like cpu.py's
``mip``).  No Python runs per instruction, and nothing is computed per block
that can wait: :meth:`Tracer.data` turns counters into global instruction
indices (the base of every slice is recorded once, after the run loop's
accounting of the slice before) and satp into the ASID.  The number of
instructions a block really executed is the difference between consecutive
indices: this is exact when a slice's instruction budget stops a block
half-way, and when a trap cuts it.

Each distinct block is decoded once with capstone
(:class:`septum.toolchain.disasm.Disassembler`), at first sight (its bytes
are read through the current translation then).

Traps: the trap unit's ``on_trap`` observer (chained, never replaced) appends
a trap record (address = ``epc``, meta = ``TRAP_FLAG | cause``).  A trapping
instruction does not retire (privileged spec: ``ecall``, faults): the block
before it is cut at ``epc`` and the text shows an ``exception`` line instead.
Interrupts are taken natively by QEMU and show only as the privilege change
at the handler's first block.

File format (``.sptrace``)
--------------------------
``MAGIC`` (8 bytes), ``u32`` header length, a JSON header (version, record
and block counts, symbols ``[name, value]``, tasks ``{name, asid, ranges}``,
register writes of the detailed mode), the block table (per block: ``u64``
address, ``u32`` byte count, the bytes), then the records as three packed
arrays: addresses (``<Q``), indices (``<Q``), meta (``<I``).

Text (``spike --log-commits`` style)::

    core   0: 3 0x0000000080000000 (0x00000297) auipc   t0, 0x0          <_start>

Detailed mode adds the register each instruction wrote (``t0 0x...``); it
uses a per-instruction ``UC_HOOK_CODE`` hook and is slow (~0.2 M insns/s).
"""

from __future__ import annotations

import ctypes
import json
import struct
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from unicorn import UC_HOOK_BLOCK, UC_HOOK_CODE
from unicorn import riscv_const as rc
from unicorn.unicorn_py3.unicorn import uclib

from septum.hypervisor.cpu import CTX_MIP, counter_offset
from septum.toolchain.disasm import Disassembler, Insn, Symbolizer
from septum.toolchain.errors import SeptumError
from septum.toolchain.image import Symbol
from septum.toolchain.riscv import ABI_NAMES, CSR, Exc

MAGIC = b"SPTRACE1"
VERSION = 1
#: Meta bit of a trap record (low bits: the cause).
TRAP_FLAG = 1 << 31
#: Cause field of the marker record a snapshot restore (reset) leaves.
RESTORE_MARK = 0x7FFF_FFFF
#: satp.ASID field (Sv39: bits 59:44).
SATP_ASID_SHIFT = 44
SATP_ASID_MASK = 0xFFFF
PRIV_LETTER = {0: "U", 1: "S", 3: "M"}
LETTER_PRIV = {v: k for k, v in PRIV_LETTER.items()}

#: Bytes read past a new block (to the end of its page at most).
EXTRA_BYTES = 64
PAGE = 0x1000

#: Unicorn's block callback ``(uc, address, size, user_data)``, declared
#: without ``user_data`` (unused; the C caller passes it in a register that
#: the callee may ignore): ctypes then converts one argument less per block.
_BLOCK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32)
#: Kind of a capture event that sets the instruction index of the counters
#: that follow (a slice's start).
_EV_BASE = -1


def add_block_hook(machine: object, fn: Callable[[int, int, int], None]) -> int:
    """Install ``fn(uc, address, size)`` as a ``UC_HOOK_BLOCK`` callback on
    every address, straight through ``uc_hook_add`` (the binding's wrapper
    costs about half the speed); returns the hook handle.

    The C thunk is kept in the machine's ``_raw_block_hooks`` until
    :func:`del_block_hook`: Unicorn calls it for as long as the hook is
    installed, whoever still holds the Python object that installed it."""
    uc = machine.cpu.uc  # type: ignore[attr-defined]
    thunk = _BLOCK_CB(fn)
    handle = ctypes.c_size_t()
    err = uclib.uc_hook_add(uc._uch, ctypes.byref(handle), UC_HOOK_BLOCK,
                            ctypes.cast(thunk, ctypes.c_void_p), None,
                            ctypes.c_uint64(1), ctypes.c_uint64(0))
    if err:
        raise SeptumError(f"uc_hook_add(UC_HOOK_BLOCK) failed (unicorn error {err})")
    vars(machine).setdefault("_raw_block_hooks", {})[handle.value] = thunk
    return handle.value


def del_block_hook(machine: object, handle: int) -> None:
    """Remove a hook installed by :func:`add_block_hook`."""
    uclib.uc_hook_del(machine.cpu.uc._uch, ctypes.c_size_t(handle))  # type: ignore[attr-defined]
    vars(machine).get("_raw_block_hooks", {}).pop(handle, None)


def _word_view(word: ctypes.c_uint64) -> memoryview:
    """A one-element ``Q`` memoryview over a ctypes 64-bit word."""
    return memoryview(word).cast("B").cast("Q")


class TraceError(SeptumError):
    """A trace file that cannot be read, or a bad filter."""


# ----- locating priv and satp in QEMU's live state ------------------------------------


def _env_field_offsets(machine: object) -> tuple[int, int]:
    """Offsets of ``env->priv`` and ``env->satp`` in the saved context,
    found by writing each and comparing context bytes."""
    cpu = machine.cpu  # type: ignore[attr-defined]
    old_priv, old_satp = cpu.priv, cpu.csr_read(CSR.SATP)

    def changed(write: Callable[[int], None], a: int, b: int) -> list[int]:
        write(a)
        x = cpu.context_bytes()
        write(b)
        y = cpu.context_bytes()
        return [i for i in range(0, len(x) - 7, 8) if x[i:i + 8] != y[i:i + 8]]

    try:
        p = changed(lambda v: cpu.write(rc.UC_RISCV_REG_PRIV, v), 1, 3)
        s = changed(lambda v: cpu.csr_write(CSR.SATP, v),
                    (8 << 60) | (0x1234 << SATP_ASID_SHIFT) | 0x80123,
                    (8 << 60) | (0x0042 << SATP_ASID_SHIFT) | 0x80456)
    finally:
        cpu.csr_write(CSR.SATP, old_satp)
        cpu.write(rc.UC_RISCV_REG_PRIV, old_priv)
    if len(p) != 1 or len(s) != 1:
        raise SeptumError("trace: cannot locate priv/satp in the CPU state "
                          "(unexpected unicorn build)")
    return p[0], s[0]


# ----- tasks (satp ASID -> name, address ranges) -------------------------------------


@dataclass
class TaskInfo:
    """A task of a Septum image: its name, ASID and address ranges."""

    name: str
    asid: int
    ranges: list[tuple[int, int]] = field(default_factory=list)


def tasks_from_elf(path: str | Path) -> list[TaskInfo]:
    """The tasks of a Septum system ELF, from its ``.task.NAME.*`` sections
    (toolchain/build.py): index = order of the slots, ASID = index + 1."""
    from elftools.elf.elffile import ELFFile

    found: dict[str, list[tuple[int, int]]] = {}
    with open(path, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            name = sec.name
            if not name.startswith(".task.") or not sec["sh_addr"]:
                continue
            task = name[len(".task."):].rsplit(".", 1)[0]
            found.setdefault(task, []).append((sec["sh_addr"], sec["sh_addr"] + sec["sh_size"]))
    ordered = sorted(found.items(), key=lambda kv: min(a for a, _ in kv[1]))
    return [TaskInfo(n, i + 1, sorted(r)) for i, (n, r) in enumerate(ordered)]


TASK_SECTION_PREFIX = ".task."


def task_of_section(section: str | None) -> str | None:
    """``NAME`` for a section ``.task.NAME.KIND`` (build.py's naming),
    else None."""
    if not section or not section.startswith(TASK_SECTION_PREFIX):
        return None
    name = section[len(TASK_SECTION_PREFIX):].rsplit(".", 1)[0]
    return name or None


class TaskSymbolizer(Symbolizer):
    """Address -> symbol, where an address inside a task's slot resolves
    among that task's symbols only and reads ``NAME:symbol+off``.

    Every task links its own ``_start`` and its own copy of the runtime, so
    by address alone a name does not say whose it is.  A symbol belongs to
    task NAME when it lies in one of the image's ``.task.NAME.*`` sections
    (its ``section``; for a symbol without one, when its value lies in the
    task's ranges).  Other symbols (firmware, kernel) resolve as usual.
    """

    def __init__(self, symbols: Iterable[Symbol] = (), tasks: Sequence[TaskInfo] = ()) -> None:
        symbols = list(symbols)
        names = {t.name for t in tasks}
        ranges = sorted((lo, hi, t.name) for t in tasks for lo, hi in t.ranges if hi > lo)
        per_task: dict[str, list[Symbol]] = {n: [] for n in names}
        others: list[Symbol] = []
        for sym in symbols:
            owner = task_of_section(sym.section)
            if owner is None:
                owner = next((n for lo, hi, n in ranges if lo <= sym.value < hi), None)
            if owner in per_task:
                per_task[owner].append(sym)
            else:
                others.append(sym)
        super().__init__(others)
        self._starts = [lo for lo, _, _ in ranges]
        self._ranges = ranges
        self._task_syms = {n: Symbolizer(v) for n, v in per_task.items()}
        #: task name -> its symbols (name -> address), for filters.
        self.task_symbols = {n: {x.name: x.value for x in v} for n, v in per_task.items()}

    def task_at(self, address: int) -> str | None:
        """The task whose slot holds ``address``, or None."""
        i = bisect_right(self._starts, address) - 1
        if i >= 0 and address < self._ranges[i][1]:
            return self._ranges[i][2]
        return None

    def lookup(self, address: int) -> str:
        """``NAME:symbol+off`` inside task NAME's slot (``NAME:`` alone
        when no symbol of it precedes), else as :class:`Symbolizer`."""
        task = self.task_at(address)
        if task is None:
            return super().lookup(address)
        return f"{task}:{self._task_syms[task].lookup(address)}"

    def label_at(self, address: int) -> str | None:
        """The symbol starting at ``address``, task-qualified like
        :meth:`lookup`; None when none starts there."""
        task = self.task_at(address)
        if task is None:
            return super().label_at(address)
        label = self._task_syms[task].label_at(address)
        return None if label is None else f"{task}:{label}"


def load_symbols(paths: Iterable[str | Path]) -> list[Symbol]:
    """The symbols of every ELF in ``paths`` (missing or non-ELF files skipped)."""
    from septum.toolchain.elf import read_symbols

    out: list[Symbol] = []
    for p in paths:
        try:
            out += read_symbols(str(p))
        except (SeptumError, OSError):
            continue
    return out


# ----- capture -----------------------------------------------------------------------


class Tracer:
    """Block-level instruction trace of a :class:`~septum.hypervisor.machine.Machine`.

    ``Tracer(machine).start()`` installs the hooks; ``stop()`` removes them;
    ``save(path)`` writes the compact file; ``instructions()`` decodes.
    ``detailed=True`` also records register writes (slow mode).
    """

    def __init__(self, machine: object, symbols: Sequence[Symbol] = (),
                 tasks: Sequence[TaskInfo] = (), detailed: bool = False) -> None:
        self.m = machine
        self.symbols = list(symbols)
        self.tasks = list(tasks)
        self.detailed = detailed
        #: Raw capture, three words per block: address, the slice's
        #: instruction counter, priv (or satp in U-mode).
        self._raw = array("Q")
        #: Trap and restore records as (len(_raw) when they happened,
        #: address, index, meta), and slice starts as (len(_raw),
        #: _EV_BASE, the slice's first instruction index, 0).
        self._events: list[tuple[int, int, int, int]] = []
        #: address -> block bytes (the largest seen at that address).
        self.blocks: dict[int, bytes] = {}
        #: Block addresses decoded so far, and each block's size at first sight.
        self._seen: set[int] = set()
        self.sizes: dict[int, int] = {}
        #: global instruction index -> [(register number, value)] (detailed).
        self.writes: dict[int, list[tuple[int, int]]] = {}
        self._hooks: list[int] = []
        self._prev_on_trap: Callable[[int, int, int, int], None] | None = None
        self._offset: Callable[[], int] = lambda: 0
        self._end: int | None = None
        self._wrapped: dict[str, Callable[..., object]] = {}

    # -- hooks

    def start(self) -> "Tracer":
        """Install the capture hooks (idempotent)."""
        if self._hooks:
            return self
        m = self.m
        cpu = m.cpu  # type: ignore[attr-defined]
        uc = cpu.uc
        env = ctypes.addressof(cpu._mip) - CTX_MIP
        poff, soff = _env_field_offsets(m)
        priv = ctypes.c_uint64.from_address(env + poff)
        satp = ctypes.c_uint64.from_address(env + soff)
        counter = ctypes.c_uint64.from_address(uc._uch.value + counter_offset())
        # One-element memoryviews over QEMU's words: indexing one is cheaper
        # than a ctypes ``.value`` (measured: bench_trace).
        priv_w = _word_view(priv)
        satp_w = _word_view(satp)
        counter_w = _word_view(counter)
        raw = self._raw
        ap = raw.append
        seen = self._seen
        new_block = self._new_block
        events = self._events
        ap_ev = events.append
        # Added to instret so that indices keep growing across a snapshot
        # restore (reset, reboot, test fixtures), which moves instret back.
        off = 0

        def on_block(_uc: int, address: int, size: int) -> None:
            # The slice's counter (instructions begun before this block in
            # this emu_start slice): the slice's base comes from the event
            # the run loop's accounting leaves (below).  In U-mode satp
            # (never below 4 when translating: its MODE field is set; a
            # Bare satp is 0, read as U with ASID 0) stands in for the
            # privilege, so its ASID is kept; priv is 1 or 3 otherwise.
            ap(address)
            ap(counter_w[0])
            ap(priv_w[0] or satp_w[0])
            if address not in seen:
                new_block(address, size)

        ap_ev((len(raw), _EV_BASE, m.instret, 0))
        self._hooks.append(add_block_hook(m, on_block))
        trap = m.trap  # type: ignore[attr-defined]
        self._prev_on_trap = trap.on_trap
        prev = self._prev_on_trap

        def on_trap(cause: int, epc: int, tval: int, target: int) -> None:
            # Inside a slice the counter already includes the trapping
            # instruction; after one (ebreak, access faults: delivered by the
            # run loop) instret does.
            idx = (m.instret + counter.value - 1 if m._in_slice else m.instret - 1) + off
            ap_ev((len(raw), epc, max(idx, 0), TRAP_FLAG | (cause & 0x7FFF_FFFF)))
            if prev is not None:
                prev(cause, epc, tval, target)

        self._on_trap = on_trap
        trap.on_trap = on_trap
        depth = 0

        def wrap(original: Callable[..., object]) -> Callable[..., object]:
            def traced(*args: object, **kw: object) -> object:
                nonlocal off, depth
                if depth:  # reset() may itself call restore()
                    return original(*args, **kw)
                now = m.instret + off
                depth += 1
                try:
                    result = original(*args, **kw)
                finally:
                    depth -= 1
                off = now - m.instret
                ap_ev((len(raw), 0, now, TRAP_FLAG | RESTORE_MARK))
                ap_ev((len(raw), _EV_BASE, now, 0))
                return result
            return traced

        account = m._account  # type: ignore[attr-defined]

        def accounted(executed: int) -> None:
            # After every slice: the next slice's counters start from here.
            account(executed)
            ap_ev((len(raw), _EV_BASE, m.instret + off, 0))

        # Instance attributes shadow the methods; stop() removes them.
        self._wrapped = {"_account": accounted}
        m._account = accounted  # type: ignore[attr-defined]
        for name in ("restore", "reset"):
            fn = wrap(getattr(m, name))
            setattr(m, name, fn)
            self._wrapped[name] = fn
        self._offset = lambda: off
        if self.detailed:
            self._start_detailed(uc, counter)
        return self

    def _start_detailed(self, uc: object, counter: ctypes.c_uint64) -> None:
        read = self.m.cpu.read  # type: ignore[attr-defined]
        ids = [rc.UC_RISCV_REG_X0 + i for i in range(32)]
        last = [0] * 32
        m = self.m
        writes = self.writes
        offset = self._offset

        def on_code(uc_: object, address: int, size: int, ud: object) -> None:
            now = m.instret + counter.value - 1 + offset()  # type: ignore[attr-defined]
            changed = []
            for i in range(1, 32):
                v = read(ids[i])
                if v != last[i]:
                    changed.append((i, v))
                    last[i] = v
            if changed and now > 0:
                writes[now - 1] = changed

        self._hooks.append(uc.hook_add(UC_HOOK_CODE, on_code))  # type: ignore[attr-defined]
        self._code_hook = True

    def _new_block(self, address: int, size: int) -> None:
        # Read on to the end of the page (at most EXTRA_BYTES more): should
        # the same address later start a longer block, its instructions are
        # already decoded.
        m = self.m
        n = max(size, min(size + EXTRA_BYTES, PAGE - (address & (PAGE - 1))))
        pa = m.trap.translate_fetch(address)  # type: ignore[attr-defined]
        data = b""
        for length in (n, size):
            if pa is None:
                break
            try:
                data = m.read_phys(pa, length)  # type: ignore[attr-defined]
                break
            except SeptumError:
                continue
        self._seen.add(address)
        self.sizes[address] = size
        self.blocks[address] = data

    def stop(self) -> None:
        """Remove the hooks (the records stay)."""
        if not self._hooks:
            return
        uc = self.m.cpu.uc  # type: ignore[attr-defined]
        first, *rest = self._hooks
        del_block_hook(self.m, first)
        for h in rest:
            uc.hook_del(h)
        self._hooks = []
        trap = self.m.trap  # type: ignore[attr-defined]
        if trap.on_trap is self._on_trap:
            trap.on_trap = self._prev_on_trap
        for name, fn in self._wrapped.items():
            if self.m.__dict__.get(name) is fn:
                delattr(self.m, name)
        self._end = int(self.m.instret) + self._offset()  # type: ignore[attr-defined]

    # -- results

    def data(self) -> "TraceData":
        """The capture as a :class:`TraceData` (end = the machine's instret).

        Decodes the raw capture: absolute instruction indices from the
        slices' bases, the U-mode ASID from satp."""
        addrs, index, meta = array("Q"), array("Q"), array("I")
        raw = self._raw
        blocks = len(raw)
        counters = raw[1::3]
        privs = raw[2::3]
        base = 0
        pos = 0

        # priv (1, 3) or satp (U-mode) -> meta: a handful of distinct
        # values, converted once each; the arrays are then built by C loops.
        meta_of = {p: p if p < 4 else ((p >> SATP_ASID_SHIFT) & SATP_ASID_MASK) << 2
                   for p in set(privs)}

        def flush(upto: int) -> None:
            lo, hi = pos // 3, upto // 3
            addrs.extend(raw[pos:upto:3])
            index.extend([base + c for c in counters[lo:hi]])
            meta.extend(map(meta_of.__getitem__, privs[lo:hi]))

        for at, a, b, c in list(self._events):
            if at > pos:
                flush(at)
                pos = at
            if a == _EV_BASE:
                base = b
            else:
                addrs.append(a)
                index.append(b)
                meta.append(c)
        if blocks > pos:
            flush(blocks)
        return TraceData(addrs, index, meta, dict(self.blocks), self.symbols, self.tasks,
                         self._end if not self._hooks and self._end is not None
                         else int(self.m.instret) + self._offset(),  # type: ignore[attr-defined]
                         dict(self.writes), dict(self.sizes))

    def save(self, path: str | Path) -> None:
        """Write the compact binary file."""
        self.data().save(path)


# ----- the decoded trace ---------------------------------------------------------------


@dataclass
class TraceInsn:
    """One retired instruction of a trace (or a trap, with ``trap`` set)."""

    index: int
    priv: int
    asid: int
    insn: Insn | None
    trap: tuple[int, int] | None = None  # (cause, epc)
    writes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def address(self) -> int:
        return self.insn.address if self.insn is not None else self.trap[1]  # type: ignore[index]


@dataclass
class TraceData:
    """A captured or loaded trace: records, block bytes, symbols, tasks."""

    addrs: array
    index: array
    meta: array
    blocks: dict[int, bytes]
    symbols: list[Symbol]
    tasks: list[TaskInfo]
    end: int
    writes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    #: block address -> the block's byte size at first sight
    sizes: dict[int, int] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write the compact file (see the module docstring)."""
        header = json.dumps({
            "version": VERSION, "records": len(self.addrs), "blocks": len(self.blocks),
            "end": self.end,
            "symbols": [[s.name, s.value, s.section] for s in self.symbols
                        if s.section is not None and s.name and not s.name.startswith(("$", ".L"))],
            "tasks": [{"name": t.name, "asid": t.asid, "ranges": t.ranges} for t in self.tasks],
            "writes": [[k, v] for k, v in sorted(self.writes.items())],
            "sizes": [[k, v] for k, v in self.sizes.items()],
        }).encode()
        with open(path, "wb") as f:
            f.write(MAGIC + struct.pack("<I", len(header)) + header)
            for addr, data in self.blocks.items():
                f.write(struct.pack("<QI", addr, len(data)) + data)
            for arr in (self.addrs, self.index, self.meta):
                f.write(arr.tobytes())

    @classmethod
    def load(cls, path: str | Path) -> "TraceData":
        """Read a file written by :meth:`save`; TraceError names what is wrong."""
        raw = Path(path).read_bytes()
        if raw[:8] != MAGIC or len(raw) < 12:
            raise TraceError(f"{path}: not a Septum trace file (bad magic)")
        try:
            (hlen,) = struct.unpack_from("<I", raw, 8)
            header = json.loads(raw[12:12 + hlen])
            if header.get("version") != VERSION:
                raise TraceError(f"{path}: trace version {header.get('version')} "
                                 f"(this reader knows {VERSION})")
            off = 12 + hlen
            blocks: dict[int, bytes] = {}
            for _ in range(header["blocks"]):
                addr, n = struct.unpack_from("<QI", raw, off)
                off += 12
                blocks[addr] = raw[off:off + n]
                off += n
            n = header["records"]
            arrs = []
            for code in ("Q", "Q", "I"):
                a = array(code)
                width = a.itemsize * n
                a.frombytes(raw[off:off + width])
                if len(a) != n:
                    raise TraceError(f"{path}: truncated trace file")
                off += width
                arrs.append(a)
        except (ValueError, KeyError, struct.error) as exc:
            raise TraceError(f"{path}: corrupt trace file ({exc})") from None
        # [name, value, section] ([name, value] in files of before the
        # task-qualified symbols: their section is unknown, .text stands in).
        symbols = [Symbol(e[0], e[1], section=e[2] if len(e) > 2 and e[2] else ".text")
                   for e in header["symbols"]]
        tasks = [TaskInfo(t["name"], t["asid"], [tuple(r) for r in t["ranges"]])
                 for t in header["tasks"]]
        writes = {int(k): [tuple(x) for x in v] for k, v in header.get("writes", [])}
        sizes = {int(k): int(v) for k, v in header.get("sizes", [])}
        return cls(arrs[0], arrs[1], arrs[2], blocks, symbols, tasks, header["end"], writes,
                   sizes)

    def instructions(self, disasm: Disassembler | None = None) -> Iterator[TraceInsn]:
        """Every retired instruction and trap, in order; symbols from
        :meth:`symbolizer` unless ``disasm`` brings its own."""
        dis = disasm or Disassembler(self.symbolizer())
        decoded: dict[int, tuple[Insn, ...]] = {}
        n = len(self.addrs)
        addrs, index, meta = self.addrs, self.index, self.meta
        i = 0
        while i < n:
            a, start, mt = addrs[i], index[i], meta[i]
            if mt & TRAP_FLAG:
                yield TraceInsn(start, -1, -1, None, (mt & ~TRAP_FLAG, a))
                i += 1
                continue
            # (A restore marker ends the block before it like a trap at
            # another address: by index.)
            # The next block's index bounds this one (a budget may stop a
            # block half-way); a trap whose epc lies inside the block cuts it
            # there: the trapping instruction did not retire.  (A trap at
            # another address -- a fetch fault at a jump's target -- leaves
            # the block whole.)
            j = i + 1
            while j < n and meta[j] & TRAP_FLAG:
                j += 1
            stop_index = index[j] if j < n else self.end
            insns = decoded.get(a)
            if insns is None:
                insns = dis.block(self.blocks.get(a, b""), a)
                decoded[a] = insns
            cut = None
            if i + 1 < n and meta[i + 1] & TRAP_FLAG:
                epc = addrs[i + 1]
                # (A block QEMU could not translate past its first
                # instruction -- illegal at its start -- has size 0.)
                if epc == a or a <= epc < a + self.sizes.get(a, len(self.blocks.get(a, b""))):
                    cut = epc
            count = max(0, stop_index - start)
            priv, asid = mt & 3, mt >> 2
            for k, ins in enumerate(insns[:count]):
                if cut is not None and ins.address >= cut:
                    break
                yield TraceInsn(start + k, priv, asid, ins,
                                writes=self.writes.get(start + k, []))
            i += 1

    def symbolizer(self) -> TaskSymbolizer:
        """The trace's symbols, task-qualified (:class:`TaskSymbolizer`)."""
        sym = self.__dict__.get("_symbolizer")
        if sym is None:
            sym = self.__dict__["_symbolizer"] = TaskSymbolizer(self.symbols, self.tasks)
        return sym

    def task_of(self, ti: TraceInsn) -> str | None:
        """The task running ``ti``: by ASID in U-mode, else by address range."""
        if ti.priv == 0:
            by_asid = self.__dict__.get("_by_asid")
            if by_asid is None:
                by_asid = self.__dict__["_by_asid"] = {t.asid: t.name for t in self.tasks}
            name = by_asid.get(ti.asid)
            if name is not None:
                return name
        a = ti.address
        for t in self.tasks:
            for lo, hi in t.ranges:
                if lo <= a < hi:
                    return t.name
        return None


# ----- text -------------------------------------------------------------------------------


def format_insn(ti: TraceInsn, detailed: bool = False) -> str:
    """One spike-style commit-log line (or an exception line)."""
    if ti.trap is not None:
        cause, epc = ti.trap
        if cause == RESTORE_MARK:
            return "core   0: snapshot restored (reset)"
        try:
            name = Exc(cause).name.lower()
        except ValueError:
            name = f"cause_{cause:#x}"
        return f"core   0: exception {name}, epc 0x{epc:016x}"
    ins = ti.insn
    assert ins is not None
    width = 8 if ins.size == 4 else 4
    text = ins.text()
    line = (f"core   0: {ti.priv} 0x{ins.address:016x} (0x{ins.raw:0{width}x}) "
            f"{text:<28}")
    if ins.symbol:
        line += f" <{ins.symbol}>"
    if detailed and ti.writes:
        line += "  " + " ".join(f"{ABI_NAMES[r]} 0x{v:016x}" for r, v in ti.writes)
    return line.rstrip()


def parse_window(text: str) -> tuple[int, int]:
    """``START:COUNT`` -> (start, count); TraceError otherwise."""
    start, sep, count = text.partition(":")
    try:
        s, c = int(start, 0), int(count, 0) if sep else -1
    except ValueError:
        raise TraceError(f"--window {text!r}: expected START:COUNT (instruction indices)") from None
    if s < 0 or (sep and c < 0):
        raise TraceError(f"--window {text!r}: negative value")
    return s, c


def symbol_range(data: TraceData, symbol: str) -> tuple[int, int]:
    """The addresses ``[start, end)`` of ``symbol``: ``TASK:name`` for a
    task's own symbol, else a firmware or kernel name, or a name exactly one
    task defines; up to the next symbol of the same owner (or the end of
    the task's slot range).  TraceError for an unknown or ambiguous name."""
    sym = data.symbolizer()
    task, sep, name = symbol.rpartition(":")
    if sep:
        if task not in sym.task_symbols:
            raise TraceError(f"--symbol {symbol!r}: no task {task!r} in the trace")
        owners = [task] if name in sym.task_symbols[task] else []
        if not owners:
            raise TraceError(f"--symbol {symbol!r}: task {task!r} has no symbol {name!r}")
    else:
        owners = sorted(t for t, names in sym.task_symbols.items() if name in names)
    plain = [s.value for s in data.symbols if s.name == name and s.section is not None
             and task_of_section(s.section) is None and sym.task_at(s.value) is None]
    if not sep and plain:
        values = sorted({s.value for s in data.symbols if s.section is not None
                         and sym.task_at(s.value) is None})
        start = plain[0]
    elif len(owners) == 1:
        values = sorted(set(sym.task_symbols[owners[0]].values()))
        start = sym.task_symbols[owners[0]][name]
        t = next(t for t in data.tasks if t.name == owners[0])
        values += [hi for lo, hi in t.ranges if lo <= start < hi]
    elif owners:
        raise TraceError(f"--symbol {symbol!r}: tasks {', '.join(owners)} each have one "
                         f"(give TASK:{name})")
    else:
        raise TraceError(f"--symbol {symbol!r}: no such symbol in the trace")
    later = [v for v in values if v > start]
    return start, min(later) if later else 1 << 64


def filter_insns(data: TraceData, insns: Iterable[TraceInsn], *, lo: int | None = None,
                 hi: int | None = None, symbol: str | None = None, priv: str | None = None,
                 task: str | None = None, window: tuple[int, int] | None = None,
                 ) -> Iterator[TraceInsn]:
    """Keep the instructions matching every given filter (traps follow the
    window and task filters only)."""
    sym_range = None if symbol is None else symbol_range(data, symbol)
    want_priv = None
    if priv is not None:
        if priv.upper() not in LETTER_PRIV:
            raise TraceError(f"--priv {priv!r}: expected M, S or U")
        want_priv = LETTER_PRIV[priv.upper()]
    if task is not None and task not in {t.name for t in data.tasks}:
        raise TraceError(f"--task {task!r}: no such task in the trace "
                         f"(known: {', '.join(t.name for t in data.tasks) or 'none'})")
    for ti in insns:
        if window is not None:
            s, c = window
            if ti.index < s:
                continue
            if c >= 0 and ti.index >= s + c:
                break
        if task is not None and data.task_of(ti) != task:
            continue
        if ti.trap is not None:
            if lo is None and hi is None and sym_range is None and want_priv is None:
                yield ti
            continue
        a = ti.address
        if lo is not None and a < lo:
            continue
        if hi is not None and a >= hi:
            continue
        if sym_range is not None and not sym_range[0] <= a < sym_range[1]:
            continue
        if want_priv is not None and ti.priv != want_priv:
            continue
        yield ti
