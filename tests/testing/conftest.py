"""tests/testing: the ``septum.testing`` plugin's own tests.

``pytester`` runs inner pytest sessions, where the plugin must load through
its ``pytest11`` entry point alone.  :func:`build_bare` assembles a
bare-metal program with the reference GNU tools (as the docs tell a user to).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

pytest_plugins = ["pytester"]

DATA = Path(__file__).parent / "data"


def build_bare(src: Path, out_dir: Path) -> Path:
    """``src`` (RISC-V assembly) linked at DRAM's start: an ELF for ``machine``."""
    obj, elf = out_dir / (src.stem + ".o"), out_dir / (src.stem + ".elf")
    subprocess.run(["riscv64-unknown-elf-as", "-march=rv64imac", "-o", str(obj), str(src)],
                   check=True)
    subprocess.run(["riscv64-unknown-elf-ld", "-Ttext=0x80000000", "-o", str(elf), str(obj)],
                   check=True)
    return elf
