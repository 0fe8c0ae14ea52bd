"""Shared helpers for the kernel tests: build a system, boot it under QEMU.

Real QEMU with its own OpenSBI (``-bios default``) runs the kernel-only
image; the run ends when the supervisor task calls SHUTDOWN (SBI SRST).
"""

from __future__ import annotations

import os
import select
import subprocess
import time
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
    ``stdin`` is typed once the banner is out (the firmware resets the
    UART's FIFO before that).  The guest must power itself off; the timeout
    is a safety net."""
    boot = ["-bios", str(elf)] if full else ["-bios", "default", "-kernel", str(elf)]
    argv = [QEMU, "-M", "virt", "-m", "128M", "-nographic", *boot]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        if stdin:
            while BANNER.encode() not in out and time.monotonic() < deadline:
                ready, _, _ = select.select([proc.stdout], [], [], 0.5)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    out += chunk
            proc.stdin.write(stdin)
            proc.stdin.flush()
        rest, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        out += rest
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
        out += (rest or b"") + b"\n<timeout>\n"
    text = out.decode(errors="replace").replace("\r\n", "\n")
    i = text.find(BANNER)
    return text[i:] if i >= 0 else text


@pytest.fixture(params=[True, False], ids=["fastpath", "slowpath"])
def fastpath(request) -> bool:
    """Run a test with the IPC fast path built in, and without it."""
    return request.param
