"""The trap unit against the RISC-V Privileged Architecture (v1.12).

Each test builds a small program (GNU as, tests/hypervisor/build.py), runs it
on a :class:`Machine` until the first instruction of the M or S trap vector
(a breakpoint) and checks what the spec says trap entry must leave behind:
xepc (§3.1.14: the address of the trapping instruction), xcause (§3.1.15),
xtval (§3.1.16: faulting address, instruction bits, pc for ebreak, 0 for
ecall), xstatus (§3.1.6.1: xPIE <- xIE, xIE <- 0, xPP <- previous level) and
the privilege level, with and without medeleg (§3.1.8).
"""

from __future__ import annotations

import pytest

from septum.hypervisor.machine import Machine
from septum.tests.hypervisor.build import trap_program
from septum.toolchain.riscv import CAUSE_INTERRUPT, CSR, Exc, Mstatus, Priv

U, S, M = int(Priv.U), int(Priv.S), int(Priv.M)
ALL = 0xB3FF  # every delegable exception bit (medeleg bit 11 is read-only 0)


def run_to_trap(body: str, mode: int, medeleg: int = 0, mideleg: int = 0, setup: str = "",
                extra: str = "", max_insns: int = 200_000,
                entry_offset: int = 0) -> tuple[Machine, int]:
    """Run the program until a trap vector; return the machine and the
    level whose vector was reached."""
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program(body, mode, medeleg, mideleg, setup, extra, entry_offset)))
    vectors = {m.symbols["mtrap"]: M, m.symbols["strap"]: S}
    r = m.run(max_insns=max_insns, breakpoints=list(vectors))
    assert r.kind == "breakpoint", r
    return m, vectors[r.pc]


def check_entry(m: Machine, level: int, target: int, cause: int, epc: int, tval: int) -> None:
    """The spec's trap-entry state for a trap from ``level`` to ``target``."""
    assert m.priv == target
    status = m.csr_read(CSR.MSTATUS)
    if target == M:
        assert m.csr_read(CSR.MCAUSE) == cause
        assert m.csr_read(CSR.MEPC) == epc
        assert m.csr_read(CSR.MTVAL) == tval
        assert (status & Mstatus.MPP) >> 11 == level
        assert not status & Mstatus.MIE
    else:
        assert m.csr_read(CSR.SCAUSE) == cause
        assert m.csr_read(CSR.SEPC) == epc
        assert m.csr_read(CSR.STVAL) == tval
        assert bool(status & Mstatus.SPP) == (level == S)
        assert not status & Mstatus.SIE
        # Nothing was written to the M-level registers.
        assert m.csr_read(CSR.MCAUSE) == 0


def expected_target(level: int, medeleg: int, code: int) -> int:
    """§3.1.8: delegated traps from U/S go to S; traps in M stay in M."""
    return S if level != M and (medeleg >> code) & 1 else M


LEVELS = [U, S, M]
DELEG = [0, ALL]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("medeleg", DELEG)
def test_ecall(level: int, medeleg: int) -> None:
    m, target = run_to_trap("nop\nsite: ecall\n", level, medeleg)
    cause = {U: Exc.ECALL_U, S: Exc.ECALL_S, M: Exc.ECALL_M}[level]
    assert target == expected_target(level, medeleg, cause)
    check_entry(m, level, target, cause, m.symbols["site"], 0)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("medeleg", DELEG)
def test_illegal_instruction_32bit_tval_is_the_bits(level: int, medeleg: int) -> None:
    # csrrs a0, 0x7c0, zero: a CSR this hart does not have.
    bits = (0x7C0 << 20) | (2 << 12) | (10 << 7) | 0x73
    m, target = run_to_trap(f"nop\nsite: .word {bits:#x}\n", level, medeleg)
    assert target == expected_target(level, medeleg, Exc.ILLEGAL_INSTRUCTION)
    check_entry(m, level, target, Exc.ILLEGAL_INSTRUCTION, m.symbols["site"], bits)


