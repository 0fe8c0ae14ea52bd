"""Run one image under real QEMU and under ``septum run``, the same way.

The peer tests build a bare-metal guest (with Septum's own assembler or with
Debian's ``riscv64-unknown-elf-gcc``), then run it twice:

* ``qemu-system-riscv64 -M virt -nographic -monitor none -serial stdio ...``
  (Debian's ``qemu-system-misc``, the reference), and
* ``python -m septum.hypervisor run ...`` in a subprocess, i.e. through the
  real command line, exactly as a user would,

and compare the console output and the process exit status.  Both get the
same stdin bytes (a pipe, so Septum queues them all at start) and a timeout.

Builders here write into a caller-given directory (a pytest ``tmp_path``):
test binaries are never committed.  The guest sources live in ``guests/``
beside this file.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from septum.toolchain import assemble

from .dev_guest import LINK_SCRIPT

GUESTS = Path(__file__).parent / "guests"

QEMU = "qemu-system-riscv64"
GCC = "riscv64-unknown-elf-gcc"

#: Flags of every gcc-built guest: the ISA of the board's harts without F/D
#: (so no FPU set-up is needed), code model for 0x8000_0000.
GCC_FLAGS = ("-march=rv64imac_zicsr", "-mabi=lp64", "-mcmodel=medany")

#: picolibc's multilib is chosen by the exact -march string: gcc 12 finds the
#: rv64imac/lp64 libraries only without the ``_zicsr`` suffix (Zicsr is implied
#: by gcc 12's default ISA spec anyway).
PICOLIBC_FLAGS = ("-march=rv64imac", "-mabi=lp64", "-mcmodel=medany",
                  "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost")

#: Where picolibc.ld puts code (flash) and data (ram) on the board's DRAM.
PICOLIBC_MEMORY = {"__flash": 0x8000_0000, "__flash_size": 0x10_0000,
                   "__ram": 0x8010_0000, "__ram_size": 0x10_0000}

#: Generous host-time limits: the guests run well under a second on both.
DEFAULT_TIMEOUT = 120.0
#: Instruction budget of ``septum run`` (a runaway guest ends with 124).
DEFAULT_MAX_INSNS = 200_000_000


@dataclass(frozen=True)
class Run:
    """What one emulator run produced."""

    stdout: bytes
    returncode: int
    stderr: bytes = b""

    @property
    def text(self) -> str:
        """stdout decoded (latin-1: every byte maps to one character)."""
        return self.stdout.decode("latin-1")


# ----- builders ----------------------------------------------------------------


def build_asm_ours(name: str, out: Path, defines: Mapping[str, int] | None = None,
                   base: int = 0x8000_0000) -> Path:
    """Assemble ``guests/<name>.S`` with Septum's toolchain into ``out``."""
    image = assemble([GUESTS / f"{name}.S"], base=base, defines=dict(defines or {}),
                     march="rv64imac_zicsr_zifencei", include_dirs=[GUESTS])
    suffix = "".join(f"-{k}{v}" for k, v in sorted((defines or {}).items()))
    elf = out / f"{name}{suffix}.ours.elf"
    elf.write_bytes(image.to_elf())
    return elf


def _link_script(out: Path) -> Path:
    script = out / "link.ld"
    if not script.exists():
        script.write_text(LINK_SCRIPT)
    return script


def build_asm_gcc(name: str, out: Path, defines: Mapping[str, int] | None = None) -> Path:
    """Assemble and link ``guests/<name>.S`` with Debian's gcc into ``out``."""
    suffix = "".join(f"-{k}{v}" for k, v in sorted((defines or {}).items()))
    elf = out / f"{name}{suffix}.gcc.elf"
    syms = [f"-Wa,--defsym,{k}={v}" for k, v in (defines or {}).items()]
    _gcc([*GCC_FLAGS, "-nostdlib", f"-Wa,-I{GUESTS}", "-T", str(_link_script(out)), *syms,
          "-o", str(elf),
          str(GUESTS / f"{name}.S")])
    return elf


def build_c_gcc(name: str, out: Path, defines: Mapping[str, int] | None = None) -> Path:
    """Compile ``guests/<name>.c`` freestanding (no libc) with Debian's gcc."""
    suffix = "".join(f"-{k}{v}" for k, v in sorted((defines or {}).items()))
    elf = out / f"{name}{suffix}.gcc.elf"
    macros = [f"-D{k}={v}" for k, v in (defines or {}).items()]
    _gcc([*GCC_FLAGS, "-O2", "-ffreestanding", "-nostdlib", "-T", str(_link_script(out)),
          *macros, "-o", str(elf), str(GUESTS / f"{name}.c")])
    return elf


