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
  instructions with an internal per-instruction hook that increments
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
  CSR write, the host's included, so :meth:`Cpu.set_mip_bits` saves the CPU
  context, patches ``env->mip`` inside it (offset :data:`CTX_MIP`, verified at
  start-up) and restores it; a writable-bit write afterwards makes QEMU
  re-evaluate pending interrupts, which it then takes natively.
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
_REG_WRITE = uclib.uc_reg_write


@functools.lru_cache(maxsize=None)
def counter_offset() -> int:
    """Byte offset of ``uc->emu_counter`` in Unicorn's ``uc_struct``.

    Found by running a two-instruction loop for three different counts on a
    scratch engine and keeping the one 64-bit field that equals count+1 each
    time.  Raises :class:`MachineError` if no such unique field exists (a
    different Unicorn build): better to refuse than to count wrong.
    """
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
                 if struct.unpack_from("<Q", raw, off)[0] == count + 1}
        candidates = found if candidates is None else candidates & found
    if not candidates or len(candidates) != 1:
        raise MachineError(
            f"unicorn {unicorn.__version__}: cannot locate the instruction counter "
            f"(Septum needs unicorn=={UNICORN_VERSION})")
    return candidates.pop()


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
        self._h = uc._uch
        self._buf = ctypes.c_uint64()
        self._ref = ctypes.byref(self._buf)
        self._counter = ctypes.c_uint64.from_address(uc._uch.value + counter_offset())
        self._ctx = uc.context_save()
        self._check_layout()

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
        self.uc.context_update(self._ctx)
        return ctypes.c_uint64.from_address(self._ctx.context.value + CTX_BADADDR).value

    def mip_raw(self) -> int:
        """``env->mip`` as QEMU holds it (device bits included)."""
        self.uc.context_update(self._ctx)
        return ctypes.c_uint32.from_address(self._ctx.context.value + CTX_MIP).value

    def set_mip_bits(self, bits: int, mask: int = MIP_DEVICE_BITS) -> None:
        """Make ``mip & mask`` equal ``bits & mask`` — including the bits no CSR
        write can change — and have QEMU re-evaluate pending interrupts.
        Call only between ``emu_start`` calls, never from a hook."""
        self.uc.context_update(self._ctx)
        word = ctypes.c_uint32.from_address(self._ctx.context.value + CTX_MIP)
        word.value = (word.value & ~mask) | (bits & mask)
        self.uc.context_restore(self._ctx)
        # A write of the writable bits (unchanged) runs QEMU's update_mip,
        # which raises CPU_INTERRUPT_HARD when any bit is pending.
        writable = word.value & MIP_WRITABLE_BITS
        self.csr_write(CSR.MIP, writable)

    def _check_layout(self) -> None:
        """Fail loudly if the context layout is not the one measured."""
        if unicorn.__version__ != UNICORN_VERSION:
            raise MachineError(
                f"unicorn {unicorn.__version__} is installed; Septum needs "
                f"unicorn=={UNICORN_VERSION}")
        self.csr_write(CSR.MIP, int(Mip.SSIP | Mip.SEIP))
        seen = self.mip_raw()
        self.csr_write(CSR.MIP, 0)
        if seen != int(Mip.SSIP | Mip.SEIP) or self.mip_raw() != 0:
            raise MachineError("unicorn context layout changed: env->mip not at "
                               f"byte {CTX_MIP}")

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
