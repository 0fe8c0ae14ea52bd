"""The board: a QEMU-``virt``-compatible RV64 machine, its run loop and API.

A :class:`Machine` is one hart (hypervisor/cpu.py) with the trap unit
(hypervisor/trap.py), RAM at 0x8000_0000, the MROM reset stub at 0x1000, and
the devices of hypervisor/devices mapped with ``mmio_map`` at QEMU virt's
addresses (hypervisor/memmap.py)::

    m = Machine(ram_size=128 << 20, disk=None)
    m.boot(bios="none", kernel="hello.elf")      # or m.load_elf(...) + m.boot()
    r = m.run(max_insns=10_000_000)              # -> StopReason
    print(r.kind, r.exit_code, m.uart_output)

Run loop
--------
The CPU runs in ``emu_start`` slices of at most :attr:`slice_insns`
instructions (10,000).  A slice ends exactly when the next device event
(timer compare, RTC alarm, :meth:`Machine.add_timed` devices) is due or the
caller's ``max_insns`` budget is spent -- also when the guest reprograms a
timed device inside the slice (a ``mtimecmp`` write moves the slice's end to
the new event).  Between slices the machine advances the devices to the
current virtual time, hands raised interrupt lines to the hart (``env->mip``
written in place, cpu.py: QEMU then takes the interrupt natively, with the
spec's priorities and vectoring), and checks stop conditions.

Long slices: while nothing needs a look between slices (no ``until``
condition, no HTIF, no in-block hook, no trap in the slice before; count
mode), one ``emu_start`` runs up to :data:`LONG_SLICE_INSNS` instructions
and is cut back to the grid of ``slice_insns`` slices the moment something
needs a boundary: a device line raised, a trap taken (:meth:`_cut_long_slice`).
Slices then end exactly where short slices would have ended; only the
Python between them is saved (``Machine.long_slice_insns = 0`` turns them
off; tests/hypervisor/test_unicorn_build.py compares).

Two clocks count the instructions of a slice (``Machine(clock=...)``,
``septum run --clock``):

* ``"count"`` (the default): every slice is ``emu_start(count=N)``, an
  exact count.  With Septum's build of Unicorn (``septum unicorn build``,
  hypervisor/unicorn_build.py) the count is kept per translated block with
  the per-instruction hook's meaning (devices see the count and pc of the
  accessing instruction); with the stock wheel, or while a hook inside
  blocks reads the counter, it is Unicorn's helper call before every
  instruction (cpu.py, :meth:`Cpu.set_tb_count`).  Both give the same
  counts, stops and interrupts, so a traced or debugged run takes its
  interrupts at exactly the same instructions as one that is not.
* ``"block"`` (opt-in, ``SEPTUM_CLOCK=block``): the block clock (hypervisor/blockclock.py), one
  ``UC_HOOK_BLOCK`` callback in C that counts each translated block's
  instructions on entry and stops emulation before a block that would
  overrun the slice; slices run with ``count=0``, so Unicorn's
  per-instruction counting hook is gone.  A slice that ends at the
  :attr:`slice_insns` cap may end at the block boundary before it; a slice
  whose end must be exact (an event, a budget) stops at the last block
  boundary before it and runs the remaining instructions in count mode.
  ``step()`` and budgets under :data:`COUNT_MODE_BELOW` instructions run in
  count mode directly.  :attr:`clock_impl` says whether the compiled
  callback or its Python fallback (no C compiler at install time) runs.
  Measured 5-15% faster than stock Unicorn's per-instruction count on a
  4-instruction loop (its C callback per block costs about what that count
  costs per instruction), about half the speed of count mode with Septum's
  Unicorn build, and it changes where cap-ended slices fall: a run traced
  (which needs count mode, below) would take its interrupts elsewhere than
  the same run untraced.  So it is not the default; it stays for comparison.

The block clock also gives way to count mode while something needs
Unicorn's per-instruction state: a ``UC_HOOK_CODE`` hook on all addresses,
a memory hook that may stop emulation (GDB watchpoints), a device observer
(the MMIO log reads the exact PC), or another block hook (the tracer,
coverage; see :meth:`Machine._clock_alone`).  Switching from the block
clock to count mode costs a flush of translated code.

Virtual time
------------
``mtime`` advances by one tick per :data:`INSNS_PER_TICK` (10) retired
instructions: with the 10 MHz timebase the guest sees a nominal 100 MIPS hart,
close to Unicorn's real speed, so guest timeouts feel like wall time.  Nothing
reads the host clock: the same image and input give the same instruction
counts, interrupts and output.  Retired instructions are counted exactly (by
either clock); an instruction that traps counts as retired, one whose fetch
faults does not.  A device read inside a slice sees, in count mode, the
time of the instruction that performs it; under the block clock, the time
at the end of the translated block that performs it (the clock counts a
block on entry; deterministic, and at most one block ahead).  ``wfi`` with
nothing pending fast-forwards time to the next
device event; if there is none, nothing can ever wake the hart and the run
stops with ``"hang"`` (unless an :attr:`idle_hook`, such as the terminal
console, can supply input).

Interrupt latency: an interrupt line raised by a device *during* a slice (a
guest MMIO write that sets ``msip`` or completes a virtio request) reaches
the hart at the end of that slice (at most ``slice_insns`` instructions
later), never where QEMU's block chaining happens to exit.  With
``Machine(irq_early=True)`` the block clock instead stops the slice before
the next translated block (measured deterministic, native and Python
clocks alike; not the default: the system tests' scheduling expectations
were written against the slice-end latency, and one of them, a
priority-3 task's state at the shell's next command, changes).
Timer interrupts arrive at their exact virtual time; a line *lowered* by the
guest (``mtimecmp`` written, PLIC claim) leaves ``mip`` before the guest's
next instruction.  A poweroff through the test finisher stops right after
the store under both clocks; under the block clock the PC QEMU leaves is the
block's start, so the run loop finds the store in the block
(:meth:`Machine._find_store`) and puts the PC and the count where count mode
has them.

Snapshots cost what the guest changed, not the size of RAM: RAM is host
memory the board owns (hypervisor/ram.py), a copy-on-write mapping of the
last saved image, so a save copies only the pages written since, and a
restore maps the image back and rewrites only the snapshot's own pages.
Unicorn's copy-on-write contexts were measured and rejected (see
:meth:`Machine.snapshot`).

Stop reasons (:class:`StopReason`): ``poweroff`` (with ``exit_code``: the
finisher's fail code, HTIF's or semihosting's exit code, 0 for pass),
``reset`` (finisher 0x7777), ``hang``, ``budget``, ``breakpoint``, ``until``
(the caller's condition became true) and ``error`` (with ``message``).
"""

from __future__ import annotations

