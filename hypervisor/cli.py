"""The ``septum`` command: one entry point, subcommands from each area.

Each area of Septum contributes its subcommands through a module with an
``add_commands(subparsers)`` function; the parser binds each subcommand to a
``func(args) -> int`` returning the process exit code.  Errors meant for the
user (``SeptumError``, unreadable files) become one line on stderr and exit
code 2; the CLI never shows a Python traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from septum.toolchain.errors import SeptumError

#: Modules contributing subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "septum.hypervisor.boot_cli",
    "septum.hypervisor.run_cli",
    "septum.toolchain.build_cli",
    "septum.toolchain.cli",
    "septum.hypervisor.trace_cli",
    "septum.hypervisor.bench_cli",
    "septum.hypervisor.campaign_cli",
    "septum.hypervisor.unicorn_cli",
)

DESCRIPTION = """\
Septum: boot, trace and test RISC-V systems from Python.

A QEMU-virt-compatible RV64 board on the Unicorn engine, an in-process RISC-V
assembler and ELF writer, and a microkernel operating system built with them.
"""

EPILOG = """\
examples:
  septum boot                           build and boot the Septum system (Ctrl-A X quits)
  echo ps | septum boot --script -      type shell commands, exit with the system's code
  septum asm hello.S -o hello.elf       assemble a bare-metal program
  septum run hello.elf                  run it on the virtual board
  septum run -bios default -kernel k.elf  a kernel behind OpenSBI, as in QEMU
  septum disasm hello.elf               disassemble it with symbols
  septum boot --trace-ipc ipc.jsonl     record every system call and message
  septum unicorn build                  build Septum's faster Unicorn (same results)

Run 'septum COMMAND --help' for the options of one command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="septum",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"septum {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a missing area
                raise
            continue
        module.add_commands(sub)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("septum")
    except Exception:  # not installed (running from a checkout)
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SeptumError as exc:
        print(f"septum: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``septum trace show ... | head``): not an
        # error.  Point stdout at /dev/null so the interpreter's final flush
        # does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"septum: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("septum: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