@pytest.mark.parametrize("level", [U, M])
def test_illegal_instruction_16bit(level: int) -> None:
    # c.addi4spn with a zero immediate is reserved (unprivileged spec §16.3).
    m, target = run_to_trap("c.nop\nsite: .hword 0x0004\n", level, ALL)
    check_entry(m, level, target, Exc.ILLEGAL_INSTRUCTION, m.symbols["site"], 0x0004)


def test_illegal_privileged_csr_from_user() -> None:
    # csrr a0, mstatus from U: illegal, xtval = the instruction's bits.
    bits = (0x300 << 20) | (2 << 12) | (10 << 7) | 0x73
    m, target = run_to_trap(".option norvc\nsite: csrr a0, mstatus\n", U, 0)
    check_entry(m, U, M, Exc.ILLEGAL_INSTRUCTION, m.symbols["site"], bits)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("medeleg", DELEG)
@pytest.mark.parametrize("insn", ["ebreak", "c.ebreak"])
def test_breakpoint_tval_is_pc(level: int, medeleg: int, insn: str) -> None:
    body = f".option norvc\nnop\nsite: {insn}\n" if insn == "ebreak" else f"c.nop\nsite: {insn}\n"
    m, target = run_to_trap(body, level, medeleg)
    assert target == expected_target(level, medeleg, Exc.BREAKPOINT)
    site = m.symbols["site"]
    check_entry(m, level, target, Exc.BREAKPOINT, site, site)


HOLE = 0x2000_0000  # physical address with nothing behind it


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("medeleg", DELEG)
@pytest.mark.parametrize("kind", ["lw", "c.lw", "sd", "c.sw"])
def test_access_fault_on_unmapped_physical(level: int, medeleg: int, kind: str) -> None:
    insn = {"lw": "lw a0, 8(a1)", "c.lw": "c.lw a0, 8(a1)",
            "sd": "sd a0, 8(a1)", "c.sw": "c.sw a0, 8(a1)"}[kind]
    cause = Exc.LOAD_ACCESS_FAULT if "l" in kind else Exc.STORE_ACCESS_FAULT
    m, target = run_to_trap(f"li a1, {HOLE:#x}\nsite: {insn}\n", level, medeleg)
    assert target == expected_target(level, medeleg, cause)
    check_entry(m, level, target, cause, m.symbols["site"], HOLE + 8)


@pytest.mark.parametrize("level", [U, M])
def test_fetch_access_fault(level: int) -> None:
    m, target = run_to_trap(f"li a1, {HOLE:#x}\nsite: jr a1\n", level, ALL)
    assert target == expected_target(level, ALL, Exc.INST_ACCESS_FAULT)
    check_entry(m, level, target, Exc.INST_ACCESS_FAULT, HOLE, HOLE)


# Sv39: one gigapage maps 0x8000_0000.. to itself for S (no U bit), a second
# one maps 0xC000_0000.. to the same memory with the U bit (U-mode code runs
# there); 0x4000_0000.. is not mapped.
SV39_SETUP = r"""
    la t0, root
    li t1, (0x80000 << 10) | 0xCF
    sd t1, 16(t0)
    li t1, (0x80000 << 10) | 0xDF
    sd t1, 24(t0)
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
"""
SV39_EXTRA = """
.align 12
root: .zero 4096
"""
UNMAPPED_VA = 0x4000_0010


ALIAS = 0x4000_0000  # U-mode code runs at its address + ALIAS


def sv39(level: int) -> dict[str, object]:
    return {"setup": SV39_SETUP, "extra": SV39_EXTRA,
            "entry_offset": ALIAS if level == U else 0}


@pytest.mark.parametrize("level", [U, S])
@pytest.mark.parametrize("medeleg", DELEG)
@pytest.mark.parametrize("kind", ["load", "store", "amo", "fetch"])
def test_page_faults_tval_is_virtual_address(level: int, medeleg: int, kind: str) -> None:
    body, cause = {
        "load": ("site: ld a0, 0(a1)", Exc.LOAD_PAGE_FAULT),
        "store": ("site: c.sd a0, 0(a1)", Exc.STORE_PAGE_FAULT),
        "amo": ("site: amoadd.d a0, a0, (a1)", Exc.STORE_PAGE_FAULT),
        "fetch": ("site: jalr a1", Exc.INST_PAGE_FAULT),
    }[kind]
    m, target = run_to_trap(f"li a1, {UNMAPPED_VA:#x}\n{body}\n", level, medeleg, **sv39(level))
    assert target == expected_target(level, medeleg, cause)
    epc = UNMAPPED_VA if kind == "fetch" else m.symbols["site"] + (ALIAS if level == U else 0)
    # stval comes from QEMU's env->badaddr (cpu.CTX_BADADDR): if Unicorn's
    # context layout moves, this fails.
    check_entry(m, level, target, cause, epc, UNMAPPED_VA)


