"""The block clock: instructions counted per translated block, not per instruction.

Unicorn 2.1.4 counts ``emu_start(count=N)`` with a helper call before every
instruction (DESIGN.md §3), which costs most of the emulation speed.  The
block clock installs one ``UC_HOOK_BLOCK`` callback instead: on entry to a
block it finds the block's bytes in host memory (guest RAM and MROM are host
buffers the board owns; the block's virtual address is walked through the
hart's current privilege and ``satp``, read from QEMU's ``CPURISCVState``)
and counts its instructions from their encoded lengths.  A block that would
carry the slice past its limit stops emulation before it runs (a block
callback that calls ``uc_emu_stop`` stops *before* the block) and is not
counted; the run loop (hypervisor/machine.py) finishes a slice whose end
must be exact in count mode.

Two implementations of the same callback, with the same arithmetic:

* ``native``: hypervisor/native/blockclock.c, compiled into the
  ``septum.hypervisor`` package as ``_blockclock*.so`` by the optional
  setuptools extension (pyproject.toml) and loaded with :mod:`ctypes` (no
  Python.h, a plain shared object).  It keeps a cache of recent blocks'
  counts that hits only when a block's bytes equal the copy it counted
  (comparing is cheaper than decoding: the decode is a chain of dependent
  loads), so a rewritten block is counted again;
* ``python``: a ctypes ``CFUNCTYPE`` callback, used when the shared object
  is missing (no C compiler when the package was built).  Same results,
  several times slower per block.

Both keep their state in one :class:`ClockState` (a ``ctypes.Structure``
that mirrors the C struct field for field).  ``done`` counts the
instructions of the blocks entered in the current slice; when a block is
left early (a trap inside it, a breakpoint, an access fault, ``wfi``) the
run loop or the trap unit calls :meth:`BlockClock.retire_at` with the PC
where execution stopped, which takes back the block's instructions that did
not run.  ``uc->emu_counter`` (cpu.py) is kept equal to the instructions
begun before the current block, as count mode would leave it at a block's
entry, so block observers (hypervisor/trace.py) read the same indices
under both clocks.
"""

from __future__ import annotations

import ctypes
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from unicorn import UC_HOOK_BLOCK
from unicorn.unicorn_py3.unicorn import uclib

from septum.hypervisor import memmap
from septum.hypervisor.errors import MachineError

if TYPE_CHECKING:
    from septum.hypervisor.machine import Machine

#: Host and guest page size.
PAGE = 0x1000
_PRIV_M = 3
_PPN_MASK = (1 << 44) - 1
_PTE_V, _PTE_R, _PTE_X = 1, 2, 8

#: The callback's C type: ``void (*)(uc_engine *, uint64_t pc, uint32_t size, void *)``.
HOOK_BLOCK_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                                    ctypes.c_void_p)
#: The fallback counter's C type: ``uint64_t (*)(uint64_t pc, uint64_t size)``.
FALLBACK_CFUNC = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64)


