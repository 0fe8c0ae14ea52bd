"""The SBI numbers Septum's firmware serves, kept once for Python and assembly.

Extension IDs (EID, passed in ``a7``), function IDs (FID, in ``a6``), error
codes (returned in ``a0``) and the enumerations some calls take are those of
the RISC-V Supervisor Binary Interface specification, version 2.0.  The
firmware's own layout of its 2 MiB region (stack, variables, the PMP entry
that hides it) and the console/finisher registers it drives are here too, so
that :func:`include_text` can generate ``firmware/sbi_consts.inc``, the only
place the assembly sources take numbers from.

Regenerate the include file with ``python -m septum.firmware.sbi``; a test
checks that the committed file is current.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path

from septum.hypervisor import memmap
from septum.hypervisor.devices.finisher import FINISHER_FAIL, FINISHER_PASS, FINISHER_RESET
from septum.hypervisor.devices.uart import LSR_DR, LSR_THRE, Uart16550
from septum.toolchain.riscv import (
    CAUSE_INTERRUPT,
    MSTATUS_MPP_SHIFT,
    Exc,
    Irq,
    Mip,
    Mstatus,
    PmpCfg,
    Priv,
)

# ---------------------------------------------------------------------------
# SBI 2.0: extension IDs (chapter 3 onwards) and function IDs
# ---------------------------------------------------------------------------


class Ext(IntEnum):
    """SBI extension IDs (``a7``) this firmware knows by name."""

    LEGACY_SET_TIMER = 0x00  # not served: listed so that probing it says 0
    LEGACY_CONSOLE_PUTCHAR = 0x01
    LEGACY_CONSOLE_GETCHAR = 0x02
    BASE = 0x10
    TIME = 0x54494D45  # "TIME"
    IPI = 0x735049  # "sPI"
    RFENCE = 0x52464E43  # "RFNC"
    HSM = 0x48534D  # "HSM"
    SRST = 0x53525354  # "SRST"
    DBCN = 0x4442434E  # "DBCN"
    #: Firmware-specific extension space (0x0A000000..0x0AFFFFFF): Septum's
    #: self-test extension, assembled in only with ``SBI_SELFTEST`` defined.
    SEPTUM_SELFTEST = 0x0A000000


#: The extensions a default build serves (what ``probe_extension`` answers 1 for).
SUPPORTED_EXTENSIONS: tuple[Ext, ...] = (
    Ext.LEGACY_CONSOLE_PUTCHAR,
    Ext.LEGACY_CONSOLE_GETCHAR,
    Ext.BASE,
    Ext.TIME,
    Ext.IPI,
    Ext.RFENCE,
    Ext.HSM,
    Ext.SRST,
    Ext.DBCN,
)


class BaseFid(IntEnum):
    """Base extension (EID 0x10) functions."""

    GET_SPEC_VERSION = 0
    GET_IMPL_ID = 1
    GET_IMPL_VERSION = 2
    PROBE_EXTENSION = 3
    GET_MVENDORID = 4
    GET_MARCHID = 5
    GET_MIMPID = 6


class TimeFid(IntEnum):
    """Timer extension functions."""

    SET_TIMER = 0


class IpiFid(IntEnum):
    """IPI extension functions."""

    SEND_IPI = 0


class RfenceFid(IntEnum):
    """RFENCE extension functions (the hfence ones are not served)."""

    REMOTE_FENCE_I = 0
    REMOTE_SFENCE_VMA = 1
    REMOTE_SFENCE_VMA_ASID = 2
    REMOTE_HFENCE_GVMA_VMID = 3
    REMOTE_HFENCE_GVMA = 4
    REMOTE_HFENCE_VVMA_ASID = 5
    REMOTE_HFENCE_VVMA = 6


class HsmFid(IntEnum):
    """Hart state management extension functions."""

    HART_START = 0
    HART_STOP = 1
    HART_GET_STATUS = 2
    HART_SUSPEND = 3


class HsmState(IntEnum):
    """Hart states returned by ``hart_get_status``."""

    STARTED = 0
    STOPPED = 1
    START_PENDING = 2
    STOP_PENDING = 3
    SUSPENDED = 4
    SUSPEND_PENDING = 5
    RESUME_PENDING = 6


class HsmSuspendType(IntEnum):
    """``hart_suspend`` types with a fixed meaning (others are reserved or
    platform specific)."""

    DEFAULT_RETENTIVE = 0x0000_0000
    DEFAULT_NON_RETENTIVE = 0x8000_0000


class SrstFid(IntEnum):
    """System reset extension functions."""

    SYSTEM_RESET = 0


class ResetType(IntEnum):
    """``system_reset`` types (0x3..0xEFFFFFFF reserved, 0xF0000000.. vendor)."""

    SHUTDOWN = 0
    COLD_REBOOT = 1
    WARM_REBOOT = 2


class ResetReason(IntEnum):
    """``system_reset`` reasons (0x2..0xEFFFFFFF reserved)."""

    NO_REASON = 0
    SYSTEM_FAILURE = 1


class DbcnFid(IntEnum):
    """Debug console extension functions."""

    CONSOLE_WRITE = 0
    CONSOLE_READ = 1
    CONSOLE_WRITE_BYTE = 2


class SelftestFid(IntEnum):
    """Septum's firmware-specific self-test extension (test builds only)."""

    #: Make the firmware itself take a load access fault in M-mode (a load
    #: from address 0), to exercise its fatal-trap report.
    FAULT = 0


