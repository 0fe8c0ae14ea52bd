"""The trap unit: architectural trap entry for what Unicorn leaves undone.

Unicorn (QEMU 5 inside) detects synchronous exceptions but, with a
``UC_HOOK_INTR`` installed, calls the hook instead of QEMU's trap entry, with
the PC already 4 past the faulting instruction (for compressed instructions
too) and none of ``xepc/xcause/xtval/xstatus`` written.  :class:`TrapUnit`
finishes the job exactly as the RISC-V Privileged Architecture (v1.12) says:

* §3.1.8: a trap taken from U or S goes to S when its ``medeleg`` bit is set
  (``mideleg`` for interrupts); a trap taken in M never goes to S.
* §3.1.14-16 / §4.1.7-9: ``xepc`` = address OF the trapping instruction
  (``pc - 4`` in the hook), ``xcause`` = the code, ``xtval`` =
    - the faulting virtual address for page, access and misaligned faults
      (QEMU's ``env->badaddr``, see cpu.py),
    - the faulting instruction's bits for illegal instructions: the 16 bits
      of a compressed instruction or the 32 bits of a full one, read through
      the current translation (chosen over the also-legal 0, consistently),
    - the PC for ``ebreak``/``c.ebreak`` (§3.3.1),
    - 0 for ``ecall``.
* §3.1.6 / §4.1.1: ``xPIE ← xIE``, ``xIE ← 0``, ``xPP ← previous level``
  (SPP is one bit: U 0, S 1), level ← x, ``pc ← xtvec.BASE`` (vectored mode
  applies to interrupts only, which QEMU delivers natively).

Unicorn reports ``ecall`` as code 8 from every level: the cause is
``8 + priv`` (ECALL_U/S/M = 8/9/11).  ``ebreak`` never reaches the hook: it
stops ``emu_start`` with ``UC_ERR_INSN_INVALID`` and the PC at the ebreak;
the run loop then calls :meth:`TrapUnit.breakpoint`.  Loads, stores and
fetches of unmapped physical addresses stop ``emu_start`` with
``UC_ERR_*_UNMAPPED``: the run loop calls :meth:`TrapUnit.access_fault`.

``rdtime`` (``csrrs rd, time, x0`` and the other read-only CSR forms of
``time``) is illegal in Unicorn; the trap unit emulates it from the CLINT's
``mtime`` when ``mcounteren.TM`` (and, from U, ``scounteren.TM``) allow it,
else delivers the illegal-instruction trap the spec requires (§3.1.11).
"""

from __future__ import annotations

from typing import Callable

from unicorn import riscv_const as rc

from septum.hypervisor import sv39
from septum.hypervisor.cpu import Cpu, RegBatch
from septum.toolchain.riscv import (
    CAUSE_INTERRUPT,
    CSR,
    Exc,
    Mstatus,
    MSTATUS_MPP_SHIFT,
    Priv,
)

#: Unicorn's intno for every ecall; the architectural cause is this + priv.
UC_ECALL = 8

#: mcounteren/scounteren bit that lets the next level read ``time`` (§3.1.11).
COUNTEREN_TM = 1 << 1

#: Causes whose xtval is the faulting address (QEMU's env->badaddr).
_ADDRESS_CAUSES = frozenset({
    Exc.INST_ADDR_MISALIGNED, Exc.INST_ACCESS_FAULT, Exc.LOAD_ADDR_MISALIGNED,
    Exc.LOAD_ACCESS_FAULT, Exc.STORE_ADDR_MISALIGNED, Exc.STORE_ACCESS_FAULT,
    Exc.INST_PAGE_FAULT, Exc.LOAD_PAGE_FAULT, Exc.STORE_PAGE_FAULT,
})

