"""The kernel boots behind real OpenSBI under real QEMU and runs a task."""

from __future__ import annotations

from .conftest import build_kernel, run_qemu


def test_boot_banner_and_first_task(tmp_path, fastpath):
    res = build_kernel("hello.toml", tmp_path / "hello.elf", fastpath=fastpath)
    assert res.entry == 0x8020_0000
    out = run_qemu(res.elf)
    lines = out.splitlines()
    assert lines[0] == "Septum microkernel: 0x1 tasks"
    assert lines[1] == "hello from task 0"
    assert "<timeout>" not in out


def test_full_image_with_our_firmware_prints_the_same(tmp_path, fastpath):
    from septum.toolchain.build import build
    from .conftest import TASKS

    kernel_only = run_qemu(build_kernel("syscalls.toml", tmp_path / "k.elf", fastpath=fastpath).elf)
    res = build(TASKS / "syscalls.toml", tmp_path / "full.elf", fastpath=fastpath)
    assert res.entry == 0x8000_0000
    full = run_qemu(res.elf, full=True)
    assert "super: done" in full
    assert full == kernel_only
