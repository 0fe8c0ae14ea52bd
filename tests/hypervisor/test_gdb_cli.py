"""``septum run --gdb tcp::PORT -S`` driven by the real gdb-multiarch.

The whole tool runs as a subprocess (``python -m septum.hypervisor``); gdb
attaches, breaks at a symbol, detaches, and the process exits with the
guest's own exit code.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from septum.hypervisor.gdbstub import DEFAULT_SPEC
from septum.tests.hypervisor.test_gdb import GDB, LOOP_SRC, TIMEOUT, _build, values


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(elf: Path, *opts: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-m", "septum.hypervisor", "run", *opts, str(elf)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    seen = []
    for line in p.stderr:  # the stub announces itself once listening
        seen.append(line)
        if "waiting for gdb" in line:
            return p
    p.wait(TIMEOUT)
    raise AssertionError(f"septum run exited {p.returncode} before listening: {seen}")


def test_septum_run_gdb_wait_break_detach_exit_code(tmp_path: Path) -> None:
    elf = _build(tmp_path, "loop", LOOP_SRC)
    port = _free_port()
    p = _start(elf, "--gdb", f"tcp::{port}", "-S")
    try:
        g = subprocess.run(
            [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
             "-ex", f"target remote :{port}", "-ex", "p/x $pc", "-ex", "break done",
             "-ex", "continue", "-ex", "p *(long long *)&counter", "-ex", "detach", str(elf)],
            capture_output=True, text=True, timeout=TIMEOUT)
        out = g.stdout + g.stderr
        vals = values(out)
        assert vals[0] == "0x1000", out
        # The loop ran to its end (3) before ``done``.
        assert vals[1] == "3", out
        assert p.wait(TIMEOUT) == 7  # the finisher's exit code after detach
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_septum_run_gdb_kill(tmp_path: Path) -> None:
    elf = _build(tmp_path, "loop", LOOP_SRC)
    port = _free_port()
    p = _start(elf, "-gdb", f"tcp:127.0.0.1:{port}", "-S")
    try:
        g = subprocess.run(
            [GDB, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
             "-ex", f"target remote :{port}", "-ex", "stepi", "-ex", "p/x $pc",
             "-ex", "kill", str(elf)],
            capture_output=True, text=True, timeout=TIMEOUT)
        out = g.stdout + g.stderr
        assert re.search(r"\$1 = 0x100[0-9a-f]", out), out
        # QEMU exits 0 when GDB kills the target.
        assert p.wait(TIMEOUT) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_bad_gdb_spec_is_one_line(tmp_path: Path) -> None:
    elf = _build(tmp_path, "loop", LOOP_SRC)
    p = subprocess.run([sys.executable, "-m", "septum.hypervisor", "run", "--gdb", "udp::1",
                        str(elf)], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "udp::1" in p.stderr, p.stderr
    assert DEFAULT_SPEC == "tcp::1234"