def test_user_fetch_of_supervisor_page_faults() -> None:
    # Entering U at the S-only mapping: the first fetch faults.
    m, target = run_to_trap("nop\n", U, 0, **sv39(S))
    check_entry(m, U, M, Exc.INST_PAGE_FAULT, m.symbols["body"], m.symbols["body"])


def test_trap_storm_is_reported_not_hung() -> None:
    # U faults, delegated to S, whose vector is only mapped for U: the S
    # fetch faults again, forever, without retiring an instruction.
    setup = SV39_SETUP + "li t0, 0x40000000\nla t1, strap\nadd t0, t0, t1\ncsrw stvec, t0\n"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program("ecall\n", U, ALL, 0, setup, SV39_EXTRA, ALIAS)))
    r = m.run(max_insns=100_000)
    assert r.kind == "hang" and "trap storm" in r.message


@pytest.mark.parametrize("level", [U, M])
def test_misaligned_amo(level: int) -> None:
    body = "la a1, word\naddi a1, a1, 2\nsite: amoadd.w a0, a0, (a1)\n"
    extra = ".align 3\nword: .dword 0\n"
    m, target = run_to_trap(body, level, 0, extra=extra)
    check_entry(m, level, M, Exc.STORE_ADDR_MISALIGNED, m.symbols["site"],
                m.symbols["word"] + 2)


def test_status_stacking_to_m_from_s_with_interrupts_enabled() -> None:
    # mret enters S with MPIE=1 -> MIE=1 in S; SIE=1 set in S; the trap to M
    # must stack MIE into MPIE and leave SIE alone.
    m, target = run_to_trap("csrsi sstatus, 2\nsite: ecall\n", S, 0,
                            setup="li t0, 0x80\ncsrs mstatus, t0")
    status = m.csr_read(CSR.MSTATUS)
    assert target == M
    assert status & Mstatus.MPIE and not status & Mstatus.MIE
    assert status & Mstatus.SIE
    assert (status & Mstatus.MPP) >> 11 == S


def test_status_stacking_to_s_from_u() -> None:
    # SIE=1 while in U: the delegated trap stacks it into SPIE, SPP=0.
    m, target = run_to_trap("site: ecall\n", U, ALL, setup="csrsi mstatus, 2")
    status = m.csr_read(CSR.MSTATUS)
    assert target == S
    assert status & Mstatus.SPIE and not status & Mstatus.SIE and not status & Mstatus.SPP


def test_nested_trap_from_s_handler_to_m() -> None:
    # U ecall -> S handler (delegated), which itself does ecall -> M.
    extra = ".align 2\nshandler: ecall\n"
    m, target = run_to_trap("site: ecall\n", U, 1 << 8,
                            setup="la t0, shandler\ncsrw stvec, t0", extra=extra)
    assert target == M
    check_entry(m, S, M, Exc.ECALL_S, m.symbols["shandler"], 0)
    assert m.csr_read(CSR.SCAUSE) == Exc.ECALL_U
    assert m.csr_read(CSR.SEPC) == m.symbols["site"]
    assert not m.csr_read(CSR.MSTATUS) & Mstatus.SPP