class SbiError(IntEnum):
    """Standard SBI error codes (returned in ``a0``)."""

    SUCCESS = 0
    FAILED = -1
    NOT_SUPPORTED = -2
    INVALID_PARAM = -3
    DENIED = -4
    INVALID_ADDRESS = -5
    ALREADY_AVAILABLE = -6
    ALREADY_STARTED = -7
    ALREADY_STOPPED = -8
    NO_SHMEM = -9


#: ``get_spec_version``: bits 30:24 major, 23:0 minor -> SBI 2.0.
SPEC_VERSION = (2 << 24) | 0
#: ``get_impl_id``: the registry (SBI chapter "Implementation IDs") uses small
#: integers (0 BBL, 1 OpenSBI, ... 11 bhyve); Septum is not registered, so it
#: answers the ASCII of "SEPT", far away from any registered number.
IMPL_ID = 0x5345_5054
#: ``get_impl_version``: 0.1 encoded as major << 16 | minor (OpenSBI's habit).
IMPL_VERSION = (0 << 16) | 1

# ---------------------------------------------------------------------------
# Devices the firmware drives
# ---------------------------------------------------------------------------


#: Exit code the firmware reports through the finisher (FINISHER_FAIL with
#: this code in bits 31:16) when it takes a trap it cannot serve (its own
#: fault): QEMU, and the Septum board, exit with this status.
FIRMWARE_FAULT_CODE = 0x7F
FINISHER_CODE_SHIFT = 16

#: The ns16550a registers the console routines touch, by offset, taken from
#: the board's UART register table.
UART_REGISTERS = ("RBR", "THR", "LSR")


def _uart_offsets() -> list[tuple[str, int]]:
    by_name = {r.name: r.offset for r in Uart16550.REGISTERS}
    return [(f"UART_{name}", by_name[name]) for name in UART_REGISTERS]


# ---------------------------------------------------------------------------
# The firmware's region
# ---------------------------------------------------------------------------

#: [FIRMWARE_BASE, FIRMWARE_END) belongs to the firmware; PMP hides it from S/U.
FIRMWARE_SIZE = memmap.KERNEL_BASE - memmap.FIRMWARE_BASE
FIRMWARE_END = memmap.FIRMWARE_BASE + FIRMWARE_SIZE
#: One page of firmware variables at the top of the region; the M-mode stack
#: grows down from just below it, with the trap frame at its very top.
FW_VARS = FIRMWARE_END - 0x1000
FW_VAR_RAM_TOP = FW_VARS + 0  # end of the RAM S may name in DBCN calls
FW_STACK_TOP = FW_VARS
#: Trap frame: x0..x31 at 8 * register number, so frame offset = 8 * N.
FW_FRAME_SIZE = 32 * 8
FW_FRAME = FW_STACK_TOP - FW_FRAME_SIZE


