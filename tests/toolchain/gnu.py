"""The reference toolchain: GNU as, ld, objcopy, readelf and objdump, run as tools.

The differential tests assemble the same source with Septum's assembler and
with ``riscv64-unknown-elf-as`` and compare the results.  GNU's side is always
linked (``ld --no-relax``, sources assembled with ``-mno-relax``) so that every
PC-relative reference is resolved the way a final image has it, and linker
relaxation (which Septum does not do) never rewrites a sequence.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PREFIX = "riscv64-unknown-elf-"
MARCH = "rv64imac_zicsr_zifencei"
MABI = "lp64"


class GnuError(AssertionError):
    """GNU rejected the input; the message carries its stderr."""


def tool(name: str) -> str:
    """The command name of GNU tool ``name`` (``as``, ``ld``, ``objdump``...)."""
    return PREFIX + name


def run(args: list[str], cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; never raises on exit status."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


@dataclass
class GnuBuild:
    """The outputs of one GNU build: the linked ELF and its .text bytes."""

    elf: Path
    text: bytes
    text_address: int


def build(source: str, *, base: int = 0, march: str = MARCH, workdir: str | Path,
          name: str = "gnu", extra_as: tuple[str, ...] = ()) -> GnuBuild:
    """Assemble ``source`` with GNU as, link it at ``base``, return the ELF and
    the bytes of ``.text``.  Raises :class:`GnuError` if as or ld fails."""
    work = Path(workdir)
    src = work / f"{name}.S"
    obj = work / f"{name}.o"
    elf = work / f"{name}.elf"
    binf = work / f"{name}.text.bin"
    src.write_text(source)
    r = run([tool("as"), f"-march={march}", f"-mabi={MABI}", "-mno-relax", *extra_as,
             str(src), "-o", str(obj)])
    if r.returncode:
        raise GnuError(f"GNU as failed:\n{r.stderr}")
    r = run([tool("ld"), "--no-relax", "-e", "0", f"-Ttext={base:#x}", str(obj), "-o", str(elf)])
    if r.returncode:
        raise GnuError(f"GNU ld failed:\n{r.stderr}")
    r = run([tool("objcopy"), "-O", "binary", "-j", ".text", str(elf), str(binf)])
    if r.returncode:
        raise GnuError(f"GNU objcopy failed:\n{r.stderr}")
    return GnuBuild(elf, binf.read_bytes(), base)


def assemble_text(source: str, *, base: int = 0, march: str = MARCH) -> bytes:
    """GNU's final bytes of ``.text`` for ``source`` linked at ``base``."""
    with tempfile.TemporaryDirectory(prefix="septum-gnu-") as tmp:
        return build(source, base=base, march=march, workdir=tmp).text


def objdump_insns(elf: str | Path, *extra: str) -> list[str]:
    """``objdump -d`` instruction lines of ``elf`` as ``addr: raw  text`` strings,
    whitespace-normalised (headers and blank lines dropped)."""
    r = run([tool("objdump"), "-d", *extra, str(elf)])
    if r.returncode:
        raise GnuError(f"objdump failed:\n{r.stderr}")
    out = []
    for line in r.stdout.splitlines():
        head, sep, rest = line.partition(":\t")
        if sep and head.strip() and all(c in "0123456789abcdef" for c in head.strip()):
            out.append(" ".join(f"{head.strip()}: {rest}".split()))
    return out
