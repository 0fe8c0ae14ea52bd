"""The kernel's two-task demo (tasks/demo.toml) through the real CLI, on QEMU and the board."""

from __future__ import annotations

from septum.hypervisor.cli import main
from septum.hypervisor.machine import Machine

from .conftest import BANNER, TASKS, run_qemu

EXPECTED = """\
Septum microkernel: 0x2 tasks
init: system up
probe: reading kernel memory...
kernel: task 0x1 stopped: cause=0xd tval=0x80200000 pc={pc}
init: task stopped: 1
init: restarted it
probe: reading kernel memory...
kernel: task 0x1 stopped: cause=0xd tval=0x80200000 pc={pc}
init: task stopped: 1
init: restarted it
probe: reading kernel memory...
kernel: task 0x1 stopped: cause=0xd tval=0x80200000 pc={pc}
init: task stopped: 1
init: giving up, powering off
"""


def test_demo_system_builds_and_runs(tmp_path, capsys):
    out = tmp_path / "system.elf"
    assert main(["build", str(TASKS / "demo.toml"), "-o", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "entry 0x80000000, 2 tasks" in listing
    qemu = run_qemu(out, full=True)
    # The faulting load's pc is the probe's; take it from the first report.
    pc = qemu.split("pc=", 1)[1].split("\n", 1)[0]
    assert qemu == EXPECTED.format(pc=pc)
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(out))
    stop = m.run(max_insns=50_000_000)
    assert stop.kind == "poweroff" and stop.exit_code == 0
    text = m.uart_output.decode()
    assert text[text.find(BANNER):] == qemu


def test_build_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[tasks.a]\nsource = "a.S"\npriority = 9\n')
    (tmp_path / "a.S").write_text("nop\n")
    assert main(["build", str(bad), "-o", str(tmp_path / "x.elf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "tasks.a.priority" in err and "9" in err
    src = tmp_path / "b.toml"
    src.write_text('[tasks.a]\nsource = "a.S"\npriority = 1\nsupervisor = true\n')
    (tmp_path / "a.S").write_text("    bogus_insn x1\n")
    assert main(["build", str(src), "-o", str(tmp_path / "x.elf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "a.S" in err


def test_build_cli_gnu_assembler_same_bytes(tmp_path):
    ours, gnu = tmp_path / "ours.elf", tmp_path / "gnu.elf"
    assert main(["build", "--kernel-only", "-o", str(ours)]) == 0
    assert main(["build", "--kernel-only", "--assembler", "gnu", "-o", str(gnu)]) == 0
    from .test_build import _memory
    a, b = _memory(ours), _memory(gnu)
    assert all(a.get(k, 0) == b.get(k, 0) for k in set(a) | set(b))