class ClockState(ctypes.Structure):
    """``struct septum_blockclock`` (hypervisor/native/blockclock.c)."""

    _fields_ = [
        ("done", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("block_pc", ctypes.c_uint64),
        ("block_n", ctypes.c_uint64),
        ("block_size", ctypes.c_uint64),
        ("stopped", ctypes.c_uint64),
        ("strict", ctypes.c_uint64),
        ("irq_stop", ctypes.c_uint64),
        ("blocks", ctypes.c_uint64),
        ("fallbacks", ctypes.c_uint64),
        ("counter", ctypes.c_void_p),
        ("env", ctypes.c_void_p),
        ("off_priv", ctypes.c_uint64),
        ("off_satp", ctypes.c_uint64),
        ("ram", ctypes.c_void_p),
        ("ram_base", ctypes.c_uint64),
        ("ram_size", ctypes.c_uint64),
        ("rom", ctypes.c_void_p),
        ("rom_base", ctypes.c_uint64),
        ("rom_size", ctypes.c_uint64),
        ("block_host", ctypes.c_void_p),
        ("stop", ctypes.c_void_p),
        ("fallback", ctypes.c_void_p),
        ("cache", ctypes.c_void_p),
    ]


_NATIVE: list[ctypes.CDLL | None] = []
_WARNED: list[bool] = []


def native_library() -> ctypes.CDLL | None:
    """The compiled block clock (``septum/hypervisor/_blockclock*.so``), or
    None when it was not built."""
    if not _NATIVE:
        lib = None
        here = Path(__file__).resolve().parent
        for path in sorted(here.glob("_blockclock*.so")):
            try:
                lib = ctypes.CDLL(str(path))
                break
            except OSError:
                continue
        if lib is not None:
            lib.septum_blockclock_retire.restype = ctypes.c_int
            lib.septum_blockclock_retire.argtypes = (ctypes.c_void_p, ctypes.c_uint64,
                                                     ctypes.c_uint64)
            lib.septum_blockclock_cache_size.restype = ctypes.c_uint64
            lib.septum_blockclock_cache_size.argtypes = ()
            lib.septum_blockclock_count.restype = ctypes.c_int64
            lib.septum_blockclock_count.argtypes = (ctypes.c_void_p, ctypes.c_uint64,
                                                    ctypes.c_uint64)
        _NATIVE.append(lib)
    return _NATIVE[0]


def count_insns(code: bytes) -> int:
    """Instructions starting in ``code`` (RVC: low two bits != 3 -> 2 bytes)."""
    off = n = 0
    end = len(code)
    while off < end:
        off += 4 if code[off] & 3 == 3 else 2
        n += 1
    return n


class BlockClock:
    """The block clock of one :class:`Machine` (see the module docstring).

    ``impl`` is ``"native"``, ``"python"`` or ``"auto"`` (native when the
    shared object is there).  :attr:`impl` says which one runs."""

    def __init__(self, machine: "Machine", env: int, off_priv: int, off_satp: int,
                 counter_addr: int, rom_addr: int, rom_base: int, rom_size: int,
                 impl: str = "auto") -> None:
        if impl not in ("auto", "native", "python"):
            raise MachineError(f"unknown block clock implementation {impl!r}")
        lib = native_library() if impl != "python" else None
        if impl == "native" and lib is None:
            raise MachineError("the native block clock (septum/hypervisor/_blockclock*.so) "
                               "is not built")
        if impl == "auto" and lib is None and not _WARNED:
            # Said once per process: every machine then counts in Python.
            _WARNED.append(True)
            warnings.warn("septum: the compiled block clock is not built (no C compiler "
                          "when septum was installed?): counting in Python, much slower",
                          RuntimeWarning, stacklevel=3)
        self.m = machine
        self.lib = lib
        #: ``"native"`` or ``"python"``.
        self.impl = "native" if lib is not None else "python"
        st = ClockState()
        self.state = st
        self._ref = ctypes.byref(st)
        self._addr = ctypes.addressof(st)
        uc = machine.cpu.uc
        ram = machine.ram
        st.counter = counter_addr
        self._counter_addr = counter_addr
        st.env = env
        st.off_priv = off_priv
        st.off_satp = off_satp
        st.ram = ram.addr
        st.ram_base = memmap.DRAM_BASE
        st.ram_size = ram.size
        st.rom = rom_addr
        st.rom_base = rom_base
        st.rom_size = rom_size
        st.stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        self._fallback = FALLBACK_CFUNC(self._count_fallback)
        st.fallback = ctypes.cast(self._fallback, ctypes.c_void_p).value
        self._priv = ctypes.c_uint64.from_address(env + off_priv)
        self._satp = ctypes.c_uint64.from_address(env + off_satp)
        self._ram_view = ram.view
        self._rom = (rom_addr, rom_base, rom_size)
        if lib is not None:
            # The native clock's cache of recent blocks' counts (the Python
            # one decodes every block: same counts, see blockclock.c).
            self._cache = ctypes.create_string_buffer(lib.septum_blockclock_cache_size())
            st.cache = ctypes.addressof(self._cache)
            self._retire_native = lib.septum_blockclock_retire
            fn = ctypes.cast(lib.septum_blockclock_hook, ctypes.c_void_p)
            self._cb = None
        else:
            self._cb = HOOK_BLOCK_CFUNC(self._py_hook)
            fn = ctypes.cast(self._cb, ctypes.c_void_p)
        self._fn = fn
        self._uch = uc._uch
        self._stop = uclib.uc_emu_stop
        #: The Unicorn hook handle while the hook is installed, else None.
        self.handle: int | None = None
        self.attach()

    def attach(self) -> None:
        """Install the hook (the machine does this at its creation, before
        any other block hook, and again when it runs alone)."""
        if self.handle is not None:
            return
        handle = ctypes.c_size_t()
        if uclib.uc_hook_add(self._uch, ctypes.byref(handle), UC_HOOK_BLOCK, self._fn,
                             ctypes.c_void_p(self._addr), ctypes.c_uint64(1),
                             ctypes.c_uint64(0)):
            raise MachineError("cannot install the block clock's hook")
        self.handle = handle.value

    def detach(self) -> None:
        """Remove the hook (count-mode slices need none)."""
        if self.handle is not None:
            uclib.uc_hook_del(self._uch, ctypes.c_size_t(self.handle))
            self.handle = None

    # ----- the slice interface (machine.py) ---------------------------------------

    def begin(self, limit: int, strict: bool) -> None:
        """Start a slice of at most ``limit`` instructions; ``strict``: never
        overshoot, not even with the slice's first block."""
        st = self.state
        st.done = 0
        st.limit = limit
        st.stopped = 0
        st.strict = 1 if strict else 0
        st.irq_stop = 0
        st.block_size = 0
        st.counter = self._counter_addr

    def begin_count(self) -> None:
        """A count-mode slice follows (Unicorn counts): the hook keeps
        quiet -- no limit, no stop, and Unicorn's counter is left alone."""
        st = self.state
        st.limit = (1 << 64) - 1
        st.stopped = 0
        st.strict = 0
        st.irq_stop = 0
        st.block_size = 0
        st.counter = None

    def retire_at(self, pc: int, extra: int) -> bool:
        """Execution left the current block at ``pc`` (inside it): count the
        instructions before ``pc`` plus ``extra`` (1 when the instruction at
        ``pc`` counts as retired, a trap's), not the rest.  False, changing
        nothing, when ``pc`` is not inside the open block."""
        if self.lib is not None:
            return bool(self._retire_native(self._addr, pc, extra))
        st = self.state
        if not st.block_size or not st.block_pc <= pc < st.block_pc + st.block_size:
            return False
        code = self._block_code(st.block_pc, pc - st.block_pc)
        if code is None:
            return False
        st.done = st.done - st.block_n + count_insns(code) + extra
        st.block_size = 0
        if st.counter:
            ctypes.c_uint64.from_address(st.counter).value = st.done
        return True

    def count(self, pc: int, size: int) -> int | None:
        """Instructions starting in the block ``[pc, pc+size)`` as this clock
        counts them (None when its bytes are not in host memory)."""
        if self.lib is not None:
            n = self.lib.septum_blockclock_count(self._addr, pc, size)
            return None if n < 0 else n
        span = min(size, PAGE - (pc & (PAGE - 1)))
        code = self._block_code(pc, span)
        return None if code is None else count_insns(code)

    # ----- the Python implementation ---------------------------------------------

    def _translate(self, va: int) -> int | None:
        """Physical address of a fetch from ``va`` at the current level
        (Sv39/48/57 over host RAM), as the C walker computes it."""
        satp = self._satp.value
        mode = satp >> 60
        if self._priv.value == _PRIV_M or mode == 0:
            return va
        if not 8 <= mode <= 10:
            return None
        a = (satp & _PPN_MASK) << 12
        for level in range(mode - 6, -1, -1):
            data = self._host(a + ((va >> (12 + 9 * level)) & 511) * 8, 8)
            if data is None:
                return None
            pte = struct.unpack("<Q", data)[0]
            if not pte & _PTE_V:
                return None
            if pte & (_PTE_R | _PTE_X):
                mask = (1 << (12 + 9 * level)) - 1
                return ((((pte >> 10) & _PPN_MASK) << 12) & ~mask) | (va & mask)
            a = ((pte >> 10) & _PPN_MASK) << 12
        return None

    def _host(self, pa: int, n: int) -> bytes | None:
        st = self.state
        off = pa - st.ram_base
        if 0 <= off and off + n <= st.ram_size:
            return bytes(self._ram_view[off:off + n])
        rom_addr, rom_base, rom_size = self._rom
        off = pa - rom_base
        if rom_addr and 0 <= off and off + n <= rom_size:
            return ctypes.string_at(rom_addr + off, n)
        return None

    def _block_code(self, pc: int, n: int) -> bytes | None:
        pa = self._translate(pc)
        return None if pa is None else self._host(pa, n)

    def _py_hook(self, uc: int, pc: int, size: int, user: int) -> None:
        st = self.state
        n = self.count(pc, size)
        if n is None:
            n = self._count_fallback(pc, size)
            st.fallbacks += 1
        done = st.done
        if st.irq_stop or (done + n > st.limit and (done > 0 or st.strict)):
            st.stopped = 1
            st.block_size = 0
            self._stop(self._uch)
            return
        if st.counter:
            ctypes.c_uint64.from_address(st.counter).value = done
        st.done = done + n
        st.block_pc = pc
        st.block_n = n
        st.block_size = size
        st.blocks += 1

    def _count_fallback(self, pc: int, size: int) -> int:
        """A block whose bytes are not in host RAM/ROM (never seen on the
        board: every executable region is host memory): read it through the
        machine's own translation."""
        m = self.m
        span = min(size, PAGE - (pc & (PAGE - 1)))
        try:
            code = m.read_phys(m.translate(pc), span)
        except Exception:  # a host bug must not become a crash inside the CPU loop
            return max(1, span // 4)
        return count_insns(code)

