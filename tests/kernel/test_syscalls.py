"""Every system call's success and error paths, through real tasks.

tests/kernel/tasks/super.S drives the calls against a server, a task that
faults on request and a task nobody may call, printing ``ok <tag>`` or
``FAIL <tag> <value>`` for each check; expected values come from
kernel/ABI.md (and kernel/abi.py) and the privileged spec's cause codes.
"""

from __future__ import annotations

import re
from pathlib import Path

from septum.kernel.abi import CAUSE_EXIT
from septum.toolchain.riscv import Exc

from .conftest import TASKS, build_kernel, run_qemu


def _expected_tags() -> set[str]:
    """Every tag super.S checks, macro expansions included."""
    src = (TASKS / "super.S").read_text()
    macro = src[src.index(".macro FAULTY_STOPPED"):src.index(".endm")]
    body = src[src.index(".endm"):]
    tags = set(re.findall(r"CHECK\s+[^,\n]+,[^\n]+,\s*([\w.]+)\s*(?:#.*)?$", body, re.M))
    suffixes = re.findall(r"\\tag\\\(\)(\.[a-z]+)", macro)
    for prefix in re.findall(r"FAULTY_STOPPED\s+[^\n]+,\s*([\w.]+)\s*$", body, re.M):
        tags.update(prefix + s for s in suffixes)
    return tags


def _run(tmp_path: Path, fastpath: bool) -> str:
    res = build_kernel("syscalls.toml", tmp_path / "sys.elf", fastpath=fastpath)
    return run_qemu(res.elf)


def test_every_syscall_path(tmp_path, fastpath):
    out = _run(tmp_path, fastpath)
    fails = [ln for ln in out.splitlines() if ln.startswith("FAIL")]
    assert not fails, "\n".join(fails)
    oks = {ln[3:] for ln in out.splitlines() if ln.startswith("ok ")}
    expected = _expected_tags()
    assert len(expected) > 100
    assert expected - oks == set()
    assert "super: done" in out


def test_faults_are_reported_with_cause_tval_pc(tmp_path):
    out = _run(tmp_path, True)
    reports = re.findall(r"kernel: task 0x2 stopped: cause=(0x[0-9a-f]+) tval=(0x[0-9a-f]+)", out)
    causes = [int(c, 16) for c, _ in reports]
    assert causes == [Exc.LOAD_PAGE_FAULT, Exc.STORE_PAGE_FAULT, Exc.LOAD_PAGE_FAULT,
                      Exc.INST_PAGE_FAULT, Exc.STORE_PAGE_FAULT, Exc.ILLEGAL_INSTRUCTION,
                      CAUSE_EXIT]
    assert int(reports[0][1], 16) == 0x8020_0000  # the kernel's first byte
    assert int(reports[2][1], 16) == 0x1000_0000  # UART0, not granted
    assert int(reports[-1][1], 16) == 42  # EXIT's code