def build_picolibc(name: str, out: Path, defines: Mapping[str, int] | None = None) -> Path:
    """Compile ``guests/<name>.c`` against picolibc with semihosting I/O."""
    suffix = "".join(f"-{k}{v}" for k, v in sorted((defines or {}).items()))
    elf = out / f"{name}{suffix}.picolibc.elf"
    macros = [f"-D{k}={v}" for k, v in (defines or {}).items()]
    mem = ",".join(f"--defsym={k}={v:#x}" for k, v in PICOLIBC_MEMORY.items())
    _gcc([*PICOLIBC_FLAGS, "-O2", f"-Wl,{mem}", *macros, "-o", str(elf),
          str(GUESTS / f"{name}.c")])
    return elf


def _gcc(args: Sequence[str]) -> None:
    proc = subprocess.run([GCC, "-Wl,--no-warn-rwx-segments", *args], capture_output=True)
    if proc.returncode:
        raise AssertionError(f"{GCC} failed:\n{proc.stderr.decode(errors='replace')}")


# ----- runners -----------------------------------------------------------------


def run_qemu(image: Path | None = None, *, bios: str | Path = "none",
             kernel: Path | None = None, drive: Path | None = None,
             drive_serial: str | None = None, semihosting: bool = False, semihosting_args: Sequence[str] = (),
             mem: str = "128M", stdin: bytes = b"", extra: Sequence[str] = (),
             timeout: float = DEFAULT_TIMEOUT) -> Run:
    """Run on ``qemu-system-riscv64 -M virt``.

    A lone ``image`` runs as QEMU's ``-bios none -kernel IMAGE`` (what
    ``septum run IMAGE`` means).  ``drive`` attaches a raw disk as a modern
    virtio-mmio block device (``drive_serial``: the id GET_ID answers).  With ``semihosting`` the semihosting console
    shares the UART's stdio chardev (QEMU would otherwise write it to its own
    stderr), and ``semihosting_args`` become the guest's command line.
    """
    cmd = [QEMU, "-M", "virt", "-m", mem, "-nographic", "-monitor", "none"]
    if semihosting:
        config = "enable=on,target=native,chardev=con0"
        config += "".join(f",arg={a}" for a in semihosting_args)
        cmd += ["-chardev", "stdio,mux=on,id=con0", "-serial", "chardev:con0",
                "-semihosting-config", config]
    else:
        cmd += ["-serial", "stdio"]
    if image is not None:
        cmd += ["-bios", "none", "-kernel", str(image)]
    else:
        cmd += ["-bios", str(bios)]
        if kernel is not None:
            cmd += ["-kernel", str(kernel)]
    if drive is not None:
        cmd += ["-global", "virtio-mmio.force-legacy=false",
                "-drive", f"file={drive},if=none,format=raw,id=d0",
                "-device", "virtio-blk-device,drive=d0"
                + (f",serial={drive_serial}" if drive_serial else "")]
    cmd += list(extra)
    return _run(cmd, stdin, timeout)


def run_septum(image: Path | None = None, *, bios: str | Path | None = None,
               kernel: Path | None = None, drive: Path | None = None,
               append: str | None = None, mem: str | None = None, stdin: bytes = b"",
               max_insns: int | None = DEFAULT_MAX_INSNS, extra: Sequence[str] = (),
               timeout: float = DEFAULT_TIMEOUT) -> Run:
    """Run through ``septum run`` (``python -m septum.hypervisor run``) in a
    subprocess: the real CLI, exit status and all."""
    cmd = [sys.executable, "-m", "septum.hypervisor", "run"]
    if image is not None:
        cmd.append(str(image))
    if bios is not None:
        cmd += ["-bios", str(bios)]
    if kernel is not None:
        cmd += ["-kernel", str(kernel)]
    if drive is not None:
        cmd += ["-drive", f"file={drive},format=raw"]
    if append is not None:
        cmd += ["-append", append]
    if mem is not None:
        cmd += ["-m", mem]
    if max_insns is not None:
        cmd += ["--max-insns", str(max_insns)]
    cmd += list(extra)
    return _run(cmd, stdin, timeout)


def septum_cli(*args: str, stdin: bytes = b"", timeout: float = DEFAULT_TIMEOUT) -> Run:
    """``septum ARGS...`` as a subprocess (for bad-input tests)."""
    return _run([sys.executable, "-m", "septum.hypervisor", *args], stdin, timeout)


def _run(cmd: Sequence[str], stdin: bytes, timeout: float) -> Run:
    proc = subprocess.run(list(cmd), input=stdin, capture_output=True, timeout=timeout)
    return Run(proc.stdout, proc.returncode, proc.stderr)