#: Fetch faults, and the spurious one Unicorn raises instead of an illegal
#: instruction.  Its translator gives a block that starts with an illegal
#: *compressed* instruction the size 0 ("does not advance PC"); QEMU then
#: looks up the block's last page at ``pc + size - 1``, which for a block at
#: a page start is the previous page, and raises an instruction page (or
#: access) fault for *that* page when it is not executable.  A real fetch
#: fault's address is never below the instruction's own (it is the
#: instruction's address, or its second half's page), so a fetch fault with
#: ``badaddr < epc`` at a page-aligned ``epc`` is recognised as the illegal
#: instruction it is.
_FETCH_FAULTS = frozenset({Exc.INST_PAGE_FAULT, Exc.INST_ACCESS_FAULT})
_PAGE_MASK = 0xFFF

#: Load fault causes and the store/AMO cause an AMO must report instead.
_LOAD_TO_AMO = {
    Exc.LOAD_ADDR_MISALIGNED: Exc.STORE_ADDR_MISALIGNED,
    Exc.LOAD_ACCESS_FAULT: Exc.STORE_ACCESS_FAULT,
    Exc.LOAD_PAGE_FAULT: Exc.STORE_PAGE_FAULT,
}
_OPCODE_AMO = 0x2F
_FUNCT5_LR = 0b00010

# Encoding of the SYSTEM opcode's CSR forms (unprivileged spec §9.1).
_OPCODE_SYSTEM = 0x73
_F3_CSRRS, _F3_CSRRC, _F3_CSRRSI, _F3_CSRRCI = 2, 3, 6, 7


# Plain-int copies of the constants the hot path uses (IntFlag arithmetic
# costs microseconds per operation).
_PRIV, _PC = rc.UC_RISCV_REG_PRIV, rc.UC_RISCV_REG_PC
_MSTATUS, _MEDELEG, _MIDELEG = rc.UC_RISCV_REG_MSTATUS, rc.UC_RISCV_REG_MEDELEG, rc.UC_RISCV_REG_MIDELEG
_MEPC, _MCAUSE, _MTVAL, _MTVEC = (rc.UC_RISCV_REG_MEPC, rc.UC_RISCV_REG_MCAUSE,
                                  rc.UC_RISCV_REG_MTVAL, rc.UC_RISCV_REG_MTVEC)
_SEPC, _SCAUSE, _STVAL, _STVEC = (rc.UC_RISCV_REG_SEPC, rc.UC_RISCV_REG_SCAUSE,
                                  rc.UC_RISCV_REG_STVAL, rc.UC_RISCV_REG_STVEC)
_M, _S = int(Priv.M), int(Priv.S)
_SIE, _SPIE, _SPP = int(Mstatus.SIE), int(Mstatus.SPIE), int(Mstatus.SPP)
_MIE, _MPIE, _MPP = int(Mstatus.MIE), int(Mstatus.MPIE), int(Mstatus.MPP)
_CODE_MASK = ~CAUSE_INTERRUPT & ((1 << 64) - 1)
_ECALL_CAUSE = {0: int(Exc.ECALL_U), 1: int(Exc.ECALL_S), 3: int(Exc.ECALL_M)}


def is_compressed(halfword: int) -> bool:
    """True when an instruction starting with ``halfword`` is 16 bits long."""
    return halfword & 3 != 3