def test_mret_and_sret_return_to_the_right_level() -> None:
    # U ecall -> M handler skips it and mrets; then a delegated ebreak -> S
    # handler skips it and srets; back in U, an illegal csrr traps to M.
    extra = r"""
.align 2
mhandler:
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    la t0, mtrap
    csrw mtvec, t0
    mret
.align 2
shandler:
    csrr t0, sepc
    addi t0, t0, 4
    csrw sepc, t0
    la t0, strap
    csrw stvec, t0
    sret
"""
    body = ".option norvc\necall\nebreak\nsite: csrr a0, mstatus\n"
    setup = "la t0, mhandler\ncsrw mtvec, t0\nla t0, shandler\ncsrw stvec, t0"
    m, target = run_to_trap(body, U, 1 << 3, setup=setup, extra=extra)
    assert target == M
    assert m.csr_read(CSR.MCAUSE) == Exc.ILLEGAL_INSTRUCTION
    assert m.csr_read(CSR.MEPC) == m.symbols["site"]
    assert (m.csr_read(CSR.MSTATUS) & Mstatus.MPP) == 0
    assert m.csr_read(CSR.SCAUSE) == Exc.BREAKPOINT


TIMER_SETUP = r"""
    li t0, MTIME
    ld t1, 0(t0)
    addi t1, t1, 500
    li t0, MTIMECMP
    sd t1, 0(t0)
    li t0, 0x80
    csrs mie, t0
"""


def test_vectored_machine_timer_interrupt() -> None:
    extra = r"""
.align 6
vectors:
    .rept 16
    j mtrap
    .endr
"""
    # MPIE=1: the mret into the body turns MIE on.
    setup = TIMER_SETUP + "la t0, vectors\naddi t0, t0, 1\ncsrw mtvec, t0\nli t0, 0x80\ncsrs mstatus, t0\n"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program("spin: j spin\n", M, 0, 0, setup, extra)))
    slot = m.symbols["vectors"] + 4 * 7
    r = m.run(max_insns=100_000, breakpoints=[slot, m.symbols["mtrap"]])
    assert r.kind == "breakpoint" and r.pc == slot
    assert m.csr_read(CSR.MCAUSE) == CAUSE_INTERRUPT | 7
    assert m.csr_read(CSR.MEPC) == m.symbols["spin"]
    assert m.csr_read(CSR.MIP) & 0x80  # the guest sees MTIP in mip
    assert m.time >= m.clint.mtimecmp


def test_vectored_supervisor_timer_interrupt_from_stip() -> None:
    extra = r"""
.align 6
svectors:
    .rept 16
    j strap
    .endr
"""
    setup = ("li t0, 0x20\ncsrs mideleg, t0\ncsrs mip, t0\n"
             "la t0, svectors\naddi t0, t0, 1\ncsrw stvec, t0\n")
    body = "li t0, 0x20\ncsrs sie, t0\ncsrsi sstatus, 2\nspin: j spin\n"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program(body, S, 0, 0, setup, extra)))
    slot = m.symbols["svectors"] + 4 * 5
    r = m.run(max_insns=100_000, breakpoints=[slot, m.symbols["mtrap"], m.symbols["strap"]])
    assert r.kind == "breakpoint" and r.pc == slot
    assert m.csr_read(CSR.SCAUSE) == CAUSE_INTERRUPT | 5
    assert m.priv == S


def test_wfi_wakes_on_clint_timer_with_interrupts_globally_off() -> None:
    # mie.MTIE=1, mstatus.MIE=0: wfi resumes without trapping (§3.3.3),
    # virtual time fast-forwarded to mtimecmp.
    body = "wfi\nsite: nop\nj site\n"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program(body, M, 0, 0, TIMER_SETUP)))
    r = m.run(max_insns=100_000, breakpoints=[m.symbols["site"], m.symbols["mtrap"]])
    assert r.kind == "breakpoint" and r.pc == m.symbols["site"]
    assert m.time >= m.clint.mtimecmp
    # Far fewer instructions ran than 500 ticks would take.
    assert m.instret < 500 * 10


def test_wfi_wakes_on_clint_timer_and_traps_to_m() -> None:
    body = "csrsi mstatus, 8\nwfi\nafter: j after\n"
    m, target = run_to_trap(body, M, 0, setup=TIMER_SETUP)
    assert target == M
    assert m.csr_read(CSR.MCAUSE) == CAUSE_INTERRUPT | 7
    assert m.csr_read(CSR.MEPC) == m.symbols["after"]


