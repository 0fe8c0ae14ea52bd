"""System-call fuzzing of the kernel against the reference model.

Random systems (priorities, call and notify grants) of 3..6 tasks run
random system-call scripts through tests/kernel/tasks/interp.S -- the same
machinery as tests/kernel/test_model.py, whose generators, manifest writer
and model driver this module reuses -- with a fuzzing share of calls whose
arguments are hostile: pointers into the kernel, into other tasks, unaligned
and wrapping, huge lengths, bad ids, stale and future generations, ids with
the upper 32 bits set, unknown call numbers.  When the kernel first idles
every task's stored results, its TCB and its buffer must equal what
kernel/model.py says; a kernel panic, an error stop or a run that does not
idle within :data:`BUDGET` guest instructions is a crash or a hang.

One system is built once and run for :data:`ROUNDS` rounds of fresh
scripts (same length, written over the built ones in guest memory after
restoring the boot snapshot), which is what makes 100,000 calls affordable.
Everything derives from ``(seed, index)``: unit ``index`` of a campaign is
one system and its rounds (:func:`run_unit`).
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from septum.kernel.abi import Desc, Layout, Sys, Tcb, TaskState, task_id

#: Ops per task script (interp.S keeps up to 40 results).
OPS = 24
#: Fresh script sets run on one built system (a round costs ~17 ms, the
#: build and boot of a system ~0.6 s).
ROUNDS = 64
#: Guest instructions a round may take before it counts as a hang.
BUDGET = 20_000_000
#: Share of ops replaced by a hostile one.
HOSTILE = 0.4
#: Enough for the kernel's fixed layout and the firmware; small keeps restores cheap.
RAM_SIZE = 32 << 20
_MASK64 = (1 << 64) - 1
#: Calls the model does not cover (device and time dependent): never fuzzed.
_UNMODELLED = (Sys.IRQ_ACK, Sys.TIMER, Sys.LOG, Sys.SHUTDOWN)
#: The first call number the kernel does not define (an "unknown call").
FIRST_UNKNOWN = max(Sys) + 1


@dataclass
class UnitResult:
    """One fuzzed system: its calls and what went wrong."""

    index: int
    tasks: int
    calls: int  # system calls completed and checked against the model
    crashes: int = 0
    hangs: int = 0
    disagreements: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def _hostile_op(rng: random.Random, i: int, n: int, slot: int) -> tuple[int, ...]:
    """One op with hostile arguments, for task ``i`` of ``n``."""
    from septum.tests.kernel.test_model import BUFSIZE, F_BUFREL
    pointers = [
        (0, Layout.KERNEL_BASE + 8 * rng.randrange(1 << 14)),  # kernel text/data/TCBs
        (0, Layout.TABLES_BASE + rng.randrange(1 << 16)),  # page tables, pristine data
        (0, 0),  # another task's memory (below)
        (F_BUFREL, rng.randrange(BUFSIZE) | 1),  # our own buffer, unaligned
        (F_BUFREL, rng.randrange(1 << 64)),  # wrapping around from our buffer
        (0, rng.randrange(1 << 64)),
        (0, 0),
    ]
    lengths = [0, 1, rng.randrange(1, 64), BUFSIZE, BUFSIZE + 1, slot, 1 << 40, _MASK64,
               _MASK64 - rng.randrange(64), rng.randrange(1 << 64)]
    others = [j for j in range(n) if j != i]
    pointers[2] = (0, Layout.TASKS_BASE + rng.choice(others) * slot + rng.randrange(slot))
    gen = rng.choice([0, 0, 0, 1, 2, 0xFFFF])
    ids = [task_id(rng.randrange(n), gen), task_id(rng.randrange(n, 0x10000), 0),
           0xFFFF_FFFF, rng.randrange(1 << 64),
           (rng.randrange(1, 1 << 32) << 32) | task_id(rng.randrange(n), 0)]
    number = rng.choice([Sys.CALL, Sys.CALL, Sys.REPLY, Sys.NOTIFY, Sys.RECV,
                         Sys.REPLY_RECV, Sys.TASK_STATUS, Sys.TASK_RESTART, Sys.YIELD,
                         rng.randrange(FIRST_UNKNOWN, 1 << 16), rng.randrange(1 << 64)])
    flags, addr = rng.choice(pointers)
    length = rng.choice(lengths)
    if flags == F_BUFREL and addr < BUFSIZE and length < 1 << 32:
        # A buffer the kernel accepts must stay inside bufarea: the model
        # knows those bytes only (the rest of the task's data changes as it
        # runs).  Lengths that reach past the task's regions stay hostile.
        length = min(length, BUFSIZE - addr)
    words = [rng.randrange(1 << 64) for _ in range(4)]
    if number in (Sys.CALL, Sys.REPLY, Sys.NOTIFY):
        return (flags, number, rng.choice(ids), addr, *words, length)
    if number in (Sys.RECV, Sys.REPLY_RECV):
        mode = rng.choice([0, 1, 2, rng.randrange(1 << 64)]) if number == Sys.RECV else \
            rng.choice(ids)
        if number == Sys.RECV and mode == 0 and length and rng.random() < 0.5:
            length = 0  # an open RECV with a good buffer would block a client for good
        return (flags, number, mode, addr, *words, length)
    if number in (Sys.TASK_STATUS, Sys.TASK_RESTART):
        which = rng.choice([rng.randrange(n), n, rng.randrange(1 << 64), i])
        return (0, number, which, 0, 0, 0, 0, 0, 0)
    return (flags, number, *(rng.randrange(1 << 64) for _ in range(6)), length)


def gen_scripts(rng: random.Random, sysdesc: list[dict], slot: int) -> list[list[tuple]]:
    """One script of :data:`OPS` ops per task: test_model's mix, with a
    :data:`HOSTILE` share of hostile ops."""
    from septum.tests.kernel.test_model import _gen_script
    n = len(sysdesc)
    scripts = []
    for i in range(n):
        ops: list[tuple] = []
        while len(ops) < OPS:
            ops += _gen_script(rng, i, sysdesc)
        ops = ops[:OPS]
        ops = [_hostile_op(rng, i, n, slot) if rng.random() < HOSTILE else op for op in ops]
        scripts.append(ops)
    return scripts


def _pack(ops: list[tuple]) -> bytes:
    return b"".join((v & _MASK64).to_bytes(8, "little") for op in ops for v in op)


class FuzzUnit:
    """One random system, built once, run for several rounds of scripts."""

    def __init__(self, seed: int, index: int, workdir: Path) -> None:
        from septum.hypervisor.machine import Machine
        from septum.tests.kernel.test_model import (_all_symbols, _gen_system, _local_symbol,
                                                    _write)
        from septum.toolchain.build import DEFAULT_SLOT, build

        self.rng = random.Random(f"fuzz {seed} {index}")
        self.n = 3 + self.rng.randrange(4)
        self.sysdesc = _gen_system(self.rng, self.n)
        self.scripts = gen_scripts(self.rng, self.sysdesc, DEFAULT_SLOT)
        manifest = _write(workdir, self.sysdesc, self.scripts)
        self.res = build(manifest, workdir / "sys.elf", fastpath=self.rng.random() < 0.75)
        syms = _all_symbols(self.res.elf)
        region = lambda i: self.res.tasks[i].data  # noqa: E731
        self.bufareas = [_local_symbol(syms, "bufarea", *region(i)) for i in range(self.n)]
        self.results = [_local_symbol(syms, "results", *region(i)) for i in range(self.n)]
        self.script_at = [next(v for s, v in syms if s == "script"
                               and self.res.tasks[i].text[0] <= v
                               < self.res.tasks[i].text[0] + self.res.tasks[i].text[1])
                          for i in range(self.n)]
        self.idle = _local_symbol(syms, "idle", Layout.KERNEL_BASE,
                                  Layout.KERNEL_LIMIT - Layout.KERNEL_BASE)
        self.tcbs = next(v for s, v in syms if s == "tcbs")
        self.m = Machine(ram_size=RAM_SIZE)
        self.m.boot(bios=str(self.res.elf))
        # Boot and TASK_RESTART copy each task's code (its scripts too) from
        # its pristine image (kernel/ABI.md, TASK_RESTART): a round writes
        # its scripts there as well.
        descs = next(v for s, v in syms if s == "task_descs")
        rd = lambda a: int.from_bytes(self.m.read_phys(a, 8), "little")  # noqa: E731
        self.script_pristine = [
            self.script_at[i] - rd(descs + i * Desc.SIZE + Desc.DATA_DST)
            + rd(descs + i * Desc.SIZE + Desc.DATA_SRC) for i in range(self.n)]
        self.snap = self.m.snapshot()

    def close(self) -> None:
        """Release the machine."""
        self.m.close()

    def round(self, scripts: list[list[tuple]]) -> tuple[str, list[str], int]:
        """Run one set of scripts: ("ok" | "crash" | "hang" | "disagree",
        notes, calls checked against the model)."""
        from septum.tests.kernel.test_model import BUFSIZE, MAX_OPS, _model_for, _u64s

        m = self.m
        m.restore(self.snap)
        for i, ops in enumerate(scripts):
            m.write_phys(self.script_at[i], _pack(ops))
            m.write_phys(self.script_pristine[i], _pack(ops))
        stop = m.run(max_insns=BUDGET, breakpoints=[self.idle])
        out = m.uart_output.decode(errors="replace")
        if "kernel panic" in out or stop.kind in ("error", "poweroff", "reset"):
            return "crash", [f"{stop}: {out[-200:]!r}"], 0
        if stop.kind != "breakpoint":
            return "hang", [str(stop)], 0
        model = _model_for(self.res, self.sysdesc, scripts, self.bufareas)
        notes = []
        for t in model.tasks:
            i = t.index
            got = _u64s(m.read_phys(self.results[i], 64 * MAX_OPS))
            for k, r in enumerate(t.results):
                real = tuple(got[8 * k + j] if j in r.defined else None for j in range(8))
                if real != r.masked():
                    notes.append(f"task {i} op {k} {scripts[i][k]}: kernel {real} "
                                 f"model {r.masked()}")
            if any(got[8 * len(t.results):]):
                notes.append(f"task {i}: more results than the model")
            tcb = _u64s(m.read_phys(self.tcbs + i * Tcb.SIZE, Tcb.SIZE))
            fields = {"state": (Tcb.STATE, t.state), "id": (Tcb.ID, t.id),
                      "notif": (Tcb.NOTIF, t.notif), "denials": (Tcb.DENIALS, t.denials),
                      "cause": (Tcb.CAUSE, t.cause), "tval": (Tcb.TVAL, t.tval)}
            if t.state in (TaskState.SEND_WAIT, TaskState.REPLY_WAIT):
                fields["wait"] = (Tcb.WAIT, t.wait)
            for name, (off, want) in fields.items():
                if tcb[off // 8] != want:
                    notes.append(f"task {i} {name}: kernel {tcb[off // 8]:#x} model {want:#x}")
            mem = m.read_phys(self.bufareas[i], BUFSIZE)
            if mem != bytes(model.memory.get(self.bufareas[i] + k, 0) for k in range(BUFSIZE)):
                notes.append(f"task {i} buffer differs")
        checked = sum(len(t.results) for t in model.tasks)
        return ("disagree" if notes else "ok"), notes, checked


def run_unit(seed: int, index: int, rounds: int = ROUNDS) -> UnitResult:
    """Fuzz unit ``index`` of campaign ``seed``: one system, ``rounds`` script sets."""
    from septum.toolchain.build import DEFAULT_SLOT
    with tempfile.TemporaryDirectory(prefix="septum-fuzz-") as tmp:
        unit = FuzzUnit(seed, index, Path(tmp))
        try:
            res = UnitResult(index, unit.n, 0)
            for r in range(rounds):
                scripts = unit.scripts if r == 0 else \
                    gen_scripts(unit.rng, unit.sysdesc, DEFAULT_SLOT)
                verdict, notes, checked = unit.round(scripts)
                res.calls += checked
                if verdict == "crash":
                    res.crashes += 1
                elif verdict == "hang":
                    res.hangs += 1
                elif verdict == "disagree":
                    res.disagreements += 1
                res.notes += [f"round {r}: {note}" for note in notes[:5]]
            return res
        finally:
            unit.close()
