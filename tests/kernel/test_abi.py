"""kernel/abi.py: one source of numbers, rendered faithfully for assembly."""

from __future__ import annotations

import re

from septum.kernel import abi
from septum.kernel.abi import (DEAD_BASE, Desc, Tcb, TaskId, Trapframe, dead_code,
                               generate_include, task_id)
from septum.toolchain import asm
from septum.toolchain.riscv import ABI_NAMES, Mstatus


def _parse(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in re.findall(r"^\.equ (\w+), (0x[0-9a-f]+)$", text, re.M):
        assert name not in out, f"{name} defined twice"
        out[name] = int(value, 16)
    return out


def test_include_renders_every_constant_once():
    text = generate_include()
    parsed = _parse(text)
    expected = {**abi.constants(), **abi.hardware_constants()}
    assert parsed == expected
    assert parsed["SYS_COUNT"] == len(abi.Sys)
    assert parsed["SSTATUS_SPP"] == Mstatus.SPP


def test_include_assembles_to_the_same_values():
    # Every constant, stored as a dword by Septum's assembler, reads back equal.
    consts = _parse(generate_include())
    names = sorted(consts)
    src = generate_include() + "".join(f"    .dword {n}\n" for n in names)
    data = asm(src)
    got = [int.from_bytes(data[8 * i:8 * i + 8], "little") for i in range(len(names))]
    assert got == [consts[n] for n in names]


def test_trapframe_and_tcb_layout():
    for i, name in enumerate(ABI_NAMES[1:], start=1):
        assert Trapframe[f"TF_{name.upper()}"] == 8 * i
    assert Trapframe.TF_PC == 256
    fields = sorted(int(f) for f in Tcb if f is not Tcb.SIZE)
    assert fields[0] >= Trapframe.TF_PC + 8
    assert len(set(fields)) == len(fields) and all(f % 8 == 0 for f in fields)
    assert fields[-1] + 8 <= Tcb.SIZE == 1 << abi.TCB_SHIFT
    descs = sorted(int(f) for f in Desc if f is not Desc.SIZE)
    assert descs == list(range(0, Desc.SIZE, 8))


def test_ids_and_dead_codes():
    assert task_id(3, 0) == 3
    assert task_id(3, 2) == (2 << 16) | 3
    assert task_id(1, 1 << 16) == 1  # the generation wraps at 16 bits
    assert dead_code(5) == DEAD_BASE | 5 == 0xFFFF_0005
    assert TaskId.INDEX_MASK == 0xFFFF


def test_decoders():
    assert set(abi.SYSCALL_ARGS) == set(abi.Sys)
    assert abi.describe_call(abi.Sys.NOTIFY, [3, 5, 0, 0, 0, 0, 0]) == "NOTIFY(task=0x3, bits=0x5)"
    assert abi.describe_call(abi.Sys.TASK_STOP, [3, 0, 0, 0, 0, 0, 0]) == "TASK_STOP(index=0x3)"
    assert abi.describe_call(99, []) == "SYSCALL_99()"
    assert abi.describe_status(0) == "OK"
    assert abi.describe_status(dead_code(3)) == "DEAD(gen 3)"
    assert abi.describe_status(abi.Err.BAD_BUFFER) == "BAD_BUFFER"
    assert abi.describe_status(1 << 40) == hex(1 << 40)
