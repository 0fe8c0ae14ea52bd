"""Exact guest-instruction count of one IPC round trip on Septum's board.

Shared by tests/kernel/test_fastpath.py and tests/bench/bench_ipc.py: the
round trip is CALL from ``ping`` to ``pong`` and REPLY_RECV back (register
message, two address spaces), counted from the caller's ecall (label
``bench_ecall``) to the instruction after it (``bench_return``), with the
board's exact retired-instruction counter.
"""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

from septum.hypervisor.machine import Machine
from septum.toolchain.build import build

TASKS = Path(__file__).parent / "tasks"
BUDGET = 100_000_000


def symbols(elf: Path) -> dict[str, int]:
    """Name -> address for every symbol of ``elf`` (a global definition
    wins over local ones; among locals, the first)."""
    out: dict[str, int] = {}
    with open(elf, "rb") as f:
        for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if s["st_info"]["bind"] == "STB_GLOBAL":
                out[s.name] = s["st_value"]
            else:
                out.setdefault(s.name, s["st_value"])
    return out


def build_pingpong(out: Path, fastpath: bool) -> Path:
    """The ping/pong system with our firmware."""
    return build(TASKS / "pingpong.toml", out, fastpath=fastpath).elf


def round_trip(elf: Path) -> tuple[int, str, int]:
    """Boot ``elf``; return (instructions of the marked round trip, the UART
    text, total instructions of the whole run)."""
    syms = symbols(elf)
    m = Machine(ram_size=128 << 20)
    m.boot(bios=str(elf))
    stop = m.run(max_insns=BUDGET, breakpoints=[syms["bench_ecall"]])
    assert stop.kind == "breakpoint", stop
    before = m.instret
    stop = m.run(max_insns=BUDGET, breakpoints=[syms["bench_return"]])
    assert stop.kind == "breakpoint", stop
    count = m.instret - before
    stop = m.run(max_insns=BUDGET)
    assert stop.kind == "poweroff", stop
    return count, m.uart_output.decode(errors="replace"), m.instret
