"""Fault injection into a running Septum system: plain Python, no pytest needed.

An :class:`Injector` wraps one :class:`~septum.hypervisor.machine.Machine`
that runs a Septum image (the kernel's ELF symbols ``tcbs``, ``task_descs``
and ``cur_tcb`` must be in ``machine.symbols``, which ``Machine.boot`` fills)
and offers the faults of issue 7, each one deterministic given the
injector's ``seed`` (every random choice comes from one ``random.Random``)::

    inj = Injector(m, manifest="userland/system.toml", seed=7)
    inj.flip_register("storage")            # a random bit of a random register
    inj.flip_memory("storage", region="data")
    inj.corrupt_instruction("console")      # the instruction at its pc
    inj.kill_task("attack")                 # its pc -> an unmapped address
    inj.drop_irq(memmap.UART0_IRQ)          # the next interrupt is lost
    inj.delay_irq(memmap.UART0_IRQ, ticks=5000)
    inj.fail_disk_write()                   # next virtio-blk OUT -> IOERR

Each call returns an :class:`Injection` saying exactly what changed, so a
campaign can log and replay it.

Where a task's state lives: a task that is not running has its user
registers in its TCB's trap frame (kernel/abi.py ``Trapframe``, ``TF_PC``);
the task running in U-mode right now (its TCB is in ``sscratch``) has them
in the hart, and those are what is changed then.  While the hart is inside
the kernel a trap frame may be half saved or half restored, and the kernel
may return through ``sepc``: before a register fault the injector
single-steps the hart out of the kernel, to U-mode or an idle ``wfi``
(:meth:`Injector.settle`, at most :data:`SETTLE_STEPS` instructions), so
the fault lands where the task will really see it.

Task memory is found through the task's static descriptor (``Desc``) and
its region list, translated through the task's own page table (``satp``),
so an injection touches exactly what the task may touch.  Every memory
change also drops the translated code of what it changed
(``Machine.discard_code``: by physical page, under every alias).

Interrupt faults wrap the PLIC input wire (:class:`IrqLine`) of the
device that drives the source; a delayed raise is delivered by a timed
pseudo-device in the machine's event list (``Machine.add_timed``), so it
arrives at an exact virtual time.  Disk faults go through the disk's
``request_hook``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from septum.hypervisor import memmap, sv39
from septum.hypervisor.devices.base import IrqLine
from septum.hypervisor.machine import Machine
from septum.kernel.abi import Desc, Layout, Region, RegionPerm, Tcb, Trapframe
from septum.toolchain.errors import SeptumError
from septum.toolchain.riscv import ABI_NAMES, CSR, Priv

if TYPE_CHECKING:
    from septum.hypervisor.devices.virtio_blk import VirtioBlk

#: A user address no task maps: a task whose pc is set here faults on fetch.
KILL_PC = 0

#: Instructions :meth:`Injector.settle` may step to leave the kernel.
SETTLE_STEPS = 20_000

#: The all-zero instruction word is defined illegal (RISC-V unprivileged
#: spec, "Base Instruction-Length Encoding"): the default corruption.
ILLEGAL_INSN = 0


class InjectError(SeptumError):
    """An injection that cannot be made (no such task, register, region)."""


@dataclass
class Injection:
    """One injected fault: what was changed, where, and from what to what."""

    kind: str
    target: str
    address: int | None = None
    bit: int | None = None
    old: int | None = None
    new: int | None = None
    detail: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [self.kind, self.target]
        if self.address is not None:
            parts.append(f"at {self.address:#x}")
        if self.bit is not None:
            parts.append(f"bit {self.bit}")
        if self.old is not None and self.new is not None:
            parts.append(f"{self.old:#x} -> {self.new:#x}")
        return " ".join(parts)


class FaultyLine(IrqLine):
    """An interrupt wire with a fault on it: drops or delays raised levels.

    ``drop`` episodes are lost whole: the wire stays low at the PLIC until
    the device lowers and raises its line again.  ``delay`` ticks hold each
    new raise back until that much virtual time has passed; the raise is
    then delivered if the device still drives the line high."""

    __slots__ = ("inner", "clock", "drop", "delay", "_dropping", "_due", "delivered_level",
                 "events")

    def __init__(self, inner: IrqLine, clock: Callable[[], int]) -> None:
        super().__init__(None)
        self.inner = inner
        self.clock = clock
        self.level = inner.level
        self.drop = 0
        self.delay = 0
        self._dropping = False
        self._due: int | None = None
        self.delivered_level = inner.level
        self.events: list[str] = []

    def set(self, level: bool) -> None:
        """The device drives the wire (see the class docstring)."""
        level = bool(level)
        rising = level and not self.level
        self.level = level
        if not level:
            self._dropping = False
            self._due = None
            self._deliver(False)
            return
        if self._dropping:
            return
        if rising and self.drop > 0:
            self.drop -= 1
            self._dropping = True
            self.events.append("dropped")
            return
        if rising and self.delay > 0 and not self.delivered_level:
            # The machine's clock is exact inside a slice too (the time of
            # the instruction whose MMIO access raised the line).
            self._due = self.clock() + self.delay
            self.delay = 0
            self.events.append("delayed")
            return
        if self._due is None:
            self._deliver(True)

    def _deliver(self, level: bool) -> None:
        self.delivered_level = level
        self.inner.set(level)


class _DelayTimer:
    """A pseudo-device in the machine's event list: delivers delayed raises
    of :class:`FaultyLine` wires at their virtual time."""

    def __init__(self) -> None:
        self.lines: list[FaultyLine] = []

    def next_event(self) -> int | None:
        due = [line._due for line in self.lines if line._due is not None]
        return min(due) if due else None

    def advance(self, now: int) -> None:
        for line in self.lines:
            if line._due is not None and line._due <= now:
                line._due = None
                if line.level:
                    line.events.append("delivered")
                    line._deliver(True)


class Injector:
    """Fault injection into the Septum system running on ``machine``.

    ``manifest`` names the tasks (their order is their index); without it
    tasks are addressed by index only and ``ntasks`` must be given.
    ``seed`` makes every random choice reproducible.
    """

    def __init__(self, machine: Machine, manifest: str | Path | None = None, *,
                 seed: int = 0, ntasks: int | None = None) -> None:
        for sym in ("tcbs", "task_descs", "cur_tcb"):
            if sym not in machine.symbols:
                raise InjectError(f"the image has no symbol {sym!r}: not a Septum kernel image")
        self.m = machine
        self.rng = random.Random(seed)
        self.names: list[str] = []
        if manifest is not None:
            from septum.toolchain.manifest import load_manifest

            self.names = [t.name for t in load_manifest(manifest).tasks]
        self.ntasks = ntasks if ntasks is not None else len(self.names)
        if self.ntasks <= 0:
            raise InjectError("no tasks: give a manifest or ntasks")
        self._lines: dict[int, FaultyLine] = {}
        self._timer: _DelayTimer | None = None
        self._disk_fail = 0
        self._disk: VirtioBlk | None = None  # the disk whose request_hook is ours
        #: Disk writes failed so far by :meth:`fail_disk_write`.
        self.disk_failures = 0
        self.log: list[Injection] = []

    # ----- finding things ------------------------------------------------------------

    def index(self, task: str | int) -> int:
        """The index of ``task`` (a manifest name or an index)."""
        if isinstance(task, int):
            if not 0 <= task < self.ntasks:
                raise InjectError(f"task index {task} out of range 0..{self.ntasks - 1}")
            return task
        try:
            return self.names.index(task)
        except ValueError:
            raise InjectError(f"no task named {task!r} (tasks: {', '.join(self.names)})") from None

    def name(self, task: str | int) -> str:
        """The manifest name of ``task`` (or ``task<i>``)."""
        i = self.index(task)
        return self.names[i] if i < len(self.names) else f"task{i}"

    def _u64(self, addr: int) -> int:
        return int.from_bytes(self.m.read_phys(addr, 8), "little")

    @staticmethod
    def _phys(addr: int) -> int:
        # Kernel pointers may be KWINDOW virtual addresses (VA = PA - offset).
        if addr < memmap.DRAM_BASE:
            return addr + (Layout.KWINDOW_PA - Layout.KWINDOW)
        return addr

    def tcb(self, task: str | int) -> int:
        """Physical address of ``task``'s TCB (``tcbs + index * Tcb.SIZE``)."""
        return self.m.symbols["tcbs"] + self.index(task) * Tcb.SIZE

    def desc(self, task: str | int) -> int:
        """Physical address of ``task``'s static descriptor."""
        return self.m.symbols["task_descs"] + self.index(task) * Desc.SIZE

    def current_tcb(self) -> int | None:
        """TCB address of the task in the hart now (U-mode only: the kernel
        keeps the running task's TCB in ``sscratch`` while it is in U-mode;
        ``cur_tcb`` may lag, the IPC fast path switches without it)."""
        if self.m.priv != Priv.U:
            return None
        return self._phys(self.m.csr_read(CSR.SSCRATCH))

    def is_live(self, task: str | int) -> bool:
        """True when ``task``'s registers are in the hart right now (it is
        the task running in U-mode)."""
        return self.current_tcb() == self.tcb(task)

    def settle(self) -> int:
        """Step the hart out of the kernel: until it is in U-mode, or idle in
        ``wfi`` (then every task's registers are in its trap frame).
        Returns the instructions stepped; InjectError if the kernel does not
        get there within :data:`SETTLE_STEPS`."""
        steps = 0
        while self.m.priv != Priv.U and not self.m.in_wfi:
            if steps >= SETTLE_STEPS:
                raise InjectError(f"the kernel did not return to U-mode within {steps} "
                                  f"instructions (pc {self.m.pc:#x})")
            r = self.m.step()
            steps += 1
            if r.kind != "budget":
                break  # stopped, powered off or hung: nothing more will happen
        return steps

    def read_reg(self, task: str | int, reg: str) -> int:
        """Register ``reg`` (ABI name or ``pc``) of ``task``, live or saved."""
        tf = self._tf_addr(task, reg)
        self.settle()
        if self.is_live(task):
            return self.m.pc if reg == "pc" else self.m.regs[reg]
        return self._u64(tf)

    def write_reg(self, task: str | int, reg: str, value: int) -> None:
        """Set register ``reg`` of ``task``, live or in its trap frame."""
        value &= (1 << 64) - 1
        tf = self._tf_addr(task, reg)
        self.settle()
        if self.is_live(task):
            if reg == "pc":
                self.m.pc = value
            else:
                self.m.regs[reg] = value
            return
        self.m.write_phys(tf, value.to_bytes(8, "little"))

    def _tf_addr(self, task: str | int, reg: str) -> int:
        key = "TF_PC" if reg == "pc" else f"TF_{reg.upper()}"
        try:
            off = Trapframe[key]
        except KeyError:
            raise InjectError(f"no register {reg!r} in a trap frame (x1..x31 by ABI name, "
                              "or pc)") from None
        return self.tcb(task) + int(off)

    def regions(self, task: str | int) -> list[tuple[int, int, int]]:
        """``task``'s regions as ``(user base, size, RegionPerm)``."""
        d = self.desc(task)
        n = self._u64(d + Desc.NREGIONS)
        table = self._phys(self._u64(d + Desc.REGIONS))
        out = []
        for k in range(n):
            e = table + k * Region.ENTRY_SIZE
            out.append((self._u64(e + Region.BASE), self._u64(e + Region.SIZE),
                        self._u64(e + Region.PERM)))
        return out

    def task_phys(self, task: str | int, va: int) -> int:
        """Physical address of ``task``'s user address ``va`` (its page table)."""
        satp = self._u64(self.desc(task) + Desc.SATP)

        def pte(pa: int) -> int | None:
            return self._u64(pa) if self.m.in_ram(pa, 8) else None

        pa = sv39.translate(satp, va, pte)
        if pa is None:
            raise InjectError(f"{self.name(task)}: address {va:#x} is not mapped")
        return pa

    def _pick_region(self, task: str | int, region: str | None) -> tuple[int, int]:
        want = {None: None, "code": RegionPerm.X, "data": RegionPerm.W}
        if region not in want:
            raise InjectError(f"region {region!r}: expected 'code', 'data' or None")
        regs = [(b, s) for b, s, p in self.regions(task)
                if want[region] is None or p & want[region]]
        if not regs:
            raise InjectError(f"{self.name(task)} has no {region or ''} region")
        return self.rng.choice(regs)

    def _flush_code(self, pa: int, n: int) -> None:
        # Translated blocks cache the old bytes: the board drops them under
        # every virtual address (write_phys does too; said here, since a
        # corrupted instruction that never runs is no fault at all).
        self.m.discard_code(pa, n)

    def _record(self, inj: Injection) -> Injection:
        self.log.append(inj)
        return inj

    # ----- task faults --------------------------------------------------------------

    def flip_register(self, task: str | int, reg: str | None = None,
                      bit: int | None = None) -> Injection:
        """Flip one bit of one register of ``task`` (random x1..x31 or pc and
        random bit when not given)."""
        reg = reg if reg is not None else self.rng.choice([*ABI_NAMES[1:], "pc"])
        bit = bit if bit is not None else self.rng.randrange(64)
        if not 0 <= bit < 64:
            raise InjectError(f"bit {bit} out of range 0..63")
        old = self.read_reg(task, reg)
        new = old ^ (1 << bit)
        self.write_reg(task, reg, new)
        return self._record(Injection("register", self.name(task), None, bit, old, new,
                                      {"reg": reg, "live": self.is_live(task)}))

    def flip_memory(self, task: str | int, va: int | None = None, bit: int | None = None,
                    region: str | None = None) -> Injection:
        """Flip one bit of ``task``'s memory: at user address ``va``, or a
        random byte of a random region (``region``: "code", "data", None)."""
        if va is None:
            base, size = self._pick_region(task, region)
            va = base + self.rng.randrange(size)
        bit = bit if bit is not None else self.rng.randrange(8)
        if not 0 <= bit < 8:
            raise InjectError(f"bit {bit} out of range 0..7 (one byte)")
        pa = self.task_phys(task, va)
        old = self.m.read_phys(pa, 1)[0]
        new = old ^ (1 << bit)
        self.m.write_phys(pa, bytes([new]))
        self._flush_code(pa, 1)
        return self._record(Injection("memory", self.name(task), va, bit, old, new,
                                      {"phys": pa}))

    def corrupt_instruction(self, task: str | int, va: int | None = None,
                            value: int | None = None, flip: bool = False) -> Injection:
        """Corrupt the instruction word at ``va`` (default: the task's pc, so
        it is the next one it executes): replace it with ``value`` (default
        the illegal all-zero word) or, ``flip``, flip one random bit of it."""
        if va is None:
            va = self.read_reg(task, "pc")
        pa = self.task_phys(task, va)
        n = 4 if self.m.in_ram(pa, 4) and (pa & 0xFFF) <= 0xFFC else 2
        old = int.from_bytes(self.m.read_phys(pa, n), "little")
        if flip:
            bit = self.rng.randrange(8 * n)
            new = old ^ (1 << bit)
        else:
            bit = None
            new = (ILLEGAL_INSN if value is None else value) & ((1 << (8 * n)) - 1)
        self.m.write_phys(pa, new.to_bytes(n, "little"))
        self._flush_code(pa, n)
        return self._record(Injection("instruction", self.name(task), va, bit, old, new,
                                      {"phys": pa}))

    def kill_task(self, task: str | int) -> Injection:
        """Make ``task`` fault: its pc points at an unmapped address, so its
        next instruction raises an instruction page fault.  A task blocked
        in the kernel (RECV, CALL) faults when it next runs: when it is
        woken."""
        old = self.read_reg(task, "pc")
        self.write_reg(task, "pc", KILL_PC)
        return self._record(Injection("kill", self.name(task), None, None, old, KILL_PC))

    # ----- device faults ------------------------------------------------------------

    def _device_of(self, source: int) -> object:
        m = self.m
        owners: dict[int, object] = {memmap.UART0_IRQ: m.uart, memmap.RTC_IRQ: m.rtc}
        for i, dev in enumerate(m.virtio):
            owners[memmap.VIRTIO_IRQ_BASE + i] = dev
        if source not in owners:
            raise InjectError(f"PLIC source {source}: no device drives it "
                              f"(sources: {', '.join(map(str, sorted(owners)))})")
        return owners[source]

    def line(self, source: int) -> FaultyLine:
        """The faulty wire now between PLIC source ``source``'s device and the
        PLIC (installed on first use, kept until :meth:`remove`)."""
        if source in self._lines:
            return self._lines[source]
        dev = self._device_of(source)
        wrapped = FaultyLine(dev.irq, self.m.clock)  # type: ignore[attr-defined]
        dev.irq = wrapped  # type: ignore[attr-defined]
        self._lines[source] = wrapped
        if self._timer is None:
            self._timer = _DelayTimer()
            self.m.add_timed(self._timer)
        self._timer.lines.append(wrapped)
        return wrapped

    def drop_irq(self, source: int, count: int = 1) -> Injection:
        """Lose the next ``count`` interrupts of PLIC ``source``."""
        if count < 1:
            raise InjectError(f"count {count}: must be at least 1")
        line = self.line(source)
        line.drop += count
        return self._record(Injection("drop-irq", f"plic{source}", detail={"count": count}))

    def delay_irq(self, source: int, ticks: int | None = None) -> Injection:
        """Hold the next interrupt of PLIC ``source`` back ``ticks`` virtual
        mtime ticks (10 MHz; random 1..100000 when not given)."""
        ticks = ticks if ticks is not None else self.rng.randrange(1, 100_001)
        if ticks < 1:
            raise InjectError(f"ticks {ticks}: must be at least 1")
        self.line(source).delay = ticks
        return self._record(Injection("delay-irq", f"plic{source}", detail={"ticks": ticks}))

    def fail_disk_write(self, count: int = 1) -> Injection:
        """The next ``count`` virtio-blk write (``VIRTIO_BLK_T_OUT``) requests
        fail with ``VIRTIO_BLK_S_IOERR`` and write nothing (the disk's
        ``request_hook``)."""
        if count < 1:
            raise InjectError(f"count {count}: must be at least 1")
        disk = self.m.disk
        if disk is None:
            raise InjectError("the machine has no virtio-blk disk")
        if self._disk is not disk:
            disk.request_hook = self._disk_request
            self._disk = disk
        self._disk_fail += count
        return self._record(Injection("fail-disk-write", disk.name, detail={"count": count}))

    def _disk_request(self, kind: int, sector: int, nbytes: int) -> int | None:
        from septum.hypervisor.devices import virtio_blk as vb

        if self._disk_fail > 0 and kind == vb.VIRTIO_BLK_T_OUT:
            self._disk_fail -= 1
            self.disk_failures += 1
            return vb.VIRTIO_BLK_S_IOERR
        return None

    def remove(self) -> None:
        """Take every device fault out (wires and disk back as they were)."""
        for source, line in self._lines.items():
            dev = self._device_of(source)
            dev.irq = line.inner  # type: ignore[attr-defined]
            line.inner.set(line.level)
        self._lines.clear()
        if self._timer is not None:
            self.m.remove_timed(self._timer)
            self._timer = None
        if self._disk is not None:
            self._disk.request_hook = None
            self._disk = None
            self._disk_fail = 0