def pmp_napot(base: int, size: int) -> int:
    """The pmpaddr value for a NAPOT region of ``size`` bytes (a power of two,
    at least 8) at ``base`` (aligned to ``size``), per Privileged spec §3.7.1."""
    if size < 8 or size & (size - 1) or base & (size - 1):
        raise ValueError(f"bad NAPOT region base={base:#x} size={size:#x}")
    return (base | (size // 2 - 1)) >> 2


#: pmpaddr0: the firmware region, no permissions for S/U.
FW_PMPADDR0 = pmp_napot(memmap.FIRMWARE_BASE, FIRMWARE_SIZE)
#: pmpaddr1: NAPOT with all ones is the whole address space, RWX for S/U.
FW_PMPADDR1 = -1
FW_PMPCFG0 = int(PmpCfg.A_NAPOT) | (int(PmpCfg.A_NAPOT | PmpCfg.R | PmpCfg.W | PmpCfg.X) << 8)

#: Exceptions handed to S-mode: everything a U-mode task (or S itself) can
#: cause, except ecall from S, which is the SBI.
MEDELEG = sum(1 << c for c in (
    Exc.INST_ADDR_MISALIGNED, Exc.INST_ACCESS_FAULT, Exc.ILLEGAL_INSTRUCTION,
    Exc.BREAKPOINT, Exc.LOAD_ADDR_MISALIGNED, Exc.LOAD_ACCESS_FAULT,
    Exc.STORE_ADDR_MISALIGNED, Exc.STORE_ACCESS_FAULT, Exc.ECALL_U,
    Exc.INST_PAGE_FAULT, Exc.LOAD_PAGE_FAULT, Exc.STORE_PAGE_FAULT))
MIDELEG = int(Mip.SSIP | Mip.STIP | Mip.SEIP)
#: mcounteren: CY (bit 0), TM (bit 1), IR (bit 2).
MCOUNTEREN = 0b111

#: fw_dynamic info (OpenSBI's fw_dynamic.h, which QEMU's MROM stub fills in):
#: magic "OSBI", then version, next_addr, next_mode, options, boot_hart.
FW_DYNAMIC_MAGIC = 0x4942_534F
FW_DYNAMIC_NEXT_ADDR = 2 * 8
FW_DYNAMIC_NEXT_MODE = 3 * 8

#: Flattened device tree header: magic (big-endian) at 0, totalsize at 4.
FDT_MAGIC = 0xD00D_FEED


def _equ(name: str, value: int) -> str:
    return f".equ {name}, {value:#x}" if value >= 0 else f".equ {name}, {value}"


def _constants() -> list[tuple[str, list[tuple[str, int]]]]:
    """Every constant the assembly uses, in titled groups."""
    groups: list[tuple[str, list[tuple[str, int]]]] = []
    groups.append(("SBI extension IDs", [(f"SBI_EXT_{e.name}", e) for e in Ext]))
    for prefix, enum in (("SBI_BASE", BaseFid), ("SBI_TIME", TimeFid), ("SBI_IPI", IpiFid),
                         ("SBI_RFENCE", RfenceFid), ("SBI_HSM", HsmFid),
                         ("SBI_SRST", SrstFid), ("SBI_DBCN", DbcnFid),
                         ("SBI_SELFTEST", SelftestFid)):
        groups.append((f"{enum.__name__}", [(f"{prefix}_{f.name}", f) for f in enum]))
    groups.append(("SBI error codes", [(f"SBI_ERR_{e.name}" if e else "SBI_SUCCESS", e)
                                       for e in SbiError]))
    groups.append(("HSM states and suspend types",
                   [(f"SBI_HSM_STATE_{s.name}", s) for s in HsmState]
                   + [(f"SBI_HSM_SUSPEND_{s.name}", s) for s in HsmSuspendType]))
    groups.append(("SRST types and reasons",
                   [(f"SBI_SRST_TYPE_{t.name}", t) for t in ResetType]
                   + [(f"SBI_SRST_REASON_{r.name}", r) for r in ResetReason]))
    groups.append(("Implementation", [
        ("SBI_SPEC_VERSION", SPEC_VERSION), ("SBI_IMPL_ID", IMPL_ID),
        ("SBI_IMPL_VERSION", IMPL_VERSION)]))
    groups.append(("Memory map (septum.hypervisor.memmap)", [
        ("DRAM_BASE", memmap.DRAM_BASE),
        ("DRAM_DEFAULT_END", memmap.DRAM_BASE + memmap.DRAM_DEFAULT_SIZE),
        ("DTB_CAP", memmap.DTB_CAP),
        ("MROM_BASE", memmap.MROM_BASE), ("MROM_END", memmap.MROM_BASE + memmap.MROM_SIZE),
        ("TEST_BASE", memmap.TEST_BASE), ("UART0_BASE", memmap.UART0_BASE),
        ("CLINT_BASE", memmap.CLINT_BASE), ("CLINT_MTIMECMP", memmap.CLINT_MTIMECMP),
        ("CLINT_MTIME", memmap.CLINT_MTIME),
        ("FIRMWARE_BASE", memmap.FIRMWARE_BASE), ("FIRMWARE_END", FIRMWARE_END),
        ("KERNEL_BASE", memmap.KERNEL_BASE)]))
    groups.append(("Devices (septum.hypervisor.devices)", [
        ("FINISHER_FAIL", FINISHER_FAIL), ("FINISHER_PASS", FINISHER_PASS),
        ("FINISHER_RESET", FINISHER_RESET), ("FINISHER_CODE_SHIFT", FINISHER_CODE_SHIFT),
        ("FIRMWARE_FAULT_CODE", FIRMWARE_FAULT_CODE)]
        + _uart_offsets()
        + [("UART_LSR_DR", LSR_DR), ("UART_LSR_THRE", LSR_THRE)]))
    groups.append(("Firmware region layout", [
        ("FW_VAR_RAM_TOP", FW_VAR_RAM_TOP), ("FW_STACK_TOP", FW_STACK_TOP),
        ("FW_FRAME", FW_FRAME), ("FW_FRAME_SIZE", FW_FRAME_SIZE)]))
    groups.append(("Machine set-up", [
        ("FW_PMPADDR0", FW_PMPADDR0), ("FW_PMPADDR1", FW_PMPADDR1),
        ("FW_PMPCFG0", FW_PMPCFG0), ("FW_MEDELEG", MEDELEG), ("FW_MIDELEG", MIDELEG),
        ("FW_MCOUNTEREN", MCOUNTEREN),
        ("FW_DYNAMIC_MAGIC", FW_DYNAMIC_MAGIC),
        ("FW_DYNAMIC_NEXT_ADDR", FW_DYNAMIC_NEXT_ADDR),
        ("FW_DYNAMIC_NEXT_MODE", FW_DYNAMIC_NEXT_MODE),
        ("FDT_MAGIC", FDT_MAGIC)]))
    groups.append(("RISC-V (septum.toolchain.riscv)", [
        ("MSTATUS_SIE", Mstatus.SIE), ("MSTATUS_MIE", Mstatus.MIE),
        ("MSTATUS_SPIE", Mstatus.SPIE), ("MSTATUS_MPIE", Mstatus.MPIE),
        ("MSTATUS_SPP", Mstatus.SPP), ("MSTATUS_MPP", Mstatus.MPP),
        ("MSTATUS_MPP_S", Priv.S << MSTATUS_MPP_SHIFT), ("MSTATUS_MPRV", Mstatus.MPRV),
        ("MSTATUS_TVM", Mstatus.TVM), ("MSTATUS_TW", Mstatus.TW),
        ("MSTATUS_TSR", Mstatus.TSR),
        ("MIP_SSIP", Mip.SSIP), ("MIP_STIP", Mip.STIP), ("MIP_SEIP", Mip.SEIP),
        ("MIP_MTIP", Mip.MTIP),
        ("CAUSE_ECALL_S", Exc.ECALL_S), ("IRQ_MTI", Irq.MTI),
        ("IRQ_STI", Irq.STI), ("IRQ_SSI", Irq.SSI),
        ("EXC_LOAD_ACCESS_FAULT", Exc.LOAD_ACCESS_FAULT),
        ("EXC_STORE_ACCESS_FAULT", Exc.STORE_ACCESS_FAULT),
        ("EXC_INST_ACCESS_FAULT", Exc.INST_ACCESS_FAULT),
        ("CAUSE_INTERRUPT", CAUSE_INTERRUPT)]))
    return groups


def include_text() -> str:
    """The text of ``sbi_consts.inc``: one ``.equ`` per constant, GNU ``as``
    syntax, generated from this module and the modules it imports."""
    lines = [
        "# Generated by septum.firmware.sbi (python -m septum.firmware.sbi).",
        "# Do not edit: change the Python source and regenerate.",
    ]
    for title, items in _constants():
        lines.append("")
        lines.append(f"# {title}")
        lines.extend(_equ(name, int(value)) for name, value in items)
    lines += ["", "# The 32-bit extension IDs probe_extension answers 1 for.",
              ".macro SBI_SUPPORTED_EXTENSIONS"]
    lines += [f"    .word {e:#x}  # {e.name}" for e in SUPPORTED_EXTENSIONS]
    lines += [".endm"]
    return "\n".join(lines) + "\n"


#: Where the generated include lives beside the assembly sources.
INCLUDE_NAME = "sbi_consts.inc"


def main(argv: list[str] | None = None) -> int:
    """Write ``sbi_consts.inc`` next to this module (or to ``argv[0]``)."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).with_name(INCLUDE_NAME)
    out.write_text(include_text())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
