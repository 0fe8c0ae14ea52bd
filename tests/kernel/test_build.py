"""The image builder: both assembler back ends agree byte for byte, tables
and budgets hold, errors are one line."""

from __future__ import annotations

import pytest
from elftools.elf.elffile import ELFFile

from septum.kernel.abi import Layout, Sys
from septum.toolchain.build import build
from septum.toolchain.errors import SeptumError

from .conftest import TASKS
from .ipcbench import symbols

KERNEL_DIR = TASKS.parent.parent.parent / "kernel"


def _memory(path) -> dict[int, int]:
    """Every loaded byte of an ELF (NOBITS as zeros), by physical address."""
    out: dict[int, int] = {}
    with open(path, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] != "PT_LOAD":
                continue
            data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
            for i, b in enumerate(data):
                out[seg["p_paddr"] + i] = b
    return out


@pytest.mark.parametrize("manifest, kernel_only", [("syscalls.toml", True),
                                                   ("uartirq.toml", True),
                                                   ("syscalls.toml", False)])
def test_septum_and_gnu_builds_are_identical(tmp_path, manifest, kernel_only):
    ours = build(TASKS / manifest, tmp_path / "ours.elf", kernel_only=kernel_only)
    gnu = build(TASKS / manifest, tmp_path / "gnu.elf", kernel_only=kernel_only, backend="gnu")
    assert ours.tasks == gnu.tasks
    a, b = _memory(ours.elf), _memory(gnu.elf)
    keys = set(a) | set(b)
    diff = sorted(k for k in keys if a.get(k, 0) != b.get(k, 0))
    assert not diff, [hex(k) for k in diff[:10]]
    assert min(a) == (Layout.KERNEL_BASE if kernel_only else 0x8000_0000)


def test_syscall_table_matches_abi(tmp_path):
    res = build(TASKS / "hello.toml", tmp_path / "h.elf", kernel_only=True)
    syms = symbols(res.elf)
    assert syms["syscall_table_end"] - syms["syscall_table"] == 8 * len(Sys)
    assert syms["_start"] == Layout.KERNEL_BASE


def test_kernel_stays_under_2000_code_lines():
    lines = 0
    for src in KERNEL_DIR.glob("*.S"):
        for ln in src.read_text().splitlines():
            s = ln.strip()
            if s and not s.startswith("#"):
                lines += 1
    assert 0 < lines < 2000


def test_bad_task_source_is_one_clear_error(tmp_path):
    (tmp_path / "t.S").write_text("_start:\n    addi a0, a0\n")
    (tmp_path / "m.toml").write_text('[tasks.t]\nsource = "t.S"\npriority = 0\n'
                                     'supervisor = true\n')
    for backend in ("septum", "gnu"):
        with pytest.raises(SeptumError) as exc:
            build(tmp_path / "m.toml", tmp_path / "x.elf", backend=backend)
        msg = str(exc.value)
        assert "t.S" in msg and "\n" not in msg


def test_unknown_backend(tmp_path):
    with pytest.raises(SeptumError, match="back end"):
        build(TASKS / "hello.toml", tmp_path / "x.elf", backend="llvm")


def test_image_has_symbols_and_a_line_table(tmp_path):
    from septum.toolchain.elf import read_line_table, read_symbols

    res = build(TASKS / "demo.toml", tmp_path / "s.elf")
    lines = {e.address: e for e in read_line_table(res.elf)}
    for addr, file in ((0x8000_0000, "firmware/entry.S"), (Layout.KERNEL_BASE, "kernel/entry.S"),
                       (res.task("init").entry, "tasks/demo_init.S")):
        assert lines[addr].file.endswith(file), (hex(addr), lines[addr])
    names = {s.name for s in read_symbols(res.elf)}
    assert {"trap_entry", "task_descs", "tcbs", "fastpath_call"} <= names
