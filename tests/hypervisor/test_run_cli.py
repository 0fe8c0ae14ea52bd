"""``septum run`` as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from septum.hypervisor.run_cli import EXIT_BUDGET, EXIT_HANG, parse_mem_size
from septum.hypervisor.errors import MachineError
from septum.tests.hypervisor.build import ECHO, HELLO, build_bin, build_elf


def septum(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "septum.hypervisor", "run", *args],
                          input=stdin, capture_output=True, timeout=120)


def test_exit_code_and_uart_output() -> None:
    p = septum(str(build_elf(HELLO)))
    assert p.returncode == 7
    assert p.stdout == b"hello\n"


def test_flat_binary_and_memory_option() -> None:
    p = septum(str(build_bin(HELLO)), "-m", "64M", "-nographic")
    assert (p.returncode, p.stdout) == (7, b"hello\n")


def test_piped_stdin_goes_to_the_uart() -> None:
    p = septum(str(build_elf(ECHO)), stdin=b"typed.")
    assert (p.returncode, p.stdout) == (0, b"typed.")


def test_hang_exit_code() -> None:
    p = septum(str(build_elf(".globl _start\n_start: wfi\nj _start\n")))
    assert p.returncode == EXIT_HANG
    assert b"hang" in p.stderr


def test_budget_exit_code() -> None:
    p = septum(str(build_elf(".globl _start\n_start: j _start\n")), "--max-insns", "1000")
    assert p.returncode == EXIT_BUDGET
    assert b"budget" in p.stderr


@pytest.mark.parametrize("args", [
    ["/nonexistent.elf"],
    ["-m", "lots", "IMAGE"],
    ["-m", "1K", "IMAGE"],
    ["/bin/true"],
    ["TRUNCATED"],
    ["OUTSIDE"],
    ["-drive", "file=/nonexistent.img", "IMAGE"],
    ["-drive", "nonsense", "IMAGE"],
    [],
])
def test_bad_input_is_one_line_exit_2(args: list[str], tmp_path: Path) -> None:
    elf = build_elf(HELLO)
    cut = tmp_path / "cut.elf"
    cut.write_bytes(elf.read_bytes()[:200])
    outside = build_elf(HELLO, base=0x9000_0000)
    subst = {"IMAGE": str(elf), "TRUNCATED": str(cut), "OUTSIDE": str(outside)}
    p = septum(*[subst.get(a, a) for a in args])
    assert p.returncode == 2, p.stderr
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("septum: "), p.stderr
    assert b"Traceback" not in p.stderr


def test_help_documents_exit_codes() -> None:
    p = septum("--help")
    assert p.returncode == 0
    assert b"exit status" in p.stdout and str(EXIT_HANG).encode() in p.stdout


@pytest.mark.parametrize("text,size", [("128M", 128 << 20), ("1G", 1 << 30), ("64", 64 << 20),
                                       ("2048K", 2 << 20)])
def test_parse_mem_size(text: str, size: int) -> None:
    assert parse_mem_size(text) == size


def test_parse_mem_size_rejects_garbage() -> None:
    with pytest.raises(MachineError, match="-m"):
        parse_mem_size("12X")


def test_terminal_raw_mode_and_ctrl_a_x(tmp_path: Path) -> None:
    # stdin/stdout on a pseudo-terminal: keys reach the UART (echoed back by
    # the guest), Ctrl-A X quits with status 0 as in QEMU.  The guest prints
    # a prompt first: once it shows, the console is in raw mode.
    import os
    import pty
    import select
    import time

    elf = build_elf(PROMPT_ECHO)
    master, slave = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "septum.hypervisor", "run", str(elf)],
                         stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)

    def read_until(token: bytes) -> bytes:
        got = b""
        deadline = time.monotonic() + 60
        while token not in got and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                got += os.read(master, 100)
        return got

    try:
        assert b">" in read_until(b">")
        os.write(master, b"hi")
        assert b"hi" in read_until(b"hi")
        os.write(master, b"\x01x")
        assert p.wait(60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


PROMPT_ECHO = r"""
.globl _start
_start:
    li s1, UART0
    li a0, '>'
    sb a0, 0(s1)
1:  lbu t0, 5(s1)
    andi t0, t0, 1
    beqz t0, 1b
    lbu a0, 0(s1)
    sb a0, 0(s1)
    j 1b
"""