def test_wfi_in_s_woken_by_stip_set_from_m_timer_handler() -> None:
    # The SBI pattern: MTI in M sets mip.STIP and masks MTIE; S takes STI.
    extra = r"""
.align 2
mtimer:
    li t0, 0x20
    csrs mip, t0
    li t0, 0x80
    csrc mie, t0
    mret
"""
    setup = TIMER_SETUP + "la t0, mtimer\ncsrw mtvec, t0\nli t0, 0x20\ncsrs mideleg, t0\n"
    body = "li t0, 0x20\ncsrs sie, t0\ncsrsi sstatus, 2\nwfi\nafter: j after\n"
    m, target = run_to_trap(body, S, 0, setup=setup, extra=extra)
    assert target == S
    assert m.csr_read(CSR.SCAUSE) == CAUSE_INTERRUPT | 5
    assert m.csr_read(CSR.SEPC) == m.symbols["after"]
    assert m.time >= m.clint.mtimecmp


def test_wfi_with_nothing_enabled_is_a_hang() -> None:
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program("wfi\nj body\n", M)))
    r = m.run(max_insns=100_000)
    assert r.kind == "hang"


def test_rdtime_in_m_reads_mtime() -> None:
    body = "li a0, 0\nsite: csrr a0, time\nafter: j after\n"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program(body, M)))
    r = m.run(max_insns=10_000, breakpoints=[m.symbols["after"], m.symbols["mtrap"]])
    assert r.pc == m.symbols["after"]
    # mtime counts one tick per 10 retired instructions from power-on.
    assert m.regs.a0 == m.time or m.regs.a0 == m.time - 1
    assert m.regs.a0 > 0


@pytest.mark.parametrize("level,mcen,scen,ok", [
    (S, 2, 0, True), (S, 0, 2, False), (U, 2, 2, True), (U, 2, 0, False), (U, 0, 2, False),
])
def test_rdtime_obeys_counteren(level: int, mcen: int, scen: int, ok: bool) -> None:
    setup = f"li t0, {mcen}\ncsrw mcounteren, t0\nli t0, {scen}\ncsrw scounteren, t0\n"
    body = ".option norvc\nli a0, 0\nsite: rdtime a0\nafter: j after\n"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program(body, level, 0, 0, setup)))
    r = m.run(max_insns=10_000, breakpoints=[m.symbols["after"], m.symbols["mtrap"]])
    if ok:
        assert r.pc == m.symbols["after"] and m.priv == level
        assert 0 < m.regs.a0 <= m.time
    else:
        assert r.pc == m.symbols["mtrap"]
        bits = (0xC01 << 20) | (2 << 12) | (10 << 7) | 0x73
        check_entry(m, level, M, Exc.ILLEGAL_INSTRUCTION, m.symbols["site"], bits)


# ----- illegal instructions at a page start, under 4 KiB Sv39 pages -------------------
#
# U-mode code runs at UCODE_VA (a 4 KiB page); the page before it is mapped
# (to PREV_PA's page) or not.  Unicorn gives a block that starts with an
# illegal compressed instruction the size 0 and then probes the previous
# page: without the trap unit's correction this was reported as an
# instruction page fault with xtval = the previous page (SWIFI, issue 3).
# The spec (§3.1.15, §3.1.16): illegal instruction, xepc = the instruction,
# xtval = its bits.  A second mapping of the same physical page at
# UALIAS_VA lets the coherence tests write through another alias.

UCODE_VA, UALIAS_VA = 0x4000_1000, 0x4000_3000

PAGED_SETUP = r"""
    la t0, root
    li t1, (0x80000 << 10) | 0xCF
    sd t1, 16(t0)
    la t2, l1
    srli t2, t2, 12
    slli t2, t2, 10
    ori t2, t2, 1
    sd t2, 8(t0)
    la t0, l1
    la t2, l0
    srli t2, t2, 12
    slli t2, t2, 10
    ori t2, t2, 1
    sd t2, 0(t0)
    la t0, l0
    la t2, upage
    srli t2, t2, 12
    slli t2, t2, 10
    ori t2, t2, 0xDB
    sd t2, 8(t0)
    sd t2, 24(t0)
    .if {prev}
    la t2, prevpage
    srli t2, t2, 12
    slli t2, t2, 10
    ori t2, t2, 0xDB
    sd t2, 0(t0)
    .endif
    la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
"""
PAGED_EXTRA = r"""
.align 12
root: .zero 4096
l1: .zero 4096
l0: .zero 4096
prevpage:
    .zero 4092
    .option push
    .option norvc
    nop
    .option pop
.balign 4096
upage:
    {code}
"""


