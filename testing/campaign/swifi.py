"""Software-implemented fault injection into the servers of the default system.

In the style of MINIX 3's driver fault-isolation experiments: boot the
default system (userland/system.toml) once, snapshot it at the shell's
prompt, and for each fault restore the snapshot, store records through the
shell (``put``; the ``ok`` acknowledgements are recorded), inject ONE fault
into one server (console, storage or shell) -- memory and code faults at a
random instant of the last ``put`` (uniform over the instructions a put
takes, measured on a dry run: :attr:`SwifiRig.live_window`), then probe:
read back every acknowledged record with ``get``.  The disk's writes go to
the device's in-memory overlay, so the snapshot holds the disk too.

Fault kinds (all into the task's own state, as a bug in it would do):

- ``reg``: flip one bit of one saved register (x1..x31 or the pc) in the
  task's TCB trap frame, at the prompt after the last put, when every task
  is blocked in the kernel (the frame is what the task resumes with);
- ``mem``: flip one bit of one byte of the task's writable region;
- ``insn``: replace one instruction word of the task's text with a random
  word (corrupted instruction);
- ``wild``: store 8 random bytes at a random 8-aligned address of the
  task's writable region (a wild store).

Outcome (one per fault): ``crash`` (the kernel's panic path -- a trap
from S-mode -- or an error stop of the machine), ``hang`` (a ``get``
typed :data:`GET_TRIES` times got no prompt back, each time within
:data:`PROBE_TIME` of virtual time -- never the host clock),
``recovered`` (every probe answered correctly; ``restarted`` says whether
the supervisor restarted a task on the way), ``not_recovered`` (answers
came back but were wrong, the supervisor gave up, or the system powered
off or reset at a task's request).  A ``get`` is typed again, as a user
would, after a wrong answer or :data:`PROBE_TIME` of silence
(:data:`GET_TRIES` times in all).
``lost`` counts acknowledged records that a client cannot read back: when
the fault was not recovered (any outcome but ``recovered``), the operator
power-cycles the board with its disk (:meth:`SwifiRig.reboot`) and
types ``get`` for every acknowledged record again; each one not returned
then is lost (a server that merely stopped serving, or a broken shell,
loses nothing; a recovered fault lost nothing by definition: every record came
back).

Everything derives from ``(seed, index)``: :func:`run_fault` for one index
gives the same result in any process, alone or in a campaign.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from septum.kernel.abi import Desc, Layout, Region, RegionPerm, Tcb

#: The servers faults go into (manifest names of userland/system.toml).
TARGETS = ("console", "storage", "shell")
KINDS = ("reg", "mem", "insn", "wild")
#: Virtual time (mtime ticks, 10 MHz: 500 ms) the system has to answer one
#: typed line; virtual, never host time.  It covers the watchdog's
#: detection of a hung server (two 50 ms heartbeats) and the supervisor's
#: first restart back-offs (10, 20, 40 ms) with room to spare.
PROBE_TIME = 5_000_000
#: Virtual time the boot to the first prompt may take (5 s).
BOOT_TIME = 50_000_000
#: Virtual time the system runs after its first prompt, before the
#: snapshot (100 ms).
SETTLE_TIME = 1_000_000
#: Records stored before each fault.
RECORDS = 3
#: Times a ``get`` is typed before its record counts as not returned (a
#: restarted shell eats the line being typed) or, when none of them got a
#: prompt back, the system as hung (a console that dies with typed bytes
#: in its buffer loses them: a user types the line again).
GET_TRIES = 3
PROMPT = b"septum> "
#: Share of memory faults aimed at what the task uses next (the code after
#: its saved pc, the top of its stack) rather than anywhere in its regions:
#: a uniformly placed fault at the prompt is almost always latent.
HOT_SHARE = 0.5
#: Enough for the system (it uses the first few MiB); small keeps each restore cheap.
RAM_SIZE = 8 << 20
DISK_SIZE = 1 << 20
_KVA_OFFSET = Layout.KWINDOW_PA - Layout.KWINDOW  # kernel VA -> PA
#: Offset of the saved pc in a TCB (the trap frame: x1..x31 at 8 * n, then the pc).
TF_PC = 256


def _region_end(regions: list[tuple[int, int, int]], addr: int) -> int:
    """End of the region holding ``addr``."""
    return next(b + s for b, s, _ in regions if b <= addr < b + s)


@dataclass
class FaultResult:
    """What happened to one injected fault."""

    index: int
    target: str
    kind: str
    detail: str
    outcome: str  # crash | hang | recovered | not_recovered
    restarted: bool
    acked: int
    lost: int
    instret: int
    notes: list[str] = field(default_factory=list)
    #: How it showed, from the console log (see :func:`symptom`).
    symptom: str = ""

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


#: The supervisor's log causes that are not a trap the kernel saw, and how
#: the symptom names them (userland/supervisor/supervisor.S): the first
#: found in the log wins.
_WATCHDOG_CAUSES = (
    ("cause=hung", "watchdog"),
    ("cause=unanswered", "unanswered call"),
    ("cause=storm", "interrupt storm"),
    ("cause=complaint", "complaint"),
    ("cause=complained about", "complainer"),
    ("cause=deaf", "deaf to its interrupt"),
    ("cause=code corrupted", "code scrub"),
)


def symptom(outcome: str, log: str, stopped: str | None = None) -> str:
    """A short class of how a fault showed, for grouping failures: what the
    kernel and the supervisor logged, and how the probes went."""
    restart = "stopped: cause=" in log or "restart" in log
    how = ""
    for cause, label in _WATCHDOG_CAUSES:
        if cause in log:
            how = f"restarted ({label})"
            break
    else:
        if restart:
            how = "restarted (fault)"
    if outcome == "crash":
        return "kernel panic" if "kernel panic" in log else f"machine stopped: {stopped}"
    if stopped is not None:
        return f"machine stopped: {stopped}"
    if "giving up" in log:
        return f"{outcome}: supervisor gave up"
    if outcome == "recovered":
        return how or "no effect seen"
    what = "no prompt" if outcome == "hang" else "wrong answers"
    return f"{what} after {how}" if how else f"{what}, no fault seen"


class Stopped(Exception):
    """The machine stopped (power-off, error) during a probe."""

    def __init__(self, reason: object) -> None:
        super().__init__(str(reason))
        self.reason = reason


class SwifiRig:
    """The default system booted to its prompt, with a snapshot to go back to.

    One rig per process; :meth:`run_fault` restores it for every fault.
    """

    def __init__(self, manifest: str | Path | None = None) -> None:
        from septum.hypervisor.boot_cli import DEFAULT_MANIFEST, cached_build
        from septum.hypervisor.machine import Machine
        from septum.toolchain.manifest import load_manifest
        from septum.tests.kernel.ipcbench import symbols

        # A corrupted driver pokes its device anywhere: the board's warnings
        # about undefined registers are expected here, and only counted.
        self.mmio_warnings = 0
        self._mmio_log = logging.getLogger("septum.mmio")
        self._mmio_log.addFilter(self._count_mmio)
        manifest = Path(manifest or DEFAULT_MANIFEST)
        elf, _ = cached_build(manifest, log=lambda _text: None)
        self.names = [t.name for t in load_manifest(manifest).tasks]
        self.log_prefixes = tuple(f"{n}: " for n in ["kernel", *self.names])
        self.tcbs = symbols(elf)["tcbs"] + _KVA_OFFSET \
            if symbols(elf)["tcbs"] < Layout.KWINDOW_PA else symbols(elf)["tcbs"]
        fd, self.disk = tempfile.mkstemp(prefix="septum-swifi-", suffix=".img")
        os.ftruncate(fd, DISK_SIZE)
        os.close(fd)
        self.m = Machine(ram_size=RAM_SIZE, disk=self.disk)
        # Disk writes go to the device's in-memory overlay, which snapshots
        # include: restoring the snapshot rolls the disk back too.
        assert self.m.disk is not None
        self.m.disk.snapshot = True
        self.out = bytearray()
        self.m.console_sink = self.out.extend
        self.m.boot(bios=str(elf))
        #: The board at power-on (for :meth:`reboot`).
        self.power_on = self.m.snapshot()
        if self._until_prompt(0, BOOT_TIME) is None:
            raise Stopped(f"{manifest}: no prompt within {BOOT_TIME} ticks of boot")
        # Servers may still be starting at the first prompt: let the boot's
        # last log lines out before the snapshot.
        self.m.run(until=lambda deadline=self.m.clock() + SETTLE_TIME: self.m.clock() >= deadline)
        self.snap = self.m.snapshot()
        self.out_mark = len(self.out)
        #: Instructions one ``put`` takes from its line to the next prompt
        #: (measured on a dry run): faults land at a random instant of it.
        self.live_window = self._measure_put()
        self.fresh()

    def fresh(self) -> None:
        """Back to the snapshot at the prompt (RAM, CPU, devices, disk)."""
        self.m.restore(self.snap)
        del self.out[self.out_mark:]

    def _measure_put(self) -> int:
        self.fresh()
        before = self.m.instret
        self.m.uart_feed(b"put f0r0 v00000000\n")
        if self._until_prompt(self.out_mark, PROBE_TIME) is None:
            raise Stopped("a put on the fresh system got no prompt back")
        return self.m.instret - before

    def _count_mmio(self, record: logging.LogRecord) -> bool:
        self.mmio_warnings += 1
        return False

    def close(self) -> None:
        """Release the machine and the disk file."""
        self._mmio_log.removeFilter(self._count_mmio)
        self.m.close()
        os.unlink(self.disk)

    # ----- driving the shell ---------------------------------------------------

    def _until_prompt(self, start: int, budget: int) -> int | None:
        """Run until a prompt appears in the output after ``start``; the
        offset after it, or None when ``budget`` ticks of virtual time went
        by first (checked between the machine's slices: up to one slice,
        1 ms of busy time, late)."""
        out, m = self.out, self.m
        deadline = m.clock() + budget

        def done() -> bool:
            return out.find(PROMPT, start) >= 0 or m.clock() >= deadline
        reason = m.run(until=done)
        if out.find(PROMPT, start) >= 0:
            return out.find(PROMPT, start) + len(PROMPT)
        if reason.kind in ("until", "hang"):
            return None
        raise Stopped(reason)

    def _until_idle(self) -> None:
        """Run on until the hart idles in ``wfi`` (every task blocked in the
        kernel), for at most :data:`PROBE_TIME`: the prompt may be out
        while a server still has a delivered message to handle."""
        m = self.m
        deadline = m.clock() + PROBE_TIME
        reason = m.run(until=lambda: m.in_wfi or m.clock() >= deadline)
        if reason.kind not in ("until", "hang"):
            raise Stopped(reason)

    def command(self, line: str) -> str | None:
        """Type ``line`` and return what came back up to the next prompt
        (None: no prompt within the probe budget)."""
        start = len(self.out)
        self.m.uart_feed(line.encode() + b"\n")
        end = self._until_prompt(start, PROBE_TIME)
        if end is None:
            return None
        return self.answer(start, end, line)

    def answer(self, start: int, end: int, line: str) -> str:
        """The shell's answer to ``line`` in the output from ``start`` to
        ``end`` (just after the prompt): the text after the echoed line,
        without the system's log lines (``kernel: ...``, ``<task>: ...``),
        which share the console but are no part of the answer."""
        text = self.out[start:end - len(PROMPT)].decode(errors="replace").replace("\r", "")
        echo = line + "\n"
        if echo in text:
            text = text[text.index(echo) + len(echo):]
        return "".join(ln for ln in text.splitlines(keepends=True)
                       if not ln.startswith(self.log_prefixes))

    # ----- the task's state ------------------------------------------------------

    def _kpa(self, addr: int) -> int:
        return addr + _KVA_OFFSET if addr < Layout.KWINDOW_PA else addr

    def tcb(self, index: int) -> int:
        """Physical address of task ``index``'s TCB."""
        return self.tcbs + index * Tcb.SIZE

    def regions(self, index: int) -> list[tuple[int, int, int]]:
        """(base, size, perm) of every region of task ``index``."""
        rd = lambda a: int.from_bytes(self.m.read_phys(a, 8), "little")  # noqa: E731
        desc = self._kpa(rd(self.tcb(index) + Tcb.DESC))
        n, lst = rd(desc + Desc.NREGIONS), self._kpa(rd(desc + Desc.REGIONS))
        return [(rd(lst + k * Region.ENTRY_SIZE + Region.BASE),
                 rd(lst + k * Region.ENTRY_SIZE + Region.SIZE),
                 rd(lst + k * Region.ENTRY_SIZE + Region.PERM)) for k in range(n)]

    def inject(self, rng: random.Random, target: str, kind: str) -> str:
        """Inject one fault of ``kind`` into task ``target``; what was done."""
        index = self.names.index(target)
        regs = self.regions(index)
        text = [r for r in regs if r[2] & RegionPerm.X]
        data = [r for r in regs if r[2] & RegionPerm.W]
        if kind == "reg":
            # At the prompt (see run_fault) every task is blocked in the
            # kernel: its trap frame is exactly what it resumes with.
            reg = rng.randrange(1, 33)  # 32 = the pc, at TF_PC = 8 * 32
            bit = rng.randrange(64)
            addr = self.tcb(index) + 8 * reg
            old = int.from_bytes(self.m.read_phys(addr, 8), "little")
            self.m.write_phys(addr, (old ^ (1 << bit)).to_bytes(8, "little"))
            return f"{'pc' if reg == 32 else f'x{reg}'} bit {bit}"
        hot = rng.random() < HOT_SHARE
        rd = lambda a: int.from_bytes(self.m.read_phys(a, 8), "little")  # noqa: E731
        if kind == "mem":
            base, size, _ = rng.choice(data)
            addr, bit = base + rng.randrange(size), rng.randrange(8)
            sp = rd(self.tcb(index) + 8 * 2)
            if hot and any(b <= sp < b + s for b, s, _ in data):
                # The live end of the stack: what the task reads on its way back.
                addr = min(sp + rng.randrange(256), _region_end(data, sp) - 1)
            old = self.m.read_phys(addr, 1)[0]
            self.m.write_phys(addr, bytes([old ^ (1 << bit)]))
            return f"{'hot ' if hot else ''}byte {addr:#x} bit {bit}"
        if kind == "insn":
            base, size, _ = rng.choice(text)
            addr = base + 4 * rng.randrange(size // 4)
            pc = rd(self.tcb(index) + TF_PC)
            if hot and any(b <= pc < b + s for b, s, _ in text):
                # Code the task runs next: the return path of its system call.
                addr = min(pc + 2 * rng.randrange(16), _region_end(text, pc) - 4)
            word = rng.randrange(1 << 32)
            # write_phys drops the translated code of the word too.
            self.m.write_phys(addr, word.to_bytes(4, "little"))
            return f"{'hot ' if hot else ''}insn {addr:#x} := {word:#010x}"
        base, size, _ = rng.choice(data)
        addr = base + 8 * rng.randrange(size // 8)
        sp = rd(self.tcb(index) + 8 * 2)
        if hot and any(b <= sp < b + s for b, s, _ in data):
            addr = min((sp & ~7) + 8 * rng.randrange(32), _region_end(data, sp) - 8)
        value = rng.randrange(1 << 64)
        self.m.write_phys(addr, value.to_bytes(8, "little"))
        return f"store {addr:#x} := {value:#x}"

    # ----- one fault -----------------------------------------------------------------

    def run_fault(self, seed: int, index: int) -> FaultResult:
        """Restore the snapshot and run fault ``index`` of campaign ``seed``."""
        rng = random.Random(f"swifi {seed} {index}")
        self.fresh()
        target, kind = rng.choice(TARGETS), rng.choice(KINDS)
        records = {f"f{index}r{k}": f"v{rng.randrange(1 << 32):08x}" for k in range(RECORDS)}
        acked: dict[str, str] = {}
        res = FaultResult(index, target, kind, "", "recovered", False, 0, 0, 0)
        try:
            items = list(records.items())
            for key, value in items[:-1]:
                if self.command(f"put {key} {value}") == "ok\n":
                    acked[key] = value
            # The fault lands at a random instant of the last put (or at the
            # prompt after it, if the put is done by then).
            key, value = items[-1]
            before = len(self.out)
            self.m.uart_feed(f"put {key} {value}\n".encode())
            delay = rng.randrange(self.live_window)
            if kind == "reg":
                # Registers at the prompt: mid-run the hart may be inside the
                # kernel with the target's frame half saved.
                end = self._until_prompt(before, PROBE_TIME)
                self._until_idle()
                res.detail = "at the prompt: " + self.inject(rng, target, kind)
            else:
                reason = self.m.run(max_insns=delay,
                                    until=lambda: self.out.find(PROMPT, before) >= 0)
                if reason.kind not in ("budget", "until", "hang"):
                    raise Stopped(reason)
                res.detail = f"+{delay}: " + self.inject(rng, target, kind)
                end = self._until_prompt(before, PROBE_TIME)
            if end is not None and self.answer(before, end, f"put {key} {value}") == "ok\n":
                acked[key] = value
            res.acked = len(acked)
            missing, hung = self._get_all(acked, res)
            log = self.out[before:].decode(errors="replace")
            res.restarted = "stopped: cause=" in log or "restart" in log
            if "kernel panic" in log:
                res.outcome = "crash"
            elif hung:
                res.outcome = "hang"
            elif missing or "giving up" in log:
                res.outcome = "not_recovered"
            res.symptom = symptom(res.outcome, log)
        except Stopped as stop:
            log = self.out.decode(errors="replace")
            # A power-off or reset that a task asked for (a corrupted shell
            # may ask the supervisor for one) is no kernel crash.
            kind = getattr(stop.reason, "kind", "error")
            res.outcome = "crash" if kind == "error" or "kernel panic" in log \
                else "not_recovered"
            res.notes.append(f"machine stopped: {stop}")
            res.symptom = symptom(res.outcome, log, kind)
        res.instret = self.m.instret - self.snap.state["instret"]  # type: ignore[operator]
        if res.outcome != "recovered":
            res.lost = self._lost_after_reboot(acked, res)
        return res

    def _get_all(self, acked: dict[str, str], res: FaultResult) -> tuple[int, bool]:
        """``get`` every acknowledged record, each typed up to
        :data:`GET_TRIES` times until it answers right; (records not
        returned, whether the system hung: no prompt for any of the tries
        of one record, :data:`GET_TRIES` x :data:`PROBE_TIME` of silence)."""
        missing = 0
        for key, value in acked.items():
            got: str | None = None
            for _ in range(GET_TRIES):
                got = self.command(f"get {key}")
                if got == value + "\n":
                    break
            else:
                if got is None:
                    res.notes.append(f"no prompt after get {key} (typed {GET_TRIES} times)")
                    return missing, True
                missing += 1
                res.notes.append(f"get {key}: {got!r}")
        return missing, False

    def reboot(self) -> int | None:
        """Cold boot with the disk as it is now, as an operator power-cycling
        the board would (RAM, CPU and devices from the power-on snapshot,
        the disk's overlay kept); the output offset after the first prompt,
        or None when the system gets nowhere near one within
        :data:`BOOT_TIME`."""
        disk = self.m.disk
        assert disk is not None
        overlay = dict(disk.overlay)
        self.m.restore(self.power_on)
        disk.overlay = overlay
        return self._until_prompt(len(self.out), BOOT_TIME)

    def _lost_after_reboot(self, acked: dict[str, str], res: FaultResult) -> int:
        """Acknowledged records that a client cannot read back even after a
        reboot: what the fault really destroyed (a server that merely
        stopped serving, or a broken shell, loses nothing)."""
        if not acked:
            return 0
        mark = len(res.notes)
        try:
            if self.reboot() is None:
                res.notes.append("after reboot: no prompt")
                return len(acked)
            missing, hung = self._get_all(acked, res)
        except Stopped as stop:
            res.notes.append(f"after reboot: machine stopped: {stop}")
            return len(acked)
        for k in range(mark, len(res.notes)):
            res.notes[k] = "after reboot: " + res.notes[k]
        return len(acked) if hung else missing
