"""Build the bare-metal C guests of the device-vs-QEMU tests.

The guests (``*_guest.c`` beside this file) are compiled with Debian's
``riscv64-unknown-elf-gcc`` (a peer tool the CI installs), freestanding, linked
at 0x8000_0000 so that QEMU's ``-bios none -kernel`` and Septum's
``boot(bios="none", kernel=...)`` start them the same way.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).parent

LINK_SCRIPT = """
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.start) *(.text*) }
  .rodata : { *(.rodata*) *(.srodata*) }
  .data : { *(.data*) *(.sdata*) }
  .bss : { *(.bss*) *(.sbss*) *(COMMON) }
  . = ALIGN(16) + 0x4000;
  __stack_top = .;
}
"""


def build_guest(name: str, out: Path) -> Path:
    """Compile ``<name>.c`` from this folder into ``out``; return the ELF."""
    script = out / "link.ld"
    script.write_text(LINK_SCRIPT)
    elf = out / f"{name}.elf"
    subprocess.run(["riscv64-unknown-elf-gcc", "-O2", "-march=rv64imac_zicsr", "-mabi=lp64",
                    "-mcmodel=medany", "-ffreestanding", "-nostdlib",
                    "-Wl,--no-warn-rwx-segments", "-T", str(script), "-o", str(elf),
                    str(HERE / f"{name}.c")], check=True, capture_output=True)
    return elf


def run_qemu(elf: Path, *extra: str) -> list[str]:
    """Run ``elf`` on QEMU virt (-bios none); its UART output as lines.
    The guest must power off with the finisher's pass code."""
    proc = subprocess.run(["qemu-system-riscv64", "-M", "virt", "-m", "128M", "-nographic",
                           "-bios", "none", "-kernel", str(elf), *extra],
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode().splitlines()
