"""``septum run``: boot an image on the virtual board, QEMU style.

The options mirror ``qemu-system-riscv64 -M virt``'s; the process exit code
is the guest's (see :data:`EPILOG`).
"""

from __future__ import annotations

import argparse
import re
import sys

from septum.hypervisor import memmap
from septum.hypervisor.errors import MachineError

#: Exit codes that are not the guest's own.
EXIT_BAD_INPUT = 2
EXIT_BUDGET = 124
EXIT_HANG = 125
EXIT_ERROR = 126

EPILOG = f"""\
A lone IMAGE runs on the bare board, as QEMU's '-bios none -kernel IMAGE'
(ELF at its own addresses, a flat binary at 0x80000000; the hart starts at
0x80000000 whatever e_entry says, as QEMU's does),
with semihosting on.  '-bios default' boots Debian's OpenSBI fw_dynamic;
'-kernel' behind a firmware goes to 0x80200000 (ELF: its own addresses).

exit status:
  the guest's exit code   test finisher (0x5555 -> 0, 0x3333|code<<16 -> code),
                          HTIF tohost (code), semihosting SYS_EXIT (code)
  0                       Ctrl-A X typed on the terminal
  {EXIT_BAD_INPUT}                       bad input (missing file, bad ELF, bad -m ...)
  {EXIT_BUDGET}                     --max-insns exhausted
  {EXIT_HANG}                     guest hang: wfi with nothing that can wake it
  {EXIT_ERROR}                     emulation error (message on stderr)

The UART is the terminal: raw mode, Ctrl-A X quits.  When stdin is not a
terminal, all of it is queued as UART input at start (deterministic).
"""

_SIZE_RE = re.compile(r"^(\d+)([KMGT]?)(i?B)?$", re.IGNORECASE)
_UNITS = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_mem_size(text: str) -> int:
    """QEMU's ``-m``: a number of MiB, or with a K/M/G/T suffix."""
    m = _SIZE_RE.match(text.strip())
    if not m:
        raise MachineError(f"-m {text!r}: not a memory size (e.g. 128M, 1G)")
    size = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if size < (2 << 20) or size % 4096 or size > memmap.DTB_CAP - memmap.DRAM_BASE + (1 << 40):
        raise MachineError(f"-m {text!r}: RAM size must be at least 2M and a multiple of 4K")
    return size


def parse_drive(text: str) -> tuple[str, bool]:
    """``-drive file=PATH[,format=raw][,if=none|virtio][,readonly=on]``."""
    opts: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise MachineError(f"-drive {text!r}: expected key=value, got {part!r}")
        opts[key] = value
    if "file" not in opts:
        raise MachineError(f"-drive {text!r}: file= is required")
    if opts.get("format", "raw") != "raw":
        raise MachineError(f"-drive {text!r}: only format=raw is supported")
    readonly = opts.get("readonly", "off") in ("on", "true", "yes")
    return opts["file"], readonly


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``septum run``."""
    p = sub.add_parser("run", help="run an image on the virtual board",
                       description="Run an image on Septum's QEMU-virt-compatible board.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", nargs="?", help="ELF or flat binary to run on the bare board")
    p.add_argument("-m", dest="mem", default="128M", metavar="SIZE",
                   help="RAM size (default 128M)")
    p.add_argument("-bios", dest="bios", default=None, metavar="none|default|PATH",
                   help="firmware: none, default (OpenSBI fw_dynamic) or a file")
    p.add_argument("-kernel", dest="kernel", default=None, metavar="PATH",
                   help="kernel image (behind the firmware at 0x80200000)")
    p.add_argument("-drive", dest="drive", default=None, metavar="file=PATH[,format=raw]",
                   help="virtio-blk disk image (slot 7, 0x10008000, as QEMU)")
    p.add_argument("-append", dest="append", default="", metavar="ARGS",
                   help="kernel command line (/chosen bootargs, semihosting cmdline)")
    p.add_argument("--max-insns", type=int, default=None, metavar="N",
                   help="stop after N instructions")
    p.add_argument("--semihosting", "-semihosting", action="store_true",
                   help="serve RISC-V semihosting calls (on by default for a lone IMAGE)")
    p.add_argument("-nographic", action="store_true", help="accepted for QEMU compatibility")
    p.add_argument("-M", "-machine", dest="machine", default="virt",
                   help="accepted for QEMU compatibility: only 'virt'")
    p.add_argument("--clock", choices=("block", "count"), default=None,
                   help="how retired instructions are counted: by Unicorn's exact "
                   "count (count, the default: per translated block with Septum's "
                   "Unicorn build, see 'septum unicorn --help', else per instruction; "
                   "the same traced or not) or by a C callback per translated block "
                   "(block: for comparison, slower than count with Septum's build); "
                   "default: $SEPTUM_CLOCK, else count")
    from septum.hypervisor.gdbstub import add_gdb_arguments

    add_gdb_arguments(p)
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Body of ``septum run``; returns the exit status."""
    from septum.hypervisor.console import Console
    from septum.hypervisor.machine import Machine

    if args.machine.split(",")[0] != "virt":
        raise MachineError(f"-M {args.machine!r}: only the 'virt' machine exists")
    if args.image and args.kernel:
        raise MachineError("give either IMAGE or -kernel, not both")
    if args.max_insns is not None and args.max_insns <= 0:
        raise MachineError(f"--max-insns {args.max_insns}: must be positive")
    if not args.image and not args.kernel and args.bios in (None, "none"):
        raise MachineError("nothing to run: give IMAGE, -kernel or -bios")
    ram = parse_mem_size(args.mem)
    disk, readonly = parse_drive(args.drive) if args.drive else (None, False)
    lone = bool(args.image)
    m = Machine(ram_size=ram, disk=disk, disk_readonly=readonly,
                semihosting=args.semihosting or lone, bootargs=args.append,
                clock=getattr(args, "clock", None))
    try:
        if lone:
            m.boot(bios="none", kernel=args.image)
        else:
            m.boot(bios=args.bios or "none", kernel=args.kernel)
        gdb = getattr(args, "gdb", None)
        with Console(m) as console:
            while True:
                until = console.poll if console.interactive else None
                if gdb:
                    from septum.hypervisor.gdbstub import serve

                    reason = serve(m, gdb, args.gdb_wait, until=until)
                else:
                    # Keys typed at a terminal may wait for a long slice.
                    reason = m.run(max_insns=None if args.max_insns is None
                                   else args.max_insns - m.instret, until=until,
                                   until_coarse=True)
                if reason.kind == "reset":
                    m.reset()
                    continue
                break
        if console.quit:
            return 0
        return _exit_status(reason)
    finally:
        m.close()


def _exit_status(reason: object) -> int:
    kind = reason.kind  # type: ignore[attr-defined]
    if kind == "poweroff":
        return int(reason.exit_code) & 0xFF  # type: ignore[attr-defined]
    if kind in ("killed", "until"):
        # GDB's kill, Ctrl-A X: QEMU exits 0.
        return 0
    if kind == "budget":
        print(f"septum: instruction budget exhausted ({reason.message})", file=sys.stderr)  # type: ignore[attr-defined]
        return EXIT_BUDGET
    if kind == "hang":
        print(f"septum: guest hang: {reason.message}", file=sys.stderr)  # type: ignore[attr-defined]
        return EXIT_HANG
    print(f"septum: {reason}", file=sys.stderr)
    return EXIT_ERROR
