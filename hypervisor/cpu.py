"""The hart: a Unicorn RV64 CPU (SiFive U54 model) with fast register access.

What this module adds to the Unicorn binding (DESIGN.md §3):

* **Raw register access.**  The binding's ``reg_read``/``reg_write`` cost
  several microseconds each; the trap unit reads and writes a dozen registers
  per trap, so :class:`Cpu` calls ``uc_reg_read``/``uc_reg_write`` through
  ctypes with one preallocated 64-bit buffer.
* **Privilege juggling.**  Unicorn's CSR access goes through QEMU's privilege
  check, so an M-mode CSR is readable from the host only while ``PRIV`` is 3:
  :meth:`Cpu.csr_read`/:meth:`Cpu.csr_write` raise the level and put it back.
* **Exact retired-instruction counts.**  ``emu_start(count=N)`` counts
  instructions.  Septum's build of Unicorn (hypervisor/unicorn_build.py)
  counts once per translated block with exactly the meaning described next
  (:meth:`Cpu.set_tb_count`); the stock wheel counts with an internal
  per-instruction hook that increments
  ``uc->emu_counter`` (a field of Unicorn's private ``uc_struct``) *before*
  each instruction runs and stops once it exceeds N.  Its offset is found at
  start-up by :func:`counter_offset` (run a known number of instructions and
  look for the field that holds it; checked with three counts), so reading it
  costs one ctypes load.  A slice that ran to its end executed exactly N
  instructions (the counter reads N+1: the N+1th was stopped before it ran);
  a slice that ended early (``wfi``, a fault, a stop request) executed
  ``counter`` instructions, the last one being the ``wfi``/faulting one.
  Faulting instructions are counted as retired: a documented, deterministic
  deviation from ``minstret`` semantics.
* **M-level interrupt bits.**  ``mip.MTIP/MSIP/MEIP`` are read-only to every
  CSR write, the host's included, so :meth:`Cpu.set_mip_bits` writes QEMU's
  live ``env->mip`` in place (located per engine by
  :func:`_locate_env`, offset :data:`CTX_MIP` in the saved context, verified
  at start-up); a writable-bit CSR write afterwards makes QEMU re-evaluate
  pending interrupts, which it then takes natively with the spec's
  priorities.  :meth:`Cpu.clear_mip_bits` works from inside MMIO callbacks,
  so a device lowering its line (a ``mtimecmp`` write, a PLIC claim) takes
  effect before the guest's next instruction.
* **The faulting address.**  QEMU keeps what hardware writes to ``xtval`` in
  ``env->badaddr``, bytes :data:`CTX_BADADDR` of the saved context in Unicorn
  2.1.4 (tests/hypervisor/test_trap.py pins it with a real page fault).
"""

from __future__ import annotations

import ctypes
import functools
import struct

import unicorn
from unicorn import (
    UC_ARCH_RISCV,
    UC_CTL_CONTEXT_CPU,
    UC_CTL_CONTEXT_MODE,
    UC_CTL_IO_WRITE,
    UC_MODE_RISCV64,
    Uc,
)
from unicorn import riscv_const as rc
from unicorn.unicorn_py3.unicorn import uclib

from septum.hypervisor.errors import MachineError
from septum.toolchain.riscv import ABI_NAMES, CSR, CSR_NAMES, GPR_NAMES, Mip, Priv

#: The Unicorn release whose private layouts (below) this module relies on.
UNICORN_VERSION = "2.1.4"

#: Byte offset of ``env->badaddr`` in ``bytes(uc.context_save())`` (2.1.4).
CTX_BADADDR = 584
#: Byte offset of ``env->mip`` (32 bits) in the saved context (2.1.4).
CTX_MIP = 672
#: Byte offsets of ``env->priv`` and ``env->satp`` (64 bits each) in the
#: saved context (2.1.4): the block clock (blockclock.py) reads them live to
#: translate a block's address.  Checked at start-up by :meth:`Cpu._check_layout`.
CTX_PRIV = 632
CTX_SATP = 712

#: mip bits only a device can set (not writable through any CSR write).
MIP_DEVICE_BITS = int(Mip.MSIP | Mip.MTIP | Mip.MEIP)
#: mip bits that CSR writes (from the host too) may change.
MIP_WRITABLE_BITS = int(Mip.SSIP | Mip.STIP | Mip.SEIP)

