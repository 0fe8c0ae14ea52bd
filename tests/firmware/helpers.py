"""Test helpers for the firmware: build it and its test payload with GNU
binutils (the reference assembler), run them on real QEMU, and read the
payload's report lines back.

The payload (``payload.S``) prints one line per SBI call, ``<name> err=<a0>
val=<a1>``; :func:`parse_results` turns those into a dict.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from septum import firmware
from septum.hypervisor.memmap import FIRMWARE_BASE, KERNEL_BASE

AS = "riscv64-unknown-elf-as"
LD = "riscv64-unknown-elf-ld"
QEMU = "qemu-system-riscv64"
MARCH = "rv64imac_zicsr_zifencei"

PAYLOAD = Path(__file__).with_name("payload.S")

#: Generous bound on one QEMU run; a hang fails the test instead of blocking CI.
QEMU_TIMEOUT = 30


def gnu_link(sources: list[Path], out: Path, base: int, *,
             defsyms: dict[str, int] | None = None) -> Path:
    """Assemble ``sources`` with GNU ``as`` (include path: the firmware's
    folder) and link them, in order, with ``.text`` at ``base``.

    ``-N`` keeps the ELF headers out of the loadable segments, so that the
    lowest loaded address is ``base`` (QEMU enters a ``-kernel`` ELF at its
    lowest address, and the Septum loader rejects segments outside RAM)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    objs = []
    for i, src in enumerate(sources):
        obj = out.with_name(f"{out.stem}.{i}.{src.stem}.o")
        cmd = [AS, f"-march={MARCH}", "-I", str(firmware.source_dir())]
        for name, value in (defsyms or {}).items():
            cmd += ["--defsym", f"{name}={value}"]
        subprocess.run(cmd + [str(src), "-o", str(obj)], check=True, capture_output=True,
                       text=True)
        objs.append(str(obj))
    subprocess.run([LD, "-N", "--no-warn-rwx-segments", f"-Ttext={base:#x}", *objs,
                    "-o", str(out)], check=True, capture_output=True, text=True)
    return out


def build_firmware(out_dir: Path, *, selftest: bool = False) -> Path:
    """The firmware as an ELF at FIRMWARE_BASE, built with GNU binutils."""
    name = "fw-selftest.elf" if selftest else "fw.elf"
    return gnu_link(firmware.sources(), out_dir / name, FIRMWARE_BASE,
                    defsyms=firmware.defines(selftest=selftest))


def build_payload(out_dir: Path, *, final: int = 0, peer: bool = False) -> Path:
    """The S-mode test payload at KERNEL_BASE; ``final`` selects how it ends
    (see payload.S), ``peer`` leaves out calls a full SBI would carry out."""
    defs = {"PAYLOAD_FINAL": final}
    if peer:
        defs["PAYLOAD_PEER"] = 1
    return gnu_link([PAYLOAD], out_dir / f"payload-{final}{'-peer' if peer else ''}.elf",
                    KERNEL_BASE, defsyms=defs)


@dataclass
class Run:
    """What one QEMU run printed and how it ended."""

    output: str
    returncode: int


def run_qemu(bios: Path | str, kernel: Path, *, extra: tuple[str, ...] = ()) -> Run:
    """Boot ``bios`` with ``kernel`` on QEMU virt (one hart, 128 MiB, UART on
    stdio, no input, no reboot: a reset request ends QEMU with status 0)."""
    cmd = [QEMU, "-M", "virt", "-smp", "1", "-m", "128M", "-nographic", "-monitor", "none",
           "-serial", "stdio", "-no-reboot", "-bios", str(bios), "-kernel", str(kernel),
           *extra]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=QEMU_TIMEOUT)
    return Run(proc.stdout.decode("latin-1").replace("\r\n", "\n"), proc.returncode)


_RESULT = re.compile(r"^(\S+) err=(-?\d+) val=0x([0-9a-f]{16})$")


def parse_results(output: str) -> dict[str, tuple[int, int]]:
    """``{name: (error, value)}`` from the payload's report lines."""
    results: dict[str, tuple[int, int]] = {}
    for line in output.splitlines():
        m = _RESULT.match(line)
        if m:
            results[m.group(1)] = (int(m.group(2)), int(m.group(3), 16))
    return results


def payload_lines(output: str) -> list[str]:
    """The payload's own lines (from "payload: start" on), without any banner
    a firmware printed before it."""
    lines = output.splitlines()
    start = lines.index("payload: start") if "payload: start" in lines else 0
    return lines[start:]
