"""TASK_RESTART restores the task's code as well as its data.

The builder keeps each task's pristine image (code padded to its pages,
then initial data) in the tables area, and the descriptor's restart recipe
copies all of it back (kernel/ABI.md, TASK_RESTART).  The system
tests/kernel/tasks/restart.toml has a supervisor (rsuper) that restarts
its victim after a fault; the test corrupts an instruction of the victim
with ``Machine.write_phys`` just before it runs, so the victim faults, is
restarted, and must then execute the restored instruction (which also
proves that the translated block holding the corrupted instruction is gone
once the kernel's copy, a store through its window onto DRAM, overwrote
it).  rsuper fails the run if the victim faults a second time.  A second
test changes only the pristine copy after the victim's code has run: the
next restart must make the new instruction run.
"""

from __future__ import annotations

import pytest
from elftools.elf.elffile import ELFFile

from septum.hypervisor.machine import Machine
from septum.kernel.abi import Desc, Layout
from septum.toolchain.build import build
from septum.toolchain.errors import ImageError

from .conftest import TASKS, build_kernel, run_qemu
from .ipcbench import symbols

BUDGET = 20_000_000


def _boot(elf) -> Machine:
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(elf))
    return m


def test_restart_restores_corrupted_code(tmp_path, fastpath):
    res = build(TASKS / "restart.toml", tmp_path / "r.elf", fastpath=fastpath)
    probe = symbols(res.elf)["victim_probe"]
    m = _boot(res.elf)
    try:
        stop = m.run(max_insns=BUDGET, breakpoints=[probe])
        assert stop.kind == "breakpoint", stop
        good = m.read_phys(probe, 4)
        size = 4 if good[0] & 3 == 3 else 2  # a compressed instruction is 2 bytes
        # All-zero bits are an illegal instruction in both encodings.
        m.write_phys(probe, bytes(size))
        stop = m.run(max_insns=BUDGET)
        out = m.uart_output.decode(errors="replace")
        assert stop.kind == "poweroff" and stop.exit_code == 0, (stop, out)
        # One fault at the corrupted instruction (illegal instruction, cause 2)...
        assert f"stopped: cause=0x2 tval=0x0 pc={probe:#x}" in out, out
        # ... one restart, then the restored instruction ran and computed 42
        # (and again in the second round, after a restart of the live task).
        assert "rsuper: restarts=0x0000000000000001" in out, out
        assert out.count("ok victim.probe") == 2 and "FAIL" not in out, out
        assert m.read_phys(probe, 4) == good
    finally:
        m.close()


def test_restart_copy_replaces_translated_code(tmp_path):
    """The victim's code runs (and is translated) in round 1; then only
    the pristine copy changes (``addi s1, s1, 1`` becomes ``addi s1, s1,
    2``).  The restart before round 2 copies it over the live code with the
    kernel's own stores: round 2 must run the new instruction (42 + 1), not
    a translation of the old one.  (A host write that drops no translation
    would leave the old one running: the kernel's stores are what drop it.)"""
    res = build(TASKS / "restart.toml", tmp_path / "r.elf")
    syms = symbols(res.elf)
    probe, desc = syms["victim_probe"], syms["task_descs"] + 1 * Desc.SIZE
    m = _boot(res.elf)
    try:
        stop = m.run(max_insns=BUDGET, breakpoints=[syms["victim_done"]])
        assert stop.kind == "breakpoint", stop
        word = lambda a: int.from_bytes(m.read_phys(a, 8), "little")  # noqa: E731
        pristine = word(desc + Desc.DATA_SRC) + probe - word(desc + Desc.DATA_DST)
        good = m.read_phys(probe, 4)
        assert m.read_phys(pristine, 4) == good
        size = 4 if good[0] & 3 == 3 else 2
        insn = int.from_bytes(good[:size], "little")
        # addi's immediate: bits 31:20; c.addi's: bits 12 and 6:2 (RVC spec).
        bumped = insn + (1 << 20) if size == 4 else insn + (1 << 2)
        assert _imm(bumped, size) == _imm(insn, size) + 1 == 2
        m.write_phys(pristine, bumped.to_bytes(size, "little"))
        stop = m.run(max_insns=BUDGET)
        out = m.uart_output.decode(errors="replace")
        assert stop.kind == "poweroff", (stop, out)
        lines = [ln for ln in out.splitlines() if "victim.probe" in ln]
        assert lines == ["ok victim.probe", f"FAIL victim.probe {43:#018x}"], out
        assert m.read_phys(probe, size) == bumped.to_bytes(size, "little")
    finally:
        m.close()