#: An ``until`` address emulation never reaches (odd: no instruction starts there).
NO_UNTIL = (1 << 64) - 1

#: Unicorn register ids of x0..x31.
GPR_IDS: tuple[int, ...] = tuple(rc.UC_RISCV_REG_X0 + i for i in range(32))

#: CSR number -> Unicorn register id, for every CSR Unicorn exposes.
CSR_IDS: dict[int, int] = {}
for _name, _num in CSR_NAMES.items():
    _rid = getattr(rc, f"UC_RISCV_REG_{_name.upper()}", None)
    if _rid is not None:
        CSR_IDS[_num] = _rid
del _name, _num, _rid

_REG_READ = uclib.uc_reg_read
#: ``uc_septum_tb_count(uc, on)``: only in Septum's build of Unicorn.
_TB_COUNT = getattr(uclib, "uc_septum_tb_count", None)
_REG_WRITE = uclib.uc_reg_write


def _uc_struct_field(delta: int, what: str) -> int:
    """Byte offset of the one 64-bit field of Unicorn's ``uc_struct`` that
    equals ``count + delta`` after each of three runs of a two-instruction
    loop for ``count`` instructions on a scratch engine.  Raises
    :class:`MachineError` if no such unique field exists (a different
    Unicorn build): better to refuse than to count wrong."""
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(0x8000_0000, 0x1000)
    # addi x1, x1, 1 ; j -4
    uc.mem_write(0x8000_0000, struct.pack("<II", 0x00108093, 0xFFDFF06F))
    handle = uc._uch.value
    window = 4096
    candidates: set[int] | None = None
    for count in (1000, 1237, 5003):
        uc.emu_start(0x8000_0000, NO_UNTIL, count=count)
        raw = ctypes.string_at(handle, window)
        found = {off for off in range(0, window - 8, 8)
                 if struct.unpack_from("<Q", raw, off)[0] == count + delta}
        candidates = found if candidates is None else candidates & found
    if not candidates or len(candidates) != 1:
        raise MachineError(
            f"unicorn {unicorn.__version__}: cannot locate {what} "
            f"(Septum needs unicorn=={UNICORN_VERSION})")
    return candidates.pop()


@functools.lru_cache(maxsize=None)
def counter_offset() -> int:
    """Byte offset of ``uc->emu_counter`` in Unicorn's ``uc_struct``: the
    field that reads count+1 after a run of count instructions (the
    count+1th was stopped before it ran)."""
    return _uc_struct_field(1, "the instruction counter")


@functools.lru_cache(maxsize=None)
def count_limit_offset() -> int:
    """Byte offset of ``uc->emu_count`` (the ``count`` of the current
    ``emu_start``) in ``uc_struct``: Unicorn's counting hook stops once
    ``emu_counter`` exceeds it, so lowering it mid-slice (a timer compare
    written by the guest) ends the slice exactly there.  The field equal to
    count after each run."""
    return _uc_struct_field(0, "the instruction count limit")


