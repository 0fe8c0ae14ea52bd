"""The RISC-V architecture's names and numbers, kept once for all of Septum.

The assembler takes CSR names from here, the trap unit its cause codes and
status bits, and the kernel's generated include files their constants.  Every
value is from the RISC-V Privileged Architecture (version 1.12) unless a comment
says otherwise; each name is the specification's.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

# ---------------------------------------------------------------------------
# Control and status registers (Privileged spec, chapter 2, tables 2.2–2.6)
# ---------------------------------------------------------------------------


def _csr_table() -> dict[str, int]:
    t: dict[str, int] = {
        # Unprivileged floating-point CSRs
        "fflags": 0x001, "frm": 0x002, "fcsr": 0x003,
        # Unprivileged counters/timers (read-only shadows)
        "cycle": 0xC00, "time": 0xC01, "instret": 0xC02,
        "cycleh": 0xC80, "timeh": 0xC81, "instreth": 0xC82,
        # Supervisor trap setup, configuration, trap handling, protection
        "sstatus": 0x100, "sie": 0x104, "stvec": 0x105, "scounteren": 0x106,
        "senvcfg": 0x10A,
        "sscratch": 0x140, "sepc": 0x141, "scause": 0x142, "stval": 0x143,
        "sip": 0x144,
        "satp": 0x180,
        "scontext": 0x5A8,
        # Hypervisor and virtual-supervisor CSRs
        "hstatus": 0x600, "hedeleg": 0x602, "hideleg": 0x603, "hie": 0x604,
        "htimedelta": 0x605, "hcounteren": 0x606, "hgeie": 0x607,
        "henvcfg": 0x60A, "htimedeltah": 0x615, "henvcfgh": 0x61A,
        "htval": 0x643, "hip": 0x644, "hvip": 0x645, "htinst": 0x64A,
        "hgatp": 0x680, "hcontext": 0x6A8, "hgeip": 0xE12,
        "vsstatus": 0x200, "vsie": 0x204, "vstvec": 0x205, "vsscratch": 0x240,
        "vsepc": 0x241, "vscause": 0x242, "vstval": 0x243, "vsip": 0x244,
        "vsatp": 0x280,
        # Machine information registers
        "mvendorid": 0xF11, "marchid": 0xF12, "mimpid": 0xF13, "mhartid": 0xF14,
        "mconfigptr": 0xF15,
        # Machine trap setup
        "mstatus": 0x300, "misa": 0x301, "medeleg": 0x302, "mideleg": 0x303,
        "mie": 0x304, "mtvec": 0x305, "mcounteren": 0x306, "mstatush": 0x310,
        # Machine trap handling
        "mscratch": 0x340, "mepc": 0x341, "mcause": 0x342, "mtval": 0x343,
        "mip": 0x344, "mtinst": 0x34A, "mtval2": 0x34B,
        # Machine configuration
        "menvcfg": 0x30A, "menvcfgh": 0x31A, "mseccfg": 0x747, "mseccfgh": 0x757,
        # Machine counters
        "mcycle": 0xB00, "minstret": 0xB02, "mcycleh": 0xB80, "minstreth": 0xB82,
        "mcountinhibit": 0x320,
        # Debug/trace registers (shared with debug mode)
        "tselect": 0x7A0, "tdata1": 0x7A1, "tdata2": 0x7A2, "tdata3": 0x7A3,
        "tinfo": 0x7A4, "tcontrol": 0x7A5, "mcontext": 0x7A8,
        # Debug mode registers
        "dcsr": 0x7B0, "dpc": 0x7B1, "dscratch0": 0x7B2, "dscratch1": 0x7B3,
    }
    for n in range(3, 32):
        t[f"hpmcounter{n}"] = 0xC00 + n
        t[f"hpmcounter{n}h"] = 0xC80 + n
        t[f"mhpmcounter{n}"] = 0xB00 + n
        t[f"mhpmcounter{n}h"] = 0xB80 + n
        t[f"mhpmevent{n}"] = 0x320 + n
    for n in range(16):
        t[f"pmpcfg{n}"] = 0x3A0 + n
    for n in range(64):
        t[f"pmpaddr{n}"] = 0x3B0 + n
    return t


#: Every CSR name of the privileged specification, mapped to its number.
CSR_NAMES: dict[str, int] = _csr_table()

#: Older names that GNU ``as`` still accepts, mapped to the same numbers.
CSR_ALIASES: dict[str, int] = {"dscratch": 0x7B2}

#: Number → canonical name (the first name given above for that number).
CSR_BY_NUMBER: dict[int, str] = {}
for _name, _num in CSR_NAMES.items():
    CSR_BY_NUMBER.setdefault(_num, _name)
del _name, _num


class CSR(IntEnum):
    """The CSRs Septum's own Python code touches, by their spec names."""

    SSTATUS = 0x100
    SIE = 0x104
    STVEC = 0x105
    SCOUNTEREN = 0x106
    SSCRATCH = 0x140
    SEPC = 0x141
    SCAUSE = 0x142
    STVAL = 0x143
    SIP = 0x144
    SATP = 0x180
    MSTATUS = 0x300
    MISA = 0x301
    MEDELEG = 0x302
    MIDELEG = 0x303
    MIE = 0x304
    MTVEC = 0x305
    MCOUNTEREN = 0x306
    MSCRATCH = 0x340
    MEPC = 0x341
    MCAUSE = 0x342
    MTVAL = 0x343
    MIP = 0x344
    PMPCFG0 = 0x3A0
    PMPADDR0 = 0x3B0
    MHARTID = 0xF14
    CYCLE = 0xC00
    TIME = 0xC01
    INSTRET = 0xC02