def test_restart_system_without_faults_on_qemu(tmp_path):
    """The same system, uncorrupted, under real QEMU: no restart needed."""
    out = run_qemu(build_kernel("restart.toml", tmp_path / "r.elf").elf)
    assert out.count("ok victim.probe") == 2 and "FAIL" not in out, out
    assert "rsuper: restarts=0x0000000000000000" in out, out


def _imm(insn: int, size: int) -> int:
    """The (non-negative) immediate of an addi (size 4) or c.addi (size 2)."""
    if size == 4:
        return insn >> 20
    return ((insn >> 12) & 1) << 5 | (insn >> 2) & 0x1F


def _loaded(path) -> dict[int, int]:
    """Loaded bytes of an ELF by physical address (NOBITS as zeros)."""
    out: dict[int, int] = {}
    with open(path, "rb") as f:
        for seg in ELFFile(f).iter_segments():
            if seg["p_type"] == "PT_LOAD":
                data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])
                for i, b in enumerate(data):
                    out[seg["p_paddr"] + i] = b
    return out


@pytest.mark.parametrize("backend", ["septum", "gnu"])
def test_restart_recipe_is_the_loaded_code_and_data(tmp_path, backend):
    """Each descriptor's recipe copies the task's whole code region and its
    initial data, from a pristine copy equal to what the ELF loads there,
    and zeroes the rest of its data region."""
    res = build(TASKS / "syscalls.toml", tmp_path / "s.elf", kernel_only=True,
                backend=backend)
    mem = _loaded(res.elf)
    descs = symbols(res.elf)["task_descs"]
    word = lambda a: int.from_bytes(bytes(mem[a + k] for k in range(8)), "little")  # noqa: E731
    for t in res.tasks:
        d = descs + t.index * Desc.SIZE
        dst, src, n = word(d + Desc.DATA_DST), word(d + Desc.DATA_SRC), word(d + Desc.DATA_LEN)
        zdst, zlen = word(d + Desc.ZERO_DST), word(d + Desc.ZERO_LEN)
        assert dst == t.text[0] and t.text[0] + t.text[1] == t.data[0], t
        assert t.text[1] <= n <= t.text[1] + t.data[1] and n % 8 == 0
        assert Layout.TABLES_BASE <= src and src + n <= Layout.TASKS_BASE
        pristine = bytes(mem.get(src + k, 0) for k in range(n))
        assert pristine == bytes(mem.get(dst + k, 0) for k in range(n)), t.name
        assert any(pristine[:t.text[1]]), t.name  # the code itself, not padding
        assert zdst == dst + n and zdst + zlen == t.data[0] + t.data[1]


def test_pristine_images_that_do_not_fit_are_one_clear_error(tmp_path):
    """Tasks whose code and data do not fit in the tables area (1 MiB with
    the page tables) are refused, naming the manifest."""
    (tmp_path / "big.S").write_text("    .text\n    .globl _start\n_start:\n"
                                    "    j _start\n    .zero 0x38000\n")
    toml = []
    for i in range(5):
        toml += [f"[tasks.t{i}]", 'source = "big.S"', f"priority = {i}",
                 f"supervisor = {'true' if i == 0 else 'false'}", ""]
    (tmp_path / "big.toml").write_text("\n".join(toml))
    with pytest.raises(ImageError) as exc:
        build(tmp_path / "big.toml", tmp_path / "x.elf")
    msg = str(exc.value)
    assert "big.toml" in msg and "pristine" in msg and "\n" not in msg