def paged_machine(code: str, prev: bool, medeleg: int) -> Machine:
    """A machine whose mret enters U at UCODE_VA, where ``code`` starts a page."""
    # The skeleton's mepc is body + entry_offset (``li t1, {entry_offset}``,
    # then ``add t0, t0, t1``): this offset line makes it UCODE_VA instead.
    enter = f"0\n    li t0, {UCODE_VA:#x}\n    li t1, 0"
    m = Machine(ram_size=16 << 20)
    m.boot(kernel=str(trap_program(
        "nop\n", U, medeleg, 0, PAGED_SETUP.format(prev=int(prev)),
        PAGED_EXTRA.format(code=code), entry_offset=enter)))  # type: ignore[arg-type]
    return m


def run_to_vector(m: Machine, max_insns: int = 100_000) -> int:
    """Run to the first instruction of a trap vector; return its level."""
    vectors = {m.symbols["mtrap"]: M, m.symbols["strap"]: S}
    r = m.run(max_insns=max_insns, breakpoints=list(vectors))
    assert r.kind == "breakpoint", r
    return vectors[r.pc]


def run_paged(code: str, prev: bool, medeleg: int) -> tuple[Machine, int]:
    m = paged_machine(code, prev, medeleg)
    return m, run_to_vector(m)


PAGE_START_ILLEGAL = [
    (".hword 0", 0x0000),          # c.unimp (all zeros: what SWIFI wrote)
    (".hword 0x0004", 0x0004),     # c.addi4spn with imm 0: reserved
    (".word 0x00000057", 0x57),    # OP-V: no vector unit, illegal at decode
    (".word 0x7c002573", 0x7C002573),  # csrrs a0, 0x7c0: no such CSR
]


@pytest.mark.parametrize("prev", [False, True])
@pytest.mark.parametrize("medeleg", DELEG)
@pytest.mark.parametrize("code,bits", PAGE_START_ILLEGAL)
def test_illegal_instruction_at_page_start_first_execution(prev: bool, medeleg: int,
                                                           code: str, bits: int) -> None:
    m, target = run_paged(code, prev, medeleg)
    assert target == expected_target(U, medeleg, Exc.ILLEGAL_INSTRUCTION)
    check_entry(m, U, target, Exc.ILLEGAL_INSTRUCTION, UCODE_VA, bits)


# The U page runs a loop first, so its blocks exist; the host then writes
# over the first instruction (4-byte encodings: .option norvc).
LOOP = ".option push\n.option norvc\n1: addi a0, a0, 1\naddi a1, a1, 1\nj 1b\n.option pop\n"


def loop_in_user(prev: bool, medeleg: int) -> Machine:
    m = paged_machine(LOOP, prev, medeleg)
    r = m.run(max_insns=500)
    if m.pc == UCODE_VA:
        r = m.step()
    # Stopped inside the loop but not at its head: the block at UCODE_VA
    # exists and is what the loop's jump goes back to.
    assert r.kind == "budget" and m.priv == U and m.pc in (UCODE_VA + 4, UCODE_VA + 8)
    assert m.regs.a0 > 10
    return m


@pytest.mark.parametrize("prev", [False, True])
@pytest.mark.parametrize("medeleg", DELEG)
@pytest.mark.parametrize("word,bits", [(0, 0), (0x00000057, 0x57)])
def test_illegal_instruction_written_over_translated_code(prev: bool, medeleg: int,
                                                          word: int, bits: int) -> None:
    # What SWIFI does: write_phys over code the task already ran, while the
    # hart is in U under a page table that does not map that physical
    # address at the same virtual one.
    m = loop_in_user(prev, medeleg)
    m.write_phys(m.symbols["upage"], word.to_bytes(4, "little"))
    target = run_to_vector(m)
    assert target == expected_target(U, medeleg, Exc.ILLEGAL_INSTRUCTION)
    check_entry(m, U, target, Exc.ILLEGAL_INSTRUCTION, UCODE_VA, bits)