# ---------------------------------------------------------------------------
# Privilege levels and trap causes (Privileged spec §3.1.15, table 3.6)
# ---------------------------------------------------------------------------


class Priv(IntEnum):
    """Privilege levels as encoded in xPP fields and UC_RISCV_REG_PRIV."""

    U = 0
    S = 1
    M = 3


class Exc(IntEnum):
    """Synchronous exception codes (xcause with the interrupt bit clear)."""

    INST_ADDR_MISALIGNED = 0
    INST_ACCESS_FAULT = 1
    ILLEGAL_INSTRUCTION = 2
    BREAKPOINT = 3
    LOAD_ADDR_MISALIGNED = 4
    LOAD_ACCESS_FAULT = 5
    STORE_ADDR_MISALIGNED = 6  # also AMOs
    STORE_ACCESS_FAULT = 7  # also AMOs
    ECALL_U = 8
    ECALL_S = 9
    ECALL_VS = 10
    ECALL_M = 11
    INST_PAGE_FAULT = 12
    LOAD_PAGE_FAULT = 13
    STORE_PAGE_FAULT = 15  # also AMOs


class Irq(IntEnum):
    """Interrupt codes (xcause with the interrupt bit set; bit n of mip/mie)."""

    SSI = 1  # supervisor software
    MSI = 3  # machine software
    STI = 5  # supervisor timer
    MTI = 7  # machine timer
    SEI = 9  # supervisor external
    MEI = 11  # machine external


#: The interrupt bit of xcause on RV64.
CAUSE_INTERRUPT = 1 << 63


class Mip(IntFlag):
    """Bits of mip/mie (and of sip/sie, which show the S-level subset)."""

    SSIP = 1 << Irq.SSI
    MSIP = 1 << Irq.MSI
    STIP = 1 << Irq.STI
    MTIP = 1 << Irq.MTI
    SEIP = 1 << Irq.SEI
    MEIP = 1 << Irq.MEI


class Mstatus(IntFlag):
    """Fields of mstatus (RV64; sstatus is a restricted view of the same)."""

    SIE = 1 << 1
    MIE = 1 << 3
    SPIE = 1 << 5
    UBE = 1 << 6
    MPIE = 1 << 7
    SPP = 1 << 8
    VS = 3 << 9
    MPP = 3 << 11
    FS = 3 << 13
    XS = 3 << 15
    MPRV = 1 << 17
    SUM = 1 << 18
    MXR = 1 << 19
    TVM = 1 << 20
    TW = 1 << 21
    TSR = 1 << 22
    UXL = 3 << 32
    SXL = 3 << 34
    SBE = 1 << 36
    MBE = 1 << 37
    SD = 1 << 63


MSTATUS_MPP_SHIFT = 11


# ---------------------------------------------------------------------------
# Sv39 virtual memory (Privileged spec §4.4)
# ---------------------------------------------------------------------------

SATP_MODE_SHIFT = 60
SATP_MODE_BARE = 0
SATP_MODE_SV39 = 8
SATP_ASID_SHIFT = 44
SATP_ASID_MASK = 0xFFFF
SATP_PPN_MASK = (1 << 44) - 1
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


class Pte(IntFlag):
    """Sv39 page-table entry flag bits."""

    V = 1 << 0
    R = 1 << 1
    W = 1 << 2
    X = 1 << 3
    U = 1 << 4
    G = 1 << 5
    A = 1 << 6
    D = 1 << 7


PTE_PPN_SHIFT = 10


# ---------------------------------------------------------------------------
# PMP (Privileged spec §3.7)
# ---------------------------------------------------------------------------


class PmpCfg(IntFlag):
    """Fields of one pmpNcfg byte."""

    R = 1 << 0
    W = 1 << 1
    X = 1 << 2
    A_TOR = 1 << 3
    A_NA4 = 2 << 3
    A_NAPOT = 3 << 3
    L = 1 << 7


# ---------------------------------------------------------------------------
# Integer registers
# ---------------------------------------------------------------------------

#: ABI names of x0..x31, in order.
ABI_NAMES: tuple[str, ...] = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2",
    "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7",
    "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
)

#: Every accepted integer register name (xN, ABI names, fp) → number.
GPR_NAMES: dict[str, int] = {f"x{i}": i for i in range(32)}
GPR_NAMES.update({name: i for i, name in enumerate(ABI_NAMES)})
GPR_NAMES["fp"] = 8
