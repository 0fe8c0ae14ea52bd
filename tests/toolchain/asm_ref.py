"""GNU reference builds for the assembler-core tests (tests/toolchain/test_asm_*).

``gnu_image(sources, base)`` assembles each source with ``riscv64-unknown-elf-as
-mno-relax`` and links them with ``ld --no-relax`` using a linker script that
lays sections out the way :func:`septum.toolchain.assemble` documents (code,
read-only, read-write, NOBITS, each following the previous one, aligned), and
returns the flat bytes from ``base`` plus the symbol table — the peer our
output must equal.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

PREFIX = "riscv64-unknown-elf-"
MARCH = "rv64imac_zicsr_zifencei"

_SCRIPT = """
ENTRY(_start)
SECTIONS {{
  . = {base:#x};
  .text : {{ *(.text .text.*) }}
  .rodata : {{ *(.rodata .rodata.*) }}
  .data : {{ *(.data .data.*) }}
  .sdata : {{ *(.sdata .sdata.*) }}
  .bss : {{ *(.bss .bss.*) }}
  /DISCARD/ : {{ *(.riscv.attributes) *(.comment) }}
}}
"""


class GnuFailed(AssertionError):
    """GNU as or ld rejected the input (message has its stderr)."""


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def gnu_image(sources: list[str], base: int = 0, march: str = MARCH,
              extra_as: tuple[str, ...] = ()) -> tuple[bytes, dict[str, int]]:
    """GNU's flat binary (from ``base``) and global+local symbol values."""
    with tempfile.TemporaryDirectory(prefix="septum-asmref-") as tmp:
        work = Path(tmp)
        objs = []
        for i, text in enumerate(sources):
            src = work / f"s{i}.S"
            src.write_text(text)
            obj = work / f"s{i}.o"
            r = _run([PREFIX + "as", f"-march={march}", "-mabi=lp64", "-mno-relax",
                      *extra_as, str(src), "-o", str(obj)])
            if r.returncode:
                raise GnuFailed(r.stderr)
            objs.append(str(obj))
        script = work / "link.ld"
        script.write_text(_SCRIPT.format(base=base))
        elf = work / "out.elf"
        r = _run([PREFIX + "ld", "--no-relax", "-T", str(script), *objs, "-o", str(elf)])
        if r.returncode:
            raise GnuFailed(r.stderr)
        binf = work / "out.bin"
        r = _run([PREFIX + "objcopy", "-O", "binary", str(elf), str(binf)])
        if r.returncode:
            raise GnuFailed(r.stderr)
        r = _run([PREFIX + "nm", str(elf)])
        syms = {}
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3:
                syms[parts[2]] = int(parts[0], 16)
        return binf.read_bytes(), syms


def gnu_bytes(source: str, base: int = 0, march: str = MARCH) -> bytes:
    """GNU's flat binary for one source at ``base``."""
    return gnu_image([source], base, march)[0]