ECALL = 0x00000073


@pytest.mark.parametrize("how", ["write_phys", "write_virt_alias", "write_virt_same"])
def test_code_write_is_coherent_for_every_alias(how: str) -> None:
    # The loop's blocks were translated at UCODE_VA; the write goes to the
    # physical page, or through the second mapping UALIAS_VA, or through
    # UCODE_VA itself.  Every way, the next fetch sees the new instruction.
    m = loop_in_user(True, 0)
    insn = ECALL.to_bytes(4, "little")
    if how == "write_phys":
        m.write_phys(m.symbols["upage"], insn)
    elif how == "write_virt_alias":
        m.write_virt(UALIAS_VA, insn)
    else:
        m.write_virt(UCODE_VA, insn)
    assert m.read_virt(UCODE_VA, 4) == insn
    assert run_to_vector(m) == M
    check_entry(m, U, M, Exc.ECALL_U, UCODE_VA, 0)


def test_code_write_from_m_is_seen_by_a_user_alias() -> None:
    # Blocks of the same physical page translated at two virtual addresses
    # (UCODE_VA by the loop, UALIAS_VA after a jump there); the host writes
    # while the hart is in M (identity): both aliases see the new code.
    m = loop_in_user(True, 0)
    m.pc = UALIAS_VA + 4
    r = m.run(max_insns=300)
    if m.pc == UALIAS_VA:
        r = m.step()
    assert r.kind == "budget" and m.pc in (UALIAS_VA + 4, UALIAS_VA + 8)
    m.cpu.priv = M
    m.write_phys(m.symbols["upage"], ECALL.to_bytes(4, "little"))
    m.cpu.priv = U
    for va in (UALIAS_VA, UCODE_VA):
        m.pc = va + 4  # the loop's jump goes back to the block at va
        m.csr_write(CSR.MCAUSE, 0)
        assert run_to_vector(m) == M
        check_entry(m, U, M, Exc.ECALL_U, va, 0)
        m.cpu.priv = U
        status = m.csr_read(CSR.MSTATUS)
        m.csr_write(CSR.MSTATUS, status & ~Mstatus.MPP)


# The same page-start cases on real QEMU (tests/hypervisor/peer.py): an M
# handler prints the cause as a letter ('A' + mcause) and powers off when
# mepc is the instruction and mtval is 0 or its bits (the spec allows
# either; Septum writes the bits), else exits with code 3.
PEER_HANDLER = r"""
.align 2
mhandler:
    csrr s1, mcause
    addi a0, s1, 'A'
    PUTC a0
    li a0, '\n'
    PUTC a0
    csrr s2, mepc
    li t0, {va:#x}
    bne s2, t0, 1f
    csrr s3, mtval
    beqz s3, 2f
    li t0, {bits:#x}
    bne s3, t0, 1f
2:  POWEROFF
1:  EXIT 3
"""


@pytest.mark.parametrize("code,bits", PAGE_START_ILLEGAL[:3])
def test_illegal_instruction_at_page_start_same_as_qemu(code: str, bits: int) -> None:
    from septum.tests.hypervisor import peer

    setup = PAGED_SETUP.format(prev=0) + "la t0, mhandler\ncsrw mtvec, t0\n"
    extra = PAGED_EXTRA.format(code=code) + PEER_HANDLER.format(va=UCODE_VA, bits=bits)
    enter = f"0\n    li t0, {UCODE_VA:#x}\n    li t1, 0"
    elf = trap_program("nop\n", U, 0, 0, setup, extra, entry_offset=enter)  # type: ignore[arg-type]
    theirs = peer.run_qemu(elf)
    ours = peer.run_septum(elf)
    assert theirs.stdout == ours.stdout == b"C\n"  # cause 2: illegal instruction
    assert theirs.returncode == ours.returncode == 0
