"""``septum build``: the image builder on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from septum.toolchain.build import BACKENDS, build

DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent / "userland" / "system.toml"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``septum build``."""
    p = sub.add_parser(
        "build", help="build firmware + kernel + tasks into one bootable ELF",
        description="Assemble the system a manifest (system.toml) describes into one ELF: "
                    "firmware at 0x8000_0000, kernel at 0x8020_0000, tasks above.")
    p.add_argument("manifest", nargs="?", default=str(DEFAULT_MANIFEST),
                   help="the system manifest (default: the bundled userland/system.toml)")
    p.add_argument("-o", "--output", default="system.elf", help="output ELF (default system.elf)")
    p.add_argument("--kernel-only", action="store_true",
                   help="leave out the firmware: kernel and tasks at 0x8020_0000 for use "
                        "behind another SBI (e.g. qemu -bios default)")
    p.add_argument("--no-fastpath", action="store_true",
                   help="build the kernel without its IPC fast path")
    p.add_argument("--assembler", choices=BACKENDS, default="septum",
                   help="septum (in process, default) or gnu (riscv64-unknown-elf-as/ld)")
    p.set_defaults(func=_cmd_build)


def _cmd_build(args: argparse.Namespace) -> int:
    res = build(args.manifest, args.output, kernel_only=args.kernel_only,
                fastpath=not args.no_fastpath, backend=args.assembler)
    print(f"{res.elf}: entry {res.entry:#x}, {len(res.tasks)} tasks"
          + (" (kernel only)" if res.kernel_only else ""))
    for t in res.tasks:
        print(f"  {t.index:2} {t.name:12} code {t.text[0]:#x}+{t.text[1]:#x} "
              f"data {t.data[0]:#x}+{t.data[1]:#x} entry {t.entry:#x}")
    return 0