def _readable_ranges() -> list[tuple[int, int]]:
    """Readable address ranges of this process (Linux /proc/self/maps)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            addrs, perms = line.split()[:2]
            if perms.startswith("r"):
                lo, hi = (int(x, 16) for x in addrs.split("-"))
                out.append((lo, hi))
    return out


_GPR_MARKS = tuple(0x5E97_0000_0000_0000 | (i * 0x1111_1111) for i in range(1, 9))


def _locate_env(uc: Uc, hint: tuple[int, int] | None = None) -> tuple[int, int, int] | None:
    """Find the live ``CPURISCVState`` (QEMU's ``env``) of engine ``uc``.

    Returns ``(field, delta, env)``: the pointer stored at byte ``field`` of
    ``uc_struct`` plus ``delta`` is ``env``, the live address that byte 0 of
    ``bytes(context_save())`` was copied from.  x1..x8 get distinctive
    values (restored afterwards), then every pointer-sized field of
    ``uc_struct`` is followed (only into readable mappings) looking for them;
    a ``mip`` write confirms the find.  ``hint`` (a previous engine's
    answer) is tried first.  Writing ``env->mip`` in place is the one way to
    change MTIP/MSIP/MEIP from inside an MMIO callback (where the context
    may not be restored).
    """
    saved = [uc.reg_read(rc.UC_RISCV_REG_X0 + i) for i in range(1, 9)]
    for i, v in enumerate(_GPR_MARKS, 1):
        uc.reg_write(rc.UC_RISCV_REG_X0 + i, v)
    try:
        pattern = struct.pack("<8Q", *_GPR_MARKS)
        g = bytes(uc.context_save()).find(pattern)
        if g < 0:
            return None
        handle = uc._uch.value
        raw = ctypes.string_at(handle, 4096)

        def confirm(field: int, delta: int) -> int | None:
            env = struct.unpack_from("<Q", raw, field)[0] + delta
            if ctypes.string_at(env + g, len(pattern)) != pattern:
                return None
            mip = ctypes.c_uint32.from_address(env + CTX_MIP)
            uc.reg_write(rc.UC_RISCV_REG_MIP, int(Mip.SSIP))
            ok = mip.value == int(Mip.SSIP)
            uc.reg_write(rc.UC_RISCV_REG_MIP, 0)
            return env if ok and mip.value == 0 else None

        ranges = _readable_ranges()

        def readable(lo: int, n: int) -> bool:
            return any(a <= lo and lo + n <= b for a, b in ranges)

        if hint is not None:
            field, delta = hint
            ptr = struct.unpack_from("<Q", raw, field)[0]
            if readable(ptr + delta, 4096):
                env = confirm(field, delta)
                if env is not None:
                    return field, delta, env
        window = 1 << 20
        for field in range(0, 4096 - 8, 8):
            ptr = struct.unpack_from("<Q", raw, field)[0]
            span = next((b - ptr for a, b in ranges if a <= ptr < b), 0)
            if span < 4096:
                continue
            k = ctypes.string_at(ptr, min(window, span)).find(pattern)
            if k < 0:
                continue
            env = confirm(field, k - g)
            if env is not None:
                return field, k - g, env
        return None
    finally:
        for i, v in enumerate(saved, 1):
            uc.reg_write(rc.UC_RISCV_REG_X0 + i, v)


_ENV_HINT: list[tuple[int, int]] = []


_READ_BATCH = uclib.uc_reg_read_batch
_WRITE_BATCH = uclib.uc_reg_write_batch


class RegBatch:
    """A fixed list of Unicorn registers read or written in one
    ``uc_reg_read_batch`` / ``uc_reg_write_batch`` call: one crossing into
    the library instead of one per register (each costs ~1 us from Python,
    the trap unit's hot path makes a dozen).  Writes go in list order."""

    def __init__(self, cpu: "Cpu", reg_ids: "list[int] | tuple[int, ...]") -> None:
        n = len(reg_ids)
        self._h = cpu._h
        self._n = n
        self._ids = (ctypes.c_int * n)(*reg_ids)
        self._vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * n)(*(base + 8 * i for i in range(n)))

    def read(self) -> list[int]:
        """The registers' values, in list order."""
        _READ_BATCH(self._h, self._ids, self._ptrs, self._n)
        return self._vals[:]

    def write(self, *values: int) -> None:
        """Set the registers to ``values`` (in list order)."""
        self._vals[:] = [v & 0xFFFF_FFFF_FFFF_FFFF for v in values]
        _WRITE_BATCH(self._h, self._ids, self._ptrs, self._n)


class Cpu:
    """One RV64 hart on Unicorn, with fast register and CSR access.

    ``cpu.uc`` is the Unicorn engine (memory mapping, hooks, emu_start).
    Register numbers below are Unicorn register ids (``unicorn.riscv_const``).
    """

    def __init__(self) -> None:
        uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
        # The U54 model has S-mode and Sv39; UC_CPU_RISCV64_ANY has no S-mode.
        uc.ctl_set_cpu_model(rc.UC_CPU_RISCV64_SIFIVE_U54)
        self.uc = uc
        #: Septum's build of Unicorn is loaded (hypervisor/unicorn_build.py):
        #: count mode can count per translated block.
        self.tb_capable = _TB_COUNT is not None
        self._h = uc._uch
        self._buf = ctypes.c_uint64()
        self._ref = ctypes.byref(self._buf)
        self._counter = ctypes.c_uint64.from_address(uc._uch.value + counter_offset())
        self._ctx = uc.context_save()
        found = _locate_env(uc, _ENV_HINT[0] if _ENV_HINT else None)
        if found is None:
            raise MachineError("cannot locate the hart state inside unicorn "
                               f"(Septum needs unicorn=={UNICORN_VERSION})")
        field, delta, env = found
        _ENV_HINT[:] = [(field, delta)]
        #: Host address of the live ``CPURISCVState`` (QEMU's ``env``).
        self.env = env
        #: Host address of ``uc->emu_counter`` (see :attr:`counter`).
        self.counter_addr = uc._uch.value + counter_offset()
        #: ``uc->emu_count``, live: the count mode slice's limit.
        self.count_limit = ctypes.c_uint64.from_address(uc._uch.value + count_limit_offset())
        #: Live views of env->mip and env->badaddr (see env_locator).
        self._mip = ctypes.c_uint32.from_address(env + CTX_MIP)
        self._badaddr = ctypes.c_uint64.from_address(env + CTX_BADADDR)
        self._check_layout()
        #: Count per translated block whenever nothing needs the count
        #: per instruction (the run loop's choice; False: always per
        #: instruction, as stock Unicorn counts).
        self.tb_wanted = True
        #: Count mode counts per translated block now (else Unicorn's hook
        #: before every instruction); see :meth:`set_tb_count`.
        self.tb_count = False
        self.set_tb_count(True)

    def set_tb_count(self, on: bool) -> None:
        """Count per translated block (``on``) or per instruction.  Both give
        the same counts and stops; per block is faster, but a hook that runs
        inside a block and reads the counter sees the block's end.  Each
        switch drops the translated code (between slices only)."""
        if self.tb_capable and on != self.tb_count:
            if _TB_COUNT(self._h, 1 if on else 0) == 0:
                self.tb_count = on

    # ----- registers --------------------------------------------------------

    def read(self, reg_id: int) -> int:
        """The value of Unicorn register ``reg_id`` (no privilege juggling)."""
        _REG_READ(self._h, reg_id, self._ref)
        return self._buf.value

    def write(self, reg_id: int, value: int) -> None:
        """Set Unicorn register ``reg_id`` (no privilege juggling)."""
        self._buf.value = value & 0xFFFF_FFFF_FFFF_FFFF
        _REG_WRITE(self._h, reg_id, self._ref)

    @property
    def pc(self) -> int:
        """The program counter."""
        _REG_READ(self._h, rc.UC_RISCV_REG_PC, self._ref)
        return self._buf.value

    @pc.setter
    def pc(self, value: int) -> None:
        self.write(rc.UC_RISCV_REG_PC, value)

    @property
    def priv(self) -> int:
        """The current privilege level (0 U, 1 S, 3 M)."""
        _REG_READ(self._h, rc.UC_RISCV_REG_PRIV, self._ref)
        return self._buf.value

    @priv.setter
    def priv(self, value: int) -> None:
        self.write(rc.UC_RISCV_REG_PRIV, value)

    def gpr(self, n: int) -> int:
        """Integer register x``n`` (x0 reads 0)."""
        return self.read(GPR_IDS[n]) if n else 0

    def set_gpr(self, n: int, value: int) -> None:
        """Set x``n`` (writes to x0 are ignored, as in hardware)."""
        if n:
            self.write(GPR_IDS[n], value)

    # ----- CSRs ---------------------------------------------------------------

    def csr_read(self, num: int) -> int:
        """Read CSR ``num`` from the host, whatever the current privilege."""
        rid = self._csr_id(num)
        p = self.priv
        if p != Priv.M:
            self.write(rc.UC_RISCV_REG_PRIV, Priv.M)
        _REG_READ(self._h, rid, self._ref)
        value = self._buf.value
        if p != Priv.M:
            self.write(rc.UC_RISCV_REG_PRIV, p)
        return value

    def csr_write(self, num: int, value: int) -> None:
        """Write CSR ``num`` from the host (WARL fields behave as for the guest)."""
        rid = self._csr_id(num)
        p = self.priv
        if p != Priv.M:
            self.write(rc.UC_RISCV_REG_PRIV, Priv.M)
        self.write(rid, value)
        if p != Priv.M:
            self.write(rc.UC_RISCV_REG_PRIV, p)

    @staticmethod
    def _csr_id(num: int) -> int:
        try:
            return CSR_IDS[num]
        except KeyError:
            raise MachineError(f"CSR {num:#x} is not accessible from the host") from None

    # ----- counting and the saved context -----------------------------------

    @property
    def counter(self) -> int:
        """Unicorn's instruction counter for the current/last ``emu_start``
        (instructions whose execution began, see the module docstring)."""
        return self._counter.value

    def context_bytes(self) -> bytes:
        """The CPU context as saved by Unicorn (internal layout, 2.1.4)."""
        self.uc.context_update(self._ctx)
        return bytes(self._ctx)

    def badaddr(self) -> int:
        """QEMU's ``env->badaddr``: the address of the last fault."""
        return self._badaddr.value

    def mip_raw(self) -> int:
        """``env->mip`` as QEMU holds it (device bits included)."""
        return self._mip.value

    def set_mip_bits(self, bits: int, mask: int = MIP_DEVICE_BITS) -> None:
        """Make ``mip & mask`` equal ``bits & mask`` — including the bits no CSR
        write can change — and have QEMU re-evaluate pending interrupts.
        Safe from hooks and MMIO callbacks: a raised bit is taken when the
        current chain of translated blocks exits, a lowered one is gone
        before the next instruction."""
        word = self._mip
        word.value = (word.value & ~mask) | (bits & mask)
        # A write of the writable bits (unchanged) runs QEMU's update_mip,
        # which raises CPU_INTERRUPT_HARD when any bit is pending.
        self.csr_write(CSR.MIP, word.value & MIP_WRITABLE_BITS)

    def clear_mip_bits(self, bits: int) -> None:
        """Clear ``bits`` of ``env->mip`` in place (safe inside callbacks;
        nothing to re-evaluate: fewer pending bits never start a trap)."""
        self._mip.value &= ~bits

    def _check_layout(self) -> None:
        """Fail loudly if the context layout is not the one measured."""
        if unicorn.__version__ != UNICORN_VERSION:
            raise MachineError(
                f"unicorn {unicorn.__version__} is installed; Septum needs "
                f"unicorn=={UNICORN_VERSION}")
        self.csr_write(CSR.MIP, int(Mip.SSIP | Mip.SEIP))
        saved = self.context_bytes()
        seen = int.from_bytes(saved[CTX_MIP:CTX_MIP + 4], "little")
        live = self.mip_raw()
        self.csr_write(CSR.MIP, 0)
        if seen != int(Mip.SSIP | Mip.SEIP) or live != seen or self.mip_raw() != 0:
            raise MachineError("unicorn context layout changed: env->mip not at "
                               f"byte {CTX_MIP}")
        priv = ctypes.c_uint64.from_address(self.env + CTX_PRIV)
        satp = ctypes.c_uint64.from_address(self.env + CTX_SATP)
        probe = (8 << 60) | 0x5E97
        self.csr_write(CSR.SATP, probe)
        ok = satp.value == probe
        self.csr_write(CSR.SATP, 0)
        ok = ok and satp.value == 0
        for level in (Priv.S, Priv.U, Priv.M):
            self.priv = level
            ok = ok and priv.value == level
        if not ok:
            raise MachineError("unicorn context layout changed: env->priv/satp not at "
                               f"bytes {CTX_PRIV}/{CTX_SATP}")

    # ----- state for snapshots ------------------------------------------------

    def context_mode(self, mode: int) -> None:
        """Set what ``context_save/restore`` cover (UC_CTL_CONTEXT_CPU,
        optionally | UC_CTL_CONTEXT_MEMORY for copy-on-write RAM)."""
        self.uc.ctl(UC_CTL_CONTEXT_MODE, UC_CTL_IO_WRITE, ctypes.c_int(mode))

    def save_regs(self) -> dict[str, int]:
        """x1..x31, pc and priv as a dict (readable; the context is the
        authoritative snapshot)."""
        regs = {ABI_NAMES[i]: self.gpr(i) for i in range(32)}
        regs["pc"] = self.pc
        regs["priv"] = self.priv
        return regs


def reg_id(name: str) -> int:
    """Unicorn register id for a GPR name (x5, t0, fp...), ``pc`` or ``priv``."""
    if name == "pc":
        return rc.UC_RISCV_REG_PC
    if name == "priv":
        return rc.UC_RISCV_REG_PRIV
    try:
        return GPR_IDS[GPR_NAMES[name]]
    except KeyError:
        raise MachineError(f"no register named {name!r}") from None