import ctypes
import mmap
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from unicorn import (
    UC_CTL_CONTEXT_CPU,
    UC_CTL_CONTEXT_MEMORY,
    UC_CTL_IO_WRITE,
    UC_CTL_TLB_FLUSH,
    UC_ERR_FETCH_UNMAPPED,
    UC_ERR_INSN_INVALID,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_CODE,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH,
    UC_HOOK_MEM_FETCH_PROT,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_READ_AFTER,
    UC_HOOK_MEM_READ_PROT,
    UC_HOOK_MEM_READ_UNMAPPED,
    UC_HOOK_MEM_WRITE,
    UC_HOOK_MEM_WRITE_PROT,
    UC_HOOK_MEM_WRITE_UNMAPPED,
    UC_PROT_ALL,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UcError,
)
from unicorn import riscv_const as rc
from unicorn.unicorn_py3.unicorn import uclib

from septum.hypervisor import memmap, sv39
from septum.hypervisor.blockclock import BlockClock
from septum.hypervisor.cpu import CTX_PRIV, CTX_SATP, NO_UNTIL, Cpu, reg_id
from septum.hypervisor.devices.base import Device, DmaError, IrqLine
from septum.hypervisor.devices.clint import Clint
from septum.hypervisor.devices.finisher import (
    FINISHER_FAIL,
    FINISHER_PASS,
    FINISHER_RESET,
    TestFinisher,
)
from septum.hypervisor.devices.hostlink import Hostlink
from septum.hypervisor.devices.plic import Plic
from septum.hypervisor.devices.rtc import GoldfishRtc
from septum.hypervisor.devices.uart import Uart16550
from septum.hypervisor.devices.virtio_blk import VirtioBlk
from septum.hypervisor.devices.virtio_mmio import VirtioMmio
from septum.hypervisor.errors import MachineError
from septum.hypervisor.ram import HostRam, RamImage
from septum.hypervisor.trap import TrapUnit
from septum.toolchain.riscv import CSR, Exc, Irq, Priv

#: Finisher status words that end the run (poweroff, failure, reset).
_FINISHER_COMMANDS = frozenset({FINISHER_PASS, FINISHER_FAIL, FINISHER_RESET})

#: Retired instructions per mtime tick (10 MHz timebase -> nominal 100 MIPS).
INSNS_PER_TICK = 10
#: Consecutive slices retiring nothing (trap loops) before "hang".
STALL_LIMIT = 64
#: Instructions per emu_start slice.
SLICE_INSNS = 10_000
#: A long slice (see Machine.run): up to this many instructions in one
#: emu_start, ending at the slice grid when anything needs a boundary.
LONG_SLICE_INSNS = 1_000_000
#: A slice shorter than this runs in count mode even under the block clock
#: (``step()``, small budgets): exact at once, no block bookkeeping.
COUNT_MODE_BELOW = 64
#: The run loop's clocks: the block clock (blockclock.py) or Unicorn's
#: per-instruction count (``emu_start(count=N)``) for every slice.
CLOCKS = ("block", "count")
#: The virtio-mmio slot a ``disk`` is attached to: QEMU gives the first
#: ``-device virtio-blk-device`` the highest slot (0x1000_8000).
DISK_SLOT = memmap.VIRTIO_COUNT - 1

_MIP_BIT = {int(Irq.MSI): 1 << Irq.MSI, int(Irq.MTI): 1 << Irq.MTI,
            int(Irq.MEI): 1 << Irq.MEI, int(Irq.SEI): 1 << Irq.SEI}
_DEVICE_MIP_MASK = sum(_MIP_BIT.values())

_ERR_ACCESS_CAUSE = {
    UC_ERR_READ_UNMAPPED: Exc.LOAD_ACCESS_FAULT,
    UC_ERR_WRITE_UNMAPPED: Exc.STORE_ACCESS_FAULT,
    UC_ERR_FETCH_UNMAPPED: Exc.INST_ACCESS_FAULT,
}

PAGE = 0x1000
#: Memory hook types (see Machine._watch_code_hooks).
_MEM_HOOKS = (UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE | UC_HOOK_MEM_FETCH | UC_HOOK_MEM_READ_AFTER
              | UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED
              | UC_HOOK_MEM_FETCH_UNMAPPED | UC_HOOK_MEM_READ_PROT | UC_HOOK_MEM_WRITE_PROT
              | UC_HOOK_MEM_FETCH_PROT)
_HOOK_INTR_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
#: Start of the PLIC's per-context threshold and claim/complete registers.
PLIC_CONTEXT_BASE = 0x200000


class TimedDevice(Protocol):
    """What :meth:`Machine.add_timed` accepts: something that acts at a
    virtual time (mtime ticks)."""

    def advance(self, now: int) -> None:
        """Bring the state up to virtual time ``now``."""

    def next_event(self) -> int | None:
        """The tick of the next thing to happen, or None."""


@dataclass(frozen=True)
class StopReason:
    """Why :meth:`Machine.run` returned.

    ``kind`` is one of ``poweroff``, ``reset``, ``hang``, ``budget``,
    ``breakpoint``, ``until``, ``error``; ``exit_code`` is set for
    ``poweroff``; ``message`` explains ``error`` and ``hang``; ``pc`` is the
    hart's PC when it stopped.
    """

    kind: str
    exit_code: int | None = None
    message: str = ""
    pc: int = 0

    def __str__(self) -> str:
        if self.kind == "poweroff":
            return f"poweroff (exit code {self.exit_code})"
        return f"{self.kind}: {self.message}" if self.message else self.kind


@dataclass
class Snapshot:
    """A saved machine: CPU context, RAM contents, device states and the
    machine's own counters (time, instret, console output).  ``ram`` reads
    like the bytes of RAM (slices from offset 0, ``bytes(snap.ram)``)."""

    context: object
    ram: RamImage
    devices: dict[str, object]
    state: dict[str, object] = field(default_factory=dict)


class Regs:
    """``m.regs``: the integer registers by name (``m.regs.a0``,
    ``m.regs["x5"]``), plus ``pc`` and ``priv``."""

    def __init__(self, cpu: Cpu) -> None:
        object.__setattr__(self, "_cpu", cpu)

    def __getitem__(self, name: str) -> int:
        rid = reg_id(name)
        if rid == rc.UC_RISCV_REG_X0:
            return 0
        return self._cpu.read(rid)

    def __setitem__(self, name: str, value: int) -> None:
        rid = reg_id(name)
        if rid != rc.UC_RISCV_REG_X0:
            self._cpu.write(rid, value)

    def __getattr__(self, name: str) -> int:
        try:
            return self[name]
        except MachineError as exc:
            raise AttributeError(str(exc)) from None

    def __setattr__(self, name: str, value: int) -> None:
        self[name] = value


class RamDma:
    """Guest physical RAM as a bus master (virtio) sees it."""

    def __init__(self, machine: "Machine") -> None:
        self.m = machine

    def _check(self, addr: int, n: int) -> None:
        if not self.m.in_ram(addr, n):
            raise DmaError(addr, n)

    def read(self, addr: int, n: int) -> bytes:
        """``n`` bytes of RAM at ``addr``; DmaError outside RAM."""
        self._check(addr, n)
        return bytes(self.m.cpu.uc.mem_read(addr, n))

    def write(self, addr: int, data: bytes) -> None:
        """Store into RAM at ``addr``; DmaError outside RAM."""
        self._check(addr, len(data))
        self.m.cpu.uc.mem_write(addr, bytes(data))
        if data:
            # A device writing over code (a program read from disk) must be
            # seen by the next fetch, as on QEMU.
            self.m.discard_code(addr, len(data))


