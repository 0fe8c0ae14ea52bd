"""The same system on Septum's own board (hypervisor.Machine) and firmware.

The output must equal real QEMU's with OpenSBI; and the faults the test
tasks provoke must leave the kernel's code and every task's code, and the
server's secret, byte-for-byte unchanged (read from guest RAM).
"""

from __future__ import annotations

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build

from .conftest import BANNER, TASKS, build_kernel, run_qemu

BUDGET = 200_000_000


def _boot(elf) -> Machine:
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(elf))
    return m


def _text(m: Machine) -> str:
    out = m.uart_output.decode(errors="replace")
    return out[out.find(BANNER):]


def test_board_output_equals_qemu(tmp_path, fastpath):
    res = build(TASKS / "syscalls.toml", tmp_path / "full.elf", fastpath=fastpath)
    m = _boot(res.elf)
    stop = m.run(max_insns=BUDGET)
    assert stop.kind == "poweroff" and stop.exit_code == 0
    qemu = run_qemu(build_kernel("syscalls.toml", tmp_path / "k.elf", fastpath=fastpath).elf)
    assert _text(m) == qemu
    assert "super: done" in qemu


def test_faults_leave_kernel_and_peers_untouched(tmp_path, fastpath):
    res = build(TASKS / "syscalls.toml", tmp_path / "full.elf", fastpath=fastpath)
    m = _boot(res.elf)
    stop = m.run(max_insns=BUDGET, until=lambda: b"ok timer.bits" in m.uart_output)
    assert stop.kind == "until"
    kernel_code = m.read_phys(0x8020_0000, 0x1000)
    codes = {t.name: m.read_phys(t.text[0], t.text[1]) for t in res.tasks}
    server = res.task("server")
    server_data = m.read_phys(server.data[0], 8)  # the secret, first in .data
    stop = m.run(max_insns=BUDGET)
    assert stop.kind == "poweroff"
    assert _text(m).count("stopped: cause=") == 7
    assert m.read_phys(0x8020_0000, 0x1000) == kernel_code
    for t in res.tasks:
        assert m.read_phys(t.text[0], t.text[1]) == codes[t.name], t.name
    assert m.read_phys(server.data[0], 8) == server_data
    assert int.from_bytes(server_data, "little") == 0x5EC12E75EC12E7