class TrapUnit:
    """Delivers synchronous exceptions to M or S exactly as the spec says.

    ``read_phys(addr, n)`` reads guest physical memory (bytes, or None when
    nothing is there); ``mtime()`` gives the CLINT's ``mtime`` for ``rdtime``.
    ``on_trap(cause, epc, tval, target_priv)`` (optional) observes every
    delivered trap (issue 6's IPC trace, tests).
    """

    def __init__(self, cpu: Cpu, read_phys: Callable[[int, int], bytes | None],
                 mtime: Callable[[], int]) -> None:
        self.cpu = cpu
        # The hot path's register traffic in four library calls: the pc and
        # privilege at entry, the delegation/status/vector CSRs (read as M),
        # and everything a trap writes, per target level.
        self._entry = RegBatch(cpu, (_PC, _PRIV))
        self._csrs = RegBatch(cpu, (_MEDELEG, _MIDELEG, _MSTATUS, _STVEC, _MTVEC))
        self._to_s = RegBatch(cpu, (_SEPC, _SCAUSE, _STVAL, _MSTATUS, _PC, _PRIV))
        self._to_m = RegBatch(cpu, (_MEPC, _MCAUSE, _MTVAL, _MSTATUS, _PC))
        self.read_phys = read_phys
        self.mtime = mtime
        self.on_trap: Callable[[int, int, int, int], None] | None = None
        #: Count of delivered traps by cause (for statistics and tests).
        self.counts: dict[int, int] = {}
        self.rdtime_count = 0
        #: Traps delivered in the current slice, and the bound past which
        #: the hart is looping through trap entries without retiring
        #: anything (a fetch fault in the handler itself): the run loop
        #: sets both and reports such a storm as a hang.
        self.slice_traps = 0
        self.trap_limit = 1 << 62
        #: Called once, at the slice's first trap (the machine's long slices).
        self.on_first_trap: Callable[[], None] | None = None
        self.storm = False

    # ----- trap entry ---------------------------------------------------------

    def take(self, cause: int, epc: int, tval: int, prev: int | None = None) -> int:
        """Enter the trap handler for ``cause`` as from the current level
        (``prev``, when the caller has just read it).  Returns the level the
        trap was taken to (1 S or 3 M)."""
        # The hot path of every system call: plain ints, batched register
        # access (RegBatch).
        cpu = self.cpu
        if prev is None:
            prev = cpu.read(_PRIV)
        # From here on the hart runs in M (as the trap will, or S after):
        # the CSRs below are read with M's rights.
        if prev != _M:
            cpu.write(_PRIV, _M)
        medeleg, mideleg, status, stvec, mtvec = self._csrs.read()
        interrupt = cause >> 63
        code = cause & _CODE_MASK
        deleg = mideleg if interrupt else medeleg
        if prev != _M and (deleg >> code) & 1:
            target = _S
            spie = _SPIE if status & _SIE else 0
            spp = _SPP if prev == _S else 0
            status = (status & ~(_SPIE | _SIE | _SPP)) | spie | spp
            tvec = stvec
        else:
            target = _M
            mpie = _MPIE if status & _MIE else 0
            status = (status & ~(_MPIE | _MIE | _MPP)) | mpie | (prev << MSTATUS_MPP_SHIFT)
            tvec = mtvec
        base = tvec & ~3
        if interrupt and tvec & 3 == 1:
            base += 4 * code
        if target == _S:
            # In list order: the S CSRs and mstatus while still in M, then
            # the pc, then the privilege drops to S.
            self._to_s.write(epc, cause, tval, status, base, _S)
        else:
            self._to_m.write(epc, cause, tval, status, base)
        counts = self.counts
        counts[cause] = counts.get(cause, 0) + 1
        if self.on_trap is not None:
            self.on_trap(cause, epc, tval, target)
        return target

    # ----- entry points from Unicorn -------------------------------------------

    def hook_intr(self, uc: object, intno: int, user_data: object) -> None:
        """``UC_HOOK_INTR`` callback: a synchronous exception with pc + 4."""
        cpu = self.cpu
        pc, prev = self._entry.read()
        epc = pc - 4
        self.slice_traps += 1
        if self.on_first_trap is not None:
            cut, self.on_first_trap = self.on_first_trap, None
            cut()
        if self.slice_traps > self.trap_limit:
            # Each trap entry is counted by no instruction hook: a handler
            # whose own fetch faults would spin inside one emu_start forever.
            self.storm = True
            uc.emu_stop()  # type: ignore[attr-defined]
        if intno == UC_ECALL:
            self.take(_ECALL_CAUSE[prev], epc, 0, prev)
        elif intno == Exc.ILLEGAL_INSTRUCTION:
            bits = self.fetch_insn(epc)
            if bits is not None and self._emulate(epc, bits):
                return
            self.take(Exc.ILLEGAL_INSTRUCTION, epc, bits or 0)
        elif intno == Exc.BREAKPOINT:
            self.take(Exc.BREAKPOINT, epc, epc)
        elif intno in _ADDRESS_CAUSES:
            tval = cpu.badaddr()
            if intno in _FETCH_FAULTS and tval < epc and not epc & _PAGE_MASK:
                # Not a fetch fault: an illegal compressed instruction
                # first in a block at a page start (see _FETCH_FAULTS).
                bits = self.fetch_insn(epc)
                self.take(Exc.ILLEGAL_INSTRUCTION, epc, bits or 0)
                return
            if intno in _LOAD_TO_AMO and self._is_amo(epc):
                # QEMU 5 probes an AMO's address as a load; the spec makes
                # every AMO fault a store/AMO fault (§3.1.15, table 3.6).
                intno = _LOAD_TO_AMO[intno]
            self.take(intno, epc, tval)
        else:
            self.take(intno, epc, 0)

    def breakpoint(self, pc: int) -> None:
        """An ``ebreak``/``c.ebreak`` at ``pc`` (from the run loop)."""
        self.take(Exc.BREAKPOINT, pc, pc)

    def access_fault(self, cause: int, pc: int, addr: int) -> None:
        """A load/store/fetch of an unmapped physical address (from the run
        loop): ``cause`` is LOAD/STORE/INST_ACCESS_FAULT, ``addr`` the
        faulting virtual address."""
        self.take(cause, pc, addr)

    # ----- instruction bits ---------------------------------------------------

    def fetch_insn(self, va: int) -> int | None:
        """The 16 or 32 instruction bits at virtual ``va`` as the hart fetched
        them (translated when the current level is below M and satp is on),
        or None when they cannot be read."""
        low = self._read_virt16(va)
        if low is None:
            return None
        if is_compressed(low):
            return low
        high = self._read_virt16(va + 2)
        if high is None:
            return None
        return low | (high << 16)

    def _read_virt16(self, va: int) -> int | None:
        pa = self.translate_fetch(va)
        if pa is None:
            return None
        data = self.read_phys(pa, 2)
        return None if data is None else int.from_bytes(data, "little")

    def translate_fetch(self, va: int) -> int | None:
        """Physical address of an instruction fetch from ``va`` at the
        current level (None on a page fault)."""
        if self.cpu.priv == Priv.M:
            return va
        satp = self.cpu.csr_read(CSR.SATP)

        def pte(pa: int) -> int | None:
            data = self.read_phys(pa, 8)
            return None if data is None else int.from_bytes(data, "little")

        return sv39.translate(satp, va, pte)

    def _is_amo(self, epc: int) -> bool:
        """True when the instruction at ``epc`` is an AMO or SC (not LR)."""
        bits = self.fetch_insn(epc)
        return (bits is not None and bits & 0x7F == _OPCODE_AMO
                and bits >> 27 != _FUNCT5_LR)

    # ----- emulated instructions ------------------------------------------------

    def _emulate(self, epc: int, bits: int) -> bool:
        """Emulate ``bits`` at ``epc`` if it is a read of ``time``; True if done."""
        if bits & 0x7F != _OPCODE_SYSTEM or (bits >> 20) != CSR.TIME:
            return False
        funct3 = (bits >> 12) & 7
        rs1 = (bits >> 15) & 0x1F
        # Only the forms that do not write the CSR: csrrs/csrrc with rs1 = x0,
        # csrrsi/csrrci with uimm = 0.  Writing read-only `time` is illegal.
        if funct3 not in (_F3_CSRRS, _F3_CSRRC, _F3_CSRRSI, _F3_CSRRCI) or rs1 != 0:
            return False
        cpu = self.cpu
        priv = cpu.priv
        if priv != Priv.M:
            if not cpu.csr_read(CSR.MCOUNTEREN) & COUNTEREN_TM:
                return False
            if priv == Priv.U and not cpu.csr_read(CSR.SCOUNTEREN) & COUNTEREN_TM:
                return False
        cpu.set_gpr((bits >> 7) & 0x1F, self.mtime())
        cpu.pc = epc + 4
        self.rdtime_count += 1
        return True