class Machine:
    """A QEMU-virt-compatible RV64 board (see the module docstring)."""

    def __init__(self, ram_size: int = memmap.DRAM_DEFAULT_SIZE, disk: str | None = None,
                 *, semihosting: bool = False, bootargs: str = "",
                 disk_readonly: bool = False, slice_insns: int = SLICE_INSNS,
                 clock: str | None = None, clock_impl: str = "auto",
                 irq_early: bool = False) -> None:
        if ram_size <= 0 or ram_size % PAGE or ram_size > (1 << 40):
            raise MachineError(f"invalid RAM size {ram_size:#x}: must be a positive "
                               "multiple of 4 KiB")
        if clock is None:
            # The default, count mode: exact and the same traced or not;
            # SEPTUM_CLOCK=block runs a whole test suite or tool under the
            # block clock, for comparison.
            clock = os.environ.get("SEPTUM_CLOCK", "count")
        if clock not in CLOCKS:
            raise MachineError(f"unknown clock {clock!r} (choose block or count)")
        self.ram_size = ram_size
        self.bootargs = bootargs
        self.slice_insns = slice_insns
        #: Long slices (0: never): while nothing needs a look between
        #: slices (no ``until``, no HTIF, no in-block hooks, no trap in the
        #: slice before, count mode), one emu_start runs up to this many
        #: instructions and stops at the grid of ``slice_insns`` slices as
        #: soon as something needs a boundary there: a device line raised,
        #: a trap taken.  The guest sees the same run as with short slices.
        self.long_slice_insns = LONG_SLICE_INSNS
        self._soft = 0
        #: ``"block"`` (the block clock) or ``"count"`` (count mode only).
        self.clock_mode = clock
        #: Under the block clock, a device line raised inside a slice ends
        #: the slice before the next block (True) or at the slice's end
        #: (False, the default: the latency count mode has).
        self.irq_early = irq_early
        self.cpu = Cpu()
        uc = self.cpu.uc
        # The MROM is host memory the board owns, like RAM, so the block
        # clock can read the reset stub's code without a call into Unicorn.
        self._rom = mmap.mmap(-1, memmap.MROM_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                              prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self._rom_anchor = ctypes.c_char.from_buffer(self._rom)
        rom_addr = ctypes.addressof(self._rom_anchor)
        uc.mem_map_ptr(memmap.MROM_BASE, memmap.MROM_SIZE, UC_PROT_READ | UC_PROT_EXEC, rom_addr)
        #: Guest RAM: host memory this board owns (hypervisor/ram.py).
        self.ram = HostRam(ram_size)
        uc.mem_map_ptr(memmap.DRAM_BASE, ram_size, UC_PROT_ALL, self.ram.addr)

        # Virtual time state.
        self.instret = 0
        self._ticks = 0
        self._frac = 0
        self._in_slice = False

        # Host-side console and stop state.
        self.uart_output = bytearray()
        self.console_sink: Callable[[bytes], None] | None = None
        self.idle_hook: Callable[[], bool] | None = None
        self._finish: tuple[str, int] | None = None
        self._stop_kind: str | None = None
        self._mip_dev = 0
        self._mip_dirty = True

        # Devices.
        self.dma = RamDma(self)
        self.clint = Clint(self.clock, self._on_irq)
        self.plic = Plic(self._on_irq)
        self.uart = Uart16550(self.plic.line(memmap.UART0_IRQ), self._on_tx)
        self.finisher = TestFinisher(self._on_finish)
        self.rtc = GoldfishRtc(self.clock, self.plic.line(memmap.RTC_IRQ))
        self.virtio: list[VirtioMmio] = []
        for i in range(memmap.VIRTIO_COUNT):
            line = self.plic.line(memmap.VIRTIO_IRQ_BASE + i)
            if disk is not None and i == DISK_SLOT:
                self.virtio.append(VirtioBlk(line, self.dma, disk, disk_readonly, index=i))
            else:
                self.virtio.append(VirtioMmio(i, line, self.dma))
        # The host's IPC mailbox (septum,hostlink), on QEMU virt's platform bus.
        self.hostlink = Hostlink(self.plic.line(memmap.HOSTLINK_IRQ))
        self.devices: list[Device] = [self.finisher, self.rtc, self.clint, self.plic,
                                      self.uart, *self.virtio, self.hostlink]
        self._timed: list[Device] = [self.clint, self.rtc]
        self._mmio_cbs: list[object] = []
        for dev in self.devices:
            self._map_device(dev)

        # The trap unit and the hooks that feed it.
        self.trap = TrapUnit(self.cpu, self._read_phys_or_none, lambda: self.clint.mtime)
        # The trap unit's hook is registered through the C API directly:
        # the binding's wrapper adds a Python frame and a try block to every
        # system call's round trip.
        hook_intr = self.trap.hook_intr
        self._hook_error: BaseException | None = None

        def on_intr(handle: int, intno: int, user: object) -> None:
            try:
                hook_intr(uc, intno, None)
            except BaseException as exc:  # a host bug: stop, re-raise after the slice
                self._hook_error = exc
                uc.emu_stop()

        # The block clock's hook goes in first: it runs before every other
        # block hook and keeps emu_counter right for them.
        self.blockclock: BlockClock | None = None
        if clock == "block":
            self.blockclock = BlockClock(self, self.cpu.env, CTX_PRIV, CTX_SATP,
                                         self.cpu.counter_addr, rom_addr, memmap.MROM_BASE,
                                         memmap.MROM_SIZE, impl=clock_impl)
        self._block_slice = False
        self._count_next = False
        #: The last slice ran in count mode (translated code counts).
        self._tb_counted = False
        #: Switches from the block clock to count mode (each flushes the
        #: translated code, and the switch back flushes it again).
        self.count_switches = 0
        blockclock = self.blockclock
        if blockclock is not None:
            retire_at = blockclock.retire_at
            read = self.cpu.read
            pc_id = rc.UC_RISCV_REG_PC

            def on_intr(handle: int, intno: int, user: object) -> None:
                try:
                    if self._block_slice:
                        # The trapping instruction retires; the rest of its
                        # block, counted on entry, does not run.  Unicorn
                        # reports a synchronous exception with pc + 4 (trap.py).
                        retire_at(read(pc_id) - 4, 1)
                    hook_intr(uc, intno, None)
                except BaseException as exc:  # a host bug: stop, re-raise after the slice
                    self._hook_error = exc
                    uc.emu_stop()

        self._intr_cb = _HOOK_INTR_CFUNC(on_intr)
        hh = ctypes.c_size_t()
        if uclib.uc_hook_add(uc._uch, ctypes.byref(hh), UC_HOOK_INTR,
                             ctypes.cast(self._intr_cb, ctypes.c_void_p), None,
                             ctypes.c_uint64(1), ctypes.c_uint64(0)):
            raise MachineError("cannot install the trap unit's hook")
        self._unmapped: tuple[int, int] | None = None
        uc.hook_add(UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED
                    | UC_HOOK_MEM_FETCH_UNMAPPED, self._hook_unmapped)
        # Stop the slice right after a finisher write (the MMIO callback
        # itself may not stop emulation).
        uc.hook_add(UC_HOOK_MEM_WRITE, self._hook_stop_write, None,
                    memmap.TEST_BASE, memmap.TEST_BASE + 3)

        self.semihost = None
        if semihosting:
            from septum.hypervisor.semihost import Semihost
            self.semihost = Semihost(self, cmdline=bootargs)
        self.htif = None
        self._finisher_store: tuple[int, int, int] | None = None
        self._bp_hooks: dict[int, int] = {}
        self._bp_hit: int | None = None
        self._bp_skip: int | None = None
        self._watch_code_hooks(uc)
        self.regs = Regs(self.cpu)
        self.entry: int | None = None
        self.symbols: dict[str, int] = {}

    def _watch_code_hooks(self, uc: object) -> None:
        """Note the hooks that need count mode while they are installed:

        * a ``UC_HOOK_CODE`` hook on all addresses (a detailed tracer, a
          test's per-instruction observer) reads Unicorn's per-instruction
          counter, which only count mode keeps;
        * a memory hook (a GDB watchpoint) that stops emulation leaves the
          PC where Unicorn last wrote it -- before every instruction in
          count mode, once per block under the block clock -- so the run
          would resume at the wrong instruction.

        Code hooks on single addresses (breakpoints) work with the block
        clock.  The machine's own hooks are installed before this."""
        self._global_code_hooks: set[int] = set()
        add, delete = uc.hook_add, uc.hook_del  # type: ignore[attr-defined]
        hooks = self._global_code_hooks

        def hook_add(htype: int, callback: Callable[..., object], user_data: object = None,
                     begin: int = 1, end: int = 0, *aux: int) -> int:
            handle = add(htype, callback, user_data, begin, end, *aux)
            if (htype & UC_HOOK_CODE and begin > end) or htype & _MEM_HOOKS:
                hooks.add(handle)
            return handle

        def hook_del(handle: int) -> None:
            hooks.discard(handle)
            delete(handle)

        uc.hook_add = hook_add  # type: ignore[attr-defined]
        uc.hook_del = hook_del  # type: ignore[attr-defined]

    def _clock_alone(self) -> bool:
        """True when no other ``UC_HOOK_BLOCK`` hook is installed (the
        tracer's, coverage's: trace.add_block_hook keeps them in
        ``_raw_block_hooks``).  With two block hooks or more Unicorn
        dispatches through a helper that calls none of them for a block
        whose first instruction is illegal (measured), so a tracer beside
        the block clock would lose those blocks: while another block hook
        exists the block clock takes its own hook out and slices run in
        count mode, exactly as they did before the block clock."""
        clock = self.blockclock
        if clock is None:
            return False
        if self.__dict__.get("_raw_block_hooks"):
            if clock.handle is not None:
                clock.detach()
                self.cpu.uc.ctl_flush_tb()
            return False
        if clock.handle is None:
            clock.attach()
            self.cpu.uc.ctl_flush_tb()
        return True

    def _observed(self) -> bool:
        """True while a device reports its accesses (the peripheral access
        log, mmiolog.py): the log reads the PC of the accessing instruction,
        which Unicorn keeps exact inside MMIO callbacks only in count mode
        (its counting helper writes the PC before every instruction; the
        block clock's hook writes it once per block)."""
        for dev in self.devices:
            if dev.observer is not None:
                return True
        return False

    @property
    def clock_impl(self) -> str:
        """Which clock counts instructions: ``"native"`` (the compiled block
        clock), ``"python"`` (its ctypes fallback, slower) or ``"count"``
        (``Machine(clock="count")``: Unicorn's per-instruction count)."""
        return "count" if self.blockclock is None else self.blockclock.impl

    # ----- devices and memory -------------------------------------------------

    def _map_device(self, dev: Device) -> None:
        size = (dev.size + PAGE - 1) & ~(PAGE - 1)

        def read_cb(uc: object, offset: int, size: int, user: object, dev: Device = dev) -> int:
            return dev.read(offset, size)

        def write_cb(uc: object, offset: int, size: int, value: int, user: object,
                     dev: Device = dev) -> None:
            dev.write(offset, size, value)

        if dev in self._timed:
            def write_cb(uc: object, offset: int, size: int, value: int,  # noqa: F811
                         user: object, dev: Device = dev) -> None:
                dev.write(offset, size, value)
                if self._in_slice:
                    self._retarget()

        self.cpu.uc.mmio_map(dev.base, size, read_cb, None, write_cb, None)

    def _cut_long_slice(self) -> None:
        """Inside a long slice, something needs the boundary a short slice
        would have had (a device line raised, a trap): end the slice at the
        next point of the ``slice_insns`` grid, where a short slice would
        have ended, and continue in short slices."""
        soft = self._soft
        if not soft:
            return
        self._soft = 0
        c = self.cpu.counter
        grid = max(-(-c // soft) * soft, soft)
        if grid < self._slice_n:
            self.cpu.count_limit.value = grid
            self._slice_n = grid

    def _retarget(self) -> None:
        """A guest write to a timed device (``mtimecmp``, an RTC alarm)
        inside a slice: if its next event now falls before the slice's end,
        end the slice there, so the event is exact however it was set.
        Count mode lowers Unicorn's count limit in place; the block clock
        lowers its limit (strict), and the run loop counts the rest."""
        ev = self._next_event()
        if ev is None:
            return
        due = (ev - self._ticks) * INSNS_PER_TICK - self._frac
        if due >= self._slice_n:
            return
        if self._block_slice:
            st = self.blockclock.state  # type: ignore[union-attr]
            # The current block, counted on entry, runs to its end.
            due = max(due, st.done, 1)
            st.limit = due
            st.strict = 1
        else:
            due = max(due, self.cpu.counter, 1)
            self.cpu.count_limit.value = due
        self._slice_n = due
        self._slice_exact = True

    def in_ram(self, addr: int, n: int = 1) -> bool:
        """True when ``[addr, addr+n)`` lies in RAM."""
        return memmap.DRAM_BASE <= addr and addr + n <= memmap.DRAM_BASE + self.ram_size

    def _in_rom(self, addr: int, n: int) -> bool:
        return memmap.MROM_BASE <= addr and addr + n <= memmap.MROM_BASE + memmap.MROM_SIZE

    def read_phys(self, addr: int, n: int) -> bytes:
        """``n`` bytes of guest physical memory (RAM or MROM) at ``addr``."""
        if not (self.in_ram(addr, n) or self._in_rom(addr, n)):
            raise MachineError(f"physical range {addr:#x}+{n:#x} is not RAM or ROM")
        return bytes(self.cpu.uc.mem_read(addr, n))

    def write_phys(self, addr: int, data: bytes) -> None:
        """Store ``data`` into guest RAM/MROM at ``addr`` (translated code
        over it is discarded)."""
        data = bytes(data)
        if not (self.in_ram(addr, len(data)) or self._in_rom(addr, len(data))):
            raise MachineError(f"physical range {addr:#x}+{len(data):#x} is not RAM or ROM")
        self.cpu.uc.mem_write(addr, data)
        if data:
            self.discard_code(addr, len(data))

    def discard_code(self, addr: int, n: int) -> None:
        """Drop the translated code of physical ``[addr, addr+n)`` under
        every virtual address it is mapped at (write_phys/write_virt do this
        themselves; call it after changing RAM some other way).

        Unicorn's ``ctl_remove_cache`` takes a *virtual* address and
        translates it through the hart's current MMU state; below M a
        physical address then names some other page or none (the removal
        is silently skipped and stale code keeps running).  In M the fetch
        translation is the identity, and QEMU invalidates by physical page:
        every translated block on those pages goes, whatever its virtual
        address (kernel window, Sv39 aliases)."""
        cpu = self.cpu
        prev = cpu.priv
        if prev != Priv.M:
            cpu.priv = Priv.M
        try:
            cpu.uc.ctl_remove_cache(addr, addr + n)
        finally:
            if prev != Priv.M:
                cpu.priv = prev

    def _read_phys_or_none(self, addr: int, n: int) -> bytes | None:
        if self.in_ram(addr, n) or self._in_rom(addr, n):
            return bytes(self.cpu.uc.mem_read(addr, n))
        return None

    def translate(self, va: int) -> int:
        """Physical address of ``va`` through the current ``satp`` (Sv39),
        as the hart at its current level would see it for a load (M-mode
        and Bare mode are identity).  MachineError if unmapped."""
        if self.cpu.priv == Priv.M:
            return va
        satp = self.cpu.csr_read(CSR.SATP)

        def pte(pa: int) -> int | None:
            data = self._read_phys_or_none(pa, 8)
            return None if data is None else int.from_bytes(data, "little")

        pa = sv39.translate(satp, va, pte)
        if pa is None:
            raise MachineError(f"virtual address {va:#x} is not mapped (satp {satp:#x})")
        return pa

    def _virt_chunks(self, va: int, n: int) -> Iterable[tuple[int, int, int]]:
        done = 0
        while done < n:
            chunk = min(n - done, PAGE - ((va + done) & (PAGE - 1)))
            yield self.translate(va + done), done, chunk
            done += chunk

    def read_virt(self, va: int, n: int) -> bytes:
        """``n`` bytes at virtual ``va`` through the current ``satp``."""
        out = bytearray()
        for pa, _, chunk in self._virt_chunks(va, n):
            out += self.read_phys(pa, chunk)
        return bytes(out)

    def write_virt(self, va: int, data: bytes) -> None:
        """Store ``data`` at virtual ``va`` through the current ``satp``."""
        for pa, done, chunk in self._virt_chunks(va, len(data)):
            self.write_phys(pa, data[done:done + chunk])

    # ----- registers and CSRs ---------------------------------------------------

    def csr_read(self, num: int) -> int:
        """CSR ``num`` (any level's, read from the host)."""
        return self.cpu.csr_read(num)

    def csr_write(self, num: int, value: int) -> None:
        """Write CSR ``num`` from the host."""
        self.cpu.csr_write(num, value)

    @property
    def pc(self) -> int:
        """The hart's program counter."""
        return self.cpu.pc

    @pc.setter
    def pc(self, value: int) -> None:
        self.cpu.pc = value

    @property
    def priv(self) -> int:
        """The hart's privilege level (0 U, 1 S, 3 M)."""
        return self.cpu.priv

    # ----- time -------------------------------------------------------------------

    def clock(self) -> int:
        """Virtual time in mtime ticks since power-on.  Inside a slice (a
        device read of ``mtime``): under the block clock, the time at the
        end of the current translated block; in count mode, the time of
        the instruction that performs the read."""
        if self._in_slice:
            if self._block_slice:
                done = self.blockclock.state.done  # type: ignore[union-attr]
            else:
                done = self.cpu.counter
                if done > self._slice_n:
                    done = self._slice_n
            return self._ticks + (self._frac + done) // INSNS_PER_TICK
        return self._ticks

    @property
    def time(self) -> int:
        """The CLINT's ``mtime`` as the guest reads it."""
        return self.clint.mtime

    def _account(self, executed: int) -> None:
        self.instret += executed
        total = self._frac + executed
        self._ticks += total // INSNS_PER_TICK
        self._frac = total % INSNS_PER_TICK

    def add_timed(self, dev: TimedDevice) -> None:
        """Put ``dev`` in the machine's event list: the run loop calls
        ``dev.advance(now)`` with the virtual time (mtime ticks) between
        slices, and ends a slice exactly when ``dev.next_event()`` (a tick
        count, or None for nothing pending) is due; ``wfi`` fast-forwards to
        it.  For devices and fault injectors that act at a virtual time."""
        if dev not in self._timed:
            self._timed.append(dev)  # type: ignore[arg-type]

    def remove_timed(self, dev: TimedDevice) -> None:
        """Take ``dev`` (added with :meth:`add_timed`) out of the event list."""
        if dev in (self.clint, self.rtc):
            raise MachineError(f"{dev!r} is one of the board's own timed devices")
        if dev in self._timed:
            self._timed.remove(dev)  # type: ignore[arg-type]

    @property
    def disk(self) -> VirtioBlk | None:
        """The virtio-blk disk (slot :data:`DISK_SLOT`), if one is attached."""
        dev = self.virtio[DISK_SLOT]
        return dev if isinstance(dev, VirtioBlk) else None

    def _advance_devices(self) -> None:
        now = self._ticks
        for dev in self._timed:
            dev.advance(now)

    def _next_event(self) -> int | None:
        best = None
        for dev in self._timed:
            ev = dev.next_event()
            if ev is not None and (best is None or ev < best):
                best = ev
        return best

    # ----- device callbacks ---------------------------------------------------------

    def _on_irq(self, bit: int, level: bool) -> None:
        # A lowered line (mtimecmp written, PLIC claim) leaves the hart's mip
        # at once, even from inside an MMIO callback: no stale pending bit
        # may be taken by the next instruction.  A raised line reaches mip
        # at the next slice boundary: taking it mid-slice would depend on
        # where QEMU's chain of translated blocks happens to exit, which
        # changes under tracing hooks — boundaries keep runs reproducible.
        mask = _MIP_BIT[bit]
        old = self._mip_dev
        new = (old | mask) if level else (old & ~mask)
        self._mip_dev = new
        if old & ~new:
            self.cpu.clear_mip_bits(old & ~new)
        if new & ~old:
            if self._in_slice:
                self._mip_dirty = True
                if self._soft:
                    self._cut_long_slice()
                if self._block_slice and self.irq_early:
                    # The block clock ends the slice before the next block
                    # (stopping inside this MMIO access would run it again).
                    self.blockclock.state.irq_stop = 1  # type: ignore[union-attr]
            else:
                self.cpu.set_mip_bits(new, _DEVICE_MIP_MASK)

    def _on_tx(self, byte: int) -> None:
        self.uart_output.append(byte)
        if self.console_sink is not None:
            self.console_sink(bytes((byte,)))

    def console_write(self, data: bytes) -> None:
        """Output from the guest that does not come through the UART
        (HTIF, semihosting): same buffer, same sink."""
        self.uart_output += data
        if self.console_sink is not None:
            self.console_sink(bytes(data))

    def uart_feed(self, data: bytes) -> None:
        """Type ``data`` into the UART's receiver."""
        self.uart.feed(bytes(data))

    def _on_finish(self, kind: str, code: int) -> None:
        self._finish = (kind, code)

    def request_stop(self, kind: str, exit_code: int | None = None) -> None:
        """End the current run with ``kind`` (from a hook: stops the slice)."""
        self._finish = (kind, exit_code or 0)
        if self._in_slice:
            self.cpu.uc.emu_stop()

    def _hook_stop_write(self, uc: object, access: int, addr: int, size: int,
                         value: int, user: object) -> None:
        # Only a command ends the slice: stopping here makes the store run
        # again when the slice resumes, so a value the finisher ignores
        # (QEMU ignores it too) must let the guest carry on.
        if addr == memmap.TEST_BASE and size >= 2 and (value & 0xFFFF) in _FINISHER_COMMANDS:
            if self._block_slice:
                # The store completes and emulation stops right after it,
                # but with the PC where QEMU last wrote it: the block's
                # start under the block clock (count mode writes it before
                # every instruction).  The run loop finds the store.
                self._finisher_store = (addr, size, value)
            uc.emu_stop()

    def _find_store(self, seen: tuple[int, int, int]) -> int | None:
        """The address of the store of the open block that wrote ``seen``
        (address, size, value): the first store instruction whose address
        and value, computed from the registers as they are now (emulation
        stopped right after the store), match -- None if none does."""
        st = self.blockclock.state  # type: ignore[union-attr]
        addr, size, value = seen
        pa = self.trap.translate_fetch(st.block_pc)
        code = None if pa is None else self._read_phys_or_none(pa, st.block_size)
        if code is None:
            return None
        gpr = self.cpu.gpr
        mask = (1 << (8 * size)) - 1
        off = 0
        while off + 2 <= len(code):
            half = int.from_bytes(code[off:off + 2], "little")
            if half & 3 == 3:
                if off + 4 > len(code):
                    return None
                found = _store_operands(int.from_bytes(code[off:off + 4], "little"))
                step = 4
            else:
                found = _cstore_operands(half)
                step = 2
            if found is not None:
                rs1, rs2, imm, width = found
                if (width == size and (gpr(rs1) + imm) & _XLEN_MASK == addr
                        and gpr(rs2) & mask == value & mask):
                    return st.block_pc + off
            off += step
        return None

    def _hook_unmapped(self, uc: object, access: int, addr: int, size: int,
                       value: int, user: object) -> bool:
        self._unmapped = (access, addr)
        return False

    # ----- breakpoints ------------------------------------------------------------------

    def _set_breakpoints(self, addrs: Sequence[int]) -> None:
        want = set(addrs)
        for addr in list(self._bp_hooks):
            if addr not in want:
                self.cpu.uc.hook_del(self._bp_hooks.pop(addr))
        added = False
        for addr in want:
            if addr not in self._bp_hooks:
                self._bp_hooks[addr] = self.cpu.uc.hook_add(
                    UC_HOOK_CODE, self._hook_bp, None, addr, addr)
                added = True
        if added:
            # Code translated before the hook existed would not call it.  A
            # breakpoint is a virtual address of any level's code, which
            # ctl_remove_cache would translate through the current level's
            # MMU (see discard_code): drop every translation instead.
            self.cpu.uc.ctl_flush_tb()

    def _hook_bp(self, uc: object, address: int, size: int, user: object) -> None:
        if self._bp_skip == address:
            # Resuming from this breakpoint: let the instruction run once.
            self._bp_skip = None
            return
        self._bp_hit = address
        uc.emu_stop()

    # ----- running ------------------------------------------------------------------------

    def step(self) -> StopReason:
        """Execute one instruction (a trap entry counts as that instruction)."""
        return self.run(max_insns=1)

    def run(self, max_insns: int | None = None, until: Callable[[], bool] | None = None,
            breakpoints: Sequence[int] = (), until_coarse: bool = False) -> StopReason:
        """Run until poweroff, reset, hang, the instruction budget
        ``max_insns``, a breakpoint address (stops before it executes), or
        ``until()`` becoming true (checked between slices).  ``until_coarse``:
        ``until`` need not see every short slice (a terminal's key poll),
        so long slices may run."""
        self._set_breakpoints(breakpoints)
        end = None if max_insns is None else self.instret + max_insns
        # Resume over the breakpoint we stopped at, if it is still set and
        # the hart is still there; any other stale skip is dropped.
        self._bp_skip = (self._bp_hit if self._bp_hit is not None
                         and self._bp_hit in self._bp_hooks
                         and self._bp_hit == self.cpu.pc else None)
        self._bp_hit = None
        uc = self.cpu.uc
        cpu = self.cpu
        clock = self.blockclock
        st = clock.state if clock is not None else None
        hooks = self._global_code_hooks
        self._count_next = False
        stalled = 0
        while True:
            if self._finish is not None:
                return self._finished()
            if self._mip_dirty:
                self._mip_dirty = False
                cpu.set_mip_bits(self._mip_dev, _DEVICE_MIP_MASK)
            n = self.slice_insns
            exact = False
            soft = 0
            if (self.long_slice_insns > n and (until is None or until_coarse)
                    and self.htif is None
                    and not hooks and st is None and self.trap.slice_traps == 0):
                soft, n = n, self.long_slice_insns
            if end is not None:
                left = end - self.instret
                if left <= 0:
                    return StopReason("budget", message=f"{max_insns} instructions",
                                      pc=cpu.pc)
                if left <= n:
                    n, exact = left, True
            ev = self._next_event()
            if ev is not None:
                due = (ev - self._ticks) * INSNS_PER_TICK - self._frac
                if due < n:
                    n, exact = max(due, 1), True
            if cpu.tb_capable and cpu.tb_count != (cpu.tb_wanted and not hooks):
                # Hooks inside blocks that read the count need it per
                # instruction (see _watch_code_hooks).
                cpu.set_tb_count(cpu.tb_wanted and not hooks)
            # (_clock_alone first: it also takes the hook out when needed.)
            block = (st is not None and self._clock_alone() and not self._count_next
                     and n >= COUNT_MODE_BELOW and not hooks and not self._observed())
            self._count_next = False
            self._slice_n = n
            self._slice_exact = exact
            self.trap.slice_traps = 0
            self.trap.trap_limit = (soft or n) + 64
            self._soft = soft
            self.trap.on_first_trap = self._cut_long_slice if soft else None
            self._block_slice = block
            if block:
                clock.begin(n, exact)  # type: ignore[union-attr]
            elif st is not None:
                clock.begin_count()  # type: ignore[union-attr]
                if not self._tb_counted:
                    # Blocks translated for a count=0 slice lack Unicorn's
                    # counting hook (it is added, but nothing retranslates
                    # them): drop them.  Back in block mode Unicorn drops
                    # them itself when it removes the hook.
                    uc.ctl_flush_tb()
                    self.count_switches += 1
            self._tb_counted = not block
            self._finisher_store = None
            self._in_slice = True
            err = None
            try:
                uc.emu_start(cpu.pc, NO_UNTIL, 0, 0 if block else n)
            except UcError as exc:
                err = exc
            finally:
                self._in_slice = False
                self._block_slice = False
                self._soft = 0
                self.trap.on_first_trap = None
            if self._hook_error is not None:
                exc, self._hook_error = self._hook_error, None
                raise exc
            # A timed device reprogrammed inside the slice may have ended it
            # early (_retarget).
            n = self._slice_n
            exact = self._slice_exact
            halted = None  # in_wfi, once computed
            if block:
                early = not st.stopped  # type: ignore[union-attr]
                if early and st.block_size:  # type: ignore[union-attr]
                    # The slice ended inside the last block entered: take
                    # back its instructions that did not run.  A fault or a
                    # stop from a memory hook leaves the PC on an
                    # instruction that began (count mode counts it); a
                    # breakpoint stops before its instruction; wfi halts
                    # with the PC after itself.
                    pc = cpu.pc
                    if self._finisher_store is not None:
                        store = self._find_store(self._finisher_store)
                        if store is not None:
                            cpu.pc = pc = store
                    if err is not None or self._finisher_store is not None:
                        clock.retire_at(pc, 1)  # type: ignore[union-attr]
                    elif self._bp_hit is not None:
                        clock.retire_at(pc, 0)  # type: ignore[union-attr]
                    elif st.block_pc == pc:  # type: ignore[union-attr]
                        # A code hook (a GDB breakpoint) stopped before the
                        # block's first instruction, which count mode counts
                        # as begun.
                        clock.retire_at(pc, 1)  # type: ignore[union-attr]
                    elif st.block_pc < pc < st.block_pc + st.block_size:  # type: ignore
                        halted = self.in_wfi
                        clock.retire_at(pc, 0 if halted else 1)  # type: ignore
                executed = st.done  # type: ignore[union-attr]
                if not early and exact and executed < n:
                    # Stopped short of an exact end: finish it counted.
                    self._count_next = True
            else:
                c = cpu.counter
                executed = n if c > n else c
                if self._bp_hit is not None and c <= n:
                    # The counter saw the breakpoint's instruction, which the
                    # breakpoint hook stopped before it ran.
                    executed -= 1
                early = c <= n and c == executed
            self._account(executed)
            self._advance_devices()
            if self.htif is not None:
                self.htif.poll()
            # A fault whose handler faults again (mtvec pointing at nothing)
            # retires nothing: after a few such slices it is a hang.
            stalled = stalled + 1 if executed == 0 else 0
            if self.trap.storm or stalled > STALL_LIMIT:
                self.trap.storm = False
                return StopReason("hang", pc=cpu.pc, message=(
                    f"trap storm at pc {cpu.pc:#x}: traps keep coming and no instruction "
                    "retires (a trap vector that faults itself?)"))
            if err is not None:
                stop = self._handle_error(err)
                if stop is not None:
                    return stop
            elif self._bp_hit is not None:
                # Stopped by the hook before the breakpoint's instruction ran.
                return StopReason("breakpoint", pc=self._bp_hit,
                                  message=f"breakpoint at {self._bp_hit:#x}")
            elif early and self._finish is None and (self.in_wfi if halted is None else halted):
                stop = self._wait()
                if stop is not None:
                    return stop
            if until is not None and until():
                return StopReason("until", pc=cpu.pc)

    @property
    def in_wfi(self) -> bool:
        """True when the hart is halted in ``wfi``: the instruction just
        before the PC is a ``wfi`` (QEMU halts with the PC after it), read
        through the current translation.  Between runs this is how to tell
        an idle hart (waiting for an interrupt) from one stopped mid-code."""
        pa = self.trap.translate_fetch(self.cpu.pc - 4)
        data = None if pa is None else self._read_phys_or_none(pa, 4)
        return data is not None and int.from_bytes(data, "little") == WFI

    def _is_wfi(self) -> bool:
        # Kept for callers of the old private name (testing/inject.py).
        return self.in_wfi

    def _finished(self) -> StopReason:
        kind, code = self._finish  # type: ignore[misc]
        self._finish = None
        pc = self.cpu.pc
        if kind == "reset":
            return StopReason("reset", pc=pc)
        if kind == "error":
            return StopReason("error", message=str(code), pc=pc)
        if kind in ("pass", "poweroff"):
            return StopReason("poweroff", exit_code=code if kind == "poweroff" else 0, pc=pc)
        return StopReason("poweroff", exit_code=code, pc=pc)

    def _wait(self) -> StopReason | None:
        """The hart executed ``wfi``: wake it now, later, or never."""
        cpu = self.cpu
        while True:
            if self._mip_dirty:
                self._mip_dirty = False
                cpu.set_mip_bits(self._mip_dev, _DEVICE_MIP_MASK)
            if cpu.mip_raw() & cpu.csr_read(CSR.MIE):
                return None
            ev = self._next_event()
            if ev is not None and ev > self._ticks:
                # Fast-forward: nothing happens until the next device event.
                self._frac = 0
                self._ticks = ev
                self._advance_devices()
                continue
            if ev is not None:
                self._advance_devices()
                if self._mip_dirty:
                    continue
            if self.idle_hook is not None and self.idle_hook():
                continue
            return StopReason("hang", pc=cpu.pc,
                              message=f"wfi at {cpu.pc - 4:#x} with no interrupt that "
                              "can wake the hart")

    def _handle_error(self, err: UcError) -> StopReason | None:
        cpu = self.cpu
        pc = cpu.pc
        if err.errno == UC_ERR_INSN_INVALID:
            # ebreak / c.ebreak: the PC is at the instruction.
            if self.semihost is not None and self.semihost.is_call(pc):
                self.semihost.call(pc)
                return None
            self.trap.breakpoint(pc)
            return None
        cause = _ERR_ACCESS_CAUSE.get(err.errno)
        if cause is not None and self._unmapped is not None:
            _, addr = self._unmapped
            self._unmapped = None
            self.trap.access_fault(cause, pc, addr)
            return None
        return StopReason("error", pc=pc, message=f"{err} at pc {pc:#x}")

    # ----- loading and booting ----------------------------------------------------------

    def load_elf(self, path: str | os.PathLike[str]) -> int:
        """Load an ELF's PT_LOAD segments at their physical addresses;
        returns the entry point.  Symbols land in :attr:`symbols`; a
        ``tohost`` symbol turns HTIF on."""
        from septum.hypervisor.loader import load_elf
        return load_elf(self, path)

    def load_binary(self, data_or_path: bytes | str | os.PathLike[str], addr: int) -> int:
        """Load a flat binary (bytes or a file) at physical ``addr``; returns ``addr``."""
        from septum.hypervisor.loader import load_binary
        return load_binary(self, data_or_path, addr)

    def boot(self, bios: str | None = "none", kernel: str | os.PathLike[str] | None = None,
             entry: int | None = None) -> None:
        """Set the board up as QEMU does: firmware (``bios``: ``"none"``,
        ``"default"`` or a path), kernel, device tree, MROM reset stub; the
        hart starts at 0x1000 in M-mode.  ``entry`` (with ``bios="none"``
        and no kernel) is where the stub jumps: an image loaded before."""
        from septum.hypervisor.loader import boot
        boot(self, bios=bios, kernel=kernel, entry=entry)
        self._boot_args = (bios, kernel, entry)
        # Images loaded by hand before boot() (load_binary/load_elf) are
        # kept for reset(): the RAM pages holding anything at all.
        self._boot_ram = None if kernel is not None or bios not in (None, "none") else \
            self.ram.save()

    def reset(self) -> None:
        """System reset (finisher 0x7777), as QEMU's: devices and hart reset,
        the firmware, kernel and device tree loaded again over RAM, the rest
        of RAM kept.  Retired instructions and virtual time run on (so an
        instruction budget also bounds a guest that keeps resetting), and
        the console output so far is kept."""
        if not hasattr(self, "_boot_args"):
            raise MachineError("the machine was never booted")
        uc = self.cpu.uc
        uc.ctl_flush_tb()  # the images are written again over translated code
        if self._boot_ram is not None:
            self.ram.restore(self._boot_ram)
            self._flush_tlb()
        self._finish = None
        self._bp_hit = self._bp_skip = None
        for dev in self.devices:
            dev.reset()
        for reg in (CSR.MSTATUS, CSR.MIE, CSR.MEDELEG, CSR.MIDELEG, CSR.MTVEC, CSR.STVEC,
                    CSR.SATP, CSR.MEPC, CSR.SEPC, CSR.MCAUSE, CSR.SCAUSE, CSR.MSCRATCH,
                    CSR.SSCRATCH, CSR.MTVAL, CSR.STVAL, CSR.MCOUNTEREN, CSR.SCOUNTEREN):
            self.cpu.csr_write(reg, 0)
        bios, kernel, entry = self._boot_args
        from septum.hypervisor.loader import boot
        boot(self, bios=bios, kernel=kernel, entry=entry)

    # ----- snapshots --------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Save CPU, RAM, MROM and every device (plus time and console).

        RAM is saved by the host kernel's copy-on-write (hypervisor/ram.py):
        the pages changed since the snapshot RAM was last restored from
        (or since the first save) are copied, nothing else.  Unicorn's own
        copy-on-write mode (UC_CTL_CONTEXT_MEMORY) was measured and
        rejected: its snapshots form a stack, and restoring one that a
        later restore discarded crashes the process (segmentation fault in
        2.1.4), while Septum's snapshots may be restored in any order, any
        number of times."""
        uc = self.cpu.uc
        ctx = uc.context_save()
        ram = self.ram.save()
        rom = bytes(uc.mem_read(memmap.MROM_BASE, memmap.MROM_SIZE))
        return Snapshot(ctx, ram, {d.name: d.save() for d in self.devices},
                        {**self._save_state(), "rom": rom})

    def restore(self, snap: Snapshot) -> None:
        """Put a :meth:`snapshot` back: CPU, RAM, devices, time, console."""
        uc = self.cpu.uc
        uc.context_restore(snap.context)
        self.ram.restore(snap.ram)
        uc.mem_write(memmap.MROM_BASE, snap.state["rom"])
        # Translated code may describe memory that changed back, and the
        # TLB may hold translations through page tables that changed back.
        uc.ctl_flush_tb()
        self._flush_tlb()
        self._restore_state(snap.state)
        for dev in self.devices:
            dev.restore(snap.devices[dev.name])
        self.cpu.set_mip_bits(self._mip_dev, _DEVICE_MIP_MASK)

    def _flush_tlb(self) -> None:
        self.cpu.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def _save_state(self) -> dict[str, object]:
        return {"instret": self.instret, "ticks": self._ticks, "frac": self._frac,
                "out": bytes(self.uart_output), "mip": self._mip_dev,
                "htif": self.htif.save() if self.htif else None,
                "semihost": self.semihost.save() if self.semihost else None}

    def _restore_state(self, st: dict[str, object]) -> None:
        self.instret = st["instret"]  # type: ignore[assignment]
        self._ticks = st["ticks"]  # type: ignore[assignment]
        self._frac = st["frac"]  # type: ignore[assignment]
        self.uart_output[:] = st["out"]  # type: ignore[index]
        self._mip_dev = st["mip"]  # type: ignore[assignment]
        self._finish = None
        self._bp_hit = self._bp_skip = None
        if self.htif is not None and st["htif"] is not None:
            self.htif.restore(st["htif"])
        if self.semihost is not None and st["semihost"] is not None:
            self.semihost.restore(st["semihost"])

    def close(self) -> None:
        """Release host resources (the disk image file)."""
        for dev in self.virtio:
            close = getattr(dev, "close", None)
            if close is not None:
                close()


#: The encoding of ``wfi``.
WFI = 0x10500073
_XLEN_MASK = (1 << 64) - 1
#: Integer store opcode (sb/sh/sw/sd: funct3 0..3 = log2 of the width).
_OPCODE_STORE = 0x23


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def _store_operands(insn: int) -> tuple[int, int, int, int] | None:
    """(rs1, rs2, offset, width) of a 32-bit integer store, else None."""
    if insn & 0x7F != _OPCODE_STORE or (insn >> 12) & 7 > 3:
        return None
    imm = _sext(((insn >> 25) << 5) | ((insn >> 7) & 0x1F), 12)
    return (insn >> 15) & 0x1F, (insn >> 20) & 0x1F, imm, 1 << ((insn >> 12) & 7)


def _cstore_operands(half: int) -> tuple[int, int, int, int] | None:
    """(rs1, rs2, offset, width) of c.sw/c.sd/c.swsp/c.sdsp, else None."""
    op, funct3 = half & 3, half >> 13
    if op == 0 and funct3 in (6, 7):
        rs1, rs2 = 8 + ((half >> 7) & 7), 8 + ((half >> 2) & 7)
        if funct3 == 6:  # c.sw: uimm[5:3] = [12:10], [2] = [6], [6] = [5]
            imm = (((half >> 10) & 7) << 3) | (((half >> 6) & 1) << 2) | (((half >> 5) & 1) << 6)
            return rs1, rs2, imm, 4
        imm = (((half >> 10) & 7) << 3) | (((half >> 5) & 3) << 6)  # c.sd
        return rs1, rs2, imm, 8
    if op == 2 and funct3 in (6, 7):
        rs2 = (half >> 2) & 0x1F
        if funct3 == 6:  # c.swsp: uimm[5:2] = [12:9], [7:6] = [8:7]
            imm = (((half >> 9) & 0xF) << 2) | (((half >> 7) & 3) << 6)
            return 2, rs2, imm, 4
        imm = (((half >> 10) & 7) << 3) | (((half >> 7) & 7) << 6)  # c.sdsp
        return 2, rs2, imm, 8
    return None
