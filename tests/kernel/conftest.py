"""Shared helpers for the kernel tests: build a system, boot it under QEMU.

Real QEMU with its own OpenSBI (``-bios default``) runs the kernel-only
image; the run ends when the supervisor task calls SHUTDOWN (SBI SRST).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from septum.toolchain.build import BuildResult, build

TASKS = Path(__file__).parent / "tasks"
QEMU = "qemu-system-riscv64"
BANNER = "Septum microkernel: "


def build_kernel(manifest: str | Path, out: Path, fastpath: bool = True) -> BuildResult:
    """Build a kernel-only image of ``manifest`` (a path under tasks/)."""
    return build(TASKS / manifest, out, kernel_only=True, fastpath=fastpath)


def run_qemu(elf: Path, stdin: bytes = b"", timeout: float = 60, full: bool = False) -> str:
    """Boot ``elf`` behind OpenSBI (or, ``full``, a whole image with our own
    firmware as ``-bios``); return everything from the kernel banner on.
    The guest must power itself off (the timeout is a safety net)."""
    boot = ["-bios", str(elf)] if full else ["-bios", "default", "-kernel", str(elf)]
    argv = [QEMU, "-M", "virt", "-m", "128M", "-nographic", *boot]
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
        out = proc.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") + "\n<timeout>\n"
    out = out.replace("\r\n", "\n")
    i = out.find(BANNER)
    return out[i:] if i >= 0 else out


@pytest.fixture(params=[True, False], ids=["fastpath", "slowpath"])
def fastpath(request) -> bool:
    """Run a test with the IPC fast path built in, and without it."""
    return request.param
